//! Standard Webhooks (standardwebhooks.com), used by Quo's 2026-03-30 webhooks and by Svix
//! (providers.md sections 2.3 and 3).
//!
//! Three headers: `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a
//! space-separated list of `<version>,<base64>` entries. The signed content is
//! `<id>.<timestamp>.<raw body>`; the key is a `whsec_` secret with the prefix stripped and the
//! rest base64-decoded. Svix may name the headers `svix-*`; the caller passes whichever is present.

use std::fmt;

use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom, SystemRandom};

use super::{
    check_window, decode_base64_tag, encode_base64, parse_timestamp, required, HmacKey, KeyError,
    TimeUnit, Tolerance, VerifyError, MAX_CANDIDATES,
};

/// The header with the message id (the same on every retry).
pub const ID_HEADER: &str = "webhook-id";
/// The header with the Unix time, in seconds, of this attempt.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The header with the space-separated signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// The prefix a Standard Webhooks secret is shown with; it is not part of the key.
const SECRET_PREFIX: &str = "whsec_";
/// The symmetric (HMAC-SHA256) signature version, the only one this module checks.
const VERSION: &str = "v1";
/// Random bytes in a generated secret (the spec allows 24 to 64).
const GENERATED_SECRET_LEN: usize = 32;

/// A Standard Webhooks secret (the decoded bytes after `whsec_`).
#[derive(Clone)]
pub struct StandardSecret(HmacKey);

impl StandardSecret {
    /// A secret from `whsec_<base64>` or the bare base64, padded or not. Empty (including a bare
    /// `whsec_`) or invalid base64 is refused.
    pub fn parse(secret: &str) -> Result<Self, KeyError> {
        let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
        HmacKey::from_base64(encoded).map(Self)
    }
}

impl fmt::Debug for StandardSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StandardSecret").field(&self.0).finish()
    }
}

/// The three header values of a request, each `None` when absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct StandardHeaders<'a> {
    /// `webhook-id` (or `svix-id`).
    pub id: Option<&'a str>,
    /// `webhook-timestamp` (or `svix-timestamp`).
    pub timestamp: Option<&'a str>,
    /// `webhook-signature` (or `svix-signature`).
    pub signature: Option<&'a str>,
}

/// A new secret for an endpoint: `whsec_` and the base64 of 32 random bytes.
///
/// # Panics
///
/// Only if the operating system's random source fails (on Linux, `getrandom(2)` missing):
/// there is no safe fallback for a secret, and ring itself cannot work in that case.
pub fn generate_secret() -> String {
    let mut bytes = [0; GENERATED_SECRET_LEN];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random source failed");
    format!("{SECRET_PREFIX}{}", encode_base64(&bytes))
}

/// The `webhook-signature` value for `body`: `v1,<base64>` over `<msg_id>.<timestamp>.<body>`,
/// `timestamp` being Unix seconds.
pub fn sign(secret: &StandardSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    let tag = secret
        .0
        .sign(&[msg_id.as_bytes(), b".", timestamp.as_bytes(), b".", body]);
    format!("{VERSION},{}", encode_base64(tag.as_ref()))
}

/// Checks the Standard Webhooks headers against the raw `body`.
///
/// Accepts when any `v1` entry matches any secret and the timestamp is within `tolerance` of
/// `now` (both directions; 300 s passes and 301 s fails with the default). Other versions (`v1a`,
/// `v2`) and entries that are not valid base64 simply match nothing.
///
/// Errors, in the order they are checked: a header absent or empty, `MissingHeader` naming it
/// (`webhook-*` even for Svix); a timestamp that is not plain digits, or more than eight `v1`
/// entries, `Malformed`; no entry matches, `Mismatch`; authentic but outside the window,
/// `Stale`. A forged request with an old timestamp is thus `Mismatch`, not `Stale`.
pub fn verify(
    headers: &StandardHeaders<'_>,
    body: &[u8],
    secrets: &[StandardSecret],
    now: DateTime<Utc>,
    tolerance: Tolerance,
) -> Result<(), VerifyError> {
    let id = required(headers.id, ID_HEADER)?;
    let timestamp_text = required(headers.timestamp, TIMESTAMP_HEADER)?;
    let signatures = required(headers.signature, SIGNATURE_HEADER)?;
    let timestamp = parse_timestamp(timestamp_text, TIMESTAMP_HEADER)?;
    let tags = v1_tags(signatures)?;
    // ring compares tags only over one contiguous message, so it is built once for all entries.
    // The header texts are used as sent, because they are what the sender signed.
    let message = [id.as_bytes(), b".", timestamp_text.as_bytes(), b".", body].concat();
    let matched = tags.iter().flatten().any(|tag| {
        secrets
            .iter()
            .any(|secret| secret.0.verifies(&message, tag))
    });
    if !matched {
        return Err(VerifyError::Mismatch);
    }
    check_window(timestamp, TimeUnit::Seconds, now, tolerance)
}

/// The decoded tags of the `v1` entries (`None` for an undecodable one), at most eight.
fn v1_tags(signatures: &str) -> Result<Vec<Option<Vec<u8>>>, VerifyError> {
    let mut tags = Vec::new();
    for entry in signatures.split_ascii_whitespace() {
        let Some((VERSION, encoded)) = entry.split_once(',') else {
            continue;
        };
        if tags.len() == MAX_CANDIDATES {
            return Err(VerifyError::Malformed(SIGNATURE_HEADER));
        }
        tags.push(decode_base64_tag(encoded));
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::tests::{at, sha256_hex};

    /// An official test vector (providers.md 3.1) or one of this project's (4.3, 4.4).
    struct Vector {
        secret: &'static str,
        id: &'static str,
        timestamp: i64,
        body: &'static str,
        signature: &'static str,
    }

    /// V1: the Go/C#/PHP/Java/Python `sign` tests (note the space after the colon).
    const V1: Vector = Vector {
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp: 1_614_265_330,
        body: r#"{"test": 2432232314}"#,
        signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    };

    /// V2: the Rust library's `test_sign` (also in Svix's tests).
    const V2: Vector = Vector {
        secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        timestamp: 1_649_367_553,
        body: r#"{"email":"test@example.com","username":"test_user"}"#,
        signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    };

    /// S1: this project's vector; `S1_OLD_SECRET` signs the same message for the rotation list.
    const S1: Vector = Vector {
        secret: "whsec_aW5sZXQtc3RhbmRhcmQtd2ViaG9va3Mta2V5LTAwMDE=",
        id: "msg_inlet_test_0001",
        timestamp: 1_767_225_600,
        body: r#"{"type":"message.received","timestamp":"2026-01-01T00:00:00Z","data":{"id":"EV123","text":"hi"}}"#,
        signature: "v1,JQneexpJ/Mg806HnGFh0NZeG5DAgFa1g6GP3S0JFt2I=",
    };
    const S1_OLD_SECRET: &str = "whsec_aW5sZXQtcm90YXRlZC1vdXQtb2xkLWtleS0wMDAwMDI=";
    const S1_ROTATION: &str = "v1,9JaGCAc8lBTgmCgkFQlVAyT4iHlkxybYOZd8sULogEE= v1,JQneexpJ/Mg806HnGFh0NZeG5DAgFa1g6GP3S0JFt2I=";

    /// Q1: Quo 2026-03-30, a Quo-shaped body.
    const Q1: Vector = Vector {
        secret: "whsec_aW5sZXQtcXVvLTIwMjYtMDMtMzAtdGVzdC1rZXktMDE=",
        id: "msg_2abc",
        timestamp: 1_767_225_600,
        body: r#"{"id":"EV123","apiVersion":"2026-03-30","createdAt":"2026-01-01T00:00:00.000Z","type":"message.received","data":{"resource":{"id":"AC123","text":"STOP"},"context":{"orgId":"OR123"},"links":{"quo":null}}}"#,
        signature: "v1,4OZ5VEkuEMDvXST8/wLpIAlEcm0kkYgyH0vRzRanwZo=",
    };

    /// The libraries' wrong signature, used as a decoy.
    const WRONG: &str = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";

    fn secret(text: &str) -> StandardSecret {
        StandardSecret::parse(text).expect("valid secret")
    }

    impl Vector {
        /// Verifies the vector's message with `signature` at `now`.
        fn verify_at(&self, signature: &str, now: i64) -> Result<(), VerifyError> {
            let timestamp = self.timestamp.to_string();
            let headers = StandardHeaders {
                id: Some(self.id),
                timestamp: Some(&timestamp),
                signature: Some(signature),
            };
            let secrets = [secret(self.secret)];
            verify(
                &headers,
                self.body.as_bytes(),
                &secrets,
                at(now),
                Tolerance::DEFAULT,
            )
        }

        /// Verifies the vector's message with `signature` at the vector's own time.
        fn verify(&self, signature: &str) -> Result<(), VerifyError> {
            self.verify_at(signature, self.timestamp)
        }
    }

    #[test]
    fn signs_every_vector_as_the_reference_does() {
        for v in [V1, V2, S1, Q1] {
            let signed = sign(&secret(v.secret), v.id, v.timestamp, v.body.as_bytes());
            assert_eq!(signed, v.signature, "{}", v.id);
        }
    }

    #[test]
    fn accepts_every_vector_at_its_own_time() {
        for v in [V1, V2, S1, Q1] {
            assert_eq!(v.verify(v.signature), Ok(()), "{}", v.id);
        }
    }

    #[test]
    fn the_s1_and_q1_bodies_are_the_reference_copies() {
        assert_eq!(S1.body.len(), 96);
        assert_eq!(
            sha256_hex(S1.body.as_bytes()),
            "1bcf889687997bd61630f9efa7545d5dd2a238335fe82963b5b66f256c76b7e5"
        );
        assert_eq!(Q1.body.len(), 203);
        assert_eq!(
            sha256_hex(Q1.body.as_bytes()),
            "d8e55397b42bdd0b38a2dbcbfca05e8c0c78963a970b36c944f98aae524ba811"
        );
    }

    #[test]
    fn rejects_a_wrong_signature() {
        assert_eq!(V1.verify(WRONG), Err(VerifyError::Mismatch));
        assert_eq!(V2.verify(WRONG), Err(VerifyError::Mismatch));
    }

    #[test]
    fn rejects_a_signature_whose_last_character_changed() {
        let changed = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";
        assert_eq!(V1.verify(changed), Err(VerifyError::Mismatch));
    }

    #[test]
    fn rejects_a_bare_version_and_a_partial_signature() {
        for v in [V1, V2] {
            assert_eq!(v.verify("v1,"), Err(VerifyError::Mismatch));
            assert_eq!(v.verify(&v.signature[..8]), Err(VerifyError::Mismatch));
        }
    }

    #[test]
    fn accepts_a_list_with_decoys_around_the_valid_entry() {
        let decoy_v2 = WRONG.replacen("v1,", "v2,", 1);
        let list = format!("{WRONG} {decoy_v2} {} {WRONG}", V1.signature);
        assert_eq!(V1.verify(&list), Ok(()));
    }

    #[test]
    fn rejects_a_list_of_decoys_only() {
        let decoys = "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ= \
                      v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q= \
                      v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE=";
        assert_eq!(V2.verify(decoys), Err(VerifyError::Mismatch));
        assert_eq!(V2.verify(&format!("{decoys} {}", V2.signature)), Ok(()));
    }

    #[test]
    fn skips_versions_other_than_v1() {
        let tag = V1.signature.trim_start_matches("v1,");
        let others = format!("v1a,{tag} v2,{tag} {tag} ,{tag}");
        assert_eq!(V1.verify(&others), Err(VerifyError::Mismatch));
    }

    #[test]
    fn accepts_five_minutes_of_skew_either_way_but_not_301_seconds() {
        for v in [V1, V2] {
            assert_eq!(v.verify_at(v.signature, v.timestamp + 300), Ok(()));
            assert_eq!(v.verify_at(v.signature, v.timestamp - 300), Ok(()));
            assert_eq!(
                v.verify_at(v.signature, v.timestamp + 301),
                Err(VerifyError::Stale)
            );
            assert_eq!(
                v.verify_at(v.signature, v.timestamp - 301),
                Err(VerifyError::Stale)
            );
        }
    }

    #[test]
    fn rejects_requests_signed_301_seconds_before_or_after_now() {
        for offset in [-301, 301] {
            let timestamp = V1.timestamp + offset;
            let signature = sign(&secret(V1.secret), V1.id, timestamp, V1.body.as_bytes());
            let moved = Vector {
                timestamp,
                signature: "",
                ..V1
            };
            let outcome = moved.verify_at(&signature, V1.timestamp);
            assert_eq!(outcome, Err(VerifyError::Stale), "{offset}");
        }
    }

    #[test]
    fn reports_a_forged_old_request_as_mismatch_not_stale() {
        assert_eq!(
            V1.verify_at(WRONG, V1.timestamp + 3600),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn reports_a_non_integer_timestamp_as_malformed() {
        for timestamp in [
            "hello",
            "1614265330.0",
            "-1614265330",
            "99999999999999999999",
        ] {
            let headers = StandardHeaders {
                id: Some(V1.id),
                timestamp: Some(timestamp),
                signature: Some(V1.signature),
            };
            let secrets = [secret(V1.secret)];
            let now = at(V1.timestamp);
            let outcome = verify(
                &headers,
                V1.body.as_bytes(),
                &secrets,
                now,
                Tolerance::DEFAULT,
            );
            assert_eq!(
                outcome,
                Err(VerifyError::Malformed(TIMESTAMP_HEADER)),
                "{timestamp}"
            );
        }
    }

    #[test]
    fn reports_each_missing_header_by_name() {
        let timestamp = V1.timestamp.to_string();
        let full = StandardHeaders {
            id: Some(V1.id),
            timestamp: Some(&timestamp),
            signature: Some(V1.signature),
        };
        let cases = [
            (StandardHeaders { id: None, ..full }, ID_HEADER),
            (
                StandardHeaders {
                    timestamp: None,
                    ..full
                },
                TIMESTAMP_HEADER,
            ),
            (
                StandardHeaders {
                    signature: None,
                    ..full
                },
                SIGNATURE_HEADER,
            ),
            (
                StandardHeaders {
                    id: Some(""),
                    ..full
                },
                ID_HEADER,
            ),
            (
                StandardHeaders {
                    signature: Some(""),
                    ..full
                },
                SIGNATURE_HEADER,
            ),
        ];
        let secrets = [secret(V1.secret)];
        for (headers, name) in cases {
            let now = at(V1.timestamp);
            let outcome = verify(
                &headers,
                V1.body.as_bytes(),
                &secrets,
                now,
                Tolerance::DEFAULT,
            );
            assert_eq!(outcome, Err(VerifyError::MissingHeader(name)));
        }
    }

    #[test]
    fn accepts_the_rotation_list_under_either_secret() {
        let old = Vector {
            secret: S1_OLD_SECRET,
            ..S1
        };
        assert_eq!(S1.verify(S1_ROTATION), Ok(()));
        assert_eq!(old.verify(S1_ROTATION), Ok(()));
        assert_eq!(old.verify(S1.signature), Err(VerifyError::Mismatch));
    }

    #[test]
    fn accepts_a_signature_made_by_any_configured_secret() {
        let timestamp = S1.timestamp.to_string();
        let headers = StandardHeaders {
            id: Some(S1.id),
            timestamp: Some(&timestamp),
            signature: Some(S1.signature),
        };
        let secrets = [secret(S1_OLD_SECRET), secret(S1.secret)];
        let outcome = verify(
            &headers,
            S1.body.as_bytes(),
            &secrets,
            at(S1.timestamp),
            Tolerance::DEFAULT,
        );
        assert_eq!(outcome, Ok(()));
    }

    #[test]
    fn rejects_a_body_with_one_flipped_byte() {
        let mut body = Q1.body.as_bytes().to_vec();
        body[10] ^= 0x20;
        let timestamp = Q1.timestamp.to_string();
        let headers = StandardHeaders {
            id: Some(Q1.id),
            timestamp: Some(&timestamp),
            signature: Some(Q1.signature),
        };
        let secrets = [secret(Q1.secret)];
        let outcome = verify(
            &headers,
            &body,
            &secrets,
            at(Q1.timestamp),
            Tolerance::DEFAULT,
        );
        assert_eq!(outcome, Err(VerifyError::Mismatch));
    }

    #[test]
    fn refuses_more_than_eight_v1_entries() {
        let nine = [V1.signature; 9].join(" ");
        assert_eq!(
            V1.verify(&nine),
            Err(VerifyError::Malformed(SIGNATURE_HEADER))
        );
        assert_eq!(V1.verify(&[V1.signature; 8].join(" ")), Ok(()));
    }

    #[test]
    fn survives_non_ascii_garbage_and_the_largest_timestamp() {
        for signature in [
            "v1,ééé",
            "é,v1",
            "v1,😀😀😀😀😀😀😀😀😀😀😀",
            "\u{a0}v1,\u{a0}",
        ] {
            assert_eq!(
                V1.verify(signature),
                Err(VerifyError::Mismatch),
                "{signature}"
            );
        }
        let far = Vector {
            timestamp: i64::MAX,
            ..V1
        };
        let signature = sign(&secret(V1.secret), V1.id, i64::MAX, V1.body.as_bytes());
        assert_eq!(
            far.verify_at(&signature, V1.timestamp),
            Err(VerifyError::Stale)
        );
    }

    #[test]
    fn parses_secrets_with_or_without_prefix_and_padding() {
        let bare = S1.secret.trim_start_matches("whsec_");
        let unpadded = bare.trim_end_matches('=');
        let s1 = Vector { secret: bare, ..S1 };
        assert_eq!(s1.verify(S1.signature), Ok(()));
        let s1 = Vector {
            secret: unpadded,
            ..S1
        };
        assert_eq!(s1.verify(S1.signature), Ok(()));
    }

    #[test]
    fn refuses_empty_and_non_base64_secrets() {
        assert_eq!(StandardSecret::parse("").err(), Some(KeyError::Empty));
        assert_eq!(StandardSecret::parse("whsec_").err(), Some(KeyError::Empty));
        let outcome = StandardSecret::parse("v1,whsec_abc").err();
        assert_eq!(outcome, Some(KeyError::InvalidBase64));
    }

    #[test]
    fn generates_distinct_32_byte_secrets_that_verify_what_they_sign() {
        let first = generate_secret();
        assert!(first.starts_with("whsec_"));
        assert_eq!(first.len(), "whsec_".len() + 44);
        assert_ne!(first, generate_secret());
        let key = secret(&first);
        let signature = sign(&key, S1.id, S1.timestamp, S1.body.as_bytes());
        let timestamp = S1.timestamp.to_string();
        let headers = StandardHeaders {
            id: Some(S1.id),
            timestamp: Some(&timestamp),
            signature: Some(&signature),
        };
        let now = at(S1.timestamp);
        let outcome = verify(
            &headers,
            S1.body.as_bytes(),
            &[key],
            now,
            Tolerance::DEFAULT,
        );
        assert_eq!(outcome, Ok(()));
    }

    #[test]
    fn never_prints_the_secret() {
        assert_eq!(
            format!("{:?}", secret(S1.secret)),
            "StandardSecret([redacted])"
        );
    }
}
