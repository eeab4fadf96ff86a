//! Consent (opt-out state on `contacts`) and provider-side contact records.

use super::RepoError;
use crate::event::{ConsentChange, ContactChange};
use crate::provider::Provider;
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use serde_json::Value;
use std::collections::BTreeMap;

// Creates the contact if it is new; a decision no newer than the one stored
// changes nothing (a redelivered one leaves the row untouched), so
// redeliveries and late arrivals are harmless. Two
// decisions of the same second (Meta's timestamps are whole seconds) are
// ordered too, so that the outcome never depends on which came last: an
// opt-out before an opt-in, then the higher message id (`consent_order` is
// the same order in Rust, for the decisions of one batch).
const APPLY_CONSENTS: &str = "
INSERT INTO contacts (provider, address, opted_out, consent_changed_at, consent_keyword,
                      consent_message_id)
SELECT $1, t.address, t.opted_out, t.changed_at, t.keyword, t.message_id
FROM UNNEST($2::text[], $3::bool[], $4::timestamptz[], $5::text[], $6::text[])
     AS t(address, opted_out, changed_at, keyword, message_id)
ON CONFLICT (provider, address) DO UPDATE
   SET opted_out = EXCLUDED.opted_out,
       consent_changed_at = EXCLUDED.consent_changed_at,
       consent_keyword = EXCLUDED.consent_keyword,
       consent_message_id = EXCLUDED.consent_message_id,
       updated_at = now()
 WHERE contacts.consent_changed_at IS NULL
    OR (contacts.consent_changed_at, contacts.opted_out,
        COALESCE(contacts.consent_message_id, '') COLLATE \"C\")
       < (EXCLUDED.consent_changed_at, EXCLUDED.opted_out,
           EXCLUDED.consent_message_id COLLATE \"C\")";

// Only a newer change applies. Changes of the same instant are ordered too,
// so that the outcome never depends on which came last: a deletion stands
// over an update, then the higher record (PostgreSQL's order of `jsonb`).
// The same order picks one change per contact from a batch (`DISTINCT ON`),
// and the rows go in id order, as every transaction writes them. A
// redelivered change is not newer: its row stays untouched.
const UPSERT_PROVIDER_CONTACTS: &str = "
INSERT INTO provider_contacts (provider, provider_contact_id, deleted, data, changed_at)
SELECT DISTINCT ON (t.id) $1, t.id, t.deleted, t.data, t.changed_at
FROM UNNEST($2::text[], $3::bool[], $4::jsonb[], $5::timestamptz[])
     AS t(id, deleted, data, changed_at)
ORDER BY t.id, t.changed_at DESC, t.deleted DESC, t.data DESC
ON CONFLICT (provider, provider_contact_id) DO UPDATE
   SET deleted = EXCLUDED.deleted,
       data = EXCLUDED.data,
       changed_at = EXCLUDED.changed_at,
       updated_at = now()
 WHERE (provider_contacts.changed_at, provider_contacts.deleted, provider_contacts.data)
       < (EXCLUDED.changed_at, EXCLUDED.deleted, EXCLUDED.data)";

/// Records opt-outs and opt-ins in one statement; the newest decision per
/// contact wins.
pub async fn apply_consents(
    tx: &Transaction<'_>,
    provider: Provider,
    changes: &[&ConsentChange],
) -> Result<(), RepoError> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut newest: BTreeMap<&str, &ConsentChange> = BTreeMap::new();
    for c in changes {
        let entry = newest.entry(c.address.as_str()).or_insert(c);
        if consent_order(c) >= consent_order(entry) {
            *entry = c;
        }
    }
    let rows: Vec<&ConsentChange> = newest.into_values().collect();
    let addresses: Vec<&str> = rows.iter().map(|c| c.address.as_str()).collect();
    let opted: Vec<bool> = rows.iter().map(|c| c.opted_out).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|c| c.occurred_at).collect();
    let keywords: Vec<&str> = rows.iter().map(|c| c.keyword.as_str()).collect();
    let messages: Vec<&str> = rows
        .iter()
        .map(|c| c.provider_message_id.as_str())
        .collect();
    let stmt = tx.prepare_cached(APPLY_CONSENTS).await?;
    tx.execute(
        &stmt,
        &[
            &provider.as_str(),
            &addresses,
            &opted,
            &times,
            &keywords,
            &messages,
        ],
    )
    .await?;
    Ok(())
}

/// Which of two consent decisions stands: the newer; in the same instant an
/// opt-out; then the higher message id (byte order, as `COLLATE "C"`).
fn consent_order(c: &ConsentChange) -> (DateTime<Utc>, bool, &[u8]) {
    (c.occurred_at, c.opted_out, c.provider_message_id.as_bytes())
}

/// Stores provider contact records in one statement; only newer changes apply.
pub async fn upsert_provider_contacts(
    tx: &Transaction<'_>,
    provider: Provider,
    changes: &[&ContactChange],
) -> Result<(), RepoError> {
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = changes
        .iter()
        .map(|c| c.provider_contact_id.as_str())
        .collect();
    let deleted: Vec<bool> = changes.iter().map(|c| c.action == "deleted").collect();
    let data: Vec<&Value> = changes.iter().map(|c| &c.data).collect();
    let times: Vec<DateTime<Utc>> = changes.iter().map(|c| c.occurred_at).collect();
    let stmt = tx.prepare_cached(UPSERT_PROVIDER_CONTACTS).await?;
    tx.execute(&stmt, &[&provider.as_str(), &ids, &deleted, &data, &times])
        .await?;
    Ok(())
}
