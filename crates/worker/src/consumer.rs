//! The consumer: connects, declares, consumes with a bounded prefetch, and
//! turns each handler result into an ack, a delayed retry or a dead letter.
//! It is the only module that sees lapin deliveries.

use crate::acks::Acks;
use crate::config::{DomainEvents, Settings};
use crate::consent::Keywords;
use crate::metrics::Metrics;
use crate::publish::Outgoing;
use crate::received::{Received, Settlement};
use crate::router::{Failed, Processed, Router};
use crate::{publish, queue_depth, retry};
use futures::StreamExt;
use inlet_domain::broker::{connect, Topology};
use inlet_domain::envelope::EventMeta;
use inlet_domain::forward::queue::{declare_deliveries, deliveries_queue};
use inlet_domain::repository::Repository;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::Channel;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// A raw event whose effects are committed, ready to be announced and acked.
pub(crate) struct Stored<'a> {
    pub(crate) delivery: &'a Received,
    pub(crate) meta: &'a EventMeta,
    pub(crate) done: Processed,
}

/// Whether a retry is written to the audit trail first.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audit {
    /// Mark the event's audit row `retrying` (a statement of its own).
    Write,
    /// Not: the database was found unavailable just now, and each write would
    /// wait out the pool's timeout before failing too.
    Skip,
}

/// What one broker session gives its handlers: the confirm-mode channel for
/// retry, dead-letter and domain publishes, and the consumer channel's acks.
pub(crate) struct Session {
    pub(crate) publisher: Channel,
    pub(crate) acks: Acks,
    /// Cancelled when the session ends: shutdown, or its publisher broke.
    pub(crate) ending: CancellationToken,
}

/// Everything a consumer needs, shared by its concurrent handlers.
pub struct Consumer {
    /// Broker URL.
    pub amqp_url: String,
    /// Names and options of the queues.
    pub topology: Topology,
    /// Deliveries held (and processed) at once.
    pub prefetch: u16,
    /// Most deliveries stored in one transaction.
    pub batch_size: usize,
    /// How long a batch that is not full waits for more deliveries.
    pub batch_linger: Duration,
    /// How stored events are published on the domain exchange.
    pub domain_events: DomainEvents,
    /// Confirm wait for retry and dead-letter publishes.
    pub publish_timeout: Duration,
    /// How long in-flight events may take to finish at shutdown.
    pub shutdown_timeout: Duration,
    /// Decodes and stores events.
    pub router: Router,
    /// The worker's metrics.
    pub metrics: Metrics,
    /// How often queue depths are refreshed.
    pub queue_metrics_interval: Duration,
    /// Whether this process forwards (`INLET_DELIVERY_ENABLED`): it then
    /// declares the deliveries queue before consuming, so that on a new
    /// broker no stored batch goes to a queue its own fan-out has not yet
    /// declared (a publish to no queue is dropped).
    pub declares_deliveries: bool,
}

impl Consumer {
    /// The consumer `settings` describe, storing through `repo`.
    pub fn new(settings: &Settings, repo: Repository, metrics: Metrics) -> Self {
        Consumer {
            amqp_url: settings.broker.amqp_url.clone(),
            topology: settings.broker.topology(),
            prefetch: settings.prefetch,
            batch_size: usize::from(settings.batch_size),
            batch_linger: Duration::from_millis(settings.batch_linger_ms),
            domain_events: settings.domain_events,
            publish_timeout: Duration::from_millis(settings.publish_timeout_ms),
            shutdown_timeout: Duration::from_secs(settings.shutdown_timeout_secs),
            router: Router::new(
                repo,
                Keywords {
                    opt_out: settings.opt_out_keywords.clone(),
                    opt_in: settings.opt_in_keywords.clone(),
                },
            ),
            metrics,
            queue_metrics_interval: Duration::from_secs(settings.queue_metrics_interval_secs),
            declares_deliveries: settings.delivery.delivery_enabled,
        }
    }

    /// Consumes until shutdown, reconnecting with capped, jittered backoff
    /// whenever the broker goes away.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        inlet_domain::supervise::supervise("Consumer", &shutdown, || self.consume(&shutdown)).await;
    }

    /// One connection's lifetime: returns when it breaks or on shutdown.
    async fn consume(self: &Arc<Self>, shutdown: &CancellationToken) -> Result<(), lapin::Error> {
        let connection = Arc::new(connect(&self.amqp_url, "inlet-worker").await?);
        let channel = connection.create_channel().await?;
        self.topology.declare(&channel).await?;
        if self.declares_deliveries {
            declare_deliveries(&channel, &self.topology).await?;
        }
        // A separate confirm-mode channel for retry, dead-letter and domain
        // publishes, so confirms never interleave with consumer flow.
        let publisher = connection.create_channel().await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        // Queue-depth gauges for this session, stopped when it ends.
        let _gauges = queue_depth::watch(
            &connection,
            queue_depth::consumer_gauges(&self.topology),
            self.metrics.clone(),
            self.queue_metrics_interval,
        )
        .await?;
        let tag = format!("inlet-worker-{}", uuid::Uuid::new_v4());
        let consumer = channel
            .basic_consume(
                &self.topology.work_queue(),
                &tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        // Holding up to half the window keeps most acks coalesced while the
        // other half can still be received.
        // Ends the session early when the publisher channel dies on its own
        // (a channel error): every event would otherwise be stored, fail to
        // publish and be requeued in a loop until the connection is renewed.
        // A child of the shutdown token, so it also says the session ends.
        let broken = shutdown.child_token();
        let session = Session {
            publisher,
            acks: Acks::new(channel.clone(), usize::from(self.prefetch) / 2),
            ending: broken.clone(),
        };
        self.metrics.broker_connected.set(1);
        tracing::info!(queue = %self.topology.work_queue(), prefetch = self.prefetch, "Consuming.");
        let stop = broken.clone().cancelled_owned();
        // A batch starts with the first delivery after a slot frees up and
        // takes what arrives within the linger, up to the batch size. Under
        // load batches fill at once; at a moderate rate the linger lets them
        // fill further, so the same events take fewer transactions.
        // A pack becomes its events here; batches count events, not messages.
        let events = consumer.take_until(stop).flat_map(|delivery| {
            let events: Vec<Result<Received, lapin::Error>> = match delivery {
                Ok(delivery) => Received::unpack(delivery).into_iter().map(Ok).collect(),
                Err(error) => vec![Err(error)],
            };
            futures::stream::iter(events)
        });
        let drain = self
            .batches(events)
            .for_each_concurrent(self.batches_in_flight(), |chunk| {
                let (session, broken) = (&session, &broken);
                async move {
                    let mut deliveries = Vec::with_capacity(chunk.len());
                    for delivery in chunk {
                        match delivery {
                            Ok(delivery) => deliveries.push(delivery),
                            Err(error) => tracing::warn!(error = %error, "Consumer stream error."),
                        }
                    }
                    self.process_batch(session, deliveries).await;
                    if !session.publisher.status().connected() && !broken.is_cancelled() {
                        tracing::warn!("Publisher channel closed; renewing the broker session.");
                        broken.cancel();
                    }
                }
            });
        tokio::pin!(drain);
        // `for_each_concurrent` polls the consumer (and so `take_until`) only
        // while a batch slot is free: with every slot busy draining, the stop
        // would go unnoticed and the broker would go on handing this worker
        // events it cannot start. Cancelling here, at once, leaves them with
        // the broker for other workers; the consumer stream then ends. (What
        // the broker had already sent and no batch has taken stays unacked
        // until the channel closes after the drain, and then goes back.)
        let cancel_at_stop = async {
            broken.cancelled().await;
            if let Err(error) = channel
                .basic_cancel(&tag, BasicCancelOptions::default())
                .await
            {
                tracing::debug!(error = %error, "Cancelling the consumer failed.");
            }
            std::future::pending::<()>().await
        };
        tokio::select! {
            _ = &mut drain => {}
            _ = cancel_at_stop => {}
            _ = async {
                shutdown.cancelled().await;
                tokio::time::sleep(self.shutdown_timeout).await;
            } => {
                tracing::warn!("In-flight events did not finish in time; the broker will redeliver them.");
            }
        }
        self.metrics.broker_connected.set(0);
        let _ = channel.close(200, "worker stopping").await;
        let _ = session.publisher.close(200, "worker stopping").await;
        let _ = connection.close(200, "worker stopping").await;
        if shutdown.is_cancelled() {
            Ok(())
        } else {
            Err(lapin::Error::InvalidConnectionState(
                lapin::ConnectionState::Closed,
            ))
        }
    }

    /// Handles one event and settles it. Every path acks only after the
    /// effect (stored and published, retry scheduled, dead-lettered) is
    /// durable; if that fails the event's message is requeued, never dropped.
    pub(crate) async fn process(&self, session: &Session, delivery: Received) {
        if let Some(broken) = &delivery.broken {
            tracing::error!(error = %broken, "Unreadable pack; dead-lettering it whole.");
            let error = format!("permanent failure: {broken}");
            self.dead_letter(session, &delivery, None, &error).await;
            return;
        }
        let meta = match EventMeta::from_headers(delivery.properties.headers().as_ref()) {
            Ok(meta) => meta,
            Err(error) => {
                tracing::error!(error = %error, "Delivery without an Inlet envelope; dead-lettering it.");
                let error = format!("permanent failure: {error}");
                self.dead_letter(session, &delivery, None, &error).await;
                return;
            }
        };
        let span = crate::batch::event_span(&meta);
        self.process_event(session, delivery, meta)
            .instrument(span)
            .await;
    }

    async fn process_event(&self, session: &Session, delivery: Received, meta: EventMeta) {
        let started = Instant::now();
        match self.router.handle(&meta, &delivery.data).await {
            Ok(done) => {
                let stored = Stored {
                    delivery: &delivery,
                    meta: &meta,
                    done,
                };
                self.settle_all(session, vec![stored], started).await
            }
            Err(Failed { event_type, error })
                if error.is_transient() && !retry::exhausted(&self.topology, &meta) =>
            {
                let chain = error.chain();
                // Its audit row could not be written either, and trying would
                // wait out the pool's timeout once more.
                let audit = if error.is_database_unavailable() {
                    Audit::Skip
                } else {
                    Audit::Write
                };
                self.retry_later(session, &delivery, &meta, event_type, &chain, audit)
                    .await;
            }
            Err(Failed { event_type, error }) => {
                let chain = error.chain();
                tracing::error!(error = %chain, attempts = meta.attempt, "Event failed for good; dead-lettering.");
                let failed = Some((&meta, event_type));
                self.dead_letter(session, &delivery, failed, &chain).await;
            }
        }
    }

    /// Sends a passing failure to its delay queue and acks it once the broker
    /// has the retry; dead-letters it when it is out of retries. While the
    /// broker refuses the retry it is tried again in place; the delivery is
    /// requeued only when the session ends first.
    pub(crate) async fn retry_later(
        &self,
        session: &Session,
        delivery: &Received,
        meta: &EventMeta,
        event_type: &'static str,
        chain: &str,
        audit: Audit,
    ) {
        if audit == Audit::Write {
            self.audit_retry(meta, event_type, chain).await;
        }
        let scheduled = self
            .until_published(session, || {
                retry::schedule(
                    &session.publisher,
                    &self.topology,
                    meta,
                    &delivery.data,
                    &delivery.properties,
                    self.publish_timeout,
                )
            })
            .await;
        match scheduled {
            Ok(true) => {
                tracing::warn!(error = %chain, "Transient failure; retry scheduled.");
                self.retried(session, delivery, meta, event_type).await;
            }
            Ok(false) => {
                let failed = Some((meta, event_type));
                self.dead_letter(session, delivery, failed, chain).await;
            }
            Err(publish_error) => {
                tracing::warn!(error = %publish_error, "Cannot schedule a retry; requeueing.");
                self.requeue(session, delivery).await;
            }
        }
    }

    /// Announces the domain events of raw events stored together (on the
    /// domain exchange, as `INLET_DOMAIN_EVENTS` says; all of them as one
    /// message to forwarding), then acks and counts the raw events. If any
    /// publish fails, each raw event is retried like any passing failure,
    /// through its delay queue: storage absorbs the second pass, and its
    /// events go out again under the same ids. (Requeueing them at once
    /// looped as fast as the broker refused, and every loop counted towards
    /// the work queue's delivery limit, which moved them to the dead queue
    /// with no row to replay them from.)
    pub(crate) async fn settle_all(
        &self,
        session: &Session,
        stored: Vec<Stored<'_>>,
        started: Instant,
    ) {
        let outgoing: Result<Vec<Outgoing>, _> = stored
            .iter()
            .flat_map(|s| s.done.events.iter().map(|e| Outgoing::encode(s.meta, e)))
            .collect();
        let announced = match outgoing {
            Ok(outgoing) => {
                publish::announce(
                    &session.publisher,
                    &self.topology.domain_exchange(),
                    self.domain_events,
                    &deliveries_queue(&self.topology),
                    &outgoing,
                    self.publish_timeout,
                )
                .await
            }
            Err(error) => Err(error),
        };
        if let Err(error) = announced {
            let chain = format!("transient failure: cannot publish domain events: {error}");
            for s in &stored {
                self.retry_later(
                    session,
                    s.delivery,
                    s.meta,
                    s.done.event_type,
                    &chain,
                    Audit::Write,
                )
                .await;
            }
            return;
        }
        let deliveries: Vec<&Received> = stored.iter().map(|s| s.delivery).collect();
        self.ack(session, &deliveries).await;
        let m = &self.metrics;
        let now = chrono::Utc::now();
        for Stored { meta, done, .. } in &stored {
            m.events
                .with_label_values(&[
                    meta.provider.as_str(),
                    done.event_type,
                    done.outcome.as_str(),
                ])
                .inc();
            m.handler_duration
                .with_label_values(&[done.event_type])
                .observe(started.elapsed().as_secs_f64());
            let e2e = now - meta.received_at;
            m.end_to_end
                .observe(e2e.num_microseconds().unwrap_or(0) as f64 / 1e6);
            // The span is built only when the line is wanted: at info level
            // it would cost every event a span for nothing.
            if tracing::enabled!(tracing::Level::DEBUG) {
                crate::batch::event_span(meta).in_scope(|| {
                    tracing::debug!(
                        event_type = done.event_type,
                        outcome = done.outcome.as_str(),
                        stored = done.applied.stored,
                        "Event handled."
                    )
                });
            }
        }
    }

    /// Settles events: acks each plain message, and each pack whose last
    /// event this is (or requeues it, when one of its events was requeued).
    pub(crate) async fn ack(&self, session: &Session, events: &[&Received]) {
        let mut tags = Vec::with_capacity(events.len());
        for event in events {
            match event.settle() {
                Settlement::Ack(tag) => tags.push(tag),
                Settlement::Requeue(tag) => self.nack(session, tag).await,
                Settlement::Pending => {}
            }
        }
        if let Err(error) = session.acks.ack(&tags).await {
            // The channel is gone: the broker redelivers, idempotency absorbs it.
            tracing::warn!(error = %error, "Ack failed; the events will be redelivered.");
        }
    }

    /// Hands an event back to the broker for redelivery: its message, once
    /// the rest of its pack is settled.
    pub(crate) async fn requeue(&self, session: &Session, event: &Received) {
        if let Settlement::Requeue(tag) = event.unsettle() {
            self.nack(session, tag).await;
        }
    }

    async fn nack(&self, session: &Session, tag: lapin::types::DeliveryTag) {
        if let Err(error) = session.acks.requeue(tag).await {
            tracing::warn!(error = %error, "Nack failed; the event will be redelivered.");
        }
    }
}
