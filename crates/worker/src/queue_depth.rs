//! Refreshes `inlet_queue_messages{queue}` every few seconds with passive
//! declares on a channel of its own: a passive declare of a missing queue
//! closes its channel, which must not be a consumer's. The consumer reports
//! `work`, `retry` and `dead`; the fan-out consumer, which declares the
//! deliveries queue, reports `deliveries`.

use crate::metrics::Metrics;
use inlet_domain::broker::Topology;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use std::time::Duration;
use tokio_util::sync::{CancellationToken, DropGuard};

/// One gauge: its `queue` label and the queues whose ready messages it sums.
pub struct Gauge {
    label: &'static str,
    queues: Vec<String>,
}

impl Gauge {
    /// A gauge labelled `label` over `queues`.
    pub fn new(label: &'static str, queues: Vec<String>) -> Self {
        Gauge { label, queues }
    }
}

/// The consumer's gauges: the work queue, every retry queue together, the
/// dead-letter queue.
pub fn consumer_gauges(topology: &Topology) -> Vec<Gauge> {
    let retry = (0..topology.retry_delays().len())
        .map(|t| topology.retry_queue(t))
        .collect();
    vec![
        Gauge::new("work", vec![topology.work_queue()]),
        Gauge::new("retry", retry),
        Gauge::new("dead", vec![topology.dead_queue()]),
    ]
}

/// Starts refreshing `gauges` every `interval` on a new channel of
/// `connection`, until the returned guard is dropped (with the session that
/// holds it) or the channel fails.
pub async fn watch(
    connection: &Connection,
    gauges: Vec<Gauge>,
    metrics: Metrics,
    interval: Duration,
) -> Result<DropGuard, lapin::Error> {
    let channel = connection.create_channel().await?;
    let stop = CancellationToken::new();
    tokio::spawn(refresh(channel, gauges, metrics, interval, stop.clone()));
    Ok(stop.drop_guard())
}

/// Polls the gauges' queues until `stop` is cancelled or the channel fails.
async fn refresh(
    channel: Channel,
    gauges: Vec<Gauge>,
    metrics: Metrics,
    interval: Duration,
    stop: CancellationToken,
) {
    loop {
        let depths = async {
            let mut depths = Vec::with_capacity(gauges.len());
            for gauge in &gauges {
                let mut sum = 0u64;
                for q in &gauge.queues {
                    sum += u64::from(ready(&channel, q).await?);
                }
                depths.push(sum);
            }
            Ok::<_, lapin::Error>(depths)
        };
        match depths.await {
            Ok(depths) => {
                for (gauge, depth) in gauges.iter().zip(depths) {
                    metrics
                        .queue_messages
                        .with_label_values(&[gauge.label])
                        .set(i64::try_from(depth).unwrap_or(i64::MAX));
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "Cannot read queue depths; gauges stop until reconnect.");
                return;
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

async fn ready(channel: &Channel, queue: &str) -> Result<u32, lapin::Error> {
    let options = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let q = channel
        .queue_declare(queue, options, FieldTable::default())
        .await?;
    Ok(q.message_count())
}
