//! Account-level events (template status, quality, unknown fields), kept raw.

use crate::error::HandleError;
use deadpool_postgres::Transaction;
use inlet_domain::event::AccountEvent;
use inlet_domain::repository::insert_account_events;
use inlet_domain::Provider;

/// Stores a batch of account events (one statement), once each.
pub async fn store(
    tx: &Transaction<'_>,
    provider: Provider,
    events: &[(Option<&str>, &AccountEvent)],
) -> Result<usize, HandleError> {
    if events.is_empty() {
        return Ok(0);
    }
    insert_account_events(tx, provider, events).await?;
    Ok(events.len())
}
