//! Delivery states: every reported state kept, the message's own state moved
//! forward only, in one statement per batch.

use super::RepoError;
use crate::event::StatusUpdate;
use crate::provider::Provider;
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use serde_json::Value;

// The insert keeps the history, one row per message and state; the update
// raises `messages.status` only to a higher rank, so `delivered` after `read`
// leaves `read`. Several reports of one state (a group message read by each
// participant; a copy of a report) keep the earliest, in any order: the
// history row and the message's `status_at` both move only to an earlier
// report (ties: the smaller recipient), so the first report to arrive does
// not decide. A report of the state the message already has gives it its
// time when it has none (a message stored with its state, as OpenPhone's
// `message.delivered` is, then its report). A status whose message is not
// stored yet updates nothing here and is applied by the message insert later.
const STORE_STATUSES: &str = "
WITH input AS (
    SELECT * FROM UNNEST($2::text[], $3::text[], $4::int2[], $5::timestamptz[], $6::text[],
                         $7::jsonb[], $8::jsonb[], $9::jsonb[])
           AS t(id, state, rank, occurred_at, recipient, errors, billing, raw)
), history AS (
    INSERT INTO message_statuses (provider, provider_message_id, state, rank, occurred_at,
                                  recipient, errors, billing, raw)
    SELECT DISTINCT ON (id, state) $1, id, state, rank, occurred_at, recipient, errors,
           billing, raw
      FROM input ORDER BY id, state, occurred_at, COALESCE(recipient, '')
    ON CONFLICT (provider, provider_message_id, state) DO UPDATE
       SET occurred_at = EXCLUDED.occurred_at, recipient = EXCLUDED.recipient,
           errors = EXCLUDED.errors, billing = EXCLUDED.billing, raw = EXCLUDED.raw
     WHERE (EXCLUDED.occurred_at, COALESCE(EXCLUDED.recipient, ''))
         < (message_statuses.occurred_at, COALESCE(message_statuses.recipient, ''))
)
UPDATE messages m
   SET status = best.state, status_rank = best.rank, status_at = best.occurred_at
  FROM (SELECT DISTINCT ON (id) id, state, rank, occurred_at
          FROM input ORDER BY id, rank DESC, occurred_at) AS best
 WHERE m.provider = $1 AND m.provider_message_id = best.id
   AND (m.status_rank < best.rank
        OR (m.status_rank = best.rank
            AND (m.status_at IS NULL OR best.occurred_at < m.status_at)))";

/// Stores a batch of status updates in one statement; returns how many
/// stored messages changed state.
pub async fn store_statuses(
    tx: &Transaction<'_>,
    provider: Provider,
    statuses: &[&StatusUpdate],
) -> Result<u64, RepoError> {
    if statuses.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = statuses
        .iter()
        .map(|s| s.provider_message_id.as_str())
        .collect();
    let states: Vec<&str> = statuses.iter().map(|s| s.state.as_str()).collect();
    let ranks: Vec<i16> = statuses.iter().map(|s| s.state.rank()).collect();
    let times: Vec<DateTime<Utc>> = statuses.iter().map(|s| s.occurred_at).collect();
    let recipients: Vec<Option<&str>> = statuses.iter().map(|s| s.recipient.as_deref()).collect();
    let errors: Vec<Option<&Value>> = statuses.iter().map(|s| s.errors.as_ref()).collect();
    let billing: Vec<Option<&Value>> = statuses.iter().map(|s| s.billing.as_ref()).collect();
    let raws: Vec<&Value> = statuses.iter().map(|s| &s.raw).collect();
    let stmt = tx.prepare_cached(STORE_STATUSES).await?;
    let changed = tx
        .execute(
            &stmt,
            &[
                &provider.as_str(),
                &ids,
                &states,
                &ranks,
                &times,
                &recipients,
                &errors,
                &billing,
                &raws,
            ],
        )
        .await?;
    Ok(changed)
}
