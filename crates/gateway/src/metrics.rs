//! Every metric the gateway exports, defined in one place.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The gateway's metrics, registered on a registry of its own (so tests can
/// build several apps in one process).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `inlet_gateway_requests_total{provider,outcome}`.
    pub requests: IntCounterVec,
    /// `inlet_gateway_request_duration_seconds{provider}`.
    pub request_duration: HistogramVec,
    /// `inlet_gateway_publish_duration_seconds`.
    pub publish_duration: Histogram,
    /// `inlet_gateway_events_per_publish`: events in each broker message (packs).
    pub events_per_publish: Histogram,
    /// `inlet_gateway_signature_format_total{provider,format}`.
    pub signature_format: IntCounterVec,
    /// `inlet_gateway_dedup_available` (1 when Redis answers).
    pub dedup_available: IntGauge,
    /// `inlet_gateway_broker_connected` (1 while a confirm channel is open).
    pub broker_connected: IntGauge,
}

// Latency buckets in seconds: webhook answers live between a millisecond and
// a few seconds (the confirm timeout).
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "inlet_gateway_requests_total",
                "Webhook requests by provider and outcome.",
            ),
            &["provider", "outcome"],
        )?;
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "inlet_gateway_request_duration_seconds",
                "Time from request start to answer, by provider.",
            )
            .buckets(BUCKETS.to_vec()),
            &["provider"],
        )?;
        let publish_duration = Histogram::with_opts(
            HistogramOpts::new(
                "inlet_gateway_publish_duration_seconds",
                "Time from publish to broker confirm.",
            )
            .buckets(BUCKETS.to_vec()),
        )?;
        let events_per_publish = Histogram::with_opts(
            HistogramOpts::new(
                "inlet_gateway_events_per_publish",
                "Events in each message published (several travel as one pack).",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
        )?;
        let signature_format = IntCounterVec::new(
            Opts::new(
                "inlet_gateway_signature_format_total",
                "Verified requests by provider and signature format.",
            ),
            &["provider", "format"],
        )?;
        let dedup_available = IntGauge::new(
            "inlet_gateway_dedup_available",
            "1 when the dedup store (Redis) answers, 0 while failing open.",
        )?;
        let broker_connected = IntGauge::new(
            "inlet_gateway_broker_connected",
            "1 while the gateway holds an open confirm channel to the broker.",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_duration.clone()))?;
        registry.register(Box::new(publish_duration.clone()))?;
        registry.register(Box::new(events_per_publish.clone()))?;
        registry.register(Box::new(signature_format.clone()))?;
        registry.register(Box::new(dedup_available.clone()))?;
        registry.register(Box::new(broker_connected.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            request_duration,
            publish_duration,
            events_per_publish,
            signature_format,
            dedup_available,
            broker_connected,
        })
    }

    /// Counts one answered request.
    pub fn count(&self, provider: &str, outcome: &str) {
        self.requests.with_label_values(&[provider, outcome]).inc();
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
