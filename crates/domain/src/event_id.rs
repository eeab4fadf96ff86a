//! Stable ids for domain events: the same effect always gets the same id.
//!
//! Publishing downstream is at least once, so consumers deduplicate on
//! [`PublishedEvent::id`](crate::event::PublishedEvent::id). The id hashes
//! exactly what identifies the effect, never a receive time or a delivery id.

use crate::event::{DomainEvent, EventBody};

impl DomainEvent {
    /// A deterministic id for this event's effect: hex SHA-256 of the
    /// provider, the event type, the line and the provider ids that identify
    /// the effect (plus the state for statuses and the emoji for reactions,
    /// since Meta reuses a reaction's id when it is removed).
    pub fn stable_id(&self) -> String {
        let mut parts: Vec<String> = vec![
            self.provider.as_str().to_owned(),
            self.event_type().to_owned(),
            self.line_id.clone().unwrap_or_default(),
        ];
        match &self.body {
            EventBody::Message(m) => parts.push(m.provider_message_id.clone()),
            EventBody::Status(s) => {
                parts.push(s.provider_message_id.clone());
                parts.push(s.state.as_str().to_owned());
            }
            EventBody::Reaction(r) => {
                parts.push(r.provider_event_id.clone());
                parts.push(r.target_message_id.clone());
                parts.push(r.from_address.clone());
                parts.push(r.emoji.clone().unwrap_or_default());
            }
            EventBody::Call(c) => {
                parts.push(c.provider_call_id.clone());
                parts.push(c.event.clone());
            }
            EventBody::Contact(c) => {
                // A contact changes many times: the change's time tells them apart.
                parts.push(c.provider_contact_id.clone());
                parts.push(c.action.clone());
                parts.push(c.occurred_at.to_rfc3339());
            }
            EventBody::Consent(c) => {
                parts.push(c.provider_message_id.clone());
                parts.push(c.address.clone());
            }
            EventBody::LineStatus(l) => {
                parts.push(l.status.clone());
                parts.push(l.occurred_at.to_rfc3339());
            }
            EventBody::Account(a) => {
                parts.push(a.field.clone());
                parts.push(a.event_key.clone());
            }
        }
        // Length-prefix each part so that no two different part lists can
        // join to the same text.
        let joined: String = parts.iter().map(|p| format!("{}:{p}|", p.len())).collect();
        hex::encode(ring::digest::digest(&ring::digest::SHA256, joined.as_bytes()).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{DeliveryState, DomainEvent, EventBody, Reaction, StatusUpdate};
    use crate::provider::Provider;
    use chrono::DateTime;
    use serde_json::Value;

    fn status(state: DeliveryState, at: i64) -> DomainEvent {
        DomainEvent {
            provider: Provider::Meta,
            line_id: Some("106540352242922".into()),
            body: EventBody::Status(StatusUpdate {
                provider_message_id: "wamid.1".into(),
                state,
                occurred_at: DateTime::from_timestamp(at, 0).expect("valid"),
                recipient: None,
                errors: None,
                billing: None,
                raw: Value::Null,
            }),
        }
    }

    fn reaction(emoji: Option<&str>) -> DomainEvent {
        DomainEvent {
            provider: Provider::Meta,
            line_id: None,
            body: EventBody::Reaction(Reaction {
                provider_event_id: "wamid.r".into(),
                target_message_id: "wamid.t".into(),
                from_address: "1555".into(),
                emoji: emoji.map(str::to_owned),
                occurred_at: DateTime::from_timestamp(0, 0).expect("valid"),
                raw: Value::Null,
            }),
        }
    }

    #[test]
    fn the_same_status_gets_the_same_id_whatever_its_raw_form_or_time() {
        let a = status(DeliveryState::Read, 1);
        let b = status(DeliveryState::Read, 2);
        assert_eq!(a.stable_id(), b.stable_id());
        assert_eq!(a.stable_id().len(), 64);
    }

    #[test]
    fn different_states_of_one_message_get_different_ids() {
        let read = status(DeliveryState::Read, 1);
        let delivered = status(DeliveryState::Delivered, 1);
        assert_ne!(read.stable_id(), delivered.stable_id());
    }

    #[test]
    fn a_reaction_and_its_removal_get_different_ids() {
        assert_ne!(reaction(Some("👍")).stable_id(), reaction(None).stable_id());
    }
}
