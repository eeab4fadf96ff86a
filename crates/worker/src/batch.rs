//! Micro-batching: the deliveries a consumer has received together are
//! stored in one transaction (one commit, a handful of set-based statements)
//! instead of one each.
//!
//! Only the happy path is batched. A delivery that cannot be decoded takes
//! the one-event path (and its dead letter) on its own; if the batch's
//! transaction fails, every event in it takes the one-event path, so retries,
//! dead letters, attempts and audit rows are exactly those of a lone event and
//! one poison event cannot take its neighbours down.

use crate::consumer::{Audit, Consumer, Session, Stored};
use crate::failure::Held;
use crate::received::Received;
use crate::retry;
use crate::router::{Decoded, Processed};
use futures::stream::{BoxStream, Stream, StreamExt};
use inlet_domain::envelope::EventMeta;
use std::time::Instant;

impl Consumer {
    /// How many batches may be in flight at once: enough to fill the
    /// prefetch window with full batches, and at least two so that one batch
    /// is stored while another is published and acked.
    pub(crate) fn batches_in_flight(&self) -> usize {
        usize::from(self.prefetch)
            .div_ceil(self.batch_size.max(1))
            .max(2)
    }

    /// Groups the deliveries into batches: up to the batch size, waiting at
    /// most the linger after a batch's first delivery for the rest.
    pub(crate) fn batches<S>(&self, deliveries: S) -> BoxStream<'static, Vec<S::Item>>
    where
        S: Stream + Send + 'static,
        S::Item: Send,
    {
        if self.batch_linger.is_zero() {
            deliveries.ready_chunks(self.batch_size).boxed()
        } else {
            tokio_stream::StreamExt::chunks_timeout(deliveries, self.batch_size, self.batch_linger)
                .boxed()
        }
    }

    /// Stores, publishes and settles the deliveries received together.
    pub(crate) async fn process_batch(&self, session: &Session, deliveries: Vec<Received>) {
        if deliveries.len() <= 1 {
            for delivery in deliveries {
                self.process(session, delivery).await;
            }
            return;
        }
        let started = Instant::now();
        let mut batch: Vec<(Received, EventMeta, Decoded)> = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let decoded = EventMeta::from_headers(delivery.properties.headers().as_ref())
                .ok()
                .and_then(|meta| {
                    let decoded = self.router.decode(&meta, &delivery.data).ok()?;
                    Some((meta, decoded))
                });
            match decoded {
                Some((meta, decoded)) => batch.push((delivery, meta, decoded)),
                // The one-event path fails it again and dead-letters it as ever.
                None => self.process(session, delivery).await,
            }
        }
        if batch.is_empty() {
            return;
        }
        let items: Vec<(&EventMeta, &Decoded)> = batch.iter().map(|(_, m, d)| (m, d)).collect();
        let stored = self.router.store_all(&items).await;
        drop(items);
        match stored {
            Ok(stored) => {
                let (held, decoded): (Vec<(Received, EventMeta)>, Vec<Decoded>) =
                    batch.into_iter().map(|(d, m, x)| ((d, m), x)).unzip();
                let stored = held
                    .iter()
                    .zip(decoded)
                    .zip(stored)
                    .map(|(((delivery, meta), decoded), (outcome, applied))| Stored {
                        delivery,
                        meta,
                        done: Processed {
                            event_type: decoded.event_type,
                            outcome,
                            applied,
                            events: decoded.events,
                        },
                    })
                    .collect();
                self.settle_all(session, stored, started).await;
            }
            Err(error) if error.is_database_unavailable() => {
                // Handling each event again would wait out the pool's timeout
                // once per event (and once more for its audit row) against a
                // database that cannot be had: a batch of 64 held its
                // deliveries for minutes. Each goes to its delay queue now.
                let chain = error.chain();
                tracing::warn!(
                    error = %chain,
                    events = batch.len(),
                    "Database unavailable; the batch's events are retried later."
                );
                for (delivery, meta, decoded) in &batch {
                    let event_type = decoded.event_type;
                    if !retry::exhausted(&self.topology, meta) {
                        self.retry_later(session, delivery, meta, event_type, &chain, Audit::Skip)
                            .await;
                        continue;
                    }
                    // Out of retries: its dead letter could not be recorded
                    // now either, so it is held for when the database is back.
                    match self.hold(session, delivery, meta, event_type).await {
                        Held::Yes => {}
                        Held::Refused => self.requeue(session, delivery).await,
                        Held::NoDelayQueues => {
                            let failed = Some((meta, event_type));
                            self.dead_letter(session, delivery, failed, &chain).await;
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(
                    error = %error.chain(),
                    events = batch.len(),
                    "Cannot store the batch; handling its events one at a time."
                );
                for (delivery, _, _) in batch {
                    self.process(session, delivery).await;
                }
            }
        }
    }
}

/// The span every log line about one event carries.
pub(crate) fn event_span(meta: &EventMeta) -> tracing::Span {
    tracing::info_span!(
        "event",
        correlation_id = %meta.correlation_id,
        provider = %meta.provider,
        attempt = meta.attempt
    )
}
