//! Refreshes `inlet_queue_messages{queue}` (work, retry, dead) every few
//! seconds with passive declares on a channel of its own: a passive declare
//! of a missing queue closes its channel, which must not be the consumer's.

use crate::metrics::Metrics;
use inlet_domain::broker::Topology;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::Channel;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Polls queue depths until `stop` is cancelled or the channel fails.
pub async fn refresh(
    channel: Channel,
    topology: Topology,
    metrics: Metrics,
    interval: Duration,
    stop: CancellationToken,
) {
    let retry_queues: Vec<String> = (0..topology.retry_delays().len())
        .map(|t| topology.retry_queue(t))
        .collect();
    loop {
        let depths = async {
            let work = ready(&channel, &topology.work_queue()).await?;
            let mut retry = 0;
            for q in &retry_queues {
                retry += ready(&channel, q).await?;
            }
            let dead = ready(&channel, &topology.dead_queue()).await?;
            Ok::<_, lapin::Error>((work, retry, dead))
        };
        match depths.await {
            Ok((work, retry, dead)) => {
                let g = &metrics.queue_messages;
                g.with_label_values(&["work"]).set(i64::from(work));
                g.with_label_values(&["retry"]).set(i64::from(retry));
                g.with_label_values(&["dead"]).set(i64::from(dead));
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
