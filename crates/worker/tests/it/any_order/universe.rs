//! The events the order-independence search stores: one set per seed, over a
//! few messages, contacts, calls and lines, with times in a few seconds.
//!
//! Where the database keeps one row per event (messages, call events, account
//! notices, consent decisions), events are unique by its key, so every copy is
//! identical, as a provider's retry or a redelivery is. Where it keeps one row
//! for many events (a reactor's reaction, a line's state, a contact record, a
//! message's state, an OpenPhone message as each report carries it), the
//! events under one key differ, and its rules (newest, then the tie-breaks of
//! docs/worker.md) decide.

mod calls;

use super::Raw;
use chrono::{DateTime, Utc};
use inlet_domain::envelope::EventMeta;
use inlet_domain::event::{
    AccountEvent, ConsentChange, Contact, ContactChange, DeliveryState, Direction, DomainEvent,
    EventBody, LineStatus, Message, Reaction, StatusUpdate,
};
use inlet_domain::Provider;
use inlet_worker::router::{event_type_of, Decoded};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;

/// Times in a few seconds, so that many events share one (Meta's are whole seconds).
const SECONDS: i64 = 5;

/// `secs` after the start of 2026.
fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600 + secs, 0).expect("valid time")
}

/// Builds a set of raw events over a few messages, contacts, calls and lines.
pub struct Universe {
    rng: ChaCha8Rng,
    // Each raw event's key: the database's where it keeps a row per event
    // (so that no two differ under it), else the whole content (so that each
    // is added once).
    keys: HashSet<String>,
    /// The raw events, each once.
    pub raws: Vec<Raw>,
}

impl Universe {
    /// The set of events of `seed` (the same on every machine, while rand is 0.8).
    pub fn new(seed: u64) -> Self {
        let mut u = Universe {
            rng: ChaCha8Rng::seed_from_u64(seed),
            keys: HashSet::new(),
            raws: Vec::new(),
        };
        for n in 0..6 {
            u.message(n);
        }
        for _ in 0..10 {
            u.status();
        }
        for _ in 0..8 {
            u.reaction();
        }
        for call in ["AC0", "AC1"] {
            u.call(call);
        }
        for _ in 0..5 {
            u.provider_contact();
        }
        for _ in 0..5 {
            u.line();
        }
        for _ in 0..3 {
            u.account();
        }
        for _ in 0..5 {
            u.consent();
        }
        u
    }

    /// A time in the few seconds.
    fn secs(&mut self) -> i64 {
        self.rng.gen_range(0..SECONDS)
    }

    /// One of `from`.
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.rng.gen_range(0..from.len())]
    }

    /// Adds a raw event unless one with the same key is there already.
    fn add(
        &mut self,
        key: String,
        provider: Provider,
        events: Vec<DomainEvent>,
    ) -> Option<&mut Raw> {
        if !self.keys.insert(key) {
            return None;
        }
        let n = self.raws.len();
        let decoded = Decoded {
            event_type: event_type_of(&events),
            events,
        };
        self.raws.push(Raw {
            meta: EventMeta {
                provider,
                line: None,
                line_unknown: false,
                source: None,
                received_at: at(100),
                dedup_key: format!("raw{n}"),
                correlation_id: format!("c{n}"),
                attempt: 1,
            },
            decoded: Arc::new(decoded),
        });
        self.raws.last_mut()
    }

    /// An event on line `L1` (line states name their own).
    fn event(&mut self, provider: Provider, body: EventBody) -> DomainEvent {
        DomainEvent {
            provider,
            line_id: Some("L1".into()),
            body,
        }
    }

    /// A message: Meta inbound with its contact (name and user id as the
    /// sender gave them), or a bridge's outbound message, or OpenPhone's
    /// delivery report (the message in its new state with the report).
    fn message(&mut self, n: usize) {
        let secs = self.secs();
        let id = format!("m{n}");
        match self.rng.gen_range(0..3u8) {
            0 => {
                let address = self.pick(&["16505550001", "16505550002"]);
                // A value names its second: a contact's name changed and
                // changed back is the exception docs/worker.md states.
                let name = self.pick(&["", "A", "B"]);
                let name = (!name.is_empty()).then(|| format!("{name}{secs}"));
                let user = self.pick(&["", "U", "V"]);
                let user_id = (!user.is_empty()).then(|| format!("{user}{secs}"));
                let text = format!("hello {n}");
                let message = Message {
                    provider_message_id: id.clone(),
                    direction: Direction::Inbound,
                    from_address: Some(address.into()),
                    to_address: Some("15550783881".into()),
                    contact: Some(Contact {
                        address: address.into(),
                        name,
                        user_id,
                    }),
                    kind: "text".into(),
                    body: Some(text.clone()),
                    content: json!({ "body": text }),
                    context: None,
                    status: None,
                    sent_at: Some(at(secs)),
                    raw: json!({ "id": id }),
                };
                let event = self.event(Provider::Meta, EventBody::Message(message));
                self.add(id, Provider::Meta, vec![event]);
            }
            1 => {
                let event = self.outbound(Provider::Bridge, &id, DeliveryState::Sent, secs);
                self.add(id, Provider::Bridge, vec![event]);
            }
            _ => {
                for _ in 0..self.rng.gen_range(1..4) {
                    let state = self.state();
                    let secs = self.secs();
                    let message = self.outbound(Provider::OpenPhone, &id, state, 0);
                    let report = self.report(&id, state, None, secs);
                    let key = format!("{id}/{state:?}/{secs}");
                    self.add(key, Provider::OpenPhone, vec![message, report]);
                }
            }
        }
    }

    /// A delivery state, any of them.
    fn state(&mut self) -> DeliveryState {
        use DeliveryState::*;
        [Sent, Failed, Delivered, Read, Played, Deleted][self.rng.gen_range(0..6)]
    }

    /// An outbound message in `state`, sent at `secs`.
    fn outbound(
        &mut self,
        provider: Provider,
        id: &str,
        state: DeliveryState,
        secs: i64,
    ) -> DomainEvent {
        let message = Message {
            provider_message_id: id.into(),
            direction: Direction::Outbound,
            from_address: Some("15550783881".into()),
            to_address: Some("16505550003".into()),
            contact: None,
            kind: "text".into(),
            body: Some("hi".into()),
            content: json!({ "body": "hi" }),
            context: None,
            status: Some(state),
            sent_at: Some(at(secs)),
            raw: json!({ "id": id }),
        };
        self.event(provider, EventBody::Message(message))
    }

    /// A report of `state` for message `id`, by `recipient`, at `secs`.
    fn report(
        &mut self,
        id: &str,
        state: DeliveryState,
        recipient: Option<&str>,
        secs: i64,
    ) -> DomainEvent {
        let provider = if id.starts_with("wamid") {
            Provider::Meta
        } else {
            Provider::OpenPhone
        };
        let update = StatusUpdate {
            provider_message_id: id.into(),
            state,
            occurred_at: at(secs),
            recipient: recipient.map(Into::into),
            errors: (state == DeliveryState::Failed).then(|| json!([{ "code": secs }])),
            billing: None,
            raw: json!({ "state": state.as_str(), "recipient": recipient, "at": secs }),
        };
        self.event(provider, EventBody::Status(update))
    }

    /// Meta's report on an outbound message (which Meta never sends as a
    /// message): by one recipient, or by each of a group's.
    fn status(&mut self) {
        let id = self.pick(&["wamid.o1", "wamid.o2"]);
        let state = self.state();
        let recipient = self.pick(&["16505550001", "16505550002"]);
        let secs = self.secs();
        let event = self.report(id, state, Some(recipient), secs);
        let key = format!("{id}/{state:?}/{recipient}/{secs}");
        self.add(key, Provider::Meta, vec![event]);
    }

    /// A reaction or its removal; Meta gives both the same id.
    fn reaction(&mut self) {
        let target = self.pick(&["m0", "m1"]);
        let reactor = self.pick(&["16505550001", "16505550002"]);
        let id = format!("wamid.r{}", self.rng.gen_range(0..3u8));
        let emoji = self.pick(&["", "👍", "❤️"]);
        let emoji = (!emoji.is_empty()).then(|| emoji.to_owned());
        let secs = self.secs();
        let key = format!("{id}/{emoji:?}/{secs}");
        let reaction = Reaction {
            provider_event_id: id,
            target_message_id: target.into(),
            from_address: reactor.into(),
            emoji,
            occurred_at: at(secs),
            raw: json!({ "key": key }),
        };
        let event = self.event(Provider::Meta, EventBody::Reaction(reaction));
        self.add(key, Provider::Meta, vec![event]);
    }

    /// An OpenPhone contact record updated or deleted.
    fn provider_contact(&mut self) {
        let id = self.pick(&["CT1", "CT2"]);
        let action = self.pick(&["contact.updated", "contact.deleted"]);
        let name = self.pick(&["Ada", "Bea"]);
        let secs = self.secs();
        let change = ContactChange {
            provider_contact_id: id.into(),
            action: action.into(),
            occurred_at: at(secs),
            data: json!({ "firstName": name }),
        };
        let event = self.event(Provider::OpenPhone, EventBody::Contact(change));
        let key = format!("{id}/{action}/{name}/{secs}");
        self.add(key, Provider::OpenPhone, vec![event]);
    }

    /// A bridge session's state.
    fn line(&mut self) {
        let status = self.pick(&["connected", "disconnected"]);
        let session = self.pick(&["s1", "s2"]);
        let secs = self.secs();
        let report = LineStatus {
            status: status.into(),
            occurred_at: at(secs),
            data: json!({ "status": status, "session": session }),
        };
        let line = self.pick(&["L1", "L2"]);
        let mut event = self.event(Provider::Bridge, EventBody::LineStatus(report));
        event.line_id = Some(line.into());
        let key = format!("{line}/{status}/{session}/{secs}");
        self.add(key, Provider::Bridge, vec![event]);
    }

    /// An account-level notice, keyed by its event key.
    fn account(&mut self) {
        let key = format!("k{}", self.rng.gen_range(0..4u8));
        let verdict = self.pick(&["APPROVED", "REJECTED"]);
        let secs = self.secs();
        let notice = AccountEvent {
            field: "message_template_status_update".into(),
            event: Some(verdict.into()),
            event_key: key.clone(),
            occurred_at: at(secs),
            data: json!({ "event": verdict }),
        };
        let event = self.event(Provider::Meta, EventBody::Account(notice));
        self.add(format!("account/{key}"), Provider::Meta, vec![event]);
    }

    /// An opt-out or opt-in, from a keyword message of its own.
    fn consent(&mut self) {
        let address = self.pick(&["16505550001", "16505550002"]);
        let opted_out = self.rng.gen_bool(0.5);
        let id = format!("wamid.s{}", self.rng.gen_range(0..8u8));
        let change = ConsentChange {
            address: address.into(),
            opted_out,
            keyword: if opted_out { "STOP" } else { "START" }.into(),
            provider_message_id: id.clone(),
            occurred_at: at(self.secs()),
        };
        let event = self.event(Provider::Meta, EventBody::Consent(change));
        self.add(id, Provider::Meta, vec![event]);
    }
}
