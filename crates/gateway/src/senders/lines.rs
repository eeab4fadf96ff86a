//! `[[lines]]` entries: each line's own secrets, or the provider-wide ones.

use super::parse::{config_error, keys, meta_secrets, token};
use super::{
    add_line, BridgeCreds, Credentials, MetaCreds, OpenPhoneCreds, Registry, StandardCreds,
};
use crate::config::LineConfig;
use inlet_domain::settings::SettingsError;
use inlet_domain::signature::bridge::BridgeSecret;
use inlet_domain::signature::openphone::OpenPhoneKey;
use inlet_domain::signature::standard::StandardSecret;
use inlet_domain::Provider;

/// The registries being filled.
pub(super) struct Builder {
    pub(super) meta: Registry<MetaCreds>,
    pub(super) openphone: Registry<OpenPhoneCreds>,
    pub(super) bridge: Registry<BridgeCreds>,
    pub(super) standard: Registry<StandardCreds>,
}

impl Builder {
    /// Adds one `[[lines]]` entry: its own secrets, each kind left out taken
    /// from the provider-wide ones. Only its own go to the unified route
    /// (which already has the provider-wide ones), so no key is tried twice.
    pub(super) fn add(
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
                self.meta.own.extend(&own);
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
                self.openphone.own.extend(&own);
                // The two formats are independent schemes: each falls back alone.
                if own.keys.is_empty() {
                    own.keys.clone_from(&openphone.keys);
                }
                if own.secrets.is_empty() {
                    own.secrets.clone_from(&openphone.secrets);
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
                self.bridge.own.extend(&own);
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
