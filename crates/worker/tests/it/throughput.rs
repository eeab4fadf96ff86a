//! A throughput measurement, not a check: run it on a release build with
//! `cargo test --release -p inlet-worker --test it throughput -- --ignored --nocapture
//! --test-threads=1` (`INLET_PREFETCH`, `INLET_BATCH_SIZE`, `INLET_DATABASE_POOL_SIZE` and
//! `INLET_DELIVERY_ENABLED` override the defaults).

use crate::fixtures::meta_text;
use crate::helpers::{envelope, spawn_on};
use futures::StreamExt;
use inlet_domain::broker::{connect, persistent_properties, publish_confirmed, EVENT_ROUTING_KEY};
use inlet_domain::Provider;
use inlet_testkit::TestBroker;
use inlet_worker::config::Settings;
use lapin::options::ConfirmSelectOptions;
use std::time::{Duration, Instant};

const EVENTS: usize = 20_000;

/// Pre-publishes `EVENTS` Meta texts, starts the worker and prints how fast
/// it stores them.
async fn drain_rate(senders: usize) {
    let broker = TestBroker::new().await.expect("broker namespace");
    // Production's defaults (not the tests' smaller prefetch), unless
    // INLET_PREFETCH or INLET_BATCH_SIZE say otherwise.
    let defaults = Settings::default();
    let mut worker = spawn_on(broker, |s| {
        s.prefetch = from_env("INLET_PREFETCH").unwrap_or(defaults.prefetch);
        s.batch_size = from_env("INLET_BATCH_SIZE").unwrap_or(defaults.batch_size);
        s.database.database_pool_size = from_env("INLET_DATABASE_POOL_SIZE")
            .map_or(defaults.database.database_pool_size, usize::from);
        s.delivery.delivery_enabled = std::env::var("INLET_DELIVERY_ENABLED")
            .map_or(defaults.delivery.delivery_enabled, |v| v == "true");
    })
    .await;
    worker.stop().await;
    let connection = connect(&worker.broker.settings.amqp_url, "inlet-bench")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    let exchange = worker.broker.topology().ingest_exchange();
    futures::stream::iter(0..EVENTS)
        .for_each_concurrent(256, |i| {
            let (channel, exchange) = (&channel, &exchange);
            async move {
                let sender = format!("1650{:07}", i % senders);
                let body = meta_text(&format!("wamid.bench{i}"), &sender, "hello", 1_749_416_383);
                let meta = envelope(Provider::Meta);
                publish_confirmed(
                    channel,
                    exchange,
                    EVENT_ROUTING_KEY,
                    &body,
                    persistent_properties(&meta),
                    true,
                    Duration::from_secs(30),
                )
                .await
                .expect("published");
            }
        })
        .await;
    let started = Instant::now();
    worker.start().await;
    let want = i64::try_from(EVENTS).expect("fits");
    while worker.count("SELECT count(*) FROM messages").await < want {
        assert!(started.elapsed() < Duration::from_secs(300), "too slow");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{EVENTS} events from {senders} sender(s): {secs:.2}s, {:.0} events/s",
        EVENTS as f64 / secs
    );
    worker.finish().await;
}

fn from_env(name: &str) -> Option<u16> {
    std::env::var(name).ok()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run on a release build"]
async fn throughput_with_distinct_senders() {
    drain_rate(EVENTS).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run on a release build"]
async fn throughput_with_one_sender() {
    drain_rate(1).await;
}
