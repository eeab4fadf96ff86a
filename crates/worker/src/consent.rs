//! Opt-out and opt-in keywords: an inbound text that is exactly a keyword
//! (ignoring case and surrounding or repeated whitespace) changes consent.
//!
//! The keyword lists and matching live in [`inlet_domain::consent`]; this
//! module turns matching inbound messages into consent events.

use chrono::{DateTime, Utc};
use inlet_domain::consent::consent_keyword;
use inlet_domain::event::{ConsentChange, Direction, DomainEvent, EventBody};
use std::collections::HashSet;

/// The configured keyword additions.
#[derive(Clone, Debug, Default)]
pub struct Keywords {
    /// Extra opt-out keywords.
    pub opt_out: Vec<String>,
    /// Extra opt-in keywords.
    pub opt_in: Vec<String>,
}

impl Keywords {
    /// Consent events for the inbound text messages among `events` that are
    /// keywords, skipping messages a decoder already turned into one.
    pub fn derive(&self, events: &[DomainEvent], received_at: DateTime<Utc>) -> Vec<DomainEvent> {
        let decided: HashSet<&str> = events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Consent(c) => Some(c.provider_message_id.as_str()),
                _ => None,
            })
            .collect();
        events
            .iter()
            .filter_map(|e| {
                let EventBody::Message(m) = &e.body else {
                    return None;
                };
                // Text messages only (WhatsApp `text`, SMS): a caption or a
                // button title is not someone typing STOP.
                if m.direction != Direction::Inbound
                    || !matches!(m.kind.as_str(), "text" | "sms")
                    || decided.contains(m.provider_message_id.as_str())
                {
                    return None;
                }
                let address = m
                    .contact
                    .as_ref()
                    .map(|c| c.address.clone())
                    .or_else(|| m.from_address.clone())?;
                let (opted_out, keyword) =
                    consent_keyword(m.body.as_deref()?, &self.opt_out, &self.opt_in)?;
                Some(DomainEvent {
                    provider: e.provider,
                    line_id: e.line_id.clone(),
                    body: EventBody::Consent(ConsentChange {
                        address,
                        opted_out,
                        keyword,
                        provider_message_id: m.provider_message_id.clone(),
                        occurred_at: m.sent_at.unwrap_or(received_at),
                    }),
                })
            })
            .collect()
    }
}
