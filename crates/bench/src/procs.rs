//! Child processes: a gateway or worker started from this binary
//! (`serve gateway|worker`), their environment, readiness, RSS, and kill -9.

use crate::bodies::secrets;
use crate::serve::Service;
use anyhow::Context;
use inlet_domain::settings::BrokerSettings;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// A running gateway or worker process; killed when dropped.
pub struct Proc {
    /// What it serves.
    pub service: Service,
    child: Child,
    /// Its log file.
    pub log: PathBuf,
}

/// The `INLET_*` variables that make a process use `broker` (the same
/// topology arguments, or the declarations would conflict).
pub fn broker_env(broker: &BrokerSettings) -> Vec<(String, String)> {
    let delays = broker
        .retry_delays_secs
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    vec![
        ("INLET_AMQP_URL".into(), broker.amqp_url.clone()),
        (
            "INLET_TOPOLOGY_PREFIX".into(),
            broker.topology_prefix.clone(),
        ),
        (
            "INLET_QUEUE_TYPE".into(),
            format!("{:?}", broker.queue_type).to_lowercase(),
        ),
        ("INLET_RETRY_DELAYS_SECS".into(), format!("[{delays}]")),
        (
            "INLET_DELIVERY_LIMIT".into(),
            broker.delivery_limit.to_string(),
        ),
    ]
}

/// The sender secrets a benchmark gateway accepts.
pub fn gateway_secrets_env() -> Vec<(String, String)> {
    vec![
        ("INLET_META_APP_SECRET".into(), secrets::META.into()),
        (
            "INLET_META_VERIFY_TOKEN".into(),
            secrets::META_VERIFY_TOKEN.into(),
        ),
        // Read by gateways that serve the other senders; ignored by older ones.
        (
            "INLET_OPENPHONE_SIGNING_KEY".into(),
            secrets::OPENPHONE.into(),
        ),
        ("INLET_BRIDGE_SECRET".into(), secrets::BRIDGE.into()),
        (
            "INLET_STANDARD_SOURCES".into(),
            format!("bench={}", secrets::STANDARD),
        ),
    ]
}

pub use inlet_testkit::free_port;

impl Proc {
    /// Starts `exe serve <service>` with `env`, logging to a file in the temp dir.
    pub fn spawn(
        exe: &Path,
        service: Service,
        env: &[(String, String)],
        label: &str,
    ) -> anyhow::Result<Self> {
        let name = match service {
            Service::Gateway => "gateway",
            Service::Worker => "worker",
        };
        let log = std::env::temp_dir().join(format!("inlet-bench-{label}-{name}.log"));
        let file = std::fs::File::create(&log).context("creating the child's log file")?;
        let child = Command::new(exe)
            .args(["serve", name])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("INLET_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} serve {name}", exe.display()))?;
        Ok(Proc {
            service,
            child,
            log,
        })
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL, no chance to ack or drain: what a crash or the OOM killer does.
    pub async fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// SIGTERM and wait (a graceful stop), SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(grace, self.child.wait()).await.is_ok() {
                return;
            }
        }
        let _ = self.kill9().await;
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Resident set size in KiB, from `/proc/<pid>/status`.
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid()?)
    }
}

/// `VmRSS` of a process in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let process = procfs::process::Process::new(i32::try_from(pid).ok()?).ok()?;
    process.status().ok()?.vmrss
}

/// Waits until `GET url` answers 200.
pub async fn wait_ready(url: &str, timeout: Duration) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let ready = inlet_testkit::eventually(timeout, || {
        let req = http.get(url).send();
        async move { req.await.ok()?.status().is_success().then_some(()) }
    })
    .await;
    ready.with_context(|| format!("{url} never answered 200"))
}
