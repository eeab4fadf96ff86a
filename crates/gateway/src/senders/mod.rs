//! Who may send: every configured sender and line, with its keys parsed once.
//!
//! Each provider has a [`Registry`]: credentials for its unified route
//! (`/webhooks/<provider>`) and per line (`/webhooks/<provider>/{line}`). A
//! line's own secrets are used on its URL, falling back to the provider-wide
//! ones; the unified route accepts any of the provider's secrets, since one
//! URL may serve every line. On either route, a body that names another
//! configured line must also verify with that line's credentials. Standard
//! Webhooks has no unified route: each source is a "line" of its own.

mod lines;
mod parse;

use crate::config::Settings;
use inlet_domain::settings::{Secret, SettingsError};
use inlet_domain::signature::bridge::BridgeSecret;
use inlet_domain::signature::meta::MetaSecret;
use inlet_domain::signature::openphone::OpenPhoneKey;
use inlet_domain::signature::standard::StandardSecret;
use inlet_domain::signature::Tolerance;
use lines::Builder;
use parse::{keys, meta_secrets, standard_sources, token};
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
    /// The lines' own secrets (without fallbacks), for the unified route.
    own: C,
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

    /// Credentials for a request on the unified route (`None`) or a line's
    /// route (`Some(line)`); `None` answers 404.
    pub fn route(&self, line: Option<&str>) -> Option<&C> {
        match line {
            None => self.unified(),
            Some(id) => self.line(id),
        }
    }

    /// Runs `check` with the credentials of every configured line in `named`
    /// (the lines a body names) other than `route`'s own, as each line's own
    /// URL would ask, so that one line's secret cannot vouch for another
    /// line's events. `Ok` when there is nothing to check.
    pub fn check_named_lines<E>(
        &self,
        route: Option<&str>,
        named: &[String],
        check: impl FnMut(&C) -> Result<(), E>,
    ) -> Result<(), E> {
        named
            .iter()
            .filter(|id| route != Some(id.as_str()))
            .filter_map(|id| self.lines.get(id))
            .try_for_each(check)
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
    unified.extend(&registry.own);
    registry.unified = (!unified.is_empty()).then_some(unified);
    registry.insecure = insecure.then(C::default);
    registry
}

#[cfg(test)]
mod tests;
