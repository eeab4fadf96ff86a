//! Builds the gateway: shared state, routes, the listener.

use crate::config::Settings;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::publisher::Publisher;
use crate::routes::{health, meta, metrics};
use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use inlet_domain::signature::meta::MetaSecret;
use serde_json::json;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// State every handler shares: settings, the publisher, metrics, keys.
pub struct AppState {
    /// The settings the gateway was built with.
    pub settings: Arc<Settings>,
    /// Confirmed publishing to the broker.
    pub publisher: Publisher,
    /// The gateway's metrics.
    pub metrics: Metrics,
    /// Meta app secrets, parsed once.
    pub meta_secrets: Vec<MetaSecret>,
}

/// A built gateway, bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds the listener (port 0 picks a free one) and wires everything up.
    /// Starts even when the broker is unreachable.
    pub fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let metrics = Metrics::new().context("registering metrics")?;
        let meta_secrets = settings
            .meta_app_secret
            .split_list()
            .iter()
            .map(|s| MetaSecret::new(s.expose(), None))
            .collect::<Result<Vec<_>, _>>()
            .context("INLET_META_APP_SECRET is invalid")?;
        let publisher = Publisher::start(
            settings.broker.amqp_url.clone(),
            settings.broker.topology(),
            settings.publisher_channels,
            Duration::from_millis(settings.publish_timeout_ms),
            metrics.clone(),
            shutdown.clone(),
        );
        let listener = TcpListener::bind(&settings.gateway_addr)
            .with_context(|| format!("binding INLET_GATEWAY_ADDR {}", settings.gateway_addr))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            settings: Arc::new(settings),
            publisher,
            metrics,
            meta_secrets,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                // Query strings that do not parse are a refused handshake, not a 400.
                .app_data(
                    web::QueryConfig::default().error_handler(|_, _| ApiError::Forbidden.into()),
                )
                .service(
                    web::resource("/webhooks/meta")
                        .route(web::get().to(meta::handshake))
                        .route(web::post().to(meta::receive))
                        .default_service(web::to(method_not_allowed)),
                )
                .route("/healthz", web::get().to(health::healthz))
                .route("/readyz", web::get().to(health::readyz))
                .route("/metrics", web::get().to(metrics::metrics))
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(30)
        .run();
        let handle = server.handle();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            // Stop accepting, let in-flight requests finish their publish.
            handle.stop(true).await;
        });
        Ok(Application { port, server })
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

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .json(json!({"error": "method_not_allowed", "message": "method not allowed"}))
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"error": "not_found", "message": "unknown sender"}))
}
