//! Fault injection: real load through a gateway process and worker
//! processes, something broken mid-stream, then every 200 reconciled against
//! the database.
//!
//! - [`outage`]: stopping or freezing a shared service, with a guard that brings it back.
//! - [`resend`]: what a provider does with a request not answered 200.
//! - [`reconcile`]: accepted ids against stored rows.
//! - [`ChaosReport`]: what a scenario measured, printed as a table row.
//!
//! Every scenario runs on its own database and broker namespace. Scenarios
//! that stop a shared service must not run beside other tests (see
//! `scripts/fault-tests.sh`).

pub mod outage;
pub mod reconcile;
mod report;
pub mod resend;

pub use report::{ChaosReport, TABLE_HEADER};

use crate::bodies::{Sender, SignedRequest, Signer};
use crate::load::{run as run_load, LoadPlan, MakeRequest, Pace};
use crate::procs::Proc;
use crate::stack::{
    broker_namespace, delete_namespace, start_gateway, start_gateway_on, start_worker, Launch,
};
use inlet_testkit::TestDb;
use outage::{Fault, Outage, SharedService};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What to break.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// kill -9 the only worker mid-stream, start a new one.
    KillWorker,
    /// Two workers, kill -9 one, keep the other.
    KillOneOfTwo,
    /// `rabbitmqctl stop_app` for the outage, then `start_app`.
    StopRabbitmq,
    /// Stop PostgreSQL for the outage, then start it.
    StopPostgres,
    /// Stop Redis for the outage, then start it.
    StopRedis,
    /// Freeze RabbitMQ (SIGSTOP) for the outage: connections open, nothing answers.
    FreezeRabbitmq,
    /// Freeze PostgreSQL (SIGSTOP, every backend) for the outage.
    FreezePostgres,
    /// Freeze Redis (SIGSTOP) for the outage.
    FreezeRedis,
    /// Every message sent twice (different bytes), statuses out of order, no fault.
    Duplicates,
    /// SIGTERM the gateway mid-stream (a deploy), start a new one on its port.
    RestartGateway,
    /// kill -9 the gateway mid-stream (a crash), start a new one on its port.
    KillGateway,
}

impl Scenario {
    /// Every scenario, in report order.
    pub const ALL: [Scenario; 11] = [
        Scenario::KillWorker,
        Scenario::KillOneOfTwo,
        Scenario::StopRabbitmq,
        Scenario::StopPostgres,
        Scenario::StopRedis,
        Scenario::FreezeRabbitmq,
        Scenario::FreezePostgres,
        Scenario::FreezeRedis,
        Scenario::Duplicates,
        Scenario::RestartGateway,
        Scenario::KillGateway,
    ];

    /// Whether it stops or freezes a service every other test shares.
    pub fn stops_a_shared_service(self) -> bool {
        self.outage().is_some()
    }

    fn outage(self) -> Option<(SharedService, Fault)> {
        match self {
            Scenario::StopRabbitmq => Some((SharedService::RabbitMq, Fault::Stop)),
            Scenario::StopPostgres => Some((SharedService::Postgres, Fault::Stop)),
            Scenario::StopRedis => Some((SharedService::Redis, Fault::Stop)),
            Scenario::FreezeRabbitmq => Some((SharedService::RabbitMq, Fault::Freeze)),
            Scenario::FreezePostgres => Some((SharedService::Postgres, Fault::Freeze)),
            Scenario::FreezeRedis => Some((SharedService::Redis, Fault::Freeze)),
            _ => None,
        }
    }
}

/// How long a stopping gateway may take to answer what it has taken in.
const GATEWAY_GRACE: Duration = Duration::from_secs(10);

/// How hard and how long.
#[derive(Clone, Debug)]
pub struct ChaosOptions {
    /// How to start gateway and workers.
    pub launch: Launch,
    /// Requests per second.
    pub rate: f64,
    /// How long load runs.
    pub duration: Duration,
    /// How long the fault lasts (outages, or a killed worker staying dead).
    pub outage: Duration,
    /// How long to wait, after the load, for every 200 to be stored.
    pub settle: Duration,
}

impl ChaosOptions {
    /// The small version that runs in `just test`: seconds, not minutes.
    pub fn small(exe: std::path::PathBuf, label: &str) -> Self {
        ChaosOptions {
            launch: Launch {
                exe,
                label: label.to_owned(),
                gateway_env: Vec::new(),
                worker_env: Vec::new(),
            },
            rate: 100.0,
            duration: Duration::from_secs(6),
            outage: Duration::from_secs(2),
            settle: Duration::from_secs(60),
        }
    }
}

/// For the duplicates scenario: request `n` is step `n % 5` for message `n / 5`.
fn duplicates_maker(signer: Arc<Signer>) -> MakeRequest {
    Arc::new(move |n| -> SignedRequest {
        let id = signer.message_id(n / 5);
        let ts = chrono::Utc::now().timestamp();
        match n % 5 {
            0 => signer.meta_message(&id, ts),
            // Read before sent and delivered: the stored status must end at read.
            1 => signer.meta_status(&id, "read", ts + 3),
            2 => signer.meta_message(&id, ts + 1),
            3 => signer.meta_status(&id, "sent", ts + 1),
            _ => signer.meta_status(&id, "delivered", ts + 2),
        }
    })
}

/// Runs one scenario end to end and reconciles.
pub async fn run(scenario: Scenario, opts: &ChaosOptions) -> anyhow::Result<ChaosReport> {
    let db = TestDb::new().await?;
    // Retries must outlast the outage, or a passing outage would dead-letter.
    let broker = broker_namespace("chaos", vec![1, 2, 4, 8, 16]).await?;
    let result = run_on(scenario, opts, &db, &broker).await;
    // Clean up on success and failure alike; the services are back by now.
    let _ = delete_namespace(&broker).await;
    result
}

async fn run_on(
    scenario: Scenario,
    opts: &ChaosOptions,
    db: &TestDb,
    broker: &inlet_domain::settings::BrokerSettings,
) -> anyhow::Result<ChaosReport> {
    let (mut gateway, base) = start_gateway(&opts.launch, broker).await?;
    let worker_count = if scenario == Scenario::KillOneOfTwo {
        2
    } else {
        1
    };
    let mut workers = (0..worker_count)
        .map(|n| start_worker(&opts.launch, broker, db, n))
        .collect::<anyhow::Result<Vec<Proc>>>()?;

    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let signer = Arc::new(Signer::new(Sender::Meta, &run_id[..12])?);
    let make: MakeRequest = if scenario == Scenario::Duplicates {
        duplicates_maker(signer.clone())
    } else {
        let s = signer.clone();
        Arc::new(move |n| s.request(n))
    };
    let plan = LoadPlan {
        base_url: base.clone(),
        concurrency: 16,
        pace: Pace::Rate(opts.rate),
        duration: opts.duration,
        timeout: Duration::from_secs(15),
        track: true,
    };
    let load = {
        let make = make.clone();
        tokio::spawn(async move { run_load(&plan, make).await })
    };

    // The fault, a third of the way in.
    tokio::time::sleep(opts.duration / 3).await;
    let mut fault_end = Instant::now();
    match scenario {
        Scenario::KillWorker => {
            workers[0].kill9().await?;
            tokio::time::sleep(opts.outage).await;
            workers[0] = start_worker(&opts.launch, broker, db, 10)?;
            fault_end = Instant::now();
        }
        Scenario::KillOneOfTwo => {
            workers[1].kill9().await?;
            fault_end = Instant::now();
        }
        Scenario::StopRabbitmq
        | Scenario::StopPostgres
        | Scenario::StopRedis
        | Scenario::FreezeRabbitmq
        | Scenario::FreezePostgres
        | Scenario::FreezeRedis => {
            let (service, fault) = scenario
                .outage()
                .ok_or_else(|| anyhow::anyhow!("{scenario:?} names no outage"))?;
            let mut outage =
                tokio::task::spawn_blocking(move || Outage::begin(service, fault)).await??;
            tokio::time::sleep(opts.outage).await;
            outage = tokio::task::spawn_blocking(move || outage.end().map(|()| outage)).await??;
            drop(outage);
            fault_end = Instant::now();
        }
        Scenario::Duplicates => {}
        Scenario::RestartGateway => {
            // As a deploy does: the old process answers what it has taken in
            // and exits, then the new one binds the same port. Requests sent
            // in between find nobody listening (the provider would retry).
            gateway.stop(GATEWAY_GRACE).await;
            gateway = start_gateway_on(&opts.launch, broker, port_of(&base)?)
                .await?
                .0;
            fault_end = Instant::now();
        }
        Scenario::KillGateway => {
            // A crash: requests in flight get no answer, the claims it made
            // stay in Redis until they expire (copies get 409 meanwhile), and
            // done marks on their way are lost.
            gateway.kill9().await?;
            gateway = start_gateway_on(&opts.launch, broker, port_of(&base)?)
                .await?
                .0;
            fault_end = Instant::now();
        }
    }

    let report = load.await??;
    // Then what a provider does: every request not answered 200 is sent
    // again until it is, so every event sent must end up stored.
    let answered: BTreeSet<u64> = report
        .outcomes
        .iter()
        .filter(|o| o.status == 200)
        .map(|o| o.n)
        .collect();
    let pending: BTreeSet<u64> = report
        .outcomes
        .iter()
        .map(|o| o.n)
        .filter(|n| !answered.contains(n))
        .collect();
    let resent = resend::until_accepted(&base, &make, pending, 16, opts.settle).await?;
    let load_end = Instant::now();
    if scenario == Scenario::Duplicates {
        // No fault: "recovery" is how long the backlog took to drain after the load.
        fault_end = Instant::now();
    }
    let step_is_message = |n: u64| scenario != Scenario::Duplicates || matches!(n % 5, 0 | 2);
    let message_of = |n: u64| {
        signer.message_id(if scenario == Scenario::Duplicates {
            n / 5
        } else {
            n
        })
    };
    let accepted_steps = || answered.iter().chain(&resent.accepted).copied();
    let accepted: BTreeSet<String> = accepted_steps()
        .filter(|&n| step_is_message(n))
        .map(message_of)
        .collect();
    let read_accepted: BTreeSet<String> = accepted_steps()
        .filter(|&n| scenario == Scenario::Duplicates && n % 5 == 1)
        .map(message_of)
        .collect();

    // Statuses only move forward, so every message whose `read` was accepted
    // ends `read`, whatever order its statuses came in; no status at all is a
    // status lost.
    let regressions = |stored: &reconcile::Stored| {
        read_accepted
            .iter()
            .filter(|id| !matches!(stored.status.get(*id), Some(Some(s)) if s == "read"))
            .count()
    };
    // Wait until every 200 is stored, statuses included (or the settle time is over).
    let prefix = signer.id_prefix();
    let all_stored = inlet_testkit::eventually(opts.settle, || async {
        let stored = reconcile::stored(db, &prefix).await.ok()?;
        (reconcile::tally(&accepted, &stored).missing.is_empty() && regressions(&stored) == 0)
            .then(Instant::now)
    })
    .await;
    let recovery = all_stored.map(|t| t.saturating_duration_since(fault_end));
    let drained = all_stored.map(|t| t.saturating_duration_since(load_end));
    // The gateway is back when it answers 200 again after the fault.
    let first_ok_after = report
        .outcomes
        .iter()
        .filter(|o| o.status == 200 && o.at >= fault_end)
        .map(|o| o.at)
        .min();
    let intake_recovery = first_ok_after.map(|t| t.duration_since(fault_end));
    // Let retries in flight finish so a late dead letter would be seen.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stored = reconcile::stored(db, &prefix).await?;
    let tally = reconcile::tally(&accepted, &stored);
    let status_regressions = regressions(&stored);
    let dead_lettered = dead_letters(broker).await?;

    gateway.stop(GATEWAY_GRACE).await;
    for w in workers {
        w.stop(Duration::from_secs(15)).await;
    }
    let count = |pred: &dyn Fn(u16) -> bool| {
        report
            .statuses
            .iter()
            .filter(|(s, _)| pred(**s))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    Ok(ChaosReport {
        scenario,
        requests: report.sent,
        ok: count(&|s| s == 200),
        unavailable: count(&|s| s == 503),
        other: count(&|s| s != 200 && s != 503) + report.errors,
        resent: resent.sent,
        refused: resent.refused.len(),
        tally,
        dead_lettered,
        recovery,
        drained,
        intake_recovery,
        status_regressions,
    })
}

/// The port of `http://host:port`, for a new gateway to take over.
fn port_of(base: &str) -> anyhow::Result<u16> {
    base.parse::<hyper::Uri>()?
        .port_u16()
        .ok_or_else(|| anyhow::anyhow!("no port in {base}"))
}

async fn dead_letters(broker: &inlet_domain::settings::BrokerSettings) -> anyhow::Result<u32> {
    let connection = inlet_domain::broker::connect(&broker.amqp_url, "inlet-chaos-inspect").await?;
    let channel = connection.create_channel().await?;
    let q = channel
        .queue_declare(
            &broker.topology().dead_queue(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await?;
    let _ = connection.close(200, "inspected").await;
    Ok(q.message_count())
}
