//! One handler per event kind. Handlers see normalised events and a
//! transaction, never AMQP types: the consumer does the acking.

mod message;

use crate::error::HandleError;
use deadpool_postgres::Transaction;
use inlet_domain::envelope::EventMeta;
use inlet_domain::event::{DomainEvent, EventBody};

/// What applying a raw event's events did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Events whose effects were stored (or were already stored).
    pub stored: usize,
    /// Events understood but with no handler yet: counted, kept in the audit trail.
    pub ignored: usize,
}

/// Routes every event to its handler inside one transaction.
pub async fn apply(
    tx: &Transaction<'_>,
    meta: &EventMeta,
    events: &[DomainEvent],
) -> Result<Applied, HandleError> {
    let mut applied = Applied::default();
    let mut messages = Vec::new();
    for event in events {
        match &event.body {
            EventBody::Message(m) => messages.push((event.line_id.as_deref(), m)),
            _ => applied.ignored += 1,
        }
    }
    applied.stored += message::store(tx, meta, &messages).await?;
    Ok(applied)
}
