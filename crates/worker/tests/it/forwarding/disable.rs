use super::events::{message_received, message_status};
use super::receiver::{Receiver, Reply};
use super::support::{fast_delivery, Forwarding, PATIENCE};
use inlet_testkit::eventually;
use inlet_worker::delivery::settings::DeliverySettings;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn an_endpoint_failing_for_too_long_is_disabled_with_a_reason_and_can_be_re_enabled() {
    // Zero seconds: the first failure is already "too long".
    let f = Forwarding::start_with(DeliverySettings {
        delivery_disable_after_secs: 0,
        ..fast_delivery()
    })
    .await;
    let receiver = Receiver::start();
    receiver.script([Reply::status(500)]);
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    let id = endpoint["id"].as_str().expect("id").to_owned();
    f.publish(&message_received("evt-dis-1")).await;

    let disabled = f.disabled_endpoint(&id).await;
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("HTTP 500")),
        "{disabled}"
    );
    // Counted once the attempt's transaction has committed, a moment after
    // the API can see it.
    let counted = eventually(PATIENCE, || async {
        (f.metrics.delivery.endpoints_disabled.get() == 1).then_some(())
    })
    .await;
    assert!(counted.is_some(), "the disabling was not counted");

    // Events arriving while disabled are not fanned out to it; a witness
    // endpoint shows when the event has been fanned out.
    let witness = Receiver::start();
    f.endpoint(json!({"url": witness.url, "event_types": ["message.status"]}))
        .await;
    f.publish(&message_status("evt-dis-2")).await;
    let fanned_out = eventually(PATIENCE, || async {
        (!witness.received().is_empty()).then_some(())
    })
    .await;
    assert!(fanned_out.is_some(), "the witness got the event");

    let (status, enabled) = f
        .api(
            Method::PATCH,
            &format!("/v1/endpoints/{id}"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(enabled["enabled"], true);
    assert!(enabled["disabled_reason"].is_null());
    // The waiting retry goes out once it is enabled again.
    let detail = f.delivery_with_status(&endpoint, "delivered").await;
    assert_eq!(detail["event_id"], "evt-dis-1");
    let (_, page) = f
        .api(Method::GET, &format!("/v1/endpoints/{id}/deliveries"), None)
        .await;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1));
    f.stop().await;
}

#[tokio::test]
async fn a_failure_long_after_the_previous_one_starts_a_new_streak_and_does_not_disable() {
    let f = Forwarding::start_with(DeliverySettings {
        delivery_disable_after_secs: 2,
        // The streak gap follows from it (timeout + backoff cap + poll).
        delivery_timeout_ms: 1_000,
        ..fast_delivery()
    })
    .await;
    let receiver = Receiver::start();
    receiver.script([Reply::status(500)]);
    let endpoint = f
        .endpoint(json!({"url": receiver.url, "max_attempts": 1}))
        .await;
    let id = endpoint["id"].as_str().expect("id").to_owned();
    f.publish(&message_received("evt-streak-1")).await;
    f.delivery_with_status(&endpoint, "failed").await;

    // Quiet for longer than the window (and than one delivery's attempts can
    // be apart here, 2.1 s): the old failure is not part of a streak any
    // more. Event 2 fails once, then goes through.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, _) = f
        .api(
            Method::PATCH,
            &format!("/v1/endpoints/{id}"),
            Some(json!({"max_attempts": 3})),
        )
        .await;
    assert_eq!(status, 200);
    receiver.script([Reply::status(503)]);
    f.publish(&message_status("evt-streak-2")).await;

    let delivered = eventually(PATIENCE, || async {
        let (_, page) = f
            .api(
                Method::GET,
                &format!("/v1/endpoints/{id}/deliveries?status=delivered"),
                None,
            )
            .await;
        page["data"].get(0).cloned()
    })
    .await;
    let (_, now) = f
        .api(Method::GET, &format!("/v1/endpoints/{id}"), None)
        .await;
    assert_eq!(now["enabled"], true, "{now}");
    let delivered = delivered.expect("event 2 is delivered");
    assert_eq!(delivered["event_id"], "evt-streak-2");
    assert_eq!(delivered["attempt_count"], 2);
    assert_eq!(receiver.received().len(), 3);
    assert_eq!(f.metrics.delivery.endpoints_disabled.get(), 0);
    f.stop().await;
}

#[tokio::test]
async fn an_endpoint_failing_every_attempt_for_the_whole_window_is_disabled() {
    // Retries come at most 1 s apart (the backoff cap, jitter included), well within
    // the 2 s window: the streak is continuous.
    let f = Forwarding::start_with(DeliverySettings {
        delivery_disable_after_secs: 2,
        // The streak gap follows from it (timeout + backoff cap + poll).
        delivery_timeout_ms: 1_000,
        ..fast_delivery()
    })
    .await;
    let receiver = Receiver::start();
    receiver.script((0..20).map(|_| Reply::status(500)));
    let endpoint = f
        .endpoint(json!({"url": receiver.url, "max_attempts": 20}))
        .await;
    let id = endpoint["id"].as_str().expect("id").to_owned();
    f.publish(&message_received("evt-streak-long")).await;

    let disabled = f.disabled_endpoint(&id).await;
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("failing continuously since")),
        "{disabled}"
    );
    let attempts = receiver.received().len();
    assert!((3..20).contains(&attempts), "{attempts} attempts");
    f.stop().await;
}
