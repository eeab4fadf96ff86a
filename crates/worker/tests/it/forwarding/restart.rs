use super::events::message_received;
use super::receiver::{Receiver, Reply};
use super::support::{fast_delivery, Forwarding};
use inlet_worker::delivery::settings::DeliverySettings;
use serde_json::json;

#[tokio::test]
async fn a_delivery_waiting_for_a_retry_is_sent_by_a_new_delivery_consumer() {
    // A 2 s backoff leaves time to stop the first consumer while the retry waits.
    let f = Forwarding::start_with(DeliverySettings {
        delivery_backoff_base_ms: 2_000,
        delivery_backoff_max_ms: 2_000,
        ..fast_delivery()
    })
    .await;
    let mut f = f;
    let receiver = Receiver::start();
    receiver.script([Reply::status(500)]);
    let endpoint = f.endpoint(json!({"url": receiver.url})).await;
    f.publish(&message_received("evt-restart")).await;

    let waiting = f.delivery_with_status(&endpoint, "retrying").await;
    assert_eq!(waiting["attempt_count"], 1);
    f.stop_forwarder().await;
    assert_eq!(receiver.received().len(), 1);

    f.start_forwarder();
    let detail = f.delivery_with_status(&endpoint, "delivered").await;
    assert_eq!(detail["attempt_count"], 2);
    assert_eq!(receiver.received().len(), 2);
    f.stop().await;
}
