//! The fan-out consumer: reads domain events from the deliveries queue and
//! records one delivery per matching endpoint, acking only after the rows are
//! committed (a redelivered event finds them already there).
//!
//! A message carries the domain events of one worker batch. Messages received
//! together are fanned out together: one read of the enabled endpoints and
//! one insert for all their events.

use crate::metrics::Metrics;
use crate::queue_depth::{self, Gauge};
use futures::StreamExt;
use inlet_domain::broker::{connect, Topology};
use inlet_domain::forward::body::{body, line_keys, type_patterns, IncomingEvent};
use inlet_domain::forward::queue::{declare_deliveries, deliveries_queue};
use inlet_domain::repository::forwarding::{fan_out, FanOutEvent};
use inlet_domain::repository::{RepoError, Repository};
use inlet_domain::supervise::reconnect_delay;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Tries of a fan-out that fails for a passing reason other than the
/// database being unreachable, before its messages are split or requeued.
const OTHER_PASSING_TRIES: u32 = 3;

/// What the fan-out consumer needs.
pub struct FanOut {
    /// Broker URL.
    pub amqp_url: String,
    /// Names of the exchanges and queues.
    pub topology: Topology,
    /// Messages (each one worker batch's events) held unacknowledged at once.
    pub prefetch: u16,
    /// Most messages fanned out together, in one statement.
    pub batch_size: usize,
    /// The database.
    pub repo: Repository,
    /// Wakes the scheduler when there is something new to send.
    pub wake: Arc<Notify>,
    /// Where the deliveries queue's depth is reported.
    pub metrics: Metrics,
    /// How often that depth is refreshed.
    pub queue_metrics_interval: Duration,
    /// Whether `inlet_worker_broker_connected` follows this consumer's
    /// connection (`inlet-worker deliver`, where it is the only one; inside
    /// `inlet-worker run` the event consumer reports it).
    pub reports_connection: bool,
}

impl FanOut {
    /// Consumes until shutdown, reconnecting with capped, jittered backoff.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        inlet_domain::supervise::supervise("Deliveries consumer", &shutdown, || {
            self.session(&shutdown)
        })
        .await;
    }

    async fn session(self: &Arc<Self>, shutdown: &CancellationToken) -> Result<(), lapin::Error> {
        let connection = Arc::new(connect(&self.amqp_url, "inlet-worker-deliveries").await?);
        let channel = connection.create_channel().await?;
        declare_deliveries(&channel, &self.topology).await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let queue = deliveries_queue(&self.topology);
        // The queue's depth for this session (it exists now), stopped when it ends.
        let _gauges = queue_depth::watch(
            &connection,
            vec![Gauge::new("deliveries", vec![queue.clone()])],
            self.metrics.clone(),
            self.queue_metrics_interval,
        )
        .await?;
        let tag = format!("inlet-deliveries-{}", uuid::Uuid::new_v4());
        let consumer = channel
            .basic_consume(
                &queue,
                &tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(queue = %queue, "Fanning out domain events to endpoints.");
        if self.reports_connection {
            self.metrics.broker_connected.set(1);
        }
        // One batch at a time, in delivery order: every earlier delivery is
        // settled when a batch is, so one `multiple` ack settles the batch.
        let batch_size = self.batch_size.clamp(1, usize::from(self.prefetch));
        consumer
            .take_until(shutdown.cancelled())
            .ready_chunks(batch_size)
            .for_each(|chunk| async move {
                let mut deliveries = Vec::with_capacity(chunk.len());
                for delivery in chunk {
                    match delivery {
                        Ok(delivery) => deliveries.push(delivery),
                        Err(error) => tracing::warn!(error = %error, "Deliveries stream error."),
                    }
                }
                self.process(deliveries, shutdown).await;
            })
            .await;
        if self.reports_connection {
            self.metrics.broker_connected.set(0);
        }
        let _ = channel.close(200, "worker stopping").await;
        let _ = connection.close(200, "worker stopping").await;
        if shutdown.is_cancelled() {
            Ok(())
        } else {
            Err(lapin::Error::InvalidConnectionState(
                lapin::ConnectionState::Closed,
            ))
        }
    }

    /// Fans out the events received together and settles each delivery.
    async fn process(&self, deliveries: Vec<Delivery>, shutdown: &CancellationToken) {
        let mut parsed: Vec<(Delivery, Vec<Routed>)> = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            match IncomingEvent::read_all(&delivery.data) {
                Ok(events) => {
                    let routed = events.into_iter().map(Routed::new).collect();
                    parsed.push((delivery, routed));
                }
                Err(error) => {
                    // Not an event this version understands: nothing can be sent.
                    tracing::error!(error = %error, "Domain event does not parse; dropping it from the deliveries queue.");
                    self.metrics.delivery.fanout_dropped.inc();
                    let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
                }
            }
        }
        if parsed.is_empty() {
            return;
        }
        let events: Vec<&Routed> = parsed.iter().flat_map(|(_, r)| r).collect();
        let result = self.store_patiently(&events, shutdown).await;
        match result {
            // A failure that is not the database being away may be one
            // message's own doing (a statement timeout on a huge one, say).
            Err(error) if !error.is_database_away() && parsed.len() > 1 => {
                // Find the message at fault: each alone, so the others still go out.
                tracing::warn!(error = %error, messages = parsed.len(), "Cannot fan out the batch; one message at a time.");
                for item in &parsed {
                    let events: Vec<&Routed> = item.1.iter().collect();
                    let result = self.store_patiently(&events, shutdown).await;
                    self.settle(std::slice::from_ref(item), result).await;
                }
            }
            result => self.settle(&parsed, result).await,
        }
    }

    /// Acks the messages once their deliveries are committed; requeues them
    /// on a passing failure (left by [`FanOut::store_patiently`] only when the
    /// consumer stops, or after a few tries of one that is not the database
    /// being away); drops them on any other.
    async fn settle(&self, items: &[(Delivery, Vec<Routed>)], result: Result<usize, RepoError>) {
        let events: usize = items.iter().map(|(_, r)| r.len()).sum();
        match result {
            Ok(created) => {
                // Acks these and every earlier delivery (all settled already).
                let all = BasicAckOptions { multiple: true };
                if let Some((last, _)) = items.last() {
                    if let Err(error) = last.ack(all).await {
                        tracing::warn!(error = %error, events, "Ack failed; the events will be fanned out again (idempotently).");
                    }
                }
                if created > 0 {
                    self.wake.notify_one();
                }
                tracing::debug!(events, created, "Events fanned out.");
            }
            Err(error) if error.is_transient() => {
                tracing::warn!(error = %error, events, "Cannot fan out now; requeueing.");
                for (delivery, _) in items {
                    let _ = delivery
                        .nack(BasicNackOptions {
                            requeue: true,
                            ..BasicNackOptions::default()
                        })
                        .await;
                }
            }
            Err(error) => {
                for (delivery, routed) in items {
                    let ids: Vec<&str> = routed.iter().map(|r| r.event.id.as_str()).collect();
                    tracing::error!(error = %error, event_ids = ?ids, "Cannot fan out; dropping the message from the deliveries queue.");
                    self.metrics.delivery.fanout_dropped.inc();
                    let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
                }
            }
        }
    }

    /// Stores the deliveries of `events`, trying again with backoff while the
    /// database cannot be had, until it succeeds or the consumer stops.
    /// Requeueing the messages instead counted each pass towards the queue's
    /// delivery limit (a default of 20 on quorum queues from RabbitMQ 4.0),
    /// past which the broker drops them: events stored, never forwarded.
    /// Another passing failure (a conflict, a statement timeout, which may be
    /// these events' own doing) is tried a few times, then returned.
    async fn store_patiently(
        &self,
        events: &[&Routed],
        shutdown: &CancellationToken,
    ) -> Result<usize, RepoError> {
        let mut failures: u32 = 0;
        loop {
            let error = match self.store(events).await {
                Err(error) if error.is_transient() => error,
                result => return result,
            };
            failures = failures.saturating_add(1);
            if shutdown.is_cancelled()
                || (!error.is_database_away() && failures >= OTHER_PASSING_TRIES)
            {
                return Err(error);
            }
            let delay = reconnect_delay(failures);
            tracing::warn!(
                error = %error,
                events = events.len(),
                retry_in_ms = delay.as_millis() as u64,
                "Cannot fan out now; trying again."
            );
            tokio::select! {
                _ = shutdown.cancelled() => return Err(error),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn store(&self, events: &[&Routed]) -> Result<usize, RepoError> {
        let client = self.repo.client().await?;
        let batch: Vec<FanOutEvent<'_>> = events.iter().map(|r| r.as_fan_out()).collect();
        let created = fan_out(&client, &batch).await?;
        Ok(created.len())
    }
}

/// A parsed domain event with what endpoints filter it on.
struct Routed {
    event: IncomingEvent,
    line_keys: Vec<String>,
    type_patterns: Vec<String>,
}

impl Routed {
    fn new(event: IncomingEvent) -> Self {
        Routed {
            line_keys: line_keys(&event),
            type_patterns: type_patterns(&event.event_type),
            event,
        }
    }

    fn as_fan_out(&self) -> FanOutEvent<'_> {
        FanOutEvent {
            event_id: &self.event.id,
            event_type: &self.event.event_type,
            payload: body(&self.event),
            line_keys: &self.line_keys,
            type_patterns: &self.type_patterns,
        }
    }
}
