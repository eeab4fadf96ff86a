//! Packets dropped on the loopback interface, for the fault a proxy cannot
//! show: a connection whose peer stops acknowledging what it is sent, as when
//! the peer's host dies or the network between them splits. The sender's
//! kernel then retransmits for many minutes before it reports anything.
//!
//! Rules go into the `OUTPUT` chain with `iptables` (the legacy backend where
//! installed, which works on kernels without nftables), each matching one
//! direction of one connection by its two ports, so a test cuts only its own
//! connections and runs beside the others. They are removed on drop; any left
//! by a killed test carry the comment [`COMMENT`] (`scripts/ensure-services.sh`
//! deletes them).

use anyhow::Context;
use std::process::Command;

/// The comment every rule carries.
pub const COMMENT: &str = "inlet-test-blackhole";

/// Drops packets until dropped.
pub struct Blackhole {
    rules: Vec<Vec<String>>,
}

fn iptables() -> &'static str {
    let legacy = Command::new("iptables-legacy")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if legacy {
        "iptables-legacy"
    } else {
        "iptables"
    }
}

fn iptables_run(action: &str, rule: &[String]) -> anyhow::Result<()> {
    let program = iptables();
    let status = Command::new(program)
        .args(["-w", action, "OUTPUT"])
        .args(rule)
        .status()
        .with_context(|| format!("running {program} (install the iptables package)"))?;
    anyhow::ensure!(
        status.success(),
        "{program} {action} OUTPUT {rule:?}: {status}"
    );
    Ok(())
}

impl Blackhole {
    /// Drops every TCP packet of each loopback connection given by its two
    /// ports, both ways: what is sent on it is never acknowledged, and
    /// nothing comes back.
    pub fn connections(connections: &[(u16, u16)]) -> anyhow::Result<Self> {
        let both_ways: Vec<(u16, u16)> = connections
            .iter()
            .flat_map(|&(a, b)| [(a, b), (b, a)])
            .collect();
        Self::flows(&both_ways)
    }

    /// Drops every TCP packet sent over loopback from local port `from` to
    /// local port `to`, for each pair given: one direction of a connection.
    fn flows(flows: &[(u16, u16)]) -> anyhow::Result<Self> {
        let mut hole = Blackhole { rules: Vec::new() };
        for (from, to) in flows {
            let rule: Vec<String> = [
                "-o",
                "lo",
                "-p",
                "tcp",
                "--sport",
                &from.to_string(),
                "--dport",
                &to.to_string(),
                "-m",
                "comment",
                "--comment",
                COMMENT,
                "-j",
                "DROP",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            iptables_run("-A", &rule)?;
            hole.rules.push(rule);
        }
        Ok(hole)
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        for rule in &self.rules {
            if let Err(error) = iptables_run("-D", rule) {
                eprintln!("could not remove a blackhole rule: {error:#}");
            }
        }
    }
}
