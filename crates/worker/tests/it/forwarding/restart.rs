use super::events::message_received;
use super::receiver::{Receiver, Reply};
use super::support::{fast_delivery, Forwarding};
use inlet_worker::delivery::settings::DeliverySettings;
use serde_json::json;

#[tokio::test]
async fn a_delivery_waiting_for_a_retry_is_sent_by_a_new_delivery_consumer() {
    // A 2 s backoff leaves time to stop the first consumer while the retry waits.
    let f = Forwarding::start_with(DeliverySettings {
        delivery_backoff_base_ms: 2_000,
        delivery_backoff_max_ms: 2_000,
        ..fast_delivery()
    })
    .await;
    let mut f = f;
    let receiver = Receiver::start();
    receiver.script([Reply::status(500)]);
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    f.publish(&message_received("evt-restart")).await;

    let waiting = f.delivery_with_status(&endpoint, "retrying").await;
    assert_eq!(waiting["attempt_count"], 1);
    f.stop_forwarder().await;
    assert_eq!(receiver.received().len(), 1);

    f.start_forwarder();
    let detail = f.delivery_with_status(&endpoint, "delivered").await;
    assert_eq!(detail["attempt_count"], 2);
    assert_eq!(receiver.received().len(), 2);
    f.stop().await;
}

#[tokio::test]
async fn a_late_attempt_from_a_worker_whose_lease_ran_out_does_not_undo_a_delivery() {
    use inlet_domain::repository::forwarding::{record_attempt, AttemptRecord, Verdict};
    use std::time::Duration;

    let f = Forwarding::start().await;
    let receiver = Receiver::start();
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    f.publish(&message_received("evt-late-attempt")).await;
    let delivered = f.delivery_with_status(&endpoint, "delivered").await;
    assert_eq!(delivered["attempt_count"], 1);

    // The same attempt recorded again by a worker that had claimed the
    // delivery before, timed out and lost its lease: a failure, to retry.
    let id = delivered["id"].as_str().expect("id").parse().expect("uuid");
    let endpoint_id = endpoint["id"].as_str().expect("id").parse().expect("uuid");
    let mut client = f.db.repo.client().await.expect("client");
    let tx = client.transaction().await.expect("transaction");
    let late = AttemptRecord {
        delivery_id: id,
        endpoint_id,
        attempt: 1,
        attempted_at: chrono::Utc::now(),
        status_code: None,
        response_body: None,
        error: Some("timed out"),
        duration_ms: 31_000,
        verdict: Verdict::Retry(chrono::Utc::now()),
        disable_after: Duration::from_secs(3600),
        streak_gap: Duration::from_secs(3600),
    };
    record_attempt(&tx, &late).await.expect("recorded");
    tx.commit().await.expect("committed");

    let (status, detail) = f
        .api(reqwest::Method::GET, &format!("/v1/deliveries/{id}"), None)
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["status"], "delivered", "{detail}");
    assert_eq!(detail["attempt_count"], 1, "{detail}");
    // Nothing is due, so nothing goes out again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1);
    f.stop().await;
}
