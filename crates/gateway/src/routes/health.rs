//! Liveness and readiness probes.

use crate::startup::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;

/// `GET /healthz`: the process is alive and serving.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: ready while a confirm channel to the broker is open.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let broker = state.publisher.is_ready();
    let body = json!({"status": if broker { "ready" } else { "unavailable" }, "broker": broker});
    if broker {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
