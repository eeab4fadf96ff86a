//! Provider payloads, decoded into normalised [`DomainEvent`]s.

pub mod meta;

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

/// Decodes a raw webhook body into the events it reports.
pub fn decode(meta: &EventMeta, body: &[u8]) -> Result<Vec<DomainEvent>, DecodeError> {
    match meta.provider {
        Provider::Meta => meta::decode(body),
        other => Err(DecodeError::Unsupported(other)),
    }
}
