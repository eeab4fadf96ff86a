//! `inlet-worker`: consume raw events and store them; or run an operator command.

use anyhow::Context;
use clap::{Parser, Subcommand};
use inlet_domain::repository::Repository;
use inlet_domain::shutdown::on_signals;
use inlet_worker::config::Settings;
use inlet_worker::dead_letters::{self, Selection};
use inlet_worker::startup::Worker;
use std::time::Duration;

// glibc's malloc took over a quarter of the worker's CPU on the many small
// allocations of JSON values and AMQP frames (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Inspect and replay events that could not be processed.
    #[command(name = "dead-letters", subcommand)]
    DeadLetters(DeadLetterCommand),
}

#[derive(Subcommand)]
enum DeadLetterCommand {
    /// List the most recent dead letters.
    List {
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show one dead letter with its headers, error and raw body.
    Show {
        /// The dead letter's id.
        id: i64,
    },
    /// Republish dead letters through the normal path and mark them replayed.
    Replay {
        /// Every dead letter not yet replayed.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// The ids to replay.
        #[arg(required_unless_present = "all")]
        ids: Vec<i64>,
    },
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
        Command::DeadLetters(command) => dead_letter_command(&settings, command).await?,
    }
    Ok(())
}

async fn dead_letter_command(
    settings: &Settings,
    command: DeadLetterCommand,
) -> anyhow::Result<()> {
    let repo = Repository::new(settings.database.pool()?);
    match command {
        DeadLetterCommand::List { limit } => {
            println!(
                "{:>8}  {:<8}  {:<9}  {:>8}  {:<20}  error",
                "id", "state", "provider", "attempts", "last failed"
            );
            for dl in dead_letters::list(&repo, limit).await? {
                let error: String = dl.error.chars().take(80).collect();
                println!(
                    "{:>8}  {:<8}  {:<9}  {:>8}  {:<20}  {error}",
                    dl.id,
                    dl.state,
                    dl.provider,
                    dl.attempts,
                    dl.last_failed_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
            }
        }
        DeadLetterCommand::Show { id } => {
            let dl = dead_letters::show(&repo, id)
                .await?
                .with_context(|| format!("no dead letter {id}"))?;
            let mut json = serde_json::to_value(&dl)?;
            json["body"] = String::from_utf8_lossy(&dl.body).into_owned().into();
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        DeadLetterCommand::Replay { all, ids } => {
            let selection = if all {
                Selection::All
            } else {
                Selection::Ids(ids)
            };
            let report = dead_letters::replay(
                &repo,
                &settings.broker.amqp_url,
                &settings.broker.topology(),
                selection,
                Duration::from_millis(settings.publish_timeout_ms),
            )
            .await
            .context("replaying dead letters")?;
            println!(
                "replayed {} ({:?}); skipped {} already replayed ({:?})",
                report.replayed.len(),
                report.replayed,
                report.skipped.len(),
                report.skipped
            );
        }
    }
    Ok(())
}
