//! Permanent failures and exhausted retries: set aside, visible, replayable.

use crate::fixtures::meta_text;
use crate::helpers::{envelope, spawn_with_messages_locked, spawn_worker, WAIT};
use inlet_domain::Provider;
use inlet_testkit::TestBroker;
use inlet_worker::dead_letters::{list, replay, show, Selection};
use std::time::Duration;

#[tokio::test]
async fn a_body_that_can_never_decode_is_dead_lettered_and_its_replay_marked() {
    let worker = spawn_worker().await;
    let meta = envelope(Provider::Meta);
    worker.publish(&meta, b"this is not json").await;

    worker
        .wait_for_count("SELECT count(*) FROM dead_letters WHERE state = 'dead'", 1)
        .await;
    let dead_queue = worker.broker.topology().dead_queue();
    let queued = inlet_testkit::eventually(WAIT, || async {
        (worker.ready(&dead_queue).await == 1).then_some(())
    })
    .await;
    assert!(queued.is_some(), "the dead queue never got the event");
    let letters = list(&worker.db.repo, 10).await.expect("list");
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.body, b"this is not json");
    assert_eq!(letter.provider, "meta");
    assert_eq!(letter.dedup_key.as_deref(), Some(meta.dedup_key.as_str()));
    assert_eq!(letter.attempts, 1);
    assert!(
        letter.error.contains("malformed meta payload"),
        "{}",
        letter.error
    );
    assert_eq!(
        worker
            .count("SELECT count(*) FROM webhook_events WHERE outcome = 'dead'")
            .await,
        1
    );

    let report = replay(
        &worker.db.repo,
        &worker.settings.broker.amqp_url,
        &worker.broker.topology(),
        Selection::Ids(vec![letter.id]),
        Duration::from_secs(5),
    )
    .await
    .expect("replay");
    assert_eq!(report.replayed, vec![letter.id]);
    let replayed = show(&worker.db.repo, letter.id)
        .await
        .expect("show")
        .expect("row");
    assert_eq!(replayed.state, "replayed");
    assert!(replayed.replayed_at.is_some());
    // Replayed through the normal path, it fails again: a new dead letter.
    worker
        .wait_for_count("SELECT count(*) FROM dead_letters WHERE state = 'dead'", 1)
        .await;
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 2);
    worker.finish().await;
}

#[tokio::test]
async fn an_event_out_of_retries_is_dead_lettered_and_stored_when_replayed() {
    // No retry tiers: the first transient failure exhausts the retries.
    let broker = TestBroker::with_retry_delays(vec![]).await.expect("broker");
    let (worker, lock) = spawn_with_messages_locked(broker).await;

    worker
        .publish_meta(&meta_text(
            "wamid.dead",
            "16505551234",
            "hello",
            1_749_416_383,
        ))
        .await;
    worker
        .wait_for_count("SELECT count(*) FROM dead_letters WHERE state = 'dead'", 1)
        .await;
    lock.release().await;
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 0);

    let report = replay(
        &worker.db.repo,
        &worker.settings.broker.amqp_url,
        &worker.broker.topology(),
        Selection::All,
        Duration::from_secs(5),
    )
    .await
    .expect("replay");
    assert_eq!(report.replayed.len(), 1);
    worker
        .wait_for_count("SELECT count(*) FROM messages", 1)
        .await;
    worker
        .wait_for_count(
            "SELECT count(*) FROM webhook_events WHERE outcome = 'processed'",
            1,
        )
        .await;
    assert_eq!(
        worker
            .count("SELECT count(*) FROM dead_letters WHERE state = 'replayed'")
            .await,
        1
    );
    worker.finish().await;
}

#[tokio::test]
async fn a_delivery_without_an_inlet_envelope_is_dead_lettered_as_unknown() {
    let worker = spawn_worker().await;
    worker.publish_without_envelope(b"{}").await;
    worker
        .wait_for_count(
            "SELECT count(*) FROM dead_letters WHERE provider = 'unknown' AND dedup_key IS NULL",
            1,
        )
        .await;
    let letters = list(&worker.db.repo, 10).await.expect("list");
    assert!(
        letters[0].error.contains("missing AMQP header"),
        "{}",
        letters[0].error
    );
    worker.finish().await;
}
