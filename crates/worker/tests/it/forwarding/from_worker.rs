//! The whole path: raw events the worker stores reach the endpoints that
//! match them, each once, through the batches the worker hands to forwarding.

use super::receiver::{Received, Receiver};
use super::support::{Forwarding, PATIENCE};
use crate::fixtures::meta_text;
use crate::helpers::{bind_listener, delete_listener, envelope};
use inlet_domain::Provider;
use inlet_testkit::eventually;
use inlet_worker::config::DomainEvents;
use serde_json::json;
use std::collections::BTreeSet;

#[tokio::test]
async fn raw_events_the_worker_stores_reach_a_matching_endpoint_once_each() {
    let mut f = Forwarding::start().await;
    let messages = Receiver::start();
    let statuses = Receiver::start();
    f.endpoint(json!({"url": messages.url, "event_types": ["message.received"]}))
        .await;
    f.endpoint(json!({"url": statuses.url, "event_types": ["message.status"]}))
        .await;
    // Queued before the worker starts, so that it stores them in batches.
    let mut expected = BTreeSet::new();
    for i in 0..12 {
        let id = format!("wamid.fwd{i}");
        let body = meta_text(&id, "16505550123", "hello", 1_749_416_383);
        let meta = envelope(Provider::Meta);
        f.publish_raw(&meta, &body).await;
        if i % 4 == 0 {
            // A redelivered copy: stored once, forwarded once.
            f.publish_raw(&meta, &body).await;
        }
        expected.insert(id);
    }
    f.start_worker().await;

    wait_for(&messages, expected.len()).await;
    // Give a doubled delivery the time to show up before counting.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let received = messages.received();
    let ids = message_ids(&received);
    assert_eq!(
        ids.len(),
        expected.len(),
        "each message forwarded once: {ids:?}"
    );
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), expected);
    assert!(received
        .iter()
        .all(|r| r.json()["type"] == json!("message.received")));
    assert!(statuses.received().is_empty(), "no status was stored");
    f.stop().await;
}

#[tokio::test]
async fn with_domain_events_off_the_worker_still_forwards_every_event_and_publishes_none_on_the_exchange(
) {
    let mut f = Forwarding::start().await;
    let messages = Receiver::start();
    f.endpoint(json!({"url": messages.url, "event_types": ["message.received"]}))
        .await;
    // A consumer of the domain exchange that would see every event.
    let listener = bind_listener(&f.broker, "#").await;
    let expected: BTreeSet<String> = (0..5).map(|i| format!("wamid.quiet{i}")).collect();
    for id in &expected {
        let body = meta_text(id, "16505550123", "hello", 1_749_416_383);
        f.publish_raw(&envelope(Provider::Meta), &body).await;
    }
    f.start_worker_with(|s| s.domain_events = DomainEvents::Off)
        .await;

    wait_for(&messages, expected.len()).await;
    let forwarded: BTreeSet<String> = message_ids(&messages.received()).into_iter().collect();
    assert_eq!(forwarded, expected);
    // The worker announces a batch on the exchange and forwards it in one
    // go, so by now anything it published there would have arrived.
    let listened = f
        .broker
        .ready(&listener)
        .await
        .expect("listener queue exists");
    assert_eq!(listened, 0, "nothing on inlet.domain");
    delete_listener(&f.broker, &listener).await;
    f.stop().await;
}

/// Waits until `receiver` has been sent at least `n` events; fails the test if not.
async fn wait_for(receiver: &Receiver, n: usize) {
    let all = eventually(PATIENCE, || async {
        (receiver.received().len() >= n).then_some(())
    })
    .await;
    assert!(
        all.is_some(),
        "{} of {n} messages forwarded",
        receiver.received().len()
    );
}

/// The provider message ids of the forwarded events, in arrival order.
fn message_ids(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| {
            r.json()["data"]["provider_message_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}
