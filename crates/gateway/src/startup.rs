//! Builds the gateway: shared state, routes, the listener.

use crate::body_budget::BodyBudget;
use crate::config::Settings;
use crate::dedup::Dedup;
use crate::error::ApiError;
use crate::intake::{Intake, Limits};
use crate::metrics::Metrics;
use crate::publisher::Publisher;
use crate::routes::{bridge, health, meta, metrics, openphone, standard};
use crate::senders::Senders;
use crate::throttle::Throttle;
use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
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
    /// Every sender and line, keys parsed once.
    pub senders: Senders,
    /// The two-phase dedup store.
    pub dedup: Arc<Dedup>,
    /// Claims, publishes and completes the webhooks waiting together.
    pub intake: Intake,
    /// Signature-failure counts per client address.
    pub throttle: Throttle,
    /// The memory request bodies may hold (`INLET_BODY_BUDGET_BYTES`).
    pub bodies: Arc<BodyBudget>,
}

/// How often the dedup store is pinged, so its gauge is right without traffic.
const DEDUP_PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// A built gateway, bound to its port, not yet running.
pub struct Application {
    port: u16,
    metrics: Metrics,
    start: Box<dyn FnOnce() -> std::io::Result<Server> + Send>,
    shutdown: CancellationToken,
    publisher: Publisher,
    dedup: Arc<Dedup>,
}

impl Application {
    /// Binds the listener (port 0 picks a free one) and wires everything up.
    /// Starts even when the broker or Redis is unreachable; fails on settings
    /// that cannot work (naming the variable).
    pub fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        settings.validate()?;
        let metrics = Metrics::new().context("registering metrics")?;
        let senders = Senders::from_settings(&settings)?;
        if settings.insecure_skip_signatures {
            tracing::warn!(
                "INSECURE: INLET_INSECURE_SKIP_SIGNATURES is set. Unsigned and forged webhooks \
                 are ACCEPTED on every route. Never run this outside development."
            );
        }
        let dedup = Arc::new(Dedup::new(&settings, metrics.clone())?);
        tokio::spawn({
            let dedup = dedup.clone();
            let shutdown = shutdown.clone();
            async move { dedup.watch(DEDUP_PROBE_INTERVAL, shutdown).await }
        });
        let throttle = Throttle::new(
            settings.throttle_failures_per_minute,
            Duration::from_secs(60),
            settings.throttle_max_clients,
        );
        let publisher = Publisher::start(
            settings.broker.amqp_url.clone(),
            settings.broker.topology(),
            settings.publisher_channels,
            Duration::from_millis(settings.publish_timeout_ms),
            metrics.clone(),
        );
        let intake = Intake::new(
            dedup.clone(),
            publisher.clone(),
            Limits {
                max_events: settings.pack_max_events,
                max_bytes: settings.pack_max_bytes,
                in_flight: settings.publishes_in_flight,
            },
        );
        let listener = TcpListener::bind(&settings.gateway_addr)
            .with_context(|| format!("binding INLET_GATEWAY_ADDR {}", settings.gateway_addr))?;
        let port = listener.local_addr()?.port();
        let metrics_on_ingest = settings.metrics_on_ingest;
        let bodies = BodyBudget::new(settings.body_budget_bytes, settings.body_limit_bytes);
        let state = web::Data::new(AppState {
            bodies,
            settings: Arc::new(settings),
            publisher: publisher.clone(),
            metrics: metrics.clone(),
            senders,
            dedup: dedup.clone(),
            intake,
            throttle,
        });
        // Built when serving starts (an actix server is not `Send`).
        let start = move || -> std::io::Result<Server> {
            Ok(HttpServer::new(move || {
                App::new()
                    .app_data(state.clone())
                    // Query strings that do not parse are a refused handshake, not a 400.
                    .app_data(
                        web::QueryConfig::default()
                            .error_handler(|_, _| ApiError::Forbidden.into()),
                    )
                    .service(
                        web::resource("/webhooks/meta")
                            .route(web::get().to(meta::handshake))
                            .route(web::post().to(meta::receive))
                            .default_service(web::to(method_not_allowed)),
                    )
                    .service(
                        web::resource("/webhooks/meta/{line}")
                            .route(web::get().to(meta::line_handshake))
                            .route(web::post().to(meta::receive_line))
                            .default_service(web::to(method_not_allowed)),
                    )
                    .service(post_only("/webhooks/openphone", openphone::unified))
                    .service(post_only("/webhooks/openphone/{line}", openphone::line))
                    .service(post_only("/webhooks/bridge", bridge::unified))
                    .service(post_only("/webhooks/bridge/{line}", bridge::line))
                    .service(post_only("/webhooks/standard/{source}", standard::receive))
                    .route("/healthz", web::get().to(health::healthz))
                    .route("/readyz", web::get().to(health::readyz))
                    .configure(|cfg| {
                        if metrics_on_ingest {
                            cfg.route("/metrics", web::get().to(metrics::metrics));
                        }
                    })
                    .default_service(web::to(not_found))
            })
            .listen(listener)?
            .disable_signals()
            .shutdown_timeout(30)
            .run())
        };
        Ok(Application {
            port,
            metrics,
            start: Box::new(start),
            shutdown,
            publisher,
            dedup,
        })
    }

    /// The port the listener is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The gateway's metrics, for the management listener to serve.
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    /// Serves until the shutdown token is cancelled and in-flight requests
    /// are answered, then waits for done marks still running and closes the
    /// broker connection. (Marks run on the server threads' runtimes, so one
    /// on its way when its thread stops is cut off: its key stays a claim
    /// until the claim expires; docs/operations.md, "Graceful shutdown".)
    ///
    /// Serving starts once the broker has been tried (connected or not,
    /// within the publish timeout): a restarted gateway's first requests
    /// wait those milliseconds in the listen backlog rather than get 503
    /// while its connection opens.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.publisher.tried().await;
        let server = (self.start)()?;
        let handle = server.handle();
        let shutdown = self.shutdown;
        tokio::spawn(async move {
            shutdown.cancelled().await;
            // Stop accepting, let in-flight requests finish their publish
            // (the broker connection stays up until the server has stopped).
            handle.stop(true).await;
        });
        let served = server.await;
        self.dedup.settle().await;
        self.publisher.close().await;
        served
    }
}

/// A webhook resource that answers POST and 405 to any other method.
fn post_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::post().to(handler))
        .default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .json(json!({"error": "method_not_allowed", "message": "method not allowed"}))
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"error": "not_found", "message": "unknown sender"}))
}
