//! Calls: every lifecycle event kept once, and each call's latest state.

use super::RepoError;
use crate::event::Call;
use crate::provider::Provider;
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use serde_json::Value;
use std::collections::BTreeMap;

// In key order, as every transaction inserts them: two workers storing the
// same events at once (a redelivery while the first still stores) then wait
// for each other one way, never both ways (a deadlock).
const INSERT_CALL_EVENTS: &str = "
INSERT INTO call_events (provider, provider_call_id, event, occurred_at, data)
SELECT $1, t.id, t.event, t.occurred_at, t.data
FROM UNNEST($2::text[], $3::text[], $4::timestamptz[], $5::jsonb[])
     AS t(id, event, occurred_at, data)
ORDER BY t.id, t.event
ON CONFLICT (provider, provider_call_id, event) DO NOTHING";

// The status follows the newest event that carries one (`status_at`), so a
// late `call.ringing` does not undo `call.completed`, also when a summary (no
// status) came in between. Events of the same instant are ordered too, so
// that the outcome never depends on which came last: a status by its place
// in the call's life (`inlet_call_status_rank`, V13), then by name, then by
// the name of the event that gave it (`status_event`, V14). The facts (line,
// parties, start and end times) come from the event whose status wins, others
// filling gaps: only call objects carry facts, and they all carry a status
// (summaries and transcripts carry neither). A gap two such others fill with
// different values depends on arrival order: the row does not say where a
// filled fact came from (docs/worker.md, "Ties"). The last event follows
// the newest, then the name (byte order). `fact_order` and `order` are the
// same rules for the events of one batch.

/// Whether the incoming status wins over the stored one (see above).
macro_rules! status_wins {
    () => {
        "EXCLUDED.status IS NOT NULL
                       AND (calls.status_at IS NULL
                            OR (EXCLUDED.status_at, inlet_call_status_rank(EXCLUDED.status),
                                EXCLUDED.status COLLATE \"C\",
                                EXCLUDED.status_event COLLATE \"C\")
                               >= (calls.status_at, inlet_call_status_rank(calls.status),
                                   COALESCE(calls.status, '') COLLATE \"C\",
                                   COALESCE(calls.status_event, '') COLLATE \"C\"))"
    };
}

/// Whether the incoming event is the call's last (see above).
macro_rules! last_event_wins {
    () => {
        "(EXCLUDED.last_event_at, EXCLUDED.last_event COLLATE \"C\")
                           >= (calls.last_event_at, calls.last_event COLLATE \"C\")"
    };
}

/// A fact (`$column`) from the incoming row where its status wins, else from
/// the stored row; the other fills a gap.
#[rustfmt::skip]
macro_rules! fact {
    ($column:literal) => {
        concat!(
            $column, " = CASE WHEN ", status_wins!(),
            " THEN COALESCE(EXCLUDED.", $column, ", calls.", $column, ")",
            " ELSE COALESCE(calls.", $column, ", EXCLUDED.", $column, ") END"
        )
    };
}

/// The status's own columns (`$column`): from the incoming row where its
/// status wins, else as stored.
#[rustfmt::skip]
macro_rules! standing {
    ($column:literal) => {
        concat!(
            $column, " = CASE WHEN ", status_wins!(),
            " THEN EXCLUDED.", $column, " ELSE calls.", $column, " END"
        )
    };
}

const UPSERT_CALLS: &str = concat!(
    "
INSERT INTO calls (provider, provider_call_id, line_id, direction, from_address, to_address,
                   status, status_at, status_event, started_at, completed_at, last_event,
                   last_event_at)
SELECT $1, t.id, t.line, t.direction, t.from_address, t.to_address, t.status, t.status_at,
       t.status_event, t.started_at, t.completed_at, t.event, t.occurred_at
FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::timestamptz[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::text[],
            $13::timestamptz[])
     AS t(id, line, direction, from_address, to_address, status, status_at, status_event,
          started_at, completed_at, event, occurred_at)
ON CONFLICT (provider, provider_call_id) DO UPDATE
   SET ",
    fact!("line_id"),
    ",
       ",
    fact!("direction"),
    ",
       ",
    fact!("from_address"),
    ",
       ",
    fact!("to_address"),
    ",
       ",
    fact!("started_at"),
    ",
       ",
    fact!("completed_at"),
    ",
       ",
    standing!("status"),
    ",
       ",
    standing!("status_at"),
    ",
       ",
    standing!("status_event"),
    ",
       last_event = CASE WHEN ",
    last_event_wins!(),
    " THEN EXCLUDED.last_event ELSE calls.last_event END,
       last_event_at = GREATEST(EXCLUDED.last_event_at, calls.last_event_at),
       updated_at = now()"
);

/// Where a call status stands in a call's life: queued or initiated, then
/// ringing, then in progress (answered), then any other status, an end
/// (completed, missed, busy, failed, ...). The same ranks as the database's
/// `inlet_call_status_rank` (V13), which the statement uses.
pub fn call_status_rank(status: &str) -> i16 {
    match status {
        "queued" | "initiated" => 1,
        "ringing" => 2,
        "in-progress" | "answered" => 3,
        _ => 4,
    }
}

/// The order of a call's events of one batch for its last event, as the
/// statement orders them against the stored row: by time, then by name.
fn order(call: &Call) -> (DateTime<Utc>, &[u8]) {
    (call.occurred_at, call.event.as_bytes())
}

/// The order of a call's events of one batch for its status and facts, as
/// the statement orders them: events without a status first (they only fill
/// gaps), then by time, rank and status name (the status that wins is the
/// last), then by event name.
fn fact_order(call: &Call) -> (bool, DateTime<Utc>, i16, &[u8], &[u8]) {
    let status = call.status.as_deref();
    (
        status.is_some(),
        call.occurred_at,
        status.map_or(0, call_status_rank),
        status.unwrap_or("").as_bytes(),
        call.event.as_bytes(),
    )
}

/// One call's row from a batch's events.
struct Merged<'a> {
    line: Option<&'a str>,
    call: Call,
    /// The winning status, with the time and name of the event that gave it.
    status: Option<Standing<'a>>,
}

/// A call's status and the event it came from.
struct Standing<'a> {
    status: &'a str,
    at: DateTime<Utc>,
    event: &'a str,
}

/// Stores a batch of call events (two statements, however many calls).
pub async fn store_calls(
    tx: &Transaction<'_>,
    provider: Provider,
    calls: &[(Option<&str>, &Call)],
) -> Result<(), RepoError> {
    if calls.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = calls
        .iter()
        .map(|(_, c)| c.provider_call_id.as_str())
        .collect();
    let events: Vec<&str> = calls.iter().map(|(_, c)| c.event.as_str()).collect();
    let times: Vec<DateTime<Utc>> = calls.iter().map(|(_, c)| c.occurred_at).collect();
    let data: Vec<&Value> = calls.iter().map(|(_, c)| &c.data).collect();
    let stmt = tx.prepare_cached(INSERT_CALL_EVENTS).await?;
    tx.execute(&stmt, &[&provider.as_str(), &ids, &events, &times, &data])
        .await?;

    // One row per call, by the statement's rules: in `fact_order`, a later
    // event's status and facts win and earlier ones fill gaps; the last event
    // is the newest by `order`.
    let mut merged: BTreeMap<&str, Merged<'_>> = BTreeMap::new();
    let mut ordered: Vec<&(Option<&str>, &Call)> = calls.iter().collect();
    ordered.sort_by(|(_, a), (_, b)| fact_order(a).cmp(&fact_order(b)));
    for (line, call) in ordered {
        let status = call.status.as_deref().map(|status| Standing {
            status,
            at: call.occurred_at,
            event: &call.event,
        });
        match merged.get_mut(call.provider_call_id.as_str()) {
            None => {
                let merge = Merged {
                    line: *line,
                    call: (*call).clone(),
                    status,
                };
                merged.insert(&call.provider_call_id, merge);
            }
            Some(Merged {
                line: l,
                call: acc,
                status: acc_status,
            }) => {
                if status.is_some() {
                    *acc_status = status;
                }
                if order(call) >= order(acc) {
                    acc.event.clone_from(&call.event);
                    acc.occurred_at = call.occurred_at;
                }
                *l = line.or(*l);
                acc.direction = call.direction.or(acc.direction);
                acc.from_address = call.from_address.clone().or(acc.from_address.take());
                acc.to_address = call.to_address.clone().or(acc.to_address.take());
                acc.started_at = call.started_at.or(acc.started_at);
                acc.completed_at = call.completed_at.or(acc.completed_at);
            }
        }
    }
    let rows: Vec<(Option<&str>, &Call)> = merged.values().map(|m| (m.line, &m.call)).collect();
    let statuses: Vec<Option<&str>> = merged
        .values()
        .map(|m| m.status.as_ref().map(|s| s.status))
        .collect();
    let status_times: Vec<Option<DateTime<Utc>>> = merged
        .values()
        .map(|m| m.status.as_ref().map(|s| s.at))
        .collect();
    let status_events: Vec<Option<&str>> = merged
        .values()
        .map(|m| m.status.as_ref().map(|s| s.event))
        .collect();
    let ids: Vec<&str> = rows
        .iter()
        .map(|(_, c)| c.provider_call_id.as_str())
        .collect();
    let lines: Vec<Option<&str>> = rows.iter().map(|(l, _)| *l).collect();
    let directions: Vec<Option<&str>> = rows
        .iter()
        .map(|(_, c)| c.direction.map(|d| d.as_str()))
        .collect();
    let froms: Vec<Option<&str>> = rows
        .iter()
        .map(|(_, c)| c.from_address.as_deref())
        .collect();
    let tos: Vec<Option<&str>> = rows.iter().map(|(_, c)| c.to_address.as_deref()).collect();
    let started: Vec<Option<DateTime<Utc>>> = rows.iter().map(|(_, c)| c.started_at).collect();
    let completed: Vec<Option<DateTime<Utc>>> = rows.iter().map(|(_, c)| c.completed_at).collect();
    let events: Vec<&str> = rows.iter().map(|(_, c)| c.event.as_str()).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|(_, c)| c.occurred_at).collect();
    let stmt = tx.prepare_cached(UPSERT_CALLS).await?;
    tx.execute(
        &stmt,
        &[
            &provider.as_str(),
            &ids,
            &lines,
            &directions,
            &froms,
            &tos,
            &statuses,
            &status_times,
            &status_events,
            &started,
            &completed,
            &events,
            &times,
        ],
    )
    .await?;
    Ok(())
}
