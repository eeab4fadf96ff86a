//! The worker's small HTTP server: `/metrics`, `/healthz`, `/readyz`.

use crate::metrics::Metrics;
use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use inlet_domain::repository::Repository;
use serde_json::json;
use std::net::TcpListener;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The probe server, serving from the moment it is started: before
/// migrations, which may wait on another process's lock for as long as that
/// one migrates, so that liveness probes find the process alive meanwhile
/// (`/readyz` answers 503 until it consumes).
pub struct Probe {
    port: u16,
    starting: prometheus::IntGauge,
    handle: ServerHandle,
    task: JoinHandle<std::io::Result<()>>,
}

impl Probe {
    /// Binds `addr` (`INLET_WORKER_METRICS_ADDR`) and serves on it.
    pub fn start(addr: &str, metrics: Metrics, repo: Repository) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .with_context(|| format!("binding INLET_WORKER_METRICS_ADDR {addr}"))?;
        let port = listener.local_addr()?.port();
        let starting = metrics.starting.clone();
        let server = build(listener, metrics, repo)?;
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok(Probe {
            port,
            starting,
            handle,
            task,
        })
    }

    /// Waits for `starting` (migrations, wiring) while serving probes; if it
    /// fails, stops serving and returns its error.
    pub async fn while_starting<T>(
        self,
        starting: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<(Self, T)> {
        match starting.await {
            Ok(started) => {
                self.starting.set(0);
                Ok((self, started))
            }
            Err(error) => {
                let _ = self.stop().await;
                Err(error)
            }
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops serving, letting probes being answered finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.handle.stop(true).await;
        self.task.await??;
        Ok(())
    }
}

struct ProbeState {
    metrics: Metrics,
    repo: Repository,
}

/// Builds the server on an already-bound listener.
fn build(listener: TcpListener, metrics: Metrics, repo: Repository) -> std::io::Result<Server> {
    let state = web::Data::new(ProbeState { metrics, repo });
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(render))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
    })
    .listen(listener)?
    .workers(1)
    .disable_signals()
    .run())
}

async fn render(state: web::Data<ProbeState>) -> HttpResponse {
    let status = state.repo.pool().status();
    state
        .metrics
        .db_pool_in_use
        .set((status.size - status.available) as i64);
    state.metrics.db_pool_waiting.set(status.waiting as i64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// How long `/readyz` waits for a connection to ping on: below the probes'
/// timeout (2 s in deploy/k8s), or a busy worker would time out and be
/// taken for an unready one.
const PING_WAIT: Duration = Duration::from_millis(1_000);

/// Ready while consuming from the broker and the database answers.
async fn readyz(state: web::Data<ProbeState>) -> HttpResponse {
    let broker = state.metrics.broker_connected.get() == 1;
    let database = database_answers(&state.repo).await;
    let body = json!({
        "status": if broker && database { "ready" } else { "unavailable" },
        "broker": broker,
        "database": database,
    });
    if broker && database {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Whether the database answers a ping. When every connection of a full pool
/// is in use (storing batches, recording deliveries) and none frees up in
/// time, the pool is busy with the database, which is as good an answer; a
/// ping on an idle connection must answer in time.
async fn database_answers(repo: &Repository) -> bool {
    let status = repo.pool().status();
    let busy = status.available == 0 && status.size >= status.max_size;
    match tokio::time::timeout(PING_WAIT, repo.ping()).await {
        Ok(pinged) => pinged.is_ok(),
        Err(_) => busy,
    }
}
