//! Delivery states: kept in full, applied to the message only when they move it forward.

use crate::error::HandleError;
use deadpool_postgres::Transaction;
use inlet_domain::event::StatusUpdate;
use inlet_domain::repository::store_statuses;
use inlet_domain::Provider;

/// Stores a batch of status updates (one statement).
pub async fn store(
    tx: &Transaction<'_>,
    provider: Provider,
    statuses: &[&StatusUpdate],
) -> Result<usize, HandleError> {
    if statuses.is_empty() {
        return Ok(0);
    }
    let changed = store_statuses(tx, provider, statuses).await?;
    tracing::debug!(total = statuses.len(), changed, "Statuses stored.");
    Ok(statuses.len())
}
