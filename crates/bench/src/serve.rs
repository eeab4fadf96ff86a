//! `inlet-bench serve gateway|worker`: the gateway or the worker in a process
//! of its own, built exactly as their `main` builds them (settings from
//! `INLET_*`, the same `build` and `run_until_stopped`). The harnesses start
//! these so that a worker can be killed with SIGKILL, and so that a test never
//! runs a stale `inlet-worker` binary from an earlier build.

use anyhow::Context;
use inlet_domain::shutdown::on_signals;

/// Which service to serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    /// The HTTP gateway.
    Gateway,
    /// The queue worker.
    Worker,
}

/// Runs `service` until SIGTERM/SIGINT.
pub async fn serve(service: Service) -> anyhow::Result<()> {
    match service {
        Service::Gateway => {
            let settings =
                inlet_gateway::config::Settings::load().context("loading gateway settings")?;
            inlet_domain::telemetry::init(settings.log_format);
            let shutdown = on_signals().context("installing signal handlers")?;
            let app = inlet_gateway::startup::Application::build(settings, shutdown)?;
            tracing::info!(port = app.port(), "Gateway listening.");
            app.run_until_stopped().await?;
        }
        Service::Worker => {
            let settings =
                inlet_worker::config::Settings::load().context("loading worker settings")?;
            inlet_domain::telemetry::init(settings.log_format);
            let shutdown = on_signals().context("installing signal handlers")?;
            let worker = inlet_worker::startup::Worker::build(settings, shutdown).await?;
            tracing::info!(probe_port = worker.port(), "Worker started.");
            worker.run_until_stopped().await?;
        }
    }
    Ok(())
}
