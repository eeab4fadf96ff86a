//! Provider payloads, decoded into normalised [`DomainEvent`]s.
//!
//! One decoder per provider, each a pure function of the [`EventMeta`] and the
//! raw body. Decoders never panic and never fail on what they merely do not
//! know: unknown event types, fields and statuses become account events.
//! Only a body that can never yield an event (not JSON, not the provider's
//! envelope, a message without an id) is a [`DecodeError`].

pub mod bridge;
mod json;
pub mod meta;
mod meta_message;
pub mod openphone;
mod openphone_call;
pub mod standard;

use crate::envelope::EventMeta;
use crate::event::DomainEvent;
use crate::provider::Provider;

/// A payload that can never be turned into events: retrying will not help.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body is not JSON, or not the provider's envelope.
    #[error("malformed {provider} payload: {reason}")]
    Malformed {
        /// Whose envelope it should have been.
        provider: Provider,
        /// What is wrong with it.
        reason: String,
    },
    /// Inlet has no decoder for this provider.
    #[error("no decoder for provider {0}")]
    Unsupported(Provider),
}

impl DecodeError {
    /// A malformed-payload error for `provider`.
    pub fn malformed(provider: Provider, reason: impl ToString) -> Self {
        DecodeError::Malformed {
            provider,
            reason: reason.to_string(),
        }
    }
}

/// Decodes a raw webhook body into the events it reports, in body order.
///
/// `meta` supplies what the body may not say: the line from the URL (bridge,
/// Standard Webhooks), the source name, the dedup key, and the receive time
/// used when the body carries no timestamp (so a redelivery decodes the same).
pub fn decode(meta: &EventMeta, body: &[u8]) -> Result<Vec<DomainEvent>, DecodeError> {
    let cleaned = without_nul(body);
    let body = cleaned.as_deref().unwrap_or(body);
    match meta.provider {
        Provider::Meta => meta::decode(meta, body),
        Provider::OpenPhone => openphone::decode(meta, body),
        Provider::Bridge => bridge::decode(meta, body),
        Provider::Standard => standard::decode(meta, body),
    }
}

/// The body with every U+0000 in its strings (and keys) replaced by U+FFFD,
/// when it has one; `None` when it has none (the usual case, found by a scan
/// for the escape, the only way JSON can carry the character) or is not JSON
/// (the decoder reports that). PostgreSQL's `text` and `jsonb` cannot hold
/// U+0000: a message with one would fail its whole transaction and be
/// dead-lettered with every event of its webhook.
fn without_nul(body: &[u8]) -> Option<Vec<u8>> {
    const ESCAPE: &[u8] = b"\\u0000";
    if !body.windows(ESCAPE.len()).any(|w| w == ESCAPE) {
        return None;
    }
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    replace_nul(&mut value);
    serde_json::to_vec(&value).ok()
}

fn replace_nul(value: &mut serde_json::Value) {
    use crate::repository::text::storable;
    use serde_json::Value;
    use std::borrow::Cow;
    match value {
        Value::String(s) => {
            if let Cow::Owned(cleaned) = storable(s) {
                *s = cleaned;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                replace_nul(&mut item);
                map.insert(storable(&key).into_owned(), item);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::without_nul;

    #[test]
    fn nul_characters_become_replacement_characters_in_strings_and_keys() {
        let body = br#"{"a\u0000":["x\u0000y",1],"b":"\\u0000 is text"}"#;
        let cleaned = without_nul(body).expect("rewritten");
        let value: serde_json::Value = serde_json::from_slice(&cleaned).expect("JSON");
        assert_eq!(
            value,
            serde_json::json!({"a\u{FFFD}": ["x\u{FFFD}y", 1], "b": "\\u0000 is text"})
        );
    }

    #[test]
    fn a_body_without_one_is_left_alone() {
        assert!(without_nul(br#"{"a":"plain"}"#).is_none());
        // An escaped backslash before `u0000` is text, kept as it was.
        let body = br#"{"a":"\\u0000 is text"}"#;
        let kept = without_nul(body).map_or(body.to_vec(), |b| b);
        let value: serde_json::Value = serde_json::from_slice(&kept).expect("JSON");
        assert_eq!(value["a"], "\\u0000 is text");
    }
}
