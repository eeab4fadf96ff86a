//! Where the machine's CPU time went during a phase, read from `/proc`: the
//! busy core-seconds of the whole machine and of each process.
//!
//! Divided by the operations of the phase this is the machine time one
//! request, message or event costs, everything on the machine included
//! (load generator, broker, database, kernel). Unlike a rate it says why a
//! phase is as fast as it is, and it carries across machines: two phases that
//! each fill the cores cannot, together, run faster than the cores divided by
//! the sum of their costs.

use procfs::process::all_processes;
use procfs::{CurrentSI, KernelStats};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Groups under this share of the busy time are folded into "other".
const SHOWN_SHARE: f64 = 0.02;

/// The machine's and every process's CPU time at one instant.
pub struct Mark {
    at: Instant,
    busy_ticks: u64,
    procs: HashMap<i32, Proc>,
}

/// One process as `/proc/<pid>/stat` shows it.
#[derive(Clone, Debug)]
struct Proc {
    /// Its command name. A kernel worker's changes with what it is doing.
    comm: String,
    /// When it started, in ticks since boot: with the pid, its identity (a
    /// pid can be reused; the name cannot be trusted to tell).
    start: u64,
    /// User + system ticks of all its threads.
    ticks: u64,
}

/// CPU time spent between a [`Mark`] and now.
#[derive(Clone, Debug)]
pub struct Spent {
    /// Wall-clock time between the two readings.
    pub wall: Duration,
    /// Core-seconds the machine was busy (user, system, interrupts; not idle,
    /// I/O wait or time stolen by the hypervisor).
    pub busy_secs: f64,
    /// Core-seconds per named process group, largest first.
    pub by: Vec<(String, f64)>,
}

/// Reads the machine's and every process's CPU time now.
pub fn mark() -> anyhow::Result<Mark> {
    Ok(Mark {
        at: Instant::now(),
        busy_ticks: busy_ticks()?,
        procs: processes(),
    })
}

impl Mark {
    /// What was spent since this mark. `names` labels processes by pid (the
    /// benchmark's own, the gateway, the worker); the others are grouped by
    /// their command name (`beam.smp` is RabbitMQ).
    pub fn spent(&self, names: &[(Option<u32>, &str)]) -> anyhow::Result<Spent> {
        Ok(self.spent_from(busy_ticks()?, processes(), names))
    }

    /// [`Mark::spent`] on readings already taken.
    fn spent_from(
        &self,
        busy_ticks: u64,
        procs: HashMap<i32, Proc>,
        names: &[(Option<u32>, &str)],
    ) -> Spent {
        let ticks = procfs::ticks_per_second() as f64;
        let busy = busy_ticks.saturating_sub(self.busy_ticks) as f64 / ticks;
        let labels: HashMap<i32, &str> = names
            .iter()
            .filter_map(|(pid, name)| Some((i32::try_from((*pid)?).ok()?, *name)))
            .collect();
        let mut groups: HashMap<String, f64> = HashMap::new();
        for (pid, now) in procs {
            // A process started since the mark spent all of its time in the
            // phase. One that was there keeps its reading even if its name
            // changed: comparing names charged a kernel worker that took on
            // other work its whole life's CPU time.
            let before = self
                .procs
                .get(&pid)
                .filter(|then| then.start == now.start)
                .map_or(0, |then| then.ticks);
            let secs = now.ticks.saturating_sub(before) as f64 / ticks;
            if secs > 0.0 {
                let name = labels
                    .get(&pid)
                    .map_or_else(|| group(now.comm), |l| (*l).to_owned());
                *groups.entry(name).or_default() += secs;
            }
        }
        let mut by: Vec<(String, f64)> = groups.into_iter().collect();
        by.sort_by(|a, b| b.1.total_cmp(&a.1));
        Spent {
            wall: self.at.elapsed(),
            busy_secs: busy,
            by,
        }
    }
}

impl Spent {
    /// Machine time per operation, in microseconds.
    pub fn per_op_us(&self, ops: u64) -> f64 {
        if ops == 0 {
            return f64::NAN;
        }
        self.busy_secs * 1e6 / ops as f64
    }

    /// Cores busy on average.
    pub fn cores_busy(&self) -> f64 {
        self.busy_secs / self.wall.as_secs_f64().max(f64::EPSILON)
    }

    /// One line: the cost per `unit` and its split by process, e.g.
    /// `58 µs of machine time per message (1.96 cores busy): beam.smp 41, bench 14, other 3`.
    pub fn line(&self, ops: u64, unit: &str) -> String {
        let per_op = |secs: f64| secs * 1e6 / ops.max(1) as f64;
        let mut line = format!(
            "{:.0} µs of machine time per {unit} ({:.2} cores busy):",
            self.per_op_us(ops),
            self.cores_busy()
        );
        let mut shown = 0.0;
        for (name, secs) in &self.by {
            if *secs < SHOWN_SHARE * self.busy_secs {
                break;
            }
            shown += secs;
            let _ = write!(line, " {name} {:.0},", per_op(*secs));
        }
        // Kernel work outside any process (softirqs, kernel threads) and
        // the small groups.
        let _ = write!(
            line,
            " other {:.0}",
            per_op((self.busy_secs - shown).max(0.0))
        );
        line
    }
}

/// The group of an unlabelled process: its command, except that the kernel's
/// workers (whose names say what they are doing at the moment, e.g.
/// `kworker/u8:1-ext4-rsv-conversion`, mostly disk writes) are one group.
fn group(comm: String) -> String {
    if comm.starts_with("kworker/") {
        "kworker".to_owned()
    } else {
        comm
    }
}

fn busy_ticks() -> anyhow::Result<u64> {
    let t = KernelStats::current()?.total;
    Ok(t.user + t.nice + t.system + t.irq.unwrap_or(0) + t.softirq.unwrap_or(0))
}

/// Every readable process; ones that exit while being read are skipped.
fn processes() -> HashMap<i32, Proc> {
    let Ok(all) = all_processes() else {
        return HashMap::new();
    };
    all.filter_map(|p| {
        let stat = p.ok()?.stat().ok()?;
        let proc = Proc {
            comm: stat.comm,
            start: stat.starttime,
            ticks: stat.utime + stat.stime,
        };
        Some((stat.pid, proc))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_ticks() -> u64 {
        let stat = procfs::process::Process::myself()
            .and_then(|p| p.stat())
            .expect("reads /proc/self/stat");
        stat.utime + stat.stime
    }

    #[test]
    fn a_busy_loop_in_this_process_is_charged_to_its_label() {
        let before = mark().expect("reads /proc");
        // Spin until this process has used 30 ticks, however busy the machine.
        let start = own_ticks();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut x: u64 = 0;
        while own_ticks() < start + 30 && Instant::now() < deadline {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        let spent = before
            .spent(&[(Some(std::process::id()), "me")])
            .expect("reads /proc");
        let mine = spent
            .by
            .iter()
            .find(|(name, _)| name == "me")
            .map_or(0.0, |(_, s)| *s);
        let wanted = 30.0 / procfs::ticks_per_second() as f64;
        assert!(
            mine >= wanted,
            "charged {mine} s to this process: {spent:?}"
        );
        assert!(spent.busy_secs >= mine * 0.9, "{spent:?}");
        let line = spent.line(1000, "op");
        assert!(line.contains(" me "), "{line}");
    }

    #[test]
    fn kernel_workers_are_one_group_whatever_they_are_doing() {
        assert_eq!(group("kworker/u8:1-ext4-rsv-conversion".into()), "kworker");
        assert_eq!(group("kworker/1:1H-kblockd".into()), "kworker");
        assert_eq!(group("beam.smp".into()), "beam.smp");
    }

    fn proc(comm: &str, start: u64, ticks: u64) -> Proc {
        Proc {
            comm: comm.into(),
            start,
            ticks,
        }
    }

    #[test]
    fn a_process_is_charged_what_it_spent_since_the_mark_even_under_a_new_name() {
        let hz = procfs::ticks_per_second();
        let then = Mark {
            at: Instant::now(),
            busy_ticks: 0,
            procs: HashMap::from([
                (7, proc("kworker/u8:1-events_unbound", 50, 10 * hz)),
                (8, proc("beam.smp", 60, 20 * hz)),
            ]),
        };
        let now = HashMap::from([
            // The same kernel worker, on other work: 1 s since the mark.
            (7, proc("kworker/u8:1-flush-8:0", 50, 11 * hz)),
            // Pid 8 reused by a process started since: all of its 2 s.
            (8, proc("postgres", 900, 2 * hz)),
        ]);
        let spent = then.spent_from(3 * hz, now, &[]);
        let by: HashMap<&str, f64> = spent.by.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        assert_eq!(by.get("kworker"), Some(&1.0), "{spent:?}");
        assert_eq!(by.get("postgres"), Some(&2.0), "{spent:?}");
        assert!(!by.contains_key("beam.smp"), "{spent:?}");
    }

    #[test]
    fn small_groups_fold_into_other() {
        let spent = Spent {
            wall: Duration::from_secs(1),
            busy_secs: 2.0,
            by: vec![("beam.smp".into(), 1.5), ("tiny".into(), 0.01)],
        };
        assert_eq!(
            spent.line(10_000, "message"),
            "200 µs of machine time per message (2.00 cores busy): beam.smp 150, other 50"
        );
    }
}
