//! Two workers storing the same events at once (a redelivery while the first
//! still stores) wait for each other one way only, and leave what either
//! alone would have. Every table without a per-message lock is written in key
//! order, so neither can hold a later key while waiting for an earlier one the
//! other holds.
//!
//! The deadlock tests play the other worker with a transaction of their own:
//! it holds the key that sorts first, lets the batch start (given its events
//! in the opposite order) and wait, then takes the key that sorts second.
//! Written in batch order, the batch would hold that key already: a deadlock,
//! which PostgreSQL breaks by cancelling the test's transaction (its
//! `deadlock_timeout` is the shorter).
//!
//! The rename test runs the same race with other rows: the test's
//! transaction first holds the batch's message id, so the batch waits there
//! with its contact renamed, then stores a message of that contact.

use crate::handlers::inbound_from;
use crate::helpers::envelope;
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use futures::future::BoxFuture;
use inlet_domain::event::{AccountEvent, Call, Contact};
use inlet_domain::repository::audit::{record_events, Audited, Outcome};
use inlet_domain::repository::{
    insert_account_events, store_calls, upsert_contacts, Dated, RepoError,
};
use inlet_domain::Provider;
use inlet_testkit::{eventually, TestDb};
use inlet_worker::handlers::apply;
use std::time::Duration;

/// What the test's own transaction writes: first (for the deadlock tests, the
/// key that sorts first), then, once the batch waits, second (the key that
/// sorts second).
struct OtherWorker {
    first: String,
    second: String,
}

/// Stores the batch (for the deadlock tests, its events in the opposite of key order).
type Store = for<'a, 'b> fn(&'a Transaction<'b>) -> BoxFuture<'a, Result<(), RepoError>>;

/// Runs the race described in the module docs, after `setup` (committed
/// first), and returns the database.
async fn race(setup: &str, other: OtherWorker, store: Store) -> TestDb {
    let db = TestDb::new().await.expect("db");
    let watcher = db.client().await.expect("client");
    watcher.batch_execute(setup).await.expect("set up");

    let mut other_client = db.client().await.expect("client");
    let other_tx = other_client.transaction().await.expect("transaction");
    other_tx
        .batch_execute("SET LOCAL deadlock_timeout = '200ms'")
        .await
        .expect("deadlock timeout");
    other_tx
        .batch_execute(&other.first)
        .await
        .expect("first key");

    let mut batch_client = db.client().await.expect("client");
    let batch_pid: i32 = batch_client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let batch = async {
        let tx = batch_client.transaction().await.expect("transaction");
        tx.batch_execute("SET LOCAL deadlock_timeout = '10s'")
            .await
            .expect("deadlock timeout");
        store(&tx).await.expect("stored");
        tx.commit().await.expect("committed");
    };
    let other_worker = async {
        until_waiting(&watcher, batch_pid).await;
        let second = other_tx.batch_execute(&other.second).await;
        assert!(second.is_ok(), "deadlock: {second:?}");
        other_tx.commit().await.expect("committed");
    };
    tokio::join!(batch, other_worker);
    db
}

/// The rows of `table`.
async fn count(db: &TestDb, table: &str) -> i64 {
    let client = db.client().await.expect("client");
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .expect("count")
        .get(0)
}

fn call(id: &str) -> Call {
    Call {
        provider_call_id: id.into(),
        event: "call.completed".into(),
        direction: None,
        from_address: None,
        to_address: None,
        status: Some("completed".into()),
        started_at: None,
        completed_at: None,
        occurred_at: chrono::Utc::now(),
        data: serde_json::json!({}),
    }
}

#[tokio::test]
async fn two_workers_storing_the_same_call_events_at_once_do_not_deadlock() {
    fn store<'a>(tx: &'a Transaction<'_>) -> BoxFuture<'a, Result<(), RepoError>> {
        Box::pin(async move {
            let (b, a) = (call("AC-b"), call("AC-a"));
            store_calls(tx, Provider::OpenPhone, &[(None, &b), (None, &a)]).await
        })
    }
    let insert = |id: &str| {
        format!(
            "INSERT INTO call_events (provider, provider_call_id, event, occurred_at, data)
             VALUES ('openphone', '{id}', 'call.completed', now(), '{{}}')"
        )
    };
    let db = race(
        "",
        OtherWorker {
            first: insert("AC-a"),
            second: insert("AC-b"),
        },
        store,
    )
    .await;
    assert_eq!(count(&db, "call_events").await, 2);
}

fn account_event(key: &str) -> AccountEvent {
    AccountEvent {
        field: "message_template_status_update".into(),
        event: Some("APPROVED".into()),
        event_key: key.into(),
        occurred_at: chrono::Utc::now(),
        data: serde_json::json!({}),
    }
}

#[tokio::test]
async fn two_workers_storing_the_same_account_events_at_once_do_not_deadlock() {
    fn store<'a>(tx: &'a Transaction<'_>) -> BoxFuture<'a, Result<(), RepoError>> {
        Box::pin(async move {
            let (b, a) = (account_event("key-b"), account_event("key-a"));
            insert_account_events(tx, Provider::Meta, &[(None, &b), (None, &a)]).await
        })
    }
    let insert = |key: &str| {
        format!(
            "INSERT INTO account_events (provider, field, event_key, occurred_at, data)
             VALUES ('meta', 'message_template_status_update', '{key}', now(), '{{}}')"
        )
    };
    let db = race(
        "",
        OtherWorker {
            first: insert("key-a"),
            second: insert("key-b"),
        },
        store,
    )
    .await;
    assert_eq!(count(&db, "account_events").await, 2);
}

#[tokio::test]
async fn two_workers_recording_the_same_audit_rows_at_once_do_not_deadlock() {
    fn store<'a>(tx: &'a Transaction<'_>) -> BoxFuture<'a, Result<(), RepoError>> {
        Box::pin(async move {
            let (mut b, mut a) = (envelope(Provider::Meta), envelope(Provider::Meta));
            b.dedup_key = "meta:key-b".into();
            a.dedup_key = "meta:key-a".into();
            let row = |meta| Audited {
                meta,
                event_type: "message",
                outcome: Outcome::Processed,
                last_error: None,
            };
            record_events(tx, &[row(&b), row(&a)]).await
        })
    }
    let insert = |key: &str| {
        format!(
            "INSERT INTO webhook_events (provider, dedup_key, correlation_id, event_type,
                                         received_at, processed_at, outcome)
             VALUES ('meta', '{key}', 'other-worker', 'message', now(), now(), 'processed')"
        )
    };
    let db = race(
        "",
        OtherWorker {
            first: insert("meta:key-a"),
            second: insert("meta:key-b"),
        },
        store,
    )
    .await;
    assert_eq!(count(&db, "webhook_events").await, 2);
}

/// Waits until the backend `pid` waits for a lock.
async fn until_waiting(watcher: &deadpool_postgres::Client, pid: i32) {
    let waiting = eventually(Duration::from_secs(15), || async {
        let n: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = $1",
                &[&pid],
            )
            .await
            .expect("pg_locks")
            .get(0);
        (n > 0).then_some(())
    })
    .await;
    assert!(waiting.is_some(), "never waited");
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600 + secs, 0).expect("valid time")
}

/// A new contact named by two workers at once: the second finds the first's
/// row only once it is committed, outside its statement's snapshot, and
/// upserts it again; the newer name and user id stay either way.
#[tokio::test]
async fn two_workers_naming_a_new_contact_at_once_leave_the_newest_name() {
    for (first, second) in [(100, 200), (200, 100)] {
        let db = TestDb::new().await.expect("db");
        let watcher = db.client().await.expect("client");
        let contact = |secs: i64| Contact {
            address: "16505551234".into(),
            name: Some(format!("name at {secs}")),
            user_id: Some(format!("US.{secs}")),
        };
        let (a, b) = (contact(first), contact(second));

        let mut one = db.client().await.expect("client");
        let one = one.transaction().await.expect("transaction");
        let dated = [Dated {
            contact: &a,
            at: at(first),
        }];
        upsert_contacts(&one, inlet_domain::Provider::Meta, &dated)
            .await
            .expect("first worker");

        let mut other = db.client().await.expect("client");
        let pid: i32 = other
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .expect("pid")
            .get(0);
        let second_worker = async {
            let tx = other.transaction().await.expect("transaction");
            let dated = [Dated {
                contact: &b,
                at: at(second),
            }];
            let ids = upsert_contacts(&tx, inlet_domain::Provider::Meta, &dated)
                .await
                .expect("second worker");
            tx.commit().await.expect("committed");
            ids
        };
        let first_worker = async {
            until_waiting(&watcher, pid).await;
            one.commit().await.expect("committed");
        };
        let (ids, ()) = tokio::join!(second_worker, first_worker);
        assert_eq!(ids.len(), 1, "the contact's id");

        let row = watcher
            .query_one("SELECT name, user_id, count(*) OVER () FROM contacts", &[])
            .await
            .expect("contact");
        let (name, user_id, rows): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
        assert_eq!(rows, 1);
        assert_eq!(name, "name at 200", "first {first}");
        assert_eq!(user_id, "US.200", "first {first}");
    }
}

/// A worker renaming a contact does not hold off another worker storing a
/// message of that contact: the rename locks the row against other renames
/// only (`FOR NO KEY UPDATE`), not against the key check a new message's
/// foreign key makes. It used to lock it `FOR UPDATE`, so two workers each
/// renaming one contact and storing a message of the other's deadlocked.
/// Here the test's transaction is the other worker: it holds the batch's
/// message id (so the batch waits, its rename made), then stores a message
/// of the contact being renamed.
#[tokio::test]
async fn a_contact_being_renamed_does_not_hold_off_a_message_of_it() {
    fn store<'a>(tx: &'a Transaction<'_>) -> BoxFuture<'a, Result<(), RepoError>> {
        Box::pin(async move {
            let renaming = inbound_from("wamid.renaming", Some("name at 200"), None, 200);
            apply(tx, &envelope(Provider::Meta), &[renaming])
                .await
                .expect("stored");
            Ok(())
        })
    }
    // The first without a contact: its key check would lock the contact too.
    let message = |id: &str, contact: &str| {
        format!(
            "INSERT INTO messages (provider, provider_message_id, direction, kind, contact_id,
                                   received_at, raw)
             VALUES ('meta', '{id}', 'inbound', 'text', {contact}, now(), '{{}}')"
        )
    };
    let db = race(
        "INSERT INTO contacts (provider, address, name, name_at)
         VALUES ('meta', '16505551234', 'name at 100', '2026-01-01T00:01:40Z')",
        OtherWorker {
            first: message("wamid.renaming", "NULL"),
            second: message("wamid.other", "(SELECT id FROM contacts)"),
        },
        store,
    )
    .await;
    let client = db.client().await.expect("client");
    let name: String = client
        .query_one("SELECT name FROM contacts", &[])
        .await
        .expect("contact")
        .get(0);
    assert_eq!(name, "name at 200");
    assert_eq!(count(&db, "messages").await, 2);
}
