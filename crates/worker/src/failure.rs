//! The consumer's failure paths: the audit row of a retry, and the dead
//! letter (database row, then dead queue, then ack).

use crate::consumer::{Consumer, Session};
use crate::received::Received;
use crate::{dead_letters, headers, retry};
use inlet_domain::broker::PublishError;
use inlet_domain::envelope::EventMeta;
use inlet_domain::repository::audit::{record_event, Outcome};
use inlet_domain::supervise::reconnect_delay;
use std::future::Future;

/// What became of an event to be held in the last delay queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Held {
    /// The broker has it there, and the delivery is acked.
    Yes,
    /// There are no delay queues to hold it in; the delivery is untouched.
    NoDelayQueues,
    /// The broker did not take it before the session ended; untouched.
    Refused,
}

/// Consecutive unroutable publishes after which the broker session is renewed:
/// an exchange, queue or binding of the topology is missing, and only a new
/// session declares it again.
const UNROUTABLE_BEFORE_RENEWING: u32 = 5;

impl Consumer {
    /// Marks the audit row `retrying` with the attempt and the error, in a
    /// statement of its own. If the database itself is what failed this
    /// fails too; the retry is scheduled anyway.
    pub(crate) async fn audit_retry(&self, meta: &EventMeta, event_type: &str, error: &str) {
        let result = async {
            let client = self.router.repository().client().await?;
            record_event(&client, meta, event_type, Outcome::Retrying, Some(error)).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "Cannot record the retry in the audit trail.");
        }
    }

    /// Records the dead letter in the database, then publishes it to the dead
    /// queue, then acks. If the database cannot take the row for a passing
    /// reason (it is down, or read-only in a failover), the event goes back to
    /// the last delay queue instead, to be tried again once the database is
    /// back; only an event that cannot be held (no envelope, no delay queues)
    /// goes to the dead queue alone, which carries the raw body, headers and
    /// error. If the broker refuses it the delivery is requeued, never acked.
    pub(crate) async fn dead_letter(
        &self,
        session: &Session,
        delivery: &Received,
        failed: Option<(&EventMeta, &'static str)>,
        error: &str,
    ) {
        let meta = failed.map(|(m, _)| m);
        let event_type = failed.map_or("unknown", |(_, t)| t);
        let provider = meta.map_or("unknown", |m| m.provider.as_str());
        let headers = headers::to_json(delivery.properties.headers().as_ref());
        let failure = dead_letters::Failure {
            meta,
            event_type,
            body: &delivery.data,
            headers: &headers,
            error,
        };
        match dead_letters::record(self.router.repository(), &failure).await {
            Ok(id) => tracing::info!(dead_letter = id, "Dead letter recorded."),
            Err(e) => {
                let passing = e.is_transient();
                tracing::error!(
                    error = %e,
                    "Cannot record the dead letter in the database."
                );
                if let (true, Some((meta, event_type))) = (passing, failed) {
                    match self.hold(session, delivery, meta, event_type).await {
                        Held::Yes => return,
                        // Not the dead queue without a row: back to the
                        // work queue, to be tried again.
                        Held::Refused => {
                            self.requeue(session, delivery).await;
                            return;
                        }
                        Held::NoDelayQueues => {}
                    }
                }
            }
        }
        let published = self
            .until_published(session, || {
                retry::dead_letter(
                    &session.publisher,
                    &self.topology,
                    &delivery.data,
                    &delivery.properties,
                    error,
                    self.publish_timeout,
                )
            })
            .await;
        match published {
            Ok(()) => {
                self.metrics
                    .dead_letters
                    .with_label_values(&[provider])
                    .inc();
                self.metrics
                    .events
                    .with_label_values(&[provider, event_type, "dead"])
                    .inc();
                self.ack(session, &[delivery]).await;
            }
            Err(error) => {
                tracing::warn!(error = %error, "Cannot dead-letter; requeueing.");
                self.requeue(session, delivery).await;
            }
        }
    }

    /// Puts an event whose dead letter the database could not take (or that
    /// is out of retries while the database cannot be had) back in the last
    /// delay queue, and acks it.
    pub(crate) async fn hold(
        &self,
        session: &Session,
        delivery: &Received,
        meta: &EventMeta,
        event_type: &'static str,
    ) -> Held {
        let held = self
            .until_published(session, || {
                retry::hold(
                    &session.publisher,
                    &self.topology,
                    meta,
                    &delivery.data,
                    &delivery.properties,
                    self.publish_timeout,
                )
            })
            .await;
        match held {
            Ok(true) => {
                tracing::warn!(
                    "Holding the event in the last delay queue until the database is back."
                );
                self.retried(session, delivery, meta, event_type).await;
                Held::Yes
            }
            Ok(false) => Held::NoDelayQueues,
            Err(error) => {
                tracing::warn!(error = %error, "Cannot hold the event in a delay queue.");
                Held::Refused
            }
        }
    }

    /// Counts an event whose retry the broker has taken, and acks it.
    pub(crate) async fn retried(
        &self,
        session: &Session,
        delivery: &Received,
        meta: &EventMeta,
        event_type: &'static str,
    ) {
        let provider = meta.provider.as_str();
        self.metrics.retries.with_label_values(&[provider]).inc();
        self.metrics
            .events
            .with_label_values(&[provider, event_type, "retried"])
            .inc();
        self.ack(session, &[delivery]).await;
    }

    /// Runs `publish` until the broker confirms it, waiting with backoff
    /// between refusals while the session lasts. (Requeueing the delivery at
    /// once looped as fast as the broker refused, and each loop counted
    /// towards the work queue's delivery limit, past which the broker moves
    /// the event to the dead queue with no row.) Gives up with the last error
    /// once the session ends: shutdown, or its publisher channel closed; and
    /// ends the session itself when publishes keep coming back unroutable
    /// (part of the topology is gone, and a new session declares it again).
    pub(crate) async fn until_published<T, F, Fut>(
        &self,
        session: &Session,
        mut publish: F,
    ) -> Result<T, PublishError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PublishError>>,
    {
        let mut failures: u32 = 0;
        loop {
            let error = match publish().await {
                Ok(done) => return Ok(done),
                Err(error) => error,
            };
            if session.ending.is_cancelled() || !session.publisher.status().connected() {
                return Err(error);
            }
            failures = failures.saturating_add(1);
            if matches!(error, PublishError::Unroutable) && failures >= UNROUTABLE_BEFORE_RENEWING {
                tracing::warn!(error = %error, "Publishes keep coming back unroutable; renewing the broker session to declare the topology again.");
                session.ending.cancel();
                return Err(error);
            }
            let delay = reconnect_delay(failures);
            tracing::warn!(
                error = %error,
                retry_in_ms = delay.as_millis() as u64,
                "The broker refused a publish; trying again."
            );
            tokio::select! {
                _ = session.ending.cancelled() => return Err(error),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}
