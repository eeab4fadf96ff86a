//! Fanning out through a database outage: the messages on the deliveries
//! queue wait in the consumer, and are not returned to the broker again and
//! again until its delivery limit drops them.

use super::events::message_received;
use super::receiver::Receiver;
use super::support::Forwarding;
use crate::helpers::set_read_only;
use inlet_domain::forward::queue::deliveries_queue;
use serde_json::json;
use std::process::Command;
use std::time::Duration;

/// Sets (or clears) a policy giving `queue` a delivery limit of 2, as RabbitMQ
/// 4's default limit (20) would, reached sooner.
fn delivery_limit_policy(name: &str, queue: &str, on: bool) {
    let mut command = Command::new("rabbitmqctl");
    if on {
        let pattern = format!("^{}$", regex_escape(queue));
        command.args([
            "set_policy",
            "--apply-to",
            "queues",
            name,
            &pattern,
            r#"{"delivery-limit": 2}"#,
        ]);
    } else {
        command.args(["clear_policy", name]);
    }
    let status = command.status().expect("rabbitmqctl runs");
    assert!(status.success(), "rabbitmqctl {on}: {status}");
}

fn regex_escape(name: &str) -> String {
    name.chars()
        .flat_map(|c| match c {
            '.' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '^' | '$' | '|' | '\\' => {
                vec!['\\', c]
            }
            c => vec![c],
        })
        .collect()
}

#[tokio::test]
async fn events_fanned_out_while_the_database_refuses_writes_reach_the_endpoint_after() {
    let f = Forwarding::start().await;
    let receiver = Receiver::start();
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    let policy = format!("inlet-test-{}", uuid::Uuid::new_v4().simple());
    delivery_limit_policy(&policy, &deliveries_queue(&f.broker.topology()), true);

    set_read_only(&f.db, true).await;
    f.publish(&message_received("evt-outage-1")).await;
    // Long enough for several requeues a second apart.
    tokio::time::sleep(Duration::from_secs(6)).await;
    set_read_only(&f.db, false).await;
    delivery_limit_policy(&policy, "", false);

    let detail = f.delivery_with_status(&endpoint, "delivered").await;
    assert_eq!(detail["event_id"], "evt-outage-1");
    assert_eq!(receiver.received().len(), 1);
    f.stop().await;
}

/// A message that can never be fanned out is dropped, and counted where the
/// SREs look, since its events reach no endpoint.
#[tokio::test]
async fn a_deliveries_message_that_can_never_be_fanned_out_is_counted_as_dropped() {
    use lapin::options::BasicPublishOptions;
    use lapin::BasicProperties;

    let f = Forwarding::start().await;
    f.broker
        .channel
        .basic_publish(
            "",
            &deliveries_queue(&f.broker.topology()),
            BasicPublishOptions::default(),
            b"not an event",
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("published")
        .await
        .expect("publish settled");
    let dropped = inlet_testkit::eventually(super::support::PATIENCE, || async {
        (f.metrics.delivery.fanout_dropped.get() == 1).then_some(())
    })
    .await;
    assert!(dropped.is_some(), "the dropped message was not counted");
    let text = f.metrics.render();
    assert!(
        text.contains("inlet_delivery_fanout_dropped_total 1"),
        "{text}"
    );
    f.stop().await;
}
