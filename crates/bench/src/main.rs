//! `inlet-bench`: load generator, benchmark suite, fault injection.

use anyhow::Context;
use clap::{Parser, Subcommand};
use inlet_bench::bodies::{Sender, Signer};
use inlet_bench::chaos::{self, ChaosOptions, Scenario};
use inlet_bench::claim::{self, ClaimPlan};
use inlet_bench::load::{run, LoadPlan, Pace};
use inlet_bench::serve::{serve, Service};
use inlet_bench::stack::{self, Launch};
use inlet_bench::suite::{run_ceiling, run_suite, SuiteOptions};
use inlet_domain::repository::forwarding::ClaimLimits;
use inlet_worker::delivery::settings::DeliverySettings;
use std::sync::Arc;
use std::time::Duration;

// The allocator of the gateway and worker binaries, so that `serve` measures
// what ships (see docs/benchmarks.md, third session).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "inlet-bench",
    about = "Inlet's load generator, benchmark and fault injection"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send signed webhooks to a running gateway and report throughput and latency.
    Load {
        /// The gateway's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Which sender's webhooks to send (the gateway must know the bench secrets).
        #[arg(long, value_enum, default_value = "meta")]
        provider: Sender,
        /// Requests per second (latency from the intended send time); omit to go flat out.
        #[arg(long)]
        rate: Option<f64>,
        /// Connections, and requests in flight.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        duration: u64,
    },
    /// The whole benchmark: floor, broker ceiling, gateway, worker, end to end.
    All {
        /// Seconds per measured phase.
        #[arg(long, default_value_t = 15)]
        duration: u64,
        /// Connections for flat-out phases.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Publishes in flight for the broker ceiling.
        #[arg(long, default_value_t = 256)]
        in_flight: usize,
        /// Events pre-filled for the worker drain.
        #[arg(long, default_value_t = 30_000)]
        drain_messages: u64,
        /// Events per message in the drain (default: the mean pack the
        /// gateway published flat out; 1 for plain messages).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        drain_events_per_message: Option<u64>,
        /// Seconds of the gateway memory run (0 skips it).
        #[arg(long, default_value_t = 0)]
        rss_secs: u64,
        /// Extra `KEY=VALUE` settings for the gateway, e.g. to turn dedup on once it exists.
        #[arg(long = "gateway-env", value_parser = parse_kv)]
        gateway_env: Vec<(String, String)>,
        /// Extra `KEY=VALUE` settings for the worker, e.g. `INLET_PREFETCH=128`.
        #[arg(long = "worker-env", value_parser = parse_kv)]
        worker_env: Vec<(String, String)>,
    },
    /// The broker ceiling alone; `--events-per-message` packs several bodies into each publish.
    Ceiling {
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Publishes in flight.
        #[arg(long, default_value_t = 256)]
        in_flight: usize,
        /// Bodies in each message (1 is what the gateway publishes).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        events_per_message: u64,
    },
    /// Fault injection: load, break something, reconcile every 200 against the database.
    Chaos {
        /// Scenarios to run (default: all).
        #[arg(value_enum)]
        scenarios: Vec<Scenario>,
        /// Requests per second.
        #[arg(long, default_value_t = 300.0)]
        rate: f64,
        /// Seconds of load.
        #[arg(long, default_value_t = 40)]
        duration: u64,
        /// Seconds the fault lasts.
        #[arg(long, default_value_t = 10)]
        outage: u64,
    },
    /// The forwarding sender's claim: its time behind backlogs of due deliveries.
    Claim {
        /// Due deliveries waiting (half of them a disabled endpoint's), one measurement each.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "0,100,10000,100000,300000"
        )]
        backlogs: Vec<u64>,
        /// Enabled endpoints.
        #[arg(long, default_value_t = 100)]
        endpoints: u32,
        /// Claims timed per backlog.
        #[arg(long, default_value_t = 50)]
        claims: u32,
    },
    /// Serve the gateway or the worker (settings from `INLET_*`, as their own binaries do).
    Serve {
        /// Which.
        #[arg(value_enum)]
        service: Service,
    },
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s}"))
}

fn launch(
    label: &str,
    gateway_env: Vec<(String, String)>,
    worker_env: Vec<(String, String)>,
) -> anyhow::Result<Launch> {
    Ok(Launch {
        exe: std::env::current_exe().context("locating this binary")?,
        label: label.to_owned(),
        gateway_env,
        worker_env,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve { service } => serve(service).await,
        Command::Load {
            url,
            provider,
            rate,
            concurrency,
            duration,
        } => {
            let run_id = uuid::Uuid::new_v4().simple().to_string();
            let signer = Arc::new(Signer::new(provider, &run_id[..12])?);
            let plan = LoadPlan {
                base_url: url,
                concurrency,
                pace: rate.map_or(Pace::FlatOut, Pace::Rate),
                duration: Duration::from_secs(duration),
                timeout: Duration::from_secs(30),
                track: false,
            };
            let report = run(&plan, Arc::new(move |n| signer.request(n))).await?;
            println!("{}", report.summary());
            Ok(())
        }
        Command::All {
            duration,
            concurrency,
            in_flight,
            drain_messages,
            drain_events_per_message,
            rss_secs,
            gateway_env,
            worker_env,
        } => {
            let opts = SuiteOptions {
                launch: launch("bench", gateway_env, worker_env)?,
                duration: Duration::from_secs(duration),
                concurrency,
                in_flight,
                drain_messages,
                drain_events_per_message,
                rss_duration: Duration::from_secs(rss_secs),
            };
            cleaning_up(run_suite(&opts)).await
        }
        Command::Ceiling {
            duration,
            in_flight,
            events_per_message,
        } => {
            cleaning_up(run_ceiling(
                in_flight,
                Duration::from_secs(duration),
                events_per_message,
            ))
            .await
        }
        Command::Claim {
            backlogs,
            endpoints,
            claims,
        } => {
            let defaults = DeliverySettings::default();
            let plan = ClaimPlan {
                backlogs,
                endpoints,
                claims,
                limits: ClaimLimits {
                    batch: i64::try_from(defaults.delivery_concurrency)?,
                    per_endpoint: i64::from(defaults.delivery_endpoint_concurrency),
                    lease: defaults.lease(),
                },
            };
            let reports = claim::run(&plan).await?;
            println!("{}", claim::TABLE_HEADER);
            for r in &reports {
                println!("{r}");
            }
            Ok(())
        }
        Command::Chaos {
            scenarios,
            rate,
            duration,
            outage,
        } => {
            let scenarios = if scenarios.is_empty() {
                Scenario::ALL.to_vec()
            } else {
                scenarios
            };
            let mut opts = ChaosOptions::small(std::env::current_exe()?, "chaos");
            opts.rate = rate;
            opts.duration = Duration::from_secs(duration);
            opts.outage = Duration::from_secs(outage);
            opts.settle = Duration::from_secs(180);
            cleaning_up(run_chaos(scenarios, &opts)).await
        }
    }
}

/// Runs `work` until it ends or Ctrl-C; either way, deletes the broker
/// namespaces it left (its processes and databases go when dropped).
async fn cleaning_up(
    work: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let outcome = tokio::select! {
        outcome = work => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    let left = stack::delete_live_namespaces().await;
    if left > 0 {
        eprintln!("deleted {left} broker namespace(s) left by the run");
    }
    outcome
}

async fn run_chaos(scenarios: Vec<Scenario>, opts: &ChaosOptions) -> anyhow::Result<()> {
    let mut failed = false;
    let mut rows = Vec::new();
    for scenario in scenarios {
        eprintln!("running {scenario:?} ...");
        let report = chaos::run(scenario, opts).await?;
        eprintln!("{report}");
        failed |= !report.passed();
        rows.push(report);
    }
    println!("{}", chaos::TABLE_HEADER);
    for r in &rows {
        println!("{r}");
    }
    anyhow::ensure!(!failed, "a scenario lost, doubled or dead-lettered events");
    Ok(())
}
