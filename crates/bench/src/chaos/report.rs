//! One scenario's result, and the table row it prints as.

use super::{reconcile, Scenario};
use std::fmt;
use std::time::Duration;

/// One scenario's result.
#[derive(Debug, Clone)]
pub struct ChaosReport {
    /// Which.
    pub scenario: Scenario,
    /// Requests sent.
    pub requests: u64,
    /// Answered 200.
    pub ok: u64,
    /// Answered 503.
    pub unavailable: u64,
    /// Other answers, and requests with no answer.
    pub other: u64,
    /// Requests sent again after the load because they were not answered 200.
    pub resent: u64,
    /// Requests still not answered 200 when resending gave up (must be 0).
    pub refused: usize,
    /// The reconciliation.
    pub tally: reconcile::Tally,
    /// Messages in the dead-letter queue after the run.
    pub dead_lettered: u32,
    /// From the fault's end to every 200 stored (`None`: never, within the settle time).
    pub recovery: Option<Duration>,
    /// From the end of the load (resends included) to every 200 stored: the backlog left.
    pub drained: Option<Duration>,
    /// From the fault's end to the gateway's first 200 after it (`None`: no request after it).
    pub intake_recovery: Option<Duration>,
    /// Messages whose `read` was accepted that do not end `read`, with another
    /// status or none (duplicates scenario).
    pub status_regressions: usize,
}

impl ChaosReport {
    /// Every request accepted in the end, nothing lost, nothing doubled,
    /// nothing dead-lettered, statuses monotonic.
    pub fn passed(&self) -> bool {
        self.refused == 0
            && self.tally.missing.is_empty()
            && self.tally.doubled.is_empty()
            && self.dead_lettered == 0
            && self.recovery.is_some()
            && self.status_regressions == 0
    }
}

impl fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "| {:?} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.scenario,
            self.requests,
            self.ok,
            self.unavailable,
            self.other,
            self.resent,
            self.refused,
            self.tally.rows,
            self.tally.missing.len(),
            self.tally.doubled.len(),
            self.tally.extra,
            self.dead_lettered,
            self.intake_recovery
                .map_or("-".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
            self.recovery
                .map_or("never".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
            self.drained
                .map_or("never".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
            if self.passed() { "pass" } else { "FAIL" },
        )
    }
}

/// The header of the table [`ChaosReport`]'s `Display` fills.
pub const TABLE_HEADER: &str = "| scenario | requests | 200 | 503 | other | resent | never 200 | rows | missing | doubled | extra | dead-lettered | first 200 after fault | all 200s stored after fault | backlog after load end | result |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";
