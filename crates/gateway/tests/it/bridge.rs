//! WhatsApp bridges: hex signatures with or without `sha256=`, lines from the URL.

use crate::helpers::{
    bridge_message, bridge_signature, spawn_app, spawn_with, test_settings, unique, BRIDGE_SECRET,
};
use inlet_domain::settings::Secret;
use inlet_domain::Provider;
use inlet_gateway::config::LineConfig;
use inlet_testkit::TestBroker;

#[tokio::test]
async fn a_bridge_event_is_accepted_with_a_plain_or_prefixed_signature() {
    let app = spawn_app().await;
    let first = bridge_message(&unique("3EB0"));
    let sig = bridge_signature(BRIDGE_SECRET, &first);
    let res = app
        .post("/webhooks/bridge", &first, &[("x-webhook-signature", &sig)])
        .await;
    assert_eq!(res.status(), 200);
    let second = bridge_message(&unique("3EB0"));
    let prefixed = format!("sha256={}", bridge_signature(BRIDGE_SECRET, &second));
    let res = app
        .post(
            "/webhooks/bridge",
            &second,
            &[("X-Webhook-Signature", &prefixed)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.queued().await, 2);
    let (meta, _) = app.next_event().await;
    assert_eq!(meta.provider, Provider::Bridge);
    assert_eq!(meta.line, None);
    app.stop().await;
}

#[tokio::test]
async fn a_bridge_line_url_checks_the_line_secret_and_names_the_line() {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.lines = vec![LineConfig {
        id: "shop-1".into(),
        provider: Some(Provider::Bridge),
        secret: Secret::new("shop-1-own-secret"),
        ..LineConfig::default()
    }];
    let app = spawn_with(broker, settings).await;
    let body = bridge_message(&unique("3EB0"));
    let global = bridge_signature(BRIDGE_SECRET, &body);
    let refused = app
        .post(
            "/webhooks/bridge/shop-1",
            &body,
            &[("x-webhook-signature", &global)],
        )
        .await;
    assert_eq!(
        refused.status(),
        401,
        "the line's URL takes only its own secret"
    );
    let own = bridge_signature("shop-1-own-secret", &body);
    let res = app
        .post(
            "/webhooks/bridge/shop-1",
            &body,
            &[("x-webhook-signature", &own)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let (meta, _) = app.next_event().await;
    assert_eq!(meta.line.as_deref(), Some("shop-1"));
    assert!(!meta.line_unknown);
    let unknown = app
        .post(
            "/webhooks/bridge/shop-2",
            &body,
            &[("x-webhook-signature", &own)],
        )
        .await;
    assert_eq!(unknown.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn a_bridge_body_naming_another_lines_session_must_verify_with_that_lines_secret() {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.lines = [
        ("shop-1", "shop-1-own-secret"),
        ("shop-2", "shop-2-own-secret"),
    ]
    .into_iter()
    .map(|(id, secret)| LineConfig {
        id: id.into(),
        provider: Some(Provider::Bridge),
        secret: Secret::new(secret),
        ..LineConfig::default()
    })
    .collect();
    let app = spawn_with(broker, settings).await;
    let naming = |key: &str, line: &str| {
        serde_json::json!({"event_type": "message.received", "timestamp": "2026-01-01T00:00:00Z",
            "data": {"message_id": unique("3EB0"), "from": "15550001111", "text": "hello", key: line}})
        .to_string()
        .into_bytes()
    };
    // Signed by shop-1 (or the bridge-wide secret), naming shop-2 in any of
    // the places the worker takes a line from: refused, on either URL.
    for key in ["line", "session", "line_id"] {
        let body = naming(key, "shop-2");
        for (path, secret) in [
            ("/webhooks/bridge/shop-1", "shop-1-own-secret"),
            ("/webhooks/bridge", "shop-1-own-secret"),
            ("/webhooks/bridge", BRIDGE_SECRET),
        ] {
            let sig = bridge_signature(secret, &body);
            let res = app
                .post(path, &body, &[("x-webhook-signature", &sig)])
                .await;
            assert_eq!(res.status(), 401, "{key} on {path}");
        }
    }
    assert_eq!(app.queued().await, 0);

    // shop-2's own secret on the shared URL: accepted as shop-2's.
    let body = naming("session", "shop-2");
    let sig = bridge_signature("shop-2-own-secret", &body);
    let res = app
        .post("/webhooks/bridge", &body, &[("x-webhook-signature", &sig)])
        .await;
    assert_eq!(res.status(), 200);
    let (meta, _) = app.next_event().await;
    assert_eq!(meta.line.as_deref(), Some("shop-2"));
    assert!(!meta.line_unknown);
    app.stop().await;
}
