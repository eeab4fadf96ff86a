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
    let client_id = acme(&db).await;
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

/// The id of the client every `Forwarding` test starts with.
async fn acme(db: &inlet_testkit::deadpool_client::Client) -> Uuid {
    db.query_one("SELECT id FROM forward_clients WHERE name = 'acme'", &[])
        .await
        .expect("the test's client")
        .get(0)
}

/// A new enabled endpoint, as the management API would store it.
fn enabled_endpoint() -> inlet_domain::repository::forwarding::NewEndpoint {
    inlet_domain::repository::forwarding::NewEndpoint {
        url: "http://127.0.0.1:9/hook".into(),
        description: String::new(),
        lines: vec![],
        event_types: vec![],
        max_attempts: 3,
        enabled: true,
        secret: inlet_domain::signature::standard::generate_secret(),
    }
}

/// An endpoint created or enabled by a request that was authenticated before
/// its client's revocation, and reached the database after (its URL's DNS
/// lookup in between), is refused; one that reached the database first is
/// disabled by the revocation. Either way nothing enabled is left behind.
#[tokio::test]
async fn an_endpoint_created_or_enabled_around_a_revocation_is_never_left_enabled() {
    use inlet_domain::repository::forwarding::{insert_endpoint, update_endpoint, EndpointPatch};

    let f = Forwarding::start().await;
    let db = f.db.client().await.expect("db");
    let client_id = acme(&db).await;
    let new = enabled_endpoint();
    let enabled = |id: Uuid| {
        let db = &db;
        async move {
            db.query_one(
                "SELECT enabled FROM forward_endpoints WHERE id = $1",
                &[&id],
            )
            .await
            .expect("endpoint")
            .get::<_, bool>(0)
        }
    };

    // The endpoint's insert first: the revocation waits for it, then disables it.
    let mut first = f.db.repo.client().await.expect("client");
    let tx = first.transaction().await.expect("transaction");
    let early = insert_endpoint(&tx, client_id, &new)
        .await
        .expect("insert")
        .expect("not revoked yet");
    let repo = f.db.repo.clone();
    let revoking = tokio::spawn(async move { revoke_client(&repo, client_id).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !revoking.is_finished(),
        "the revocation waits for the insert"
    );
    tx.commit().await.expect("committed");
    let disabled = revoking.await.expect("task").expect("revoked");
    assert_eq!(disabled, 1, "the new endpoint was disabled");
    assert!(!enabled(early.id).await);

    // After the revocation: neither a new endpoint nor re-enabling one.
    let late = insert_endpoint(&db, client_id, &new).await.expect("insert");
    assert!(
        late.is_none(),
        "an endpoint for a revoked client was created"
    );
    let patch = EndpointPatch {
        enabled: Some(true),
        ..EndpointPatch::default()
    };
    let patched = update_endpoint(&db, client_id, early.id, &patch)
        .await
        .expect("update");
    assert!(patched.is_none(), "a revoked client's endpoint was enabled");
    assert!(!enabled(early.id).await);
    f.stop().await;
}

/// The revocation first, not yet committed: the insert waits for it and then
/// finds the client revoked.
#[tokio::test]
async fn an_endpoint_insert_waiting_on_a_revocation_finds_the_client_revoked() {
    use inlet_domain::repository::forwarding::insert_endpoint;

    let f = Forwarding::start().await;
    let db = f.db.client().await.expect("db");
    let client_id = acme(&db).await;
    let mut revoker = f.db.repo.client().await.expect("client");
    let tx = revoker.transaction().await.expect("transaction");
    tx.execute(
        "UPDATE forward_clients SET revoked_at = now() WHERE id = $1",
        &[&client_id],
    )
    .await
    .expect("revoking");
    let repo = f.db.repo.clone();
    let inserting = tokio::spawn(async move {
        let client = repo.client().await.expect("client");
        insert_endpoint(&client, client_id, &enabled_endpoint()).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !inserting.is_finished(),
        "the insert waits for the revocation"
    );
    tx.commit().await.expect("revoked");
    let inserted = inserting.await.expect("task").expect("insert");
    assert!(
        inserted.is_none(),
        "an endpoint for a revoked client was created"
    );
    let count: i64 = db
        .query_one("SELECT count(*) FROM forward_endpoints", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 0);
    f.stop().await;
}
