//! The fan-out consumer: reads domain events from the deliveries queue and
//! records one delivery per matching endpoint, acking only after the rows are
//! committed (a redelivered event finds them already there).

use futures::StreamExt;
use inlet_domain::broker::{connect, Topology};
use inlet_domain::forward::body::{body, line_keys, type_patterns, IncomingEvent};
use inlet_domain::forward::queue::{declare_deliveries, deliveries_queue};
use inlet_domain::repository::forwarding::fan_out;
use inlet_domain::repository::{RepoError, Repository};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What the fan-out consumer needs.
pub struct FanOut {
    /// Broker URL.
    pub amqp_url: String,
    /// Names of the exchanges and queues.
    pub topology: Topology,
    /// Events processed at once.
    pub prefetch: u16,
    /// The database.
    pub repo: Repository,
    /// Wakes the scheduler when there is something new to send.
    pub wake: Arc<Notify>,
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
        let connection = connect(&self.amqp_url, "inlet-worker-deliveries").await?;
        let channel = connection.create_channel().await?;
        declare_deliveries(&channel, &self.topology).await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let queue = deliveries_queue(&self.topology);
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
        consumer
            .take_until(shutdown.cancelled())
            .for_each_concurrent(usize::from(self.prefetch), |delivery| async move {
                match delivery {
                    Ok(delivery) => self.process(delivery).await,
                    Err(error) => tracing::warn!(error = %error, "Deliveries stream error."),
                }
            })
            .await;
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

    async fn process(&self, delivery: Delivery) {
        let event: IncomingEvent = match serde_json::from_slice(&delivery.data) {
            Ok(event) => event,
            Err(error) => {
                // Not an event this version understands: nothing can be sent.
                tracing::error!(error = %error, "Domain event does not parse; dropping it from the deliveries queue.");
                let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
                return;
            }
        };
        match self.store(&event).await {
            Ok(created) => {
                if let Err(error) = delivery.ack(BasicAckOptions::default()).await {
                    tracing::warn!(error = %error, "Ack failed; the event will be fanned out again (idempotently).");
                }
                if created > 0 {
                    self.wake.notify_one();
                }
                tracing::debug!(event_id = %event.id, created, "Event fanned out.");
            }
            Err(error) if error.is_transient() => {
                tracing::warn!(error = %error, event_id = %event.id, "Cannot fan out now; requeueing.");
                // A pause so that a database outage does not spin the queue.
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await;
            }
            Err(error) => {
                tracing::error!(error = %error, event_id = %event.id, "Cannot fan out; dropping the event from the deliveries queue.");
                let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
            }
        }
    }

    async fn store(&self, event: &IncomingEvent) -> Result<usize, RepoError> {
        let client = self.repo.client().await?;
        let created = fan_out(
            &client,
            &event.id,
            &event.event_type,
            &body(event),
            &line_keys(event),
            &type_patterns(&event.event_type),
        )
        .await?;
        Ok(created.len())
    }
}
