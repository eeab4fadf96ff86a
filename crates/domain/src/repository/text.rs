//! Text from outside (an endpoint's answer, an error, a webhook body's
//! strings) made fit for a PostgreSQL `text` or `jsonb` column.

use std::borrow::Cow;

/// `text` cannot hold NUL (SQLSTATE 22021 fails the whole statement, and with
/// it the transaction), so each NUL becomes U+FFFD, as invalid UTF-8 already does.
pub(crate) fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::storable;
    use std::borrow::Cow;

    #[test]
    fn nul_bytes_become_replacement_characters() {
        assert_eq!(storable("ok\0\0!"), "ok\u{FFFD}\u{FFFD}!");
    }

    #[test]
    fn text_without_nul_is_kept_as_it_is() {
        assert!(matches!(storable("HTTP 500"), Cow::Borrowed("HTTP 500")));
    }
}
