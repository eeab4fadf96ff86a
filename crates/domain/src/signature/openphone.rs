//! OpenPhone/Quo legacy webhooks: `openphone-signature: hmac;1;<timestamp>;<base64>`
//! (providers.md section 2.2).
//!
//! The signed content is the header's timestamp text, a `.`, then the raw body; the key is the
//! signing key as Quo shows it, base64-decoded. The timestamp is in milliseconds in every
//! documented example, but Quo never says so in words, so seconds are accepted too.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{
    check_window, decode_base64_tag, encode_base64, parse_timestamp, required, HmacKey, KeyError,
    TimeUnit, Tolerance, VerifyError, MAX_CANDIDATES,
};

/// The header that carries the signature.
pub const HEADER: &str = "openphone-signature";

/// The only scheme and version this module knows.
const SCHEME: &str = "hmac";
const VERSION: &str = "1";

/// Timestamps from here up are milliseconds: 10^12 ms is 2001-09-09, while 10^12 s is in the
/// year 33658, so the two readings cannot be confused for any real delivery.
const MILLIS_FROM: i64 = 1_000_000_000_000;

/// An OpenPhone signing key (the decoded bytes of the base64 text Quo reveals).
#[derive(Clone)]
pub struct OpenPhoneKey(HmacKey);

impl OpenPhoneKey {
    /// A key from the signing key exactly as Quo shows it (base64, padded or not). Empty or
    /// invalid base64 is refused. The text itself is never the key: that mistake fails every request.
    pub fn from_base64(key: &str) -> Result<Self, KeyError> {
        HmacKey::from_base64(key).map(Self)
    }
}

impl fmt::Debug for OpenPhoneKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OpenPhoneKey").field(&self.0).finish()
    }
}

/// The `openphone-signature` value for `body` at `timestamp_ms` (Unix milliseconds, not
/// negative): `hmac;1;<timestamp_ms>;<base64>`.
pub fn sign(key: &OpenPhoneKey, timestamp_ms: i64, body: &[u8]) -> String {
    let timestamp = timestamp_ms.to_string();
    let tag = key.0.sign(&[timestamp.as_bytes(), b".", body]);
    format!(
        "{SCHEME};{VERSION};{timestamp};{}",
        encode_base64(tag.as_ref())
    )
}

/// Checks an `openphone-signature` value against the raw `body`.
///
/// The header may hold several `,`-separated groups; groups of another scheme or version are
/// skipped. Accepts when any `hmac;1` group matches any key and its timestamp is within
/// `tolerance` of `now`. Timestamps of 10^12 and above are milliseconds, smaller ones seconds.
///
/// Errors, in the order they are checked: absent or empty header, `MissingHeader`; no `hmac;1`
/// group, an `hmac;1` group without exactly four fields, a timestamp that is not plain digits,
/// or more than eight groups, `Malformed`; no group matches, `Mismatch`; only groups outside the
/// window match, `Stale`. A forged request with an old timestamp is thus `Mismatch`, not `Stale`.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    keys: &[OpenPhoneKey],
    now: DateTime<Utc>,
    tolerance: Tolerance,
) -> Result<(), VerifyError> {
    let value = required(header.map(str::trim), HEADER)?;
    let candidates = parse(value)?;
    let mut authentic_but_stale = false;
    // ring compares tags only over one contiguous message, so each group's `<ts>.<body>` is
    // built in one reused buffer.
    let mut message = Vec::new();
    for candidate in &candidates {
        let Some(tag) = &candidate.tag else { continue };
        message.clear();
        message.extend_from_slice(candidate.timestamp_text.as_bytes());
        message.push(b'.');
        message.extend_from_slice(body);
        if !keys.iter().any(|key| key.0.verifies(&message, tag)) {
            continue;
        }
        let unit = if candidate.timestamp >= MILLIS_FROM {
            TimeUnit::Millis
        } else {
            TimeUnit::Seconds
        };
        match check_window(candidate.timestamp, unit, now, tolerance) {
            Ok(()) => return Ok(()),
            Err(_) => authentic_but_stale = true,
        }
    }
    Err(if authentic_but_stale {
        VerifyError::Stale
    } else {
        VerifyError::Mismatch
    })
}

/// One `hmac;1;<timestamp>;<signature>` group of the header.
struct Candidate<'a> {
    /// The timestamp exactly as sent: it is the signed text, so it is never reformatted.
    timestamp_text: &'a str,
    timestamp: i64,
    /// `None` when the signature cannot be a tag; the group then matches nothing.
    tag: Option<Vec<u8>>,
}

/// Splits the header into its `hmac;1` groups, failing on the first malformed one.
fn parse(value: &str) -> Result<Vec<Candidate<'_>>, VerifyError> {
    let mut candidates = Vec::new();
    for group in value.split(',') {
        let mut fields = group.trim().split(';');
        // Other schemes or versions are skipped: commas are reserved for future signatures.
        if fields.next() != Some(SCHEME) || fields.next() != Some(VERSION) {
            continue;
        }
        let (Some(timestamp_text), Some(signature), None) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(VerifyError::Malformed(HEADER));
        };
        if candidates.len() == MAX_CANDIDATES {
            return Err(VerifyError::Malformed(HEADER));
        }
        candidates.push(Candidate {
            timestamp: parse_timestamp(timestamp_text, HEADER)?,
            timestamp_text,
            tag: decode_base64_tag(signature),
        });
    }
    if candidates.is_empty() {
        // Nothing we know how to check, e.g. a future `hmac;2`: say so rather than "mismatch".
        return Err(VerifyError::Malformed(HEADER));
    }
    Ok(candidates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::tests::{at, sha256_hex};

    /// Vector O1 (providers.md 4.2).
    const O1_KEY: &str = "aW5sZXQtdGVzdC1vcGVucGhvbmUtc2lnbmluZy1rMQ==";
    const O1_BODY: &str = r#"{"id":"EVc67ec998b35c41d388af50799aeeba3e","object":"event","apiVersion":"v2","createdAt":"2026-01-01T00:00:00.000Z","type":"message.received","data":{"object":{"id":"AC24a8b8321c4f4cf2be110f4250793d51","object":"message","from":"+14155550100","to":"+14155550199","direction":"incoming","body":"Hi, is the order ready?","media":[],"status":"received","createdAt":"2026-01-01T00:00:00.000Z","userId":"USu5AsEHuQ","phoneNumberId":"PNtoDbDhuz","conversationId":"CN78ba0373683c48fd8fd96bc836c51f79"}}}"#;
    const O1_HEADER: &str = "hmac;1;1767225600000;GJM3A2OPtqXj9yAL8joidGoQ9cseWEo1fd4b9uLG3BU=";
    /// The same body signed with the base64 text itself as the key: the classic mistake.
    const O1_UNDECODED_KEY_HEADER: &str =
        "hmac;1;1767225600000;U4ubMfKB3Oy6B/tqBhPbAIK9UEB8hnhi7BHnzYoWAi4=";
    /// The same body and key signed over the timestamp in seconds (computed with python3).
    const O1_SECONDS_HEADER: &str =
        "hmac;1;1767225600;XXGKe9TqbefEGEr1edveBMD0MnI4KEhfWJWdzHsLMRU=";
    /// 2026-01-01T00:00:00Z.
    const NOW: i64 = 1_767_225_600;
    const NOW_MS: i64 = NOW * 1000;

    fn o1_key() -> OpenPhoneKey {
        OpenPhoneKey::from_base64(O1_KEY).expect("valid key")
    }

    fn verify_o1_at(header: Option<&str>, now: i64) -> Result<(), VerifyError> {
        let keys = [o1_key()];
        verify(
            header,
            O1_BODY.as_bytes(),
            &keys,
            at(now),
            Tolerance::DEFAULT,
        )
    }

    fn verify_o1(header: &str) -> Result<(), VerifyError> {
        verify_o1_at(Some(header), NOW)
    }

    #[test]
    fn the_o1_body_is_the_reference_copy() {
        assert_eq!(O1_BODY.len(), 497);
        assert_eq!(
            sha256_hex(O1_BODY.as_bytes()),
            "8b9e150dbf61145fb47bedfd0339b574d5ead0e62ac2506f8fb766c0479e48a0"
        );
    }

    #[test]
    fn signs_o1_as_the_reference_does() {
        assert_eq!(sign(&o1_key(), NOW_MS, O1_BODY.as_bytes()), O1_HEADER);
    }

    #[test]
    fn accepts_o1_at_its_own_time() {
        assert_eq!(verify_o1(O1_HEADER), Ok(()));
    }

    #[test]
    fn rejects_o1_signed_with_the_undecoded_key_text() {
        assert_eq!(
            verify_o1(O1_UNDECODED_KEY_HEADER),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn reads_a_thirteen_digit_timestamp_as_milliseconds() {
        // Read as seconds, O1 would be ~56,000 years ahead and stale even with a day's tolerance.
        let day = Tolerance(std::time::Duration::from_secs(86_400));
        let outcome = verify(
            Some(O1_HEADER),
            O1_BODY.as_bytes(),
            &[o1_key()],
            at(NOW),
            day,
        );
        assert_eq!(outcome, Ok(()));
    }

    #[test]
    fn accepts_o1_five_minutes_later_but_not_one_second_more() {
        assert_eq!(verify_o1_at(Some(O1_HEADER), NOW + 300), Ok(()));
        assert_eq!(
            verify_o1_at(Some(O1_HEADER), NOW + 301),
            Err(VerifyError::Stale)
        );
    }

    #[test]
    fn rejects_a_timestamp_more_than_five_minutes_in_the_future() {
        assert_eq!(
            verify_o1_at(Some(O1_HEADER), NOW - 301),
            Err(VerifyError::Stale)
        );
    }

    #[test]
    fn applies_the_window_to_the_millisecond() {
        let key = o1_key();
        let edge = sign(&key, NOW_MS - 300_000, O1_BODY.as_bytes());
        let beyond = sign(&key, NOW_MS - 300_001, O1_BODY.as_bytes());
        assert_eq!(verify_o1(&edge), Ok(()));
        assert_eq!(verify_o1(&beyond), Err(VerifyError::Stale));
    }

    #[test]
    fn accepts_a_timestamp_in_seconds_too() {
        assert_eq!(verify_o1(O1_SECONDS_HEADER), Ok(()));
        assert_eq!(
            verify_o1_at(Some(O1_SECONDS_HEADER), NOW + 301),
            Err(VerifyError::Stale)
        );
    }

    #[test]
    fn reports_a_forged_old_request_as_mismatch_not_stale() {
        let forged = O1_UNDECODED_KEY_HEADER;
        assert_eq!(
            verify_o1_at(Some(forged), NOW + 301),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn rejects_a_truncated_signature() {
        let truncated = &O1_HEADER[..O1_HEADER.len() - 10];
        assert_eq!(verify_o1(truncated), Err(VerifyError::Mismatch));
        assert_eq!(
            verify_o1("hmac;1;1767225600000;"),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn rejects_a_body_with_one_flipped_byte() {
        let mut body = O1_BODY.as_bytes().to_vec();
        body[0] ^= 0x01;
        let outcome = verify(
            Some(O1_HEADER),
            &body,
            &[o1_key()],
            at(NOW),
            Tolerance::DEFAULT,
        );
        assert_eq!(outcome, Err(VerifyError::Mismatch));
    }

    #[test]
    fn reports_a_header_with_no_known_version_as_malformed() {
        let version_two = O1_HEADER.replacen("hmac;1;", "hmac;2;", 1);
        let other_scheme = O1_HEADER.replacen("hmac;1;", "ed25519;1;", 1);
        for header in [version_two.as_str(), &other_scheme, "garbage", ",,"] {
            assert_eq!(
                verify_o1(header),
                Err(VerifyError::Malformed(HEADER)),
                "{header}"
            );
        }
    }

    #[test]
    fn reports_a_malformed_hmac_group() {
        let extra_field = format!("{O1_HEADER};more");
        for header in [
            "hmac;1;1767225600000",
            "hmac;1",
            &extra_field,
            "hmac;1;hello;GJM3A2OPtqXj9yAL8joidGoQ9cseWEo1fd4b9uLG3BU=",
            "hmac;1;;GJM3A2OPtqXj9yAL8joidGoQ9cseWEo1fd4b9uLG3BU=",
            "hmac;1;99999999999999999999;GJM3A2OPtqXj9yAL8joidGoQ9cseWEo1fd4b9uLG3BU=",
        ] {
            assert_eq!(
                verify_o1(header),
                Err(VerifyError::Malformed(HEADER)),
                "{header}"
            );
        }
    }

    #[test]
    fn reports_a_missing_or_empty_header() {
        for header in [None, Some(""), Some(" ")] {
            assert_eq!(
                verify_o1_at(header, NOW),
                Err(VerifyError::MissingHeader(HEADER))
            );
        }
    }

    #[test]
    fn accepts_when_any_group_matches() {
        let list = format!("hmac;2;1767225600000;AAAA, {O1_UNDECODED_KEY_HEADER},{O1_HEADER}");
        assert_eq!(verify_o1(&list), Ok(()));
    }

    #[test]
    fn accepts_a_fresh_group_after_a_stale_authentic_one() {
        let stale = sign(&o1_key(), NOW_MS - 3_600_000, O1_BODY.as_bytes());
        assert_eq!(verify_o1(&format!("{stale},{O1_HEADER}")), Ok(()));
        assert_eq!(verify_o1(&stale), Err(VerifyError::Stale));
    }

    #[test]
    fn refuses_more_than_eight_groups() {
        let nine = [O1_HEADER; 9].join(",");
        assert_eq!(verify_o1(&nine), Err(VerifyError::Malformed(HEADER)));
        assert_eq!(verify_o1(&[O1_HEADER; 8].join(",")), Ok(()));
    }

    #[test]
    fn accepts_a_second_rotated_key() {
        let old = OpenPhoneKey::from_base64("b2xkLWtleQ==").expect("valid key");
        let keys = [old, o1_key()];
        let outcome = verify(
            Some(O1_HEADER),
            O1_BODY.as_bytes(),
            &keys,
            at(NOW),
            Tolerance::DEFAULT,
        );
        assert_eq!(outcome, Ok(()));
    }

    #[test]
    fn survives_the_largest_timestamp() {
        let far = sign(&o1_key(), i64::MAX, O1_BODY.as_bytes());
        assert_eq!(verify_o1(&far), Err(VerifyError::Stale));
    }

    #[test]
    fn survives_non_ascii_garbage() {
        for header in ["hmac;1;١٢٣;é", "é;ü;ß", "hmac;1;1767225600000;😀😀😀😀"] {
            assert!(verify_o1(header).is_err(), "{header}");
        }
    }

    #[test]
    fn verifies_what_it_signs() {
        let key = OpenPhoneKey::from_base64("cm91bmQtdHJpcA").expect("unpadded base64 is accepted");
        let header = sign(&key, NOW_MS, b"{}");
        let outcome = verify(Some(&header), b"{}", &[key], at(NOW), Tolerance::DEFAULT);
        assert_eq!(outcome, Ok(()));
    }

    #[test]
    fn refuses_an_empty_or_non_base64_key() {
        assert_eq!(OpenPhoneKey::from_base64("").err(), Some(KeyError::Empty));
        let outcome = OpenPhoneKey::from_base64("not base64!").err();
        assert_eq!(outcome, Some(KeyError::InvalidBase64));
    }

    #[test]
    fn never_prints_the_key() {
        assert_eq!(format!("{:?}", o1_key()), "OpenPhoneKey([redacted])");
    }
}
