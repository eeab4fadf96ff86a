//! A service that vanishes without closing its connections (its host died,
//! the network split, a failover moved it): what the worker has sent is never
//! acknowledged, and nothing comes back. The fault is real: the worker reaches
//! the service through a proxy of the test's own, and iptables drops every
//! packet of the connections open at that moment, both ways, while new ones
//! still get through, as they would reach the service's new home.

use crate::fixtures::meta_text;
use crate::helpers::{spawn_on, WAIT};
use inlet_testkit::{Blackhole, TestBroker, ToggleProxy};
use std::time::Duration;

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
    let send = |n: usize| {
        meta_text(
            &format!("wamid.vanished.{n}"),
            &format!("1650555{n:04}"),
            "hello",
            1_749_416_383,
        )
    };
    for n in 0..8 {
        worker.publish_meta(&send(n)).await;
    }
    worker
        .wait_for_count("SELECT count(*) FROM messages", 8)
        .await;

    // Every connection the worker has open now stops being answered.
    let proxy_port = proxy.addr().port();
    let open: Vec<(u16, u16)> = proxy
        .client_ports()
        .into_iter()
        .map(|port| (port, proxy_port))
        .collect();
    assert!(!open.is_empty(), "the worker has connections to cut");
    let hole = Blackhole::connections(&open).expect("iptables rules (run as root)");
    for n in 8..16 {
        worker.publish_meta(&send(n)).await;
    }
    // Without a bound the first batch would wait on a dead connection for as
    // long as the kernel retransmits (about fifteen minutes).
    let stored = inlet_testkit::eventually(WAIT + Duration::from_secs(15), || async {
        (worker.count("SELECT count(*) FROM messages").await == 16).then_some(())
    })
    .await;
    assert!(
        stored.is_some(),
        "events sent after the database vanished were stored on new connections"
    );
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    assert!(
        proxy.client_ports().len() > open.len(),
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
    let send = |n: usize| {
        meta_text(
            &format!("wamid.silent.{n}"),
            &format!("1650556{n:04}"),
            "hello",
            1_749_416_383,
        )
    };
    for n in 0..4 {
        worker.publish_meta(&send(n)).await;
    }
    worker
        .wait_for_count("SELECT count(*) FROM messages", 4)
        .await;

    let proxy_port = proxy.addr().port();
    let open: Vec<(u16, u16)> = proxy
        .client_ports()
        .into_iter()
        .map(|port| (port, proxy_port))
        .collect();
    let hole = Blackhole::connections(&open).expect("iptables rules (run as root)");
    for n in 4..8 {
        worker.publish_meta(&send(n)).await;
    }
    // Two missed heartbeats (10 s each by default) end the connection on
    // both sides: the broker gives the deliveries it sent into the void to
    // the worker's new consumer. At RabbitMQ's own 60 s this took minutes.
    let stored = inlet_testkit::eventually(Duration::from_secs(50), || async {
        (worker.count("SELECT count(*) FROM messages").await == 8).then_some(())
    })
    .await;
    assert!(
        stored.is_some(),
        "events published after the connection went silent were consumed on a new one"
    );
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    drop(hole);
    worker.finish().await;
}
