//! The project's WhatsApp bridge: `X-Webhook-Signature: <hex>`, an HMAC-SHA256 of the raw body
//! keyed with the shared secret's UTF-8 bytes (providers.md section 4.5).
//!
//! The scheme has no external spec. Like Meta's it has no timestamp, so no replay protection:
//! dedup is the only defence.

use std::fmt;

use super::{decode_hex_tag, required, HmacKey, KeyError, VerifyError};

/// The header that carries the signature.
pub const HEADER: &str = "X-Webhook-Signature";

/// An optional prefix, accepted because Meta-style senders add it out of habit.
const PREFIX: &str = "sha256=";

/// The bridge's shared secret.
#[derive(Clone)]
pub struct BridgeSecret(HmacKey);

impl BridgeSecret {
    /// A secret from its text; the UTF-8 bytes are the key as they are. Empty text is refused.
    pub fn new(secret: &str) -> Result<Self, KeyError> {
        HmacKey::new(secret.as_bytes()).map(Self)
    }
}

impl fmt::Debug for BridgeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BridgeSecret").field(&self.0).finish()
    }
}

/// The `X-Webhook-Signature` value for `body`: 64 lowercase hex digits, no prefix.
pub fn sign(secret: &BridgeSecret, body: &[u8]) -> String {
    hex::encode(secret.0.sign(&[body]).as_ref())
}

/// Checks an `X-Webhook-Signature` value (`<hex>` or `sha256=<hex>`, either case) against the
/// raw `body`; accepts when any secret matches.
///
/// Errors: absent or empty header, `MissingHeader`; not 64 hex digits, `Malformed`; no secret
/// matches, `Mismatch`.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[BridgeSecret],
) -> Result<(), VerifyError> {
    let value = required(header.map(str::trim), HEADER)?;
    let hex = value.strip_prefix(PREFIX).unwrap_or(value);
    let tag = decode_hex_tag(hex, HEADER)?;
    if secrets.iter().any(|secret| secret.0.verifies(body, &tag)) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::tests::sha256_hex;

    /// Vector B1 (providers.md 4.5).
    const B1_SECRET: &str = "inlet-bridge-secret";
    const B1_BODY: &str = r#"{"event_type":"message.received","timestamp":"2026-01-01T00:00:00Z","data":{"message_id":"3EB0B430B6F8F1D0E053","from":"15550001111","text":"hello"}}"#;
    const B1_HEADER: &str = "da6c6f43142bbecb8ce810146dc966a974600acf77c518f0d0043a5dd1e1f67b";

    fn b1_secret() -> BridgeSecret {
        BridgeSecret::new(B1_SECRET).expect("non-empty secret")
    }

    fn verify_b1(header: Option<&str>) -> Result<(), VerifyError> {
        verify(header, B1_BODY.as_bytes(), &[b1_secret()])
    }

    #[test]
    fn the_b1_body_is_the_reference_copy() {
        assert_eq!(B1_BODY.len(), 149);
        assert_eq!(
            sha256_hex(B1_BODY.as_bytes()),
            "e78559d7dd296c7a9b745c12b527f88e7a47a9d9ab42a9ccbf547fb027338bad"
        );
    }

    #[test]
    fn signs_b1_as_the_reference_does() {
        assert_eq!(sign(&b1_secret(), B1_BODY.as_bytes()), B1_HEADER);
    }

    #[test]
    fn accepts_b1_as_plain_hex() {
        assert_eq!(verify_b1(Some(B1_HEADER)), Ok(()));
    }

    #[test]
    fn accepts_b1_with_the_sha256_prefix() {
        assert_eq!(verify_b1(Some(&format!("sha256={B1_HEADER}"))), Ok(()));
    }

    #[test]
    fn accepts_uppercase_hex() {
        assert_eq!(verify_b1(Some(&B1_HEADER.to_uppercase())), Ok(()));
    }

    #[test]
    fn rejects_a_body_signed_with_another_secret() {
        let other = BridgeSecret::new("another-secret").expect("non-empty secret");
        let header = sign(&other, B1_BODY.as_bytes());
        assert_eq!(verify_b1(Some(&header)), Err(VerifyError::Mismatch));
    }

    #[test]
    fn rejects_a_body_with_one_flipped_byte() {
        let mut body = B1_BODY.as_bytes().to_vec();
        body[5] ^= 0x01;
        let outcome = verify(Some(B1_HEADER), &body, &[b1_secret()]);
        assert_eq!(outcome, Err(VerifyError::Mismatch));
    }

    #[test]
    fn reports_a_missing_or_empty_header() {
        for header in [None, Some(""), Some(" ")] {
            assert_eq!(verify_b1(header), Err(VerifyError::MissingHeader(HEADER)));
        }
    }

    #[test]
    fn reports_other_prefixes_and_bad_hex_as_malformed() {
        let sha1 = format!("sha1={B1_HEADER}");
        let short = &B1_HEADER[..63];
        let non_ascii = format!("{}é", &B1_HEADER[..62]);
        for header in [sha1.as_str(), short, &non_ascii, "sha256=", "zz"] {
            assert_eq!(
                verify_b1(Some(header)),
                Err(VerifyError::Malformed(HEADER)),
                "{header}"
            );
        }
    }

    #[test]
    fn accepts_a_second_rotated_secret() {
        let old = BridgeSecret::new("old-bridge-secret").expect("non-empty secret");
        let outcome = verify(Some(B1_HEADER), B1_BODY.as_bytes(), &[old, b1_secret()]);
        assert_eq!(outcome, Ok(()));
    }

    #[test]
    fn verifies_what_it_signs() {
        let secret = BridgeSecret::new("round-trip").expect("non-empty secret");
        let header = sign(&secret, b"{}");
        assert_eq!(verify(Some(&header), b"{}", &[secret]), Ok(()));
    }

    #[test]
    fn refuses_an_empty_secret() {
        assert_eq!(BridgeSecret::new("").err(), Some(KeyError::Empty));
    }

    #[test]
    fn never_prints_the_secret() {
        assert_eq!(format!("{:?}", b1_secret()), "BridgeSecret([redacted])");
    }
}
