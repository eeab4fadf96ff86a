//! A service that vanishes without closing its connections (its host died,
//! the network split, a failover moved it): what the worker has sent is never
//! acknowledged, and nothing comes back. The fault is real: the worker reaches
//! the service through a proxy of the test's own, and iptables drops every
//! packet of the connections open at that moment, both ways, while new ones
//! still get through, as they would reach the service's new home.

use crate::fixtures::meta_text;
use crate::helpers::{spawn_on, TestWorker, WAIT};
use inlet_testkit::{TestBroker, ToggleProxy};
use std::ops::Range;
use std::time::Duration;

/// Publishes messages `ns` (each from a sender of its own) straight to the broker.
async fn publish(worker: &TestWorker, ns: Range<usize>) {
    for n in ns {
        let body = meta_text(
            &format!("wamid.vanished.{n}"),
            &format!("1650555{n:04}"),
            "hello",
            1_749_416_383,
        );
        worker.publish_meta(&body).await;
    }
}

/// Whether `want` messages are stored within `wait`.
async fn stored_within(worker: &TestWorker, want: i64, wait: Duration) -> bool {
    inlet_testkit::eventually(wait, || async {
        (worker.count("SELECT count(*) FROM messages").await == want).then_some(())
    })
    .await
    .is_some()
}

#[tokio::test]
async fn connections_to_a_vanished_database_are_given_up_and_their_events_stored_on_new_ones() {
    let proxy = ToggleProxy::start("127.0.0.1:5432".parse().expect("addr"))
        .await
        .expect("proxy");
    let broker = TestBroker::with_retry_delays(vec![1, 1, 1, 1, 1])
        .await
        .expect("broker");
    let worker = spawn_on(broker, |s| {
        let direct = s.database.database_url.clone();
        s.database.database_url = direct.replace("127.0.0.1:5432", &proxy.addr().to_string());
        assert_ne!(
            s.database.database_url, direct,
            "the worker goes through the proxy"
        );
        s.database.database_tcp_timeout_ms = 1_000;
    })
    .await;
    publish(&worker, 0..8).await;
    worker
        .wait_for_count("SELECT count(*) FROM messages", 8)
        .await;

    // Every connection the worker has open now stops being answered.
    let cut = proxy.client_ports().len();
    let hole = proxy
        .silence_open()
        .expect("connections cut (iptables, as root)");
    publish(&worker, 8..16).await;
    // Without a bound the first batch would wait on a dead connection for as
    // long as the kernel retransmits (about fifteen minutes).
    assert!(
        stored_within(&worker, 16, WAIT + Duration::from_secs(15)).await,
        "events sent after the database vanished were stored on new connections"
    );
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    assert!(
        proxy.client_ports().len() > cut,
        "the worker opened new connections"
    );
    drop(hole);
    worker.finish().await;
}

#[tokio::test]
async fn a_broker_connection_that_went_silent_is_replaced_and_the_events_consumed_on_the_new_one() {
    let proxy = ToggleProxy::start("127.0.0.1:5672".parse().expect("addr"))
        .await
        .expect("proxy");
    let broker = TestBroker::new().await.expect("broker");
    // The test publishes straight to the broker; only the worker goes through the proxy.
    let worker = spawn_on(broker, |s| {
        s.broker.amqp_url = format!("amqp://guest:guest@{}/%2f", proxy.addr());
    })
    .await;
    publish(&worker, 0..4).await;
    worker
        .wait_for_count("SELECT count(*) FROM messages", 4)
        .await;

    let hole = proxy
        .silence_open()
        .expect("connections cut (iptables, as root)");
    publish(&worker, 4..8).await;
    // Two missed heartbeats (10 s each by default) end the connection on
    // both sides: the broker gives the deliveries it sent into the void to
    // the worker's new consumer. At RabbitMQ's own 60 s this took minutes.
    assert!(
        stored_within(&worker, 8, Duration::from_secs(50)).await,
        "events published after the connection went silent were consumed on a new one"
    );
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    drop(hole);
    worker.finish().await;
}

/// A batch whose database cannot be had at all (every connection silent, new
/// ones never answered) sends its events to their delay queues at once. It
/// used to handle them again one at a time, each waiting out the pool's
/// timeout, and then once more for its audit row: a batch held its
/// deliveries for minutes, far past the shutdown drain.
#[tokio::test]
async fn a_batch_whose_database_cannot_be_had_is_retried_at_once_not_event_by_event() {
    let proxy = ToggleProxy::start("127.0.0.1:5432".parse().expect("addr"))
        .await
        .expect("proxy");
    let broker = TestBroker::with_retry_delays(vec![10, 10])
        .await
        .expect("broker");
    let worker = spawn_on(broker, |s| {
        s.database.database_url = s
            .database
            .database_url
            .replace("127.0.0.1:5432", &proxy.addr().to_string());
        s.database.database_tcp_timeout_ms = 1_000;
        s.database.database_timeout_ms = 2_000;
        // The events published together make one batch, not several.
        s.batch_linger_ms = 500;
    })
    .await;
    publish(&worker, 0..1).await;
    worker
        .wait_for_count("SELECT count(*) FROM messages", 1)
        .await;

    // New connections are accepted and never answered; open ones go silent.
    proxy.hold();
    let hole = proxy
        .silence_open()
        .expect("connections cut (iptables, as root)");
    publish(&worker, 1..17).await;
    // Event by event this took at least 16 × (2 s + 2 s).
    let retried = inlet_testkit::eventually(Duration::from_secs(9), || async {
        (crate::helpers::retried_events(&worker.metrics().await) >= 16.0).then_some(())
    })
    .await;
    assert!(
        retried.is_some(),
        "the batch's events were not retried at once"
    );

    drop(hole);
    proxy.release();
    assert!(
        stored_within(&worker, 17, Duration::from_secs(40)).await,
        "the retried events were stored once the database was back"
    );
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    worker.finish().await;
}
