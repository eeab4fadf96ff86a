//! The worker's small HTTP server: `/metrics`, `/healthz`, `/readyz`.

use crate::metrics::Metrics;
use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use inlet_domain::repository::Repository;
use serde_json::json;
use std::net::TcpListener;

struct ProbeState {
    metrics: Metrics,
    repo: Repository,
}

/// Builds the server on an already-bound listener.
pub fn build(listener: TcpListener, metrics: Metrics, repo: Repository) -> std::io::Result<Server> {
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

/// Ready while consuming from the broker and the database answers.
async fn readyz(state: web::Data<ProbeState>) -> HttpResponse {
    let broker = state.metrics.broker_connected.get() == 1;
    let database = state.repo.ping().await.is_ok();
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
