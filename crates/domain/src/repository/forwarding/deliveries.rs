//! Deliveries (one per event and endpoint) and their attempts, as the
//! consumer creates them and the API shows them.

use crate::forward::body::Body;
use crate::repository::RepoError;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Json;
use tokio_postgres::Row;
use uuid::Uuid;

const COLUMNS: &str = "d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, \
     d.max_attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, \
     d.updated_at, d.payload";

// Matching is done here, not in SQL, so that one query serves a whole batch
// of events: the enabled endpoints are few and read once per batch.
const ENABLED_ENDPOINTS: &str = "
SELECT e.id, e.max_attempts, e.lines, e.event_types
FROM forward_endpoints e
WHERE e.enabled";

// Ids are UUIDv7, generated here, so that pages ordered by id are ordered by
// time. The unique (event_id, endpoint_id) key makes a redelivered event a no-op.
const INSERT_DELIVERIES: &str = "
INSERT INTO forward_deliveries (id, endpoint_id, event_id, event_type, payload, status,
                                max_attempts, next_attempt_at)
SELECT t.id, t.endpoint_id, t.event_id, t.event_type, t.payload, 'pending', t.max_attempts, now()
FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::jsonb[], $6::int4[])
     AS t(id, endpoint_id, event_id, event_type, payload, max_attempts)
ON CONFLICT (event_id, endpoint_id) DO NOTHING
RETURNING id";

const INSERT_TEST: &str = "
INSERT INTO forward_deliveries (id, endpoint_id, event_id, event_type, payload, status,
                                max_attempts, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, 'pending', $6, now())";

/// A delivery as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    /// Its id.
    pub id: Uuid,
    /// The endpoint it goes to.
    pub endpoint_id: Uuid,
    /// The event's id (also the `webhook-id` header).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// `pending`, `sending`, `retrying`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made so far (`attempt_count` in JSON: a delivery's detail
    /// lists the attempts themselves under `attempts`).
    #[serde(rename = "attempt_count")]
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// When the next attempt is due, while one is.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last answer's status code.
    pub last_status_code: Option<i32>,
    /// The last error.
    pub last_error: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The body sent.
    pub payload: Value,
}

impl Delivery {
    fn from_row(r: &Row) -> Self {
        Delivery {
            id: r.get(0),
            endpoint_id: r.get(1),
            event_id: r.get(2),
            event_type: r.get(3),
            status: r.get(4),
            attempts: r.get(5),
            max_attempts: r.get(6),
            next_attempt_at: r.get(7),
            last_status_code: r.get(8),
            last_error: r.get(9),
            created_at: r.get(10),
            updated_at: r.get(11),
            payload: r.get(12),
        }
    }
}

/// One logged attempt.
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    /// 1 for the first.
    pub attempt: i32,
    /// When it started.
    pub attempted_at: DateTime<Utc>,
    /// The answer's status code, if one came.
    pub status_code: Option<i32>,
    /// Up to 1 KiB of the answer.
    pub response_body: Option<String>,
    /// Why it failed without an answer (timeout, connection refused, ...).
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i32,
    /// When the next attempt is due, if one is.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A domain event to fan out, with what endpoints filter on.
#[derive(Clone, Copy, Debug)]
pub struct FanOutEvent<'a> {
    /// Its stable id.
    pub event_id: &'a str,
    /// Its type.
    pub event_type: &'a str,
    /// The body every delivery of it sends.
    pub payload: Body<'a>,
    /// Line ids and own numbers an endpoint's `lines` may name.
    pub line_keys: &'a [String],
    /// The type and the patterns (`message.*`, `*`) an endpoint's `event_types` may name.
    pub type_patterns: &'a [String],
}

/// An enabled endpoint's filters.
struct Subscriber {
    id: Uuid,
    max_attempts: i32,
    lines: Vec<String>,
    event_types: Vec<String>,
}

impl Subscriber {
    /// An empty filter matches everything; otherwise one shared entry does.
    fn wants(&self, event: &FanOutEvent<'_>) -> bool {
        let overlaps = |filter: &[String], keys: &[String]| {
            filter.is_empty() || filter.iter().any(|f| keys.contains(f))
        };
        overlaps(&self.lines, event.line_keys) && overlaps(&self.event_types, event.type_patterns)
    }
}

/// Creates the deliveries of many events, one per matching enabled endpoint,
/// in two statements however many events there are (one when no endpoint is
/// enabled); returns the ids that were new.
pub async fn fan_out<C: GenericClient>(
    client: &C,
    events: &[FanOutEvent<'_>],
) -> Result<Vec<Uuid>, RepoError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = client.prepare_cached(ENABLED_ENDPOINTS).await?;
    let subscribers: Vec<Subscriber> = client
        .query(&stmt, &[])
        .await?
        .iter()
        .map(|r| Subscriber {
            id: r.get(0),
            max_attempts: r.get(1),
            lines: r.get(2),
            event_types: r.get(3),
        })
        .collect();
    if subscribers.is_empty() {
        return Ok(Vec::new());
    }
    let (mut ids, mut endpoint_ids, mut event_ids) = (Vec::new(), Vec::new(), Vec::new());
    let (mut types, mut payloads, mut max_attempts) = (Vec::new(), Vec::new(), Vec::new());
    for event in events {
        for s in subscribers.iter().filter(|s| s.wants(event)) {
            ids.push(Uuid::now_v7());
            endpoint_ids.push(s.id);
            event_ids.push(event.event_id);
            types.push(event.event_type);
            payloads.push(Json(event.payload));
            max_attempts.push(s.max_attempts);
        }
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = client.prepare_cached(INSERT_DELIVERIES).await?;
    let rows = client
        .query(
            &stmt,
            &[
                &ids,
                &endpoint_ids,
                &event_ids,
                &types,
                &payloads,
                &max_attempts,
            ],
        )
        .await
        .map_err(endpoint_gone_is_a_conflict)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// An endpoint deleted between the read of the enabled endpoints and the
/// insert fails the insert's foreign key. That is a race, not bad data: the
/// next attempt reads the endpoints again and fans out to those still there.
fn endpoint_gone_is_a_conflict(e: tokio_postgres::Error) -> RepoError {
    if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
        RepoError::Conflict(e)
    } else {
        e.into()
    }
}

/// Creates a delivery of a test event to one endpoint (one attempt only).
pub async fn insert_test_delivery<C: GenericClient>(
    client: &C,
    endpoint_id: Uuid,
    event_id: &str,
    event_type: &str,
    payload: &Value,
) -> Result<Uuid, RepoError> {
    let id = Uuid::now_v7();
    let stmt = client.prepare_cached(INSERT_TEST).await?;
    client
        .execute(
            &stmt,
            &[&id, &endpoint_id, &event_id, &event_type, payload, &1i32],
        )
        .await?;
    Ok(id)
}

/// A page of deliveries, newest first.
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryPage {
    /// The deliveries.
    pub data: Vec<Delivery>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<Uuid>,
}

/// The deliveries of one of the client's endpoints, newest first, optionally
/// of one status, after `cursor` (the last id of the previous page).
pub async fn list_deliveries<C: GenericClient>(
    client: &C,
    client_id: Uuid,
    endpoint_id: Uuid,
    status: Option<&str>,
    cursor: Option<Uuid>,
    limit: i64,
) -> Result<DeliveryPage, RepoError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM forward_deliveries d
         JOIN forward_endpoints e ON e.id = d.endpoint_id
         WHERE e.client_id = $1 AND d.endpoint_id = $2
           AND ($3::text IS NULL OR d.status = $3)
           AND ($4::uuid IS NULL OR d.id < $4)
         ORDER BY d.id DESC LIMIT $5"
    );
    let stmt = client.prepare_cached(&sql).await?;
    // One more than asked tells whether another page exists.
    let rows = client
        .query(
            &stmt,
            &[&client_id, &endpoint_id, &status, &cursor, &(limit + 1)],
        )
        .await?;
    let mut data: Vec<Delivery> = rows.iter().map(Delivery::from_row).collect();
    let more = data.len() as i64 > limit;
    data.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more {
        data.last().map(|d| d.id)
    } else {
        None
    };
    Ok(DeliveryPage { data, next_cursor })
}

/// One of the client's deliveries.
pub async fn get_delivery<C: GenericClient>(
    client: &C,
    client_id: Uuid,
    id: Uuid,
) -> Result<Option<Delivery>, RepoError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM forward_deliveries d
         JOIN forward_endpoints e ON e.id = d.endpoint_id
         WHERE e.client_id = $1 AND d.id = $2"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&stmt, &[&client_id, &id]).await?;
    Ok(row.as_ref().map(Delivery::from_row))
}

/// A delivery's attempts, first first.
pub async fn list_attempts<C: GenericClient>(
    client: &C,
    delivery_id: Uuid,
) -> Result<Vec<Attempt>, RepoError> {
    let stmt = client
        .prepare_cached(
            "SELECT attempt, attempted_at, status_code, response_body, error, duration_ms,
                    next_attempt_at
             FROM forward_delivery_attempts WHERE delivery_id = $1 ORDER BY attempt, id",
        )
        .await?;
    let rows = client.query(&stmt, &[&delivery_id]).await?;
    Ok(rows
        .iter()
        .map(|r| Attempt {
            attempt: r.get(0),
            attempted_at: r.get(1),
            status_code: r.get(2),
            response_body: r.get(3),
            error: r.get(4),
            duration_ms: r.get(5),
            next_attempt_at: r.get(6),
        })
        .collect())
}

/// What asking for a manual retry did.
#[derive(Debug)]
pub enum RetryOutcome {
    /// No such delivery for this client.
    NotFound,
    /// It is still pending, sending or waiting for a retry.
    InProgress,
    /// It is due again now, with one more attempt allowed.
    Scheduled(Box<Delivery>),
}

/// Schedules a finished (delivered or failed) delivery for one more attempt now.
pub async fn retry_delivery<C: GenericClient>(
    client: &C,
    client_id: Uuid,
    id: Uuid,
) -> Result<RetryOutcome, RepoError> {
    let sql = format!(
        "UPDATE forward_deliveries d SET status = 'pending', next_attempt_at = now(),
                max_attempts = d.attempts + 1, updated_at = now()
         FROM forward_endpoints e
         WHERE e.id = d.endpoint_id AND e.client_id = $1 AND d.id = $2
           AND d.status IN ('delivered', 'failed')
         RETURNING {COLUMNS}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    if let Some(row) = client.query_opt(&stmt, &[&client_id, &id]).await? {
        return Ok(RetryOutcome::Scheduled(Box::new(Delivery::from_row(&row))));
    }
    Ok(match get_delivery(client, client_id, id).await? {
        Some(_) => RetryOutcome::InProgress,
        None => RetryOutcome::NotFound,
    })
}

#[cfg(test)]
mod tests {
    use super::{FanOutEvent, Subscriber};
    use crate::forward::body::Body;
    use serde_json::value::RawValue;
    use uuid::Uuid;

    fn subscriber(lines: &[&str], types: &[&str]) -> Subscriber {
        Subscriber {
            id: Uuid::nil(),
            max_attempts: 1,
            lines: lines.iter().map(|s| (*s).to_owned()).collect(),
            event_types: types.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn empty_filters_match_everything_and_a_filter_needs_one_shared_entry() {
        let data = RawValue::from_string("{}".to_owned()).expect("JSON");
        let payload = Body {
            id: "e",
            event_type: "message.received",
            line: Some("L1"),
            timestamp: chrono::Utc::now(),
            data: &data,
        };
        let lines = vec!["L1".to_owned(), "15550783881".to_owned()];
        let types = vec![
            "message.received".to_owned(),
            "*".to_owned(),
            "message.*".to_owned(),
        ];
        let event = FanOutEvent {
            event_id: "e",
            event_type: "message.received",
            payload,
            line_keys: &lines,
            type_patterns: &types,
        };
        assert!(subscriber(&[], &[]).wants(&event));
        assert!(subscriber(&["15550783881"], &[]).wants(&event));
        assert!(subscriber(&["L2", "L1"], &["message.*"]).wants(&event));
        assert!(!subscriber(&["L2"], &[]).wants(&event));
        assert!(!subscriber(&[], &["message.status"]).wants(&event));
        assert!(!subscriber(&["L1"], &["call"]).wants(&event));
    }
}
