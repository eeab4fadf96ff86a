//! Exactly-once effects: redeliveries change nothing, batches store everything.

use crate::fixtures::{meta_batch, meta_text};
use crate::helpers::{envelope, spawn_worker};
use inlet_domain::Provider;

#[tokio::test]
async fn the_same_event_delivered_twice_is_stored_once() {
    let worker = spawn_worker().await;
    let meta = envelope(Provider::Meta);
    let body = meta_text("wamid.twice", "16505551234", "hello", 1_749_416_383);

    worker.publish(&meta, &body).await;
    worker.publish(&meta, &body).await;

    worker
        .wait_for_count(
            "SELECT attempts::int8 FROM webhook_events WHERE outcome = 'processed'",
            1,
        )
        .await;
    // Both deliveries are consumed before the counts are read.
    worker.wait_until_drained().await;
    worker
        .wait_for_count("SELECT count(*) FROM messages", 1)
        .await;
    assert_eq!(worker.count("SELECT count(*) FROM contacts").await, 1);
    assert_eq!(worker.count("SELECT count(*) FROM webhook_events").await, 1);
    worker.finish().await;
}

/// A copy of an event processed earlier (the provider retried, or the worker
/// died between commit and ack) changes nothing, not even the time its audit
/// row says it was processed: the copy used to move it to its own.
#[tokio::test]
async fn a_copy_processed_later_leaves_the_audit_rows_processing_time() {
    let worker = spawn_worker().await;
    let meta = envelope(Provider::Meta);
    let body = meta_text("wamid.later", "16505551234", "hello", 1_749_416_383);
    let processed_at = "SELECT processed_at FROM webhook_events WHERE outcome = 'processed'";

    worker.publish(&meta, &body).await;
    worker
        .wait_for_count(
            "SELECT count(*) FROM webhook_events WHERE outcome = 'processed'",
            1,
        )
        .await;
    let client = worker.db.client().await.expect("client");
    let first: chrono::DateTime<chrono::Utc> = client
        .query_one(processed_at, &[])
        .await
        .expect("audit row")
        .get(0);
    worker.publish(&meta, &body).await;
    // The copy is processed too (and counted), only to no effect.
    let twice = r#"inlet_worker_events_total{event_type="message.received",outcome="processed",provider="meta"} 2"#;
    let counted = inlet_testkit::eventually(crate::helpers::WAIT, || async {
        worker.metrics().await.contains(twice).then_some(())
    })
    .await;
    assert!(counted.is_some(), "the copy was never processed");
    let after: chrono::DateTime<chrono::Utc> = client
        .query_one(processed_at, &[])
        .await
        .expect("audit row")
        .get(0);
    assert_eq!(after, first, "the copy rewrote the processing time");
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 1);
    worker.finish().await;
}

#[tokio::test]
async fn a_meta_batch_of_many_messages_is_stored_in_one_go() {
    let worker = spawn_worker().await;
    worker.publish_meta(&meta_batch("wamid.batch", 500)).await;

    worker
        .wait_for_count("SELECT count(*) FROM messages", 500)
        .await;
    assert_eq!(worker.count("SELECT count(*) FROM contacts").await, 500);
    let events = "SELECT count(*) FROM webhook_events \
                  WHERE outcome = 'processed' AND event_type = 'message.received'";
    assert_eq!(worker.count(events).await, 1);
    worker.finish().await;
}

#[tokio::test]
async fn a_message_whose_text_holds_a_nul_character_is_stored_with_a_replacement_character() {
    // JSON may carry U+0000 (`\u0000`); PostgreSQL's text and jsonb cannot.
    let worker = spawn_worker().await;
    let body = meta_text("wamid.nul", "16505551234", "a\0b", 1_749_416_383);
    assert!(
        String::from_utf8_lossy(&body).contains("\\u0000"),
        "the fixture carries the escape"
    );
    worker.publish_meta(&body).await;

    worker
        .wait_for_count(
            "SELECT count(*) FROM messages WHERE body = 'a' || chr(65533) || 'b' \
             AND raw::text LIKE '%a' || chr(65533) || 'b%'",
            1,
        )
        .await;
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    worker.finish().await;
}
