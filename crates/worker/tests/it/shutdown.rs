//! A worker stopped with deliveries in flight loses nothing and doubles nothing.

use crate::fixtures::meta_text;
use crate::helpers::{spawn_worker, TableLock, TestWorker, WAIT};

/// Publishes `total` messages and waits until the worker has taken some.
async fn publish_until_taken(worker: &TestWorker, name: &str, total: u32) {
    for i in 0..total {
        let body = meta_text(
            &format!("wamid.{name}.{i}"),
            "16505551234",
            "hi",
            1_749_416_383,
        );
        worker.publish_meta(&body).await;
    }
    let queue = worker.broker.topology().work_queue();
    let taken = inlet_testkit::eventually(WAIT, || async {
        (worker.ready(&queue).await < total).then_some(())
    })
    .await;
    assert!(taken.is_some(), "the worker never took deliveries");
}

#[tokio::test]
async fn a_worker_stopped_mid_batch_loses_nothing_and_doubles_nothing() {
    let mut worker = spawn_worker().await;
    worker.stop().await;
    // No in-flight time at shutdown: whatever is unacked is abandoned.
    worker.settings.shutdown_timeout_secs = 0;
    // Hold storage up so that the worker's deliveries are all in flight.
    let lock = TableLock::messages(&worker.db).await;
    worker.start().await;

    let total: u32 = 60;
    publish_until_taken(&worker, "stop", total).await;
    worker.stop().await;
    lock.release().await;

    worker.settings.shutdown_timeout_secs = 5;
    worker.start().await;
    worker
        .wait_for_count("SELECT count(*) FROM messages", i64::from(total))
        .await;
    worker
        .wait_for_count(
            "SELECT count(*) FROM webhook_events WHERE outcome = 'processed'",
            i64::from(total),
        )
        .await;
    worker.wait_until_drained().await;
    assert_eq!(
        worker
            .count("SELECT count(DISTINCT provider_message_id) FROM messages")
            .await,
        i64::from(total)
    );
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    worker.finish().await;
}

/// Consumers of `queue` the broker knows (a passive declare).
async fn consumers(worker: &TestWorker, queue: &str) -> u32 {
    let passive = lapin::options::QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    worker
        .broker
        .channel
        .queue_declare(queue, passive, lapin::types::FieldTable::default())
        .await
        .expect("queue exists")
        .consumer_count()
}

/// From SIGTERM on, the broker stops handing this worker new events: while it
/// drains what it holds, the rest stays with the broker for other workers.
/// Here every batch slot is busy (one event a batch, as many slots as the
/// prefetch, each waiting on the lock), the case where the consumer stream is
/// not polled and so cannot notice the stop itself: the worker used to stay a
/// consumer until its shutdown timeout. (Checked on classic queues, whose
/// consumer count drops at the cancel; a quorum queue counts a cancelled
/// consumer until its unacked messages settle.)
#[tokio::test]
async fn a_stopping_worker_takes_no_new_events_while_it_drains() {
    let broker = inlet_testkit::TestBroker::classic().await.expect("broker");
    let mut worker = crate::helpers::spawn_on(broker, |_| {}).await;
    worker.stop().await;
    worker.settings.shutdown_timeout_secs = 20;
    let held: u32 = 8;
    worker.settings.prefetch = u16::try_from(held).expect("small");
    worker.settings.batch_size = 1;
    // A connection for every slot: none may give up waiting for the pool.
    worker.settings.database.database_pool_size = 32;
    let lock = TableLock::messages(&worker.db).await;
    worker.start().await;
    let total: u32 = 60;
    publish_until_taken(&worker, "draining", total).await;
    let queue = worker.broker.topology().work_queue();
    let all_slots_busy = inlet_testkit::eventually(WAIT, || async {
        (worker.ready(&queue).await == total - held).then_some(())
    })
    .await;
    assert!(
        all_slots_busy.is_some(),
        "the worker never filled its prefetch"
    );

    assert_eq!(consumers(&worker, &queue).await, 1);
    worker.begin_stop();
    // Still draining (its batches wait on the lock), no longer a consumer.
    let cancelled = inlet_testkit::eventually(std::time::Duration::from_secs(3), || async {
        (consumers(&worker, &queue).await == 0).then_some(())
    })
    .await;
    assert!(cancelled.is_some(), "the stopping worker still consumes");
    lock.release().await;
    worker.stop().await;

    worker.settings.shutdown_timeout_secs = 5;
    worker.start().await;
    worker
        .wait_for_count("SELECT count(*) FROM messages", i64::from(total))
        .await;
    worker.wait_until_drained().await;
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    worker.finish().await;
}
