use super::events::message_received;
use super::receiver::{Receiver, Reply};
use super::support::{fast_delivery, Forwarding};
use inlet_worker::delivery::settings::DeliverySettings;
use serde_json::json;

#[tokio::test]
async fn a_delivery_waiting_for_a_retry_is_sent_by_a_new_delivery_consumer() {
    // A 5 s backoff leaves time to stop the first consumer while the retry waits.
    let f = Forwarding::start_with(DeliverySettings {
        delivery_backoff_base_ms: 5_000,
        delivery_backoff_max_ms: 5_000,
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
        // Its claim's lease: gone, with the claim, when the delivery was made.
        lease_until: chrono::Utc::now(),
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

#[tokio::test]
async fn a_late_attempt_from_a_lapsed_claim_leaves_the_new_claim_alone() {
    use inlet_domain::repository::forwarding::{
        claim_due, record_attempt, AttemptRecord, ClaimLimits, Claimed, Verdict,
    };
    use std::time::Duration;

    let mut f = Forwarding::start().await;
    f.stop_forwarder().await;
    let receiver = Receiver::start();
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    let endpoint_id = endpoint["id"].as_str().expect("id");
    let (status, test) = f
        .api(
            reqwest::Method::POST,
            &format!("/v1/endpoints/{endpoint_id}/test"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{test}");
    let limits = ClaimLimits {
        batch: 10,
        per_endpoint: 10,
        lease: Duration::from_secs(60),
    };
    let client = f.db.repo.client().await.expect("client");
    // Each claim on a pooled connection of its own, as a worker's would be.
    let claim_all = || async {
        let mut client = f.db.repo.client().await.expect("client");
        claim_due(&mut client, limits).await.expect("claim")
    };
    let claim = || async {
        let claimed: Vec<Claimed> = claim_all().await;
        assert_eq!(claimed.len(), 1, "one delivery claimed");
        claimed.into_iter().next().expect("claimed")
    };
    let record = |claimed: &Claimed, verdict: Verdict, attempt: i32| {
        let rec = AttemptRecord {
            delivery_id: claimed.id,
            lease_until: claimed.lease_until,
            endpoint_id: claimed.endpoint_id,
            attempt,
            attempted_at: chrono::Utc::now(),
            status_code: Some(503),
            response_body: None,
            error: Some("unavailable"),
            duration_ms: 61_000,
            verdict,
            disable_after: Duration::from_secs(3600),
            streak_gap: Duration::from_secs(3600),
        };
        let db = &f.db;
        async move {
            let mut client = db.repo.client().await.expect("client");
            let tx = client.transaction().await.expect("transaction");
            record_attempt(&tx, &rec).await.expect("recorded");
            tx.commit().await.expect("committed");
        }
    };
    let first = claim().await;
    // The first claim's worker stalls past its lease; a second one claims.
    client
        .execute(
            "UPDATE forward_deliveries SET lease_until = now() - interval '1 second' WHERE id = $1",
            &[&first.id],
        )
        .await
        .expect("lease lapsed");
    let second = claim().await;
    assert_eq!(second.id, first.id);

    // The first worker's late failure is logged but moves nothing.
    record(&first, Verdict::Retry(chrono::Utc::now()), 1).await;
    let row = client
        .query_one(
            "SELECT status, lease_until, attempts FROM forward_deliveries WHERE id = $1",
            &[&first.id],
        )
        .await
        .expect("delivery");
    assert_eq!(row.get::<_, String>(0), "sending", "the live claim stays");
    assert_eq!(
        row.get::<_, Option<chrono::DateTime<chrono::Utc>>>(1),
        Some(second.lease_until)
    );
    let again = claim_all().await;
    assert!(again.is_empty(), "no third worker may claim it meanwhile");

    // The live claim's own outcome moves it on.
    record(&second, Verdict::Failed, 2).await;
    let row = client
        .query_one(
            "SELECT status, attempts, (SELECT count(*) FROM forward_delivery_attempts a WHERE a.delivery_id = d.id) FROM forward_deliveries d WHERE id = $1",
            &[&first.id],
        )
        .await
        .expect("delivery");
    assert_eq!(row.get::<_, String>(0), "failed");
    assert_eq!(row.get::<_, i32>(1), 2);
    assert_eq!(row.get::<_, i64>(2), 2, "both attempts logged");
    f.stop().await;
}
