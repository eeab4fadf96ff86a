//! What SREs watch: `/metrics` counters move by the right amounts, probes answer.

use crate::helpers::{
    meta_signature, meta_text, spawn_app, spawn_with_admin, test_settings, TestApp,
};
use inlet_gateway::config::Settings;
use inlet_testkit::TestBroker;

async fn scrape(app: &TestApp) -> String {
    let res = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("scraped");
    assert_eq!(res.status(), 200);
    res.text().await.expect("text")
}

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn request_counters_move_by_the_traffic_sent() {
    let app = spawn_app().await;
    for i in 0..3 {
        let body = meta_text(&format!("wamid.metrics.{i}"), "hi");
        let sig = meta_signature(&body);
        let res = app
            .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
            .await;
        assert_eq!(res.status(), 200);
    }
    let forged = meta_text("wamid.metrics.forged", "hi");
    let res = app
        .post(
            "/webhooks/meta",
            &forged,
            &[("x-hub-signature-256", "sha256=00")],
        )
        .await;
    assert_eq!(res.status(), 401);

    let text = scrape(&app).await;
    assert_eq!(
        sample(
            &text,
            r#"inlet_gateway_requests_total{outcome="accepted",provider="meta"}"#
        ),
        3.0
    );
    assert_eq!(
        sample(
            &text,
            r#"inlet_gateway_requests_total{outcome="invalid_signature",provider="meta"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(&text, "inlet_gateway_publish_duration_seconds_count"),
        3.0
    );
    assert_eq!(
        sample(
            &text,
            r#"inlet_gateway_request_duration_seconds_count{provider="meta"}"#
        ),
        4.0
    );
    assert_eq!(sample(&text, "inlet_gateway_broker_connected"), 1.0);
    app.stop().await;
}

#[tokio::test]
async fn liveness_and_readiness_answer_while_the_broker_is_up() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let res = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status(), 200, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_internal_listener_serves_the_metrics_and_the_ingest_port_can_stop_serving_them() {
    let broker = TestBroker::new().await.expect("broker namespace");
    let settings = Settings {
        admin_addr: "127.0.0.1:0".into(),
        metrics_on_ingest: false,
        ..test_settings(&broker)
    };
    let (app, admin) = spawn_with_admin(broker, settings).await;
    let body = meta_text("wamid.metrics.internal", "hi");
    let sig = meta_signature(&body);
    let res = app
        .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
        .await;
    assert_eq!(res.status(), 200);

    let public = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(public.status(), 404, "not on the public ingest port");
    let internal = app
        .http
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .expect("scraped");
    assert_eq!(internal.status(), 200);
    let text = internal.text().await.expect("text");
    assert_eq!(
        sample(
            &text,
            r#"inlet_gateway_requests_total{outcome="accepted",provider="meta"}"#
        ),
        1.0,
        "the ingest listener's own counters"
    );
    app.stop().await;
}
