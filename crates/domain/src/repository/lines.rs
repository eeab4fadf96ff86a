//! Line connection states and account-level events.

use super::RepoError;
use crate::event::{AccountEvent, LineStatus};
use crate::provider::Provider;
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use serde_json::Value;

// Only a newer change applies; two of the same instant are ordered by
// status (byte order), then by their data (PostgreSQL's order of `jsonb`),
// never by which came last. The same order picks one change per line from a
// batch (`DISTINCT ON`). A redelivered change is not newer: its row stays
// untouched.
const UPSERT_LINE_STATUS: &str = "
INSERT INTO line_status (provider, line_id, status, changed_at, data)
SELECT DISTINCT ON (t.line) $1, t.line, t.status, t.changed_at, t.data
FROM UNNEST($2::text[], $3::text[], $4::timestamptz[], $5::jsonb[])
     AS t(line, status, changed_at, data)
ORDER BY t.line, t.changed_at DESC, t.status COLLATE \"C\" DESC, t.data DESC
ON CONFLICT (provider, line_id) DO UPDATE
   SET status = EXCLUDED.status,
       changed_at = EXCLUDED.changed_at,
       data = EXCLUDED.data,
       updated_at = now()
 WHERE (line_status.changed_at, line_status.status COLLATE \"C\", line_status.data)
       < (EXCLUDED.changed_at, EXCLUDED.status COLLATE \"C\", EXCLUDED.data)";

// In key order, so two workers storing the same events at once never wait
// for each other both ways (a deadlock).
const INSERT_ACCOUNT_EVENTS: &str = "
INSERT INTO account_events (provider, line_id, field, event, event_key, occurred_at, data)
SELECT $1, t.line, t.field, t.event, t.event_key, t.occurred_at, t.data
FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::jsonb[])
     AS t(line, field, event, event_key, occurred_at, data)
ORDER BY t.event_key
ON CONFLICT (provider, event_key) DO NOTHING";

/// Stores line states in one statement (the newest per line in the batch).
pub async fn upsert_line_status(
    tx: &Transaction<'_>,
    provider: Provider,
    changes: &[(&str, &LineStatus)],
) -> Result<(), RepoError> {
    if changes.is_empty() {
        return Ok(());
    }
    let lines: Vec<&str> = changes.iter().map(|(line, _)| *line).collect();
    let statuses: Vec<&str> = changes.iter().map(|(_, s)| s.status.as_str()).collect();
    let times: Vec<DateTime<Utc>> = changes.iter().map(|(_, s)| s.occurred_at).collect();
    let data: Vec<&Value> = changes.iter().map(|(_, s)| &s.data).collect();
    let stmt = tx.prepare_cached(UPSERT_LINE_STATUS).await?;
    tx.execute(
        &stmt,
        &[&provider.as_str(), &lines, &statuses, &times, &data],
    )
    .await?;
    Ok(())
}

/// Stores account events in one statement, once each by event key.
pub async fn insert_account_events(
    tx: &Transaction<'_>,
    provider: Provider,
    events: &[(Option<&str>, &AccountEvent)],
) -> Result<(), RepoError> {
    if events.is_empty() {
        return Ok(());
    }
    let lines: Vec<Option<&str>> = events.iter().map(|(l, _)| *l).collect();
    let fields: Vec<&str> = events.iter().map(|(_, e)| e.field.as_str()).collect();
    let names: Vec<Option<&str>> = events.iter().map(|(_, e)| e.event.as_deref()).collect();
    let keys: Vec<&str> = events.iter().map(|(_, e)| e.event_key.as_str()).collect();
    let times: Vec<DateTime<Utc>> = events.iter().map(|(_, e)| e.occurred_at).collect();
    let data: Vec<&Value> = events.iter().map(|(_, e)| &e.data).collect();
    let stmt = tx.prepare_cached(INSERT_ACCOUNT_EVENTS).await?;
    tx.execute(
        &stmt,
        &[
            &provider.as_str(),
            &lines,
            &fields,
            &names,
            &keys,
            &times,
            &data,
        ],
    )
    .await?;
    Ok(())
}
