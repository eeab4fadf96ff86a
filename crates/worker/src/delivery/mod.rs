//! Forwarding to customers' endpoints: the delivery consumer.
//!
//! ```text
//! worker batch ──(default exchange)──► {p}inlet.deliveries ──► fanout: one row per (event, endpoint)
//!                                                            │ wakes
//!   forward_deliveries (endpoint_id, next_attempt_at) ◄── scheduler: claim due rows (SKIP LOCKED),
//!                                                        per enabled endpoint; sign, POST,
//!                                                        log the attempt, back off
//! ```
//!
//! - [`fanout`]: consumes domain events and records deliveries, idempotently.
//! - [`scheduler`]: claims due deliveries and records each attempt.
//! - [`sender`]: signs (Standard Webhooks), POSTs and classifies the answer.
//! - [`backoff`]: exponential backoff with jitter, `Retry-After`.
//! - [`settings`]: the `INLET_DELIVERY_*` settings.
//!
//! Runs inside `inlet-worker run` (when `INLET_DELIVERY_ENABLED`) or alone
//! as `inlet-worker deliver`.

pub mod backoff;
pub mod fanout;
pub mod scheduler;
pub mod sender;
pub mod settings;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::server::Probe;
use crate::startup::migrate_unless_stopped;
use anyhow::Context;
use backoff::Backoff;
use fanout::FanOut;
use inlet_domain::repository::Repository;
use scheduler::Scheduler;
use sender::Sender;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The fan-out consumer and the send loop, built and ready to run.
pub struct Forwarder {
    fan_out: Arc<FanOut>,
    scheduler: Arc<Scheduler>,
}

impl Forwarder {
    /// Wires the consumer and the scheduler from the worker's settings, to
    /// run beside the event consumer.
    pub fn build(settings: &Settings, repo: Repository, metrics: &Metrics) -> anyhow::Result<Self> {
        Self::wire(settings, repo, metrics, false)
    }

    /// `reports_connection`: whether the fan-out's connection is the one
    /// `/readyz` and BrokerUnavailable watch (when it runs alone).
    fn wire(
        settings: &Settings,
        repo: Repository,
        metrics: &Metrics,
        reports_connection: bool,
    ) -> anyhow::Result<Self> {
        let d = &settings.delivery;
        let wake = Arc::new(Notify::new());
        let sender =
            Sender::new(d.timeout(), settings.forward.policy()).context("building the sender")?;
        let fan_out = Arc::new(FanOut {
            amqp_url: settings.broker.amqp_url.clone(),
            topology: settings.broker.topology(),
            prefetch: d.delivery_prefetch.max(1),
            batch_size: usize::from(settings.batch_size),
            repo: repo.clone(),
            wake: wake.clone(),
            metrics: metrics.clone(),
            queue_metrics_interval: Duration::from_secs(settings.queue_metrics_interval_secs),
            reports_connection,
        });
        let scheduler = Arc::new(Scheduler {
            repo,
            sender,
            backoff: Backoff {
                base: Duration::from_millis(d.delivery_backoff_base_ms),
                max: Duration::from_millis(d.delivery_backoff_max_ms),
            },
            concurrency: d.delivery_concurrency,
            per_endpoint: d.delivery_endpoint_concurrency,
            lease: d.lease(),
            poll_interval: Duration::from_millis(d.delivery_poll_interval_ms.max(10)),
            disable_after: Duration::from_secs(d.delivery_disable_after_secs),
            streak_gap: d.streak_gap(),
            metrics: metrics.delivery.clone(),
            wake,
            shutdown_timeout: Duration::from_secs(settings.shutdown_timeout_secs),
        });
        Ok(Forwarder { fan_out, scheduler })
    }

    /// Fans out and sends until the token is cancelled and in-flight sends end.
    pub async fn run(self, shutdown: CancellationToken) {
        tokio::join!(
            self.fan_out.run(shutdown.clone()),
            self.scheduler.run(shutdown)
        );
    }
}

/// `inlet-worker deliver`: the forwarder alone, with its probe server.
pub async fn run_standalone(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let repo = Repository::new(settings.database.pool()?);
    let metrics = Metrics::new().context("registering metrics")?;
    let probe = Probe::start(&settings.worker_metrics_addr, metrics.clone(), repo.clone())?;
    let (probe, forwarder) = probe
        .while_starting(async {
            migrate_unless_stopped(&repo, &shutdown).await?;
            Forwarder::wire(&settings, repo.clone(), &metrics, true)
        })
        .await?;
    forwarder.run(shutdown).await;
    probe.stop().await
}
