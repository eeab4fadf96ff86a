//! The gateway's settings: built once in `main` and passed down.
//!
//! Secrets are kept as text here; [`crate::senders`] parses them into keys
//! once, and `validate` runs that parse so a bad key fails at start, naming
//! its variable.

use crate::senders::Senders;
use inlet_domain::settings::{load, BrokerSettings, LogFormat, Secret, SettingsError};
use inlet_domain::Provider;
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
    /// `INLET_META_APP_SECRET`: Meta app secrets, comma-separated (all are
    /// accepted, for rotation); `secret@<RFC 3339 time>` ends one's validity.
    pub meta_app_secret: Secret,
    /// `INLET_META_VERIFY_TOKEN`: the token Meta echoes in its verification handshake.
    pub meta_verify_token: Secret,
    /// `INLET_OPENPHONE_SIGNING_KEY`: OpenPhone legacy signing keys (base64), comma-separated.
    pub openphone_signing_key: Secret,
    /// `INLET_OPENPHONE_WEBHOOK_SECRET`: OpenPhone/Quo Standard Webhooks secrets (`whsec_…`), comma-separated.
    pub openphone_webhook_secret: Secret,
    /// `INLET_BRIDGE_SECRET`: WhatsApp bridge shared secrets, comma-separated.
    pub bridge_secret: Secret,
    /// `INLET_STANDARD_SOURCES`: Standard Webhooks sources, `name=whsec_…` pairs,
    /// comma-separated (a name given twice has both secrets).
    pub standard_sources: Secret,
    /// Lines (receiving numbers or accounts), from the `INLET_CONFIG` file's `[[lines]]`.
    pub lines: Vec<LineConfig>,
    /// `INLET_SIGNATURE_TOLERANCE_SECS`: how far a signed timestamp may be from now, either way.
    pub signature_tolerance_secs: u64,
    /// `INLET_INSECURE_SKIP_SIGNATURES`: development only; accepts unsigned requests.
    pub insecure_skip_signatures: bool,
    /// `INLET_DEDUP_PREFIX`: prefix of every dedup key in Redis.
    pub dedup_prefix: String,
    /// `INLET_DEDUP_IN_FLIGHT_TTL_SECS`: how long an unconfirmed claim blocks duplicates.
    pub dedup_in_flight_ttl_secs: u64,
    /// `INLET_DEDUP_TTL_SECS`: how long a published event's key answers `duplicate`.
    pub dedup_ttl_secs: u64,
    /// `INLET_REDIS_TIMEOUT_MS`: the longest any one Redis call may take before failing open.
    pub redis_timeout_ms: u64,
    /// `INLET_DEDUP_WARN_INTERVAL_SECS`: at most one "dedup unavailable" warning per interval.
    pub dedup_warn_interval_secs: u64,
    /// `INLET_THROTTLE_FAILURES_PER_MINUTE`: signature failures one client address may
    /// make per minute before it is answered 429 (0 turns throttling off).
    pub throttle_failures_per_minute: u32,
    /// `INLET_THROTTLE_MAX_CLIENTS`: client addresses tracked at once (bounds memory).
    pub throttle_max_clients: usize,
    /// `INLET_TRUST_FORWARDED_FOR`: take the client address from the last
    /// `X-Forwarded-For` entry (only behind a proxy that appends it).
    pub trust_forwarded_for: bool,
    /// `INLET_BODY_LIMIT_BYTES`: largest body accepted (Meta batches reach a few MB).
    pub body_limit_bytes: usize,
    /// `INLET_BODY_BUDGET_BYTES`: most bytes of request bodies held at once,
    /// read before their signatures can be checked; past it a request is
    /// answered 503 (`busy`), so that many large bodies cannot exhaust memory.
    pub body_budget_bytes: usize,
    /// `INLET_BODY_TIMEOUT_MS`: how long a request's body may take to arrive
    /// once its headers have (a body still arriving is answered 408).
    pub body_timeout_ms: u64,
    /// `INLET_PUBLISH_TIMEOUT_MS`: how long to wait for the broker's confirm before answering 503.
    pub publish_timeout_ms: u64,
    /// `INLET_RETRY_AFTER_SECS`: the `Retry-After` sent with a 503.
    pub retry_after_secs: u64,
    /// `INLET_PUBLISHER_CHANNELS`: confirm-mode channels kept open to the broker.
    pub publisher_channels: usize,
    /// `INLET_PACK_MAX_EVENTS`: most webhooks published together as one message
    /// (1: each alone, as a plain message; for workers older than packs).
    pub pack_max_events: usize,
    /// `INLET_PACK_MAX_BYTES`: most body bytes in one message (a larger body travels alone).
    pub pack_max_bytes: usize,
    /// `INLET_PUBLISHES_IN_FLIGHT`: groups of webhooks between dedup claim and answer at once
    /// (over all HTTP worker threads).
    pub publishes_in_flight: usize,
    /// `INLET_LOG_FORMAT`: `pretty` or `json`.
    pub log_format: LogFormat,
    /// `INLET_ADMIN_ADDR`: where the management API listens (never the public ingest port).
    /// It also serves `/metrics`.
    pub admin_addr: String,
    /// `INLET_METRICS_ON_INGEST`: serve `/metrics` on the public ingest listener
    /// too (false: only on the internal `INLET_ADMIN_ADDR`, so the internet
    /// cannot read traffic volumes).
    pub metrics_on_ingest: bool,
    /// PostgreSQL, used only by the management API (ingest never needs it).
    #[serde(flatten)]
    pub database: inlet_domain::settings::DatabaseSettings,
    /// Forwarding URL policy and secret rotation grace (`INLET_FORWARD_*`).
    #[serde(flatten)]
    pub forward: inlet_domain::forward::settings::ForwardSettings,
}

/// One configured line: a receiving number or account and its own secrets.
/// Secrets left out fall back to the provider-wide ones.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LineConfig {
    /// The line id: Meta `phone_number_id`, OpenPhone `PN…` id, bridge session
    /// name, or a Standard Webhooks source name. Used in URLs.
    pub id: String,
    /// Who sends for it.
    pub provider: Option<Provider>,
    /// The human-readable number, for operators.
    pub display_number: Option<String>,
    /// Meta app secret(s), comma-separated, same syntax as `INLET_META_APP_SECRET`.
    pub app_secret: Secret,
    /// Meta app secrets as a list (alternative to `app_secret`).
    pub app_secrets: Vec<Secret>,
    /// Meta verify token for `GET /webhooks/meta/{id}`.
    pub verify_token: Secret,
    /// OpenPhone legacy signing key(s), base64.
    pub signing_key: Secret,
    /// OpenPhone Standard Webhooks secret(s), or a Standard source's secret(s), `whsec_…`.
    pub webhook_secret: Secret,
    /// Bridge shared secret(s).
    pub secret: Secret,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            gateway_addr: "127.0.0.1:8080".into(),
            broker: BrokerSettings::default(),
            redis_url: "redis://127.0.0.1:6379".into(),
            meta_app_secret: Secret::default(),
            meta_verify_token: Secret::default(),
            openphone_signing_key: Secret::default(),
            openphone_webhook_secret: Secret::default(),
            bridge_secret: Secret::default(),
            standard_sources: Secret::default(),
            lines: Vec::new(),
            signature_tolerance_secs: 300,
            insecure_skip_signatures: false,
            dedup_prefix: "inlet:dedup:".into(),
            dedup_in_flight_ttl_secs: 30,
            // Quo retries for about 27.5 h (providers.md): keep keys 28 h.
            dedup_ttl_secs: 28 * 60 * 60,
            redis_timeout_ms: 250,
            dedup_warn_interval_secs: 60,
            throttle_failures_per_minute: 20,
            throttle_max_clients: 10_000,
            trust_forwarded_for: false,
            body_limit_bytes: 4 * 1024 * 1024,
            body_budget_bytes: 64 * 1024 * 1024,
            body_timeout_ms: 15_000,
            publish_timeout_ms: 5_000,
            retry_after_secs: 5,
            publisher_channels: 4,
            pack_max_events: 32,
            pack_max_bytes: 1024 * 1024,
            publishes_in_flight: 8,
            log_format: LogFormat::Pretty,
            admin_addr: "127.0.0.1:8081".into(),
            metrics_on_ingest: true,
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
        if self.publisher_channels == 0 {
            return bad("INLET_PUBLISHER_CHANNELS", "must be at least 1");
        }
        if self.pack_max_events == 0 {
            return bad("INLET_PACK_MAX_EVENTS", "must be at least 1");
        }
        if self.publishes_in_flight == 0 {
            return bad("INLET_PUBLISHES_IN_FLIGHT", "must be at least 1");
        }
        if self.body_timeout_ms == 0 {
            return bad("INLET_BODY_TIMEOUT_MS", "must be at least 1");
        }
        // Otherwise a body of the largest size allowed could never be read.
        if self.body_budget_bytes < self.body_limit_bytes {
            return bad(
                "INLET_BODY_BUDGET_BYTES",
                "must be at least INLET_BODY_LIMIT_BYTES",
            );
        }
        if self.dedup_in_flight_ttl_secs == 0 {
            return bad("INLET_DEDUP_IN_FLIGHT_TTL_SECS", "must be at least 1");
        }
        if self.dedup_ttl_secs == 0 {
            return bad("INLET_DEDUP_TTL_SECS", "must be at least 1");
        }
        // A claim must outlive the publish it guards, or a retry could pass
        // while the first copy is still waiting for its confirm.
        if self.dedup_in_flight_ttl_secs.saturating_mul(1000) <= self.publish_timeout_ms {
            return bad(
                "INLET_DEDUP_IN_FLIGHT_TTL_SECS",
                "must be longer than INLET_PUBLISH_TIMEOUT_MS",
            );
        }
        if self.throttle_failures_per_minute > 0 && self.throttle_max_clients == 0 {
            return bad("INLET_THROTTLE_MAX_CLIENTS", "must be at least 1");
        }
        // The keys are parsed again at build; doing it here too makes a bad
        // one fail `load`, before anything starts.
        Senders::from_settings(self).map(|_| ())
    }
}

fn bad(name: &'static str, reason: &str) -> Result<(), SettingsError> {
    Err(SettingsError::Bad {
        name,
        reason: reason.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_shorter_than_the_publish_timeout_is_refused() {
        let settings = Settings {
            bridge_secret: Secret::new("s"),
            dedup_in_flight_ttl_secs: 5,
            ..Settings::default()
        };
        let err = settings.validate().expect_err("refused");
        assert!(err.to_string().contains("INLET_DEDUP_IN_FLIGHT_TTL_SECS"));
    }

    #[test]
    fn lines_read_from_toml_with_every_field() {
        let toml = r#"
            [[lines]]
            id = "106540352242922"
            provider = "meta"
            display_number = "+1 555 078 3881"
            app_secrets = ["old@2026-12-31T00:00:00Z", "new"]
            verify_token = "token"

            [[lines]]
            id = "PNtoDbDhuz"
            provider = "openphone"
            signing_key = "aW5sZXQ="
            webhook_secret = "whsec_aW5sZXQ="
        "#;
        let settings: Settings =
            figment::Figment::from(figment::providers::Serialized::defaults(Settings::default()))
                .merge(<figment::providers::Toml as figment::providers::Format>::string(toml))
                .extract()
                .expect("parses");
        assert_eq!(settings.lines.len(), 2);
        assert_eq!(settings.lines[0].provider, Some(Provider::Meta));
        assert_eq!(settings.lines[0].app_secrets.len(), 2);
        assert_eq!(settings.lines[1].provider, Some(Provider::OpenPhone));
        assert_eq!(settings.lines[1].signing_key.expose(), "aW5sZXQ=");
    }
}
