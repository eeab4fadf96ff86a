//! Parsing secret lists from settings text into keys.

use chrono::{DateTime, Utc};
use inlet_domain::settings::{Secret, SettingsError};
use inlet_domain::signature::meta::MetaSecret;
use inlet_domain::signature::standard::StandardSecret;
use inlet_domain::signature::KeyError;

pub(super) fn config_error(reason: String) -> SettingsError {
    SettingsError::Bad {
        name: "INLET_CONFIG",
        reason,
    }
}

pub(super) fn key_error(name: &'static str, error: KeyError) -> SettingsError {
    SettingsError::Bad {
        name,
        reason: error.to_string(),
    }
}

pub(super) fn token(secret: &Secret) -> Vec<Secret> {
    (!secret.is_empty())
        .then(|| secret.clone())
        .into_iter()
        .collect()
}

pub(super) fn keys<K>(
    list: &Secret,
    name: &'static str,
    parse: impl Fn(&str) -> Result<K, KeyError>,
) -> Result<Vec<K>, SettingsError> {
    list.split_list()
        .iter()
        .map(|s| parse(s.expose()).map_err(|e| key_error(name, e)))
        .collect()
}

/// Meta secrets: `secret` or `secret@<RFC 3339 expiry>` (hex app secrets never
/// contain `@`, and a suffix that is not a time is kept as part of the secret).
pub(super) fn meta_secrets(
    list: &Secret,
    name: &'static str,
) -> Result<Vec<MetaSecret>, SettingsError> {
    keys(list, name, |text| {
        let (secret, expires_at) = split_expiry(text);
        MetaSecret::new(secret, expires_at)
    })
}

pub(super) fn split_expiry(text: &str) -> (&str, Option<DateTime<Utc>>) {
    text.rsplit_once('@')
        .and_then(|(secret, at)| {
            let at = DateTime::parse_from_rfc3339(at).ok()?;
            Some((secret, Some(at.with_timezone(&Utc))))
        })
        .unwrap_or((text, None))
}

/// `name=whsec_…` pairs.
pub(super) fn standard_sources(
    list: &Secret,
) -> Result<Vec<(String, StandardSecret)>, SettingsError> {
    const NAME: &str = "INLET_STANDARD_SOURCES";
    list.split_list()
        .iter()
        .map(|pair| {
            let (name, secret) = pair.expose().split_once('=').ok_or(SettingsError::Bad {
                name: NAME,
                reason: "each entry must be name=whsec_…".into(),
            })?;
            let name = name.trim();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(SettingsError::Bad {
                    name: NAME,
                    reason: format!(
                        "source name {name:?} must be letters, digits, '-', '_' or '.'"
                    ),
                });
            }
            let secret = StandardSecret::parse(secret.trim()).map_err(|e| key_error(NAME, e))?;
            Ok((name.to_owned(), secret))
        })
        .collect()
}
