//! The management API for forwarding: clients manage their endpoints and
//! read their delivery logs. Its own listener (`INLET_ADMIN_ADDR`), never the
//! public ingest port, and the only part of the gateway that uses PostgreSQL:
//! when the database is down it answers 503 and ingest is unaffected. Being
//! internal, the listener also serves the gateway's `/metrics`.
//!
//! - [`auth`]: bearer tokens, the authenticating middleware and the
//!   [`auth::ClientId`] extractor.
//! - [`clients`]: managing clients (the CLI's `clients create|list|rotate|revoke`).
//! - [`endpoints`], [`deliveries`]: the handlers.
//! - [`views`]: request and response bodies.
//! - [`error`]: `{error, message}` answers with stable codes.
//! - [`openapi`]: the served OpenAPI document (`docs/openapi.json`).

pub mod auth;
pub mod clients;
pub mod deliveries;
pub mod endpoints;
pub mod error;
pub mod openapi;
pub mod views;

use crate::config::Settings;
use crate::metrics::Metrics;
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use error::AdminError;
use inlet_domain::forward::target::TargetPolicy;
use inlet_domain::repository::Repository;
use serde_json::json;
use std::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What the management handlers share.
pub struct AdminState {
    /// The database.
    pub repo: Repository,
    /// Which endpoint URLs are allowed.
    pub policy: TargetPolicy,
    /// How long a rotated-out secret keeps signing.
    pub secret_grace: chrono::Duration,
}

/// The management API, bound, not yet running.
pub struct AdminApp {
    port: u16,
    server: Server,
}

/// Largest management request body: endpoints are small.
const BODY_LIMIT: usize = 64 * 1024;

impl AdminApp {
    /// Binds `INLET_ADMIN_ADDR` (port 0 picks a free one) and wires the routes.
    /// The database is reached lazily, per request.
    pub fn build(
        settings: &Settings,
        repo: Repository,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        if settings.admin_addr == settings.gateway_addr && !settings.admin_addr.ends_with(":0") {
            anyhow::bail!("INLET_ADMIN_ADDR must differ from INLET_GATEWAY_ADDR");
        }
        let listener = TcpListener::bind(&settings.admin_addr)
            .with_context(|| format!("binding INLET_ADMIN_ADDR {}", settings.admin_addr))?;
        let port = listener.local_addr()?.port();
        let grace = i64::try_from(settings.forward.forward_secret_grace_secs).unwrap_or(i64::MAX);
        let state = web::Data::new(AdminState {
            repo,
            policy: settings.forward.policy(),
            secret_grace: chrono::Duration::try_seconds(grace)
                .context("INLET_FORWARD_SECRET_GRACE_SECS is too large")?,
        });
        let metrics = web::Data::new(metrics);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(metrics.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(BODY_LIMIT)
                        .error_handler(|e, _| AdminError::InvalidRequest(e.to_string()).into()),
                )
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|e, _| AdminError::InvalidRequest(e.to_string()).into()),
                )
                // An id that is not a UUID names nothing.
                .app_data(
                    web::PathConfig::default().error_handler(|_, _| AdminError::NotFound.into()),
                )
                .configure(routes)
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        .workers(2)
        .disable_signals()
        .shutdown_timeout(10)
        .run();
        let handle = server.handle();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            handle.stop(true).await;
        });
        Ok(AdminApp { port, server })
    }

    /// The port the listener is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the shutdown token is cancelled and in-flight requests end.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The management routes, for [`AdminApp`] (and any test app).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        // The gateway's metrics, on this internal listener whatever
        // INLET_METRICS_ON_INGEST says.
        .route("/metrics", web::get().to(crate::routes::metrics::internal))
        .route("/v1/openapi.json", web::get().to(openapi::openapi))
        .service(
            // Everything else under /v1 needs a client's token, unknown
            // paths included: without one, nothing says which routes exist.
            web::scope("/v1")
                .wrap(from_fn(auth::authenticate))
                .configure(client_routes),
        );
}

/// The routes a client's token opens, under `/v1`.
fn client_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/endpoints")
            .route(web::post().to(endpoints::create))
            .route(web::get().to(endpoints::list)),
    )
    .service(
        web::resource("/endpoints/{id}")
            .route(web::get().to(endpoints::get))
            .route(web::patch().to(endpoints::patch))
            .route(web::delete().to(endpoints::delete)),
    )
    .route(
        "/endpoints/{id}/rotate-secret",
        web::post().to(endpoints::rotate),
    )
    .route("/endpoints/{id}/test", web::post().to(endpoints::test))
    .route(
        "/endpoints/{id}/deliveries",
        web::get().to(deliveries::list),
    )
    .route("/deliveries/{id}", web::get().to(deliveries::get))
    .route("/deliveries/{id}/retry", web::post().to(deliveries::retry));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"error": "not_found", "message": "not found"}))
}
