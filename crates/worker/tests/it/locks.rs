//! The per-message locks a batch takes: few enough for PostgreSQL's shared
//! lock table however large the batch, and still exclusive where they must be.

use deadpool_postgres::Transaction;
use inlet_domain::repository::{lock_messages, Client, RepoError};
use inlet_domain::Provider;
use inlet_testkit::TestDb;

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
    lock_messages(tx, Provider::Meta, ids)
        .await
        .expect("locked");
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
    lock_messages(&tx, Provider::Meta, ids).await
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
