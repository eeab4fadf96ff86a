//! Contacts and messages, stored set-based: one statement per table per batch,
//! however many items a provider packed into one webhook.

use super::RepoError;
use crate::event::{Contact, Message};
use crate::provider::Provider;
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tokio_postgres::types::ToSql;

// Most messages come from contacts already stored as they are: one index probe
// per address finds them, and only the others go through the statement below.
const KNOWN_CONTACTS: &str = "
SELECT id, address, name, user_id, name_at, user_id_at
FROM contacts WHERE provider = $1 AND address = ANY($2)";

/// Whether the input's `$field` (with its message's time, `$field_at`)
/// replaces the stored one (`$new` and `$old` name the two rows): a different
/// value from a newer message, or from one of the same instant (Meta's times
/// are whole seconds) that is higher in byte order; always, over a value
/// stored without a time. [`wins`] is the same rule in Rust.
#[rustfmt::skip]
macro_rules! wins {
    ($new:literal, $old:literal, $field:literal) => {
        concat!(
            "(", $new, ".", $field, " IS NOT NULL",
            " AND ", $new, ".", $field, " IS DISTINCT FROM ", $old, ".", $field,
            " AND (", $old, ".", $field, "_at IS NULL",
            " OR (", $new, ".", $field, "_at, ", $new, ".", $field, " COLLATE \"C\")",
            " > (", $old, ".", $field, "_at, COALESCE(", $old, ".", $field, ", '') COLLATE \"C\")))"
        )
    };
}

/// The `SET` list that takes each field from `$new` where it wins over
/// `$old`'s (see `wins!`), with its time.
macro_rules! take_winners {
    ($new:literal, $old:literal) => {
        concat!(
            take_winner!($new, $old, "name"),
            ",\n           ",
            take_winner!($new, $old, "user_id"),
            ",\n           updated_at = now()"
        )
    };
}

/// `$field` and `$field_at` from `$new` where it wins over `$old`'s.
#[rustfmt::skip]
macro_rules! take_winner {
    ($new:literal, $old:literal, $field:literal) => {
        concat!(
            $field, " = CASE WHEN ", wins!($new, $old, $field),
            " THEN ", $new, ".", $field, " ELSE ", $old, ".", $field, " END,\n           ",
            $field, "_at = CASE WHEN ", wins!($new, $old, $field),
            " THEN ", $new, ".", $field, "_at ELSE ", $old, ".", $field, "_at END"
        )
    };
}

// Takes no row lock on a contact that has not changed: new contacts are
// inserted (`DO NOTHING`), existing ones are updated only when a name or a
// user id wins over the stored one, locked in address order first; the rest
// are only read. Every event from one sender would otherwise queue on its
// contact row until the previous event's transaction commits. The lock is
// `FOR NO KEY UPDATE`, what the update itself takes: `FOR UPDATE` would also
// hold off the key check of another worker's message of that contact, and
// two workers each renaming a contact the other had a message of deadlocked.
//
// A name or a user id replaces the stored one only when its message is newer
// than the one that set it (`name_at`, `user_id_at`; see `wins!`): a
// provider's late retry of an old message must not bring back a name or an
// id the contact has since changed.
const ENSURE_CONTACTS: &str = concat!(
    "
WITH input AS (
    SELECT * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::timestamptz[],
                         $6::timestamptz[])
             AS t(address, name, user_id, name_at, user_id_at)
), inserted AS (
    INSERT INTO contacts (provider, address, name, user_id, name_at, user_id_at)
    SELECT $1, address, name, user_id, name_at, user_id_at FROM input ORDER BY address
    ON CONFLICT (provider, address) DO NOTHING
    RETURNING id, address
), changed AS (
    SELECT c.id, i.name, i.user_id, i.name_at, i.user_id_at
      FROM contacts c JOIN input i ON c.provider = $1 AND c.address = i.address
     WHERE ",
    wins!("i", "c", "name"),
    " OR ",
    wins!("i", "c", "user_id"),
    "
     ORDER BY c.address
       FOR NO KEY UPDATE OF c
), updated AS (
    UPDATE contacts c
       SET ",
    take_winners!("ch", "c"),
    "
      FROM changed ch
     WHERE c.id = ch.id
)
SELECT id, address FROM inserted
UNION ALL
SELECT c.id, c.address FROM contacts c JOIN input i ON c.provider = $1 AND c.address = i.address"
);

// For contacts another transaction inserted while the statement above ran:
// they are committed now but were not in its snapshot.
const UPSERT_CONTACTS: &str = concat!(
    "
INSERT INTO contacts (provider, address, name, user_id, name_at, user_id_at)
SELECT $1, t.address, t.name, t.user_id, t.name_at, t.user_id_at
FROM UNNEST($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])
     AS t(address, name, user_id, name_at, user_id_at)
ON CONFLICT (provider, address) DO UPDATE
   SET ",
    take_winners!("EXCLUDED", "contacts"),
    "
RETURNING id, address"
);

// Statuses that arrived before their message are applied as the message is
// inserted: the stored status is the highest-ranked one known for it, and its
// time that report's (also when the report is of the message's own state).
const INSERT_MESSAGES: &str = "
INSERT INTO messages (provider, provider_message_id, line_id, direction, from_address,
                      to_address, contact_id, kind, body, content, context, status,
                      status_rank, status_at, sent_at, received_at, raw)
SELECT $1, t.id, t.line, t.direction, t.from_address, t.to_address, t.contact_id, t.kind,
       t.body, t.content, t.context,
       CASE WHEN s.rank > t.status_rank THEN s.state ELSE t.status END,
       GREATEST(t.status_rank, COALESCE(s.rank, 0)),
       CASE WHEN s.rank >= t.status_rank THEN s.occurred_at END,
       t.sent_at, t.received_at, t.raw
FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[],
            $8::text[], $9::text[], $10::jsonb[], $11::jsonb[], $12::text[], $13::int2[],
            $14::timestamptz[], $15::jsonb[], $16::timestamptz[])
     AS t(id, line, direction, from_address, to_address, contact_id, kind, body, content,
          context, status, status_rank, sent_at, raw, received_at)
LEFT JOIN LATERAL (
    SELECT ms.state, ms.rank, ms.occurred_at
    FROM message_statuses ms
    WHERE ms.provider = $1 AND ms.provider_message_id = t.id
    ORDER BY ms.rank DESC
    LIMIT 1
) s ON true
ON CONFLICT (provider, provider_message_id) DO NOTHING
RETURNING provider_message_id";

// Transaction-scoped advisory locks serialise work on one message: a message
// and a status for it handled at the same moment by two workers would
// otherwise each miss the other's uncommitted row (the status finds no
// message to update, the message finds no status to apply).
//
// Advisory locks live in PostgreSQL's shared lock table (about
// `max_locks_per_transaction` x connections entries for the whole server), so
// their number per transaction is bounded. Ids hash into `BUCKETS` buckets. A
// batch of at most `FINE_LIMIT` ids takes each of its buckets shared, then a
// lock per id (so batches without a common id go on side by side); a larger
// batch (a Meta webhook may carry a thousand statuses) takes its buckets
// exclusively instead, at most `BUCKETS` locks, and waits for, or holds off,
// every batch with an id in them. Buckets come first and in order, then ids
// in order, so no two transactions can each wait for the other: which is
// why a transaction takes all its message locks in one call, whatever
// providers its batch mixes (one call per provider took the buckets in order
// per provider, not overall, and deadlocked against a large batch).

/// The first key of the bucket locks (the two-key form never meets the
/// one-key form of the per-id locks).
const BUCKET_CLASS: i32 = 0x696e_6c74;
/// Buckets ids hash into (a power of two).
const BUCKETS: i64 = 256;
/// Most distinct ids locked one by one.
const FINE_LIMIT: usize = 256;

/// Takes, with the advisory-lock function named, each bucket of the keys
/// (`provider:id`) in order: `$1` keys, `$2` [`BUCKET_CLASS`], `$3` the bucket mask.
/// One text for both modes, so shared and exclusive locks always fall on the
/// same buckets.
macro_rules! lock_buckets {
    ($lock:literal) => {
        concat!(
            "SELECT count(",
            $lock,
            "($2, b.bucket))
FROM (SELECT DISTINCT (hashtextextended(u.key, 0) & $3)::int4 AS bucket
      FROM UNNEST($1::text[]) AS u(key) ORDER BY bucket) AS b"
        )
    };
}

const LOCK_BUCKETS_SHARED: &str = lock_buckets!("pg_advisory_xact_lock_shared");
const LOCK_BUCKETS_EXCLUSIVE: &str = lock_buckets!("pg_advisory_xact_lock");

const LOCK_MESSAGES: &str = "
SELECT count(pg_advisory_xact_lock(hashtextextended(keys.key, 0)))
FROM (SELECT DISTINCT key FROM UNNEST($1::text[]) AS u(key) ORDER BY key) AS keys";

/// Serialises work on the given messages (each a provider's message id) until
/// the transaction ends, with at most 512 advisory locks however many ids
/// there are (one round trip for the whole batch). Call it once per
/// transaction, with every message the transaction touches.
pub async fn lock_messages(
    tx: &Transaction<'_>,
    messages: &[(Provider, &str)],
) -> Result<(), RepoError> {
    if messages.is_empty() {
        return Ok(());
    }
    // The key a message is locked by, in every version: `provider:id`.
    let distinct: BTreeSet<String> = messages
        .iter()
        .map(|(provider, id)| format!("{}:{id}", provider.as_str()))
        .collect();
    let keys: Vec<String> = distinct.into_iter().collect();
    let mask = BUCKETS - 1;
    let buckets: [&(dyn ToSql + Sync); 3] = [&keys, &BUCKET_CLASS, &mask];
    if keys.len() > FINE_LIMIT {
        let stmt = tx.prepare_cached(LOCK_BUCKETS_EXCLUSIVE).await?;
        tx.query_one(&stmt, &buckets).await?;
        return Ok(());
    }
    let shared = tx.prepare_cached(LOCK_BUCKETS_SHARED).await?;
    let each = tx.prepare_cached(LOCK_MESSAGES).await?;
    let per_id: [&(dyn ToSql + Sync); 1] = [&keys];
    // Sent together (polled in this order) and run in order: one round trip.
    futures::try_join!(
        tx.query_one(&shared, &buckets),
        tx.query_one(&each, &per_id)
    )?;
    Ok(())
}

/// A message to store, with the line it arrived on.
#[derive(Debug, Clone, Copy)]
pub struct StoredMessage<'a> {
    /// The line (Meta `phone_number_id`, ...), when known.
    pub line_id: Option<&'a str>,
    /// The normalised message.
    pub message: &'a Message,
    /// When the gateway took in the raw event carrying it.
    pub received_at: DateTime<Utc>,
}

/// Creates or refreshes contacts and returns their ids by address: one
/// statement when every contact is stored as it is (the usual case), a second
/// for the new and changed ones, and a third only when a concurrent
/// transaction inserted one of them meanwhile. An unchanged contact is read,
/// never locked.
///
/// Addresses are de-duplicated and sorted first: Postgres refuses to upsert
/// one row twice in a statement, and a fixed lock order avoids deadlocks
/// between workers storing overlapping batches.
pub async fn upsert_contacts(
    tx: &Transaction<'_>,
    provider: Provider,
    contacts: &[Dated<'_>],
) -> Result<HashMap<String, i64>, RepoError> {
    if contacts.is_empty() {
        return Ok(HashMap::new());
    }
    // One entry per address: the name and the user id that win (see `wins`).
    let mut unique: BTreeMap<&str, Folded<'_>> = BTreeMap::new();
    for Dated { contact, at } in contacts {
        let entry = unique.entry(contact.address.as_str()).or_default();
        if let Some(name) = contact.name.as_deref() {
            keep_winner(&mut entry.name, (name, *at));
        }
        if let Some(user_id) = contact.user_id.as_deref() {
            keep_winner(&mut entry.user_id, (user_id, *at));
        }
    }
    let addresses: Vec<&str> = unique.keys().copied().collect();
    let stmt = tx.prepare_cached(KNOWN_CONTACTS).await?;
    let rows = tx.query(&stmt, &[&provider.as_str(), &addresses]).await?;
    let mut ids: HashMap<String, i64> = HashMap::with_capacity(unique.len());
    for row in &rows {
        let address: &str = row.get(1);
        let stored = Stored {
            name: row.get(2),
            user_id: row.get(3),
            name_at: row.get(4),
            user_id_at: row.get(5),
        };
        if unique.get(address).is_some_and(|c| !changes(c, &stored)) {
            ids.insert(address.to_owned(), row.get(0));
        }
    }
    let rest: Vec<(&str, Folded<'_>)> = unique
        .into_iter()
        .filter(|(address, _)| !ids.contains_key(*address))
        .collect();
    if !rest.is_empty() {
        ids.extend(ensure_contacts(tx, provider, &rest).await?);
    }
    Ok(ids)
}

/// A message's contact and the message's time (when it was sent, else
/// received): a newer message's name wins.
#[derive(Debug)]
pub struct Dated<'a> {
    /// The contact as the message gives it.
    pub contact: &'a Contact,
    /// When the message was sent (else received).
    pub at: DateTime<Utc>,
}

/// A value of a contact field, with the time of the message that gave it.
type Timed<'a> = (&'a str, DateTime<Utc>);

/// One address's contact facts from a batch.
#[derive(Debug, Default, Clone, Copy)]
struct Folded<'a> {
    /// The winning name.
    name: Option<Timed<'a>>,
    /// The winning user id.
    user_id: Option<Timed<'a>>,
}

/// A contact row as stored.
struct Stored<'a> {
    name: Option<&'a str>,
    user_id: Option<&'a str>,
    name_at: Option<DateTime<Utc>>,
    user_id_at: Option<DateTime<Utc>>,
}

/// Whether `given` replaces the stored value: the rule of `wins!`, so a
/// batch and the statements agree on which of two values stands.
fn wins(given: Timed<'_>, stored: Option<&str>, stored_at: Option<DateTime<Utc>>) -> bool {
    let (value, at) = given;
    Some(value) != stored
        && stored_at.is_none_or(|stored_at| {
            (at, value.as_bytes()) > (stored_at, stored.unwrap_or("").as_bytes())
        })
}

/// Keeps in `kept` the newer of it and `given`, in the same instant the
/// higher in byte order: of a batch's values, the one the rule of [`wins`]
/// would leave stored, whatever their order.
fn keep_winner<'a>(kept: &mut Option<Timed<'a>>, given: Timed<'a>) {
    if kept.is_none_or(|k| timed_order(given) > timed_order(k)) {
        *kept = Some(given);
    }
}

/// The order of [`keep_winner`]: by time, then by value in byte order.
fn timed_order(timed: Timed<'_>) -> (DateTime<Utc>, &[u8]) {
    (timed.1, timed.0.as_bytes())
}

/// Whether `contact` tells the stored row something it lacks: a name or a
/// user id that wins over the stored one.
fn changes(contact: &Folded<'_>, stored: &Stored<'_>) -> bool {
    let name = contact
        .name
        .is_some_and(|given| wins(given, stored.name, stored.name_at));
    let user = contact
        .user_id
        .is_some_and(|given| wins(given, stored.user_id, stored.user_id_at));
    name || user
}

/// Inserts new contacts and updates changed ones (unique, sorted addresses).
async fn ensure_contacts(
    tx: &Transaction<'_>,
    provider: Provider,
    contacts: &[(&str, Folded<'_>)],
) -> Result<HashMap<String, i64>, RepoError> {
    let mut ids = write_contacts(tx, provider, ENSURE_CONTACTS, contacts).await?;
    let missing: Vec<(&str, Folded<'_>)> = contacts
        .iter()
        .filter(|(address, _)| !ids.contains_key(*address))
        .copied()
        .collect();
    if !missing.is_empty() {
        ids.extend(write_contacts(tx, provider, UPSERT_CONTACTS, &missing).await?);
    }
    Ok(ids)
}

/// Runs one of the contact statements (`ENSURE_CONTACTS`, `UPSERT_CONTACTS`:
/// the same parameters) over `contacts` and returns the ids it gives, by
/// address.
async fn write_contacts(
    tx: &Transaction<'_>,
    provider: Provider,
    statement: &str,
    contacts: &[(&str, Folded<'_>)],
) -> Result<HashMap<String, i64>, RepoError> {
    let addresses: Vec<&str> = contacts.iter().map(|(a, _)| *a).collect();
    let names: Vec<Option<&str>> = contacts.iter().map(|(_, c)| c.name.map(|n| n.0)).collect();
    let users: Vec<Option<&str>> = contacts
        .iter()
        .map(|(_, c)| c.user_id.map(|u| u.0))
        .collect();
    let name_times: Vec<Option<DateTime<Utc>>> =
        contacts.iter().map(|(_, c)| c.name.map(|n| n.1)).collect();
    let user_times: Vec<Option<DateTime<Utc>>> = contacts
        .iter()
        .map(|(_, c)| c.user_id.map(|u| u.1))
        .collect();
    let stmt = tx.prepare_cached(statement).await?;
    let rows = tx
        .query(
            &stmt,
            &[
                &provider.as_str(),
                &addresses,
                &names,
                &users,
                &name_times,
                &user_times,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(1), r.get::<_, i64>(0)))
        .collect())
}

/// Inserts messages in one statement, skipping any already stored (by
/// provider and provider message id). Returns the ids that were new.
pub async fn insert_messages(
    tx: &Transaction<'_>,
    provider: Provider,
    items: &[StoredMessage<'_>],
    contact_ids: &HashMap<String, i64>,
) -> Result<Vec<String>, RepoError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let n = items.len();
    let mut ids = Vec::with_capacity(n);
    let mut lines = Vec::with_capacity(n);
    let mut directions = Vec::with_capacity(n);
    let mut froms = Vec::with_capacity(n);
    let mut tos = Vec::with_capacity(n);
    let mut contacts: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut kinds = Vec::with_capacity(n);
    let mut bodies = Vec::with_capacity(n);
    let mut contents: Vec<&Value> = Vec::with_capacity(n);
    let mut contexts: Vec<Option<&Value>> = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut ranks: Vec<i16> = Vec::with_capacity(n);
    let mut sent = Vec::with_capacity(n);
    let mut raws: Vec<&Value> = Vec::with_capacity(n);
    let mut received: Vec<DateTime<Utc>> = Vec::with_capacity(n);
    for item in items {
        let m = item.message;
        ids.push(m.provider_message_id.as_str());
        lines.push(item.line_id);
        directions.push(m.direction.as_str());
        froms.push(m.from_address.as_deref());
        tos.push(m.to_address.as_deref());
        contacts.push(
            m.contact
                .as_ref()
                .and_then(|c| contact_ids.get(&c.address).copied()),
        );
        kinds.push(m.kind.as_str());
        bodies.push(m.body.as_deref());
        contents.push(&m.content);
        contexts.push(m.context.as_ref());
        statuses.push(m.status.map(|s| s.as_str()));
        ranks.push(m.status.map_or(0, |s| s.rank()));
        sent.push(m.sent_at);
        raws.push(&m.raw);
        received.push(item.received_at);
    }
    let stmt = tx.prepare_cached(INSERT_MESSAGES).await?;
    let rows = tx
        .query(
            &stmt,
            &[
                &provider.as_str(),
                &ids,
                &lines,
                &directions,
                &froms,
                &tos,
                &contacts,
                &kinds,
                &bodies,
                &contents,
                &contexts,
                &statuses,
                &ranks,
                &sent,
                &raws,
                &received,
            ],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

#[cfg(test)]
mod tests {
    use super::{changes, keep_winner, Folded, Stored};
    use chrono::{DateTime, TimeZone, Utc};

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).single().expect("time")
    }

    fn stored<'a>(name: Option<&'a str>, user_id: Option<&'a str>, secs: i64) -> Stored<'a> {
        Stored {
            name,
            user_id,
            name_at: name.map(|_| at(secs)),
            user_id_at: user_id.map(|_| at(secs)),
        }
    }

    fn given<'a>(name: Option<&'a str>, user_id: Option<&'a str>, secs: i64) -> Folded<'a> {
        Folded {
            name: name.map(|n| (n, at(secs))),
            user_id: user_id.map(|u| (u, at(secs))),
        }
    }

    #[test]
    fn a_contact_changes_the_row_only_with_something_new() {
        let ann = stored(Some("Ann"), None, 10);
        assert!(!changes(&given(Some("Ann"), None, 20), &ann));
        assert!(!changes(
            &given(None, None, 20),
            &stored(Some("Ann"), Some("u1"), 10)
        ));
        assert!(!changes(
            &given(None, Some("u1"), 20),
            &stored(None, Some("u1"), 10)
        ));
        assert!(changes(&given(Some("Ann B"), None, 20), &ann));
        assert!(
            changes(&given(Some("Ann B"), None, 10), &ann),
            "a tie: the higher in byte order"
        );
        assert!(
            !changes(
                &given(Some("Ann A"), None, 10),
                &stored(Some("Ann B"), None, 10)
            ),
            "a tie: the lower in byte order"
        );
        assert!(
            !changes(&given(Some("Ann B"), None, 5), &ann),
            "an older name"
        );
        assert!(changes(
            &given(Some("Ann"), None, 1),
            &stored(None, None, 0)
        ));
        assert!(changes(
            &given(None, Some("u2"), 11),
            &stored(Some("Ann"), Some("u1"), 10)
        ));
        assert!(
            !changes(&given(None, Some("u0"), 9), &stored(None, Some("u1"), 10)),
            "an older user id"
        );
        let untimed = Stored {
            name: Some("Ann"),
            user_id: Some("u1"),
            name_at: None,
            user_id_at: None,
        };
        assert!(
            changes(&given(None, Some("u0"), 1), &untimed),
            "over a user id stored without a time"
        );
    }

    /// What a batch keeps of `values` (value, seconds), in the order given.
    fn kept<'a>(values: &[(&'a str, i64)]) -> Option<(&'a str, DateTime<Utc>)> {
        let mut kept = None;
        for &(value, secs) in values {
            keep_winner(&mut kept, (value, at(secs)));
        }
        kept
    }

    #[test]
    fn of_several_values_in_a_batch_the_newest_then_the_highest_stays() {
        for order in [
            [("b", 5), ("a", 5), ("c", 4)],
            [("c", 4), ("a", 5), ("b", 5)],
        ] {
            assert_eq!(kept(&order), Some(("b", at(5))));
        }
        // A value given again by a newer message is newer, not the same.
        for order in [
            [("a", 1), ("a", 3), ("b", 2)],
            [("a", 3), ("a", 1), ("b", 2)],
        ] {
            assert_eq!(kept(&order), Some(("a", at(3))));
        }
    }
}
