//! Delivery states: kept in full, applied to the message only when they move it forward.

use crate::error::HandleError;
use deadpool_postgres::Transaction;
use inlet_domain::envelope::EventMeta;
use inlet_domain::event::StatusUpdate;
use inlet_domain::repository::store_statuses;

/// Stores a batch of status updates (one statement).
pub async fn store(
    tx: &Transaction<'_>,
    meta: &EventMeta,
    statuses: &[&StatusUpdate],
) -> Result<usize, HandleError> {
    if statuses.is_empty() {
        return Ok(0);
    }
    let changed = store_statuses(tx, meta.provider, statuses).await?;
    tracing::debug!(total = statuses.len(), changed, "Statuses stored.");
    Ok(statuses.len())
}
