//! Decodes a raw event, records any consent change on its own, then applies
//! its effects and its audit row in one transaction: after the commit
//! everything is stored, before it nothing is. A batch of raw events is
//! stored the same way, all of them in one transaction.

use crate::consent::Keywords;
use crate::error::HandleError;
use crate::handlers::{apply_all, consent, Applied, Item};
use inlet_domain::envelope::EventMeta;
use inlet_domain::event::DomainEvent;
use inlet_domain::payload::decode;
use inlet_domain::repository::audit::{record_events, Audited, Outcome};
use inlet_domain::repository::Repository;

/// What processing one raw event came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// The event type label (`message.received`, `mixed`, ...).
    pub event_type: &'static str,
    /// `Processed` or `Ignored`.
    pub outcome: Outcome,
    /// Counts of what was applied.
    pub applied: Applied,
    /// The normalised events, consent changes included, to publish downstream.
    pub events: Vec<DomainEvent>,
}

/// A failure, with the event type when the body could be decoded (for
/// metrics and the audit row).
#[derive(Debug)]
pub struct Failed {
    /// The event type label, `unknown` when decoding failed.
    pub event_type: &'static str,
    /// What went wrong, classified.
    pub error: HandleError,
}

/// A raw event decoded (consent keywords derived), ready to be stored.
#[derive(Debug)]
pub struct Decoded {
    /// The event type label, of the decoded events alone.
    pub event_type: &'static str,
    /// The normalised events, consent changes included.
    pub events: Vec<DomainEvent>,
}

/// Turns raw events into stored effects.
#[derive(Clone)]
pub struct Router {
    repo: Repository,
    keywords: Keywords,
}

impl Router {
    /// A router storing through `repo`, recognising `keywords` on top of the standard ones.
    pub fn new(repo: Repository, keywords: Keywords) -> Self {
        Router { repo, keywords }
    }

    /// Decodes and stores one raw event, exactly once however often it comes.
    #[tracing::instrument(skip_all, fields(provider = %meta.provider))]
    pub async fn handle(&self, meta: &EventMeta, body: &[u8]) -> Result<Processed, Failed> {
        let decoded = self.decode(meta, body)?;
        let event_type = decoded.event_type;
        // A batch of one: the same statements as the batched path.
        let stored = self
            .store_all(&[(meta, &decoded)])
            .await
            .map_err(|error| Failed { event_type, error })?;
        // One entry per raw event; nothing stored reads as ignored, as it would be.
        let (outcome, applied) = stored
            .into_iter()
            .next()
            .unwrap_or((Outcome::Ignored, Applied::default()));
        Ok(Processed {
            event_type,
            outcome,
            applied,
            events: decoded.events,
        })
    }

    /// Decodes one raw event and derives its keyword consent changes.
    pub fn decode(&self, meta: &EventMeta, body: &[u8]) -> Result<Decoded, Failed> {
        let mut events = decode(meta, body).map_err(|e| Failed {
            event_type: "unknown",
            error: e.into(),
        })?;
        let event_type = event_type_of(&events);
        let derived = self.keywords.derive(&events, meta.received_at);
        events.extend(derived);
        Ok(Decoded { event_type, events })
    }

    /// Stores many decoded raw events and their audit rows in one
    /// transaction (consent changes first, each in its own, as [`Router::handle`]
    /// does); returns each one's outcome and counts, in order. On an error
    /// nothing but consent is stored: the caller handles the events one by one.
    pub async fn store_all(
        &self,
        batch: &[(&EventMeta, &Decoded)],
    ) -> Result<Vec<(Outcome, Applied)>, HandleError> {
        for (meta, decoded) in batch {
            consent::record(&self.repo, meta.provider, &decoded.events).await?;
        }
        let mut client = self.repo.client().await?;
        let tx = client.transaction().await?;
        let items: Vec<Item<'_>> = batch
            .iter()
            .map(|(meta, decoded)| Item {
                meta,
                events: &decoded.events,
            })
            .collect();
        let applied = apply_all(&tx, &items).await?;
        let outcomes: Vec<Outcome> = applied.iter().map(outcome_of).collect();
        let audits: Vec<Audited<'_>> = batch
            .iter()
            .zip(&outcomes)
            .map(|((meta, decoded), outcome)| Audited {
                meta,
                event_type: decoded.event_type,
                outcome: *outcome,
                last_error: None,
            })
            .collect();
        record_events(&tx, &audits).await?;
        tx.commit().await?;
        Ok(outcomes.into_iter().zip(applied).collect())
    }

    /// The repository (for audit rows written outside a handler's transaction).
    pub fn repository(&self) -> &Repository {
        &self.repo
    }
}

fn outcome_of(applied: &Applied) -> Outcome {
    if applied.stored > 0 {
        Outcome::Processed
    } else {
        Outcome::Ignored
    }
}

/// One label for a raw event: its events' type when they agree, else `mixed`.
pub fn event_type_of(events: &[DomainEvent]) -> &'static str {
    let mut types = events.iter().map(DomainEvent::event_type);
    match types.next() {
        None => "empty",
        Some(first) if types.all(|t| t == first) => first,
        Some(_) => "mixed",
    }
}
