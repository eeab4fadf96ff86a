//! Builds the worker: pool, migrations, consumer, probe server.

use crate::config::Settings;
use crate::consumer::Consumer;
use crate::metrics::Metrics;
use crate::server;
use actix_web::dev::Server;
use anyhow::Context;
use inlet_domain::repository::Repository;
use std::net::TcpListener;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A built worker, not yet consuming.
pub struct Worker {
    consumer: Arc<Consumer>,
    server: Server,
    port: u16,
    shutdown: CancellationToken,
    /// Forwarding to customers' endpoints, when `INLET_DELIVERY_ENABLED`.
    forwarder: Option<crate::delivery::Forwarder>,
}

impl Worker {
    /// Creates the pool, applies migrations and binds the probe listener.
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let pool = settings.database.pool()?;
        let repo = Repository::new(pool);
        repo.migrate().await.context("applying migrations")?;
        let metrics = Metrics::new().context("registering metrics")?;
        let listener = TcpListener::bind(&settings.worker_metrics_addr).with_context(|| {
            format!(
                "binding INLET_WORKER_METRICS_ADDR {}",
                settings.worker_metrics_addr
            )
        })?;
        let port = listener.local_addr()?.port();
        let server = server::build(listener, metrics.clone(), repo.clone())?;
        let forwarder = if settings.delivery.delivery_enabled {
            Some(crate::delivery::Forwarder::build(
                &settings,
                repo.clone(),
                &metrics,
            )?)
        } else {
            None
        };
        let consumer = Arc::new(Consumer::new(&settings, repo, metrics));
        Ok(Worker {
            consumer,
            server,
            port,
            shutdown,
            forwarder,
        })
    }

    /// The port of the probe server.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Consumes until the shutdown token is cancelled and in-flight events finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        let forwarder = self
            .forwarder
            .map(|f| tokio::spawn(f.run(self.shutdown.clone())));
        self.consumer.run(self.shutdown.clone()).await;
        if let Some(forwarder) = forwarder {
            forwarder.await?;
        }
        handle.stop(true).await;
        server.await??;
        Ok(())
    }
}
