use super::events::message_received;
use super::receiver::{Receiver, Reply};
use super::support::{fast_delivery, Forwarding, PATIENCE};
use inlet_domain::forward::settings::ForwardSettings;
use inlet_testkit::eventually;
use inlet_worker::delivery::settings::DeliverySettings;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_slow_endpoint_gets_one_request_at_a_time_and_does_not_delay_another() {
    let f = Forwarding::start_with(DeliverySettings {
        delivery_timeout_ms: 5_000,
        delivery_endpoint_concurrency: 1,
        ..fast_delivery()
    })
    .await;
    let slow = Receiver::start();
    slow.script((0..3).map(|_| Reply::slow(Duration::from_millis(700))));
    let fast = Receiver::start();
    f.endpoint(json!({"url": slow.url})).await;
    f.endpoint(json!({"url": fast.url})).await;
    for n in 0..3 {
        f.publish(&message_received(&format!("evt-lim-{n}"))).await;
    }

    let fast_done = eventually(PATIENCE, || async {
        (fast.received().len() == 3).then_some(())
    })
    .await;
    assert!(fast_done.is_some(), "the fast endpoint got every event");
    assert!(
        slow.received().len() < 3,
        "the fast endpoint did not wait for the slow one"
    );
    let slow_done = eventually(PATIENCE, || async {
        (slow.received().len() == 3).then_some(())
    })
    .await;
    assert!(slow_done.is_some(), "the slow endpoint got every event");
    assert_eq!(slow.max_in_flight(), 1, "one request at a time");
    f.stop().await;
}

#[tokio::test]
async fn a_retry_after_from_the_endpoint_sets_the_next_attempt() {
    let f = Forwarding::start_with(DeliverySettings {
        delivery_backoff_max_ms: 3_000,
        ..fast_delivery()
    })
    .await;
    let receiver = Receiver::start();
    receiver.script([Reply {
        retry_after: Some("2"),
        ..Reply::status(429)
    }]);
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    f.publish(&message_received("evt-429")).await;

    let detail = f.delivery_with_status(&endpoint, "delivered").await;
    let first = &detail["attempts"][0];
    assert_eq!(first["status_code"], 429);
    let at = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().expect("time")).expect("rfc3339")
    };
    let wait = at(&first["next_attempt_at"]) - at(&first["attempted_at"]);
    // The first backoff is about 0.2 s: only Retry-After explains 2 s.
    assert!(wait >= chrono::Duration::milliseconds(1_900), "{wait}");
    f.stop().await;
}

#[tokio::test]
async fn a_delivery_to_a_host_resolving_to_an_internal_address_is_refused_at_send_time() {
    // The API accepted the URL (as if DNS said otherwise then); the sender
    // resolves again and refuses.
    let f = Forwarding::start_custom(
        fast_delivery(),
        ForwardSettings {
            forward_allow_http: true,
            ..ForwardSettings::default()
        },
    )
    .await;
    let receiver = Receiver::start();
    let url = receiver.url.replace("127.0.0.1", "localhost");
    let endpoint = f.endpoint(json!({"url": url, "max_attempts": 5})).await;
    f.publish(&message_received("evt-private")).await;

    let detail = f.delivery_with_status(&endpoint, "failed").await;
    let error = detail["attempts"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("private"), "{error}");
    // Final at once: asking the same resolver again cannot change its answer.
    assert_eq!(detail["attempt_count"], 1, "{detail}");
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
    f.stop().await;
}

#[tokio::test]
async fn an_endpoint_limited_to_one_request_at_a_time_gets_its_backlog_without_waiting_for_polls() {
    // A poll interval longer than the test's patience: only a finished send
    // can make the next delivery go out in time.
    let mut f = Forwarding::start_with(DeliverySettings {
        delivery_endpoint_concurrency: 1,
        delivery_poll_interval_ms: 30_000,
        ..fast_delivery()
    })
    .await;
    // Queued while no consumer runs, so they are fanned out (and wake the
    // scheduler) together.
    f.stop_forwarder().await;
    let receiver = Receiver::start();
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    for n in 0..5 {
        f.publish(&message_received(&format!("evt-backlog-{n}")))
            .await;
    }
    f.start_forwarder();

    let id = endpoint["id"].as_str().expect("id");
    let delivered = eventually(PATIENCE, || async {
        let (_, page) = f
            .api(
                Method::GET,
                &format!("/v1/endpoints/{id}/deliveries?status=delivered"),
                None,
            )
            .await;
        (page["data"].as_array().map(Vec::len) == Some(5)).then_some(())
    })
    .await;
    assert!(
        delivered.is_some(),
        "all 5 delivered ({} received)",
        receiver.received().len()
    );
    assert_eq!(receiver.received().len(), 5, "each sent once");
    assert_eq!(receiver.max_in_flight(), 1, "one request at a time");
    f.stop().await;
}
