//! Stopping or freezing the shared services, with a guard that brings the
//! service back when dropped: a failing scenario (a panic, an `?`) never
//! leaves RabbitMQ, PostgreSQL or Redis down for the tests after it.

use anyhow::Context;
use std::process::Command;

/// A service every test shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedService {
    /// RabbitMQ (`rabbitmqctl stop_app` / `start_app`: the node stays up, the broker stops).
    RabbitMq,
    /// PostgreSQL (`pg_ctlcluster … main stop|start`).
    Postgres,
    /// Redis (`redis-cli shutdown nosave`, then the start line of SERVICES.md).
    Redis,
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("running {program}"))?;
    anyhow::ensure!(status.success(), "{program} {args:?} failed: {status}");
    Ok(())
}

fn pg_version() -> anyhow::Result<String> {
    let mut versions = std::fs::read_dir("/etc/postgresql")
        .context("reading /etc/postgresql")?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect::<Vec<_>>();
    versions.sort();
    versions.pop().context("no cluster in /etc/postgresql")
}

impl SharedService {
    /// Stops the service.
    pub fn stop(self) -> anyhow::Result<()> {
        match self {
            SharedService::RabbitMq => run("rabbitmqctl", &["-q", "stop_app"]),
            SharedService::Postgres => run(
                "pg_ctlcluster",
                &["--skip-systemctl-redirect", &pg_version()?, "main", "stop"],
            ),
            SharedService::Redis => run(
                "redis-cli",
                &["-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"],
            ),
        }
    }

    /// Sends `signal` (`STOP`, `CONT`) to every process of the service.
    pub fn signal(self, signal: &str) -> anyhow::Result<()> {
        let name = match self {
            SharedService::RabbitMq => "beam.smp",
            SharedService::Postgres => "postgres",
            SharedService::Redis => "redis-server",
        };
        run("pkill", &[&format!("-{signal}"), "-x", name])
    }

    /// Starts it and waits until it answers.
    pub fn start(self) -> anyhow::Result<()> {
        match self {
            SharedService::RabbitMq => {
                run("rabbitmqctl", &["-q", "start_app"])?;
                run("rabbitmqctl", &["-q", "await_startup"])
            }
            SharedService::Postgres => {
                let version = pg_version()?;
                // Starting a running cluster fails; that is fine here.
                let _ = run(
                    "pg_ctlcluster",
                    &["--skip-systemctl-redirect", &version, "main", "start"],
                );
                for _ in 0..60 {
                    if run("pg_isready", &["-q", "-h", "127.0.0.1", "-p", "5432"]).is_ok() {
                        return Ok(());
                    }
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
                anyhow::bail!("PostgreSQL did not come back")
            }
            SharedService::Redis => {
                std::fs::create_dir_all("/var/lib/redis")?;
                std::fs::create_dir_all("/var/log/redis")?;
                run(
                    "redis-server",
                    &[
                        "--daemonize",
                        "yes",
                        "--bind",
                        "127.0.0.1",
                        "-::1",
                        "--port",
                        "6379",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        "/var/lib/redis",
                        "--logfile",
                        "/var/log/redis/ci.log",
                    ],
                )?;
                for _ in 0..40 {
                    if run("redis-cli", &["-h", "127.0.0.1", "-p", "6379", "ping"]).is_ok() {
                        return Ok(());
                    }
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
                anyhow::bail!("Redis did not come back")
            }
        }
    }
}

/// How a service is taken away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Stopped: connections are refused, as after a crash or during a restart.
    Stop,
    /// Every process of the service frozen with `SIGSTOP`: connections stay
    /// open and nothing answers, as with a hung host or a network partition.
    Freeze,
}

/// A service stopped or frozen until [`Outage::end`] or drop.
pub struct Outage {
    service: SharedService,
    fault: Fault,
    ended: bool,
}

impl Outage {
    /// Takes `service` away. If that fails half-way the guard still brings it back.
    pub fn begin(service: SharedService, fault: Fault) -> anyhow::Result<Self> {
        let outage = Outage {
            service,
            fault,
            ended: false,
        };
        match fault {
            Fault::Stop => service.stop()?,
            Fault::Freeze => service.signal("STOP")?,
        }
        Ok(outage)
    }

    /// Brings the service back.
    pub fn end(&mut self) -> anyhow::Result<()> {
        self.ended = true;
        match self.fault {
            Fault::Stop => self.service.start(),
            Fault::Freeze => self.service.signal("CONT"),
        }
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        if !self.ended {
            if let Err(error) = self.end() {
                eprintln!("could not bring {:?} back: {error:#}", self.service);
            }
        }
    }
}
