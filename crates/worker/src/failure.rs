//! The consumer's failure paths: the audit row of a retry, and the dead
//! letter (database row, then dead queue, then ack).

use crate::consumer::{Consumer, Session};
use crate::received::Received;
use crate::{dead_letters, headers, retry};
use inlet_domain::envelope::EventMeta;
use inlet_domain::repository::audit::{record_event, Outcome};

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
    /// queue, then acks. If the database is down the dead queue alone holds
    /// it (it carries the raw body, headers and error); if the broker refuses
    /// it the delivery is requeued, never acked.
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
            Err(e) => tracing::error!(
                error = %e,
                "Cannot record the dead letter in the database; the dead queue holds it."
            ),
        }
        match retry::dead_letter(
            &session.publisher,
            &self.topology,
            &delivery.data,
            &delivery.properties,
            error,
            self.publish_timeout,
        )
        .await
        {
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
}
