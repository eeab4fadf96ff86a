//! `inlet-bench all`: the four measurements of `just bench`, one after the
//! other on the same machine, and the ratios that make them comparable.

use crate::bodies::{Sender, Signer};
use crate::ceiling::{publish, PublishPlan, PublishReport};
use crate::cpu::{self, Spent};
use crate::floor::Floor;
use crate::histogram::Buckets;
use crate::load::{run, LoadPlan, LoadReport, MakeRequest, Pace};
use crate::stack::{
    broker_namespace, delete_namespace, drain_span, epoch_now, purge_work_queue, start_gateway,
    start_worker, stored, Launch,
};
use inlet_domain::settings::BrokerSettings;
use inlet_testkit::TestDb;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Knobs of a suite run.
#[derive(Clone, Debug)]
pub struct SuiteOptions {
    /// How to start gateway and worker processes.
    pub launch: Launch,
    /// Length of each measured phase.
    pub duration: Duration,
    /// Connections for flat-out phases.
    pub concurrency: usize,
    /// Publishes in flight for the broker ceiling.
    pub in_flight: usize,
    /// Events pre-filled for the worker drain.
    pub drain_messages: u64,
    /// Events per message in the drain (default: the gateway's mean pack).
    pub drain_events_per_message: Option<u64>,
    /// Length of the gateway memory run (0 skips it).
    pub rss_duration: Duration,
}

fn signer(sender: Sender) -> anyhow::Result<Arc<Signer>> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    Ok(Arc::new(Signer::new(sender, &run[..12])?))
}

fn maker(signer: &Arc<Signer>) -> MakeRequest {
    let s = signer.clone();
    Arc::new(move |n| s.request(n))
}

fn plan(base_url: &str, concurrency: usize, pace: Pace, duration: Duration) -> LoadPlan {
    LoadPlan {
        base_url: base_url.to_owned(),
        concurrency,
        pace,
        duration,
        timeout: Duration::from_secs(30),
        track: false,
    }
}

/// Runs everything and prints a summary.
pub async fn run_suite(opts: &SuiteOptions) -> anyhow::Result<()> {
    println!(
        "# inlet-bench: {} s phases, {} connections",
        opts.duration.as_secs(),
        opts.concurrency
    );
    // What the run was told beyond the defaults, so a saved log says it.
    for (who, env) in [
        ("gateway", &opts.launch.gateway_env),
        ("worker", &opts.launch.worker_env),
    ] {
        for (key, value) in env {
            // A secret or a URL with credentials is named, never printed.
            let hidden = ["SECRET", "TOKEN", "PASSWORD", "_URL"]
                .iter()
                .any(|word| key.to_ascii_uppercase().contains(word));
            let value = if hidden { "(set)" } else { value.as_str() };
            println!("# {who} {key}={value}");
        }
    }

    // 1. The HTTP floor.
    let floor = Floor::start(2)?;
    let floor_mark = cpu::mark()?;
    let floor_report = run(
        &plan(
            &floor.base_url,
            opts.concurrency,
            Pace::FlatOut,
            opts.duration,
        ),
        maker(&signer(Sender::Meta)?),
    )
    .await?;
    let floor_cpu = floor_mark.spent(&[bench()])?;
    floor.stop().await;
    println!("floor    {}", floor_report.summary());
    println!("floor    {}", floor_cpu.line(floor_report.ok(), "request"));

    // 2. The broker ceiling.
    let (ceiling, ceiling_cpu) = measure_ceiling(opts.in_flight, opts.duration, 1).await?;
    println!(
        "broker   {:.0} confirmed/s ({} confirmed, {} failed, {} in flight)",
        ceiling.per_sec(),
        ceiling.confirmed,
        ceiling.failed,
        opts.in_flight
    );
    println!(
        "broker   {}",
        ceiling_cpu.line(ceiling.confirmed, "message")
    );
    // The broker with no more publishes in flight than the gateway will have
    // requests: what it takes in that case (it batches its writes by what
    // arrives together).
    let matched = if opts.concurrency == opts.in_flight {
        ceiling.per_sec()
    } else {
        let (matched, _) = measure_ceiling(opts.concurrency, opts.duration, 1).await?;
        println!(
            "broker   {:.0} confirmed/s with {} in flight (as many as the gateway's connections)",
            matched.per_sec(),
            opts.concurrency
        );
        matched.per_sec()
    };

    // 3. The gateway, flat out then at 80% of the ceiling.
    let gw_ns = broker_namespace("bench", vec![1]).await?;
    let (gateway, base) = start_gateway(&opts.launch, &gw_ns).await?;
    let rss_before = gateway.rss_kib();
    let gateway_mark = cpu::mark()?;
    let flat = run(
        &plan(&base, opts.concurrency, Pace::FlatOut, opts.duration),
        maker(&signer(Sender::Meta)?),
    )
    .await?;
    let gateway_cpu = gateway_mark.spent(&[bench(), (gateway.pid(), "gateway")])?;
    println!("gateway  flat out: {}", flat.summary());
    println!("gateway  {}", gateway_cpu.line(flat.ok(), "webhook"));
    let means = GatewayMeans::read(&base).await;
    let gateway_pack = means.as_ref().map_or(1.0, |m| m.events_per_publish);
    println!("gateway  {gateway_pack:.1} events per broker message (packs), mean");
    if let Some(m) = &means {
        println!(
            "gateway  a webhook spent {:.2} ms in the gateway, its message's confirm {:.2} ms of it (means)",
            m.request_ms, m.confirm_ms
        );
    }
    let target_rate = 0.8 * ceiling.per_sec();
    purge_work_queue(&gw_ns).await?;
    let scraped = scrape(&base).await;
    let paced = run(
        &plan(
            &base,
            opts.concurrency,
            Pace::Rate(target_rate),
            opts.duration,
        ),
        maker(&signer(Sender::Meta)?),
    )
    .await?;
    println!(
        "gateway  at {target_rate:.0}/s (80% of ceiling): {}",
        paced.summary()
    );
    let after_paced = scrape(&base).await;
    println!(
        "gateway  {}",
        own_p99s(scraped.as_deref(), after_paced.as_deref())
    );
    let own_rate = 0.8 * flat.ok_per_sec();
    purge_work_queue(&gw_ns).await?;
    let scraped = scrape(&base).await;
    let own = run(
        &plan(&base, opts.concurrency, Pace::Rate(own_rate), opts.duration),
        maker(&signer(Sender::Meta)?),
    )
    .await?;
    println!(
        "gateway  at {own_rate:.0}/s (80% of its own flat-out rate): {}",
        own.summary()
    );
    println!(
        "gateway  {}",
        own_p99s(scraped.as_deref(), scrape(&base).await.as_deref())
    );
    println!(
        "gateway  RSS {} KiB before, {} KiB after",
        rss_before.unwrap_or(0),
        gateway.rss_kib().unwrap_or(0)
    );
    if !opts.rss_duration.is_zero() {
        purge_work_queue(&gw_ns).await?;
        rss_run(opts, &gateway, &base, flat.ok_per_sec() * 0.5).await?;
    }
    gateway.stop(Duration::from_secs(10)).await;
    delete_namespace(&gw_ns).await?;

    // 4. The worker: drain, then end-to-end at half the gateway's rate.
    // The queue is pre-filled as the gateway fills it flat out: in packs of
    // the size it published (unless told otherwise).
    let pack = opts
        .drain_events_per_message
        .unwrap_or_else(|| gateway_pack.round().max(1.0) as u64);
    let (drain, e2e) = worker_phase(opts, pack, flat.ok_per_sec() * 0.5).await?;
    let drain_rate = drain.rate;

    println!();
    println!("## summary");
    println!("floor            {:.0} req/s", floor_report.ok_per_sec());
    println!("broker ceiling   {:.0} msg/s", ceiling.per_sec());
    println!(
        "gateway          {:.0} accepted/s = {:.0}% of the broker ceiling (target >= 80%); {:.0}% of the broker at {} in flight",
        flat.ok_per_sec(),
        100.0 * flat.ok_per_sec() / ceiling.per_sec(),
        100.0 * flat.ok_per_sec() / matched,
        opts.concurrency
    );
    println!(
        "gateway @80%     p99 {:.2} ms (target <= 10 ms), {} non-2xx",
        paced.ms(0.99),
        paced.non_2xx() + paced.errors
    );
    println!(
        "gateway @80% own p99 {:.2} ms at {:.0}/s",
        own.ms(0.99),
        0.8 * flat.ok_per_sec()
    );
    println!(
        "worker           {drain_rate:.0} events/s = {:.0}% of the gateway rate (target >= 100%)",
        100.0 * drain_rate / flat.ok_per_sec()
    );
    println!("end to end @50%  {e2e}");
    let (http_us, publish_us) = (
        floor_cpu.per_op_us(floor_report.ok()),
        ceiling_cpu.per_op_us(ceiling.confirmed),
    );
    println!(
        "machine time     floor {http_us:.0} µs/request, broker ceiling {publish_us:.0} µs/message, gateway {:.0} µs/webhook, worker {:.0} µs/event",
        gateway_cpu.per_op_us(flat.ok()),
        drain.cpu.per_op_us(drain.events),
    );
    println!(
        "gateway bound    {}",
        gateway_bound(http_us, publish_us, flat.ok_per_sec(), ceiling.per_sec())
    );
    if let Some(m) = &means {
        println!(
            "latency bound    {}",
            latency_bound(opts.concurrency, m, flat.ok_per_sec(), ceiling.per_sec())
        );
    }
    Ok(())
}

/// What the gateway's own metrics say of the webhooks it took so far.
struct GatewayMeans {
    /// Events per published message (`inlet_gateway_events_per_publish`).
    events_per_publish: f64,
    /// Publish to broker confirm (`inlet_gateway_publish_duration_seconds`).
    confirm_ms: f64,
    /// Request start to answer, Meta's webhooks
    /// (`inlet_gateway_request_duration_seconds`).
    request_ms: f64,
}

/// The gateway's `/metrics` text; `None` if it cannot be read.
async fn scrape(base: &str) -> Option<String> {
    reqwest::get(format!("{base}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()
}

/// The gateway's own p99s for what it did between two scrapes: a Meta
/// webhook's time in the gateway, and its message's confirm. Beside the load
/// generator's p99 they tell a tail in the broker from one in the gateway,
/// and both from requests waiting before the handler runs.
fn own_p99s(before: Option<&str>, after: Option<&str>) -> String {
    let (Some(before), Some(after)) = (before, after) else {
        return "its own histograms could not be read".to_owned();
    };
    let p99 = |name: &str, labels: &str| {
        let since = Buckets::read(before, name, labels);
        Buckets::read(after, name, labels).quantile_ms_since(&since, 0.99)
    };
    format!(
        "by its own histograms, p99 in the gateway {}, of its message's confirm {}",
        p99(
            "inlet_gateway_request_duration_seconds",
            "provider=\"meta\""
        ),
        p99("inlet_gateway_publish_duration_seconds", ""),
    )
}

impl GatewayMeans {
    /// The means from the gateway's `/metrics`; `None` before its first publish.
    async fn read(base: &str) -> Option<Self> {
        let text = scrape(base).await?;
        let mean = |name: &str, labels: &str| {
            let sample = |part: &str| {
                let series = format!("{name}_{part}{labels}");
                text.lines().find_map(|l| {
                    l.strip_prefix(series.as_str())?
                        .strip_prefix(' ')?
                        .parse::<f64>()
                        .ok()
                })
            };
            let (sum, count) = (sample("sum")?, sample("count")?);
            (count > 0.0).then(|| sum / count)
        };
        Some(GatewayMeans {
            events_per_publish: mean("inlet_gateway_events_per_publish", "")?,
            confirm_ms: 1e3 * mean("inlet_gateway_publish_duration_seconds", "")?,
            request_ms: 1e3
                * mean(
                    "inlet_gateway_request_duration_seconds",
                    "{provider=\"meta\"}",
                )?,
        })
    }
}

/// The most any gateway that answers a webhook only after its message's
/// confirm can accept over `connections` (Little's law: no more webhooks in
/// flight than connections, each for at least the confirm's time), and this
/// gateway's own time per webhook read the same way.
fn latency_bound(
    connections: usize,
    means: &GatewayMeans,
    gateway_rate: f64,
    ceiling_rate: f64,
) -> String {
    let n = connections as f64;
    let by_confirm = n * 1e3 / means.confirm_ms;
    let by_request = n * 1e3 / means.request_ms;
    format!(
        "{connections} connections / {:.2} ms per confirm = {by_confirm:.0} webhooks/s = {:.0}% of the broker ceiling; / {:.2} ms in the gateway = {by_request:.0}/s; the gateway reached {:.0}% of the first",
        means.confirm_ms,
        100.0 * by_confirm / ceiling_rate,
        means.request_ms,
        100.0 * gateway_rate / by_confirm
    )
}

/// Confirmed publishes straight to a namespace of their own, `events_per_message`
/// bodies in each, and the machine time they cost.
async fn measure_ceiling(
    in_flight: usize,
    duration: Duration,
    events_per_message: u64,
) -> anyhow::Result<(PublishReport, Spent)> {
    let ns = broker_namespace("bench", vec![1]).await?;
    let mut plan = ingest_plan(&ns, in_flight, duration, u64::MAX);
    plan.events_per_message = events_per_message;
    let mark = cpu::mark()?;
    let report = publish(&plan, signer(Sender::Meta)?).await;
    let spent = mark.spent(&[bench()]);
    delete_namespace(&ns).await?;
    Ok((report?, spent?))
}

/// `inlet-bench ceiling`: the broker ceiling alone, optionally with several events
/// packed into each message (`events_per_message` ≥ 1), per event.
pub async fn run_ceiling(
    in_flight: usize,
    duration: Duration,
    events_per_message: u64,
) -> anyhow::Result<()> {
    let k = events_per_message;
    let (report, spent) = measure_ceiling(in_flight, duration, k).await?;
    println!(
        "broker   {:.0} confirmed/s, {k} event(s) each = {:.0} events/s ({} confirmed, {} failed, {in_flight} in flight)",
        report.per_sec(),
        report.per_sec() * k as f64,
        report.confirmed,
        report.failed,
    );
    println!("broker   {}", spent.line(report.confirmed * k, "event"));
    Ok(())
}

/// The benchmark's own process, as [`cpu::Mark::spent`] labels it.
fn bench() -> (Option<u32>, &'static str) {
    (Some(std::process::id()), "bench")
}

/// A plan publishing to the ingest exchange of `ns`, as the gateway does.
fn ingest_plan(
    ns: &BrokerSettings,
    in_flight: usize,
    duration: Duration,
    max_messages: u64,
) -> PublishPlan {
    PublishPlan {
        amqp_url: ns.amqp_url.clone(),
        exchange: ns.topology().ingest_exchange(),
        channels: 4,
        in_flight,
        duration,
        max_messages,
        events_per_message: 1,
    }
}

/// The most a gateway publishing one message per webhook could accept on
/// these cores: each webhook costs at least an empty HTTP exchange (the floor,
/// `http_us` of machine time) plus a confirmed publish (the ceiling,
/// `publish_us`), both measured here with everything they need on the
/// machine. Packs share one publish among several webhooks, so a packing
/// gateway can pass it.
fn gateway_bound(http_us: f64, publish_us: f64, gateway_rate: f64, ceiling_rate: f64) -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let bound = cores * 1e6 / (http_us + publish_us);
    format!(
        "{cores:.0} cores / ({http_us:.0} + {publish_us:.0} µs) = {bound:.0} webhooks/s = {:.0}% of the broker ceiling, one message per webhook; the gateway reached {:.0}% of that",
        100.0 * bound / ceiling_rate,
        100.0 * gateway_rate / bound
    )
}

/// A long run at a steady rate, sampling the gateway's RSS every 10 s.
async fn rss_run(
    opts: &SuiteOptions,
    gateway: &crate::procs::Proc,
    base: &str,
    rate: f64,
) -> anyhow::Result<()> {
    let pid = gateway.pid();
    let samples = Arc::new(std::sync::Mutex::new(Vec::<(u64, u64)>::new()));
    let sink = samples.clone();
    let sampler = tokio::spawn(async move {
        let start = Instant::now();
        loop {
            if let Some(kib) = pid.and_then(crate::procs::rss_kib) {
                if let Ok(mut s) = sink.lock() {
                    s.push((start.elapsed().as_secs(), kib));
                }
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    });
    let report = run(
        &plan(base, opts.concurrency, Pace::Rate(rate), opts.rss_duration),
        maker(&signer(Sender::Meta)?),
    )
    .await?;
    sampler.abort();
    println!("gateway  memory run at {rate:.0}/s: {}", report.summary());
    let samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    let line = samples
        .iter()
        .map(|(t, kib)| format!("{t}s:{}MiB", kib / 1024))
        .collect::<Vec<_>>()
        .join(" ");
    println!("gateway  RSS every 10 s: {line}");
    Ok(())
}

/// Drains a pre-filled queue into a fresh database, then measures receipt to
/// commit through gateway and worker at `e2e_rate`.
async fn worker_phase(
    opts: &SuiteOptions,
    pack: u64,
    e2e_rate: f64,
) -> anyhow::Result<(Drained, String)> {
    let db = TestDb::new().await?;
    let ns = broker_namespace("bench", vec![1, 5, 30]).await?;
    // First into the empty database, as a new deployment starts: Postgres
    // has no statistics yet, and the plans the worker's connections cache
    // now are fitted to near-empty tables.
    let cold = drain(opts, &db, &ns, WARM_UP_EVENTS, pack).await?;
    println!("worker   drained {cold} (cold: a new, never analysed database)");
    // Then as on any database that has been live for a minute: autovacuum
    // has analysed the tables, which also makes every connection plan anew.
    db.client().await?.batch_execute("ANALYZE").await?;
    let warm = drain(opts, &db, &ns, opts.drain_messages, pack).await?;
    println!("worker   drained {warm}");
    println!("worker   {}", warm.cpu.line(warm.events, "event"));
    let drain_rate = warm.rate;

    let worker = start_worker(&opts.launch, &ns, &db, 0)?;
    let (gateway, base) = start_gateway(&opts.launch, &ns).await?;
    // At half the gateway's rate (the target); when the worker is slower than
    // that, at half the worker's own rate; and while the p99 misses the
    // target, at half the last rate again (twice at most), to show the rate
    // at which this machine meets it with everything on it.
    let mut rate = e2e_rate;
    let mut lines = Vec::new();
    for step in 0..4 {
        let names = [
            bench(),
            (gateway.pid(), "gateway"),
            (worker.pid(), "worker"),
        ];
        let (line, p99) = end_to_end(opts, &db, &base, rate, &names).await?;
        println!("worker   end to end {line}");
        lines.push(line);
        let next = if step == 0 && drain_rate < e2e_rate {
            drain_rate * 0.5
        } else if p99 > E2E_TARGET_MS && step < 3 {
            rate * 0.5
        } else {
            break;
        };
        rate = next;
    }
    gateway.stop(Duration::from_secs(10)).await;
    worker.stop(Duration::from_secs(30)).await;
    delete_namespace(&ns).await?;
    Ok((warm, lines.join("\n                 ")))
}

/// Events drained into the empty database before the measured drain.
const WARM_UP_EVENTS: u64 = 10_000;

/// What one drain measured.
struct Drained {
    events: u64,
    pack: u64,
    rate: f64,
    first_after: f64,
    /// From the worker's start until all rows were seen.
    cpu: Spent,
}

impl std::fmt::Display for Drained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events ({} to a message): {:.0} events/s (first row after {:.2} s)",
            self.events, self.pack, self.rate, self.first_after
        )
    }
}

/// Pre-fills the work queue with `events` distinct webhooks, `pack` to a
/// message, then starts a worker and times it from its first stored row to
/// its last; stops it.
async fn drain(
    opts: &SuiteOptions,
    db: &TestDb,
    ns: &BrokerSettings,
    events: u64,
    pack: u64,
) -> anyhow::Result<Drained> {
    let fill_signer = signer(Sender::Meta)?;
    let mut plan = ingest_plan(
        ns,
        opts.in_flight,
        Duration::from_secs(600),
        events.div_ceil(pack),
    );
    plan.events_per_message = pack;
    let filled = publish(&plan, fill_signer.clone()).await?;
    let filled_events = filled.confirmed * pack;
    let prefix = fill_signer.id_prefix();
    let mark = cpu::mark()?;
    let worker = start_worker(&opts.launch, ns, db, 0)?;
    let started = Instant::now();
    let started_epoch = epoch_now();
    let total = i64::try_from(filled_events)?;
    loop {
        let n = stored(db, &prefix).await?;
        if n >= total {
            break;
        }
        if started.elapsed() > Duration::from_secs(900) {
            anyhow::bail!("the worker stored only {n} of {total} in 15 minutes");
        }
        // Seldom: each count scans the table, on the cores being measured.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Before the worker stops: a process that has exited is not counted.
    let cpu = mark.spent(&[bench(), (worker.pid(), "worker")])?;
    worker.stop(Duration::from_secs(30)).await;
    let span = drain_span(db, &prefix).await?;
    Ok(Drained {
        events: filled_events,
        pack,
        cpu,
        rate: span.rate(),
        first_after: span.first_after(started_epoch),
    })
}

/// The end-to-end target: receipt to commit, p99, in milliseconds.
const E2E_TARGET_MS: f64 = 100.0;

/// Load through the gateway at `rate`, then receipt-to-commit percentiles of
/// those rows: a report line and the p99 in milliseconds.
async fn end_to_end(
    opts: &SuiteOptions,
    db: &TestDb,
    base: &str,
    rate: f64,
    names: &[(Option<u32>, &str)],
) -> anyhow::Result<(String, f64)> {
    let e2e_signer = signer(Sender::Meta)?;
    let mark = cpu::mark()?;
    let report: LoadReport = run(
        &plan(base, opts.concurrency, Pace::Rate(rate), opts.duration),
        maker(&e2e_signer),
    )
    .await?;
    let e2e_prefix = e2e_signer.id_prefix();
    let expected = i64::try_from(report.ok())?;
    let stored_all = inlet_testkit::eventually(Duration::from_secs(120), || async {
        (stored(db, &e2e_prefix).await.ok()? >= expected).then_some(())
    })
    .await
    .is_some();
    let spent = mark.spent(names)?;
    let client = db.client().await?;
    // stored_at is now() of the worker's transaction, i.e. its start: the
    // commit itself (a few ms at most) is not counted. Rows inserted by one
    // transaction share its id (xmin), so its distinct values count them.
    let row = client
        .query_one(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.99) WITHIN GROUP (ORDER BY d),
                    percentile_cont(0.999) WITHIN GROUP (ORDER BY d), max(d),
                    count(*)::float8 / nullif(count(DISTINCT tx), 0)
             FROM (SELECT extract(epoch FROM stored_at - received_at)::float8 * 1000 AS d, xmin::text AS tx
                   FROM messages WHERE provider_message_id LIKE $1 || '%') t",
            &[&e2e_prefix],
        )
        .await?;
    let pct = |i: usize| row.get::<_, Option<f64>>(i).unwrap_or(f64::NAN);
    let line = format!(
        "{rate:.0}/s for {} s: gateway {}; receipt->commit ms p50 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}{} (target p99 <= 100 ms); {:.1} events per transaction; {}",
        opts.duration.as_secs(),
        report.summary(),
        pct(0),
        pct(1),
        pct(2),
        pct(3),
        if stored_all { "" } else { " [NOT ALL STORED]" },
        pct(4),
        spent.line(report.ok(), "webhook, stored"),
    );
    Ok((line, pct(1)))
}
