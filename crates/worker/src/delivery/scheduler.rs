//! The send loop: claims due deliveries, sends them within the concurrency
//! limits, and records every attempt.

use super::backoff::Backoff;
use super::sender::{Class, Outcome, Sender};
use crate::metrics::DeliveryMetrics;
use chrono::Utc;
use inlet_domain::repository::forwarding::{
    claim_due, record_attempt, AttemptRecord, ClaimLimits, Claimed, Verdict,
};
use inlet_domain::repository::{RepoError, Repository};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What the send loop needs.
pub struct Scheduler {
    /// The database.
    pub repo: Repository,
    /// The HTTP side.
    pub sender: Sender,
    /// When to retry.
    pub backoff: Backoff,
    /// Requests in flight in this worker.
    pub concurrency: usize,
    /// Requests in flight per endpoint (across workers).
    pub per_endpoint: u32,
    /// How long a claim lasts.
    pub lease: Duration,
    /// How often to look for due retries when nothing wakes the loop.
    pub poll_interval: Duration,
    /// An endpoint failing continuously this long is disabled.
    pub disable_after: Duration,
    /// A failure this long after the previous one starts a new failure streak.
    pub streak_gap: Duration,
    /// Delivery metrics.
    pub metrics: DeliveryMetrics,
    /// Woken by the fan-out when it created new deliveries, and by every
    /// finished send (its endpoint may take another).
    pub wake: Arc<Notify>,
    /// How long in-flight requests may take to finish at shutdown.
    pub shutdown_timeout: Duration,
}

impl Scheduler {
    /// Claims and sends until shutdown, then lets in-flight sends finish (up
    /// to the timeout; unfinished claims expire and are sent again).
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let mut in_flight = JoinSet::new();
        while !shutdown.is_cancelled() {
            // Reap finished tasks so the set does not grow.
            while in_flight.try_join_next().is_some() {}
            let free = permits.available_permits();
            let claimed = if free == 0 {
                Ok(Vec::new())
            } else {
                self.claim(free).await
            };
            let full_batch = match claimed {
                Ok(batch) => {
                    let full = !batch.is_empty() && batch.len() == free;
                    for delivery in batch {
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            break;
                        };
                        let this = self.clone();
                        let span = tracing::info_span!("delivery", delivery_id = %delivery.id);
                        in_flight.spawn(
                            async move {
                                this.deliver(delivery).await;
                                drop(permit);
                                // The attempt is recorded, so its endpoint has a
                                // free slot: a claim the per-endpoint cap held back
                                // must not wait for the next poll. Notify keeps one
                                // permit, so sends finishing together cost one claim.
                                this.wake.notify_one();
                            }
                            .instrument(span),
                        );
                    }
                    full
                }
                Err(error) => {
                    tracing::warn!(error = %error, "Cannot claim due deliveries; trying again.");
                    false
                }
            };
            if full_batch {
                // More may be due: claim again as soon as a permit is free.
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = in_flight.join_next(), if !in_flight.is_empty() => {}
                }
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.poll_interval) => {}
            }
        }
        let drained = tokio::time::timeout(self.shutdown_timeout, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("Deliveries still in flight at shutdown; their claims will expire and they will be sent again.");
        }
        tracing::info!("Delivery scheduler stopped.");
    }

    async fn claim(&self, free: usize) -> Result<Vec<Claimed>, RepoError> {
        let mut client = self.repo.client().await?;
        claim_due(
            &mut client,
            ClaimLimits {
                batch: i64::try_from(free).unwrap_or(i64::MAX),
                per_endpoint: i64::from(self.per_endpoint.max(1)),
                lease: self.lease,
            },
        )
        .await
    }

    /// Sends one claimed delivery and records the attempt.
    async fn deliver(&self, delivery: Claimed) {
        let attempted_at = Utc::now();
        let outcome = self.sender.send(&delivery, attempted_at).await;
        let attempt = delivery.attempts.saturating_add(1);
        let verdict = self.verdict(&outcome, attempt, delivery.max_attempts);
        self.count(&outcome, verdict);
        let rec = AttemptRecord {
            delivery_id: delivery.id,
            lease_until: delivery.lease_until,
            endpoint_id: delivery.endpoint_id,
            attempt,
            attempted_at,
            status_code: outcome.status.map(i32::from),
            response_body: outcome.body.as_deref(),
            error: outcome.error.as_deref(),
            duration_ms: i32::try_from(outcome.duration.as_millis()).unwrap_or(i32::MAX),
            verdict,
            disable_after: self.disable_after,
            streak_gap: self.streak_gap,
        };
        match self.record(&rec).await {
            Ok(true) => {
                self.metrics.endpoints_disabled.inc();
                tracing::warn!(endpoint_id = %delivery.endpoint_id, "Endpoint failing for too long; disabled.");
            }
            Ok(false) => {}
            // The claim expires and the delivery is sent again: at least once.
            Err(error) => {
                tracing::warn!(error = %error, "Cannot record a delivery attempt; it will be sent again.")
            }
        }
        tracing::debug!(
            attempt,
            status = outcome.status,
            outcome = ?verdict,
            "Delivery attempt made."
        );
    }

    fn verdict(&self, outcome: &Outcome, attempt: i32, max_attempts: i32) -> Verdict {
        match outcome.class {
            Class::Success => Verdict::Delivered,
            Class::Retryable if attempt < max_attempts => {
                let wait = self.backoff.delay(attempt, outcome.retry_after);
                let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                let now = Utc::now();
                Verdict::Retry(now.checked_add_signed(wait).unwrap_or(now))
            }
            Class::Retryable | Class::Final => Verdict::Failed,
        }
    }

    fn count(&self, outcome: &Outcome, verdict: Verdict) {
        let label = match verdict {
            Verdict::Delivered => "success",
            Verdict::Retry(_) => "retry",
            Verdict::Failed => "failed",
        };
        self.metrics.attempts.with_label_values(&[label]).inc();
        self.metrics
            .duration
            .observe(outcome.duration.as_secs_f64());
    }

    async fn record(&self, rec: &AttemptRecord<'_>) -> Result<bool, RepoError> {
        let mut client = self.repo.client().await?;
        let tx = client.transaction().await?;
        let disabled = record_attempt(&tx, rec).await?;
        tx.commit().await?;
        Ok(disabled)
    }
}
