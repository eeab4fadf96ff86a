//! The worker's settings: built once in `main` and passed down.

use crate::delivery::settings::DeliverySettings;
use inlet_domain::forward::settings::ForwardSettings;
use inlet_domain::settings::{load, BrokerSettings, DatabaseSettings, LogFormat, SettingsError};
use serde::{Deserialize, Serialize};

/// Everything the worker can be configured with. Each field's variable is
/// `INLET_` + its name in capitals (see `docs/configuration.md`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Broker connection and topology.
    #[serde(flatten)]
    pub broker: BrokerSettings,
    /// PostgreSQL connection and pool.
    #[serde(flatten)]
    pub database: DatabaseSettings,
    /// `INLET_PREFETCH`: unacknowledged deliveries a worker holds (and processes concurrently).
    pub prefetch: u16,
    /// `INLET_BATCH_SIZE`: most raw events stored in one transaction (1 turns batching off).
    pub batch_size: u16,
    /// `INLET_BATCH_LINGER_MS`: how long a batch that is not full waits for more events
    /// (0: it takes what has arrived).
    pub batch_linger_ms: u64,
    /// `INLET_DOMAIN_EVENTS`: how stored events go out on `inlet.domain`:
    /// `each` (or `true`), `packed`, or `off` (or `false`; forwarding is unaffected).
    pub domain_events: DomainEvents,
    /// `INLET_WORKER_METRICS_ADDR`: where `/metrics`, `/healthz` and `/readyz` are served.
    pub worker_metrics_addr: String,
    /// `INLET_PUBLISH_TIMEOUT_MS`: how long to wait for a broker confirm.
    pub publish_timeout_ms: u64,
    /// `INLET_SHUTDOWN_TIMEOUT_SECS`: how long in-flight events may take to finish on SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// `INLET_LOG_FORMAT`: `pretty` or `json`.
    pub log_format: LogFormat,
    /// Forwarding URL policy (`INLET_FORWARD_*`).
    #[serde(flatten)]
    pub forward: ForwardSettings,
    /// Delivery consumer and sender (`INLET_DELIVERY_*`).
    #[serde(flatten)]
    pub delivery: DeliverySettings,
    /// `INLET_OPT_OUT_KEYWORDS`: opt-out keywords on top of STOP, UNSUBSCRIBE,
    /// CANCEL, END, QUIT and STOPALL (e.g. `[ARRET, BAJA]`).
    pub opt_out_keywords: Vec<String>,
    /// `INLET_OPT_IN_KEYWORDS`: opt-in keywords on top of START and UNSTOP.
    pub opt_in_keywords: Vec<String>,
    /// `INLET_QUEUE_METRICS_INTERVAL_SECS`: how often queue depths are refreshed.
    pub queue_metrics_interval_secs: u64,
}

/// How stored events are published on the `inlet.domain` exchange.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "DomainEventsValue")]
pub enum DomainEvents {
    /// One message per event, with the event's id as its message id.
    #[default]
    Each,
    /// One message per event type and stored batch: a JSON array of the
    /// events, routed by their type. A publish and a confirm per batch and
    /// type instead of per event, for consumers that read lists.
    Packed,
    /// Nothing: for deployments where nothing binds to the exchange.
    Off,
}

/// `INLET_DOMAIN_EVENTS` as written: a name, or the booleans it was before
/// it had three values (`true` = each, `false` = off).
#[derive(Deserialize)]
#[serde(untagged)]
enum DomainEventsValue {
    Flag(bool),
    Name(String),
}

impl TryFrom<DomainEventsValue> for DomainEvents {
    type Error = String;

    fn try_from(value: DomainEventsValue) -> Result<Self, Self::Error> {
        match value {
            DomainEventsValue::Flag(true) => Ok(DomainEvents::Each),
            DomainEventsValue::Flag(false) => Ok(DomainEvents::Off),
            DomainEventsValue::Name(name) => match name.to_ascii_lowercase().as_str() {
                "each" | "true" => Ok(DomainEvents::Each),
                "packed" => Ok(DomainEvents::Packed),
                "off" | "false" => Ok(DomainEvents::Off),
                _ => Err(format!(
                    "unknown INLET_DOMAIN_EVENTS `{name}`: expected each, packed or off"
                )),
            },
        }
    }
}

/// Past a second a linger is a delay, not a batching window.
const MAX_BATCH_LINGER_MS: u64 = 1_000;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            broker: BrokerSettings::default(),
            database: DatabaseSettings::default(),
            prefetch: 256,
            batch_size: 64,
            batch_linger_ms: 5,
            domain_events: DomainEvents::Each,
            worker_metrics_addr: "127.0.0.1:9091".into(),
            publish_timeout_ms: 5_000,
            shutdown_timeout_secs: 30,
            log_format: LogFormat::Pretty,
            forward: ForwardSettings::default(),
            delivery: DeliverySettings::default(),
            opt_out_keywords: Vec::new(),
            opt_in_keywords: Vec::new(),
            queue_metrics_interval_secs: 5,
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

    /// Fails, naming the variable, when the worker could not do its job.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.prefetch == 0 {
            return Err(SettingsError::Bad {
                name: "INLET_PREFETCH",
                reason: "must be at least 1".into(),
            });
        }
        if self.batch_size == 0 {
            return Err(SettingsError::Bad {
                name: "INLET_BATCH_SIZE",
                reason: "must be at least 1".into(),
            });
        }
        if self.batch_linger_ms > MAX_BATCH_LINGER_MS {
            return Err(SettingsError::Bad {
                name: "INLET_BATCH_LINGER_MS",
                reason: format!(
                    "must be at most {MAX_BATCH_LINGER_MS} (every event may wait this long)"
                ),
            });
        }
        if self.database.database_pool_size == 0 {
            return Err(SettingsError::Bad {
                name: "INLET_DATABASE_POOL_SIZE",
                reason: "must be at least 1".into(),
            });
        }
        if self.queue_metrics_interval_secs == 0 {
            return Err(SettingsError::Bad {
                name: "INLET_QUEUE_METRICS_INTERVAL_SECS",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{DomainEvents, Settings};
    use figment::providers::Serialized;
    use figment::Figment;

    /// Reads `INLET_DOMAIN_EVENTS=<text>` the way the settings loader's
    /// environment provider types a variable's text.
    fn from_env_text(text: &str) -> Result<DomainEvents, String> {
        let value: figment::value::Value = text.parse().expect("infallible");
        Figment::from(Serialized::default("domain_events", value))
            .extract_inner("domain_events")
            .map_err(|e| e.to_string())
    }

    #[test]
    fn domain_events_read_as_a_name_or_as_the_boolean_they_once_were() {
        for (text, want) in [
            ("each", DomainEvents::Each),
            ("packed", DomainEvents::Packed),
            ("Packed", DomainEvents::Packed),
            ("off", DomainEvents::Off),
            ("true", DomainEvents::Each),
            ("false", DomainEvents::Off),
        ] {
            assert_eq!(from_env_text(text).expect("reads"), want, "{text}");
        }
        let error = from_env_text("batched").expect_err("refused");
        assert!(error.contains("expected each, packed or off"), "{error}");
        let written = Figment::from(Serialized::defaults(Settings::default()))
            .extract_inner::<String>("domain_events")
            .expect("written as a name");
        assert_eq!(written, "each");
    }

    #[test]
    fn a_linger_longer_than_a_second_is_refused_by_name() {
        let mut settings = Settings::default();
        assert!(settings.validate().is_ok());
        settings.batch_linger_ms = 1_000;
        assert!(settings.validate().is_ok());
        settings.batch_linger_ms = 1_001;
        let error = settings.validate().expect_err("refused").to_string();
        assert!(error.contains("INLET_BATCH_LINGER_MS"), "{error}");
    }
}
