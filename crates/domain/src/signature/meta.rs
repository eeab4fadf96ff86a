//! Meta WhatsApp Cloud API: `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the raw body
//! keyed with the app secret's own bytes (providers.md section 1.2).
//!
//! There is no timestamp, so the signature gives no replay protection: dedup is the only
//! defence. Meta switches secrets at once on rotation, so several secrets can be configured, each
//! with an optional expiry that ends the overlap.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{decode_hex_tag, required, HmacKey, KeyError, VerifyError};

/// The header that carries the signature.
pub const HEADER: &str = "X-Hub-Signature-256";

/// The prefix of the header value.
const PREFIX: &str = "sha256=";

/// A Meta app secret, with an optional end of validity for rotation.
#[derive(Clone)]
pub struct MetaSecret {
    key: HmacKey,
    expires_at: Option<DateTime<Utc>>,
}

impl MetaSecret {
    /// A secret from the app secret text; its UTF-8 bytes are the key as they are (not
    /// hex-decoded). It stops verifying at `expires_at`, if given. Empty text is refused.
    pub fn new(secret: &str, expires_at: Option<DateTime<Utc>>) -> Result<Self, KeyError> {
        Ok(Self {
            key: HmacKey::new(secret.as_bytes())?,
            expires_at,
        })
    }

    /// Whether the secret may still verify requests at `now`.
    fn is_active(&self, now: DateTime<Utc>) -> bool {
        // Not `Option::is_none_or`: it needs Rust 1.82 and the workspace supports 1.80.
        match self.expires_at {
            Some(expires_at) => now < expires_at,
            None => true,
        }
    }
}

impl fmt::Debug for MetaSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetaSecret")
            .field("key", &self.key)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The `X-Hub-Signature-256` value for `body`: `sha256=` and 64 lowercase hex digits.
pub fn sign(secret: &MetaSecret, body: &[u8]) -> String {
    let tag = secret.key.sign(&[body]);
    format!("{PREFIX}{}", hex::encode(tag.as_ref()))
}

/// Checks an `X-Hub-Signature-256` value against the raw `body`.
///
/// Accepts when any secret not yet expired at `now` matches. The hex may be upper or lower case.
/// Errors: absent or empty header, `MissingHeader`; another prefix (such as `sha1=`) or not 64
/// hex digits, `Malformed`; no active secret matches, `Mismatch`.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[MetaSecret],
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let value = required(header.map(str::trim), HEADER)?;
    let hex = value
        .strip_prefix(PREFIX)
        .ok_or(VerifyError::Malformed(HEADER))?;
    let tag = decode_hex_tag(hex, HEADER)?;
    let matched = secrets
        .iter()
        .filter(|secret| secret.is_active(now))
        .any(|secret| secret.key.verifies(body, &tag));
    if matched {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::signature::tests::{at, sha256_hex};

    /// Vector M1 (providers.md 4.1): pure ASCII, with literal `\u00e9` and `\/` escapes.
    const M1_BODY: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Jos\u00e9"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.INLETTEST0001","timestamp":"1767225600","type":"text","text":{"body":"caf\u00e9 \/ 50% @ 10:00"}}]},"field":"messages"}]}]}"#;
    const M1_SECRET: &str = "6f1c3e2a9b8d4f7e0a1b2c3d4e5f6a7b";
    const M1_HEADER: &str =
        "sha256=e3f4916c02f27ac90de8cde16d9b9a3fd666daa9a995c6c304ed3cd84d46a70c";
    /// 2026-01-01T00:00:00Z, the vector's message time.
    const NOW: i64 = 1_767_225_600;

    fn m1_secret() -> MetaSecret {
        MetaSecret::new(M1_SECRET, None).expect("non-empty secret")
    }

    fn verify_m1(header: Option<&str>, body: &[u8]) -> Result<(), VerifyError> {
        verify(header, body, &[m1_secret()], at(NOW))
    }

    #[test]
    fn the_m1_body_is_the_reference_copy() {
        assert_eq!(M1_BODY.len(), 446);
        assert_eq!(
            sha256_hex(M1_BODY.as_bytes()),
            "a535de269812fab0924dff094993b68615a768947239331a0a96213994540222"
        );
    }

    #[test]
    fn signs_m1_as_the_reference_does() {
        assert_eq!(sign(&m1_secret(), M1_BODY.as_bytes()), M1_HEADER);
    }

    #[test]
    fn accepts_m1() {
        assert_eq!(verify_m1(Some(M1_HEADER), M1_BODY.as_bytes()), Ok(()));
    }

    #[test]
    fn accepts_an_uppercase_hex_signature() {
        let upper = format!("sha256={}", M1_HEADER[7..].to_uppercase());
        assert_eq!(verify_m1(Some(&upper), M1_BODY.as_bytes()), Ok(()));
    }

    #[test]
    fn rejects_the_hmacs_of_reserialised_bodies() {
        for reserialised in [
            "sha256=33e08fc86e879bf704c72d5c79616e33c3cfc4bc1566208ada8812e658fe6bd7",
            "sha256=d3888abda58e038cce6674c21df701aead7a6d699b577110e4b6e3ac9d0da748",
        ] {
            let outcome = verify_m1(Some(reserialised), M1_BODY.as_bytes());
            assert_eq!(outcome, Err(VerifyError::Mismatch));
        }
    }

    #[test]
    fn rejects_m2_whose_body_has_raw_utf8_instead_of_escapes() {
        let m2 = M1_BODY.replace(r"\u00e9", "é");
        assert_eq!(m2.len(), 438);
        assert_eq!(
            verify_m1(Some(M1_HEADER), m2.as_bytes()),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn rejects_a_body_with_one_flipped_byte() {
        let mut body = M1_BODY.as_bytes().to_vec();
        body[100] ^= 0x01;
        assert_eq!(
            verify_m1(Some(M1_HEADER), &body),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn rejects_a_body_signed_with_another_secret() {
        let other = MetaSecret::new("another-secret", None).expect("non-empty secret");
        let header = sign(&other, M1_BODY.as_bytes());
        assert_eq!(
            verify_m1(Some(&header), M1_BODY.as_bytes()),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn reports_a_missing_or_empty_header() {
        for header in [None, Some(""), Some("  ")] {
            let outcome = verify_m1(header, M1_BODY.as_bytes());
            assert_eq!(outcome, Err(VerifyError::MissingHeader(HEADER)));
        }
    }

    #[test]
    fn reports_a_wrong_prefix_as_malformed() {
        let sha1 = M1_HEADER.replace("sha256=", "sha1=");
        let bare = M1_HEADER.trim_start_matches("sha256=");
        for header in [sha1.as_str(), bare, "SHA256=00"] {
            let outcome = verify_m1(Some(header), M1_BODY.as_bytes());
            assert_eq!(outcome, Err(VerifyError::Malformed(HEADER)), "{header}");
        }
    }

    #[test]
    fn reports_bad_hex_or_a_wrong_length_as_malformed() {
        let short = &M1_HEADER[..M1_HEADER.len() - 2];
        let long = format!("{M1_HEADER}00");
        let not_hex = format!("sha256={}", "g".repeat(64));
        let non_ascii = format!("sha256={}é", "a".repeat(62));
        for header in [short, &long, &not_hex, &non_ascii, "sha256="] {
            let outcome = verify_m1(Some(header), M1_BODY.as_bytes());
            assert_eq!(outcome, Err(VerifyError::Malformed(HEADER)), "{header}");
        }
    }

    #[test]
    fn accepts_a_second_rotated_secret() {
        let old = MetaSecret::new("the-old-app-secret", None).expect("non-empty secret");
        let secrets = [old, m1_secret()];
        let outcome = verify(Some(M1_HEADER), M1_BODY.as_bytes(), &secrets, at(NOW));
        assert_eq!(outcome, Ok(()));
    }

    #[test]
    fn rejects_a_matching_secret_once_it_has_expired() {
        let expired = MetaSecret::new(M1_SECRET, Some(at(NOW))).expect("non-empty secret");
        let outcome = verify(Some(M1_HEADER), M1_BODY.as_bytes(), &[expired], at(NOW));
        assert_eq!(outcome, Err(VerifyError::Mismatch));
    }

    #[test]
    fn accepts_a_matching_secret_before_it_expires() {
        let expiry = Some(at(NOW) + Duration::seconds(1));
        let expiring = MetaSecret::new(M1_SECRET, expiry).expect("non-empty secret");
        let outcome = verify(Some(M1_HEADER), M1_BODY.as_bytes(), &[expiring], at(NOW));
        assert_eq!(outcome, Ok(()));
    }

    #[test]
    fn rejects_everything_when_no_secret_is_configured() {
        let outcome = verify(Some(M1_HEADER), M1_BODY.as_bytes(), &[], at(NOW));
        assert_eq!(outcome, Err(VerifyError::Mismatch));
    }

    #[test]
    fn verifies_what_it_signs() {
        let secret = MetaSecret::new("round-trip", None).expect("non-empty secret");
        let body = "{\"text\":\"olá 👋\"}".as_bytes();
        let header = sign(&secret, body);
        assert_eq!(verify(Some(&header), body, &[secret], at(NOW)), Ok(()));
    }

    #[test]
    fn refuses_an_empty_secret() {
        assert_eq!(MetaSecret::new("", None).err(), Some(KeyError::Empty));
    }

    #[test]
    fn never_prints_the_secret() {
        let printed = format!("{:?}", m1_secret());
        assert!(!printed.contains(M1_SECRET));
        assert!(printed.contains("[redacted]"));
    }
}
