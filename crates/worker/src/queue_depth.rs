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
use std::sync::Arc;
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

/// Starts refreshing `gauges` every `interval` on a channel of `connection`,
/// until the returned guard is dropped (with the session that holds it).
pub async fn watch(
    connection: &Arc<Connection>,
    gauges: Vec<Gauge>,
    metrics: Metrics,
    interval: Duration,
) -> Result<DropGuard, lapin::Error> {
    let channel = connection.create_channel().await?;
    let stop = CancellationToken::new();
    let watched = Watched {
        connection: connection.clone(),
        gauges,
        metrics,
        interval,
    };
    tokio::spawn(watched.refresh(channel, stop.clone()));
    Ok(stop.drop_guard())
}

struct Watched {
    connection: Arc<Connection>,
    gauges: Vec<Gauge>,
    metrics: Metrics,
    interval: Duration,
}

impl Watched {
    /// Polls the gauges' queues until `stop` is cancelled. When a read fails
    /// (a passive declare of a queue that is gone closes its channel) the
    /// gauges are removed, not left at their last values, where they would
    /// look plausible and hold `deriv()` flat, so that nothing alerted on a
    /// backlog growing meanwhile; the reads go on on a new channel.
    async fn refresh(self, mut channel: Channel, stop: CancellationToken) {
        loop {
            match self.depths(&channel).await {
                Ok(depths) => {
                    for (gauge, depth) in self.gauges.iter().zip(depths) {
                        self.metrics
                            .queue_messages
                            .with_label_values(&[gauge.label])
                            .set(i64::try_from(depth).unwrap_or(i64::MAX));
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error, "Cannot read queue depths; gauges removed until they can be read.");
                    self.remove();
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(self.interval) => {}
            }
            if !channel.status().connected() {
                match self.connection.create_channel().await {
                    Ok(fresh) => channel = fresh,
                    // The connection is gone: its session ends and a new one watches.
                    Err(_) => break,
                }
            }
        }
        self.remove();
    }

    async fn depths(&self, channel: &Channel) -> Result<Vec<u64>, lapin::Error> {
        let mut depths = Vec::with_capacity(self.gauges.len());
        for gauge in &self.gauges {
            let mut sum = 0u64;
            for q in &gauge.queues {
                sum += u64::from(ready(channel, q).await?);
            }
            depths.push(sum);
        }
        Ok(depths)
    }

    fn remove(&self) {
        for gauge in &self.gauges {
            // Not there (never set, or removed already) is fine.
            let _ = self
                .metrics
                .queue_messages
                .remove_label_values(&[gauge.label]);
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
