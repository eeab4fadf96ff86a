//! Who may send: every configured sender and line, with its keys parsed once.
//!
//! Each provider has a [`Registry`]: credentials for its unified route
//! (`/webhooks/<provider>`) and per line (`/webhooks/<provider>/{line}`). A
//! line's own secrets are used on its URL, falling back to the provider-wide
//! ones; the unified route accepts any of the provider's secrets, since one
//! URL may serve every line. Standard Webhooks has no unified route: each
//! source is a "line" of its own.

use crate::config::{LineConfig, Settings};
use chrono::{DateTime, Utc};
use inlet_domain::settings::{Secret, SettingsError};
use inlet_domain::signature::bridge::BridgeSecret;
use inlet_domain::signature::meta::MetaSecret;
use inlet_domain::signature::openphone::OpenPhoneKey;
use inlet_domain::signature::standard::StandardSecret;
use inlet_domain::signature::{KeyError, Tolerance};
use inlet_domain::Provider;
use std::collections::HashMap;
use std::time::Duration;

/// Credentials that can be merged (for the unified route) and may be empty.
pub trait Credentials: Clone + Default {
    /// Whether nothing could verify a request.
    fn is_empty(&self) -> bool;
    /// Adds `other`'s secrets to these.
    fn extend(&mut self, other: &Self);
}

/// Meta: app secrets and the handshake's verify tokens.
#[derive(Clone, Debug, Default)]
pub struct MetaCreds {
    /// Accepted app secrets.
    pub secrets: Vec<MetaSecret>,
    /// Accepted verify tokens.
    pub verify_tokens: Vec<Secret>,
}

/// OpenPhone: legacy signing keys and Standard Webhooks secrets.
#[derive(Clone, Debug, Default)]
pub struct OpenPhoneCreds {
    /// Legacy `openphone-signature` keys.
    pub keys: Vec<OpenPhoneKey>,
    /// `whsec_` secrets for the Standard Webhooks headers.
    pub secrets: Vec<StandardSecret>,
}

/// A WhatsApp bridge's shared secrets.
#[derive(Clone, Debug, Default)]
pub struct BridgeCreds {
    /// Accepted secrets.
    pub secrets: Vec<BridgeSecret>,
}

/// A Standard Webhooks source's secrets.
#[derive(Clone, Debug, Default)]
pub struct StandardCreds {
    /// Accepted `whsec_` secrets.
    pub secrets: Vec<StandardSecret>,
}

impl Credentials for MetaCreds {
    fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
    fn extend(&mut self, other: &Self) {
        self.secrets.extend(other.secrets.iter().cloned());
        self.verify_tokens
            .extend(other.verify_tokens.iter().cloned());
    }
}

impl Credentials for OpenPhoneCreds {
    fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.secrets.is_empty()
    }
    fn extend(&mut self, other: &Self) {
        self.keys.extend(other.keys.iter().cloned());
        self.secrets.extend(other.secrets.iter().cloned());
    }
}

impl Credentials for BridgeCreds {
    fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
    fn extend(&mut self, other: &Self) {
        self.secrets.extend(other.secrets.iter().cloned());
    }
}

impl Credentials for StandardCreds {
    fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
    fn extend(&mut self, other: &Self) {
        self.secrets.extend(other.secrets.iter().cloned());
    }
}

/// One provider's routes: the unified one and each line's.
#[derive(Clone, Debug, Default)]
pub struct Registry<C> {
    unified: Option<C>,
    lines: HashMap<String, C>,
    /// Development mode: anything unconfigured resolves to empty credentials.
    insecure: Option<C>,
}

impl<C: Credentials> Registry<C> {
    /// Credentials for the unified route, `None` when it is not configured (404).
    pub fn unified(&self) -> Option<&C> {
        self.unified.as_ref().or(self.insecure.as_ref())
    }

    /// Credentials for a line's own route, `None` for an unknown line (404).
    pub fn line(&self, id: &str) -> Option<&C> {
        self.lines.get(id).or(self.insecure.as_ref())
    }

    /// Whether the line named (from a URL or a body) should be marked
    /// unknown: some lines are configured, and this is not one of them.
    /// Single-line set-ups (no `[[lines]]`) never mark a line unknown.
    pub fn is_unknown(&self, id: &str) -> bool {
        !self.lines.is_empty() && !self.lines.contains_key(id)
    }

    /// Whether nothing at all is configured.
    fn is_unconfigured(&self) -> bool {
        self.unified.is_none() && self.lines.is_empty()
    }
}

/// Every sender the gateway accepts.
#[derive(Clone, Debug)]
pub struct Senders {
    /// Meta WhatsApp Cloud API.
    pub meta: Registry<MetaCreds>,
    /// OpenPhone/Quo.
    pub openphone: Registry<OpenPhoneCreds>,
    /// Self-hosted WhatsApp bridges.
    pub bridge: Registry<BridgeCreds>,
    /// Standard Webhooks sources (lines only).
    pub standard: Registry<StandardCreds>,
    /// The timestamp window for signed timestamps.
    pub tolerance: Tolerance,
}

/// Every variable that can configure a sender, for the "nothing configured" error.
const ANY_SENDER: &str = "one of INLET_META_APP_SECRET, INLET_OPENPHONE_SIGNING_KEY, \
     INLET_OPENPHONE_WEBHOOK_SECRET, INLET_BRIDGE_SECRET, INLET_STANDARD_SOURCES \
     or [[lines]] in the INLET_CONFIG file";

impl Senders {
    /// Parses every secret in `settings`; fails naming the variable (or the
    /// line) that cannot work.
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let meta = MetaCreds {
            secrets: meta_secrets(&settings.meta_app_secret, "INLET_META_APP_SECRET")?,
            verify_tokens: token(&settings.meta_verify_token),
        };
        if !meta.secrets.is_empty() && meta.verify_tokens.is_empty() {
            return Err(SettingsError::Missing("INLET_META_VERIFY_TOKEN"));
        }
        let openphone = OpenPhoneCreds {
            keys: keys(
                &settings.openphone_signing_key,
                "INLET_OPENPHONE_SIGNING_KEY",
                OpenPhoneKey::from_base64,
            )?,
            secrets: keys(
                &settings.openphone_webhook_secret,
                "INLET_OPENPHONE_WEBHOOK_SECRET",
                StandardSecret::parse,
            )?,
        };
        let bridge = BridgeCreds {
            secrets: keys(
                &settings.bridge_secret,
                "INLET_BRIDGE_SECRET",
                BridgeSecret::new,
            )?,
        };
        let mut builder = Builder {
            meta: Registry::default(),
            openphone: Registry::default(),
            bridge: Registry::default(),
            standard: Registry::default(),
        };
        for (name, secret) in standard_sources(&settings.standard_sources)? {
            let creds = StandardCreds {
                secrets: vec![secret],
            };
            add_line(&mut builder.standard, &name, creds);
        }
        for line in &settings.lines {
            builder.add(line, &meta, &openphone, &bridge)?;
        }
        let insecure = settings.insecure_skip_signatures;
        let senders = Senders {
            meta: finish(builder.meta, meta, insecure),
            openphone: finish(builder.openphone, openphone, insecure),
            bridge: finish(builder.bridge, bridge, insecure),
            standard: Registry {
                unified: None,
                insecure: insecure.then(StandardCreds::default),
                ..builder.standard
            },
            tolerance: Tolerance(Duration::from_secs(settings.signature_tolerance_secs)),
        };
        let nothing = senders.meta.is_unconfigured()
            && senders.openphone.is_unconfigured()
            && senders.bridge.is_unconfigured()
            && senders.standard.is_unconfigured();
        if nothing && !insecure {
            return Err(SettingsError::Missing(ANY_SENDER));
        }
        Ok(senders)
    }
}

struct Builder {
    meta: Registry<MetaCreds>,
    openphone: Registry<OpenPhoneCreds>,
    bridge: Registry<BridgeCreds>,
    standard: Registry<StandardCreds>,
}

impl Builder {
    /// Adds one `[[lines]]` entry, its own secrets or else the provider-wide ones.
    fn add(
        &mut self,
        line: &LineConfig,
        meta: &MetaCreds,
        openphone: &OpenPhoneCreds,
        bridge: &BridgeCreds,
    ) -> Result<(), SettingsError> {
        let id = line.id.trim();
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(config_error(format!(
                "line id {id:?} must be non-empty letters, digits, '-', '_' or '.'"
            )));
        }
        let missing = |what: &str| config_error(format!("line {id} has no {what}"));
        match line.provider {
            None => return Err(missing("provider")),
            Some(Provider::Meta) => {
                let mut secrets = meta_secrets(&line.app_secret, "INLET_CONFIG")?;
                for s in &line.app_secrets {
                    secrets.extend(meta_secrets(s, "INLET_CONFIG")?);
                }
                let mut own = MetaCreds {
                    secrets,
                    verify_tokens: token(&line.verify_token),
                };
                if own.secrets.is_empty() {
                    own.secrets.clone_from(&meta.secrets);
                }
                if own.verify_tokens.is_empty() {
                    own.verify_tokens.clone_from(&meta.verify_tokens);
                }
                if own.secrets.is_empty() {
                    return Err(missing("app_secret and INLET_META_APP_SECRET is empty"));
                }
                if own.verify_tokens.is_empty() {
                    return Err(SettingsError::Bad {
                        name: "INLET_META_VERIFY_TOKEN",
                        reason: format!("line {id} has an app secret but no verify_token"),
                    });
                }
                add_line(&mut self.meta, id, own);
            }
            Some(Provider::OpenPhone) => {
                let mut own = OpenPhoneCreds {
                    keys: keys(&line.signing_key, "INLET_CONFIG", OpenPhoneKey::from_base64)?,
                    secrets: keys(&line.webhook_secret, "INLET_CONFIG", StandardSecret::parse)?,
                };
                if own.is_empty() {
                    own = openphone.clone();
                }
                if own.is_empty() {
                    return Err(missing("signing_key or webhook_secret"));
                }
                add_line(&mut self.openphone, id, own);
            }
            Some(Provider::Bridge) => {
                let mut own = BridgeCreds {
                    secrets: keys(&line.secret, "INLET_CONFIG", BridgeSecret::new)?,
                };
                if own.is_empty() {
                    own = bridge.clone();
                }
                if own.is_empty() {
                    return Err(missing("secret and INLET_BRIDGE_SECRET is empty"));
                }
                add_line(&mut self.bridge, id, own);
            }
            Some(Provider::Standard) => {
                let text = if line.webhook_secret.is_empty() {
                    &line.secret
                } else {
                    &line.webhook_secret
                };
                let own = StandardCreds {
                    secrets: keys(text, "INLET_CONFIG", StandardSecret::parse)?,
                };
                if own.is_empty() {
                    return Err(missing("webhook_secret"));
                }
                add_line(&mut self.standard, id, own);
            }
        }
        Ok(())
    }
}

/// Adds a line, merging secrets when the same id is named twice.
fn add_line<C: Credentials>(registry: &mut Registry<C>, id: &str, creds: C) {
    registry
        .lines
        .entry(id.to_owned())
        .or_default()
        .extend(&creds);
}

/// The unified route accepts the provider-wide secrets and every line's.
fn finish<C: Credentials>(mut registry: Registry<C>, global: C, insecure: bool) -> Registry<C> {
    let mut unified = global;
    for creds in registry.lines.values() {
        unified.extend(creds);
    }
    registry.unified = (!unified.is_empty()).then_some(unified);
    registry.insecure = insecure.then(C::default);
    registry
}

fn config_error(reason: String) -> SettingsError {
    SettingsError::Bad {
        name: "INLET_CONFIG",
        reason,
    }
}

fn key_error(name: &'static str, error: KeyError) -> SettingsError {
    SettingsError::Bad {
        name,
        reason: error.to_string(),
    }
}

fn token(secret: &Secret) -> Vec<Secret> {
    (!secret.is_empty())
        .then(|| secret.clone())
        .into_iter()
        .collect()
}

fn keys<K>(
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
fn meta_secrets(list: &Secret, name: &'static str) -> Result<Vec<MetaSecret>, SettingsError> {
    keys(list, name, |text| {
        let (secret, expires_at) = split_expiry(text);
        MetaSecret::new(secret, expires_at)
    })
}

fn split_expiry(text: &str) -> (&str, Option<DateTime<Utc>>) {
    text.rsplit_once('@')
        .and_then(|(secret, at)| {
            let at = DateTime::parse_from_rfc3339(at).ok()?;
            Some((secret, Some(at.with_timezone(&Utc))))
        })
        .unwrap_or((text, None))
}

/// `name=whsec_…` pairs.
fn standard_sources(list: &Secret) -> Result<Vec<(String, StandardSecret)>, SettingsError> {
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

#[cfg(test)]
#[path = "senders_tests.rs"]
mod tests;
