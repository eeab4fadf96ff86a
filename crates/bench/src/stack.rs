//! Throwaway services for one measurement: a broker namespace and a database
//! of their own, and gateway/worker processes pointed at them.

use crate::procs::{broker_env, free_port, gateway_secrets_env, wait_ready, Proc};
use crate::serve::Service;
use inlet_domain::broker::connect;
use inlet_domain::settings::BrokerSettings;
use inlet_testkit::TestDb;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Namespaces declared and not deleted yet. A run that fails or is
/// interrupted deletes them on its way out: a queue left behind keeps its
/// messages, and a broker holding a million of them is slower for every
/// later run.
static LIVE: Mutex<Vec<BrokerSettings>> = Mutex::new(Vec::new());

/// A broker namespace `<label>.<uuid>.` with the topology declared.
pub async fn broker_namespace(label: &str, delays: Vec<u64>) -> anyhow::Result<BrokerSettings> {
    let settings = BrokerSettings {
        amqp_url: inlet_testkit::amqp_url(),
        topology_prefix: format!("{label}.{}.", uuid::Uuid::new_v4().simple()),
        retry_delays_secs: delays,
        ..BrokerSettings::default()
    };
    let connection = connect(&settings.amqp_url, "inlet-bench-setup").await?;
    let channel = connection.create_channel().await?;
    // Registered first: a declaration that fails half way leaves queues too.
    if let Ok(mut live) = LIVE.lock() {
        live.push(settings.clone());
    }
    settings.topology().declare(&channel).await?;
    let _ = connection.close(200, "declared").await;
    Ok(settings)
}

/// Deletes the namespaces this process declared and has not deleted (after
/// a failure or an interrupt); returns how many.
pub async fn delete_live_namespaces() -> usize {
    let live = LIVE.lock().map(|l| l.clone()).unwrap_or_default();
    let mut deleted = 0;
    for settings in &live {
        match delete_namespace(settings).await {
            Ok(()) => deleted += 1,
            Err(error) => eprintln!(
                "could not delete broker namespace {}: {error:#}",
                settings.topology_prefix
            ),
        }
    }
    deleted
}

/// Deletes every queue and exchange of a namespace (on a fresh connection:
/// the one that declared it may not have survived a broker outage).
pub async fn delete_namespace(settings: &BrokerSettings) -> anyhow::Result<()> {
    let connection = connect(&settings.amqp_url, "inlet-bench-cleanup").await?;
    let channel = connection.create_channel().await?;
    settings.topology().delete(&channel).await?;
    // Declared by the workers' delivery consumers, not by the topology.
    inlet_domain::forward::queue::delete_deliveries(&channel, &settings.topology()).await?;
    let _ = connection.close(200, "deleted").await;
    if let Ok(mut live) = LIVE.lock() {
        live.retain(|l| l.topology_prefix != settings.topology_prefix);
    }
    Ok(())
}

/// Empties the namespace's work queue; returns how many messages it held.
/// The gateway phases run with no worker, so each leaves its webhooks queued;
/// a deployment's workers keep that queue short, and a paced phase is measured
/// from there, not behind the flat-out phase's backlog.
pub async fn purge_work_queue(settings: &BrokerSettings) -> anyhow::Result<u32> {
    let connection = connect(&settings.amqp_url, "inlet-bench-purge").await?;
    let channel = connection.create_channel().await?;
    let purged = channel
        .queue_purge(
            &settings.topology().work_queue(),
            lapin::options::QueuePurgeOptions::default(),
        )
        .await?;
    let _ = connection.close(200, "purged").await;
    Ok(purged)
}

/// What to start processes with.
#[derive(Clone, Debug)]
pub struct Launch {
    /// This binary (it serves gateway and worker).
    pub exe: PathBuf,
    /// A label for log file names.
    pub label: String,
    /// Extra `KEY=VALUE` variables for the gateway (e.g. dedup settings).
    pub gateway_env: Vec<(String, String)>,
    /// Extra variables for workers (e.g. `INLET_PREFETCH`).
    pub worker_env: Vec<(String, String)>,
}

/// Starts a gateway process on a free port and waits until it is ready.
pub async fn start_gateway(
    launch: &Launch,
    broker: &BrokerSettings,
) -> anyhow::Result<(Proc, String)> {
    start_gateway_on(launch, broker, free_port()?).await
}

/// Starts a gateway process on `port` (one a stopped gateway left, say) and
/// waits until it is ready.
pub async fn start_gateway_on(
    launch: &Launch,
    broker: &BrokerSettings,
    port: u16,
) -> anyhow::Result<(Proc, String)> {
    let mut env = broker_env(broker);
    env.extend(gateway_secrets_env());
    env.push(("INLET_GATEWAY_ADDR".into(), format!("127.0.0.1:{port}")));
    // Dedup keys of this namespace only, gone within the hour: a run leaves
    // hundreds of thousands, which would otherwise sit in Redis for a day.
    env.push((
        "INLET_DEDUP_PREFIX".into(),
        format!("{}dedup:", broker.topology_prefix),
    ));
    env.push(("INLET_DEDUP_TTL_SECS".into(), "3600".into()));
    env.extend(launch.gateway_env.iter().cloned());
    let proc = Proc::spawn(&launch.exe, Service::Gateway, &env, &launch.label)?;
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/readyz"), Duration::from_secs(30)).await?;
    Ok((proc, base))
}

/// Starts a worker process on `db`; `n` distinguishes its log file.
pub fn start_worker(
    launch: &Launch,
    broker: &BrokerSettings,
    db: &TestDb,
    n: usize,
) -> anyhow::Result<Proc> {
    let mut env = broker_env(broker);
    env.push((
        "INLET_DATABASE_URL".into(),
        db.settings.database_url.clone(),
    ));
    env.push(("INLET_WORKER_METRICS_ADDR".into(), "127.0.0.1:0".into()));
    env.extend(launch.worker_env.iter().cloned());
    Proc::spawn(
        &launch.exe,
        Service::Worker,
        &env,
        &format!("{}-{n}", launch.label),
    )
}

/// When the worker stored the rows of a drain: its first and its last
/// transaction's start (`stored_at` is `now()` of the transaction), in seconds
/// since the epoch, and how many rows in all and in the last transaction.
#[derive(Debug, Clone, Copy)]
pub struct DrainSpan {
    first: f64,
    last: f64,
    rows: i64,
    in_last: i64,
}

impl DrainSpan {
    /// Rows per second between the first and the last transaction's start.
    /// The last one's rows are not counted: its work lies after that instant.
    pub fn rate(&self) -> f64 {
        let secs = (self.last - self.first).max(f64::EPSILON);
        (self.rows - self.in_last) as f64 / secs
    }

    /// Seconds from `started` (since the epoch) to the first stored row.
    pub fn first_after(&self, started: f64) -> f64 {
        self.first - started
    }
}

/// The [`DrainSpan`] of the rows whose provider id starts with `prefix`.
pub async fn drain_span(db: &TestDb, prefix: &str) -> anyhow::Result<DrainSpan> {
    let client = db.client().await?;
    let row = client
        .query_one(
            "WITH m AS (SELECT stored_at FROM messages WHERE provider_message_id LIKE $1 || '%')
             SELECT extract(epoch FROM min(stored_at))::float8,
                    extract(epoch FROM max(stored_at))::float8,
                    count(*),
                    count(*) FILTER (WHERE stored_at = (SELECT max(stored_at) FROM m))
             FROM m",
            &[&prefix],
        )
        .await?;
    let first: Option<f64> = row.get(0);
    let last: Option<f64> = row.get(1);
    let (Some(first), Some(last)) = (first, last) else {
        anyhow::bail!("no rows stored under {prefix}");
    };
    Ok(DrainSpan {
        first,
        last,
        rows: row.get(2),
        in_last: row.get(3),
    })
}

/// Seconds since the epoch now, on the clock the database's `now()` reads.
pub fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Rows in `messages` whose provider id starts with `prefix`.
pub async fn stored(db: &TestDb, prefix: &str) -> anyhow::Result<i64> {
    let client = db.client().await?;
    let row = client
        .query_one(
            "SELECT count(*) FROM messages WHERE provider_message_id LIKE $1 || '%'",
            &[&prefix],
        )
        .await?;
    Ok(row.get(0))
}
