//! `GET /metrics`: Prometheus text exposition.

use crate::startup::AppState;
use actix_web::{web, HttpResponse};

/// Renders every gateway metric.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
