//! Transient failures are retried through the delay queues until they pass.
//!
//! The failure is real: the test holds `LOCK TABLE messages IN ACCESS
//! EXCLUSIVE MODE` in an open transaction while the worker's sessions run
//! with a short `lock_timeout`, so storing the message fails with SQLSTATE
//! 55P03 (lock not available), which the repository classifies as transient.

use crate::fixtures::meta_text;
use crate::helpers::spawn_with_messages_locked;
use inlet_testkit::TestBroker;

#[tokio::test]
async fn an_event_that_fails_transiently_twice_is_processed_on_the_third_attempt() {
    let broker = TestBroker::with_retry_delays(vec![1, 1, 1])
        .await
        .expect("broker");
    let (worker, lock) = spawn_with_messages_locked(broker).await;

    worker
        .publish_meta(&meta_text(
            "wamid.retry",
            "16505551234",
            "hello",
            1_749_416_383,
        ))
        .await;
    worker
        .wait_for_count(
            "SELECT attempts::int8 FROM webhook_events WHERE outcome = 'retrying'",
            2,
        )
        .await;
    lock.release().await;

    worker
        .wait_for_count(
            "SELECT count(*) FROM webhook_events WHERE outcome = 'processed'",
            1,
        )
        .await;
    let client = worker.db.client().await.expect("client");
    let row = client
        .query_one("SELECT attempts, last_error FROM webhook_events", &[])
        .await
        .expect("audit row");
    assert_eq!(row.get::<_, i32>(0), 3);
    let last_error: String = row.get(1);
    assert!(last_error.contains("transient"), "{last_error}");
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 1);
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    worker.finish().await;
}
