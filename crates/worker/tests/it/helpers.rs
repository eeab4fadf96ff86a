//! `spawn_worker()`: an in-process worker on a database and a broker
//! namespace of the test's own, plus raw-event publishing and Meta fixtures.

use chrono::Utc;
use inlet_domain::broker::{connect, persistent_properties, publish_confirmed, EVENT_ROUTING_KEY};
use inlet_domain::envelope::EventMeta;
use inlet_domain::Provider;
use inlet_testkit::{TestBroker, TestDb};
use inlet_worker::config::Settings;
use inlet_worker::startup::Worker;
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long `eventually` waits in these tests.
pub const WAIT: Duration = Duration::from_secs(15);

/// A worker running in-process, and the services it works on.
pub struct TestWorker {
    /// The test's database.
    pub db: TestDb,
    /// The test's broker namespace.
    pub broker: TestBroker,
    /// The settings the worker was started with.
    pub settings: Settings,
    /// The probe server's port of the running worker (`/metrics`, `/readyz`).
    pub port: u16,
    publisher: Channel,
    connection: Connection,
    running: Option<(CancellationToken, JoinHandle<()>)>,
}

/// Settings for a worker on `db` and `broker`.
pub fn worker_settings(db: &TestDb, broker: &TestBroker) -> Settings {
    Settings {
        broker: broker.settings.clone(),
        database: db.settings.clone(),
        prefetch: 16,
        worker_metrics_addr: "127.0.0.1:0".into(),
        shutdown_timeout_secs: 5,
        queue_metrics_interval_secs: 1,
        ..Settings::default()
    }
}

/// A worker with default test settings, already consuming.
pub async fn spawn_worker() -> TestWorker {
    let broker = TestBroker::new().await.expect("broker namespace");
    spawn_on(broker, |_| {}).await
}

/// A worker on `broker`, its settings adjusted by `adjust`, already consuming.
pub async fn spawn_on(broker: TestBroker, adjust: impl FnOnce(&mut Settings)) -> TestWorker {
    inlet_domain::telemetry::init_for_tests();
    let db = TestDb::new().await.expect("test database");
    let mut settings = worker_settings(&db, &broker);
    adjust(&mut settings);
    let connection = connect(&broker.settings.amqp_url, "inlet-test-publisher")
        .await
        .expect("broker connection");
    let publisher = connection.create_channel().await.expect("channel");
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    let mut worker = TestWorker {
        db,
        broker,
        settings,
        port: 0,
        publisher,
        connection,
        running: None,
    };
    worker.start().await;
    worker
}

impl TestWorker {
    /// Starts (or restarts) the worker with its settings.
    pub async fn start(&mut self) {
        assert!(self.running.is_none(), "worker already running");
        let shutdown = CancellationToken::new();
        let worker = Worker::build(self.settings.clone(), shutdown.clone())
            .await
            .expect("worker builds");
        self.port = worker.port();
        let handle = tokio::spawn(async move {
            worker.run_until_stopped().await.expect("worker runs");
        });
        self.running = Some((shutdown, handle));
    }

    /// Tells the worker to stop (as SIGTERM does) without waiting for it.
    pub fn begin_stop(&self) {
        if let Some((shutdown, _)) = &self.running {
            shutdown.cancel();
        }
    }

    /// Cancels the worker and waits until it has stopped.
    pub async fn stop(&mut self) {
        if let Some((shutdown, handle)) = self.running.take() {
            shutdown.cancel();
            handle.await.expect("worker task");
        }
    }

    /// Publishes a raw body into the ingest exchange as the gateway would.
    pub async fn publish(&self, meta: &EventMeta, body: &[u8]) {
        self.publish_raw(body, persistent_properties(meta)).await;
    }

    /// Publishes events as one pack, as the gateway does with webhooks that
    /// arrive together.
    pub async fn publish_pack(&self, events: &[(EventMeta, Vec<u8>)]) {
        let body = inlet_domain::pack::encode(events.iter().map(|(m, b)| (m, b.as_slice())));
        self.publish_raw(
            &body,
            inlet_domain::pack::properties(events.len(), "test-pack"),
        )
        .await;
    }

    /// Publishes `body` with exactly these properties.
    pub async fn publish_raw(&self, body: &[u8], properties: lapin::BasicProperties) {
        publish_confirmed(
            &self.publisher,
            &self.broker.topology().ingest_exchange(),
            EVENT_ROUTING_KEY,
            body,
            properties,
            true,
            Duration::from_secs(5),
        )
        .await
        .expect("event published");
    }

    /// Publishes a Meta body under a fresh envelope; returns the envelope.
    pub async fn publish_meta(&self, body: &[u8]) -> EventMeta {
        let meta = envelope(Provider::Meta);
        self.publish(&meta, body).await;
        meta
    }

    /// The single number `sql` returns (-1 when it returns no row).
    pub async fn count(&self, sql: &str) -> i64 {
        let client = self.db.client().await.expect("client");
        let row = client.query_opt(sql, &[]).await.expect(sql);
        row.map_or(-1, |r| r.get(0))
    }

    /// Waits until `sql` returns `want`; panics with the last value if it never does.
    pub async fn wait_for_count(&self, sql: &str, want: i64) {
        let reached = inlet_testkit::eventually(WAIT, || async {
            (self.count(sql).await == want).then_some(())
        })
        .await;
        assert!(
            reached.is_some(),
            "{sql} stayed at {} (wanted {want})",
            self.count(sql).await
        );
    }

    /// The worker's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        reqwest::get(url)
            .await
            .expect("metrics reachable")
            .text()
            .await
            .expect("metrics text")
    }

    /// Publishes a raw body with no Inlet headers at all (not from a gateway).
    pub async fn publish_without_envelope(&self, body: &[u8]) {
        self.publish_raw(
            body,
            lapin::BasicProperties::default().with_delivery_mode(2),
        )
        .await;
    }

    /// Whether exchange `name` exists (a passive declare on a throwaway
    /// channel, since a failed one closes its channel).
    pub async fn exchange_exists(&self, name: &str) -> bool {
        let channel = self.connection.create_channel().await.expect("channel");
        let options = lapin::options::ExchangeDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let exists = channel
            .exchange_declare(
                name,
                lapin::ExchangeKind::Topic,
                options,
                lapin::types::FieldTable::default(),
            )
            .await
            .is_ok();
        let _ = channel.close(200, "checked").await;
        exists
    }

    /// Messages ready in `queue`.
    pub async fn ready(&self, queue: &str) -> u32 {
        self.broker.ready(queue).await.expect("queue exists")
    }

    /// Waits until the work queue has no ready deliveries left.
    pub async fn wait_until_drained(&self) {
        let queue = self.broker.topology().work_queue();
        let drained = inlet_testkit::eventually(WAIT, || async {
            (self.ready(&queue).await == 0).then_some(())
        })
        .await;
        assert!(drained.is_some(), "work queue never drained");
    }

    /// Stops the worker and removes the test's queues.
    pub async fn finish(mut self) {
        self.stop().await;
        let _ = self.connection.close(200, "test done").await;
        self.broker.cleanup().await.expect("cleanup");
    }
}

/// A fresh envelope for `provider`: unique dedup key, attempt 1.
pub fn envelope(provider: Provider) -> EventMeta {
    let id = uuid::Uuid::new_v4().simple().to_string();
    EventMeta {
        provider,
        line: None,
        line_unknown: false,
        source: None,
        received_at: Utc::now(),
        dedup_key: format!("{provider}:{id}"),
        correlation_id: id,
        attempt: 1,
    }
}

/// A worker on `broker` whose database sessions give up on a lock after
/// 200 ms, consuming while the test holds `messages` locked: storing a
/// message fails transiently until the lock is released.
pub async fn spawn_with_messages_locked(broker: TestBroker) -> (TestWorker, TableLock) {
    let mut worker = spawn_on(broker, |_| {}).await;
    // Restart on a database URL whose sessions give up on locks after 200 ms.
    worker.stop().await;
    worker.settings.database.database_url =
        with_lock_timeout(&worker.settings.database.database_url, 200);
    let lock = TableLock::messages(&worker.db).await;
    worker.start().await;
    (worker, lock)
}

/// The database URL of `settings` with `lock_timeout` set for every session,
/// so that a statement waiting on a lock the test holds fails quickly (a real
/// transient failure: SQLSTATE 55P03).
pub fn with_lock_timeout(url: &str, ms: u64) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20lock_timeout%3D{ms}")
}

/// A transaction on its own connection holding `LOCK TABLE … IN ACCESS
/// EXCLUSIVE MODE` until [`TableLock::release`].
pub struct TableLock {
    client: tokio_postgres::Client,
}

impl TableLock {
    /// Takes the lock on `messages`.
    pub async fn messages(db: &TestDb) -> Self {
        Self::table(db, "messages").await
    }

    /// Takes the lock on `table`.
    pub async fn table(db: &TestDb, table: &str) -> Self {
        let (client, connection) =
            tokio_postgres::connect(&db.settings.database_url, tokio_postgres::NoTls)
                .await
                .expect("lock connection");
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"
            ))
            .await
            .expect("table locked");
        TableLock { client }
    }

    /// Ends the transaction, releasing the lock.
    pub async fn release(self) {
        self.client
            .batch_execute("ROLLBACK")
            .await
            .expect("unlocked");
    }
}

/// Declares a queue of the test's own bound to `routing_key` on the domain
/// exchange, as a downstream consumer would; returns its name.
pub async fn bind_listener(broker: &TestBroker, routing_key: &str) -> String {
    use lapin::options::{QueueBindOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;

    let topology = broker.topology();
    let queue = format!("{}listener.{routing_key}", topology.prefix());
    broker
        .channel
        .queue_declare(
            &queue,
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("listener queue");
    broker
        .channel
        .queue_bind(
            &queue,
            &topology.domain_exchange(),
            routing_key,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bound");
    queue
}

/// Deletes a queue made by [`bind_listener`]: the broker's cleanup knows only
/// the topology's own queues.
pub async fn delete_listener(broker: &TestBroker, queue: &str) {
    let _ = broker
        .channel
        .queue_delete(queue, lapin::options::QueueDeleteOptions::default())
        .await;
}

/// The events a worker's `/metrics` text counts as retried, all providers
/// and types together.
pub fn retried_events(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("inlet_worker_events_total{") && l.contains(r#"outcome="retried""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Makes the database refuse writes (or take them again) and ends every
/// session on it, so the pools reconnect under the change, as in a failover.
/// From a connection of its own to another database: a session of the test
/// database's pool would survive and go back to the pool writable.
pub async fn set_read_only(db: &TestDb, on: bool) {
    let (admin, connection) =
        tokio_postgres::connect(&inlet_testkit::admin_database_url(), tokio_postgres::NoTls)
            .await
            .expect("admin connection");
    tokio::spawn(connection);
    let name = db.name();
    let change = if on {
        format!(r#"ALTER DATABASE "{name}" SET default_transaction_read_only = on"#)
    } else {
        format!(r#"ALTER DATABASE "{name}" RESET default_transaction_read_only"#)
    };
    admin.batch_execute(&change).await.expect("alter database");
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .expect("end the database's sessions");
    tokio::time::sleep(Duration::from_millis(500)).await;
}
