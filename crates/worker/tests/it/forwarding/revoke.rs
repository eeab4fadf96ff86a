//! A revoked client gets nothing more: neither deliveries already waiting
//! nor events arriving after its revocation.

use super::events::message_received;
use super::receiver::Receiver;
use super::support::Forwarding;
use inlet_gateway::admin::clients::{create_client, revoke_client};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

#[tokio::test]
async fn after_revoking_a_client_nothing_more_is_delivered_to_its_endpoints() {
    let mut f = Forwarding::start().await;
    // Nothing is sent until the client is revoked.
    f.stop_forwarder().await;
    let revoked = Receiver::start();
    let endpoint = f.endpoint(json!({"url": revoked.url})).await;
    let endpoint_id = endpoint["id"].as_str().expect("id").to_owned();
    let (status, waiting) = f
        .api(
            Method::POST,
            &format!("/v1/endpoints/{endpoint_id}/test"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{waiting}");

    let db = f.db.client().await.expect("db");
    let client_id: Uuid = db
        .query_one("SELECT id FROM forward_clients WHERE name = 'acme'", &[])
        .await
        .expect("the test's client")
        .get(0);
    let disabled = revoke_client(&f.db.repo, client_id).await.expect("revoked");
    assert_eq!(disabled, 1);

    // Another client's endpoint witnesses that the event was fanned out and
    // that the scheduler ran.
    let (_, other) = create_client(&f.db.repo, "other").await.expect("client");
    f.token = other;
    let witness = Receiver::start();
    let witness_endpoint = f.endpoint(json!({"url": witness.url})).await;
    f.start_forwarder();
    f.publish(&message_received("evt-after-revoke")).await;
    f.delivery_with_status(&witness_endpoint, "delivered").await;
    // A few more of the scheduler's polls (every 100 ms here).
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert!(
        revoked.received().is_empty(),
        "the revoked client's endpoint got a request"
    );
    let rows = db
        .query(
            "SELECT event_id, status FROM forward_deliveries WHERE endpoint_id = $1",
            &[&Uuid::parse_str(&endpoint_id).expect("uuid")],
        )
        .await
        .expect("deliveries");
    let found: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        found.len(),
        1,
        "only the test delivery, never sent: {found:?}"
    );
    assert_eq!(found[0].1, "pending", "{found:?}");
    f.stop().await;
}
