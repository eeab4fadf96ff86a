//! The delivery consumer's queue, `{prefix}inlet.deliveries`.
//!
//! The worker sends it, through the default exchange, one message per batch
//! of stored raw events: a JSON array of every domain event the batch yielded
//! (a single event object is read too). One message per batch instead of one
//! per event keeps forwarding's cost on the broker small; downstream consumers
//! still get one message per event on the `inlet.domain` topic exchange.
//!
//! Declared by a function of its own (not [`Topology::declare`]) so that only
//! the processes that forward need it, and either binary can declare it
//! idempotently.

use crate::broker::Topology;
use lapin::options::{ExchangeDeclareOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Channel, ExchangeKind};

/// The binding key with which earlier versions bound the queue to the domain
/// exchange (one copy of every event); removed at declaration, since the
/// worker now sends batches straight to the queue.
const LEGACY_BINDING: &str = "#";

/// The name of the deliveries queue: `{prefix}inlet.deliveries`.
pub fn deliveries_queue(topology: &Topology) -> String {
    format!("{}inlet.deliveries", topology.prefix())
}

/// Declares the durable deliveries queue (and the domain exchange, in case
/// the worker has not yet), and removes the binding earlier versions made.
pub async fn declare_deliveries(
    channel: &Channel,
    topology: &Topology,
) -> Result<(), lapin::Error> {
    // Same options as `Topology::declare`, so declaring twice never conflicts.
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            &topology.domain_exchange(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    // The work queue's type (quorum by default): the queue holds events not
    // yet fanned out, which must survive a broker node loss like the work queue.
    let args = topology.durable_args();
    let options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let queue = deliveries_queue(topology);
    channel.queue_declare(&queue, options, args).await?;
    // Unbinding what is not bound is not an error: this is idempotent.
    channel
        .queue_unbind(
            &queue,
            &topology.domain_exchange(),
            LEGACY_BINDING,
            FieldTable::default(),
        )
        .await
}

/// Deletes the deliveries queue (tests clean up with it).
pub async fn delete_deliveries(channel: &Channel, topology: &Topology) -> Result<(), lapin::Error> {
    channel
        .queue_delete(&deliveries_queue(topology), QueueDeleteOptions::default())
        .await
        .map(drop)
}
