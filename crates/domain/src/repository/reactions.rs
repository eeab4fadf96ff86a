//! Reactions: one row per reactor and message, the newest event winning.

use super::RepoError;
use crate::event::Reaction;
use crate::provider::Provider;
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use serde_json::Value;
use std::collections::BTreeMap;

// An older event arriving after a newer one changes nothing; a removal
// (emoji NULL) is stored as a row without an emoji. Meta gives a reaction and
// its removal the same id and often the same second, so events of the same
// instant are ordered too, never by which came last (a redelivered reaction
// must not undo its removal): a removal after a reaction, then by emoji and
// event id in byte order (`reaction_order`, the same order in Rust). A
// redelivered event is not newer: its row stays untouched.
const UPSERT_REACTIONS: &str = "
INSERT INTO reactions (provider, target_message_id, reactor, emoji, provider_event_id,
                       reacted_at, raw)
SELECT $1, t.target, t.reactor, t.emoji, t.event_id, t.reacted_at, t.raw
FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::jsonb[])
     AS t(target, reactor, emoji, event_id, reacted_at, raw)
ON CONFLICT (provider, target_message_id, reactor) DO UPDATE
   SET emoji = EXCLUDED.emoji,
       provider_event_id = EXCLUDED.provider_event_id,
       reacted_at = EXCLUDED.reacted_at,
       raw = EXCLUDED.raw,
       updated_at = now()
 WHERE (reactions.reacted_at, reactions.emoji IS NULL,
        COALESCE(reactions.emoji, '') COLLATE \"C\", reactions.provider_event_id COLLATE \"C\")
       < (EXCLUDED.reacted_at, EXCLUDED.emoji IS NULL,
           COALESCE(EXCLUDED.emoji, '') COLLATE \"C\", EXCLUDED.provider_event_id COLLATE \"C\")";

/// Stores a batch of reactions in one statement.
///
/// Within a batch only the newest reaction per (message, reactor) is sent:
/// one statement may not upsert the same row twice.
pub async fn upsert_reactions(
    tx: &Transaction<'_>,
    provider: Provider,
    reactions: &[&Reaction],
) -> Result<(), RepoError> {
    if reactions.is_empty() {
        return Ok(());
    }
    let mut newest: BTreeMap<(&str, &str), &Reaction> = BTreeMap::new();
    for r in reactions {
        let key = (r.target_message_id.as_str(), r.from_address.as_str());
        let entry = newest.entry(key).or_insert(r);
        if reaction_order(r) >= reaction_order(entry) {
            *entry = r;
        }
    }
    let rows: Vec<&Reaction> = newest.into_values().collect();
    let targets: Vec<&str> = rows.iter().map(|r| r.target_message_id.as_str()).collect();
    let reactors: Vec<&str> = rows.iter().map(|r| r.from_address.as_str()).collect();
    let emojis: Vec<Option<&str>> = rows.iter().map(|r| r.emoji.as_deref()).collect();
    let events: Vec<&str> = rows.iter().map(|r| r.provider_event_id.as_str()).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.occurred_at).collect();
    let raws: Vec<&Value> = rows.iter().map(|r| &r.raw).collect();
    let stmt = tx.prepare_cached(UPSERT_REACTIONS).await?;
    tx.execute(
        &stmt,
        &[
            &provider.as_str(),
            &targets,
            &reactors,
            &emojis,
            &events,
            &times,
            &raws,
        ],
    )
    .await?;
    Ok(())
}

/// Which of two reaction events stands: the newer; in the same instant a
/// removal; then by emoji and event id (byte order, as `COLLATE "C"`).
fn reaction_order(r: &Reaction) -> (DateTime<Utc>, bool, &[u8], &[u8]) {
    (
        r.occurred_at,
        r.emoji.is_none(),
        r.emoji.as_deref().unwrap_or("").as_bytes(),
        r.provider_event_id.as_bytes(),
    )
}
