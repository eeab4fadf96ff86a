//! The sender's side: claiming due deliveries and recording each attempt.
//!
//! Waiting retries are rows with a `next_attempt_at`, so they survive a
//! restart; several workers share the due rows through `FOR UPDATE SKIP
//! LOCKED`, and a claim is a lease: if its worker dies, the row becomes due
//! again when the lease ends.

use crate::repository::text::storable;
use crate::repository::RepoError;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

// The claim reads the endpoints that have deliveries waiting, not the due
// rows: a skip scan of the index on (endpoint_id, next_attempt_at) finds each
// such endpoint in one probe (`active`); for each enabled one, the same index
// yields its oldest due deliveries, at most `$2` in flight per endpoint
// (counting unexpired claims of any worker), so one slow endpoint cannot fill
// the batch; then the oldest `$1` of those. Its cost grows with the number of
// endpoints that have deliveries waiting, not with the backlog nor with idle
// endpoints: ranking every due row, as it once did, took 238 ms a claim behind
// 300,000 waiting deliveries (those of disabled endpoints too), and the sender
// slowed as its backlog grew; walking every enabled endpoint took 10 ms with
// 2,000 of them and almost nothing due. The due condition is repeated in the
// locking subquery because PostgreSQL re-checks it there against rows
// another worker claimed meanwhile.
const CLAIM_DUE: &str = "
WITH RECURSIVE active (endpoint_id) AS (
    (SELECT endpoint_id FROM forward_deliveries
      WHERE status IN ('pending', 'retrying', 'sending')
      ORDER BY endpoint_id LIMIT 1)
    UNION ALL
    SELECT (SELECT d.endpoint_id FROM forward_deliveries d
             WHERE d.status IN ('pending', 'retrying', 'sending')
               AND d.endpoint_id > a.endpoint_id
             ORDER BY d.endpoint_id LIMIT 1)
      FROM active a WHERE a.endpoint_id IS NOT NULL
), candidates AS (
    SELECT c.id FROM active a
    JOIN forward_endpoints e ON e.id = a.endpoint_id AND e.enabled
    CROSS JOIN LATERAL (
        SELECT count(*) AS n FROM forward_deliveries s
        WHERE s.endpoint_id = e.id AND s.status = 'sending' AND s.lease_until > now()
    ) busy
    CROSS JOIN LATERAL (
        SELECT d.id, d.next_attempt_at,
               row_number() OVER (ORDER BY d.next_attempt_at, d.id) AS slot
        FROM forward_deliveries d
        WHERE d.endpoint_id = e.id
          AND d.status IN ('pending', 'retrying', 'sending') AND d.next_attempt_at <= now()
          AND (d.status <> 'sending' OR d.lease_until <= now())
        ORDER BY d.next_attempt_at, d.id
        LIMIT $2
    ) c
    WHERE c.slot + busy.n <= $2
    ORDER BY c.next_attempt_at
    LIMIT $1
)
UPDATE forward_deliveries d
   SET status = 'sending', lease_until = now() + make_interval(secs => $3), updated_at = now()
  FROM forward_endpoints e
 WHERE e.id = d.endpoint_id
   AND d.id IN (SELECT f.id FROM forward_deliveries f
                WHERE f.id IN (SELECT id FROM candidates)
                  AND f.next_attempt_at <= now()
                  AND (f.status IN ('pending', 'retrying') OR f.lease_until <= now())
                FOR UPDATE SKIP LOCKED)
RETURNING d.id, d.endpoint_id, d.event_id, d.payload, d.attempts, d.max_attempts, e.url,
          e.secret, CASE WHEN e.previous_secret_until > now() THEN e.previous_secret END,
          d.lease_until,
          ARRAY(SELECT k->>'secret' FROM jsonb_array_elements(e.older_secrets) k
                 WHERE (k->>'until')::timestamptz > now())";

// Only the claim the attempt was made under moves the delivery on (its lease
// is the claim's token). A worker whose lease ran out while it was sending (a
// stalled database, say) may record its attempt after another worker has
// claimed the delivery again, or delivered it; its attempt is logged, but it
// must not end the other worker's live claim (letting a third one send too),
// send a delivered event back to `retrying`, or move `attempts` backwards. A
// success is a fact whichever claim saw it: it ends the delivery (and a later
// record of the other claim then finds its lease gone).
const UPDATE_DELIVERY: &str = "
UPDATE forward_deliveries
   SET status = $2, attempts = GREATEST(attempts, $3), next_attempt_at = $4, lease_until = NULL,
       last_status_code = $5, last_error = $6, updated_at = now()
 WHERE id = $1 AND status <> 'delivered' AND (lease_until = $7 OR $2 = 'delivered')";

const INSERT_ATTEMPT: &str = "
INSERT INTO forward_delivery_attempts (delivery_id, attempt, attempted_at, status_code,
                                       response_body, error, duration_ms, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

const ENDPOINT_SUCCEEDED: &str = "
UPDATE forward_endpoints SET failing_since = NULL, last_failed_at = NULL
 WHERE id = $1 AND failing_since IS NOT NULL";

// A streak is continuous only if no gap between two of its failures is longer
// than $3 (the worker's `streak_gap`): after a longer quiet spell (an endpoint
// that had nothing to receive), a failure starts a new streak. GREATEST:
// attempts may be recorded out of order.
const ENDPOINT_FAILED: &str = "
UPDATE forward_endpoints
   SET failing_since = CASE
           WHEN failing_since IS NULL OR last_failed_at IS NULL
             OR last_failed_at < $2::timestamptz - make_interval(secs => $3) THEN $2::timestamptz
           ELSE failing_since END,
       last_failed_at = GREATEST(last_failed_at, $2::timestamptz)
 WHERE id = $1";

const DISABLE_IF_FAILING_TOO_LONG: &str = "
UPDATE forward_endpoints
   SET enabled = false, disabled_at = now(), updated_at = now(),
       disabled_reason = 'failing continuously since ' || to_char(failing_since AT TIME ZONE 'UTC',
                         'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || '; last error: ' || $3
 WHERE id = $1 AND enabled AND failing_since <= now() - make_interval(secs => $2)
RETURNING id";

/// How much one claim may take.
#[derive(Clone, Copy, Debug)]
pub struct ClaimLimits {
    /// Deliveries per claim.
    pub batch: i64,
    /// Deliveries in flight per endpoint, across workers.
    pub per_endpoint: i64,
    /// How long a claim lasts before another worker may take the delivery over.
    pub lease: Duration,
}

/// A claimed delivery, with what sending it needs.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The delivery.
    pub id: Uuid,
    /// Its endpoint.
    pub endpoint_id: Uuid,
    /// The event id (`webhook-id`).
    pub event_id: String,
    /// The body.
    pub payload: Value,
    /// Attempts made before this one.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Where to send it.
    pub url: String,
    /// The endpoint's current secret.
    pub secret: String,
    /// The rotated-out secret while its grace period lasts.
    pub previous_secret: Option<String>,
    /// When this claim's lease ends: the claim's token when its attempt is recorded.
    pub lease_until: DateTime<Utc>,
    /// Secrets rotated out before the previous one, still in their grace periods.
    pub older_secrets: Vec<String>,
}

/// Claims due deliveries of enabled endpoints.
pub async fn claim_due(
    client: &mut deadpool_postgres::Client,
    limits: ClaimLimits,
) -> Result<Vec<Claimed>, RepoError> {
    let tx = client.transaction().await?;
    // The planner cannot know how few rows each endpoint's lateral scans
    // yield: with enough endpoints its estimate passes `jit_above_cost`, and
    // compiling the plan (200 ms or more, as measured with 2,000 endpoints)
    // takes far longer than running it.
    tx.batch_execute("SET LOCAL jit = off").await?;
    let stmt = tx.prepare_cached(CLAIM_DUE).await?;
    let lease = limits.lease.as_secs_f64();
    let rows = tx
        .query(&stmt, &[&limits.batch, &limits.per_endpoint, &lease])
        .await?;
    tx.commit().await?;
    Ok(rows
        .iter()
        .map(|r| Claimed {
            id: r.get(0),
            endpoint_id: r.get(1),
            event_id: r.get(2),
            payload: r.get(3),
            attempts: r.get(4),
            max_attempts: r.get(5),
            url: r.get(6),
            secret: r.get(7),
            previous_secret: r.get(8),
            lease_until: r.get(9),
            older_secrets: r.get(10),
        })
        .collect())
}

/// What an attempt decided for its delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: done.
    Delivered,
    /// Worth another try at this time.
    Retry(DateTime<Utc>),
    /// Final failure (a 4xx, or no attempts left).
    Failed,
}

impl Verdict {
    fn status(self) -> &'static str {
        match self {
            Verdict::Delivered => "delivered",
            Verdict::Retry(_) => "retrying",
            Verdict::Failed => "failed",
        }
    }
}

/// One attempt's facts.
#[derive(Clone, Debug)]
pub struct AttemptRecord<'a> {
    /// The delivery.
    pub delivery_id: Uuid,
    /// The lease of the claim the attempt was made under ([`Claimed::lease_until`]).
    pub lease_until: DateTime<Utc>,
    /// Its endpoint.
    pub endpoint_id: Uuid,
    /// 1 for the first attempt.
    pub attempt: i32,
    /// When it started.
    pub attempted_at: DateTime<Utc>,
    /// The answer's status, if any.
    pub status_code: Option<i32>,
    /// A bounded slice of the answer (a NUL is stored as U+FFFD).
    pub response_body: Option<&'a str>,
    /// The transport error or a short description of the failure (likewise).
    pub error: Option<&'a str>,
    /// How long it took.
    pub duration_ms: i32,
    /// What happens next.
    pub verdict: Verdict,
    /// An endpoint failing continuously this long is disabled.
    pub disable_after: Duration,
    /// A failure this long after the previous one starts a new streak.
    pub streak_gap: Duration,
}

/// Logs an attempt, moves the delivery on and keeps the endpoint's failure
/// streak; returns `true` when this attempt got the endpoint disabled.
pub async fn record_attempt(
    tx: &Transaction<'_>,
    rec: &AttemptRecord<'_>,
) -> Result<bool, RepoError> {
    let next = match rec.verdict {
        Verdict::Retry(at) => Some(at),
        _ => None,
    };
    // Both come from the endpoint's side; a NUL in either would fail the
    // transaction, leave the delivery `sending` and have it sent again.
    let response_body = rec.response_body.map(storable);
    let error = rec.error.map(storable);
    let stmt = tx.prepare_cached(INSERT_ATTEMPT).await?;
    tx.execute(
        &stmt,
        &[
            &rec.delivery_id,
            &rec.attempt,
            &rec.attempted_at,
            &rec.status_code,
            &response_body.as_deref(),
            &error.as_deref(),
            &rec.duration_ms,
            &next,
        ],
    )
    .await?;
    let stmt = tx.prepare_cached(UPDATE_DELIVERY).await?;
    tx.execute(
        &stmt,
        &[
            &rec.delivery_id,
            &rec.verdict.status(),
            &rec.attempt,
            &next,
            &rec.status_code,
            &error.as_deref(),
            &rec.lease_until,
        ],
    )
    .await?;
    if rec.verdict == Verdict::Delivered {
        let stmt = tx.prepare_cached(ENDPOINT_SUCCEEDED).await?;
        tx.execute(&stmt, &[&rec.endpoint_id]).await?;
        return Ok(false);
    }
    let gap = rec.streak_gap.as_secs_f64();
    let stmt = tx.prepare_cached(ENDPOINT_FAILED).await?;
    tx.execute(&stmt, &[&rec.endpoint_id, &rec.attempted_at, &gap])
        .await?;
    let stmt = tx.prepare_cached(DISABLE_IF_FAILING_TOO_LONG).await?;
    let reason = error.as_deref().unwrap_or("unknown");
    let after = rec.disable_after.as_secs_f64();
    let disabled = tx
        .query_opt(&stmt, &[&rec.endpoint_id, &after, &reason])
        .await?;
    Ok(disabled.is_some())
}
