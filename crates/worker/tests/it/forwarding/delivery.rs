use super::events::{message_received, message_status, LINE};
use super::receiver::{Receiver, Reply};
use super::support::{fast_delivery, Forwarding, PATIENCE};
use chrono::Utc;
use inlet_domain::signature::standard::{verify, StandardHeaders, StandardSecret};
use inlet_domain::signature::Tolerance;
use inlet_testkit::eventually;
use inlet_worker::delivery::settings::DeliverySettings;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

fn verifies(received: &super::receiver::Received, secret: &str) -> bool {
    let h = &received.headers;
    let headers = StandardHeaders {
        id: h.get("webhook-id").map(String::as_str),
        timestamp: h.get("webhook-timestamp").map(String::as_str),
        signature: h.get("webhook-signature").map(String::as_str),
    };
    let secret = StandardSecret::parse(secret).expect("whsec_ secret");
    verify(
        &headers,
        &received.body,
        &[secret],
        Utc::now(),
        Tolerance::DEFAULT,
    )
    .is_ok()
}

#[tokio::test]
async fn a_delivery_carries_the_event_and_a_signature_that_verifies_with_the_endpoint_secret() {
    let f = Forwarding::start().await;
    let receiver = Receiver::start();
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    let secret = endpoint["secret"].as_str().expect("secret");
    f.publish(&message_received("evt-sig-1")).await;

    let detail = f.delivery_with_status(&endpoint, "delivered").await;
    assert_eq!(detail["attempt_count"], 1);
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.headers["webhook-id"], "evt-sig-1");
    assert!(request.headers["webhook-signature"].starts_with("v1,"));
    assert!(verifies(request, secret), "signature verifies");
    assert!(!verifies(
        request,
        &inlet_domain::signature::standard::generate_secret()
    ));
    let body = request.json();
    assert_eq!(body["id"], "evt-sig-1");
    assert_eq!(body["type"], "message.received");
    assert_eq!(body["line"], LINE);
    assert!(body["timestamp"].is_string());
    assert_eq!(body["data"]["body"], "hello");
    f.stop().await;
}

#[tokio::test]
async fn two_failures_then_success_is_delivered_after_three_logged_attempts() {
    let f = Forwarding::start().await;
    let receiver = Receiver::start();
    receiver.script([Reply::status(500), Reply::status(503)]);
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    f.publish(&message_received("evt-retry-1")).await;

    let detail = f.delivery_with_status(&endpoint, "delivered").await;
    assert_eq!(detail["attempt_count"], 3);
    let attempts = detail["attempts"].as_array().expect("attempts");
    let codes: Vec<_> = attempts.iter().map(|a| a["status_code"].clone()).collect();
    assert_eq!(codes, [json!(500), json!(503), json!(200)]);
    assert!(
        attempts[0]["next_attempt_at"].is_string(),
        "a retry was scheduled"
    );
    assert_eq!(attempts[0]["response_body"], "answer 500");
    assert!(attempts[2]["next_attempt_at"].is_null());
    assert_eq!(receiver.received().len(), 3);
    let outcomes = &f.metrics.delivery.attempts;
    assert_eq!(outcomes.with_label_values(&["retry"]).get(), 2);
    assert_eq!(outcomes.with_label_values(&["success"]).get(), 1);
    f.stop().await;
}

#[tokio::test]
async fn an_answer_with_a_nul_byte_is_logged_and_the_delivery_is_delivered_once() {
    let f = Forwarding::start().await;
    let receiver = Receiver::start();
    // PostgreSQL text cannot hold NUL: the answer must still be recorded.
    receiver.script([Reply {
        body: Some(b"ok\0"),
        ..Reply::status(200)
    }]);
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    f.publish(&message_received("evt-nul")).await;

    let detail = f.delivery_with_status(&endpoint, "delivered").await;
    assert_eq!(detail["attempt_count"], 1);
    let attempts = detail["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status_code"], 200);
    assert_eq!(attempts[0]["response_body"], "ok\u{fffd}");
    assert_eq!(receiver.received().len(), 1, "sent once");
    f.stop().await;
}

#[tokio::test]
async fn a_400_fails_the_delivery_at_once_and_a_manual_retry_sends_it_again() {
    let f = Forwarding::start().await;
    let receiver = Receiver::start();
    receiver.script([Reply::status(400)]);
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    f.publish(&message_received("evt-400")).await;

    let detail = f.delivery_with_status(&endpoint, "failed").await;
    assert_eq!(detail["attempt_count"], 1);
    assert_eq!(detail["last_status_code"], 400);
    assert!(detail["next_attempt_at"].is_null(), "no retry is scheduled");
    assert_eq!(detail["attempts"][0]["status_code"], 400);
    assert_eq!(
        f.metrics
            .delivery
            .attempts
            .with_label_values(&["failed"])
            .get(),
        1
    );

    let id = detail["id"].as_str().expect("id");
    let (status, _) = f
        .api(Method::POST, &format!("/v1/deliveries/{id}/retry"), None)
        .await;
    assert_eq!(status, 202);
    let detail = f.delivery_with_status(&endpoint, "delivered").await;
    assert_eq!(detail["attempt_count"], 2);
    assert_eq!(receiver.received().len(), 2);
    f.stop().await;
}

#[tokio::test]
async fn a_timed_out_attempt_is_retried() {
    let f = Forwarding::start_with(DeliverySettings {
        delivery_timeout_ms: 1_000,
        ..fast_delivery()
    })
    .await;
    let receiver = Receiver::start();
    // Longer than the 1 s timeout.
    receiver.script([Reply::slow(Duration::from_secs(3))]);
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    f.publish(&message_received("evt-timeout")).await;

    let detail = f.delivery_with_status(&endpoint, "delivered").await;
    assert_eq!(detail["attempt_count"], 2);
    let first = &detail["attempts"][0];
    assert!(first["status_code"].is_null());
    assert!(
        first["error"]
            .as_str()
            .is_some_and(|e| e.contains("timeout")),
        "{first}"
    );
    f.stop().await;
}

#[tokio::test]
async fn an_endpoint_filtered_by_event_type_only_gets_matching_events() {
    let f = Forwarding::start().await;
    let everything = Receiver::start();
    let statuses = Receiver::start();
    f.endpoint(json!({"url": everything.url})).await;
    let filtered = f
        .endpoint(json!({"url": statuses.url, "event_types": ["message.status"]}))
        .await;
    f.publish(&message_received("evt-f-1")).await;
    f.publish(&message_status("evt-f-2")).await;

    let both = eventually(PATIENCE, || async {
        (everything.received().len() == 2).then_some(())
    })
    .await;
    assert!(both.is_some(), "the unfiltered endpoint gets both events");
    f.delivery_with_status(&filtered, "delivered").await;
    let got: Vec<_> = statuses
        .received()
        .iter()
        .map(|r| r.json()["type"].clone())
        .collect();
    assert_eq!(got, [json!("message.status")]);
    let id = filtered["id"].as_str().expect("id");
    let (_, page) = f
        .api(Method::GET, &format!("/v1/endpoints/{id}/deliveries"), None)
        .await;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1));
    f.stop().await;
}

#[tokio::test]
async fn during_a_rotation_deliveries_carry_signatures_for_the_old_and_the_new_secret() {
    let f = Forwarding::start().await;
    let receiver = Receiver::start();
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    let old = endpoint["secret"].as_str().expect("secret").to_owned();
    let id = endpoint["id"].as_str().expect("id");
    let (status, rotated) = f
        .api(
            Method::POST,
            &format!("/v1/endpoints/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let new = rotated["secret"].as_str().expect("new secret");
    f.publish(&message_received("evt-rot")).await;

    f.delivery_with_status(&endpoint, "delivered").await;
    let request = &receiver.received()[0];
    assert_eq!(request.headers["webhook-signature"].split(' ').count(), 2);
    assert!(verifies(request, new), "verifies with the new secret");
    assert!(verifies(request, &old), "verifies with the old secret");
    f.stop().await;
}

/// A second rotation within the grace period (a client retrying one whose
/// answer it lost, say) keeps the first secret signing until its own grace
/// ends: the receiver may still verify with it.
#[tokio::test]
async fn after_two_rotations_within_the_grace_period_every_secret_in_grace_still_verifies() {
    let f = Forwarding::start().await;
    let receiver = Receiver::start();
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    let first = endpoint["secret"].as_str().expect("secret").to_owned();
    let id = endpoint["id"].as_str().expect("id");
    let mut secrets = vec![first];
    for _ in 0..2 {
        let (status, rotated) = f
            .api(
                Method::POST,
                &format!("/v1/endpoints/{id}/rotate-secret"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{rotated}");
        secrets.push(rotated["secret"].as_str().expect("new secret").to_owned());
    }
    f.publish(&message_received("evt-rot-twice")).await;

    f.delivery_with_status(&endpoint, "delivered").await;
    let request = &receiver.received()[0];
    assert_eq!(request.headers["webhook-signature"].split(' ').count(), 3);
    for (n, secret) in secrets.iter().enumerate() {
        assert!(verifies(request, secret), "verifies with secret {n}");
    }
    f.stop().await;
}

#[tokio::test]
async fn the_test_action_sends_a_test_event_to_the_endpoint() {
    let f = Forwarding::start().await;
    let receiver = Receiver::start();
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    let id = endpoint["id"].as_str().expect("id");
    let (status, _) = f
        .api(Method::POST, &format!("/v1/endpoints/{id}/test"), None)
        .await;
    assert_eq!(status, 202);
    f.delivery_with_status(&endpoint, "delivered").await;
    assert_eq!(receiver.received()[0].json()["type"], "endpoint.test");
    f.stop().await;
}

#[tokio::test]
async fn events_received_together_go_to_the_endpoints_each_one_matches() {
    let mut f = Forwarding::start().await;
    // Queued while no consumer runs, so they arrive together as one batch.
    f.stop_forwarder().await;
    let on_line = Receiver::start();
    let other_line = Receiver::start();
    let statuses = Receiver::start();
    let on_line_ep = f
        .endpoint(json!({"url": on_line.url, "lines": [LINE]}))
        .await;
    let other_line_ep = f
        .endpoint(json!({"url": other_line.url, "lines": ["+15550000000"]}))
        .await;
    let statuses_ep = f
        .endpoint(json!({"url": statuses.url, "event_types": ["message.status"]}))
        .await;
    for i in 0..6 {
        f.publish(&message_received(&format!("evt-b-m{i}"))).await;
    }
    for i in 0..3 {
        f.publish(&message_status(&format!("evt-b-s{i}"))).await;
    }
    f.start_forwarder();

    let all_sent = eventually(PATIENCE, || async {
        (on_line.received().len() == 9 && statuses.received().len() == 3).then_some(())
    })
    .await;
    assert!(
        all_sent.is_some(),
        "the line's endpoint gets all 9 events ({} so far), the status endpoint the 3 statuses ({} so far)",
        on_line.received().len(),
        statuses.received().len()
    );
    let count = |endpoint: &serde_json::Value| {
        let id = endpoint["id"].as_str().expect("id").to_owned();
        let f = &f;
        async move {
            let (_, page) = f
                .api(Method::GET, &format!("/v1/endpoints/{id}/deliveries"), None)
                .await;
            page["data"].as_array().map_or(0, Vec::len)
        }
    };
    assert_eq!(count(&on_line_ep).await, 9);
    assert_eq!(count(&statuses_ep).await, 3);
    assert_eq!(
        count(&other_line_ep).await,
        0,
        "another line's endpoint gets nothing"
    );
    assert!(other_line.received().is_empty());
    let mut types: Vec<String> = statuses
        .received()
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    types.dedup();
    assert_eq!(types, ["message.status"]);
    f.stop().await;
}
