//! Delivery states through the broker: any order gives the right final state.

use crate::fixtures::{meta_status, meta_text};
use crate::helpers::spawn_worker;

const STATUS_OF: &str = "SELECT status_rank::int8 FROM messages WHERE provider_message_id = ";

#[tokio::test]
async fn a_delivered_arriving_after_read_leaves_the_message_read() {
    let worker = spawn_worker().await;
    worker
        .publish_meta(&meta_text("wamid.rev", "16505551234", "hi", 1_749_416_000))
        .await;
    worker
        .wait_for_count("SELECT count(*) FROM messages", 1)
        .await;

    worker
        .publish_meta(&meta_status("wamid.rev", "read", 1_749_416_200))
        .await;
    worker
        .wait_for_count(&format!("{STATUS_OF}'wamid.rev'"), 4)
        .await;
    worker
        .publish_meta(&meta_status("wamid.rev", "delivered", 1_749_416_100))
        .await;
    worker
        .wait_for_count("SELECT count(*) FROM message_statuses", 2)
        .await;
    worker
        .wait_for_count(
            "SELECT count(*) FROM webhook_events WHERE outcome = 'processed'",
            3,
        )
        .await;

    let client = worker.db.client().await.expect("client");
    let row = client
        .query_one(
            "SELECT status, status_rank FROM messages WHERE provider_message_id = 'wamid.rev'",
            &[],
        )
        .await
        .expect("message");
    assert_eq!(row.get::<_, String>(0), "read");
    assert_eq!(row.get::<_, i16>(1), 4);
    worker.finish().await;
}

#[tokio::test]
async fn a_status_that_arrives_before_its_message_is_applied_when_the_message_comes() {
    let worker = spawn_worker().await;
    worker
        .publish_meta(&meta_status("wamid.early", "delivered", 1_749_416_100))
        .await;
    worker
        .wait_for_count("SELECT count(*) FROM message_statuses", 1)
        .await;
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 0);

    worker
        .publish_meta(&meta_text(
            "wamid.early",
            "16505551234",
            "hi",
            1_749_416_000,
        ))
        .await;
    worker
        .wait_for_count(&format!("{STATUS_OF}'wamid.early'"), 3)
        .await;
    let client = worker.db.client().await.expect("client");
    let status: String = client
        .query_one(
            "SELECT status FROM messages WHERE provider_message_id = 'wamid.early'",
            &[],
        )
        .await
        .expect("message")
        .get(0);
    assert_eq!(status, "delivered");
    worker.finish().await;
}
