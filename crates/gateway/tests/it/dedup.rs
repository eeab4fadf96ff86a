//! Dedup at the door: duplicates answered once published, claims released on
//! failure, and Redis trouble failing open.

use crate::helpers::{
    bridge_message, bridge_signature, dedup_value, delete_keys, meta_signature, meta_text,
    spawn_app, spawn_with, test_settings, unique, BRIDGE_SECRET,
};
use inlet_gateway::dedup::{Claim, Dedup};
use inlet_gateway::metrics::Metrics;
use inlet_gateway::peek::meta_key;
use inlet_testkit::{eventually, TestBroker, ToggleProxy};
use std::sync::Arc;
use std::time::Duration;

const DUPLICATES: &str = r#"inlet_gateway_requests_total{provider="meta",outcome="duplicate"}"#;
const AVAILABLE: &str = "inlet_gateway_dedup_available";

#[tokio::test]
async fn a_resent_event_is_answered_duplicate_and_published_once() {
    let app = spawn_app().await;
    let body = meta_text(&unique("wamid."), "hello");
    let sig = meta_signature(&body);
    let first = app
        .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
        .await;
    assert_eq!(first.status(), 200);
    for _ in 0..2 {
        let again = app
            .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
            .await;
        assert_eq!(again.status(), 200);
        let json: serde_json::Value = again.json().await.expect("json");
        assert_eq!(json["status"], "duplicate");
    }
    assert_eq!(app.queued().await, 1);
    assert_eq!(app.metric(DUPLICATES).await, 2.0);
    // The done mark is written after the answer, off its path.
    let key = meta_key(&body);
    let marked = eventually(Duration::from_secs(5), || async {
        (app.dedup_value(&key).await.as_deref() == Some("done")).then_some(())
    })
    .await;
    assert!(marked.is_some(), "the done mark reaches Redis");
    assert_eq!(app.metric(AVAILABLE).await, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn a_copy_claimed_while_the_done_mark_is_on_its_way_is_a_duplicate() {
    let broker = TestBroker::new().await.expect("broker");
    let settings = test_settings(&broker);
    let metrics = Metrics::new().expect("metrics");
    let dedup = Arc::new(Dedup::new(&settings, metrics).expect("dedup store"));
    let key = unique("meta:");
    assert_eq!(
        dedup.claim_all(&[(&key, "first")]).await,
        vec![Claim::Claimed]
    );
    dedup.complete_all(vec![key.clone()]);
    // On this test's one thread the copy's claim is queued on the connection
    // before the mark's task runs, so Redis still holds the first claim: the
    // gateway itself knows the event is published.
    assert_eq!(
        dedup.claim_all(&[(&key, "copy")]).await,
        vec![Claim::Duplicate]
    );
    let prefix = &settings.dedup_prefix;
    let marked = eventually(Duration::from_secs(5), || async {
        (dedup_value(prefix, &key).await.as_deref() == Some("done")).then_some(())
    })
    .await;
    assert!(marked.is_some(), "the done mark reaches Redis");
    assert_eq!(
        dedup.claim_all(&[(&key, "later")]).await,
        vec![Claim::Duplicate]
    );
    // A claim of another key still in flight stays a 409.
    let other = unique("meta:");
    assert_eq!(
        dedup.claim_all(&[(&other, "a"), (&other, "b")]).await,
        vec![Claim::Claimed, Claim::InFlight]
    );
    delete_keys(prefix).await;
    broker.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn a_copy_arriving_while_the_first_is_in_flight_is_answered_409() {
    let app = spawn_app().await;
    let body = meta_text(&unique("wamid."), "hello");
    app.set_dedup_value(&meta_key(&body), "in_flight").await;
    let res = app
        .post(
            "/webhooks/meta",
            &body,
            &[("x-hub-signature-256", &meta_signature(&body))],
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.headers().contains_key("retry-after"));
    let json: serde_json::Value = res.json().await.expect("json");
    assert_eq!(json["error"], "in_flight");
    assert_eq!(app.queued().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_failed_publish_releases_the_claim_so_the_retry_passes() {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    let good = settings.clone();
    // Nothing listens on port 1: every publish fails.
    settings.broker.amqp_url = "amqp://guest:guest@127.0.0.1:1/%2f".into();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let down = inlet_gateway::startup::Application::build(settings, shutdown.clone())
        .expect("starts without the broker");
    let address = format!("http://127.0.0.1:{}", down.port());
    tokio::spawn(down.run_until_stopped());
    let body = bridge_message(&unique("3EB0"));
    let sig = bridge_signature(BRIDGE_SECRET, &body);
    let res = reqwest::Client::new()
        .post(format!("{address}/webhooks/bridge"))
        .header("content-type", "application/json")
        .header("x-webhook-signature", &sig)
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 503);
    shutdown.cancel();

    // The provider retries against a healthy gateway sharing the same Redis.
    let app = spawn_with(broker, good).await;
    let retry = app
        .post("/webhooks/bridge", &body, &[("x-webhook-signature", &sig)])
        .await;
    assert_eq!(retry.status(), 200);
    let json: serde_json::Value = retry.json().await.expect("json");
    assert_eq!(json["status"], "accepted");
    assert_eq!(app.queued().await, 1);
    app.stop().await;
}

#[tokio::test]
async fn with_redis_unreachable_events_are_still_accepted_and_the_gauge_says_so() {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    // Nothing listens on port 1: Redis is down.
    settings.redis_url = "redis://127.0.0.1:1".into();
    let app = spawn_with(broker, settings).await;
    let body = meta_text(&unique("wamid."), "hello");
    let sig = meta_signature(&body);
    for _ in 0..2 {
        let res = app
            .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
            .await;
        assert_eq!(res.status(), 200);
    }
    // Failing open: without dedup both copies are published (the worker's
    // unique keys absorb the second).
    assert_eq!(app.queued().await, 2);
    assert_eq!(app.metric(AVAILABLE).await, 0.0);
    app.stop().await;
}

/// A Redis of the test's own on a free port, so stopping it disturbs no
/// other test; killed on drop.
struct PrivateRedis {
    port: u16,
    child: std::process::Child,
}

impl PrivateRedis {
    fn start_on(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        PrivateRedis { port, child }
    }

    fn start() -> Self {
        Self::start_on(inlet_testkit::free_port().expect("free port"))
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn eventually_metric(app: &crate::helpers::TestApp, sample: &str, value: f64) -> bool {
    inlet_testkit::eventually(std::time::Duration::from_secs(15), || async {
        (app.metric(sample).await == value).then_some(())
    })
    .await
    .is_some()
}

#[tokio::test]
async fn redis_coming_back_is_picked_up_without_a_restart() {
    let redis = PrivateRedis::start();
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.redis_url = redis.url();
    let app = spawn_with(broker, settings).await;
    assert!(eventually_metric(&app, AVAILABLE, 1.0).await, "dedup up");

    let port = redis.port;
    drop(redis);
    let body = meta_text(&unique("wamid."), "while redis is down");
    let sig = meta_signature(&body);
    let res = app
        .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
        .await;
    assert_eq!(res.status(), 200, "fails open");
    assert_eq!(app.metric(AVAILABLE).await, 0.0);

    let _redis = PrivateRedis::start_on(port);
    assert!(eventually_metric(&app, AVAILABLE, 1.0).await, "dedup back");
    let body = meta_text(&unique("wamid."), "after redis is back");
    let sig = meta_signature(&body);
    for expected in ["accepted", "duplicate"] {
        let res = app
            .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
            .await;
        let json: serde_json::Value = res.json().await.expect("json");
        assert_eq!(json["status"], expected);
    }
    assert_eq!(app.queued().await, 2);
    app.stop().await;
}

#[tokio::test]
async fn a_redis_connection_that_stops_answering_is_replaced_by_a_new_one() {
    // Redis through a proxy of the test's own; iptables then drops every
    // packet of the connections open through it, as when Redis's host dies
    // or a failover moves it: those connections see no error for many
    // minutes, while a new one gets through.
    let proxy = ToggleProxy::start("127.0.0.1:6379".parse().expect("addr"))
        .await
        .expect("proxy");
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.redis_url = format!("redis://{}", proxy.addr());
    // The production timeout: how long a silent connection holds a request.
    settings.redis_timeout_ms = 250;
    let app = spawn_with(broker, settings).await;
    assert!(eventually_metric(&app, AVAILABLE, 1.0).await, "dedup up");
    // Each request on a connection of its own: they spread over the
    // gateway's threads, and each thread has a Redis connection of its own.
    let address = app.address.clone();
    let send = |body: Vec<u8>| {
        let url = format!("{address}/webhooks/meta");
        async move {
            let res = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", meta_signature(&body))
                .body(body)
                .send()
                .await
                .expect("request sent");
            assert_eq!(res.status(), 200, "fails open, never refuses");
            let json: serde_json::Value = res.json().await.expect("json");
            json["status"].as_str().unwrap_or_default().to_owned()
        }
    };
    // Every thread opens its connection before the cut.
    for _ in 0..8 {
        assert_eq!(
            send(meta_text(&unique("wamid."), "before")).await,
            "accepted"
        );
    }

    let _hole = proxy
        .silence_open()
        .expect("connections cut (iptables, as root)");
    assert_eq!(send(meta_text(&unique("wamid."), "cut")).await, "accepted");

    // Dedup comes back on new connections: a copy is a duplicate again.
    let back = inlet_testkit::eventually(std::time::Duration::from_secs(15), || async {
        let body = meta_text(&unique("wamid."), "after");
        let first = send(body.clone()).await;
        let copy = send(body).await;
        (first == "accepted" && copy == "duplicate").then_some(())
    })
    .await;
    assert!(back.is_some(), "copies are deduplicated again");
    assert!(
        eventually_metric(&app, AVAILABLE, 1.0).await,
        "the gauge says so"
    );
    app.stop().await;
}
