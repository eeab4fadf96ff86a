//! Messages: make sure their contacts exist, then store them once each.

use crate::error::HandleError;
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use inlet_domain::event::Message;
use inlet_domain::repository::{insert_messages, upsert_contacts, Dated, StoredMessage};
use inlet_domain::Provider;

/// A message to store: its line and when its raw event was received.
pub type Item<'a> = (Option<&'a str>, &'a Message, DateTime<Utc>);

/// Stores a batch of messages (two statements, however many messages).
pub async fn store(
    tx: &Transaction<'_>,
    provider: Provider,
    messages: &[Item<'_>],
) -> Result<usize, HandleError> {
    if messages.is_empty() {
        return Ok(0);
    }
    let contacts: Vec<Dated<'_>> = messages
        .iter()
        .filter_map(|(_, m, received_at)| {
            let at = m.sent_at.unwrap_or(*received_at);
            m.contact.as_ref().map(|contact| Dated { contact, at })
        })
        .collect();
    let ids = upsert_contacts(tx, provider, &contacts).await?;
    let items: Vec<StoredMessage<'_>> = messages
        .iter()
        .map(|&(line_id, message, received_at)| StoredMessage {
            line_id,
            message,
            received_at,
        })
        .collect();
    let inserted = insert_messages(tx, provider, &items, &ids).await?;
    tracing::debug!(
        new = inserted.len(),
        total = items.len(),
        "Messages stored."
    );
    Ok(items.len())
}
