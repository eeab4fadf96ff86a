//! Lines: per-line URLs with their own secrets, lines named in the headers,
//! and events for unknown lines accepted and marked.

use crate::helpers::{
    meta_text, now_secs, openphone_legacy_signature, openphone_message, openphone_signature_by,
    spawn_with, test_settings, unique, TestApp, META_SECRET,
};
use inlet_domain::settings::Secret;
use inlet_domain::signature::meta::{sign, MetaSecret};
use inlet_domain::Provider;
use inlet_gateway::config::LineConfig;
use inlet_testkit::TestBroker;

const LINE: &str = "106540352242922";
const LINE_SECRET: &str = "line-own-app-secret";
const LINE_TOKEN: &str = "line-own-verify-token";
/// A second Meta line, another app with a secret of its own.
const OTHER: &str = "209876543210987";
const OTHER_SECRET: &str = "other-line-app-secret";

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
            id: OTHER.into(),
            provider: Some(Provider::Meta),
            app_secret: Secret::new(OTHER_SECRET),
            verify_token: Secret::new("other-line-verify-token"),
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
    signed_by(LINE_SECRET, body)
}

fn signed_by(secret: &str, body: &[u8]) -> String {
    sign(&MetaSecret::new(secret, None).expect("secret"), body)
}

/// A Meta text message on the line whose `phone_number_id` is `line`.
fn meta_text_on(line: &str) -> Vec<u8> {
    meta_text_on_lines(&[line])
}

/// A Meta batch of one text message per line named.
fn meta_text_on_lines(lines: &[&str]) -> Vec<u8> {
    let mut body: serde_json::Value =
        serde_json::from_slice(&meta_text(&unique("wamid."), "hello")).expect("JSON");
    let change = body["entry"][0]["changes"][0].clone();
    let changes: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| {
            let mut change = change.clone();
            change["value"]["metadata"]["phone_number_id"] = (*line).into();
            change
        })
        .collect();
    body["entry"][0]["changes"] = changes.into();
    body.to_string().into_bytes()
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

#[tokio::test]
async fn one_lines_secret_does_not_vouch_for_another_lines_events() {
    let app = app_with_lines().await;
    let post_to = |path: String, body: Vec<u8>, secret: &'static str| {
        let app = &app;
        async move {
            let sig = signed_by(secret, &body);
            let res = app
                .post(&path, &body, &[("x-hub-signature-256", &sig)])
                .await;
            res.status().as_u16()
        }
    };
    let post = |body, secret| post_to("/webhooks/meta".to_owned(), body, secret);
    // Signed by the first line's app, naming the second line: refused.
    assert_eq!(post(meta_text_on(OTHER), LINE_SECRET).await, 401);
    // ...also beside one of its own line's messages, and on its own URL.
    assert_eq!(
        post(meta_text_on_lines(&[LINE, OTHER]), LINE_SECRET).await,
        401
    );
    let own_url = format!("/webhooks/meta/{LINE}");
    assert_eq!(
        post_to(own_url, meta_text_on(OTHER), LINE_SECRET).await,
        401
    );
    // Signed by the provider-wide secret, naming a line with a secret of its
    // own: refused too, as the line's own URL would.
    assert_eq!(post(meta_text_on(OTHER), META_SECRET).await, 401);
    assert_eq!(app.queued().await, 0);

    // Each line's own secret for its own events, and any secret for a line
    // that is not configured (published, marked unknown).
    assert_eq!(post(meta_text_on(OTHER), OTHER_SECRET).await, 200);
    let (meta, _) = app.next_event().await;
    assert_eq!(meta.line.as_deref(), Some(OTHER));
    assert_eq!(
        post(meta_text_on("301112223334445"), LINE_SECRET).await,
        200
    );
    let (meta, _) = app.next_event().await;
    assert_eq!(meta.line.as_deref(), Some("301112223334445"));
    assert!(meta.line_unknown);
    app.stop().await;
}

/// Two OpenPhone lines, each with a legacy signing key of its own.
const PN_A: &str = "PNlineA0001";
const PN_A_KEY: &str = "aW5sZXQtb3BlbnBob25lLWxpbmUtYS1rZXk=";
const PN_B: &str = "PNlineB0002";
const PN_B_KEY: &str = "aW5sZXQtb3BlbnBob25lLWxpbmUtYi1rZXk=";

/// Signs `body` with an OpenPhone line's own legacy key, now.
fn openphone_signed_by(key: &str, body: &[u8]) -> String {
    openphone_signature_by(key, body, now_secs() * 1000)
}

#[tokio::test]
async fn an_openphone_body_naming_another_line_anywhere_the_worker_reads_must_verify_with_its_key()
{
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.lines = [(PN_A, PN_A_KEY), (PN_B, PN_B_KEY)]
        .into_iter()
        .map(|(id, key)| LineConfig {
            id: id.into(),
            provider: Some(Provider::OpenPhone),
            signing_key: Secret::new(key),
            ..LineConfig::default()
        })
        .collect();
    let app = spawn_with(broker, settings).await;
    // Line A's object, naming line B where the decoder also looks for a line:
    // in the 2026-03-30 context, and in `data` itself when there is no object.
    let in_context = |id: &str| {
        serde_json::json!({"id": id, "type": "message.received", "createdAt": "2026-01-01T00:00:00.000Z",
            "data": {"object": {"id": unique("AC"), "object": "message", "from": "+14155550100",
                "to": "+14155550199", "direction": "incoming", "body": "STOP"},
                "context": {"phoneNumberId": PN_B}}})
    };
    let in_data = |id: &str| {
        serde_json::json!({"id": id, "type": "message.received",
            "data": {"id": unique("AC"), "phoneNumberId": PN_B, "from": "+14155550100",
                "direction": "incoming", "body": "STOP"}})
    };
    for forged in [in_context(&unique("EV")), in_data(&unique("EV"))] {
        let body = forged.to_string().into_bytes();
        let sig = openphone_signed_by(PN_A_KEY, &body);
        for path in [
            "/webhooks/openphone".to_owned(),
            format!("/webhooks/openphone/{PN_A}"),
        ] {
            let res = app
                .post(&path, &body, &[("openphone-signature", &sig)])
                .await;
            assert_eq!(res.status(), 401, "{path}: {forged}");
        }
    }
    assert_eq!(app.queued().await, 0);

    // Signed with line B's own key, the same shape is line B's event.
    let body = in_context(&unique("EV")).to_string().into_bytes();
    let sig = openphone_signed_by(PN_B_KEY, &body);
    let res = app
        .post(
            "/webhooks/openphone",
            &body,
            &[("openphone-signature", &sig)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let (meta, _) = app.next_event().await;
    assert_eq!(meta.line.as_deref(), Some(PN_B));
    app.stop().await;
}
