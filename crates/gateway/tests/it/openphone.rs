//! OpenPhone: both signature formats on one URL, counted apart; stale timestamps.

use crate::helpers::{
    now_secs, openphone_legacy_signature, openphone_message, spawn_app, standard_headers, unique,
    QUO_SECRET,
};
use inlet_domain::Provider;

#[tokio::test]
async fn a_legacy_signed_event_is_accepted_and_counted_as_legacy() {
    let app = spawn_app().await;
    let body = openphone_message(&unique("EV"), "PNtoDbDhuz");
    let sig = openphone_legacy_signature(&body, now_secs() * 1000);
    let res = app
        .post(
            "/webhooks/openphone",
            &body,
            &[("openphone-signature", &sig)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let (meta, published) = app.next_event().await;
    assert_eq!(published, body);
    assert_eq!(meta.provider, Provider::OpenPhone);
    assert_eq!(meta.line.as_deref(), Some("PNtoDbDhuz"));
    assert!(!meta.line_unknown);
    let legacy = r#"inlet_gateway_signature_format_total{provider="openphone",format="legacy"}"#;
    assert_eq!(app.metric(legacy).await, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn a_standard_webhooks_signed_event_is_accepted_on_the_same_url() {
    let app = spawn_app().await;
    let body = openphone_message(&unique("EV"), "PNtoDbDhuz");
    let headers = standard_headers(QUO_SECRET, &unique("msg_"), now_secs(), &body);
    let res = app.post_owned("/webhooks/openphone", &body, &headers).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.queued().await, 1);
    let standard =
        r#"inlet_gateway_signature_format_total{provider="openphone",format="standard"}"#;
    assert_eq!(app.metric(standard).await, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn a_stale_legacy_timestamp_is_refused_and_counted_as_stale() {
    let app = spawn_app().await;
    let body = openphone_message(&unique("EV"), "PNtoDbDhuz");
    let sig = openphone_legacy_signature(&body, (now_secs() - 301) * 1000);
    let res = app
        .post(
            "/webhooks/openphone",
            &body,
            &[("openphone-signature", &sig)],
        )
        .await;
    assert_eq!(res.status(), 401);
    let json: serde_json::Value = res.json().await.expect("json");
    assert_eq!(json["error"], "stale_signature");
    let stale = r#"inlet_gateway_requests_total{provider="openphone",outcome="stale"}"#;
    assert_eq!(app.metric(stale).await, 1.0);
    assert_eq!(app.queued().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_future_standard_timestamp_is_refused() {
    let app = spawn_app().await;
    let body = openphone_message(&unique("EV"), "PNtoDbDhuz");
    let headers = standard_headers(QUO_SECRET, "msg_future", now_secs() + 400, &body);
    let res = app.post_owned("/webhooks/openphone", &body, &headers).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.queued().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_version_prefix_or_no_signature_is_refused() {
    let app = spawn_app().await;
    let body = openphone_message(&unique("EV"), "PNtoDbDhuz");
    let sig = openphone_legacy_signature(&body, now_secs() * 1000).replacen("hmac;1", "hmac;2", 1);
    let wrong = app
        .post(
            "/webhooks/openphone",
            &body,
            &[("openphone-signature", &sig)],
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let unsigned = app.post("/webhooks/openphone", &body, &[]).await;
    assert_eq!(unsigned.status(), 401);
    assert_eq!(app.queued().await, 0);
    app.stop().await;
}
