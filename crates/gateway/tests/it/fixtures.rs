//! Signed request fixtures for every sender, built from the vectors' secrets
//! with fresh bodies and current timestamps.

use crate::helpers::OPENPHONE_KEY;

/// Signs `body` the legacy OpenPhone way with [`OPENPHONE_KEY`], timestamped `at_ms`.
pub fn openphone_legacy_signature(body: &[u8], at_ms: i64) -> String {
    openphone_signature_by(OPENPHONE_KEY, body, at_ms)
}

/// Signs `body` the legacy OpenPhone way with the base64 `key`, timestamped `at_ms`.
pub fn openphone_signature_by(key: &str, body: &[u8], at_ms: i64) -> String {
    use inlet_domain::signature::openphone::{sign, OpenPhoneKey};
    sign(&OpenPhoneKey::from_base64(key).expect("key"), at_ms, body)
}

/// Standard Webhooks headers for `body` signed with `secret` at `at` (Unix seconds).
pub fn standard_headers(secret: &str, id: &str, at: i64, body: &[u8]) -> Vec<(String, String)> {
    use inlet_domain::signature::standard::{sign, StandardSecret};
    let sig = sign(
        &StandardSecret::parse(secret).expect("secret"),
        id,
        at,
        body,
    );
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), at.to_string()),
        ("webhook-signature".into(), sig),
    ]
}

/// Signs `body` as a bridge does with `secret`.
pub fn bridge_signature(secret: &str, body: &[u8]) -> String {
    use inlet_domain::signature::bridge::{sign, BridgeSecret};
    sign(&BridgeSecret::new(secret).expect("secret"), body)
}

/// Now, in Unix seconds.
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// An OpenPhone legacy `message.received` event with id `id` on `line`.
pub fn openphone_message(id: &str, line: &str) -> Vec<u8> {
    serde_json::json!({
        "id": id, "object": "event", "apiVersion": "v2",
        "createdAt": "2026-01-01T00:00:00.000Z", "type": "message.received",
        "data": {"object": {"id": "AC24a8b8321c4f4cf2be110f4250793d51", "object": "message",
            "from": "+14155550100", "to": "+14155550199", "direction": "incoming",
            "body": "Hi, is the order ready?", "media": [], "status": "received",
            "createdAt": "2026-01-01T00:00:00.000Z", "userId": "USu5AsEHuQ",
            "phoneNumberId": line, "conversationId": "CN78ba0373683c48fd8fd96bc836c51f79"}}
    })
    .to_string()
    .into_bytes()
}

/// A bridge `message.received` event with message id `id`.
pub fn bridge_message(id: &str) -> Vec<u8> {
    serde_json::json!({
        "event_type": "message.received", "timestamp": "2026-01-01T00:00:00Z",
        "data": {"message_id": id, "from": "15550001111", "text": "hello"}
    })
    .to_string()
    .into_bytes()
}

/// A unique id for a test's event.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// Signs `body` as Meta does with [`META_SECRET`].
pub fn meta_signature(body: &[u8]) -> String {
    let secret = inlet_domain::signature::meta::MetaSecret::new(crate::helpers::META_SECRET, None)
        .expect("secret");
    inlet_domain::signature::meta::sign(&secret, body)
}

/// A Meta text-message webhook with a unique message id.
pub fn meta_text(wamid: &str, text: &str) -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
            "messages": [{"from": "16505551234", "id": wamid, "timestamp": "1749416383",
                          "type": "text", "text": {"body": text}}]
        }}]}]
    })
    .to_string()
    .into_bytes()
}
