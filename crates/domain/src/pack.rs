//! Packs: several raw events in one AMQP message.
//!
//! The broker's cost is per message, not per byte: a confirmed, persistent
//! publish to a quorum queue costs about as much for one 600-byte webhook as
//! for sixteen (`docs/benchmarks.md`). So when several webhooks are waiting
//! for the broker at once, the gateway publishes them as one *pack*, and the
//! worker unpacks it into the events it always handled. A lone event still
//! travels as a plain message ([`crate::envelope`]), and everything the worker
//! sends on (retries, dead letters, replays) is a plain message of one event.
//!
//! A pack's content type is [`CONTENT_TYPE`]; its body is the number of
//! events as a big-endian `u32`, then per event a `u32` length and the
//! event's meta as JSON, and a `u32` length and the raw body, untouched.
//! Decoding checks every length against what is left and the count against
//! what was read, so a damaged pack is refused whole, never misread.

use crate::broker::persistent_properties;
use crate::envelope::EventMeta;
use crate::provider::Provider;
use chrono::DateTime;
use lapin::types::AMQPValue;
use lapin::BasicProperties;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The content type that marks a message as a pack.
pub const CONTENT_TYPE: &str = "application/vnd.inlet.pack";
/// Header with the number of events in a pack, for operators reading a queue.
pub const H_EVENTS: &str = "x-inlet-pack-events";

/// Why a pack could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackError {
    /// A length runs past the end of the body.
    #[error("pack truncated at byte {0}")]
    Truncated(usize),
    /// An event's meta is not the JSON the gateway writes.
    #[error("invalid event meta in pack: {0}")]
    Meta(String),
    /// The pack holds no event, or not as many as it says.
    #[error("pack says {said} events and holds {held}")]
    Count {
        /// The count at the start of the body.
        said: usize,
        /// The events read.
        held: usize,
    },
}

/// One event read from a pack: its meta and its raw body.
#[derive(Debug, PartialEq, Eq)]
pub struct Unpacked<'a> {
    /// What the gateway knew about the event.
    pub meta: EventMeta,
    /// The provider's raw bytes.
    pub body: &'a [u8],
}

/// The meta as it travels in a pack: the header fields, under short names.
#[derive(Serialize, Deserialize)]
struct WireMeta<'a> {
    provider: Provider,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    line: Option<&'a str>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    line_unknown: bool,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    received_at_ms: i64,
    dedup_key: &'a str,
    correlation_id: &'a str,
    attempt: u32,
}

/// Whether a message with these properties is a pack.
pub fn is_pack(properties: &BasicProperties) -> bool {
    properties
        .content_type()
        .as_ref()
        .is_some_and(|t| t.as_str() == CONTENT_TYPE)
}

/// Properties of a persistent pack of `events` events; `id` names the
/// message (the gateway gives its first event's correlation id).
pub fn properties(events: usize, id: &str) -> BasicProperties {
    let mut headers = lapin::types::FieldTable::default();
    headers.insert(
        H_EVENTS.into(),
        AMQPValue::LongUInt(u32::try_from(events).unwrap_or(u32::MAX)),
    );
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(CONTENT_TYPE.into())
        .with_message_id(id.into())
        .with_timestamp(u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default())
        .with_headers(headers)
}

/// The message that carries `events` as the gateway publishes them: one
/// event as a plain message with its headers, several as one pack (`id`:
/// the first event's correlation id); `None` for no events.
pub fn message<'a>(
    events: &[(&'a EventMeta, &'a [u8])],
) -> Option<(Cow<'a, [u8]>, BasicProperties)> {
    match events {
        [] => None,
        [(meta, body)] => Some((Cow::Borrowed(*body), persistent_properties(meta))),
        [(first, _), ..] => Some((
            Cow::Owned(encode(events.iter().copied())),
            properties(events.len(), &first.correlation_id),
        )),
    }
}

/// Writes the events, in order, as one pack body.
pub fn encode<'a>(events: impl ExactSizeIterator<Item = (&'a EventMeta, &'a [u8])>) -> Vec<u8> {
    let count = u32::try_from(events.len()).unwrap_or(u32::MAX);
    let mut out = count.to_be_bytes().to_vec();
    for (meta, body) in events {
        let wire = WireMeta {
            provider: meta.provider,
            line: meta.line.as_deref(),
            line_unknown: meta.line_unknown,
            source: meta.source.as_deref(),
            received_at_ms: meta.received_at.timestamp_millis(),
            dedup_key: &meta.dedup_key,
            correlation_id: &meta.correlation_id,
            attempt: meta.attempt,
        };
        // Serialising a struct of strings and numbers cannot fail.
        let meta = serde_json::to_vec(&wire).unwrap_or_default();
        put(&mut out, &meta);
        put(&mut out, body);
    }
    out
}

/// Reads every event of a pack body.
pub fn decode(body: &[u8]) -> Result<Vec<Unpacked<'_>>, PackError> {
    let (said, mut rest) = body
        .split_first_chunk::<4>()
        .ok_or(PackError::Truncated(0))?;
    let said = usize::try_from(u32::from_be_bytes(*said)).unwrap_or(usize::MAX);
    // Not trusted for the allocation: a length each (8 bytes) bounds it.
    let mut events = Vec::with_capacity(said.min(rest.len() / 8));
    while !rest.is_empty() {
        let at = body.len() - rest.len();
        let (meta, after) = take(rest, at)?;
        let (raw, after) = take(after, body.len() - after.len())?;
        rest = after;
        let wire: WireMeta<'_> =
            serde_json::from_slice(meta).map_err(|e| PackError::Meta(e.to_string()))?;
        let received_at = DateTime::from_timestamp_millis(wire.received_at_ms)
            .ok_or_else(|| PackError::Meta("received_at_ms out of range".into()))?;
        events.push(Unpacked {
            meta: EventMeta {
                provider: wire.provider,
                line: wire.line.map(str::to_owned),
                line_unknown: wire.line_unknown,
                source: wire.source.map(str::to_owned),
                received_at,
                dedup_key: wire.dedup_key.to_owned(),
                correlation_id: wire.correlation_id.to_owned(),
                attempt: wire.attempt,
            },
            body: raw,
        });
    }
    if events.is_empty() || events.len() != said {
        return Err(PackError::Count {
            said,
            held: events.len(),
        });
    }
    Ok(events)
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    // Bodies are bounded by the gateway's body limit, far below 4 GiB.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Splits one length-prefixed field off `rest`, which starts at byte `at`.
fn take(rest: &[u8], at: usize) -> Result<(&[u8], &[u8]), PackError> {
    let (len, after) = rest
        .split_first_chunk::<4>()
        .ok_or(PackError::Truncated(at))?;
    let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| PackError::Truncated(at))?;
    if after.len() < len {
        return Err(PackError::Truncated(at));
    }
    Ok(after.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(n: u32) -> EventMeta {
        EventMeta {
            provider: Provider::Meta,
            line: n.is_multiple_of(2).then(|| format!("line-{n}")),
            line_unknown: n == 2,
            source: (n == 3).then(|| "billing".to_owned()),
            received_at: DateTime::from_timestamp_millis(1_767_225_600_000 + i64::from(n))
                .expect("valid"),
            dedup_key: format!("meta:wamid.{n}"),
            correlation_id: format!("c-{n}"),
            attempt: n,
        }
    }

    #[test]
    fn every_event_comes_back_in_order_with_its_meta_and_bytes() {
        let metas: Vec<EventMeta> = (1..=4).map(meta).collect();
        let bodies: Vec<Vec<u8>> = (1..=4)
            .map(|n| format!("{{\"n\":{n}}}\u{fffd}").into_bytes())
            .collect();
        let body = encode(metas.iter().zip(bodies.iter().map(Vec::as_slice)));
        assert_eq!(body[..4], 4u32.to_be_bytes());
        let events = decode(&body).expect("decodes");
        assert_eq!(events.len(), 4);
        for ((event, meta), raw) in events.iter().zip(&metas).zip(&bodies) {
            assert_eq!(&event.meta, meta);
            assert_eq!(event.body, raw.as_slice());
        }
    }

    #[test]
    fn bodies_that_are_not_json_or_empty_travel_untouched() {
        let (a, b) = (meta(1), meta(2));
        let body = encode([(&a, &b"\xff\x00not json"[..]), (&b, &b""[..])].into_iter());
        let events = decode(&body).expect("decodes");
        assert_eq!(events[0].body, b"\xff\x00not json");
        assert_eq!(events[1].body, b"");
    }

    #[test]
    fn a_pack_cut_anywhere_is_refused_not_misread() {
        let (a, b) = (meta(1), meta(2));
        let body = encode([(&a, &b"{\"a\":1}"[..]), (&b, &b"{\"b\":2}"[..])].into_iter());
        // Every cut, the one between the two events included.
        for cut in 0..body.len() {
            assert!(decode(&body[..cut]).is_err(), "cut at {cut} was accepted");
        }
        assert_eq!(
            decode(&0u32.to_be_bytes()),
            Err(PackError::Count { said: 0, held: 0 })
        );
    }

    #[test]
    fn a_length_past_the_end_is_truncation() {
        let mut body = 1u32.to_be_bytes().to_vec();
        body.extend_from_slice(&u32::MAX.to_be_bytes());
        body.extend_from_slice(b"{}");
        assert_eq!(decode(&body), Err(PackError::Truncated(4)));
    }

    #[test]
    fn one_event_is_a_plain_message_and_several_a_pack() {
        let (a, b) = (meta(1), meta(2));
        let (body, props) = message(&[(&a, &b"{}"[..])]).expect("a message");
        assert_eq!(&*body, b"{}");
        assert!(!is_pack(&props));
        assert_eq!(
            EventMeta::from_headers(props.headers().as_ref()),
            Ok(a.clone())
        );
        let (body, props) = message(&[(&a, &b"{}"[..]), (&b, &b"[]"[..])]).expect("a message");
        assert!(is_pack(&props));
        assert_eq!(props.message_id().as_ref().map(|i| i.as_str()), Some("c-1"));
        assert_eq!(decode(&body).expect("a pack").len(), 2);
        assert!(message(&[]).is_none());
    }

    #[test]
    fn pack_properties_are_recognised_and_plain_ones_are_not() {
        assert!(is_pack(&properties(3, "c-1")));
        assert!(!is_pack(&persistent_properties(&meta(1))));
    }
}
