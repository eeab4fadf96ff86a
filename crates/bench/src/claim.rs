//! The sender's claim behind a backlog (`inlet-bench claim`): how long one
//! claim of due deliveries takes as waiting deliveries pile up, half of them
//! an endpoint's that Inlet disabled (they wait, paused, for it to be
//! re-enabled) and half spread over the enabled endpoints.
//!
//! Each claim is timed on its own; between claims the claimed rows are put
//! back, untimed, so every claim sees the same backlog.

use inlet_domain::repository::forwarding::{claim_due, ClaimLimits};
use inlet_testkit::TestDb;
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Clone, Debug)]
pub struct ClaimPlan {
    /// Due deliveries waiting, one measurement each.
    pub backlogs: Vec<u64>,
    /// Enabled endpoints (one more, disabled, holds half of each backlog).
    pub endpoints: u32,
    /// Claims timed per backlog.
    pub claims: u32,
    /// What each claim may take (the worker's defaults: 32 and 4).
    pub limits: ClaimLimits,
}

/// One backlog's timings.
#[derive(Clone, Debug)]
pub struct ClaimReport {
    /// Due deliveries waiting.
    pub backlog: u64,
    /// Enabled endpoints.
    pub endpoints: u32,
    /// Median claim.
    pub median: Duration,
    /// Slowest claim.
    pub max: Duration,
    /// Deliveries the median claim returned.
    pub claimed: usize,
}

/// The table's header.
pub const TABLE_HEADER: &str = "| due deliveries | enabled endpoints | claim, median | claim, slowest | claimed |\n|---:|---:|---:|---:|---:|";

impl std::fmt::Display for ClaimReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "| {} | {} | {:.2} ms | {:.2} ms | {} |",
            self.backlog,
            self.endpoints,
            self.median.as_secs_f64() * 1e3,
            self.max.as_secs_f64() * 1e3,
            self.claimed
        )
    }
}

// Half of the backlog on the disabled endpoint (number 0), half round-robin
// over the enabled ones; all due, oldest first by a millisecond each.
const FILL: &str = "
INSERT INTO forward_clients (id, name, token_hash) VALUES (gen_random_uuid(), 'bench', '\\x01');
INSERT INTO forward_endpoints (id, client_id, url, max_attempts, enabled, secret)
SELECT gen_random_uuid(), (SELECT id FROM forward_clients), 'http://127.0.0.1:9/', 10, g > 0,
       'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
  FROM generate_series(0, $1::int) g;
CREATE TEMP TABLE bench_endpoints AS
SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM forward_endpoints WHERE enabled;
INSERT INTO forward_deliveries (id, endpoint_id, event_id, event_type, payload, status,
                                max_attempts, next_attempt_at)
SELECT gen_random_uuid(),
       CASE WHEN g % 2 = 0 THEN (SELECT id FROM forward_endpoints WHERE NOT enabled)
            ELSE (SELECT id FROM bench_endpoints WHERE k = (g / 2) % $1::int) END,
       'evt_' || g, 'message.received', '{\"type\": \"message.received\"}', 'pending', 10,
       now() - interval '1 day' + g * interval '1 millisecond'
  FROM generate_series(1, $2::bigint) g;
ANALYZE forward_endpoints;
ANALYZE forward_deliveries;
";

const PUT_BACK: &str =
    "UPDATE forward_deliveries SET status = 'pending', lease_until = NULL WHERE status = 'sending'";

/// Fills a database of its own for each backlog and times the claims.
pub async fn run(plan: &ClaimPlan) -> anyhow::Result<Vec<ClaimReport>> {
    anyhow::ensure!(plan.endpoints > 0, "at least one enabled endpoint");
    anyhow::ensure!(plan.claims > 0, "at least one claim");
    let mut reports = Vec::with_capacity(plan.backlogs.len());
    for &backlog in &plan.backlogs {
        let db = TestDb::new().await?;
        let mut client = db.client().await?;
        // Parameters cannot reach a multi-statement batch: the numbers are
        // ours, formatted in.
        let fill = FILL
            .replace("$1", &plan.endpoints.to_string())
            .replace("$2", &backlog.to_string());
        client.batch_execute(&fill).await?;
        let mut times = Vec::with_capacity(plan.claims as usize);
        let mut counts = Vec::with_capacity(plan.claims as usize);
        for _ in 0..plan.claims {
            let started = Instant::now();
            let claimed = claim_due(&mut client, plan.limits).await?;
            times.push(started.elapsed());
            counts.push(claimed.len());
            client.execute(PUT_BACK, &[]).await?;
        }
        times.sort_unstable();
        counts.sort_unstable();
        let report = ClaimReport {
            backlog,
            endpoints: plan.endpoints,
            median: times[times.len() / 2],
            max: times[times.len() - 1],
            claimed: counts[counts.len() / 2],
        };
        eprintln!("{report}");
        reports.push(report);
    }
    Ok(reports)
}
