//! A cheap look at a verified body: the line it names and its dedup key.
//!
//! Keys use the provider's own event id where one exists, scoped so ids from
//! different senders cannot collide; otherwise the SHA-256 of the raw body.
//! Ids are sender-controlled text, so a long or odd one is hashed too, keeping
//! Redis keys short and printable.

use serde_json::Value;

/// Longest id used as it is in a key.
const MAX_ID_LEN: usize = 128;

/// Meta: the hash of the raw body (resends are expected to repeat it; the
/// worker's unique keys stay the real guard).
pub fn meta_key(body: &[u8]) -> String {
    format!("meta:{}", sha256_hex(body))
}

/// OpenPhone: the line is the `PN…` phone number id of the event's object
/// (legacy `data.object`, 2026-03-30 `data.resource`).
pub fn openphone_line(value: &Value) -> Option<&str> {
    ["/data/object/phoneNumberId", "/data/resource/phoneNumberId"]
        .iter()
        .find_map(|p| value.pointer(p)?.as_str())
        .filter(|s| !s.is_empty())
}

/// OpenPhone: the body `id` (`EV…`, the same on every retry and in both
/// formats), else the Standard Webhooks delivery id, else the body hash.
pub fn openphone_key(value: &Value, webhook_id: Option<&str>, body: &[u8]) -> String {
    match (value.get("id").and_then(Value::as_str), webhook_id) {
        (Some(id), _) if !id.is_empty() => format!("openphone:{}", part(id)),
        (_, Some(id)) if !id.is_empty() => format!("openphone:delivery:{}", part(id)),
        _ => format!("openphone:sha256:{}", sha256_hex(body)),
    }
}

/// Bridge: `data.message_id`, scoped by line and event type (one message is
/// `message.sent` on one session and `message.received` on another, and may
/// later be `message.failed`); the body hash for events without one.
pub fn bridge_key(line: Option<&str>, value: &Value, body: &[u8]) -> String {
    let message_id = value
        .pointer("/data/message_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    match message_id {
        Some(id) => {
            let event = value
                .get("event_type")
                .and_then(Value::as_str)
                .unwrap_or("-");
            format!(
                "bridge:{}:{}:{}",
                part(line.unwrap_or("-")),
                part(event),
                part(id)
            )
        }
        None => format!("bridge:sha256:{}", sha256_hex(body)),
    }
}

/// Standard Webhooks: `webhook-id`, scoped by source (the body hash only when
/// the dev flag let a request through without one).
pub fn standard_key(source: &str, webhook_id: Option<&str>, body: &[u8]) -> String {
    match webhook_id.filter(|id| !id.is_empty()) {
        Some(id) => format!("standard:{}:{}", part(source), part(id)),
        None => format!("standard:{}:sha256:{}", part(source), sha256_hex(body)),
    }
}

/// `id` as it is when short and printable, else its hash.
fn part(id: &str) -> String {
    let printable = id.bytes().all(|b| b.is_ascii_graphic());
    if id.len() <= MAX_ID_LEN && printable {
        id.to_owned()
    } else {
        format!("h{}", sha256_hex(id.as_bytes()))
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn meta_keys_on_the_body_hash() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        assert_eq!(meta_key(body), meta_key(body));
        assert_ne!(meta_key(body), meta_key(b"{}"));
        assert!(meta_key(b"{}").starts_with("meta:"));
    }

    #[test]
    fn openphone_takes_the_line_from_either_envelope() {
        let legacy = json!({"data": {"object": {"phoneNumberId": "PNtoDbDhuz"}}});
        let new = json!({"data": {"resource": {"phoneNumberId": "PN2"}}});
        assert_eq!(openphone_line(&legacy), Some("PNtoDbDhuz"));
        assert_eq!(openphone_line(&new), Some("PN2"));
        assert_eq!(openphone_line(&json!({"data": {}})), None);
    }

    #[test]
    fn openphone_keys_on_the_event_id_then_the_delivery_id() {
        let event = json!({"id": "EVc67ec998b35c41d388af50799aeeba3e"});
        assert_eq!(
            openphone_key(&event, Some("msg_1"), b""),
            "openphone:EVc67ec998b35c41d388af50799aeeba3e"
        );
        assert_eq!(
            openphone_key(&json!({}), Some("msg_1"), b""),
            "openphone:delivery:msg_1"
        );
        assert!(openphone_key(&json!({}), None, b"x").starts_with("openphone:sha256:"));
    }

    #[test]
    fn bridge_keys_on_line_event_type_and_message_id() {
        let sent = json!({"event_type": "message.sent", "data": {"message_id": "3EB0"}});
        let received = json!({"event_type": "message.received", "data": {"message_id": "3EB0"}});
        assert_eq!(
            bridge_key(Some("s1"), &sent, b""),
            "bridge:s1:message.sent:3EB0"
        );
        assert_ne!(
            bridge_key(Some("s1"), &sent, b""),
            bridge_key(Some("s2"), &sent, b"")
        );
        assert_ne!(
            bridge_key(None, &sent, b""),
            bridge_key(None, &received, b"")
        );
        let status = json!({"event_type": "connection.status", "data": {"state": "open"}});
        assert!(bridge_key(None, &status, b"x").starts_with("bridge:sha256:"));
    }

    #[test]
    fn standard_keys_are_scoped_by_source() {
        assert_eq!(
            standard_key("billing", Some("msg_1"), b""),
            "standard:billing:msg_1"
        );
        assert_ne!(
            standard_key("billing", Some("msg_1"), b""),
            standard_key("crm", Some("msg_1"), b"")
        );
    }

    #[test]
    fn long_or_unprintable_ids_are_hashed() {
        let long = "x".repeat(500);
        let key = standard_key("s", Some(&long), b"");
        assert!(key.len() < 100, "{key}");
        assert!(standard_key("s", Some("a b\n"), b"").starts_with("standard:s:h"));
    }
}
