//! Line connection states, kept per line with the time of the last change.

use crate::error::HandleError;
use deadpool_postgres::Transaction;
use inlet_domain::event::LineStatus;
use inlet_domain::repository::upsert_line_status;
use inlet_domain::Provider;

/// Stores a batch of line states (one statement); only newer changes apply.
pub async fn store(
    tx: &Transaction<'_>,
    provider: Provider,
    lines: &[(Option<&str>, &LineStatus)],
) -> Result<usize, HandleError> {
    if lines.is_empty() {
        return Ok(0);
    }
    let mut known = Vec::with_capacity(lines.len());
    for (line, status) in lines {
        // The line is the key of the row: a state for no line is invalid data.
        let line =
            line.ok_or_else(|| HandleError::Permanent("line status without a line".into()))?;
        known.push((line, *status));
    }
    upsert_line_status(tx, provider, &known).await?;
    Ok(lines.len())
}
