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
    /// `INLET_DELIVERY_DISABLE_AFTER_SECS`: an endpoint failing continuously this long is
    /// disabled; see [`DeliverySettings::streak_gap`] for "continuously".
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

    /// The longest quiet spell inside one failure streak: a failure that
    /// comes later than this after the previous one starts a new streak. It
    /// is the disable window, so a failure days after the last one does not
    /// disable an endpoint that has had nothing to receive meanwhile; but
    /// never less than the longest spacing of one delivery's own attempts
    /// (a timed-out request, the longest backoff, then a poll), so that a
    /// window shorter than the backoff cap cannot keep a dead endpoint enabled.
    pub fn streak_gap(&self) -> Duration {
        let retry_spacing = self.timeout()
            + Duration::from_millis(self.delivery_backoff_max_ms)
            + Duration::from_millis(self.delivery_poll_interval_ms);
        Duration::from_secs(self.delivery_disable_after_secs).max(retry_spacing)
    }
}

#[cfg(test)]
mod tests {
    use super::DeliverySettings;
    use std::time::Duration;

    #[test]
    fn a_streak_may_pause_as_long_as_the_disable_window() {
        let settings = DeliverySettings::default();
        assert_eq!(settings.streak_gap(), Duration::from_secs(24 * 60 * 60));
    }

    #[test]
    fn a_streak_may_always_pause_as_long_as_one_delivery_waits_between_attempts() {
        let settings = DeliverySettings {
            delivery_disable_after_secs: 60,
            ..DeliverySettings::default()
        };
        // 10 s timeout + 1 h backoff cap + 1 s poll.
        assert_eq!(settings.streak_gap(), Duration::from_secs(3_611));
    }
}
