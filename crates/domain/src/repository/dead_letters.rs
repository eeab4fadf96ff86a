//! The `dead_letters` table: events set aside for an operator, raw body kept.

use super::RepoError;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;

// A redelivery of an event that is already dead (its ack was lost) updates
// the open row instead of adding a second one.
const RECORD: &str = "
INSERT INTO dead_letters (provider, line_id, dedup_key, correlation_id, body, headers, error,
                          attempts)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (provider, dedup_key) WHERE state = 'dead' DO UPDATE
   SET error = EXCLUDED.error,
       headers = EXCLUDED.headers,
       attempts = GREATEST(dead_letters.attempts, EXCLUDED.attempts),
       last_failed_at = now()
RETURNING id";

const COLUMNS: &str = "id, provider, line_id, dedup_key, correlation_id, body, headers, error, \
                       attempts, first_failed_at, last_failed_at, state, replayed_at";

const MARK_REPLAYED: &str =
    "UPDATE dead_letters SET state = 'replayed', replayed_at = now() WHERE id = $1 AND state = 'dead'";

/// A dead letter about to be recorded.
#[derive(Debug, Clone)]
pub struct NewDeadLetter<'a> {
    /// The provider header, or `unknown` for a delivery without an envelope.
    pub provider: &'a str,
    /// The line header.
    pub line_id: Option<&'a str>,
    /// The dedup key header.
    pub dedup_key: Option<&'a str>,
    /// The correlation id header.
    pub correlation_id: Option<&'a str>,
    /// The raw body, byte for byte.
    pub body: &'a [u8],
    /// The AMQP headers as JSON.
    pub headers: &'a Value,
    /// The whole error chain.
    pub error: &'a str,
    /// Attempts made.
    pub attempts: i32,
}

/// A stored dead letter.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// Row id (what operators pass to `show` and `replay`).
    pub id: i64,
    /// Provider name.
    pub provider: String,
    /// Line, when known.
    pub line_id: Option<String>,
    /// Dedup key, when known.
    pub dedup_key: Option<String>,
    /// Correlation id, when known.
    pub correlation_id: Option<String>,
    /// The raw body.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// The AMQP headers as JSON.
    pub headers: Value,
    /// The error chain.
    pub error: String,
    /// Attempts made.
    pub attempts: i32,
    /// When it first failed for good.
    pub first_failed_at: DateTime<Utc>,
    /// When it last failed.
    pub last_failed_at: DateTime<Utc>,
    /// `dead` or `replayed`.
    pub state: String,
    /// When it was replayed.
    pub replayed_at: Option<DateTime<Utc>>,
}

impl DeadLetter {
    fn from_row(r: &Row) -> Self {
        DeadLetter {
            id: r.get(0),
            provider: r.get(1),
            line_id: r.get(2),
            dedup_key: r.get(3),
            correlation_id: r.get(4),
            body: r.get(5),
            headers: r.get(6),
            error: r.get(7),
            attempts: r.get(8),
            first_failed_at: r.get(9),
            last_failed_at: r.get(10),
            state: r.get(11),
            replayed_at: r.get(12),
        }
    }
}

/// Records a dead letter; returns its id.
pub async fn record_dead_letter<C: GenericClient>(
    client: &C,
    dl: &NewDeadLetter<'_>,
) -> Result<i64, RepoError> {
    let stmt = client.prepare_cached(RECORD).await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &dl.provider,
                &dl.line_id,
                &dl.dedup_key,
                &dl.correlation_id,
                &dl.body,
                dl.headers,
                &dl.error,
                &dl.attempts,
            ],
        )
        .await?;
    Ok(row.get(0))
}

/// The most recent dead letters, newest failure first.
pub async fn list_dead_letters<C: GenericClient>(
    client: &C,
    limit: i64,
) -> Result<Vec<DeadLetter>, RepoError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM dead_letters ORDER BY last_failed_at DESC, id DESC LIMIT $1"
    );
    let rows = client.query(&sql, &[&limit]).await?;
    Ok(rows.iter().map(DeadLetter::from_row).collect())
}

/// One dead letter by id.
pub async fn get_dead_letter<C: GenericClient>(
    client: &C,
    id: i64,
) -> Result<Option<DeadLetter>, RepoError> {
    let sql = format!("SELECT {COLUMNS} FROM dead_letters WHERE id = $1");
    let row = client.query_opt(&sql, &[&id]).await?;
    Ok(row.as_ref().map(DeadLetter::from_row))
}

/// Ids of every dead letter not yet replayed, oldest first.
pub async fn open_dead_letter_ids<C: GenericClient>(client: &C) -> Result<Vec<i64>, RepoError> {
    let rows = client
        .query(
            "SELECT id FROM dead_letters WHERE state = 'dead' ORDER BY id",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Marks a dead letter replayed; `false` when it was not open.
pub async fn mark_replayed<C: GenericClient>(client: &C, id: i64) -> Result<bool, RepoError> {
    let stmt = client.prepare_cached(MARK_REPLAYED).await?;
    Ok(client.execute(&stmt, &[&id]).await? == 1)
}
