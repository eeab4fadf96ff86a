//! An endpoint deleted while an event is being fanned out.

use super::events::message_received;
use super::receiver::Receiver;
use super::support::{Forwarding, PATIENCE};
use inlet_testkit::eventually;
use serde_json::json;
use tokio_postgres::NoTls;
use uuid::Uuid;

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("database connection");
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn an_endpoint_deleted_between_the_fan_outs_read_and_insert_costs_the_others_nothing() {
    let f = Forwarding::start().await;
    let receiver = Receiver::start();
    let kept = f.endpoint(json!({"url": receiver.url})).await;
    let doomed = f.endpoint(json!({"url": receiver.url})).await;
    let doomed_id: Uuid = doomed["id"].as_str().expect("id").parse().expect("uuid");

    // Inserts into forward_deliveries wait while this transaction holds the
    // table, so the fan-out stops after reading both endpoints.
    let url = &f.db.settings.database_url;
    let lock = connect(url).await;
    lock.batch_execute("BEGIN; LOCK TABLE forward_deliveries IN EXCLUSIVE MODE")
        .await
        .expect("locked");
    f.publish(&message_received("evt-endpoint-gone")).await;
    let watcher = connect(url).await;
    let insert_waits = eventually(PATIENCE, || async {
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND query LIKE '%INSERT INTO forward_deliveries%'",
                &[],
            )
            .await
            .expect("pg_stat_activity")
            .get(0);
        (waiting > 0).then_some(())
    })
    .await;
    assert!(insert_waits.is_some(), "the fan-out's insert never waited");
    // The endpoint goes (inside the lock's transaction, so its cascade is not
    // held up), and then the insert runs with it already gone.
    lock.execute("DELETE FROM forward_endpoints WHERE id = $1", &[&doomed_id])
        .await
        .expect("deleted");
    lock.batch_execute("COMMIT").await.expect("committed");

    let detail = f.delivery_with_status(&kept, "delivered").await;
    assert_eq!(detail["event_id"], "evt-endpoint-gone");
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].headers["webhook-id"], "evt-endpoint-gone");
    f.stop().await;
}
