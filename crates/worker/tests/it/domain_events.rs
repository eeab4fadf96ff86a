//! Stored events are announced on the `inlet.domain` topic exchange.

use crate::fixtures::{meta_batch, meta_status, meta_text};
use crate::helpers::{
    bind_listener, delete_listener, envelope, retried_events, spawn_on, spawn_worker, TestWorker,
    WAIT,
};
use inlet_domain::event::{EventBody, PublishedEvent};
use inlet_domain::pack::H_EVENTS;
use inlet_domain::Provider;
use inlet_testkit::TestBroker;
use inlet_worker::config::DomainEvents;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::types::AMQPValue;

/// Waits for the next event on `queue`.
async fn next(worker: &TestWorker, queue: &str) -> PublishedEvent {
    let delivery = next_message(worker, queue).await;
    serde_json::from_slice(&delivery.data).expect("a PublishedEvent")
}

/// Waits for the next packed message on `queue`: checks that its type and
/// its count header agree with the list it holds, and returns the list.
async fn next_pack(worker: &TestWorker, queue: &str, event_type: &str) -> Vec<PublishedEvent> {
    let delivery = next_message(worker, queue).await;
    let events: Vec<PublishedEvent> =
        serde_json::from_slice(&delivery.data).expect("a list of PublishedEvent");
    let properties = &delivery.properties;
    assert_eq!(
        properties.kind().as_ref().map(|t| t.as_str()),
        Some(event_type)
    );
    let count = properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(H_EVENTS).cloned());
    assert_eq!(count, Some(AMQPValue::LongUInt(events.len() as u32)));
    assert!(
        events.iter().all(|e| e.event_type == event_type),
        "{events:?}"
    );
    events
}

/// The provider message ids of message events, in order.
fn message_ids(events: &[PublishedEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match &e.data.body {
            EventBody::Message(m) => m.provider_message_id.clone(),
            other => panic!("not a message: {other:?}"),
        })
        .collect()
}

/// Waits for the next message on `queue`, and acks it.
async fn next_message(worker: &TestWorker, queue: &str) -> Delivery {
    let channel = &worker.broker.channel;
    let delivery = inlet_testkit::eventually(WAIT, || async {
        channel
            .basic_get(queue, BasicGetOptions::default())
            .await
            .expect("basic.get")
            .map(|m| m.delivery)
    })
    .await
    .expect("a domain event arrives");
    delivery
        .ack(BasicAckOptions::default())
        .await
        .expect("acked");
    delivery
}

#[tokio::test]
async fn a_stored_inbound_message_is_published_as_message_received_under_a_stable_id() {
    let worker = spawn_worker().await;
    let queue = bind_listener(&worker.broker, "message.received").await;
    let meta = envelope(Provider::Meta);
    let body = meta_text("wamid.pub", "16505551234", "hello there", 1_749_416_383);

    worker.publish(&meta, &body).await;
    let first = next(&worker, &queue).await;
    assert_eq!(first.event_type, "message.received");
    assert_eq!(first.provider, Provider::Meta);
    assert_eq!(first.correlation_id, meta.correlation_id);
    let EventBody::Message(message) = &first.data.body else {
        panic!("not a message: {first:?}");
    };
    assert_eq!(message.provider_message_id, "wamid.pub");
    assert_eq!(message.body.as_deref(), Some("hello there"));

    // A redelivery stores nothing new but is announced again, same id.
    worker.publish(&meta, &body).await;
    let second = next(&worker, &queue).await;
    assert_eq!(second.id, first.id);
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 1);

    delete_listener(&worker.broker, &queue).await;
    worker.finish().await;
}

#[tokio::test]
async fn packed_events_arrive_as_one_list_per_type_and_batch_under_the_same_ids_each_time() {
    let broker = TestBroker::new().await.expect("broker namespace");
    let worker = spawn_on(broker, |s| s.domain_events = DomainEvents::Packed).await;
    let texts = bind_listener(&worker.broker, "message.received").await;
    let statuses = bind_listener(&worker.broker, "message.status").await;

    // One webhook of three messages: one batch, so one message of three.
    let webhook = meta_batch("wamid.packed", 3);
    worker.publish(&envelope(Provider::Meta), &webhook).await;
    let first = next_pack(&worker, &texts, "message.received").await;
    assert_eq!(
        message_ids(&first),
        ["wamid.packed.0", "wamid.packed.1", "wamid.packed.2"]
    );
    worker
        .publish_meta(&meta_status("wamid.packed.1", "delivered", 1_749_416_390))
        .await;
    let status = next_pack(&worker, &statuses, "message.status").await;
    assert_eq!(status.len(), 1);

    // A redelivery stores nothing new and is announced again, same ids.
    worker.publish(&envelope(Provider::Meta), &webhook).await;
    let again = next_pack(&worker, &texts, "message.received").await;
    let ids = |events: &[PublishedEvent]| events.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&first));
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 3);
    // Nothing else came: one message per type and batch, not one per event.
    assert_eq!(worker.ready(&texts).await, 0);
    assert_eq!(worker.ready(&statuses).await, 0);

    delete_listener(&worker.broker, &texts).await;
    delete_listener(&worker.broker, &statuses).await;
    worker.finish().await;
}

#[tokio::test]
async fn an_opt_out_is_published_as_contact_opted_out() {
    let worker = spawn_worker().await;
    let queue = bind_listener(&worker.broker, "contact.opted_out").await;
    worker
        .publish_meta(&meta_text(
            "wamid.stop.pub",
            "16505550000",
            "Stop",
            1_749_416_383,
        ))
        .await;
    let event = next(&worker, &queue).await;
    assert_eq!(event.event_type, "contact.opted_out");
    let EventBody::Consent(consent) = &event.data.body else {
        panic!("not a consent change: {event:?}");
    };
    assert_eq!(consent.address, "16505550000");
    assert_eq!(consent.keyword, "STOP");
    delete_listener(&worker.broker, &queue).await;
    worker.finish().await;
}

#[tokio::test]
async fn a_worker_whose_publisher_channel_breaks_renews_its_session_and_keeps_publishing() {
    let worker = spawn_worker().await;
    worker
        .publish_meta(&meta_text(
            "wamid.before",
            "16505551234",
            "one",
            1_749_416_383,
        ))
        .await;
    worker
        .wait_for_count("SELECT count(*) FROM webhook_events", 1)
        .await;
    // Publishing to a missing exchange is a channel error: the publisher
    // channel closes under the worker.
    let exchange = worker.broker.topology().domain_exchange();
    worker
        .broker
        .channel
        .exchange_delete(&exchange, lapin::options::ExchangeDeleteOptions::default())
        .await
        .expect("exchange deleted");
    worker
        .publish_meta(&meta_text(
            "wamid.during",
            "16505551234",
            "two",
            1_749_416_384,
        ))
        .await;

    // The renewed session declares the topology again.
    let back = inlet_testkit::eventually(WAIT, || async {
        worker.exchange_exists(&exchange).await.then_some(())
    })
    .await;
    assert!(
        back.is_some(),
        "the domain exchange was never declared again"
    );
    let queue = bind_listener(&worker.broker, "message.received").await;
    worker
        .publish_meta(&meta_text(
            "wamid.after",
            "16505551234",
            "three",
            1_749_416_385,
        ))
        .await;
    let mut seen = Vec::new();
    while !seen.contains(&"wamid.after".to_owned()) {
        let event = next(&worker, &queue).await;
        if let EventBody::Message(m) = event.data.body {
            seen.push(m.provider_message_id);
        }
    }
    worker
        .wait_for_count("SELECT count(*) FROM messages", 3)
        .await;
    delete_listener(&worker.broker, &queue).await;
    worker.finish().await;
}

/// A domain exchange that refuses the worker's publishes (here a bound queue
/// that is full and rejects; in production a queue without a leader or over
/// its limit) makes storing an event a passing failure: the event is retried
/// through its delay queue, and published once the exchange takes it again.
/// It was requeued at once, in a loop as fast as the broker refused, until
/// the work queue's delivery limit moved it to the dead queue, where no
/// `dead_letters` row could replay it and its domain event was never sent.
#[tokio::test]
async fn events_whose_domain_publish_is_refused_are_retried_later_and_published() {
    use lapin::options::{QueueBindOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;

    let broker = TestBroker::with_retry_delays(vec![1; 10])
        .await
        .expect("broker");
    let worker = spawn_on(broker, |_| {}).await;
    let topology = worker.broker.topology();
    let full = format!("{}full", topology.prefix());
    let mut args = FieldTable::default();
    args.insert("x-max-length".into(), AMQPValue::LongUInt(0));
    args.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    let channel = &worker.broker.channel;
    channel
        .queue_declare(&full, QueueDeclareOptions::default(), args)
        .await
        .expect("full queue");
    channel
        .queue_bind(
            &full,
            &topology.domain_exchange(),
            "#",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bound");
    let listener = bind_listener(&worker.broker, "message.received").await;

    let body = meta_text("wamid.refused", "16505551234", "hello", 1_749_416_383);
    worker.publish(&envelope(Provider::Meta), &body).await;
    let retried = inlet_testkit::eventually(WAIT, || async {
        (retried_events(&worker.metrics().await) >= 2.0).then_some(())
    })
    .await;
    assert!(retried.is_some(), "the refused publish was not retried");
    assert_eq!(worker.ready(&topology.dead_queue()).await, 0);
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 1);

    // The exchange takes publishes again: the next retry announces it.
    delete_listener(&worker.broker, &full).await;
    let event = next(&worker, &listener).await;
    let EventBody::Message(message) = &event.data.body else {
        panic!("not a message: {event:?}");
    };
    assert_eq!(message.provider_message_id, "wamid.refused");
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 1);
    assert_eq!(worker.count("SELECT count(*) FROM dead_letters").await, 0);
    assert_eq!(worker.ready(&topology.dead_queue()).await, 0);
    delete_listener(&worker.broker, &listener).await;
    worker.finish().await;
}
