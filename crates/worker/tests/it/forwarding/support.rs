//! `Forwarding::start()`: a management API, a delivery consumer, a database
//! and a broker namespace of the test's own.

use inlet_domain::broker::{persistent_properties, EVENT_ROUTING_KEY};
use inlet_domain::envelope::EventMeta;
use inlet_domain::event::PublishedEvent;
use inlet_domain::forward::queue::{declare_deliveries, deliveries_queue};
use inlet_domain::forward::settings::ForwardSettings;
use inlet_gateway::admin::clients::create_client;
use inlet_gateway::admin::AdminApp;
use inlet_testkit::{eventually, TestBroker, TestDb};
use inlet_worker::config::Settings;
use inlet_worker::delivery::settings::DeliverySettings;
use inlet_worker::delivery::Forwarder;
use inlet_worker::metrics::Metrics;
use inlet_worker::startup::Worker;
use lapin::options::BasicPublishOptions;
use lapin::BasicProperties;
use reqwest::Method;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a test waits for something asynchronous.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Fast settings: short timeout and backoff, frequent polling.
pub fn fast_delivery() -> DeliverySettings {
    DeliverySettings {
        // Long enough that a loaded machine's stall does not time out a
        // request the receiver has already counted (and have it sent again);
        // tests of timeouts and failure streaks set 1 s themselves.
        delivery_timeout_ms: 5_000,
        delivery_backoff_base_ms: 200,
        delivery_backoff_max_ms: 1_000,
        delivery_poll_interval_ms: 100,
        ..DeliverySettings::default()
    }
}

/// The test's receiver is on loopback, over http: allow both.
pub fn lax() -> ForwardSettings {
    ForwardSettings {
        forward_allow_http: true,
        forward_allow_private: true,
        ..ForwardSettings::default()
    }
}

/// Everything forwarding needs, running.
pub struct Forwarding {
    /// `http://127.0.0.1:<port>` of the management API.
    pub admin: String,
    /// A client's bearer token.
    pub token: String,
    /// The database.
    pub db: TestDb,
    /// The broker namespace.
    pub broker: TestBroker,
    /// The delivery consumer's metrics.
    pub metrics: Metrics,
    settings: Settings,
    http: reqwest::Client,
    admin_shutdown: CancellationToken,
    forwarder: Option<(CancellationToken, JoinHandle<()>)>,
    worker: Option<(CancellationToken, JoinHandle<()>)>,
}

impl Forwarding {
    /// Starts everything with [`fast_delivery`].
    pub async fn start() -> Self {
        Self::start_with(fast_delivery()).await
    }

    /// Starts everything with the given delivery settings.
    pub async fn start_with(delivery: DeliverySettings) -> Self {
        Self::start_custom(delivery, lax()).await
    }

    /// Starts everything; the management API lets loopback http URLs in, the
    /// delivery consumer follows `worker_policy`.
    pub async fn start_custom(delivery: DeliverySettings, worker_policy: ForwardSettings) -> Self {
        inlet_domain::telemetry::init_for_tests();
        let db = TestDb::new().await.expect("test database");
        let broker = TestBroker::new().await.expect("broker namespace");
        declare_deliveries(&broker.channel, &broker.topology())
            .await
            .expect("deliveries queue");
        let settings = Settings {
            broker: broker.settings.clone(),
            database: db.settings.clone(),
            forward: worker_policy,
            delivery,
            shutdown_timeout_secs: 5,
            queue_metrics_interval_secs: 1,
            ..Settings::default()
        };
        let gateway = inlet_gateway::config::Settings {
            admin_addr: "127.0.0.1:0".into(),
            database: db.settings.clone(),
            forward: lax(),
            ..inlet_gateway::config::Settings::default()
        };
        let admin_shutdown = CancellationToken::new();
        let gateway_metrics = inlet_gateway::metrics::Metrics::new().expect("metrics");
        let app = AdminApp::build(
            &gateway,
            db.repo.clone(),
            gateway_metrics,
            admin_shutdown.clone(),
        )
        .expect("admin builds");
        let admin = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let (_, token) = create_client(&db.repo, "acme").await.expect("client");
        let mut this = Forwarding {
            admin,
            token,
            db,
            broker,
            metrics: Metrics::new().expect("metrics"),
            settings,
            http: reqwest::Client::new(),
            admin_shutdown,
            forwarder: None,
            worker: None,
        };
        this.start_forwarder();
        this
    }

    /// Starts a (new) delivery consumer.
    pub fn start_forwarder(&mut self) {
        let forwarder = Forwarder::build(&self.settings, self.db.repo.clone(), &self.metrics)
            .expect("forwarder builds");
        let token = CancellationToken::new();
        let handle = tokio::spawn(forwarder.run(token.clone()));
        self.forwarder = Some((token, handle));
    }

    /// Stops the delivery consumer and waits until it has.
    pub async fn stop_forwarder(&mut self) {
        if let Some((token, handle)) = self.forwarder.take() {
            token.cancel();
            handle.await.expect("forwarder stopped cleanly");
        }
    }

    /// `inlet-worker deliver` on this test's database and broker, with its
    /// delivery settings and URL policy, for the caller to adjust and spawn
    /// (a process of its own: its environment is not the other tests').
    pub fn deliver_command(&self) -> Command {
        let s = &self.settings;
        let d = &s.delivery;
        let mut command = Command::new(env!("CARGO_BIN_EXE_inlet-worker"));
        command
            .arg("deliver")
            .env_remove("INLET_CONFIG")
            .env("INLET_DATABASE_URL", &s.database.database_url)
            .env("INLET_AMQP_URL", &s.broker.amqp_url)
            .env("INLET_TOPOLOGY_PREFIX", &s.broker.topology_prefix)
            .env("INLET_WORKER_METRICS_ADDR", "127.0.0.1:0")
            .env(
                "INLET_FORWARD_ALLOW_HTTP",
                s.forward.forward_allow_http.to_string(),
            )
            .env(
                "INLET_FORWARD_ALLOW_PRIVATE",
                s.forward.forward_allow_private.to_string(),
            )
            .env(
                "INLET_DELIVERY_TIMEOUT_MS",
                d.delivery_timeout_ms.to_string(),
            )
            .env(
                "INLET_DELIVERY_BACKOFF_BASE_MS",
                d.delivery_backoff_base_ms.to_string(),
            )
            .env(
                "INLET_DELIVERY_BACKOFF_MAX_MS",
                d.delivery_backoff_max_ms.to_string(),
            )
            .env(
                "INLET_DELIVERY_POLL_INTERVAL_MS",
                d.delivery_poll_interval_ms.to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// Calls the management API as this test's client.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.admin))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, json)
    }

    /// Creates an endpoint; returns its JSON (with the secret).
    pub async fn endpoint(&self, body: Value) -> Value {
        let (status, json) = self.api(Method::POST, "/v1/endpoints", Some(body)).await;
        assert_eq!(status, 201, "{json}");
        json
    }

    /// Hands `event` to forwarding as the worker does (a batch of one on the
    /// deliveries queue).
    pub async fn publish(&self, event: &PublishedEvent) {
        let body = serde_json::to_vec(&[event]).expect("event JSON");
        self.broker
            .channel
            .basic_publish(
                "",
                &deliveries_queue(&self.broker.topology()),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("published")
            .await
            .expect("publish settled");
    }

    /// Starts a worker consuming raw events on this test's broker and
    /// database (forwarding is already running); stopped by [`Forwarding::stop`].
    pub async fn start_worker(&mut self) {
        self.start_worker_with(|_| {}).await;
    }

    /// Starts the raw-event worker with its settings adjusted by `adjust`.
    pub async fn start_worker_with(&mut self, adjust: impl FnOnce(&mut Settings)) {
        let mut settings = self.settings.clone();
        adjust(&mut settings);
        settings.delivery.delivery_enabled = false;
        settings.worker_metrics_addr = "127.0.0.1:0".into();
        let shutdown = CancellationToken::new();
        let worker = Worker::build(settings, shutdown.clone())
            .await
            .expect("worker builds");
        let handle = tokio::spawn(async move {
            worker.run_until_stopped().await.expect("worker runs");
        });
        self.worker = Some((shutdown, handle));
    }

    /// Publishes a raw event into the ingest exchange as the gateway would.
    pub async fn publish_raw(&self, meta: &EventMeta, body: &[u8]) {
        self.broker
            .channel
            .basic_publish(
                &self.broker.topology().ingest_exchange(),
                EVENT_ROUTING_KEY,
                BasicPublishOptions::default(),
                body,
                persistent_properties(meta),
            )
            .await
            .expect("published")
            .await
            .expect("publish settled");
    }

    /// Waits until the endpoint `id` is disabled; returns it.
    pub async fn disabled_endpoint(&self, id: &str) -> Value {
        eventually(PATIENCE, || async {
            let (_, e) = self
                .api(Method::GET, &format!("/v1/endpoints/{id}"), None)
                .await;
            (e["enabled"] == false).then_some(e)
        })
        .await
        .expect("the endpoint is disabled")
    }

    /// Waits until the endpoint's only delivery has `status`; returns its detail.
    pub async fn delivery_with_status(&self, endpoint: &Value, status: &str) -> Value {
        let endpoint_id = endpoint["id"].as_str().expect("endpoint id");
        let found = eventually(PATIENCE, || async move {
            let (_, page) = self
                .api(
                    Method::GET,
                    &format!("/v1/endpoints/{endpoint_id}/deliveries"),
                    None,
                )
                .await;
            let first = page["data"].get(0)?;
            (first["status"] == status).then(|| first["id"].as_str().map(str::to_owned))?
        })
        .await;
        let Some(id) = found else {
            let (_, page) = self
                .api(
                    Method::GET,
                    &format!("/v1/endpoints/{endpoint_id}/deliveries"),
                    None,
                )
                .await;
            panic!("no delivery became {status}: {page}");
        };
        let (code, detail) = self
            .api(Method::GET, &format!("/v1/deliveries/{id}"), None)
            .await;
        assert_eq!(code, 200);
        detail
    }

    /// Stops everything and deletes the test's queues.
    pub async fn stop(mut self) {
        if let Some((token, handle)) = self.worker.take() {
            token.cancel();
            handle.await.expect("worker stopped cleanly");
        }
        self.stop_forwarder().await;
        self.admin_shutdown.cancel();
        self.broker.cleanup().await.expect("broker cleanup");
    }
}
