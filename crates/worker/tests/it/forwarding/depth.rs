//! Forwarding's backlog on `/metrics`: `inlet_queue_messages{queue="deliveries"}`.

use super::events::message_received;
use super::support::{fast_delivery, Forwarding, PATIENCE};
use crate::helpers::TableLock;
use inlet_testkit::eventually;
use inlet_worker::delivery::settings::DeliverySettings;

#[tokio::test]
async fn the_deliveries_gauge_counts_batches_waiting_to_be_fanned_out() {
    // One message in the consumer's hands at a time: the rest wait in the queue.
    let f = Forwarding::start_with(DeliverySettings {
        delivery_prefetch: 1,
        ..fast_delivery()
    })
    .await;
    let depth = || {
        f.metrics
            .queue_messages
            .with_label_values(&["deliveries"])
            .get()
    };
    // Fanning out reads the endpoints first; while they are locked it waits.
    let lock = TableLock::table(&f.db, "forward_endpoints").await;
    for i in 0..4 {
        f.publish(&message_received(&format!("evt-depth-{i}")))
            .await;
    }
    let backlog = eventually(PATIENCE, || async { (depth() == 3).then_some(()) }).await;
    assert!(backlog.is_some(), "deliveries gauge {} (want 3)", depth());

    lock.release().await;
    let drained = eventually(PATIENCE, || async { (depth() == 0).then_some(()) }).await;
    assert!(drained.is_some(), "deliveries gauge {} (want 0)", depth());
    f.stop().await;
}
