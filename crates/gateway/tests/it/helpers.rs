//! `spawn_app()`: a gateway on a free port, publishing under a test-only prefix
//! and deduplicating under a test-only Redis key prefix.

use inlet_domain::envelope::EventMeta;
use inlet_domain::repository::Repository;
use inlet_domain::settings::Secret;
use inlet_gateway::admin::AdminApp;
use inlet_gateway::config::Settings;
use inlet_gateway::startup::Application;
use inlet_testkit::TestBroker;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use crate::fixtures::*;

/// The Meta app secret of vector M1.
pub const META_SECRET: &str = "6f1c3e2a9b8d4f7e0a1b2c3d4e5f6a7b";
/// The verify token the test gateway is configured with.
pub const VERIFY_TOKEN: &str = "inlet-verify-token";
/// The OpenPhone legacy signing key of vector O1.
pub const OPENPHONE_KEY: &str = "aW5sZXQtdGVzdC1vcGVucGhvbmUtc2lnbmluZy1rMQ==";
/// The Quo Standard Webhooks secret of vector Q1.
pub const QUO_SECRET: &str = "whsec_aW5sZXQtcXVvLTIwMjYtMDMtMzAtdGVzdC1rZXktMDE=";
/// The bridge secret of vector B1.
pub const BRIDGE_SECRET: &str = "inlet-bridge-secret";
/// The Standard Webhooks secret of vector S1, for source `billing`.
pub const STANDARD_SECRET: &str = "whsec_aW5sZXQtc3RhbmRhcmQtd2ViaG9va3Mta2V5LTAwMDE=";
/// The local Redis the tests use.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A running gateway and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The broker namespace it publishes into.
    pub broker: TestBroker,
    /// An HTTP client.
    pub http: reqwest::Client,
    /// The Redis key prefix of this test.
    pub dedup_prefix: String,
    shutdown: CancellationToken,
}

/// Settings for a test gateway on `broker`, before any test-specific change:
/// every sender configured with the vectors' secrets, dedup keys under the
/// broker's unique prefix.
pub fn test_settings(broker: &TestBroker) -> Settings {
    Settings {
        gateway_addr: "127.0.0.1:0".into(),
        broker: broker.settings.clone(),
        redis_url: REDIS_URL.into(),
        dedup_prefix: format!("{}dedup:", broker.settings.topology_prefix),
        meta_app_secret: Secret::new(META_SECRET),
        meta_verify_token: Secret::new(VERIFY_TOKEN),
        openphone_signing_key: Secret::new(OPENPHONE_KEY),
        openphone_webhook_secret: Secret::new(QUO_SECRET),
        bridge_secret: Secret::new(BRIDGE_SECRET),
        standard_sources: Secret::new(format!("billing={STANDARD_SECRET}")),
        // A loaded test machine can keep Redis from answering within the
        // production 250 ms; the gateway would then rightly fail open, and a
        // copy a test expects to be a duplicate would be accepted.
        redis_timeout_ms: 2_000,
        ..Settings::default()
    }
}

/// Starts a gateway with default test settings.
pub async fn spawn_app() -> TestApp {
    let broker = TestBroker::new().await.expect("broker namespace");
    let settings = test_settings(&broker);
    spawn_with(broker, settings).await
}

/// Starts a gateway with the given settings and waits until it can publish.
pub async fn spawn_with(broker: TestBroker, settings: Settings) -> TestApp {
    let app = spawn_unready(broker, settings);
    wait_ready(&app.http, &app.address).await;
    app
}

/// Everything the gateway writes on `stream` until it closes the connection,
/// as text; fails when that takes longer than `within`.
pub async fn read_until_closed(stream: &mut tokio::net::TcpStream, within: Duration) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut answer))
        .await
        .expect("answered and closed in time")
        .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Waits until the gateway at `address` (`http://…`) says it is ready; panics after 10 s.
pub async fn wait_ready(http: &reqwest::Client, address: &str) {
    let ready = inlet_testkit::eventually(Duration::from_secs(10), || {
        let request = http.get(format!("{address}/readyz")).send();
        async move { request.await.ok()?.status().is_success().then_some(()) }
    })
    .await;
    assert!(ready.is_some(), "gateway never became ready");
}

/// A gateway serving at once, ready or not (its broker may be unreachable).
pub fn spawn_unready(broker: TestBroker, settings: Settings) -> TestApp {
    inlet_domain::telemetry::init_for_tests();
    let shutdown = CancellationToken::new();
    let dedup_prefix = settings.dedup_prefix.clone();
    let app = Application::build(settings, shutdown.clone()).expect("gateway builds");
    serve(app, broker, dedup_prefix, shutdown)
}

/// Runs a built gateway and returns the handle tests talk to.
fn serve(
    app: Application,
    broker: TestBroker,
    dedup_prefix: String,
    shutdown: CancellationToken,
) -> TestApp {
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        broker,
        http: reqwest::Client::new(),
        dedup_prefix,
        shutdown,
    }
}

/// A ready gateway and its management listener (`http://127.0.0.1:<port>`),
/// built as `inlet-gateway` does, sharing the gateway's metrics. The
/// management API's database is never reached unless a test calls `/v1`.
pub async fn spawn_with_admin(broker: TestBroker, settings: Settings) -> (TestApp, String) {
    inlet_domain::telemetry::init_for_tests();
    let shutdown = CancellationToken::new();
    let dedup_prefix = settings.dedup_prefix.clone();
    let app = Application::build(settings.clone(), shutdown.clone()).expect("gateway builds");
    let repo = Repository::new(settings.database.pool().expect("pool"));
    let admin = AdminApp::build(&settings, repo, app.metrics(), shutdown.clone())
        .expect("management listener builds");
    let admin_address = format!("http://127.0.0.1:{}", admin.port());
    tokio::spawn(admin.run_until_stopped());
    let app = serve(app, broker, dedup_prefix, shutdown);
    wait_ready(&app.http, &app.address).await;
    (app, admin_address)
}

impl TestApp {
    /// POSTs `body` to `path` with JSON content type and the given headers.
    pub async fn post(
        &self,
        path: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}{path}", self.address))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request sent")
    }

    /// POSTs `body` to `path` with JSON content type and owned headers.
    pub async fn post_owned(
        &self,
        path: &str,
        body: &[u8],
        headers: &[(String, String)],
    ) -> reqwest::Response {
        let borrowed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.post(path, body, &borrowed).await
    }

    /// Messages waiting in the work queue.
    pub async fn queued(&self) -> u32 {
        let queue = self.broker.topology().work_queue();
        self.broker.ready(&queue).await.expect("queue exists")
    }

    /// Takes the next message from the work queue: its envelope and body.
    pub async fn next_event(&self) -> (EventMeta, Vec<u8>) {
        use lapin::options::BasicGetOptions;
        let queue = self.broker.topology().work_queue();
        let message = inlet_testkit::eventually(Duration::from_secs(5), || {
            let channel = self.broker.channel.clone();
            let queue = queue.clone();
            async move {
                channel
                    .basic_get(&queue, BasicGetOptions { no_ack: true })
                    .await
                    .ok()
                    .flatten()
            }
        })
        .await
        .expect("a message in the work queue");
        let meta =
            EventMeta::from_headers(message.delivery.properties.headers().as_ref()).expect("meta");
        (meta, message.delivery.data)
    }

    /// Takes every message from the work queue and unpacks packs: each
    /// event's envelope and body, and how many events its message held.
    pub async fn drain_events(&self) -> Vec<(EventMeta, Vec<u8>, usize)> {
        use lapin::options::BasicGetOptions;
        let queue = self.broker.topology().work_queue();
        let mut events = Vec::new();
        while let Some(message) = self
            .broker
            .channel
            .basic_get(&queue, BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            let delivery = message.delivery;
            if inlet_domain::pack::is_pack(&delivery.properties) {
                let packed = inlet_domain::pack::decode(&delivery.data).expect("a readable pack");
                let n = packed.len();
                events.extend(packed.into_iter().map(|e| (e.meta, e.body.to_vec(), n)));
            } else {
                let meta =
                    EventMeta::from_headers(delivery.properties.headers().as_ref()).expect("meta");
                events.push((meta, delivery.data, 1));
            }
        }
        events
    }

    /// The value of one metric sample, written as in the exposition, e.g.
    /// `inlet_gateway_requests_total{provider="meta",outcome="duplicate"}`
    /// (labels in any order: the exposition sorts them); 0 when absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        let wanted = parse_sample(sample);
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| {
                let (sample, value) = l.rsplit_once(' ')?;
                (parse_sample(sample) == wanted).then(|| value.parse().ok())?
            })
            .unwrap_or(0.0)
    }

    /// The raw value of a dedup key in Redis (`key` without the prefix).
    pub async fn dedup_value(&self, key: &str) -> Option<String> {
        dedup_value(&self.dedup_prefix, key).await
    }

    /// Sets a dedup key in Redis (`key` without the prefix).
    pub async fn set_dedup_value(&self, key: &str, value: &str) {
        let mut conn = redis_connection().await;
        let () = redis::cmd("SET")
            .arg(format!("{}{key}", self.dedup_prefix))
            .arg(value)
            .arg("EX")
            .arg(60)
            .query_async(&mut conn)
            .await
            .expect("SET");
    }

    /// Stops the gateway and deletes the test's queues and Redis keys.
    pub async fn stop(self) {
        self.shutdown.cancel();
        delete_keys(&self.dedup_prefix).await;
        self.broker.cleanup().await.expect("cleanup");
    }
}

/// A sample's name and its sorted labels.
fn parse_sample(sample: &str) -> (String, Vec<String>) {
    match sample.split_once('{') {
        None => (sample.to_owned(), Vec::new()),
        Some((name, labels)) => {
            let mut labels: Vec<String> = labels
                .trim_end_matches('}')
                .split(',')
                .map(str::to_owned)
                .collect();
            labels.sort();
            (name.to_owned(), labels)
        }
    }
}

/// A connection to the test Redis.
pub async fn redis_connection() -> redis::aio::MultiplexedConnection {
    redis::Client::open(REDIS_URL)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis reachable")
}

/// The raw value of dedup key `key` under `prefix` in Redis.
pub async fn dedup_value(prefix: &str, key: &str) -> Option<String> {
    let mut conn = redis_connection().await;
    redis::cmd("GET")
        .arg(format!("{prefix}{key}"))
        .query_async(&mut conn)
        .await
        .expect("GET")
}

/// Deletes every key under `prefix`. SCAN, not KEYS: KEYS blocks Redis for
/// every other test while it walks the whole keyspace.
pub async fn delete_keys(prefix: &str) {
    let mut conn = redis_connection().await;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("SCAN");
        if !keys.is_empty() {
            let _: i64 = redis::cmd("UNLINK")
                .arg(keys)
                .query_async(&mut conn)
                .await
                .expect("UNLINK");
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}
