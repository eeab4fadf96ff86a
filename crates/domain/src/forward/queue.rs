//! The delivery consumer's queue on the `inlet.domain` topic exchange.
//!
//! Declared by a function of its own (not [`Topology::declare`]) so that only
//! the processes that forward need it, and either binary can declare it
//! idempotently.

use crate::broker::Topology;
use lapin::options::{
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, ExchangeKind};

/// Binding key: every domain event is a candidate for forwarding; endpoint
/// filters decide in the database.
pub const DELIVERIES_BINDING: &str = "#";

/// The name of the deliveries queue: `{prefix}inlet.deliveries`.
pub fn deliveries_queue(topology: &Topology) -> String {
    format!("{}inlet.deliveries", topology.prefix())
}

/// Declares the domain exchange (in case the worker has not yet) and the
/// durable deliveries queue bound to it with `#`.
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
    channel
        .queue_bind(
            &queue,
            &topology.domain_exchange(),
            DELIVERIES_BINDING,
            QueueBindOptions::default(),
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
