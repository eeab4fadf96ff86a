//! Meta: the handshake, signature checks, limits and confirmed publishing.

use crate::helpers::{
    meta_signature, meta_text, spawn_app, spawn_with, test_settings, TestApp, VERIFY_TOKEN,
};
use inlet_testkit::{TestBroker, ToggleProxy};
use std::time::Duration;

/// Test settings whose broker connection goes through a proxy of the test's own.
async fn through_broker_proxy(
    broker: &TestBroker,
) -> (ToggleProxy, inlet_gateway::config::Settings) {
    let proxy = ToggleProxy::start("127.0.0.1:5672".parse().expect("addr"))
        .await
        .expect("proxy");
    let mut settings = test_settings(broker);
    settings.broker.amqp_url = format!("amqp://guest:guest@{}/%2f", proxy.addr());
    (proxy, settings)
}

/// Posts `body`, signed, to `/webhooks/meta`; returns the status code.
async fn post_meta(app: &TestApp, body: &[u8]) -> u16 {
    app.post(
        "/webhooks/meta",
        body,
        &[("x-hub-signature-256", &meta_signature(body))],
    )
    .await
    .status()
    .as_u16()
}

/// Whether the gateway answers 200 to `body` within 15 s, as a provider
/// resending it would see.
async fn accepted_within_15_s(app: &TestApp, body: &[u8]) -> bool {
    inlet_testkit::eventually(Duration::from_secs(15), || async {
        (post_meta(app, body).await == 200).then_some(())
    })
    .await
    .is_some()
}

#[tokio::test]
async fn the_handshake_echoes_the_challenge_when_the_token_matches() {
    let app = spawn_app().await;
    let url = format!(
        "{}/webhooks/meta?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444",
        app.address
    );
    let res = app.http.get(url).send().await.expect("sent");
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/plain"));
    assert_eq!(res.text().await.expect("body"), "1158201444");
    app.stop().await;
}

#[tokio::test]
async fn the_handshake_is_refused_with_a_wrong_token() {
    let app = spawn_app().await;
    let url = format!(
        "{}/webhooks/meta?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1",
        app.address
    );
    assert_eq!(app.http.get(url).send().await.expect("sent").status(), 403);
    let bare = format!("{}/webhooks/meta", app.address);
    assert_eq!(app.http.get(bare).send().await.expect("sent").status(), 403);
    // Counted as refusals, so a broken subscription shows on the dashboard.
    let refused = r#"inlet_gateway_requests_total{provider="meta",outcome="invalid_signature"}"#;
    assert_eq!(app.metric(refused).await, 2.0);
    app.stop().await;
}

#[tokio::test]
async fn a_signed_webhook_is_accepted_and_queued_once_confirmed() {
    let app = spawn_app().await;
    let body = meta_text("wamid.accepted", "hello");
    let sig = meta_signature(&body);
    let res = app
        .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
        .await;
    assert_eq!(res.status(), 200);
    let json: serde_json::Value = res.json().await.expect("json");
    assert_eq!(json["status"], "accepted");
    assert!(json["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(app.queued().await, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_nothing_is_published() {
    let app = spawn_app().await;
    let body = meta_text("wamid.forged", "hello");
    let mut sig = meta_signature(&body);
    // Flip the last hex digit.
    let last = if sig.ends_with('0') { "1" } else { "0" };
    sig.replace_range(sig.len() - 1.., last);
    let res = app
        .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
        .await;
    assert_eq!(res.status(), 401);
    let json: serde_json::Value = res.json().await.expect("json error body");
    assert_eq!(json["error"], "invalid_signature");
    assert!(!json.to_string().contains(&meta_signature(&body)));
    let missing = app.post("/webhooks/meta", &body, &[]).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(app.queued().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_signed_body_that_is_not_json_is_a_bad_request() {
    let app = spawn_app().await;
    let body = b"{not json".to_vec();
    let sig = meta_signature(&body);
    let res = app
        .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(app.queued().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.body_limit_bytes = 1024;
    let app = spawn_with(broker, settings).await;
    let body = meta_text("wamid.big", &"x".repeat(2048));
    let sig = meta_signature(&body);
    let res = app
        .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
        .await;
    assert_eq!(res.status(), 413);
    assert_eq!(app.queued().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn with_the_broker_unreachable_the_gateway_starts_and_answers_503() {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    // Nothing listens on port 1: the broker is unreachable.
    settings.broker.amqp_url = "amqp://guest:guest@127.0.0.1:1/%2f".into();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let app = inlet_gateway::startup::Application::build(settings, shutdown.clone())
        .expect("starts without the broker");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let body = meta_text("wamid.nobroker", "hello");
    let res = http
        .post(format!("{address}/webhooks/meta"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", meta_signature(&body))
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let ready = http
        .get(format!("{address}/readyz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(ready.status(), 503);
    shutdown.cancel();
    broker.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn the_gateway_reconnects_by_itself_after_a_broker_outage() {
    let broker = TestBroker::new().await.expect("broker");
    let (proxy, settings) = through_broker_proxy(&broker).await;
    let app = spawn_with(broker, settings).await;
    let body = meta_text("wamid.outage.1", "before");
    let sig = meta_signature(&body);
    assert_eq!(
        app.post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
            .await
            .status(),
        200
    );

    proxy.cut();
    let unready = inlet_testkit::eventually(Duration::from_secs(10), || async {
        let r = app
            .http
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .ok()?;
        (r.status() == 503).then_some(())
    })
    .await;
    assert!(
        unready.is_some(),
        "readiness turns false while the broker is away"
    );
    let during = meta_text("wamid.outage.2", "during");
    assert_eq!(post_meta(&app, &during).await, 503);

    proxy.restore();
    assert!(
        accepted_within_15_s(&app, &during).await,
        "the gateway publishes again without a restart"
    );
    assert_eq!(app.queued().await, 2);
    app.stop().await;
}

#[tokio::test]
async fn a_broker_connection_that_stops_answering_is_left_for_a_new_one() {
    // The broker through a proxy of the test's own; iptables then drops every
    // packet of the connection open through it, both ways, as when the
    // broker's host dies or the network splits. Nothing fails on that
    // connection for minutes (it took 144 s before the gateway left it), while
    // a new one gets through.
    let broker = TestBroker::new().await.expect("broker");
    let (proxy, mut settings) = through_broker_proxy(&broker).await;
    settings.publish_timeout_ms = 1_000;
    let app = spawn_with(broker, settings).await;
    let body = |n: u32| meta_text(&format!("wamid.vanished.{n}"), "hello");
    assert_eq!(post_meta(&app, &body(0)).await, 200);

    let _hole = proxy
        .silence_open()
        .expect("connections cut (iptables, as root)");
    assert_eq!(
        post_meta(&app, &body(1)).await,
        503,
        "no confirm within the publish timeout"
    );
    assert!(
        accepted_within_15_s(&app, &body(2)).await,
        "the gateway publishes again on a new connection"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_connection_attempt_answered_after_its_timeout_is_closed_not_left_open() {
    // Connection attempts are bounded by the publish timeout; one the broker
    // answers later must not linger as a second, unused connection.
    let broker = TestBroker::new().await.expect("broker");
    let (proxy, mut settings) = through_broker_proxy(&broker).await;
    settings.publish_timeout_ms = 500;
    let app = spawn_with(broker, settings).await;
    assert_eq!(proxy.open_connections(), 1);

    // The connection drops and the broker hangs: each new attempt is
    // accepted and then hears nothing, so it times out and another is made.
    proxy.hold();
    proxy.cut();
    proxy.restore();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(proxy.open_connections(), 0, "every attempt is held");
    // The broker moves again and answers every attempt, the late ones too.
    proxy.release();
    assert!(
        accepted_within_15_s(&app, &meta_text("wamid.late.1", "after")).await,
        "the gateway publishes again"
    );
    let one_left = inlet_testkit::eventually(Duration::from_secs(10), || async {
        (proxy.open_connections() == 1).then_some(())
    })
    .await;
    assert!(
        one_left.is_some(),
        "the attempts that connected too late were closed: {} open",
        proxy.open_connections()
    );
    app.stop().await;
}
