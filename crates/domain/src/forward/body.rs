//! What a customer's endpoint receives, and the keys its filters match.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

/// The type of the event [`test_body`] builds.
pub const TEST_EVENT_TYPE: &str = "endpoint.test";

/// A domain event as read from `inlet.domain`: the envelope of
/// [`crate::event::PublishedEvent`] with `data` kept as JSON.
///
/// Forwarding passes `data` through, so it reads it loosely: an event type
/// added later is still forwarded, and a `data` object the strict types
/// cannot read back (a message's `kind` field collides with the `kind` tag of
/// [`crate::event::EventBody`]) is still delivered.
#[derive(Clone, Debug, Deserialize)]
pub struct IncomingEvent {
    /// Stable across redeliveries; the delivery's `webhook-id`.
    pub id: String,
    /// The routing key / event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The line it concerns.
    pub line_id: Option<String>,
    /// When the gateway received it.
    pub received_at: DateTime<Utc>,
    /// The normalised event.
    pub data: Value,
}

/// The JSON body of a delivery: `{id, type, line, timestamp, data}`, `data`
/// being the normalised event.
pub fn body(event: &IncomingEvent) -> Value {
    json!({
        "id": event.id,
        "type": event.event_type,
        "line": event.line_id,
        "timestamp": event.received_at,
        "data": event.data,
    })
}

/// The body of a test delivery (`POST /v1/endpoints/{id}/test`).
pub fn test_body(id: &str, now: DateTime<Utc>) -> Value {
    json!({
        "id": id,
        "type": TEST_EVENT_TYPE,
        "line": null,
        "timestamp": now,
        "data": {"message": "This is a test event from Inlet."},
    })
}

/// The values an endpoint's `lines` filter is matched against: the line id
/// and, where the event shows it, the line's own phone number (the recipient
/// of an inbound message or call, the sender of an outbound one), without `+`.
pub fn line_keys(event: &IncomingEvent) -> Vec<String> {
    let mut keys: Vec<String> = event.line_id.iter().map(|l| normalise_line(l)).collect();
    let direction = match event.event_type.as_str() {
        "message.received" => Some("inbound"),
        "message.sent" => Some("outbound"),
        "call" => event.data.get("direction").and_then(Value::as_str),
        _ => None,
    };
    let own = match direction {
        Some("inbound") => event.data.get("to_address"),
        Some("outbound") => event.data.get("from_address"),
        _ => None,
    };
    keys.extend(own.and_then(Value::as_str).map(normalise_line));
    keys
}

/// A line filter value as stored and compared: trimmed, without a leading `+`.
pub fn normalise_line(line: &str) -> String {
    let line = line.trim();
    line.strip_prefix('+').unwrap_or(line).to_owned()
}

/// The `event_types` filter values that select `event_type`: itself, its
/// family (`message.*` for `message.received`) and `*`.
pub fn type_patterns(event_type: &str) -> Vec<String> {
    let mut patterns = vec![event_type.to_owned(), "*".to_owned()];
    if let Some((family, _)) = event_type.split_once('.') {
        patterns.push(format!("{family}.*"));
    }
    patterns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_matches_itself_its_family_and_the_wildcard() {
        assert_eq!(
            type_patterns("message.received"),
            ["message.received", "*", "message.*"]
        );
        assert_eq!(type_patterns("reaction"), ["reaction", "*"]);
    }

    #[test]
    fn a_published_message_event_is_read_with_its_line_number() {
        use crate::event::{Direction, DomainEvent, EventBody, Message, PublishedEvent};
        let data = DomainEvent {
            provider: crate::Provider::Meta,
            line_id: Some("106540352242922".into()),
            body: EventBody::Message(Message {
                provider_message_id: "wamid.1".into(),
                direction: Direction::Inbound,
                from_address: Some("16505551234".into()),
                to_address: Some("+15550783881".into()),
                contact: None,
                kind: "text".into(),
                body: Some("hi".into()),
                content: json!({}),
                context: None,
                status: None,
                sent_at: None,
                raw: json!({}),
            }),
        };
        let published = PublishedEvent {
            id: "evt-1".into(),
            event_type: data.event_type().into(),
            provider: crate::Provider::Meta,
            line_id: data.line_id.clone(),
            received_at: Utc::now(),
            correlation_id: "c".into(),
            data,
        };
        let text = serde_json::to_string(&published).expect("serialises");
        let event: IncomingEvent = serde_json::from_str(&text).expect("reads back");
        assert_eq!(event.id, "evt-1");
        assert_eq!(line_keys(&event), ["106540352242922", "15550783881"]);
        assert_eq!(body(&event)["data"]["body"], "hi");
    }

    #[test]
    fn phone_numbers_match_with_or_without_plus() {
        assert_eq!(normalise_line(" +15550783881 "), "15550783881");
    }
}
