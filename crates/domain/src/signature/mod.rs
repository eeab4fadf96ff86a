//! Webhook signatures: how each sender signs a body, and how Inlet checks it.
//!
//! - [`meta`]: Meta WhatsApp Cloud API, `X-Hub-Signature-256: sha256=<hex>` over the raw body.
//! - [`openphone`]: OpenPhone/Quo legacy, `openphone-signature: hmac;1;<ts>;<base64>`.
//! - [`standard`]: Standard Webhooks (also Quo 2026-03-30 and Svix), `webhook-*` headers.
//! - [`bridge`]: the project's WhatsApp bridge, `X-Webhook-Signature: <hex>` over the raw body.
//!
//! Every verifier hashes the body bytes exactly as received: reserialised JSON does not match
//! (providers.md section 5). Each takes a list of secrets so that a secret can be rotated
//! without downtime, and accepts a request when any secret matches.
//!
//! Check order, the same in every scheme: first the headers' format ([`VerifyError::MissingHeader`],
//! [`VerifyError::Malformed`]), then the signature ([`VerifyError::Mismatch`]), and only then the
//! timestamp window ([`VerifyError::Stale`]). `Stale` therefore always means "authentic but too
//! old or too far in the future" (a replay or a skewed clock), never a forgery.
//!
//! Verifiers never panic: header values are attacker-controlled, so they are only split on ASCII
//! separators, numbers are parsed with overflow checks, and tags are compared in constant time by
//! [`ring::hmac::verify`].

use std::{fmt, time::Duration};

use base64::{
    alphabet,
    engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig},
};
use chrono::{DateTime, Utc};
use ring::hmac;

pub mod bridge;
pub mod meta;
pub mod openphone;
pub mod standard;

/// Why a request's signature was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum VerifyError {
    /// A required header is absent or empty.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header is present but not in the scheme's format (named by the field).
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// The signature is authentic but its timestamp is outside the tolerance window.
    #[error("timestamp outside the tolerance window")]
    Stale,
    /// No configured secret produces any of the signatures in the header.
    #[error("signature does not match")]
    Mismatch,
}

/// Why a configured secret cannot be used as a key. The messages never include the secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum KeyError {
    /// The secret is empty (or only a `whsec_` prefix): an empty HMAC key is guessable.
    #[error("the secret is empty")]
    Empty,
    /// The secret should be base64 but is not.
    #[error("the secret is not valid base64")]
    InvalidBase64,
}

/// How far a signed timestamp may be from "now", in either direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance(pub Duration);

impl Tolerance {
    /// Five minutes, as in every official Standard Webhooks library (providers.md section 3).
    pub const DEFAULT: Self = Self(Duration::from_secs(5 * 60));
}

impl Default for Tolerance {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Length of an HMAC-SHA256 tag in bytes.
const TAG_LEN: usize = 32;

/// Longest base64 text worth decoding as a tag (32 bytes padded is 44 characters).
const MAX_BASE64_TAG_LEN: usize = 44;

/// Most candidate signatures one header may carry. Each candidate costs an HMAC over the whole
/// body (up to 3 MB) per secret, so an unbounded list would let one request buy a lot of CPU.
/// Real senders send one, or two while rotating.
const MAX_CANDIDATES: usize = 8;

/// Standard base64 that decodes padded and unpadded text alike: secrets are pasted by hand and
/// the Python Standard Webhooks library accepts both. Encoding always pads, as senders do.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An HMAC-SHA256 key. It never prints, so secrets cannot leak through `{:?}` in logs.
#[derive(Clone)]
pub(crate) struct HmacKey(hmac::Key);

impl HmacKey {
    /// A key from raw bytes; empty bytes are refused.
    pub(crate) fn new(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, bytes)))
    }

    /// A key from base64 text (padded or not); the decoded bytes are the key.
    pub(crate) fn from_base64(text: &str) -> Result<Self, KeyError> {
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        let bytes = base64::Engine::decode(&BASE64, text).map_err(|_| KeyError::InvalidBase64)?;
        Self::new(&bytes)
    }

    /// The tag over the concatenation of `parts`, streamed so that signing never copies the body.
    pub(crate) fn sign(&self, parts: &[&[u8]]) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.0);
        for part in parts {
            context.update(part);
        }
        context.sign()
    }

    /// Whether `tag` is this key's tag over `message`, compared in constant time.
    pub(crate) fn verifies(&self, message: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.0, message, tag).is_ok()
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Encodes a tag as padded standard base64.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    base64::Engine::encode(&BASE64, bytes)
}

/// The header's value, or `MissingHeader` when it is absent or empty.
pub(crate) fn required<'a>(
    value: Option<&'a str>,
    name: &'static str,
) -> Result<&'a str, VerifyError> {
    value
        .filter(|value| !value.is_empty())
        .ok_or(VerifyError::MissingHeader(name))
}

/// Decodes exactly 64 hex digits (either case); anything else is `Malformed(name)`.
pub(crate) fn decode_hex_tag(text: &str, name: &'static str) -> Result<[u8; TAG_LEN], VerifyError> {
    let mut tag = [0; TAG_LEN];
    // `decode_to_slice` works on bytes and checks the length first, so non-ASCII cannot panic.
    hex::decode_to_slice(text, &mut tag).map_err(|_| VerifyError::Malformed(name))?;
    Ok(tag)
}

/// Decodes a base64 tag, or `None` when the text cannot be an HMAC-SHA256 tag. A bad entry is
/// not an error: it just matches nothing, like any other wrong signature.
pub(crate) fn decode_base64_tag(text: &str) -> Option<Vec<u8>> {
    if text.len() > MAX_BASE64_TAG_LEN {
        return None;
    }
    base64::Engine::decode(&BASE64, text)
        .ok()
        .filter(|tag| tag.len() == TAG_LEN)
}

/// Parses a Unix timestamp: ASCII digits only (no sign, no spaces), overflow is `Malformed`.
/// Strict on purpose, because the text itself is part of the signed content.
pub(crate) fn parse_timestamp(text: &str, name: &'static str) -> Result<i64, VerifyError> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(VerifyError::Malformed(name));
    }
    text.parse().map_err(|_| VerifyError::Malformed(name))
}

/// The unit of a signed timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    /// Unix seconds; "now" is truncated to whole seconds, as the official libraries do.
    Seconds,
    /// Unix milliseconds.
    Millis,
}

/// `Stale` when `timestamp` is more than `tolerance` away from `now`, in either direction.
pub(crate) fn check_window(
    timestamp: i64,
    unit: TimeUnit,
    now: DateTime<Utc>,
    tolerance: Tolerance,
) -> Result<(), VerifyError> {
    let (now, allowed) = match unit {
        TimeUnit::Seconds => (now.timestamp(), u128::from(tolerance.0.as_secs())),
        TimeUnit::Millis => (now.timestamp_millis(), tolerance.0.as_millis()),
    };
    // The difference of two i64 always fits in i128, so no timestamp can overflow here.
    let skew = (i128::from(now) - i128::from(timestamp)).unsigned_abs();
    if skew > allowed {
        Err(VerifyError::Stale)
    } else {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fixed "now" from Unix seconds.
    pub(crate) fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("test timestamps are in chrono's range")
    }

    /// The SHA-256 of a test body, to prove a pasted vector is the reference's bytes.
    pub(crate) fn sha256_hex(body: &[u8]) -> String {
        hex::encode(ring::digest::digest(&ring::digest::SHA256, body))
    }

    #[test]
    fn default_tolerance_is_five_minutes() {
        assert_eq!(Tolerance::default().0, Duration::from_secs(300));
    }

    #[test]
    fn window_accepts_the_boundary_and_rejects_one_unit_beyond() {
        let now = at(1_000_000);
        let tolerance = Tolerance::DEFAULT;
        for ts in [1_000_000 - 300, 1_000_000 + 300] {
            assert_eq!(check_window(ts, TimeUnit::Seconds, now, tolerance), Ok(()));
        }
        for ts in [1_000_000 - 301, 1_000_000 + 301] {
            let outcome = check_window(ts, TimeUnit::Seconds, now, tolerance);
            assert_eq!(outcome, Err(VerifyError::Stale));
        }
        let ms = 1_000_000_000;
        assert_eq!(
            check_window(ms + 300_000, TimeUnit::Millis, now, tolerance),
            Ok(())
        );
        let outcome = check_window(ms - 300_001, TimeUnit::Millis, now, tolerance);
        assert_eq!(outcome, Err(VerifyError::Stale));
    }

    #[test]
    fn window_does_not_overflow_on_extreme_timestamps_or_tolerances() {
        let huge = Tolerance(Duration::MAX);
        for ts in [i64::MIN, i64::MAX] {
            for unit in [TimeUnit::Seconds, TimeUnit::Millis] {
                assert_eq!(
                    check_window(ts, unit, at(0), Tolerance::DEFAULT),
                    Err(VerifyError::Stale)
                );
                assert_eq!(check_window(ts, unit, at(0), huge), Ok(()));
            }
        }
    }

    #[test]
    fn timestamps_must_be_plain_ascii_digits_that_fit_in_i64() {
        assert_eq!(parse_timestamp("1767225600", "t"), Ok(1_767_225_600));
        assert_eq!(parse_timestamp("9223372036854775807", "t"), Ok(i64::MAX));
        for bad in [
            "",
            "hello",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1.5",
            "١٢",
            "9223372036854775808",
        ] {
            assert_eq!(
                parse_timestamp(bad, "t"),
                Err(VerifyError::Malformed("t")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hex_tags_must_be_64_digits_of_either_case() {
        let lower = "ab".repeat(32);
        assert_eq!(decode_hex_tag(&lower, "h"), Ok([0xab; 32]));
        assert_eq!(decode_hex_tag(&lower.to_uppercase(), "h"), Ok([0xab; 32]));
        let non_ascii = format!("{}é", "a".repeat(62));
        for bad in ["", "ab", &"ab".repeat(33), &"zz".repeat(32), &non_ascii] {
            assert_eq!(
                decode_hex_tag(bad, "h"),
                Err(VerifyError::Malformed("h")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn base64_tags_that_cannot_be_a_sha256_tag_decode_to_nothing() {
        let tag = encode_base64(&[7; 32]);
        assert_eq!(decode_base64_tag(&tag), Some(vec![7; 32]));
        assert_eq!(
            decode_base64_tag(tag.trim_end_matches('=')),
            Some(vec![7; 32])
        );
        for bad in ["", "AAAA", "not base64!", "ééé", &"A".repeat(4096)] {
            assert_eq!(decode_base64_tag(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keys_refuse_empty_and_invalid_secrets() {
        assert_eq!(HmacKey::new(b"").err(), Some(KeyError::Empty));
        assert_eq!(HmacKey::from_base64("").err(), Some(KeyError::Empty));
        assert_eq!(
            HmacKey::from_base64("!!!!").err(),
            Some(KeyError::InvalidBase64)
        );
    }

    #[test]
    fn keys_never_print_their_bytes() {
        let key = HmacKey::new(b"hunter2").expect("non-empty key");
        assert_eq!(format!("{key:?}"), "[redacted]");
    }

    #[test]
    fn no_verifier_panics_on_arbitrary_header_text() {
        // Separators, digits, base64 and multi-byte characters, shuffled by a fixed xorshift so
        // that a failure is reproducible.
        let pool: Vec<char> = "hmac;1,v a=sha256:é😀09AZaz+/_.-whsec_\u{a0}"
            .chars()
            .collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % 1024).unwrap_or(0)
        };
        let meta = [meta::MetaSecret::new("m", None).expect("non-empty")];
        let bridge = [bridge::BridgeSecret::new("b").expect("non-empty")];
        let openphone = [openphone::OpenPhoneKey::from_base64("bw==").expect("valid")];
        let standard = [standard::StandardSecret::parse("whsec_cw==").expect("valid")];
        for _ in 0..20_000 {
            let len = next() % 96;
            let text: String = (0..len).map(|_| pool[next() % pool.len()]).collect();
            let header = Some(text.as_str());
            let now = at(1_767_225_600);
            let tolerance = Tolerance::DEFAULT;
            let _ = meta::verify(header, b"{}", &meta, now);
            let _ = bridge::verify(header, b"{}", &bridge);
            let _ = openphone::verify(header, b"{}", &openphone, now, tolerance);
            let headers = standard::StandardHeaders {
                id: header,
                timestamp: header,
                signature: header,
            };
            let _ = standard::verify(&headers, b"{}", &standard, now, tolerance);
        }
    }

    #[test]
    fn signing_in_parts_equals_signing_the_concatenation() {
        let key = HmacKey::new(b"k").expect("non-empty key");
        let tag = key.sign(&[b"a.", b"b"]);
        assert!(key.verifies(b"a.b", tag.as_ref()));
        assert!(!key.verifies(b"a.c", tag.as_ref()));
    }
}
