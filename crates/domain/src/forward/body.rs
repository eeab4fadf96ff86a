//! What a customer's endpoint receives, and the keys its filters match.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// The type of the event [`test_body`] builds.
pub const TEST_EVENT_TYPE: &str = "endpoint.test";

/// A domain event as read from `inlet.domain`: the envelope of
/// [`crate::event::PublishedEvent`] with `data` kept as the JSON text it came in.
///
/// Forwarding passes `data` through, so it reads it loosely: an event type
/// added later is still forwarded, and a `data` object the strict types
/// cannot read back (a message's `kind` field collides with the `kind` tag of
/// [`crate::event::EventBody`]) is still delivered. Kept unparsed, it costs a
/// scan, not a tree, for every event that no endpoint wants.
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
    /// The normalised event, as JSON text.
    pub data: Box<RawValue>,
}

impl IncomingEvent {
    /// Reads what one message on the deliveries queue carries: a JSON array
    /// of events (one worker batch, what the worker sends) or a single event.
    pub fn read_all(bytes: &[u8]) -> Result<Vec<IncomingEvent>, serde_json::Error> {
        // The first byte tells which; an untagged enum would buffer the
        // whole message as a tree to find out, and cannot hold a RawValue.
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => serde_json::from_slice(bytes),
            _ => serde_json::from_slice(bytes).map(|one| vec![one]),
        }
    }
}

/// The JSON body of a delivery: `{id, type, line, timestamp, data}`, `data`
/// being the normalised event, passed through as it came.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Body<'a> {
    /// The event's id.
    pub id: &'a str,
    /// Its type.
    #[serde(rename = "type")]
    pub event_type: &'a str,
    /// The line it concerns.
    pub line: Option<&'a str>,
    /// When the gateway received it.
    pub timestamp: DateTime<Utc>,
    /// The normalised event.
    pub data: &'a RawValue,
}

/// The body every delivery of `event` sends.
pub fn body(event: &IncomingEvent) -> Body<'_> {
    Body {
        id: &event.id,
        event_type: &event.event_type,
        line: event.line_id.as_deref(),
        timestamp: event.received_at,
        data: &event.data,
    }
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
    // Only these three fields of `data` matter here; anything that is not
    // an object, or not a string where one is expected, shows no number.
    #[derive(Default, Deserialize)]
    struct Numbers {
        direction: Option<Value>,
        to_address: Option<Value>,
        from_address: Option<Value>,
    }
    let text = event.data.get();
    // A struct would also read an array, by position.
    let data: Numbers = if text.starts_with('{') {
        serde_json::from_str(text).unwrap_or_default()
    } else {
        Numbers::default()
    };
    let direction = match event.event_type.as_str() {
        "message.received" => Some("inbound"),
        "message.sent" => Some("outbound"),
        "call" => data.direction.as_ref().and_then(Value::as_str),
        _ => None,
    };
    let own = match direction {
        Some("inbound") => data.to_address.as_ref(),
        Some("outbound") => data.from_address.as_ref(),
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

/// Whether an endpoint's `event_types` entry can ever match: `*`, a type of
/// [`crate::event::event_types::ALL`], or `family.*` where some such type is
/// `family.<name>` (the patterns [`type_patterns`] yields). Matching is exact,
/// so `Message.Received` or `message` never would; nor would
/// [`TEST_EVENT_TYPE`], since a test delivery goes to its endpoint whatever
/// the filters.
pub fn is_type_filter(value: &str) -> bool {
    let types = || crate::event::event_types::ALL.iter().copied();
    value == "*"
        || types().any(|t| t == value)
        || value.strip_suffix(".*").is_some_and(|family| {
            types().any(|t| t.split_once('.').is_some_and(|(f, _)| f == family))
        })
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
    fn a_filter_is_accepted_only_if_some_event_type_can_match_it() {
        for good in [
            "*",
            "message.*",
            "contact.*",
            "reaction",
            "message.status",
            "line.status",
        ] {
            assert!(is_type_filter(good), "{good}");
        }
        for bad in [
            "Message.Received",
            "message",
            "messages.*",
            "reaction.*",
            "call.*",
            "msg",
            "*.*",
            "endpoint.test",
        ] {
            assert!(!is_type_filter(bad), "{bad}");
        }
        // Every type and every family it yields is a filter that can match.
        for t in crate::event::event_types::ALL {
            for pattern in type_patterns(t) {
                assert!(is_type_filter(&pattern), "{pattern}");
            }
        }
    }

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
        let sent = serde_json::to_value(body(&event)).expect("serialises");
        assert_eq!(sent["data"]["body"], "hi");
        assert_eq!(sent["id"], "evt-1");
        assert_eq!(sent["line"], "106540352242922");
        assert_eq!(sent["type"], "message.received");
    }

    const EVENT: &str = r#"{"id":"evt_1","type":"message.received","line_id":"L1",
        "received_at":"2026-11-23T10:00:00Z","data":{"kind":"message"}}"#;

    #[test]
    fn a_message_carries_a_batch_of_events_or_a_single_one() {
        let batch = format!(" \n[{EVENT},{}]", EVENT.replace("evt_1", "evt_2"));
        let many = IncomingEvent::read_all(batch.as_bytes()).expect("a batch parses");
        let ids: Vec<&str> = many.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["evt_1", "evt_2"]);
        assert_eq!(many[0].data.get(), r#"{"kind":"message"}"#);
        let one = IncomingEvent::read_all(EVENT.as_bytes()).expect("one event parses");
        assert_eq!(one.len(), 1);
        assert!(IncomingEvent::read_all(br#"{"nope":1}"#).is_err());
        assert!(IncomingEvent::read_all(br#"[{"nope":1}]"#).is_err());
        assert!(IncomingEvent::read_all(b"").is_err());
    }

    fn event(event_type: &str, data: &str) -> IncomingEvent {
        let text = EVENT
            .replace("message.received", event_type)
            .replace(r#"{"kind":"message"}"#, data);
        serde_json::from_str(&text).expect("an event")
    }

    #[test]
    fn a_call_shows_its_own_number_by_direction_and_odd_data_shows_none() {
        let call = r#"{"direction":"outbound","from_address":"+1555","to_address":"1666"}"#;
        assert_eq!(line_keys(&event("call", call)), ["L1", "1555"]);
        let inbound = r#"{"direction":"inbound","to_address":"1666","extra":[1,{"a":2}]}"#;
        assert_eq!(line_keys(&event("call", inbound)), ["L1", "1666"]);
        // Not strings, not an object: the line id alone.
        let numeric = r#"{"direction":"inbound","to_address":1666}"#;
        assert_eq!(line_keys(&event("call", numeric)), ["L1"]);
        let array = r#"["inbound","1666","1777"]"#;
        assert_eq!(line_keys(&event("call", array)), ["L1"]);
        assert_eq!(line_keys(&event("message.received", "\"text\"")), ["L1"]);
    }

    #[test]
    fn a_body_passes_data_through_as_it_came() {
        let data = r#"{"n":1.50,"s":"\u00e9"}"#;
        let sent = serde_json::to_string(&body(&event("reaction", data))).expect("serialises");
        assert!(sent.contains(r#""data":{"n":1.50,"s":"\u00e9"}"#), "{sent}");
        assert!(
            sent.contains(r#""timestamp":"2026-11-23T10:00:00Z""#),
            "{sent}"
        );
    }

    #[test]
    fn phone_numbers_match_with_or_without_plus() {
        assert_eq!(normalise_line(" +15550783881 "), "15550783881");
    }
}
