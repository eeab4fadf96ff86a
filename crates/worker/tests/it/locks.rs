//! The per-message locks a batch takes: few enough for PostgreSQL's shared
//! lock table however large the batch, and still exclusive where they must be.

use crate::helpers::envelope;
use deadpool_postgres::Transaction;
use inlet_domain::event::{Direction, DomainEvent, EventBody, Message};
use inlet_domain::repository::{lock_messages, Client, RepoError};
use inlet_domain::Provider;
use inlet_testkit::{eventually, TestDb};
use inlet_worker::handlers::{apply_all, Item};
use std::time::Duration;

/// Advisory locks the backend `pid` holds.
async fn advisory_locks(watcher: &Client, pid: i32) -> i64 {
    watcher
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1",
            &[&pid],
        )
        .await
        .expect("pg_locks")
        .get(0)
}

/// Locks `ids` in `tx` and returns how many advisory locks its backend holds.
async fn lock_and_count(tx: &Transaction<'_>, watcher: &Client, ids: &[&str]) -> i64 {
    let pid: i32 = tx
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    lock_messages(tx, &meta(ids)).await.expect("locked");
    advisory_locks(watcher, pid).await
}

/// Fails unless `result` is a lock wait cut short (a transient conflict).
fn assert_waited(result: Result<(), RepoError>) {
    assert!(
        matches!(result, Err(ref e) if e.is_transient()),
        "{result:?}"
    );
}

/// Locks `ids` in a fresh transaction on `client` that gives up on a lock
/// after 300 ms, then rolls back.
async fn try_lock(client: &mut Client, ids: &[&str]) -> Result<(), RepoError> {
    let tx = client.transaction().await.expect("transaction");
    tx.batch_execute("SET LOCAL lock_timeout = '300ms'")
        .await
        .expect("lock timeout");
    lock_messages(&tx, &meta(ids)).await
}

/// Meta message ids, as locked.
fn meta<'a>(ids: &[&'a str]) -> Vec<(Provider, &'a str)> {
    ids.iter().map(|id| (Provider::Meta, *id)).collect()
}

#[tokio::test]
async fn a_batch_of_thousands_of_messages_takes_few_locks_and_still_excludes_the_others() {
    let db = TestDb::new().await.expect("db");
    let watcher = db.client().await.expect("client");
    let mut other = db.client().await.expect("client");

    // A large batch: 5,000 ids (five Meta webhooks of a thousand statuses).
    let ids: Vec<String> = (0..5_000).map(|i| format!("wamid.large.{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut large = db.client().await.expect("client");
    let tx = large.transaction().await.expect("transaction");
    let held = lock_and_count(&tx, &watcher, &ids).await;
    assert!((1..=256).contains(&held), "{held} advisory locks");
    // A small batch with one of its messages waits for it...
    assert_waited(try_lock(&mut other, &["wamid.large.42"]).await);
    tx.commit().await.expect("commit");
    // ...and goes once it has committed.
    try_lock(&mut other, &["wamid.large.42"])
        .await
        .expect("locked after the commit");

    // A small batch holds its messages against a large one too.
    let mut small = db.client().await.expect("client");
    let tx = small.transaction().await.expect("transaction");
    let held = lock_and_count(&tx, &watcher, &["wamid.large.7", "wamid.small"]).await;
    assert!((2..=4).contains(&held), "{held} advisory locks");
    assert_waited(try_lock(&mut other, &ids).await);
    // Small batches without a common message do not wait for each other,
    // whatever bucket their ids share.
    let others: Vec<String> = (0..200).map(|i| format!("wamid.other.{i}")).collect();
    let others: Vec<&str> = others.iter().map(String::as_str).collect();
    try_lock(&mut other, &others)
        .await
        .expect("no common message: no wait");
    // The same message does.
    assert_waited(try_lock(&mut other, &["wamid.small"]).await);
    tx.commit().await.expect("commit");
}

/// The bucket (of [`BUCKET_CLASS`]) a message's key hashes into, as the
/// repository computes it.
async fn bucket(client: &Client, provider: Provider, id: &str) -> i32 {
    client
        .query_one(
            "SELECT (hashtextextended($1, 0) & 255)::int4",
            &[&format!("{}:{id}", provider.as_str())],
        )
        .await
        .expect("bucket")
        .get(0)
}

/// The first key of the repository's bucket locks.
const BUCKET_CLASS: i32 = 0x696e_6c74;

fn inbound(provider: Provider, id: &str) -> DomainEvent {
    DomainEvent {
        provider,
        line_id: Some("L1".into()),
        body: EventBody::Message(Message {
            provider_message_id: id.into(),
            direction: Direction::Inbound,
            from_address: Some("16505551234".into()),
            to_address: Some("15550783881".into()),
            contact: None,
            kind: "text".into(),
            body: Some("hi".into()),
            content: serde_json::json!({"body": "hi"}),
            context: None,
            status: None,
            sent_at: Some(chrono::Utc::now()),
            raw: serde_json::json!({}),
        }),
    }
}

/// A batch mixing providers takes its message locks in one order, whatever
/// the providers: it used to take them provider by provider, each in order,
/// so it could hold a later bucket (its bridge message's) while waiting for
/// an earlier one (its Meta message's) that a large batch held, the large
/// batch waiting in turn for the later one: a deadlock, and the batch redone
/// event by event. Here the test's transaction plays the large batch; the
/// batch's own session waits longer before looking for deadlocks, so that
/// the test's is the one PostgreSQL would cancel.
#[tokio::test]
async fn a_batch_of_two_providers_takes_its_message_locks_in_one_order() {
    let db = TestDb::new().await.expect("db");
    let watcher = db.client().await.expect("client");
    // A bridge message in a later bucket than a Meta message.
    let mut bridge_id = String::new();
    let mut meta_id = String::new();
    'search: for i in 0..64 {
        let b = format!("3EB0DL{i}");
        let high = bucket(&watcher, Provider::Bridge, &b).await;
        for j in 0..512 {
            let m = format!("wamid.dl.{j}");
            if bucket(&watcher, Provider::Meta, &m).await < high {
                (bridge_id, meta_id) = (b, m);
                break 'search;
            }
        }
    }
    assert!(!bridge_id.is_empty(), "no two such ids");
    let (low, high) = (
        bucket(&watcher, Provider::Meta, &meta_id).await,
        bucket(&watcher, Provider::Bridge, &bridge_id).await,
    );

    // The large batch holds the earlier bucket.
    let mut large = db.client().await.expect("client");
    let large = large.transaction().await.expect("transaction");
    large
        .batch_execute("SET LOCAL deadlock_timeout = '200ms'")
        .await
        .expect("deadlock timeout");
    large
        .execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[&BUCKET_CLASS, &low],
        )
        .await
        .expect("earlier bucket");

    // The mixed batch starts, and waits.
    let (bridge_meta, meta_meta) = (envelope(Provider::Bridge), envelope(Provider::Meta));
    let (bridge_events, meta_events) = (
        vec![inbound(Provider::Bridge, &bridge_id)],
        vec![inbound(Provider::Meta, &meta_id)],
    );
    let mut mixed = db.client().await.expect("client");
    let batch = async {
        let tx = mixed.transaction().await.expect("transaction");
        tx.batch_execute("SET LOCAL deadlock_timeout = '10s'")
            .await
            .expect("deadlock timeout");
        let items = [
            Item {
                meta: &bridge_meta,
                events: &bridge_events,
            },
            Item {
                meta: &meta_meta,
                events: &meta_events,
            },
        ];
        apply_all(&tx, &items).await.expect("applied");
        tx.commit().await.expect("committed");
    };
    let large_batch = async {
        let waiting = eventually(Duration::from_secs(15), || async {
            let n: i64 = watcher
                .query_one(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                    &[],
                )
                .await
                .expect("pg_locks")
                .get(0);
            (n > 0).then_some(())
        })
        .await;
        assert!(waiting.is_some(), "the mixed batch never waited");
        // The large batch goes on to the later bucket.
        let later = large
            .execute(
                "SELECT pg_advisory_xact_lock($1, $2)",
                &[&BUCKET_CLASS, &high],
            )
            .await;
        assert!(later.is_ok(), "deadlock: {later:?}");
        large.commit().await.expect("committed");
    };
    tokio::join!(batch, large_batch);
    let stored: i64 = watcher
        .query_one("SELECT count(*) FROM messages", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored, 2);
}
