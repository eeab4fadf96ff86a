//! Lines: per-line URLs with their own secrets, lines named in the headers,
//! and events for unknown lines accepted and marked.

use crate::helpers::{
    meta_text, now_secs, openphone_legacy_signature, openphone_message, spawn_with, test_settings,
    unique, TestApp,
};
use inlet_domain::settings::Secret;
use inlet_domain::signature::meta::{sign, MetaSecret};
use inlet_domain::Provider;
use inlet_gateway::config::LineConfig;
use inlet_testkit::TestBroker;

const LINE: &str = "106540352242922";
const LINE_SECRET: &str = "line-own-app-secret";
const LINE_TOKEN: &str = "line-own-verify-token";

async fn app_with_lines() -> TestApp {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.lines = vec![
        LineConfig {
            id: LINE.into(),
            provider: Some(Provider::Meta),
            display_number: Some("+1 555 078 3881".into()),
            app_secret: Secret::new(LINE_SECRET),
            verify_token: Secret::new(LINE_TOKEN),
            ..LineConfig::default()
        },
        LineConfig {
            id: "PNknown".into(),
            provider: Some(Provider::OpenPhone),
            ..LineConfig::default()
        },
    ];
    spawn_with(broker, settings).await
}

fn line_signature(body: &[u8]) -> String {
    sign(&MetaSecret::new(LINE_SECRET, None).expect("secret"), body)
}

#[tokio::test]
async fn a_meta_line_url_answers_its_own_handshake_and_secret() {
    let app = app_with_lines().await;
    let url = format!(
        "{}/webhooks/meta/{LINE}?hub.mode=subscribe&hub.verify_token={LINE_TOKEN}&hub.challenge=42",
        app.address
    );
    let res = app.http.get(url).send().await.expect("sent");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("body"), "42");

    let body = meta_text(&unique("wamid."), "hello");
    let res = app
        .post(
            &format!("/webhooks/meta/{LINE}"),
            &body,
            &[("x-hub-signature-256", &line_signature(&body))],
        )
        .await;
    assert_eq!(res.status(), 200);
    let (meta, _) = app.next_event().await;
    assert_eq!(meta.line.as_deref(), Some(LINE));
    assert!(!meta.line_unknown);
    app.stop().await;
}

#[tokio::test]
async fn an_unconfigured_line_url_is_not_found() {
    let app = app_with_lines().await;
    let body = meta_text(&unique("wamid."), "hello");
    let res = app
        .post(
            "/webhooks/meta/999",
            &body,
            &[("x-hub-signature-256", &line_signature(&body))],
        )
        .await;
    assert_eq!(res.status(), 404);
    let handshake = format!(
        "{}/webhooks/meta/999?hub.mode=subscribe&hub.verify_token={LINE_TOKEN}&hub.challenge=1",
        app.address
    );
    assert_eq!(
        app.http.get(handshake).send().await.expect("sent").status(),
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn an_event_for_an_unknown_line_is_accepted_and_marked_unknown() {
    let app = app_with_lines().await;
    let body = openphone_message(&unique("EV"), "PNstranger");
    let sig = openphone_legacy_signature(&body, now_secs() * 1000);
    let res = app
        .post(
            "/webhooks/openphone",
            &body,
            &[("openphone-signature", &sig)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let (meta, _) = app.next_event().await;
    assert_eq!(meta.line.as_deref(), Some("PNstranger"));
    assert!(meta.line_unknown);
    app.stop().await;
}

#[tokio::test]
async fn the_unified_meta_url_accepts_a_line_secret_and_reads_the_line_from_the_body() {
    let app = app_with_lines().await;
    let body = meta_text(&unique("wamid."), "hello");
    let res = app
        .post(
            "/webhooks/meta",
            &body,
            &[("x-hub-signature-256", &line_signature(&body))],
        )
        .await;
    assert_eq!(res.status(), 200);
    let (meta, _) = app.next_event().await;
    assert_eq!(meta.line.as_deref(), Some(LINE));
    assert!(!meta.line_unknown);
    app.stop().await;
}
