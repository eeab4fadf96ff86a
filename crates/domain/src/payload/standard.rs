//! Events from any service that signs the Standard Webhooks way, from a
//! source configured by name (`/webhooks/standard/{source}`).
//!
//! Their shapes are the sender's own, so Inlet records each as an account
//! event: field `<source>.<type>`, keyed on the gateway's dedup key (the
//! `webhook-id`, stable across retries), the whole body as data. Any JSON
//! object decodes; `type` defaults to `event` and the time to the receive time.

use super::DecodeError;
use crate::envelope::EventMeta;
use crate::event::{rfc3339, unix_seconds, AccountEvent, DomainEvent, EventBody};
use crate::provider::Provider;
use serde_json::Value;

/// Decodes one webhook body.
pub fn decode(meta: &EventMeta, body: &[u8]) -> Result<Vec<DomainEvent>, DecodeError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| DecodeError::malformed(Provider::Standard, e))?;
    if !root.is_object() {
        return Err(DecodeError::malformed(
            Provider::Standard,
            "body is not a JSON object",
        ));
    }
    let kind = root
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or("event");
    let source = meta.source.as_deref().unwrap_or("standard");
    let occurred_at = root
        .get("timestamp")
        .and_then(|t| rfc3339(t).or_else(|| unix_seconds(t)))
        .unwrap_or(meta.received_at);
    Ok(vec![DomainEvent {
        provider: Provider::Standard,
        line_id: meta.line.clone(),
        body: EventBody::Account(AccountEvent {
            field: format!("{source}.{kind}"),
            event: Some(kind.to_owned()),
            event_key: meta.dedup_key.clone(),
            occurred_at,
            data: root,
        }),
    }])
}
