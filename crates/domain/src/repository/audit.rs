//! The `webhook_events` audit trail: one row per raw event the worker took in.

use super::RepoError;
use crate::envelope::EventMeta;
use deadpool_postgres::GenericClient;

const RECORD_EVENT: &str = "
INSERT INTO webhook_events (provider, line_id, dedup_key, correlation_id, event_type,
                            received_at, processed_at, outcome, attempts, last_error)
VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 IN ('processed', 'ignored') THEN now() END,
        $7, $8, $9)
ON CONFLICT (provider, dedup_key) DO UPDATE
   SET event_type = EXCLUDED.event_type,
       processed_at = COALESCE(EXCLUDED.processed_at, webhook_events.processed_at),
       outcome = CASE WHEN webhook_events.outcome = 'processed' THEN 'processed'
                      ELSE EXCLUDED.outcome END,
       attempts = GREATEST(webhook_events.attempts, EXCLUDED.attempts),
       last_error = COALESCE(EXCLUDED.last_error, webhook_events.last_error)";

/// How handling a raw event ended (so far).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its effects are stored.
    Processed,
    /// Understood, but nothing to store.
    Ignored,
    /// Failed for a passing reason; a retry is scheduled.
    Retrying,
    /// Set aside in the dead letters.
    Dead,
}

impl Outcome {
    /// The name stored in `webhook_events.outcome` and used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Processed => "processed",
            Outcome::Ignored => "ignored",
            Outcome::Retrying => "retrying",
            Outcome::Dead => "dead",
        }
    }
}

/// Records (or updates) the audit row of a raw event. A row already
/// `processed` stays so: a late redelivery does not rewrite history.
pub async fn record_event<C: GenericClient>(
    client: &C,
    meta: &EventMeta,
    event_type: &str,
    outcome: Outcome,
    last_error: Option<&str>,
) -> Result<(), RepoError> {
    let stmt = client.prepare_cached(RECORD_EVENT).await?;
    let attempts = i32::try_from(meta.attempt).unwrap_or(i32::MAX);
    client
        .execute(
            &stmt,
            &[
                &meta.provider.as_str(),
                &meta.line,
                &meta.dedup_key,
                &meta.correlation_id,
                &event_type,
                &meta.received_at,
                &outcome.as_str(),
                &attempts,
                &last_error,
            ],
        )
        .await?;
    Ok(())
}
