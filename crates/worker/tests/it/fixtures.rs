//! Meta webhook bodies built from the reference's documented shapes.

use serde_json::{json, Value};

/// The line (phone number id) of every Meta fixture.
pub const LINE: &str = "106540352242922";

fn meta_body(changes: Vec<Value>) -> Vec<u8> {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": changes}]
    })
    .to_string()
    .into_bytes()
}

fn messages_value(contacts: Value, messages: Value, statuses: Value) -> Value {
    json!({"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": LINE},
        "contacts": contacts,
        "messages": messages,
        "statuses": statuses,
    }})
}

/// An inbound text message `wamid` from `from`, sent at Unix time `ts`.
pub fn meta_text(wamid: &str, from: &str, text: &str, ts: i64) -> Vec<u8> {
    meta_body(vec![messages_value(
        json!([{"profile": {"name": "Sheena Nelson"}, "wa_id": from}]),
        json!([{"from": from, "id": wamid, "timestamp": ts.to_string(),
                "type": "text", "text": {"body": text}}]),
        json!([]),
    )])
}

/// A status webhook: `wamid` reached `status` at Unix time `ts`.
pub fn meta_status(wamid: &str, status: &str, ts: i64) -> Vec<u8> {
    meta_body(vec![messages_value(
        json!([]),
        json!([]),
        json!([{"id": wamid, "status": status, "timestamp": ts.to_string(),
                "recipient_id": "16505551234"}]),
    )])
}

/// One webhook carrying `n` text messages spread over several changes.
pub fn meta_batch(prefix: &str, n: usize) -> Vec<u8> {
    let changes = (0..n)
        .collect::<Vec<_>>()
        .chunks(50)
        .map(|chunk| {
            let messages: Vec<Value> = chunk
                .iter()
                .map(|i| {
                    json!({"from": format!("1650555{i:04}"), "id": format!("{prefix}.{i}"),
                           "timestamp": "1749416383", "type": "text",
                           "text": {"body": format!("message {i}")}})
                })
                .collect();
            let contacts: Vec<Value> = chunk
                .iter()
                .map(|i| json!({"profile": {"name": format!("Contact {i}")}, "wa_id": format!("1650555{i:04}")}))
                .collect();
            messages_value(json!(contacts), json!(messages), json!([]))
        })
        .collect();
    meta_body(changes)
}
