//! A worker that forwards, on a broker where the deliveries queue does not
//! exist yet: the batches it stores before its fan-out is up are kept.

use super::support::PATIENCE;
use crate::fixtures::meta_text;
use crate::helpers::{envelope, worker_settings};
use inlet_domain::broker::{persistent_properties, EVENT_ROUTING_KEY};
use inlet_domain::forward::queue::deliveries_queue;
use inlet_domain::Provider;
use inlet_testkit::{eventually, TestBroker, TestDb};
use inlet_worker::consumer::Consumer;
use inlet_worker::metrics::Metrics;
use lapin::options::BasicPublishOptions;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_forwarding_worker_keeps_what_it_stores_before_its_fan_out_has_declared_the_queue() {
    inlet_domain::telemetry::init_for_tests();
    let db = TestDb::new().await.expect("test database");
    let broker = TestBroker::new().await.expect("broker namespace");
    // Events waiting for a worker on a new broker: nobody has declared
    // inlet.deliveries, and this process's fan-out is not running at all.
    for i in 0..3 {
        let body = meta_text(
            &format!("wamid.first{i}"),
            "16505550123",
            "hi",
            1_749_416_383,
        );
        broker
            .channel
            .basic_publish(
                &broker.topology().ingest_exchange(),
                EVENT_ROUTING_KEY,
                BasicPublishOptions::default(),
                &body,
                persistent_properties(&envelope(Provider::Meta)),
            )
            .await
            .expect("published")
            .await
            .expect("publish settled");
    }
    let mut settings = worker_settings(&db, &broker);
    settings.delivery.delivery_enabled = true;
    let consumer = Arc::new(Consumer::new(
        &settings,
        db.repo.clone(),
        Metrics::new().expect("metrics"),
    ));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(consumer.run(shutdown.clone()));

    let queue = deliveries_queue(&broker.topology());
    // The three events' batches wait for the fan-out, however they were batched.
    let kept = eventually(PATIENCE, || async {
        let stored = db
            .client()
            .await
            .ok()?
            .query_one("SELECT count(*) FROM messages", &[])
            .await
            .ok()?
            .get::<_, i64>(0);
        (stored == 3).then_some(())?;
        (broker.ready(&queue).await.ok()? > 0).then_some(())
    })
    .await;
    shutdown.cancel();
    running.await.expect("consumer stopped");
    assert!(
        kept.is_some(),
        "the stored events' batches are waiting in {queue}"
    );
    broker.cleanup().await.expect("cleanup");
}
