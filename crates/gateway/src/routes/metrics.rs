//! `GET /metrics`: Prometheus text exposition, on the ingest listener (unless
//! `INLET_METRICS_ON_INGEST` is false) and on the management listener.

use crate::metrics::Metrics;
use crate::startup::AppState;
use actix_web::{web, HttpResponse};

/// Renders every gateway metric (ingest listener).
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    render(&state.metrics)
}

/// Renders every gateway metric (management listener).
pub async fn internal(metrics: web::Data<Metrics>) -> HttpResponse {
    render(&metrics)
}

fn render(metrics: &Metrics) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render())
}
