//! Standard Webhooks sources: configured names only, `webhook-*` or `svix-*` headers.

use crate::helpers::{now_secs, spawn_app, standard_headers, unique, STANDARD_SECRET};
use inlet_domain::Provider;

fn body() -> Vec<u8> {
    br#"{"type":"message.received","timestamp":"2026-01-01T00:00:00Z","data":{"id":"EV123","text":"hi"}}"#.to_vec()
}

#[tokio::test]
async fn a_signed_webhook_for_a_configured_source_is_accepted_with_its_source() {
    let app = spawn_app().await;
    let id = unique("msg_");
    let headers = standard_headers(STANDARD_SECRET, &id, now_secs(), &body());
    let res = app
        .post_owned("/webhooks/standard/billing", &body(), &headers)
        .await;
    assert_eq!(res.status(), 200);
    let (meta, published) = app.next_event().await;
    assert_eq!(published, body());
    assert_eq!(meta.provider, Provider::Standard);
    assert_eq!(meta.source.as_deref(), Some("billing"));
    assert_eq!(meta.dedup_key, format!("standard:billing:{id}"));
    app.stop().await;
}

#[tokio::test]
async fn svix_header_names_are_accepted_too() {
    let app = spawn_app().await;
    let headers: Vec<(String, String)> =
        standard_headers(STANDARD_SECRET, &unique("msg_"), now_secs(), &body())
            .into_iter()
            .map(|(k, v)| (k.replace("webhook-", "svix-"), v))
            .collect();
    let res = app
        .post_owned("/webhooks/standard/billing", &body(), &headers)
        .await;
    assert_eq!(res.status(), 200);
    let svix = r#"inlet_gateway_signature_format_total{provider="standard",format="svix"}"#;
    assert_eq!(app.metric(svix).await, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn an_unconfigured_source_is_not_found() {
    let app = spawn_app().await;
    let headers = standard_headers(STANDARD_SECRET, "msg_1", now_secs(), &body());
    let res = app
        .post_owned("/webhooks/standard/crm", &body(), &headers)
        .await;
    assert_eq!(res.status(), 404);
    let json: serde_json::Value = res.json().await.expect("json");
    assert_eq!(json["error"], "not_found");
    app.stop().await;
}

#[tokio::test]
async fn a_missing_webhook_id_is_a_bad_request_and_a_stale_one_is_refused() {
    let app = spawn_app().await;
    let mut headers = standard_headers(STANDARD_SECRET, "msg_1", now_secs(), &body());
    headers.retain(|(k, _)| k != "webhook-id");
    let res = app
        .post_owned("/webhooks/standard/billing", &body(), &headers)
        .await;
    assert_eq!(res.status(), 400);
    let json: serde_json::Value = res.json().await.expect("json");
    assert_eq!(json["error"], "missing_header");
    let stale = standard_headers(STANDARD_SECRET, "msg_2", now_secs() - 301, &body());
    let res = app
        .post_owned("/webhooks/standard/billing", &body(), &stale)
        .await;
    assert_eq!(res.status(), 401);
    let unsigned = app.post("/webhooks/standard/billing", &body(), &[]).await;
    assert_eq!(unsigned.status(), 401);
    assert_eq!(app.queued().await, 0);
    app.stop().await;
}
