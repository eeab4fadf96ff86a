//! What a customer's endpoint receives, and the keys its filters match.

use crate::event::{Direction, EventBody, PublishedEvent};
use serde_json::{json, Value};

/// The type of the event [`test_body`] builds.
pub const TEST_EVENT_TYPE: &str = "endpoint.test";

/// The JSON body of a delivery: `{id, type, line, timestamp, data}`, `data`
/// being the normalised event.
pub fn body(event: &PublishedEvent) -> Value {
    json!({
        "id": event.id,
        "type": event.event_type,
        "line": event.line_id,
        "timestamp": event.received_at,
        "data": event.data,
    })
}

/// The body of a test delivery (`POST /v1/endpoints/{id}/test`).
pub fn test_body(id: &str, now: chrono::DateTime<chrono::Utc>) -> Value {
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
/// of an inbound message, the sender of an outbound one), without `+`.
pub fn line_keys(event: &PublishedEvent) -> Vec<String> {
    let mut keys: Vec<String> = event.line_id.iter().map(|l| normalise_line(l)).collect();
    let own = match &event.data.body {
        EventBody::Message(m) => match m.direction {
            Direction::Inbound => m.to_address.as_deref(),
            Direction::Outbound => m.from_address.as_deref(),
        },
        EventBody::Call(c) => match c.direction {
            Some(Direction::Inbound) => c.to_address.as_deref(),
            Some(Direction::Outbound) => c.from_address.as_deref(),
            None => None,
        },
        _ => None,
    };
    keys.extend(own.map(normalise_line));
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
    fn phone_numbers_match_with_or_without_plus() {
        assert_eq!(normalise_line(" +15550783881 "), "15550783881");
    }
}
