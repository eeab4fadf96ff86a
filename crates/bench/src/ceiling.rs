//! The broker ceiling: persistent, confirmed publishes straight to RabbitMQ,
//! many in flight, into the same topology the gateway uses (under a bench-only
//! prefix). Also used to pre-fill the work queue for the worker benchmark.

use crate::bodies::Signer;
use inlet_domain::broker::{connect, persistent_properties, publish_confirmed, EVENT_ROUTING_KEY};
use inlet_domain::envelope::EventMeta;
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
    /// Bodies in each message: 1 is what the gateway publishes; more measures what
    /// packing events together would cost the broker (`inlet-bench ceiling`).
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

/// Message `n`'s body: request `n`'s, or `k` requests' bodies one after another.
fn packed(signer: &Signer, n: u64, k: u64) -> Vec<u8> {
    if k <= 1 {
        return signer.request(n).body;
    }
    let mut body = Vec::new();
    for i in 0..k {
        body.extend_from_slice(&signer.request(n * k + i).body);
    }
    body
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
                let body = packed(&signer, n, plan.events_per_message);
                let props = persistent_properties(&meta_envelope(n));
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

    fn contains(body: &[u8], id: &str) -> bool {
        body.windows(id.len()).any(|w| w == id.as_bytes())
    }

    #[test]
    fn a_packed_message_carries_its_own_run_of_requests() {
        let signer = Signer::new(Sender::Meta, "packtest").expect("signer");
        let body = packed(&signer, 2, 3);
        for n in 6..9 {
            assert!(
                contains(&body, &format!("\"{}\"", signer.message_id(n))),
                "request {n}"
            );
        }
        for n in [5, 9] {
            assert!(
                !contains(&body, &format!("\"{}\"", signer.message_id(n))),
                "request {n}"
            );
        }
        assert_eq!(packed(&signer, 7, 1).len(), signer.request(7).body.len());
    }
}
