//! The `webhook_events` audit trail: one row per raw event the worker took in.

use super::RepoError;
use crate::envelope::EventMeta;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use std::collections::HashMap;

// Many raw events at once (a worker batch, or one), in one statement. A row
// already `processed` stays so, with the time it was first processed (an
// `ignored` one with the time it was first ignored, until a later version
// processes it): a late redelivery does not rewrite history. Rows go in key
// order, so two workers recording the same events at once (a redelivery
// while the first still stores) never wait for each other both ways.
const RECORD_EVENTS: &str = "
INSERT INTO webhook_events (provider, line_id, dedup_key, correlation_id, event_type,
                            received_at, processed_at, outcome, attempts, last_error)
SELECT t.provider, t.line_id, t.dedup_key, t.correlation_id, t.event_type, t.received_at,
       CASE WHEN t.outcome IN ('processed', 'ignored') THEN now() END, t.outcome, t.attempts,
       t.last_error
FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
            $7::text[], $8::int4[], $9::text[])
     AS t(provider, line_id, dedup_key, correlation_id, event_type, received_at, outcome,
          attempts, last_error)
ORDER BY t.provider, t.dedup_key
ON CONFLICT (provider, dedup_key) DO UPDATE
   SET event_type = EXCLUDED.event_type,
       processed_at = CASE WHEN webhook_events.outcome = 'processed'
                                THEN webhook_events.processed_at
                           WHEN EXCLUDED.outcome = 'processed' THEN EXCLUDED.processed_at
                           ELSE COALESCE(webhook_events.processed_at, EXCLUDED.processed_at) END,
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
    let row = Audited {
        meta,
        event_type,
        outcome,
        last_error,
    };
    record_events(client, &[row]).await
}

/// One raw event's audit facts, for [`record_events`].
#[derive(Clone, Copy, Debug)]
pub struct Audited<'a> {
    /// The raw event's envelope.
    pub meta: &'a EventMeta,
    /// Its event type label.
    pub event_type: &'a str,
    /// How handling it ended.
    pub outcome: Outcome,
    /// Why it failed, when it did.
    pub last_error: Option<&'a str>,
}

/// Records (or updates) the audit rows of many raw events in one statement.
/// Copies of one raw event in the batch (a redelivery next to the original)
/// make one row: the best outcome, the highest attempt, the first error.
pub async fn record_events<C: GenericClient>(
    client: &C,
    rows: &[Audited<'_>],
) -> Result<(), RepoError> {
    if rows.is_empty() {
        return Ok(());
    }
    // Postgres refuses to upsert one row twice in a statement.
    let mut unique: Vec<Audited<'_>> = Vec::with_capacity(rows.len());
    let mut seen: HashMap<(&str, &str), usize> = HashMap::with_capacity(rows.len());
    for row in rows {
        let key = (row.meta.provider.as_str(), row.meta.dedup_key.as_str());
        match seen.get(&key) {
            Some(&i) => {
                let kept = &mut unique[i];
                if row.outcome == Outcome::Processed {
                    kept.outcome = Outcome::Processed;
                }
                if row.meta.attempt > kept.meta.attempt {
                    kept.meta = row.meta;
                }
                kept.last_error = kept.last_error.or(row.last_error);
            }
            None => {
                seen.insert(key, unique.len());
                unique.push(*row);
            }
        }
    }
    let n = unique.len();
    let mut providers = Vec::with_capacity(n);
    let mut lines = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    let mut correlations = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    let mut received: Vec<DateTime<Utc>> = Vec::with_capacity(n);
    let mut outcomes = Vec::with_capacity(n);
    let mut attempts: Vec<i32> = Vec::with_capacity(n);
    let mut errors = Vec::with_capacity(n);
    for row in &unique {
        let meta = row.meta;
        providers.push(meta.provider.as_str());
        lines.push(meta.line.as_deref());
        keys.push(meta.dedup_key.as_str());
        correlations.push(meta.correlation_id.as_str());
        types.push(row.event_type);
        received.push(meta.received_at);
        outcomes.push(row.outcome.as_str());
        attempts.push(i32::try_from(meta.attempt).unwrap_or(i32::MAX));
        errors.push(row.last_error);
    }
    let stmt = client.prepare_cached(RECORD_EVENTS).await?;
    client
        .execute(
            &stmt,
            &[
                &providers,
                &lines,
                &keys,
                &correlations,
                &types,
                &received,
                &outcomes,
                &attempts,
                &errors,
            ],
        )
        .await?;
    Ok(())
}
