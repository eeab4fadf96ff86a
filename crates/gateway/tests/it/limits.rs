//! Answers and limits: 404, 405, 415, throttling, start-up validation.

use crate::helpers::{
    bridge_message, bridge_signature, spawn_app, spawn_with, test_settings, unique, BRIDGE_SECRET,
};
use inlet_domain::settings::Secret;
use inlet_gateway::config::Settings;
use inlet_testkit::TestBroker;

#[tokio::test]
async fn an_unknown_sender_is_not_found() {
    let app = spawn_app().await;
    let body = bridge_message("x");
    let res = app.post("/webhooks/telegram", &body, &[]).await;
    assert_eq!(res.status(), 404);
    let json: serde_json::Value = res.json().await.expect("json");
    assert_eq!(json["error"], "not_found");
    app.stop().await;
}

#[tokio::test]
async fn a_sender_that_is_not_configured_is_not_found() {
    let broker = TestBroker::new().await.expect("broker");
    let settings = Settings {
        openphone_signing_key: Secret::default(),
        openphone_webhook_secret: Secret::default(),
        ..test_settings(&broker)
    };
    let app = spawn_with(broker, settings).await;
    let res = app.post("/webhooks/openphone", b"{}", &[]).await;
    assert_eq!(res.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_method_is_405() {
    let app = spawn_app().await;
    for path in [
        "/webhooks/bridge",
        "/webhooks/openphone/PN1",
        "/webhooks/standard/billing",
    ] {
        let res = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status(), 405, "{path}");
    }
    let put = app
        .http
        .put(format!("{}/webhooks/meta", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(put.status(), 405);
    app.stop().await;
}

#[tokio::test]
async fn a_body_that_is_not_json_by_content_type_is_415() {
    let app = spawn_app().await;
    let body = bridge_message(&unique("3EB0"));
    let res = app
        .http
        .post(format!("{}/webhooks/bridge", app.address))
        .header("content-type", "text/plain")
        .header(
            "x-webhook-signature",
            bridge_signature(BRIDGE_SECRET, &body),
        )
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 415);
    app.stop().await;
}

#[tokio::test]
async fn repeated_signature_failures_from_one_address_are_throttled() {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.throttle_failures_per_minute = 3;
    settings.trust_forwarded_for = true;
    let app = spawn_with(broker, settings).await;
    let scanner = [
        ("x-forwarded-for", "198.18.0.1, 203.0.113.7"),
        ("x-webhook-signature", "00"),
    ];
    for _ in 0..3 {
        let res = app.post("/webhooks/bridge", b"{}", &scanner).await;
        assert_eq!(res.status(), 401);
    }
    let res = app.post("/webhooks/bridge", b"{}", &scanner).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let json: serde_json::Value = res.json().await.expect("json");
    assert_eq!(json["error"], "throttled");

    // A throttled address is refused before its signature is even checked,
    // whatever it claims to be in front of the proxy's entry.
    let body = bridge_message(&unique("3EB0"));
    let sig = bridge_signature(BRIDGE_SECRET, &body);
    let from_scanner = [
        ("x-forwarded-for", "198.18.0.2, 203.0.113.7"),
        ("x-webhook-signature", &sig),
    ];
    assert_eq!(
        app.post("/webhooks/bridge", &body, &from_scanner)
            .await
            .status(),
        429
    );
    // Another address is not affected.
    let other = [
        ("x-forwarded-for", "198.51.100.1"),
        ("x-webhook-signature", &sig),
    ];
    assert_eq!(
        app.post("/webhooks/bridge", &body, &other).await.status(),
        200
    );
    let throttled = r#"inlet_gateway_requests_total{provider="bridge",outcome="throttled"}"#;
    assert_eq!(app.metric(throttled).await, 2.0);
    app.stop().await;
}

#[tokio::test]
async fn valid_traffic_is_never_throttled() {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.throttle_failures_per_minute = 2;
    let app = spawn_with(broker, settings).await;
    for _ in 0..6 {
        let body = bridge_message(&unique("3EB0"));
        let sig = bridge_signature(BRIDGE_SECRET, &body);
        let res = app
            .post("/webhooks/bridge", &body, &[("x-webhook-signature", &sig)])
            .await;
        assert_eq!(res.status(), 200);
    }
    // One failure stays under the limit, and valid traffic still passes.
    assert_eq!(app.post("/webhooks/bridge", b"{}", &[]).await.status(), 401);
    let body = bridge_message(&unique("3EB0"));
    let sig = bridge_signature(BRIDGE_SECRET, &body);
    let res = app
        .post("/webhooks/bridge", &body, &[("x-webhook-signature", &sig)])
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.queued().await, 7);
    app.stop().await;
}

#[tokio::test]
async fn the_gateway_refuses_to_start_without_any_sender() {
    let settings = Settings {
        gateway_addr: "127.0.0.1:0".into(),
        ..Settings::default()
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let error = inlet_gateway::startup::Application::build(settings, shutdown)
        .err()
        .expect("refused");
    let text = format!("{error:#}");
    assert!(text.contains("INLET_META_APP_SECRET"), "{text}");
    assert!(text.contains("INLET_BRIDGE_SECRET"), "{text}");
}
