//! Builds the worker: pool, migrations, consumer, probe server.

use crate::config::Settings;
use crate::consumer::Consumer;
use crate::metrics::Metrics;
use crate::server::Probe;
use anyhow::Context;
use inlet_domain::repository::Repository;
use inlet_domain::supervise::reconnect_delay;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A built worker, not yet consuming.
pub struct Worker {
    consumer: Arc<Consumer>,
    probe: Probe,
    shutdown: CancellationToken,
    /// Forwarding to customers' endpoints, when `INLET_DELIVERY_ENABLED`.
    forwarder: Option<crate::delivery::Forwarder>,
}

impl Worker {
    /// Creates the pool, starts the probe server, then applies migrations.
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let pool = settings.database.pool()?;
        let repo = Repository::new(pool);
        let metrics = Metrics::new().context("registering metrics")?;
        let probe = Probe::start(&settings.worker_metrics_addr, metrics.clone(), repo.clone())?;
        let (probe, forwarder) = probe
            .while_starting(async {
                migrate_unless_stopped(&repo, &shutdown).await?;
                if settings.delivery.delivery_enabled {
                    crate::delivery::Forwarder::build(&settings, repo.clone(), &metrics).map(Some)
                } else {
                    Ok(None)
                }
            })
            .await?;
        let consumer = Arc::new(Consumer::new(&settings, repo, metrics));
        Ok(Worker {
            consumer,
            probe,
            shutdown,
            forwarder,
        })
    }

    /// The port of the probe server.
    pub fn port(&self) -> u16 {
        self.probe.port()
    }

    /// Consumes until the shutdown token is cancelled and in-flight events finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let forwarder = self
            .forwarder
            .map(|f| tokio::spawn(f.run(self.shutdown.clone())));
        self.consumer.run(self.shutdown.clone()).await;
        if let Some(forwarder) = forwarder {
            forwarder.await?;
        }
        self.probe.stop().await
    }
}

/// Applies pending migrations, unless a shutdown comes first: another process
/// migrating holds the lock for as long as it takes, and a pod being stopped
/// meanwhile should not wait for it. A database that cannot be reached yet is
/// waited for (pods started during an outage would otherwise exit and be
/// restarted in a loop); a migration that fails for another reason is an error.
pub async fn migrate_unless_stopped(
    repo: &Repository,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let mut failures: u32 = 0;
    loop {
        let error = tokio::select! {
            migrated = repo.migrate() => match migrated {
                Ok(()) => return Ok(()),
                Err(error) if error.is_transient() => anyhow::Error::new(error),
                Err(error) => return Err(error).context("applying migrations"),
            },
            _ = shutdown.cancelled() => anyhow::bail!("stopped while waiting to migrate"),
        };
        failures = failures.saturating_add(1);
        let delay = reconnect_delay(failures);
        tracing::warn!(
            error = format!("{error:#}"),
            retry_in_ms = delay.as_millis() as u64,
            "Database unavailable for migrations; waiting."
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => anyhow::bail!("stopped while waiting for the database"),
        }
    }
}
