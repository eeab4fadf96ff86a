//! Calls: each lifecycle event once, and the call's latest state.

use crate::error::HandleError;
use deadpool_postgres::Transaction;
use inlet_domain::event::Call;
use inlet_domain::repository::store_calls;
use inlet_domain::Provider;

/// Stores a batch of call events (two statements).
pub async fn store(
    tx: &Transaction<'_>,
    provider: Provider,
    calls: &[(Option<&str>, &Call)],
) -> Result<usize, HandleError> {
    if calls.is_empty() {
        return Ok(0);
    }
    store_calls(tx, provider, calls).await?;
    Ok(calls.len())
}
