//! Transient failures are retried through the delay queues until they pass.
//!
//! The failure is real: the test holds `LOCK TABLE messages IN ACCESS
//! EXCLUSIVE MODE` in an open transaction while the worker's sessions run
//! with a short `lock_timeout`, so storing the message fails with SQLSTATE
//! 55P03 (lock not available), which the repository classifies as transient.

use crate::fixtures::meta_text;
use crate::helpers::{
    retried_events, set_read_only, spawn_on, spawn_with_messages_locked, TestWorker,
};
use inlet_domain::broker::{connect, EVENT_ROUTING_KEY};
use inlet_testkit::{amqp_url, eventually, TestBroker};
use lapin::options::QueueBindOptions;
use lapin::types::FieldTable;
use std::time::Duration;

#[tokio::test]
async fn an_event_that_fails_transiently_twice_is_processed_on_the_third_attempt() {
    // The second retry waits 5 s: time to release the lock once the second
    // attempt has failed, before a third can fail too.
    let broker = TestBroker::with_retry_delays(vec![1, 5, 1])
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

/// A worker with `delays` whose database refuses writes, given one message
/// `id`; whether it then counted at least `retries` retries within 30 s.
async fn refused_by_a_read_only_database(
    delays: Vec<u64>,
    id: &str,
    retries: u32,
) -> (TestWorker, bool) {
    let broker = TestBroker::with_retry_delays(delays).await.expect("broker");
    let worker = spawn_on(broker, |_| {}).await;
    set_read_only(&worker.db, true).await;
    worker
        .publish_meta(&meta_text(id, "16505551234", "hello", 1_749_416_383))
        .await;
    let retried = eventually(Duration::from_secs(30), || async {
        (retried_events(&worker.metrics().await) >= f64::from(retries)).then_some(())
    })
    .await;
    (worker, retried.is_some())
}

/// A database that answers but refuses writes (a standby, or a primary being
/// demoted in a failover: SQLSTATE 25006) is a passing failure: the event is
/// retried, not dead-lettered, and stored once writes work again.
#[tokio::test]
async fn an_event_refused_by_a_read_only_database_is_retried_and_stored_after_the_failover() {
    // Two refused attempts: the second certainly on a session that saw the
    // database read-only, not on one the test cut.
    let (worker, retried) = refused_by_a_read_only_database(vec![1; 8], "wamid.readonly", 2).await;
    assert!(retried, "the read-only refusals were not retried");
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 0);

    set_read_only(&worker.db, false).await;
    worker
        .wait_for_count("SELECT count(*) FROM messages", 1)
        .await;
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    let dead = worker.broker.topology().dead_queue();
    assert_eq!(worker.ready(&dead).await, 0);
    worker.finish().await;
}

/// A retry's move back from its delay queue is the only copy of an event
/// already acked. If the work queue cannot take it at that moment (here: its
/// binding is gone; in production a queue without a leader), the broker keeps
/// it and moves it again later (at-least-once dead-lettering; the broker
/// retries every `dead_letter_worker_publisher_confirm_timeout`, 3 minutes by
/// default). With classic delay queues it was dropped.
#[tokio::test]
async fn a_retry_that_expires_while_the_work_queue_cannot_take_it_is_kept_and_stored_later() {
    // Three seconds in the delay queue (±20 %): time to unbind the work
    // queue once the event is seen there.
    let broker = TestBroker::with_retry_delays(vec![3])
        .await
        .expect("broker");
    let topology = broker.topology();
    let (worker, lock) = spawn_with_messages_locked(broker).await;
    let connection = connect(&amqp_url(), "inlet-test-binding")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    worker
        .publish_meta(&meta_text(
            "wamid.kept",
            "16505551234",
            "hello",
            1_749_416_383,
        ))
        .await;
    let delay = topology.retry_queue(0);
    let waiting = eventually(Duration::from_secs(15), || async {
        (worker.ready(&delay).await == 1).then_some(())
    })
    .await;
    assert!(waiting.is_some(), "the event never reached its delay queue");

    let (queue, exchange) = (topology.work_queue(), topology.ingest_exchange());
    channel
        .queue_unbind(&queue, &exchange, EVENT_ROUTING_KEY, FieldTable::default())
        .await
        .expect("unbind");
    // The retry expires and has nowhere to go.
    let expired = eventually(Duration::from_secs(15), || async {
        (worker.ready(&delay).await == 0).then_some(())
    })
    .await;
    assert!(expired.is_some(), "the retry never expired");
    tokio::time::sleep(Duration::from_secs(1)).await;

    channel
        .queue_bind(
            &queue,
            &exchange,
            EVENT_ROUTING_KEY,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind again");
    lock.release().await;
    let stored = eventually(Duration::from_secs(240), || async {
        (worker.count("SELECT count(*) FROM messages").await == 1).then_some(())
    })
    .await;
    assert!(stored.is_some(), "the retry was lost on its way back");
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    let _ = connection.close(200, "test done").await;
    worker.finish().await;
}

/// An event out of retries whose dead letter the database cannot take (it is
/// still refusing writes) is held in the last delay queue, not put in the
/// dead queue alone, where replay cannot find it; once the database takes
/// writes again it is stored.
#[tokio::test]
async fn an_event_out_of_retries_while_the_database_refuses_its_dead_letter_is_held_and_stored_after(
) {
    // Its one retry, then at least two holds: each a pass at the database.
    let (worker, retried) = refused_by_a_read_only_database(vec![1], "wamid.held", 3).await;
    assert!(retried, "the event was not held for another try");
    let dead = worker.broker.topology().dead_queue();
    assert_eq!(worker.ready(&dead).await, 0, "nothing in the dead queue");

    set_read_only(&worker.db, false).await;
    worker
        .wait_for_count("SELECT count(*) FROM messages", 1)
        .await;
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    assert_eq!(worker.ready(&dead).await, 0);
    worker.finish().await;
}

/// While the broker refuses a retry (here its delay queue is unbound, so the
/// publish comes back unroutable), the event waits in the worker and the
/// publish is tried again with backoff. Requeueing it at once looped as fast
/// as the broker answered, and past the work queue's delivery limit (20) the
/// broker moved it to the dead queue with no row. Unroutable again and again,
/// the worker renews its broker session, which declares the topology (the
/// binding too) again: the retry then goes through without anyone's help.
#[tokio::test]
async fn a_retry_the_broker_refuses_is_tried_again_in_place_and_the_topology_declared_again() {
    // Eight one-second tiers: once the binding is back, the event still
    // fails on the locked table, and with only three it could run out of
    // retries (and be dead-lettered, rightly, with its row) inside the
    // six seconds below.
    let broker = TestBroker::with_retry_delays(vec![1; 8])
        .await
        .expect("broker");
    let topology = broker.topology();
    let (worker, lock) = spawn_with_messages_locked(broker).await;
    let connection = connect(&amqp_url(), "inlet-test-binding")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    // Its session declares the topology (bindings too) before it consumes.
    let work = topology.work_queue();
    let consuming = eventually(Duration::from_secs(15), || async {
        let passive = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let queue = channel
            .queue_declare(&work, passive, FieldTable::default())
            .await
            .ok()?;
        (queue.consumer_count() > 0).then_some(())
    })
    .await;
    assert!(consuming.is_some(), "the worker never consumed");
    let (delay, exchange, key) = (
        topology.retry_queue(0),
        topology.retry_exchange(),
        inlet_domain::broker::Topology::retry_routing_key(0),
    );
    channel
        .queue_unbind(&delay, &exchange, &key, FieldTable::default())
        .await
        .expect("unbind");
    worker
        .publish_meta(&meta_text(
            "wamid.refused",
            "16505551234",
            "hello",
            1_749_416_383,
        ))
        .await;
    // Long enough for far more than 20 immediate requeues, and for the
    // session to be renewed.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let dead = topology.dead_queue();
    assert_eq!(
        worker.ready(&dead).await,
        0,
        "the event reached the dead queue"
    );

    lock.release().await;
    worker
        .wait_for_count("SELECT count(*) FROM messages", 1)
        .await;
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    assert_eq!(worker.ready(&dead).await, 0);
    let _ = connection.close(200, "test done").await;
    worker.finish().await;
}
