//! Consent: opt-outs and opt-ins, recorded in a short transaction of their
//! own before anything else, so a failure storing the rest of the event does
//! not lose them (a retry re-applies them harmlessly).

use crate::error::HandleError;
use inlet_domain::event::{ConsentChange, DomainEvent, EventBody};
use inlet_domain::repository::{apply_consents, Repository};
use inlet_domain::Provider;

/// Records every consent change among `events` and commits; does nothing
/// (and takes no connection) when there is none.
pub async fn record(
    repo: &Repository,
    provider: Provider,
    events: &[DomainEvent],
) -> Result<usize, HandleError> {
    let changes: Vec<&ConsentChange> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Consent(c) => Some(c),
            _ => None,
        })
        .collect();
    if changes.is_empty() {
        return Ok(0);
    }
    let mut client = repo.client().await?;
    let tx = client.transaction().await?;
    apply_consents(&tx, provider, &changes).await?;
    tx.commit().await?;
    tracing::info!(changes = changes.len(), "Consent recorded.");
    Ok(changes.len())
}
