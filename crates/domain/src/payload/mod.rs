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
    match meta.provider {
        Provider::Meta => meta::decode(meta, body),
        Provider::OpenPhone => openphone::decode(meta, body),
        Provider::Bridge => bridge::decode(meta, body),
        Provider::Standard => standard::decode(meta, body),
    }
}
