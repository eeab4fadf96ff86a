//! `inlet-worker`: consume raw events and store them; or run an operator command.

use anyhow::Context;
use clap::{Parser, Subcommand};
use inlet_domain::repository::Repository;
use inlet_domain::shutdown::on_signals;
use inlet_worker::config::Settings;
use inlet_worker::startup::Worker;

#[derive(Parser)]
#[command(name = "inlet-worker", about = "Inlet's worker")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Consume and store events (the default).
    Run,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Only forward domain events to customers' endpoints.
    Deliver,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load().context("loading settings")?;
    inlet_domain::telemetry::init(settings.log_format);
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => {
            let shutdown = on_signals().context("installing signal handlers")?;
            let worker = Worker::build(settings, shutdown).await?;
            tracing::info!(probe_port = worker.port(), "Worker started.");
            worker.run_until_stopped().await?;
            tracing::info!("Worker stopped.");
        }
        Command::Deliver => {
            let shutdown = on_signals().context("installing signal handlers")?;
            tracing::info!("Delivery worker starting.");
            inlet_worker::delivery::run_standalone(settings, shutdown).await?;
            tracing::info!("Delivery worker stopped.");
        }
        Command::Migrate => {
            let repo = Repository::new(settings.database.pool()?);
            repo.migrate().await.context("applying migrations")?;
            tracing::info!("Migrations applied.");
        }
    }
    Ok(())
}
