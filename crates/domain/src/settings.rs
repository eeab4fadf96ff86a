//! Settings sections shared by both binaries, and the one loader they use.
//!
//! Layering, lowest first: defaults in code, then the TOML file named by
//! `INLET_CONFIG` (if set), then `INLET_*` environment variables. This module is
//! the only place that reads the environment.

use crate::broker::{QueueType, Topology};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Uncased, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A secret value (app secret, token, key): never printed, never logged.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it (an HMAC key).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no value was given.
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// The comma-separated parts of the value, trimmed, empty ones dropped
    /// (several secrets at once, for rotation).
    pub fn split_list(&self) -> Vec<Secret> {
        self.0
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .collect()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A TOML file may give a number (`verify_token = 123456`), and so may
        // a variable, but only one that prints as written ([`Variables`]):
        // its text is the secret.
        struct V;
        impl Visitor<'_> for V {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Settings could not be loaded or are invalid.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A file or variable could not be read into the settings struct.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// A required setting is missing.
    #[error("{0} must be set")]
    Missing(&'static str),
    /// A setting has a value that cannot work.
    #[error("{name} is invalid: {reason}")]
    Bad {
        /// The environment variable's name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Loads a binary's settings: `defaults` < `INLET_CONFIG` file < `INLET_*` variables.
pub fn load<T: Serialize + DeserializeOwned>(defaults: T) -> Result<T, SettingsError> {
    let file = std::env::var("INLET_CONFIG").ok();
    let variables = Env::prefixed("INLET_").ignore(&["config"]);
    load_from(
        defaults,
        file.as_deref(),
        Variables(variables.iter().collect()),
    )
}

/// [`load`] with the file and the variables given.
fn load_from<T: Serialize + DeserializeOwned>(
    defaults: T,
    file: Option<&str>,
    variables: Variables,
) -> Result<T, SettingsError> {
    let mut figment = Figment::from(Serialized::defaults(defaults));
    if let Some(path) = file {
        figment = figment.merge(Toml::file_exact(path));
    }
    figment
        .merge(variables)
        .extract()
        .map_err(|e| SettingsError::Invalid(Box::new(e)))
}

/// The `INLET_*` variables (names lowercased, without the prefix) and their
/// text. figment's own provider parses every value, so `0123456` became the
/// number 123456, `1.50` became 1.5 and `"x"` became `x`: a secret or a
/// verify token that looks like a number or a quoted string was silently
/// changed. Here a value is parsed only when that loses nothing (lists,
/// tables, integers and booleans written the way they print); any other
/// value stays exactly its text.
struct Variables(Vec<(Uncased<'static>, String)>);

impl Provider for Variables {
    fn metadata(&self) -> Metadata {
        Metadata::named("`INLET_` environment variable(s)")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (name, text) in &self.0 {
            dict.insert(name.as_str().to_owned(), parsed_if_exact(text));
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// `text` parsed, when the parsed value is exactly what was written; its text
/// otherwise. (No setting is a float, so floats, which print differently from
/// how they are often written, stay text.)
fn parsed_if_exact(text: &str) -> Value {
    let parsed: Value = match text.parse() {
        Ok(value) => value,
        Err(never) => match never {},
    };
    let exact = match &parsed {
        Value::Array(..) | Value::Dict(..) => true,
        Value::Bool(_, b) => b.to_string() == text,
        Value::Num(_, n) => {
            let printed = n.to_u128().map(|v| v.to_string());
            let printed = printed.or_else(|| n.to_i128().map(|v| v.to_string()));
            printed.as_deref() == Some(text)
        }
        _ => false,
    };
    if exact {
        parsed
    } else {
        Value::from(text.to_owned())
    }
}

/// RabbitMQ connection and topology settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct BrokerSettings {
    /// `INLET_AMQP_URL`: the broker to use.
    pub amqp_url: String,
    /// `INLET_QUEUE_TYPE`: `quorum` (default) or `classic`.
    pub queue_type: QueueType,
    /// `INLET_TOPOLOGY_PREFIX`: prefix of every exchange and queue name.
    pub topology_prefix: String,
    /// `INLET_RETRY_DELAYS_SECS`: the wait before each retry; its length is the
    /// number of retries (default: 7 retries, so 8 attempts over about an hour).
    pub retry_delays_secs: Vec<u64>,
    /// `INLET_DELIVERY_LIMIT`: broker-side redelivery cap on the work queue.
    pub delivery_limit: u32,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        BrokerSettings {
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            queue_type: QueueType::Quorum,
            topology_prefix: String::new(),
            retry_delays_secs: vec![5, 30, 120, 300, 600, 1200, 1800],
            delivery_limit: 20,
        }
    }
}

impl BrokerSettings {
    /// The topology these settings describe.
    pub fn topology(&self) -> Topology {
        let delays = self
            .retry_delays_secs
            .iter()
            .map(|s| Duration::from_secs(*s))
            .collect();
        Topology::new(
            self.topology_prefix.clone(),
            self.queue_type,
            delays,
            self.delivery_limit,
        )
    }
}

/// PostgreSQL settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `INLET_DATABASE_URL`: the database to use.
    pub database_url: String,
    /// `INLET_DATABASE_POOL_SIZE`: connections per process.
    pub database_pool_size: usize,
    /// `INLET_DATABASE_TIMEOUT_MS`: how long to wait for a pooled connection.
    pub database_timeout_ms: u64,
    /// `INLET_DATABASE_TCP_TIMEOUT_MS`: how long data sent on a connection may
    /// go unacknowledged before the connection is given up (`TCP_USER_TIMEOUT`);
    /// 0 leaves it to the URL's `tcp_user_timeout` (seconds) or the kernel.
    pub database_tcp_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            database_url: "postgres://postgres@127.0.0.1:5432/inlet".into(),
            database_pool_size: 16,
            database_timeout_ms: 5_000,
            database_tcp_timeout_ms: 30_000,
        }
    }
}

impl DatabaseSettings {
    /// Builds the connection pool (connections open lazily, on first use).
    pub fn pool(&self) -> Result<Pool, SettingsError> {
        let mut config: tokio_postgres::Config =
            self.database_url
                .parse()
                .map_err(|e: tokio_postgres::Error| SettingsError::Bad {
                    name: "INLET_DATABASE_URL",
                    reason: e.to_string(),
                })?;
        // A server that vanished without closing (its host died, a partition,
        // a failover to another machine) otherwise leaves the connection
        // waiting for the kernel to give up, about fifteen minutes, with the
        // batch it was storing and the deliveries held for it stalled. An
        // answer may take long; the acknowledgement of what was sent may not.
        if self.database_tcp_timeout_ms > 0 {
            config.tcp_user_timeout(Duration::from_millis(self.database_tcp_timeout_ms));
        }
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let wait = Duration::from_millis(self.database_timeout_ms);
        Pool::builder(manager)
            .max_size(self.database_pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(wait))
            .create_timeout(Some(wait))
            .recycle_timeout(Some(wait))
            .build()
            .map_err(|e| SettingsError::Bad {
                name: "INLET_DATABASE_URL",
                reason: e.to_string(),
            })
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, Default)]
    #[serde(default)]
    struct Section {
        limit: u64,
        secret: Secret,
    }

    // As the binaries' settings are: sections flattened in (serde reads them
    // through its buffered content, which does not turn text into numbers).
    #[derive(Debug, Serialize, Deserialize, Default)]
    #[serde(default)]
    struct Sample {
        #[serde(flatten)]
        section: Section,
        token: Secret,
        key: Secret,
        ratio: Secret,
        quoted: Secret,
        port: u16,
        enabled: bool,
        delays: Vec<u64>,
        words: Vec<String>,
    }

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        Variables(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned().into(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_variable_is_kept_as_written_and_numbers_flags_and_lists_still_read() {
        let loaded: Sample = load_from(
            Sample::default(),
            None,
            vars(&[
                ("token", "0123456"),
                ("key", "+15550783881"),
                ("ratio", "1.50"),
                ("quoted", "\"s3cret\""),
                ("port", "8080"),
                ("enabled", "true"),
                ("delays", "[5, 30]"),
                ("words", "[ARRET, BAJA]"),
                ("limit", "42"),
                ("secret", "007"),
            ]),
        )
        .expect("settings load");
        assert_eq!(loaded.token.expose(), "0123456");
        assert_eq!(loaded.key.expose(), "+15550783881");
        assert_eq!(loaded.ratio.expose(), "1.50");
        assert_eq!(loaded.quoted.expose(), "\"s3cret\"");
        assert_eq!(loaded.port, 8080);
        assert!(loaded.enabled);
        assert_eq!(loaded.delays, vec![5, 30]);
        assert_eq!(loaded.words, vec!["ARRET".to_owned(), "BAJA".to_owned()]);
        assert_eq!(loaded.section.limit, 42);
        assert_eq!(loaded.section.secret.expose(), "007");
    }

    #[test]
    fn a_variable_that_is_not_a_number_where_one_is_needed_is_refused() {
        let loaded = load_from(Sample::default(), None, vars(&[("port", "eighty")]));
        assert!(matches!(loaded, Err(SettingsError::Invalid(_))));
    }
}
