//! The gateway's settings: built once in `main` and passed down.

use inlet_domain::settings::{load, BrokerSettings, LogFormat, Secret, SettingsError};
use serde::{Deserialize, Serialize};

/// Everything the gateway can be configured with. Each field's variable is
/// `INLET_` + its name in capitals (see `docs/configuration.md`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `INLET_GATEWAY_ADDR`: where the public ingest listener binds.
    pub gateway_addr: String,
    /// Broker connection and topology.
    #[serde(flatten)]
    pub broker: BrokerSettings,
    /// `INLET_REDIS_URL`: the dedup store.
    pub redis_url: String,
    /// `INLET_META_APP_SECRET`: Meta app secrets, comma-separated (all are accepted, for rotation).
    pub meta_app_secret: Secret,
    /// `INLET_META_VERIFY_TOKEN`: the token Meta echoes in its verification handshake.
    pub meta_verify_token: Secret,
    /// `INLET_BODY_LIMIT_BYTES`: largest body accepted (Meta batches reach a few MB).
    pub body_limit_bytes: usize,
    /// `INLET_PUBLISH_TIMEOUT_MS`: how long to wait for the broker's confirm before answering 503.
    pub publish_timeout_ms: u64,
    /// `INLET_RETRY_AFTER_SECS`: the `Retry-After` sent with a 503.
    pub retry_after_secs: u64,
    /// `INLET_PUBLISHER_CHANNELS`: confirm-mode channels kept open to the broker.
    pub publisher_channels: usize,
    /// `INLET_LOG_FORMAT`: `pretty` or `json`.
    pub log_format: LogFormat,
    /// `INLET_ADMIN_ADDR`: where the management API listens (never the public ingest port).
    pub admin_addr: String,
    /// PostgreSQL, used only by the management API (ingest never needs it).
    #[serde(flatten)]
    pub database: inlet_domain::settings::DatabaseSettings,
    /// Forwarding URL policy and secret rotation grace (`INLET_FORWARD_*`).
    #[serde(flatten)]
    pub forward: inlet_domain::forward::settings::ForwardSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            gateway_addr: "127.0.0.1:8080".into(),
            broker: BrokerSettings::default(),
            redis_url: "redis://127.0.0.1:6379".into(),
            meta_app_secret: Secret::default(),
            meta_verify_token: Secret::default(),
            body_limit_bytes: 4 * 1024 * 1024,
            publish_timeout_ms: 5_000,
            retry_after_secs: 5,
            publisher_channels: 4,
            log_format: LogFormat::Pretty,
            admin_addr: "127.0.0.1:8081".into(),
            database: inlet_domain::settings::DatabaseSettings::default(),
            forward: inlet_domain::forward::settings::ForwardSettings::default(),
        }
    }
}

impl Settings {
    /// Reads defaults < `INLET_CONFIG` file < `INLET_*` variables, and validates.
    pub fn load() -> Result<Self, SettingsError> {
        let settings: Settings = load(Settings::default())?;
        settings.validate()?;
        Ok(settings)
    }

    /// Fails, naming the variable, when the gateway could not do its job.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.meta_app_secret.split_list().is_empty() {
            return Err(SettingsError::Missing("INLET_META_APP_SECRET"));
        }
        if self.meta_verify_token.is_empty() {
            return Err(SettingsError::Missing("INLET_META_VERIFY_TOKEN"));
        }
        if self.publisher_channels == 0 {
            return Err(SettingsError::Bad {
                name: "INLET_PUBLISHER_CHANNELS",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}
