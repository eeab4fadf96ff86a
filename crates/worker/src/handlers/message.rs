//! Messages: upsert their contacts, then store them once each.

use crate::error::HandleError;
use deadpool_postgres::Transaction;
use inlet_domain::envelope::EventMeta;
use inlet_domain::event::Message;
use inlet_domain::repository::{insert_messages, upsert_contacts, StoredMessage};

/// Stores a batch of messages (two statements, however many messages).
pub async fn store(
    tx: &Transaction<'_>,
    meta: &EventMeta,
    messages: &[(Option<&str>, &Message)],
) -> Result<usize, HandleError> {
    if messages.is_empty() {
        return Ok(0);
    }
    let contacts: Vec<_> = messages
        .iter()
        .filter_map(|(_, m)| m.contact.as_ref())
        .collect();
    let ids = upsert_contacts(tx, meta.provider, &contacts).await?;
    let items: Vec<StoredMessage<'_>> = messages
        .iter()
        .map(|(line, m)| StoredMessage {
            line_id: line.or(meta.line.as_deref()),
            message: m,
        })
        .collect();
    let inserted = insert_messages(tx, meta.provider, meta.received_at, &items, &ids).await?;
    tracing::debug!(
        correlation_id = %meta.correlation_id,
        new = inserted.len(),
        total = items.len(),
        "Messages stored."
    );
    Ok(items.len())
}
