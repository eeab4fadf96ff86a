//! Packs (several webhooks in one broker message): each event is stored,
//! retried or dead-lettered on its own, and the message is settled once.

use crate::fixtures::meta_text;
use crate::helpers::{envelope, spawn_with_messages_locked, spawn_worker};
use inlet_domain::envelope::EventMeta;
use inlet_domain::Provider;
use inlet_testkit::TestBroker;
use inlet_worker::dead_letters::list;

fn text(n: usize) -> (EventMeta, Vec<u8>) {
    let body = meta_text(
        &format!("wamid.pack.{n}"),
        &format!("1650555{n:04}"),
        &format!("hello {n}"),
        1_749_416_383,
    );
    (envelope(Provider::Meta), body)
}

#[tokio::test]
async fn every_event_of_a_pack_is_stored_once_and_a_poison_one_dead_lettered_alone() {
    let mut worker = spawn_worker().await;
    let mut events: Vec<(EventMeta, Vec<u8>)> = (0..5).map(text).collect();
    let poison = (envelope(Provider::Meta), b"this is not json".to_vec());
    events.insert(2, poison.clone());
    worker.publish_pack(&events).await;

    worker
        .wait_for_count("SELECT count(*) FROM messages", 5)
        .await;
    worker
        .wait_for_count("SELECT count(*) FROM dead_letters WHERE state = 'dead'", 1)
        .await;
    // Each event has its own audit row, under its own correlation id.
    for (meta, _) in &events {
        let sql = format!(
            "SELECT count(*) FROM webhook_events WHERE correlation_id = '{}'",
            meta.correlation_id
        );
        assert_eq!(worker.count(&sql).await, 1, "{}", meta.correlation_id);
    }
    // The dead letter is the poison event alone, with its own envelope.
    let letters = list(&worker.db.repo, 10).await.expect("list");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].body, poison.1);
    assert_eq!(
        letters[0].correlation_id.as_deref(),
        Some(poison.0.correlation_id.as_str())
    );
    let dead_queue = worker.broker.topology().dead_queue();
    assert_eq!(worker.ready(&dead_queue).await, 1);
    // The pack was acked: once the worker stops, nothing is ready again.
    worker.stop().await;
    let work_queue = worker.broker.topology().work_queue();
    assert_eq!(worker.ready(&work_queue).await, 0);
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 5);
    worker.finish().await;
}

#[tokio::test]
async fn a_pack_delivered_twice_is_stored_once() {
    let mut worker = spawn_worker().await;
    let events: Vec<(EventMeta, Vec<u8>)> = (10..14).map(text).collect();
    worker.publish_pack(&events).await;
    worker.publish_pack(&events).await;
    worker
        .wait_for_count("SELECT count(*) FROM messages", 4)
        .await;
    worker.wait_until_drained().await;
    // Stopped, so a pack still unacked would be ready again.
    worker.stop().await;
    let work_queue = worker.broker.topology().work_queue();
    assert_eq!(worker.ready(&work_queue).await, 0);
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 4);
    assert_eq!(worker.count("SELECT count(*) FROM webhook_events").await, 4);
    worker.finish().await;
}

#[tokio::test]
async fn events_of_a_pack_that_fail_for_a_moment_are_retried_alone_and_stored() {
    // Tiers to spare: the first event must not run out of retries while the
    // last one is still on its way to its second attempt.
    let broker = TestBroker::with_retry_delays(vec![1; 8])
        .await
        .expect("broker");
    let (worker, lock) = spawn_with_messages_locked(broker).await;

    let events: Vec<(EventMeta, Vec<u8>)> = (20..23).map(text).collect();
    worker.publish_pack(&events).await;
    worker
        .wait_for_count(
            "SELECT count(*) FROM webhook_events WHERE outcome = 'retrying' AND attempts >= 2",
            3,
        )
        .await;
    lock.release().await;
    worker
        .wait_for_count(
            "SELECT count(*) FROM webhook_events WHERE outcome = 'processed'",
            3,
        )
        .await;
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 3);
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    worker.finish().await;
}

#[tokio::test]
async fn a_damaged_pack_is_dead_lettered_whole() {
    let worker = spawn_worker().await;
    let events: Vec<(EventMeta, Vec<u8>)> = (30..32).map(text).collect();
    let mut body = inlet_domain::pack::encode(events.iter().map(|(m, b)| (m, b.as_slice())));
    body.truncate(body.len() - 3);
    worker
        .publish_raw(&body, inlet_domain::pack::properties(2, "damaged"))
        .await;
    worker
        .wait_for_count("SELECT count(*) FROM dead_letters WHERE state = 'dead'", 1)
        .await;
    let letters = list(&worker.db.repo, 10).await.expect("list");
    assert_eq!(letters[0].body, body);
    assert!(letters[0].error.contains("pack"), "{}", letters[0].error);
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 0);
    worker.wait_until_drained().await;
    worker.finish().await;
}
