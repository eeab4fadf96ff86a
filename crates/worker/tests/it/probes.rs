//! The probe server of `inlet-worker run` and `inlet-worker deliver`: up
//! before migrations, and telling the truth about the broker.

use crate::helpers::{worker_settings, WAIT};
use inlet_testkit::{eventually, TestBroker, TestDb, ToggleProxy};

/// A port nothing listens on right now.
fn free_port() -> u16 {
    inlet_testkit::free_port().expect("a free port")
}
use inlet_worker::startup::Worker;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The key of the advisory lock every migrating process takes.
const MIGRATION_LOCK: i64 = 0x1e7_1e7;

/// The status code and JSON body of `GET path`, once the port answers.
async fn probe(port: u16, path: &str) -> Option<(u16, serde_json::Value)> {
    let resp = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.json().await.ok()?))
}

#[tokio::test]
async fn a_worker_waiting_for_another_process_to_migrate_answers_its_probes_and_stops_on_request() {
    inlet_domain::telemetry::init_for_tests();
    let db = TestDb::new().await.expect("database");
    let broker = TestBroker::new().await.expect("broker namespace");
    // Another process migrating: it holds the lock for as long as it takes.
    let holder = db.client().await.expect("client");
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .expect("lock taken");
    let port = free_port();
    let mut settings = worker_settings(&db, &broker);
    settings.worker_metrics_addr = format!("127.0.0.1:{port}");

    // Waiting, then let through.
    let shutdown = CancellationToken::new();
    let building = tokio::spawn(Worker::build(settings.clone(), shutdown.clone()));
    let alive = eventually(WAIT, || probe(port, "/healthz")).await;
    assert_eq!(alive.map(|(s, _)| s), Some(200), "alive while waiting");
    let ready = probe(port, "/readyz").await.map(|(s, _)| s);
    assert_eq!(ready, Some(503), "not ready while waiting");
    assert!(!building.is_finished(), "still waiting for the lock");
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .expect("lock released");
    let worker = tokio::time::timeout(WAIT, building)
        .await
        .expect("built once the lock is free")
        .expect("build task")
        .expect("worker builds");
    shutdown.cancel();
    worker.run_until_stopped().await.expect("worker stops");

    // Waiting, then stopped: the build gives up at once and the probe closes.
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .expect("lock taken again");
    let shutdown = CancellationToken::new();
    let building = tokio::spawn(Worker::build(settings, shutdown.clone()));
    assert!(eventually(WAIT, || probe(port, "/healthz")).await.is_some());
    shutdown.cancel();
    let stopped = tokio::time::timeout(WAIT, building)
        .await
        .expect("build returns once stopped")
        .expect("build task");
    assert!(
        stopped.is_err(),
        "a stopped build is an error, not a worker"
    );
    assert!(probe(port, "/healthz").await.is_none(), "probe closed");
    broker.cleanup().await.expect("cleanup");
}

/// The value of an unlabelled gauge on the probe server's `/metrics`.
async fn gauge(port: u16, name: &str) -> Option<i64> {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn a_worker_started_while_the_database_is_unreachable_waits_for_it_alive() {
    inlet_domain::telemetry::init_for_tests();
    let db = TestDb::new().await.expect("database");
    let broker = TestBroker::new().await.expect("broker namespace");
    let proxy = ToggleProxy::start("127.0.0.1:5432".parse().expect("addr"))
        .await
        .expect("proxy");
    proxy.cut();
    let port = free_port();
    let mut settings = worker_settings(&db, &broker);
    let direct = settings.database.database_url.clone();
    settings.database.database_url = direct.replace("127.0.0.1:5432", &proxy.addr().to_string());
    assert_ne!(settings.database.database_url, direct, "through the proxy");
    settings.worker_metrics_addr = format!("127.0.0.1:{port}");

    let shutdown = CancellationToken::new();
    let building = tokio::spawn(Worker::build(settings, shutdown.clone()));
    let alive = eventually(WAIT, || probe(port, "/healthz")).await;
    assert_eq!(alive.map(|(s, _)| s), Some(200), "alive while waiting");
    // Several connection attempts fail meanwhile; none may end the process.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!building.is_finished(), "still waiting for the database");
    let (status, body) = probe(port, "/readyz").await.expect("readyz answers");
    assert_eq!(
        (status, &body["database"]),
        (503, &serde_json::json!(false))
    );
    assert_eq!(gauge(port, "inlet_worker_starting").await, Some(1));

    proxy.restore();
    let worker = tokio::time::timeout(WAIT, building)
        .await
        .expect("built once the database answers")
        .expect("build task")
        .expect("worker builds");
    assert_eq!(gauge(port, "inlet_worker_starting").await, Some(0));
    let applied = db
        .client()
        .await
        .expect("client")
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .expect("history")
        .get::<_, i64>(0);
    assert!(applied > 0, "migrations applied once it could");
    let running = tokio::spawn(worker.run_until_stopped());
    let ready = eventually(WAIT, || async {
        probe(port, "/readyz")
            .await
            .filter(|(status, _)| *status == 200)
    })
    .await;
    assert!(ready.is_some(), "ready once it consumes");
    shutdown.cancel();
    running.await.expect("task").expect("worker stops");
    broker.cleanup().await.expect("cleanup");
}

/// A database that refuses the connection for a reason of its own (here it
/// does not exist yet; a rejected password or `pg_hba` rule is the same kind
/// of error) is waited for too: it says nothing about the events, and the
/// operator's fix makes the next attempt succeed.
#[tokio::test]
async fn a_worker_whose_database_does_not_exist_yet_waits_and_migrates_it_once_created() {
    inlet_domain::telemetry::init_for_tests();
    let db = TestDb::new().await.expect("database");
    let broker = TestBroker::new().await.expect("broker namespace");
    let later = format!("inlet_test_{}", uuid::Uuid::new_v4().simple());
    let port = free_port();
    let mut settings = worker_settings(&db, &broker);
    let url = settings.database.database_url.clone();
    let Some((prefix, _)) = url.rsplit_once('/') else {
        panic!("no database in {url}");
    };
    settings.database.database_url = format!("{prefix}/{later}");
    settings.worker_metrics_addr = format!("127.0.0.1:{port}");

    let shutdown = CancellationToken::new();
    let building = tokio::spawn(Worker::build(settings, shutdown.clone()));
    assert!(eventually(WAIT, || probe(port, "/healthz")).await.is_some());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!building.is_finished(), "still waiting for its database");

    let (admin, connection) =
        tokio_postgres::connect(&inlet_testkit::admin_database_url(), tokio_postgres::NoTls)
            .await
            .expect("admin connection");
    tokio::spawn(connection);
    admin
        .simple_query(&format!("CREATE DATABASE \"{later}\""))
        .await
        .expect("create database");
    let worker = tokio::time::timeout(WAIT, building)
        .await
        .expect("built once the database exists")
        .expect("build task")
        .expect("worker builds");
    assert_eq!(gauge(port, "inlet_worker_starting").await, Some(0));
    shutdown.cancel();
    worker.run_until_stopped().await.expect("worker stops");
    admin
        .simple_query(&format!("DROP DATABASE IF EXISTS \"{later}\" WITH (FORCE)"))
        .await
        .expect("drop database");
    broker.cleanup().await.expect("cleanup");
}

/// A worker whose every database connection is busy (here each waits on a
/// lock the test holds) is still ready, and says so within the probe's
/// timeout: before, the ping queued for a connection for the pool's whole
/// wait (5 s), so the probe timed out and a busy worker looked unready.
#[tokio::test]
async fn a_worker_with_every_connection_busy_answers_ready_in_time() {
    let broker = TestBroker::new().await.expect("broker namespace");
    let mut worker = crate::helpers::spawn_on(broker, |s| {
        s.database.database_pool_size = 2;
        s.batch_size = 1;
    })
    .await;
    worker.stop().await;
    let lock = crate::helpers::TableLock::messages(&worker.db).await;
    worker.start().await;
    for n in 0..8 {
        let body = crate::fixtures::meta_text(
            &format!("wamid.busy.{n}"),
            &format!("1650555{n:04}"),
            "hi",
            1_749_416_383,
        );
        worker.publish_meta(&body).await;
    }
    // Both connections held by batches waiting on the lock.
    let held = eventually(WAIT, || async {
        let text = worker.metrics().await;
        text.contains("inlet_worker_db_pool_in_use 2").then_some(())
    })
    .await;
    assert!(held.is_some(), "the pool never filled");

    // Well under the old 5 s wait, with room over the 1 s ping on a loaded machine.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(4))
        .build()
        .expect("client");
    let answer = http
        .get(format!("http://127.0.0.1:{}/readyz", worker.port))
        .send()
        .await
        .expect("answered within the probe's 2 s");
    assert_eq!(answer.status(), 200);
    lock.release().await;
    worker
        .wait_for_count("SELECT count(*) FROM messages", 8)
        .await;
    worker.finish().await;
}

#[tokio::test]
async fn a_delivery_worker_reports_whether_it_reaches_the_broker() {
    inlet_domain::telemetry::init_for_tests();
    let db = TestDb::new().await.expect("database");
    let broker = TestBroker::new().await.expect("broker namespace");
    let run = |amqp_url: String| {
        let port = free_port();
        let mut settings = worker_settings(&db, &broker);
        settings.broker.amqp_url = amqp_url;
        settings.worker_metrics_addr = format!("127.0.0.1:{port}");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(inlet_worker::delivery::run_standalone(
            settings,
            shutdown.clone(),
        ));
        (port, shutdown, task)
    };

    // No broker where it points.
    let (port, shutdown, task) = run(format!("amqp://guest:guest@127.0.0.1:{}/%2f", free_port()));
    assert!(eventually(WAIT, || probe(port, "/healthz")).await.is_some());
    // Long enough for its connection attempts to have failed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, body) = probe(port, "/readyz").await.expect("readyz answers");
    assert_eq!(
        (status, &body["broker"]),
        (503, &serde_json::json!(false)),
        "{body}"
    );
    shutdown.cancel();
    task.await.expect("task").expect("stops cleanly");

    // The broker it should reach.
    let (port, shutdown, task) = run(broker.settings.amqp_url.clone());
    let ready = eventually(WAIT, || async {
        probe(port, "/readyz")
            .await
            .filter(|(status, _)| *status == 200)
    })
    .await;
    assert!(ready.is_some(), "ready once its fan-out consumes");
    shutdown.cancel();
    task.await.expect("task").expect("stops cleanly");
    broker.cleanup().await.expect("cleanup");
}
