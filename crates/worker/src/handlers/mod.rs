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
    AccountEvent, Call, ContactChange, DomainEvent, EventBody, LineStatus, Reaction, StatusUpdate,
};
use inlet_domain::repository::lock_messages;
use inlet_domain::Provider;

/// What applying a raw event's events did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Events whose effects were stored (or were already stored).
    pub stored: usize,
    /// Events understood but with nothing to store.
    pub ignored: usize,
}

/// One raw event's facts and its decoded events, as stored in a batch.
#[derive(Clone, Copy)]
pub struct Item<'a> {
    /// The raw event's envelope (provider, line fallback, received_at).
    pub meta: &'a EventMeta,
    /// Its normalised events.
    pub events: &'a [DomainEvent],
}

/// One provider's events across a batch, grouped by kind, each with its line.
#[derive(Default)]
struct Groups<'a> {
    messages: Vec<message::Item<'a>>,
    statuses: Vec<&'a StatusUpdate>,
    reactions: Vec<&'a Reaction>,
    calls: Vec<(Option<&'a str>, &'a Call)>,
    contacts: Vec<&'a ContactChange>,
    lines: Vec<(Option<&'a str>, &'a LineStatus)>,
    accounts: Vec<(Option<&'a str>, &'a AccountEvent)>,
}

impl<'a> Groups<'a> {
    /// Files one raw event's events under their kinds; returns how many
    /// events it filed (all of them: every kind has a handler).
    fn add(&mut self, item: Item<'a>) -> usize {
        let meta = item.meta;
        for event in item.events {
            let line = event.line_id.as_deref().or(meta.line.as_deref());
            match &event.body {
                EventBody::Message(m) => self.messages.push((line, m, meta.received_at)),
                EventBody::Status(s) => self.statuses.push(s),
                EventBody::Reaction(r) => self.reactions.push(r),
                EventBody::Call(c) => self.calls.push((line, c)),
                EventBody::Contact(c) => self.contacts.push(c),
                // Recorded beforehand by the router, in their own transaction.
                EventBody::Consent(_) => {}
                EventBody::LineStatus(s) => self.lines.push((line, s)),
                EventBody::Account(a) => self.accounts.push((line, a)),
            }
        }
        item.events.len()
    }
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
    let applied = apply_all(tx, &[Item { meta, events }]).await?;
    Ok(applied.into_iter().next().unwrap_or_default())
}

/// Stores the events of many raw events inside one transaction, a handful of
/// set-based statements per provider however many raw events there are;
/// returns what was applied for each, in order.
pub async fn apply_all(
    tx: &Transaction<'_>,
    items: &[Item<'_>],
) -> Result<Vec<Applied>, HandleError> {
    let mut applied = vec![Applied::default(); items.len()];
    let mut groups: Vec<(Provider, Groups<'_>)> = Vec::new();
    for (item, applied) in items.iter().zip(applied.iter_mut()) {
        let provider = item.meta.provider;
        let at = match groups.iter().position(|(p, _)| *p == provider) {
            Some(at) => at,
            None => {
                groups.push((provider, Groups::default()));
                groups.len() - 1
            }
        };
        applied.stored = groups[at].1.add(*item);
    }
    // A fixed order, so that two workers' batches store alike.
    groups.sort_by_key(|(p, _)| p.as_str());
    // Messages and their statuses are serialised per message id across
    // workers, so a status racing its message is never lost: every
    // provider's at once, so that the locks are taken in one order.
    let messages: Vec<(Provider, &str)> = groups
        .iter()
        .flat_map(|(provider, g)| {
            g.messages
                .iter()
                .map(|(_, m, _)| m.provider_message_id.as_str())
                .chain(g.statuses.iter().map(|s| s.provider_message_id.as_str()))
                .map(move |id| (*provider, id))
        })
        .collect();
    lock_messages(tx, &messages).await?;
    for (provider, g) in &groups {
        store(tx, *provider, g).await?;
    }
    Ok(applied)
}

async fn store(
    tx: &Transaction<'_>,
    provider: Provider,
    g: &Groups<'_>,
) -> Result<(), HandleError> {
    message::store(tx, provider, &g.messages).await?;
    status::store(tx, provider, &g.statuses).await?;
    reaction::store(tx, provider, &g.reactions).await?;
    call::store(tx, provider, &g.calls).await?;
    contact::store(tx, provider, &g.contacts).await?;
    line::store(tx, provider, &g.lines).await?;
    account::store(tx, provider, &g.accounts).await?;
    Ok(())
}
