//! Micro-batching: deliveries received together are stored in one
//! transaction, and a bad one among them is set aside on its own.

use crate::fixtures::meta_text;
use crate::helpers::{envelope, spawn_on, spawn_worker, TestWorker};
use inlet_domain::Provider;
use inlet_testkit::TestBroker;
use std::time::Duration;

#[tokio::test]
async fn many_deliveries_received_together_are_stored_once_each_and_a_bad_one_dead_lettered() {
    let mut worker = spawn_worker().await;
    let senders = ["16505550001", "16505550002", "16505550003"];
    store_texts_with_bad_ones(&mut worker, "batch", &senders, 60, |i| i == 30).await;
    worker.wait_until_drained().await;
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 60);
    assert_eq!(
        worker
            .count("SELECT count(DISTINCT provider_message_id) FROM messages")
            .await,
        60
    );
    assert_eq!(worker.count("SELECT count(*) FROM contacts").await, 3);
    assert_eq!(
        worker
            .count("SELECT count(*) FROM messages WHERE contact_id IS NULL")
            .await,
        0
    );
    assert_eq!(
        worker.count("SELECT count(*) FROM webhook_events").await,
        61
    );
    assert_eq!(
        worker
            .count("SELECT count(*) FROM webhook_events WHERE outcome = 'dead'")
            .await,
        1
    );
    // Rows inserted by one transaction share its id: fewer transactions than
    // messages means they were stored in batches.
    let transactions = worker
        .count("SELECT count(DISTINCT xmin::text)::int8 FROM messages")
        .await;
    assert!(
        transactions < 60,
        "{transactions} transactions for 60 messages"
    );
    worker.finish().await;
}

#[tokio::test]
async fn copies_of_one_event_received_together_are_stored_and_audited_once_in_the_batch() {
    let mut worker = spawn_worker().await;
    worker.stop().await;
    for i in 0..10 {
        let meta = envelope(Provider::Meta);
        let body = meta_text(
            &format!("wamid.copy{i}"),
            "16505550009",
            "hi",
            1_749_416_383,
        );
        worker.publish(&meta, &body).await;
        if i % 3 == 0 {
            // The provider's retry that dedup let through: same key, same body.
            worker.publish(&meta, &body).await;
        }
    }
    worker.start().await;

    worker
        .wait_for_count(
            "SELECT count(*) FROM webhook_events WHERE outcome = 'processed'",
            10,
        )
        .await;
    worker.wait_until_drained().await;
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 10);
    assert_eq!(
        worker
            .count("SELECT count(*) FROM webhook_events WHERE outcome = 'processed'")
            .await,
        10
    );
    assert_eq!(
        worker.count("SELECT count(*) FROM webhook_events").await,
        10
    );
    // Copies in one batch must not push it onto the one-event path.
    let transactions = worker
        .count("SELECT count(DISTINCT xmin::text)::int8 FROM webhook_events")
        .await;
    assert!(
        transactions < 10,
        "{transactions} transactions for 10 audit rows"
    );
    worker.finish().await;
}

#[tokio::test]
async fn every_delivery_is_acked_once_settled_so_nothing_is_left_outstanding() {
    let mut worker = spawn_worker().await;
    // More than the prefetch window, so batches finish while others are in
    // flight; a dead letter and a stored event settle the same way.
    store_texts_with_bad_ones(&mut worker, "acked", &["16505550009"], 100, |i| i % 40 == 7).await;
    // Closing the consumer's channel hands every unacked delivery back to the
    // queue: after a stop, an event still counted as outstanding is ready again.
    worker.stop().await;
    let queue = worker.broker.topology().work_queue();
    assert_eq!(worker.ready(&queue).await, 0, "deliveries left unacked");
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 100);
    worker.finish().await;
}

#[tokio::test]
async fn events_arriving_one_by_one_within_the_linger_are_stored_in_one_transaction() {
    let broker = TestBroker::new().await.expect("broker namespace");
    // A linger far longer than the ten publishes take (each waits for its
    // confirm, which a loaded disk can slow to a few hundred milliseconds),
    // so that a slow machine cannot split them.
    let worker = spawn_on(broker, |s| s.batch_linger_ms = 8_000).await;
    for i in 0..10 {
        let body = meta_text(
            &format!("wamid.linger{i}"),
            "16505550001",
            "hi",
            1_749_416_383,
        );
        worker.publish(&envelope(Provider::Meta), &body).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker
        .wait_for_count("SELECT count(*) FROM messages", 10)
        .await;
    // Rows inserted by one transaction share its id.
    assert_eq!(
        worker
            .count("SELECT count(DISTINCT xmin::text)::int8 FROM messages")
            .await,
        1,
        "the ten events were stored in more than one transaction"
    );
    worker.finish().await;
}

/// With the worker stopped, publishes `count` Meta texts (`wamid.<prefix><i>`,
/// from `senders` in turn) and, after each `i` that `bad_after` picks, a body
/// that is not JSON; then starts the worker and waits until every text is
/// processed and every bad body dead-lettered, so that the worker finds them
/// all waiting and takes them in batches.
async fn store_texts_with_bad_ones(
    worker: &mut TestWorker,
    prefix: &str,
    senders: &[&str],
    count: usize,
    bad_after: impl Fn(usize) -> bool,
) {
    worker.stop().await;
    let mut bad = 0;
    for i in 0..count {
        let sender = senders[i % senders.len()];
        let body = meta_text(
            &format!("wamid.{prefix}{i}"),
            sender,
            "hello",
            1_749_416_383,
        );
        worker.publish(&envelope(Provider::Meta), &body).await;
        if bad_after(i) {
            worker
                .publish(&envelope(Provider::Meta), b"this is not json")
                .await;
            bad += 1;
        }
    }
    worker.start().await;
    worker
        .wait_for_count(
            "SELECT count(*) FROM webhook_events WHERE outcome = 'processed'",
            i64::try_from(count).expect("a test-sized count"),
        )
        .await;
    worker
        .wait_for_count(
            "SELECT count(*) FROM dead_letters WHERE state = 'dead'",
            bad,
        )
        .await;
}
