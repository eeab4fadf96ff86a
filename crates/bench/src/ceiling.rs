//! The broker ceiling: persistent, confirmed publishes straight to RabbitMQ,
//! many in flight, into the same topology the gateway uses (under a bench-only
//! prefix). Also used to pre-fill the work queue for the worker benchmark.

use crate::bodies::Signer;
use inlet_domain::broker::{connect, publish_confirmed, EVENT_ROUTING_KEY};
use inlet_domain::envelope::EventMeta;
use inlet_domain::pack;
use inlet_domain::Provider;
use lapin::options::ConfirmSelectOptions;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How to publish.
#[derive(Clone, Debug)]
pub struct PublishPlan {
    /// The broker.
    pub amqp_url: String,
    /// Exchange to publish to (the ingest exchange of the prefix).
    pub exchange: String,
    /// Confirm-mode channels.
    pub channels: usize,
    /// Publishes in flight across all channels.
    pub in_flight: usize,
    /// Stop after this long...
    pub duration: Duration,
    /// ...or after this many messages, whichever comes first.
    pub max_messages: u64,
    /// Events in each message: 1 is a plain message; more are packs, as the
    /// gateway publishes webhooks that arrive together.
    pub events_per_message: u64,
}

/// What a publish run measured.
#[derive(Debug, Clone, Copy)]
pub struct PublishReport {
    /// Messages confirmed.
    pub confirmed: u64,
    /// Publishes that failed.
    pub failed: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl PublishReport {
    /// Confirmed messages per second.
    pub fn per_sec(&self) -> f64 {
        self.confirmed as f64 / self.elapsed.as_secs_f64()
    }
}

/// The envelope the gateway would have published for `body`.
pub fn meta_envelope(n: u64) -> EventMeta {
    EventMeta {
        provider: Provider::Meta,
        line: Some("106540352242922".into()),
        line_unknown: false,
        source: None,
        received_at: chrono::Utc::now(),
        dedup_key: format!("bench:{n}"),
        correlation_id: uuid::Uuid::now_v7().to_string(),
        attempt: 1,
    }
}

/// Message `n`, as the gateway would publish requests `n·k … n·k + k − 1`
/// arriving together: a plain message for one, a pack for several.
fn message(signer: &Signer, n: u64, k: u64) -> Option<(Vec<u8>, lapin::BasicProperties)> {
    let events: Vec<(EventMeta, Vec<u8>)> = (n * k..n * k + k)
        .map(|i| (meta_envelope(i), signer.request(i).body))
        .collect();
    let refs: Vec<(&EventMeta, &[u8])> = events.iter().map(|(m, b)| (m, b.as_slice())).collect();
    pack::message(&refs).map(|(body, properties)| (body.into_owned(), properties))
}

/// Publishes signed Meta bodies from `signer` as the gateway would, until the plan ends.
pub async fn publish(plan: &PublishPlan, signer: Arc<Signer>) -> anyhow::Result<PublishReport> {
    let connection = connect(&plan.amqp_url, "inlet-bench-publisher").await?;
    let mut channels = Vec::with_capacity(plan.channels);
    for _ in 0..plan.channels {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channels.push(channel);
    }
    let start = Instant::now();
    let deadline = start + plan.duration;
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(plan.in_flight);
    for t in 0..plan.in_flight {
        let channel = channels[t % channels.len()].clone();
        let (next, failed, signer, plan) =
            (next.clone(), failed.clone(), signer.clone(), plan.clone());
        tasks.push(tokio::spawn(async move {
            let mut confirmed = 0u64;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= plan.max_messages || Instant::now() >= deadline {
                    break;
                }
                // No events to a message (a plan of 0) publishes nothing.
                let Some((body, props)) = message(&signer, n, plan.events_per_message) else {
                    break;
                };
                let published = publish_confirmed(
                    &channel,
                    &plan.exchange,
                    EVENT_ROUTING_KEY,
                    &body,
                    props,
                    true,
                    Duration::from_secs(10),
                )
                .await;
                match published {
                    Ok(()) => confirmed += 1,
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            confirmed
        }));
    }
    let mut confirmed = 0;
    for t in tasks {
        confirmed += t.await?;
    }
    let elapsed = start.elapsed();
    let _ = connection.close(200, "bench done").await;
    Ok(PublishReport {
        confirmed,
        failed: failed.load(Ordering::Relaxed),
        elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bodies::Sender;

    #[test]
    fn a_packed_message_is_a_pack_of_its_own_run_of_requests() {
        let signer = Signer::new(Sender::Meta, "packtest").expect("signer");
        let (body, props) = message(&signer, 2, 3).expect("a message");
        assert!(pack::is_pack(&props));
        let events = pack::decode(&body).expect("a pack");
        let bodies: Vec<&[u8]> = events.iter().map(|e| e.body).collect();
        let wanted: Vec<Vec<u8>> = (6..9).map(|n| signer.request(n).body).collect();
        assert_eq!(bodies, wanted.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let (body, props) = message(&signer, 7, 1).expect("a message");
        assert!(!pack::is_pack(&props));
        assert_eq!(body, signer.request(7).body);
    }
}
