//! Test support on the real services: each test gets its own PostgreSQL
//! database and its own RabbitMQ name prefix, so tests run in parallel and
//! leave nothing behind.
//!
//! Service addresses come from `INLET_TEST_DATABASE_URL` (an admin URL,
//! default `postgres://postgres@127.0.0.1:5432/postgres`) and
//! `INLET_TEST_AMQP_URL` (default the local broker).

mod blackhole;
mod proxy;

pub use blackhole::Blackhole;
pub use proxy::ToggleProxy;

use inlet_domain::broker::{connect, QueueType, Topology};
use inlet_domain::repository::Repository;
use inlet_domain::settings::{BrokerSettings, DatabaseSettings};
use lapin::{Channel, Connection};
use std::time::Duration;

/// The admin URL tests create their databases through.
pub fn admin_database_url() -> String {
    std::env::var("INLET_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The broker tests use.
pub fn amqp_url() -> String {
    std::env::var("INLET_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A database of the test's own, migrated; dropped (forcefully) on drop.
pub struct TestDb {
    name: String,
    /// Settings pointing at the database.
    pub settings: DatabaseSettings,
    /// A repository over it.
    pub repo: Repository,
}

impl TestDb {
    /// Creates `inlet_test_<uuid>` and applies every migration.
    pub async fn new() -> anyhow::Result<Self> {
        let name = format!("inlet_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_client().await?;
        admin
            .simple_query(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        let base = admin_database_url();
        let url = match base.rsplit_once('/') {
            Some((prefix, _)) => format!("{prefix}/{name}"),
            None => anyhow::bail!("INLET_TEST_DATABASE_URL has no database part"),
        };
        let settings = DatabaseSettings {
            database_url: url,
            database_pool_size: 8,
            database_timeout_ms: 5_000,
            ..DatabaseSettings::default()
        };
        let repo = Repository::new(settings.pool()?);
        repo.migrate().await?;
        Ok(TestDb {
            name,
            settings,
            repo,
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A direct client on the test database, for assertions.
    pub async fn client(&self) -> anyhow::Result<deadpool_client::Client> {
        Ok(self.repo.client().await?)
    }
}

/// Re-exported so tests need no direct dependency on deadpool.
pub mod deadpool_client {
    pub use inlet_domain::repository::Client;
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.repo.pool().close();
        let name = self.name.clone();
        // Drop cannot await: a short-lived thread with its own runtime does it.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = admin_client().await {
                    let _ = admin
                        .simple_query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

async fn admin_client() -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) =
        tokio_postgres::connect(&admin_database_url(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// A broker namespace of the test's own: every exchange and queue name gets a
/// unique prefix. Call [`TestBroker::cleanup`] at the end of the test.
pub struct TestBroker {
    /// Settings carrying the prefix (quorum queues, short retry delays).
    pub settings: BrokerSettings,
    connection: Connection,
    /// A channel for the test's own declarations and inspections.
    pub channel: Channel,
}

impl TestBroker {
    /// A fresh prefix, with the topology declared, and 1-second retry delays.
    pub async fn new() -> anyhow::Result<Self> {
        Self::with_retry_delays(vec![1, 1, 1]).await
    }

    /// Like [`TestBroker::new`] with the given retry delays in seconds.
    pub async fn with_retry_delays(delays: Vec<u64>) -> anyhow::Result<Self> {
        Self::declared(QueueType::Quorum, delays).await
    }

    /// Like [`TestBroker::new`] with classic queues (`INLET_QUEUE_TYPE=classic`).
    pub async fn classic() -> anyhow::Result<Self> {
        Self::declared(QueueType::Classic, vec![1, 1, 1]).await
    }

    async fn declared(queue_type: QueueType, delays: Vec<u64>) -> anyhow::Result<Self> {
        let settings = BrokerSettings {
            amqp_url: amqp_url(),
            queue_type,
            topology_prefix: format!("test.{}.", uuid::Uuid::new_v4().simple()),
            retry_delays_secs: delays,
            delivery_limit: 20,
        };
        let connection = connect(&settings.amqp_url, "inlet-test").await?;
        let channel = connection.create_channel().await?;
        settings.topology().declare(&channel).await?;
        Ok(TestBroker {
            settings,
            connection,
            channel,
        })
    }

    /// The topology under this prefix.
    pub fn topology(&self) -> Topology {
        self.settings.topology()
    }

    /// Messages ready in `queue` (a passive declare).
    pub async fn ready(&self, queue: &str) -> anyhow::Result<u32> {
        let q = self
            .channel
            .queue_declare(
                queue,
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await?;
        Ok(q.message_count())
    }

    /// Deletes every queue and exchange under the prefix.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        // The forwarding queue is declared apart from the topology (deleting a
        // queue that was never declared is not an error).
        inlet_domain::forward::queue::delete_deliveries(&self.channel, &self.topology()).await?;
        self.topology().delete(&self.channel).await?;
        let _ = self.connection.close(200, "test done").await;
        Ok(())
    }
}

/// A free local port: bound, then released (another process could take it
/// meanwhile, which is rare enough for tests and benchmarks).
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Polls `check` every 50 ms until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
