//! The delivery consumer's and sender's settings.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How deliveries are fanned out and sent; flattened into the worker's settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliverySettings {
    /// `INLET_DELIVERY_ENABLED`: also forward inside `inlet-worker run`
    /// (`inlet-worker deliver` forwards regardless).
    pub delivery_enabled: bool,
    /// `INLET_DELIVERY_TIMEOUT_MS`: the whole request to an endpoint, body included.
    pub delivery_timeout_ms: u64,
    /// `INLET_DELIVERY_BACKOFF_BASE_MS`: wait before the first retry; doubles each time.
    pub delivery_backoff_base_ms: u64,
    /// `INLET_DELIVERY_BACKOFF_MAX_MS`: longest wait between attempts (also caps `Retry-After`).
    pub delivery_backoff_max_ms: u64,
    /// `INLET_DELIVERY_CONCURRENCY`: requests in flight per worker.
    pub delivery_concurrency: usize,
    /// `INLET_DELIVERY_ENDPOINT_CONCURRENCY`: requests in flight per endpoint, across workers.
    pub delivery_endpoint_concurrency: u32,
    /// `INLET_DELIVERY_POLL_INTERVAL_MS`: how often due retries are looked for.
    pub delivery_poll_interval_ms: u64,
    /// `INLET_DELIVERY_DISABLE_AFTER_SECS`: an endpoint failing continuously this long is disabled.
    pub delivery_disable_after_secs: u64,
    /// `INLET_DELIVERY_PREFETCH`: messages from `inlet.deliveries` held at once (each a worker batch).
    pub delivery_prefetch: u16,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            delivery_enabled: true,
            delivery_timeout_ms: 10_000,
            delivery_backoff_base_ms: 5_000,
            delivery_backoff_max_ms: 60 * 60 * 1_000,
            delivery_concurrency: 32,
            delivery_endpoint_concurrency: 4,
            delivery_poll_interval_ms: 1_000,
            delivery_disable_after_secs: 24 * 60 * 60,
            delivery_prefetch: 256,
        }
    }
}

impl DeliverySettings {
    /// The request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.delivery_timeout_ms)
    }

    /// How long a claim lasts: a request's timeout plus room to record it, so a
    /// live worker never loses its claim and a dead one's is soon taken over.
    pub fn lease(&self) -> Duration {
        self.timeout() + Duration::from_secs(30)
    }
}
