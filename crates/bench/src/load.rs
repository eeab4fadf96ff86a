//! The load generator: signed requests over a fixed number of keep-alive
//! connections, at a fixed rate or flat out.
//!
//! At a fixed rate, each request has an *intended* send time (`start + n/rate`)
//! and its latency is measured from that time, not from when a connection
//! became free: a stalled server then shows up as the latency every queued
//! request suffered (correcting for coordinated omission), instead of as a
//! quietly lower send rate. Lane `k` of `L` sends requests `k`, `k + L`, … each at
//! its own intended time; a lane held up by a slow answer sends its late ones at
//! once, charged from when they were due.

use crate::bodies::SignedRequest;
use crate::client::{Client, Target};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How fast to send.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// Requests per second, latency measured from the intended send time.
    Rate(f64),
    /// As fast as the connections allow.
    FlatOut,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// Connections (and requests in flight).
    pub concurrency: usize,
    /// Rate or flat out.
    pub pace: Pace,
    /// How long to send for.
    pub duration: Duration,
    /// Per-request timeout (a timeout counts as an error).
    pub timeout: Duration,
    /// Keep each request's status (for reconciliation).
    pub track: bool,
}

/// Builds request number `n`.
pub type MakeRequest = Arc<dyn Fn(u64) -> SignedRequest + Send + Sync>;

/// What a run measured.
pub struct LoadReport {
    /// Requests sent (answered or failed).
    pub sent: u64,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests with no answer (connection error, timeout).
    pub errors: u64,
    /// From the first send to the last answer.
    pub elapsed: Duration,
    /// Latency in microseconds.
    pub latency: Histogram<u64>,
    /// Each request's fate when tracked.
    pub outcomes: Vec<Outcome>,
    /// When the first request was sent.
    pub started: Instant,
}

/// What became of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Outcome {
    /// Its number.
    pub n: u64,
    /// The status, 0 when no answer came.
    pub status: u16,
    /// When the answer (or the failure) came.
    pub at: Instant,
}

impl LoadReport {
    /// Answers with a 2xx status.
    pub fn ok(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    /// Answers with any other status.
    pub fn non_2xx(&self) -> u64 {
        self.sent - self.ok() - self.errors
    }

    /// 2xx answers per second.
    pub fn ok_per_sec(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64()
    }

    /// A latency quantile in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    /// One line: throughput, percentiles, failures.
    pub fn summary(&self) -> String {
        format!(
            "{:.0} ok/s ({} sent, {} ok, {} non-2xx {:?}, {} errors, {:.1} s); latency ms p50 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}",
            self.ok_per_sec(),
            self.sent,
            self.ok(),
            self.non_2xx(),
            self.statuses
                .iter()
                .filter(|(s, _)| !(200..300).contains(*s))
                .collect::<BTreeMap<_, _>>(),
            self.errors,
            self.elapsed.as_secs_f64(),
            self.ms(0.5),
            self.ms(0.99),
            self.ms(0.999),
            self.latency.max() as f64 / 1000.0,
        )
    }
}

struct Lane {
    latency: Histogram<u64>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    outcomes: Vec<Outcome>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 10 min at 3 significant digits; the bounds are constants, so this cannot fail.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant bounds are valid")
}

/// Runs `plan`, building request `n` with `make`.
pub async fn run(plan: &LoadPlan, make: MakeRequest) -> anyhow::Result<LoadReport> {
    let target = Target::parse(&plan.base_url)?;
    let start = Instant::now();
    let deadline = start + plan.duration;
    let next = Arc::new(AtomicU64::new(0));
    let mut lanes = Vec::with_capacity(plan.concurrency);
    let lanes_total = plan.concurrency as u64;
    for lane_no in 0..lanes_total {
        let mut client = Client::new(target.clone(), plan.timeout);
        let (make, next, plan) = (make.clone(), next.clone(), plan.clone());
        lanes.push(tokio::spawn(async move {
            let mut lane = Lane {
                latency: histogram(),
                statuses: BTreeMap::new(),
                errors: 0,
                outcomes: Vec::new(),
            };
            let mut sent = 0u64;
            loop {
                let (n, from) = match plan.pace {
                    Pace::Rate(rate) => {
                        // Each lane keeps its own share of the schedule (wrk2's way):
                        // no dispatcher, no queue shared by the lanes.
                        let n = lane_no + sent * lanes_total;
                        let intended = start + Duration::from_secs_f64(n as f64 / rate);
                        if intended >= deadline {
                            break;
                        }
                        tokio::time::sleep_until(intended).await;
                        sent += 1;
                        (n, intended)
                    }
                    Pace::FlatOut => {
                        if Instant::now() >= deadline {
                            break;
                        }
                        (next.fetch_add(1, Ordering::Relaxed), Instant::now())
                    }
                };
                let status = client.send(make(n)).await;
                let micros = u64::try_from(from.elapsed().as_micros()).unwrap_or(u64::MAX);
                lane.latency.saturating_record(micros.max(1));
                match status {
                    Some(s) => *lane.statuses.entry(s).or_default() += 1,
                    None => lane.errors += 1,
                }
                if plan.track {
                    lane.outcomes.push(Outcome {
                        n,
                        status: status.unwrap_or(0),
                        at: Instant::now(),
                    });
                }
            }
            lane
        }));
    }
    let mut report = LoadReport {
        sent: 0,
        statuses: BTreeMap::new(),
        errors: 0,
        elapsed: Duration::ZERO,
        latency: histogram(),
        outcomes: Vec::new(),
        started: start,
    };
    for lane in lanes {
        let lane = lane.await?;
        report.latency.add(&lane.latency)?;
        for (s, n) in lane.statuses {
            *report.statuses.entry(s).or_default() += n;
        }
        report.errors += lane.errors;
        report.outcomes.extend(lane.outcomes);
    }
    report.elapsed = start.elapsed();
    report.sent = report.statuses.values().sum::<u64>() + report.errors;
    report.outcomes.sort_unstable();
    Ok(report)
}
