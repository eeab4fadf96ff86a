//! Every metric the worker exports, defined in one place.

use inlet_domain::Provider;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// The worker's metrics, on a registry of its own.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `inlet_worker_events_total{provider,event_type,outcome}`.
    pub events: IntCounterVec,
    /// `inlet_worker_handler_duration_seconds{event_type}`.
    pub handler_duration: HistogramVec,
    /// `inlet_worker_end_to_end_seconds`: gateway receipt until stored, announced and acked.
    pub end_to_end: Histogram,
    /// `inlet_worker_retries_total{provider}`.
    pub retries: IntCounterVec,
    /// `inlet_worker_dead_letters_total{provider}`.
    pub dead_letters: IntCounterVec,
    /// `inlet_queue_messages{queue}`.
    pub queue_messages: IntGaugeVec,
    /// `inlet_worker_db_pool_in_use`.
    pub db_pool_in_use: IntGauge,
    /// `inlet_worker_db_pool_waiting`.
    pub db_pool_waiting: IntGauge,
    /// `inlet_worker_broker_connected`.
    pub broker_connected: IntGauge,
    /// `inlet_worker_starting`: 1 until migrations are applied.
    pub starting: IntGauge,
    /// Forwarding to customers' endpoints.
    pub delivery: DeliveryMetrics,
}

const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0,
];

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let events = IntCounterVec::new(
            Opts::new(
                "inlet_worker_events_total",
                "Events taken in, by provider, event type and outcome.",
            ),
            &["provider", "event_type", "outcome"],
        )?;
        let handler_duration = HistogramVec::new(
            HistogramOpts::new(
                "inlet_worker_handler_duration_seconds",
                "Time from the start of the batch a raw event was stored in to its settling (decode, one transaction for the batch, downstream publishes, ack), by event type: a batch's events share it.",
            )
            .buckets(BUCKETS.to_vec()),
            &["event_type"],
        )?;
        let end_to_end = Histogram::with_opts(
            HistogramOpts::new(
                "inlet_worker_end_to_end_seconds",
                "Time from gateway receipt until the event is stored and its domain events confirmed by the broker (when it is acked).",
            )
            .buckets(BUCKETS.to_vec()),
        )?;
        let retries = IntCounterVec::new(
            Opts::new(
                "inlet_worker_retries_total",
                "Events scheduled for a retry.",
            ),
            &["provider"],
        )?;
        let dead_letters = IntCounterVec::new(
            Opts::new("inlet_worker_dead_letters_total", "Events dead-lettered."),
            &["provider"],
        )?;
        let queue_messages = IntGaugeVec::new(
            Opts::new(
                "inlet_queue_messages",
                "Messages ready in each Inlet queue.",
            ),
            &["queue"],
        )?;
        let db_pool_in_use = IntGauge::new(
            "inlet_worker_db_pool_in_use",
            "Database connections handed out.",
        )?;
        let db_pool_waiting = IntGauge::new(
            "inlet_worker_db_pool_waiting",
            "Tasks waiting for a database connection.",
        )?;
        let broker_connected = IntGauge::new(
            "inlet_worker_broker_connected",
            "1 while the worker is connected and consuming.",
        )?;
        // Set from the start, so that a worker waiting for the migration lock
        // or the database is told apart from one that lost its broker.
        let starting = IntGauge::new(
            "inlet_worker_starting",
            "1 while the worker waits to apply migrations (another process's lock, or the database unreachable), before it consumes.",
        )?;
        starting.set(1);
        for c in [
            Box::new(events.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(handler_duration.clone()),
            Box::new(end_to_end.clone()),
            Box::new(retries.clone()),
            Box::new(dead_letters.clone()),
            Box::new(queue_messages.clone()),
            Box::new(db_pool_in_use.clone()),
            Box::new(db_pool_waiting.clone()),
            Box::new(broker_connected.clone()),
            Box::new(starting.clone()),
        ] {
            registry.register(c)?;
        }
        // Each provider's series exists at 0 from the start, so `increase()`
        // sees a worker's first retry or dead letter (a series that appears
        // already at 1 shows no increase).
        for provider in Provider::ALL.iter().map(|p| p.as_str()).chain(["unknown"]) {
            retries.with_label_values(&[provider]);
            dead_letters.with_label_values(&[provider]);
        }
        let delivery = DeliveryMetrics::register(&registry)?;
        Ok(Metrics {
            registry,
            events,
            handler_duration,
            end_to_end,
            retries,
            dead_letters,
            queue_messages,
            db_pool_in_use,
            db_pool_waiting,
            broker_connected,
            starting,
            delivery,
        })
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Forwarding metrics: attempts by outcome, their duration, endpoints disabled.
#[derive(Clone)]
pub struct DeliveryMetrics {
    /// `inlet_delivery_attempts_total{outcome}`: `success`, `retry` or `failed`.
    pub attempts: IntCounterVec,
    /// `inlet_delivery_duration_seconds`: one attempt, request to answer.
    pub duration: Histogram,
    /// `inlet_delivery_endpoints_disabled_total`: endpoints disabled for failing too long.
    pub endpoints_disabled: prometheus::IntCounter,
    /// `inlet_delivery_fanout_dropped_total`: deliveries-queue messages dropped
    /// because they could never be fanned out (unreadable, or refused by the
    /// database for a reason a retry cannot fix): their events reach no endpoint.
    pub fanout_dropped: prometheus::IntCounter,
}

impl DeliveryMetrics {
    /// Creates the forwarding metrics on `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let attempts = IntCounterVec::new(
            Opts::new(
                "inlet_delivery_attempts_total",
                "Delivery attempts to customer endpoints, by outcome.",
            ),
            &["outcome"],
        )?;
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "inlet_delivery_duration_seconds",
                "Time of one delivery attempt, request to answer.",
            )
            .buckets(BUCKETS.to_vec()),
        )?;
        let endpoints_disabled = prometheus::IntCounter::new(
            "inlet_delivery_endpoints_disabled_total",
            "Endpoints disabled after failing continuously for too long.",
        )?;
        let fanout_dropped = prometheus::IntCounter::new(
            "inlet_delivery_fanout_dropped_total",
            "Deliveries-queue messages dropped because they could never be fanned out; their events reach no endpoint.",
        )?;
        registry.register(Box::new(attempts.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(endpoints_disabled.clone()))?;
        registry.register(Box::new(fanout_dropped.clone()))?;
        Ok(DeliveryMetrics {
            attempts,
            duration,
            endpoints_disabled,
            fanout_dropped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_providers_retry_and_dead_letter_series_is_exported_at_zero_from_the_start() {
        let text = Metrics::new().expect("metrics").render();
        for provider in ["meta", "openphone", "bridge", "standard", "unknown"] {
            for name in [
                "inlet_worker_retries_total",
                "inlet_worker_dead_letters_total",
            ] {
                let line = format!("{name}{{provider=\"{provider}\"}} 0");
                assert!(text.contains(&line), "{line} missing from:\n{text}");
            }
        }
    }
}
