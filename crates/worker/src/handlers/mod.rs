//! One handler per event kind. Handlers see normalised events and a
//! transaction, never AMQP types: the consumer does the acking.
//!
//! A raw event may carry many events (Meta batches up to 1000): they are
//! grouped by kind and each handler stores its group with one or two
//! set-based statements, so the cost per batch is a handful of round trips.

mod account;
mod call;
pub mod consent;
mod contact;
mod line;
mod message;
mod reaction;
mod status;

use crate::error::HandleError;
use deadpool_postgres::Transaction;
use inlet_domain::envelope::EventMeta;
use inlet_domain::event::{
    AccountEvent, Call, ContactChange, DomainEvent, EventBody, LineStatus, Message, Reaction,
    StatusUpdate,
};
use inlet_domain::repository::lock_messages;

/// What applying a raw event's events did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Events whose effects were stored (or were already stored).
    pub stored: usize,
    /// Events understood but with nothing to store.
    pub ignored: usize,
}

/// A raw event's events, grouped by kind, each with its line.
#[derive(Default)]
struct Groups<'a> {
    messages: Vec<(Option<&'a str>, &'a Message)>,
    statuses: Vec<&'a StatusUpdate>,
    reactions: Vec<&'a Reaction>,
    calls: Vec<(Option<&'a str>, &'a Call)>,
    contacts: Vec<&'a ContactChange>,
    lines: Vec<(Option<&'a str>, &'a LineStatus)>,
    accounts: Vec<(Option<&'a str>, &'a AccountEvent)>,
    consents: usize,
}

/// Routes every event to its handler inside one transaction.
///
/// Consent changes are not written here: the router records them in a
/// transaction of their own first, so that they survive a failure here.
pub async fn apply(
    tx: &Transaction<'_>,
    meta: &EventMeta,
    events: &[DomainEvent],
) -> Result<Applied, HandleError> {
    let mut g = Groups::default();
    for event in events {
        let line = event.line_id.as_deref().or(meta.line.as_deref());
        match &event.body {
            EventBody::Message(m) => g.messages.push((line, m)),
            EventBody::Status(s) => g.statuses.push(s),
            EventBody::Reaction(r) => g.reactions.push(r),
            EventBody::Call(c) => g.calls.push((line, c)),
            EventBody::Contact(c) => g.contacts.push(c),
            EventBody::Consent(_) => g.consents += 1,
            EventBody::LineStatus(s) => g.lines.push((line, s)),
            EventBody::Account(a) => g.accounts.push((line, a)),
        }
    }
    // Messages and their statuses are serialised per message id across
    // workers, so a status racing its message is never lost.
    let ids: Vec<&str> = g
        .messages
        .iter()
        .map(|(_, m)| m.provider_message_id.as_str())
        .chain(g.statuses.iter().map(|s| s.provider_message_id.as_str()))
        .collect();
    lock_messages(tx, meta.provider, &ids).await?;

    let mut applied = Applied {
        stored: g.consents,
        ignored: 0,
    };
    applied.stored += message::store(tx, meta, &g.messages).await?;
    applied.stored += status::store(tx, meta, &g.statuses).await?;
    applied.stored += reaction::store(tx, meta, &g.reactions).await?;
    applied.stored += call::store(tx, meta, &g.calls).await?;
    applied.stored += contact::store(tx, meta, &g.contacts).await?;
    applied.stored += line::store(tx, meta, &g.lines).await?;
    applied.stored += account::store(tx, meta, &g.accounts).await?;
    Ok(applied)
}
