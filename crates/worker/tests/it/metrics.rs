//! What SREs watch: event outcomes and queue depths on `/metrics`.

use crate::fixtures::meta_text;
use crate::helpers::{envelope, spawn_worker, WAIT};
use inlet_domain::Provider;

#[tokio::test]
async fn processed_and_dead_events_and_queue_depths_are_exported() {
    let worker = spawn_worker().await;
    worker
        .publish_meta(&meta_text(
            "wamid.metrics",
            "16505551234",
            "hi",
            1_749_416_383,
        ))
        .await;
    worker.publish(&envelope(Provider::Meta), b"garbage").await;
    worker
        .wait_for_count("SELECT count(*) FROM webhook_events", 2)
        .await;

    let processed = r#"inlet_worker_events_total{event_type="message.received",outcome="processed",provider="meta"} 1"#;
    let dead =
        r#"inlet_worker_events_total{event_type="unknown",outcome="dead",provider="meta"} 1"#;
    let dead_queue = r#"inlet_queue_messages{queue="dead"} 1"#;
    let text = inlet_testkit::eventually(WAIT, || async {
        let text = worker.metrics().await;
        [processed, dead, dead_queue]
            .iter()
            .all(|line| text.contains(line))
            .then_some(text)
    })
    .await;
    assert!(
        text.is_some(),
        "missing lines in:\n{}",
        worker.metrics().await
    );
    worker.finish().await;
}

/// When the depths cannot be read (here the dead queue is gone, so its passive
/// declare fails), the gauges leave `/metrics` instead of staying at their
/// last values, where a frozen, plausible number would hide a growing
/// backlog; they come back once the depths can be read again.
#[tokio::test]
async fn queue_depths_that_cannot_be_read_leave_metrics_and_come_back() {
    let worker = spawn_worker().await;
    let work = r#"inlet_queue_messages{queue="work"}"#;
    let shown = |want: bool| {
        let worker = &worker;
        async move {
            inlet_testkit::eventually(WAIT, || async {
                (worker.metrics().await.contains(work) == want).then_some(())
            })
            .await
            .is_some()
        }
    };
    assert!(shown(true).await, "the work queue's depth is exported");

    let topology = worker.broker.topology();
    worker
        .broker
        .channel
        .queue_delete(
            &topology.dead_queue(),
            lapin::options::QueueDeleteOptions::default(),
        )
        .await
        .expect("dead queue deleted");
    assert!(shown(false).await, "the depths went on being exported");

    topology
        .declare(&worker.broker.channel)
        .await
        .expect("declared again");
    assert!(shown(true).await, "the depths did not come back");
    worker.finish().await;
}
