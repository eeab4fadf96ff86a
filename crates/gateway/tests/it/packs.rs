//! Group commit: webhooks that wait for the broker together are published as
//! one pack, and each is still answered, deduplicated and released on its own.

use crate::helpers::{
    meta_signature, meta_text, spawn_unready, spawn_with, test_settings, unique, TestApp,
};
use futures::future::join_all;
use inlet_gateway::peek::meta_key;
use inlet_testkit::TestBroker;
use std::collections::HashSet;
use std::time::Duration;

const EVENTS_PER_PUBLISH: &str = "inlet_gateway_events_per_publish";

/// A gateway whose publishes go one group at a time, so that webhooks sent
/// together queue up behind the first and travel as packs.
async fn one_group_at_a_time(max_events: usize) -> TestApp {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.publishes_in_flight = 1;
    settings.pack_max_events = max_events;
    spawn_with(broker, settings).await
}

/// Posts every body at once; the answers' status codes and JSON, in order.
async fn post_all(app: &TestApp, bodies: &[Vec<u8>]) -> Vec<(u16, serde_json::Value)> {
    join_all(bodies.iter().map(|body| async move {
        let sig = meta_signature(body);
        let res = app
            .post("/webhooks/meta", body, &[("x-hub-signature-256", &sig)])
            .await;
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or_default())
    }))
    .await
}

#[tokio::test]
async fn webhooks_sent_together_travel_in_packs_and_each_is_queued_once() {
    let app = one_group_at_a_time(32).await;
    let bodies: Vec<Vec<u8>> = (0..60)
        .map(|i| meta_text(&unique(&format!("wamid.{i}.")), "hello"))
        .collect();
    let answers = post_all(&app, &bodies).await;
    let ids: HashSet<String> = answers
        .iter()
        .map(|(status, json)| {
            assert_eq!(*status, 200, "{json}");
            assert_eq!(json["status"], "accepted");
            json["id"].as_str().expect("an id").to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 60);

    let events = app.drain_events().await;
    assert_eq!(events.len(), 60);
    let queued: HashSet<String> = events.iter().map(|(m, _, _)| m.dedup_key.clone()).collect();
    let sent: HashSet<String> = bodies.iter().map(|b| meta_key(b)).collect();
    assert_eq!(queued, sent);
    // The answered ids are the queued events' correlation ids.
    let correlated: HashSet<String> = events
        .iter()
        .map(|(m, _, _)| m.correlation_id.clone())
        .collect();
    assert_eq!(correlated, ids);
    // Each queued body is the one that was signed, untouched.
    for (meta, body, _) in &events {
        assert_eq!(meta_key(body), meta.dedup_key);
        assert!(bodies.contains(body));
    }
    let largest = events.iter().map(|(_, _, n)| *n).max().unwrap_or(0);
    assert!(largest > 1, "no pack: every event went alone");
    assert!(largest <= 32, "a pack of {largest} is over the limit");
    assert_eq!(app.metric(&format!("{EVENTS_PER_PUBLISH}_sum")).await, 60.0);
    assert!(app.metric(&format!("{EVENTS_PER_PUBLISH}_count")).await < 60.0);
    // The done marks are written after the answers, off their path.
    for body in &bodies {
        let key = meta_key(body);
        let marked = inlet_testkit::eventually(Duration::from_secs(5), || async {
            (app.dedup_value(&key).await.as_deref() == Some("done")).then_some(())
        })
        .await;
        assert!(marked.is_some(), "a done mark never reached Redis");
    }
    app.stop().await;
}

#[tokio::test]
async fn copies_sent_together_are_queued_once() {
    let app = one_group_at_a_time(32).await;
    let body = meta_text(&unique("wamid.copy."), "hello");
    let answers = post_all(&app, &vec![body.clone(); 20]).await;
    let accepted = answers
        .iter()
        .filter(|(s, json)| *s == 200 && json["status"] == "accepted")
        .count();
    assert_eq!(accepted, 1, "{answers:?}");
    for (status, json) in &answers {
        let ok = *status == 409 || (*status == 200 && json["status"] != "");
        assert!(ok, "{status} {json}");
    }
    let events = app.drain_events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0.dedup_key, meta_key(&body));
    app.stop().await;
}

#[tokio::test]
async fn with_packs_off_every_event_is_a_message_of_its_own() {
    let app = one_group_at_a_time(1).await;
    let bodies: Vec<Vec<u8>> = (0..20)
        .map(|i| meta_text(&unique(&format!("wamid.alone.{i}.")), "hello"))
        .collect();
    let answers = post_all(&app, &bodies).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    assert_eq!(app.queued().await, 20);
    let events = app.drain_events().await;
    assert_eq!(events.len(), 20);
    assert!(events.iter().all(|(_, _, n)| *n == 1));
    app.stop().await;
}

#[tokio::test]
async fn with_one_publish_in_flight_webhooks_on_every_http_thread_are_answered() {
    // The HTTP worker threads are dealt connections in turn and each has an
    // intake of its own, sharing the one slot: a thread waiting for work must
    // not hold it while another thread's webhook waits.
    let app = one_group_at_a_time(32).await;
    for i in 0..6 {
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        let body = meta_text(&unique(&format!("wamid.thread.{i}.")), "hello");
        let sent = fresh
            .post(format!("{}/webhooks/meta", app.address))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", meta_signature(&body))
            .body(body)
            .send();
        let res = tokio::time::timeout(Duration::from_secs(10), sent)
            .await
            .unwrap_or_else(|_| panic!("webhook {i} was not answered within 10 s"))
            .expect("sent");
        assert_eq!(res.status(), 200, "webhook {i}");
    }
    assert_eq!(app.queued().await, 6);
    app.stop().await;
}

#[tokio::test]
async fn a_group_that_cannot_be_published_answers_each_503_and_releases_every_claim() {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.publishes_in_flight = 1;
    // Nothing listens on port 1: every publish fails.
    settings.broker.amqp_url = "amqp://guest:guest@127.0.0.1:1/%2f".into();
    let app = spawn_unready(broker, settings);
    let bodies: Vec<Vec<u8>> = (0..20)
        .map(|i| meta_text(&unique(&format!("wamid.down.{i}.")), "hello"))
        .collect();
    let answers = post_all(&app, &bodies).await;
    assert!(answers.iter().all(|(s, _)| *s == 503), "{answers:?}");
    for body in &bodies {
        assert_eq!(app.dedup_value(&meta_key(body)).await, None);
    }
    app.stop().await;
}
