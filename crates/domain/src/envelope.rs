//! The wire envelope: how a raw webhook travels from the gateway to the worker.
//!
//! The AMQP body is the provider's raw bytes, untouched (so signatures could be
//! re-checked and nothing is lost to re-serialisation). Everything Inlet knows
//! about the event travels in AMQP headers, read and written only here.

use crate::provider::Provider;
use chrono::{DateTime, Utc};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

/// Header naming the provider (`meta`, `openphone`, ...).
pub const H_PROVIDER: &str = "x-inlet-provider";
/// Header naming the line, when the URL or the envelope told the gateway.
pub const H_LINE: &str = "x-inlet-line";
/// Header naming a Standard Webhooks source (`/webhooks/standard/{source}`).
pub const H_SOURCE: &str = "x-inlet-source";
/// Header with the gateway's receive time, Unix milliseconds.
pub const H_RECEIVED_AT: &str = "x-inlet-received-at";
/// Header with the dedup key the gateway claimed.
pub const H_DEDUP_KEY: &str = "x-inlet-dedup-key";
/// Header with the correlation id every log line about the event carries.
pub const H_CORRELATION_ID: &str = "x-inlet-correlation-id";
/// Header with the processing attempt number (1 for the first delivery).
pub const H_ATTEMPT: &str = "x-inlet-attempt";
/// Header set when the gateway could not match the line to configuration.
pub const H_LINE_UNKNOWN: &str = "x-inlet-line-unknown";

/// What Inlet knows about a raw event, beside its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMeta {
    /// Who sent it.
    pub provider: Provider,
    /// The line, when known at the gateway.
    pub line: Option<String>,
    /// `true` when the line named is not configured (still accepted and stored).
    pub line_unknown: bool,
    /// The Standard Webhooks source name, for `standard` events.
    pub source: Option<String>,
    /// When the gateway received it.
    pub received_at: DateTime<Utc>,
    /// The dedup key claimed at the gateway.
    pub dedup_key: String,
    /// Id carried by every log line about this event.
    pub correlation_id: String,
    /// Which processing attempt this delivery is (1 = first).
    pub attempt: u32,
}

/// A header is missing or has the wrong type: the message did not come from an
/// Inlet gateway (or an operator published it by hand).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// A required header is absent.
    #[error("missing AMQP header {0}")]
    Missing(&'static str),
    /// A header has a value Inlet cannot read.
    #[error("invalid AMQP header {0}")]
    Invalid(&'static str),
}

impl EventMeta {
    /// Writes the meta as AMQP headers.
    pub fn to_headers(&self) -> FieldTable {
        let mut t = FieldTable::default();
        t.insert(H_PROVIDER.into(), long(self.provider.as_str()));
        if let Some(line) = &self.line {
            t.insert(H_LINE.into(), long(line));
        }
        if self.line_unknown {
            t.insert(H_LINE_UNKNOWN.into(), AMQPValue::Boolean(true));
        }
        if let Some(source) = &self.source {
            t.insert(H_SOURCE.into(), long(source));
        }
        t.insert(
            H_RECEIVED_AT.into(),
            AMQPValue::LongLongInt(self.received_at.timestamp_millis()),
        );
        t.insert(H_DEDUP_KEY.into(), long(&self.dedup_key));
        t.insert(H_CORRELATION_ID.into(), long(&self.correlation_id));
        t.insert(H_ATTEMPT.into(), AMQPValue::LongUInt(self.attempt));
        t
    }

    /// Reads the meta back from AMQP headers.
    pub fn from_headers(headers: Option<&FieldTable>) -> Result<Self, EnvelopeError> {
        let empty = FieldTable::default();
        let t = headers.unwrap_or(&empty);
        let provider = string(t, H_PROVIDER)?
            .ok_or(EnvelopeError::Missing(H_PROVIDER))?
            .parse()
            .map_err(|_| EnvelopeError::Invalid(H_PROVIDER))?;
        let received_ms = match t.inner().get(H_RECEIVED_AT) {
            Some(v) => int(v).ok_or(EnvelopeError::Invalid(H_RECEIVED_AT))?,
            None => return Err(EnvelopeError::Missing(H_RECEIVED_AT)),
        };
        let received_at = DateTime::from_timestamp_millis(received_ms)
            .ok_or(EnvelopeError::Invalid(H_RECEIVED_AT))?;
        let attempt = match t.inner().get(H_ATTEMPT) {
            Some(v) => int(v)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or(EnvelopeError::Invalid(H_ATTEMPT))?,
            None => 1,
        };
        Ok(EventMeta {
            provider,
            line: string(t, H_LINE)?,
            line_unknown: matches!(
                t.inner().get(H_LINE_UNKNOWN),
                Some(AMQPValue::Boolean(true))
            ),
            source: string(t, H_SOURCE)?,
            received_at,
            dedup_key: string(t, H_DEDUP_KEY)?.ok_or(EnvelopeError::Missing(H_DEDUP_KEY))?,
            correlation_id: string(t, H_CORRELATION_ID)?
                .ok_or(EnvelopeError::Missing(H_CORRELATION_ID))?,
            attempt,
        })
    }
}

fn long(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

fn string(t: &FieldTable, name: &'static str) -> Result<Option<String>, EnvelopeError> {
    match t.inner().get(name) {
        None => Ok(None),
        Some(AMQPValue::LongString(s)) => std::str::from_utf8(s.as_bytes())
            .map(|s| Some(s.to_owned()))
            .map_err(|_| EnvelopeError::Invalid(name)),
        Some(AMQPValue::ShortString(s)) => Ok(Some(ShortString::as_str(s).to_owned())),
        Some(_) => Err(EnvelopeError::Invalid(name)),
    }
}

fn int(v: &AMQPValue) -> Option<i64> {
    match v {
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::Timestamp(n) => i64::try_from(*n).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_every_field() {
        let meta = EventMeta {
            provider: Provider::OpenPhone,
            line: Some("PN1".into()),
            line_unknown: true,
            source: Some("billing".into()),
            received_at: DateTime::from_timestamp_millis(1_767_225_600_123).expect("valid"),
            dedup_key: "openphone:EV1".into(),
            correlation_id: "c-1".into(),
            attempt: 3,
        };
        assert_eq!(EventMeta::from_headers(Some(&meta.to_headers())), Ok(meta));
    }

    #[test]
    fn a_message_without_a_provider_header_is_rejected() {
        assert_eq!(
            EventMeta::from_headers(None),
            Err(EnvelopeError::Missing(H_PROVIDER))
        );
    }
}
