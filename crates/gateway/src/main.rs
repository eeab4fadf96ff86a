//! `inlet-gateway`: load settings, start telemetry, serve until stopped; or
//! run an operator command.

use anyhow::Context;
use clap::{Parser, Subcommand};
use inlet_domain::repository::Repository;
use inlet_domain::shutdown::on_signals;
use inlet_gateway::admin::clients::{create_client, list_clients, revoke_client, rotate_token};
use inlet_gateway::admin::AdminApp;
use inlet_gateway::config::Settings;
use inlet_gateway::startup::Application;
use uuid::Uuid;

// glibc's malloc took over a quarter of the worker's CPU on the many small
// allocations of JSON values and AMQP frames (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "inlet-gateway", about = "Inlet's webhook gateway")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve webhooks and the management API (the default).
    Serve,
    /// Manage clients of the forwarding management API.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Create a client and print its bearer token (shown only this once).
    Create {
        /// A name for humans.
        name: String,
    },
    /// List every client, revoked ones included.
    List,
    /// Give a client a new token (shown only this once); the old one stops working.
    Rotate {
        /// The client's id.
        id: Uuid,
    },
    /// Revoke a client: its token stops working and its endpoints are disabled.
    Revoke {
        /// The client's id.
        id: Uuid,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Clients { command } => manage_clients(command).await,
    }
}

async fn manage_clients(command: ClientsCommand) -> anyhow::Result<()> {
    // Only the database settings matter here: no webhook secrets needed.
    let settings: Settings =
        inlet_domain::settings::load(Settings::default()).context("loading settings")?;
    inlet_domain::telemetry::init(settings.log_format);
    let repo = Repository::new(settings.database.pool()?);
    match command {
        ClientsCommand::Create { name } => {
            let (client, token) = create_client(&repo, &name)
                .await
                .context("creating the client")?;
            println!("client_id: {}", client.id);
            print_token(&token);
        }
        ClientsCommand::List => {
            let clients = list_clients(&repo).await.context("listing the clients")?;
            println!(
                "{:<36}  {:<20}  {:<9}  {:<20}  name",
                "id", "created", "endpoints", "revoked"
            );
            for c in clients {
                let revoked = c.revoked_at.map_or_else(|| "-".to_owned(), stamp);
                println!(
                    "{:<36}  {:<20}  {:<9}  {:<20}  {}",
                    c.id,
                    stamp(c.created_at),
                    c.endpoints,
                    revoked,
                    c.name
                );
            }
        }
        ClientsCommand::Rotate { id } => {
            let token = rotate_token(&repo, id)
                .await
                .context("rotating the client's token")?;
            println!("client_id: {id}");
            print_token(&token);
        }
        ClientsCommand::Revoke { id } => {
            let disabled = revoke_client(&repo, id)
                .await
                .context("revoking the client")?;
            println!("revoked: {id} ({disabled} endpoints disabled)");
        }
    }
    Ok(())
}

fn print_token(token: &str) {
    println!("token: {token}");
    eprintln!("Store the token now: it is not kept and cannot be shown again.");
}

fn stamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

async fn serve() -> anyhow::Result<()> {
    let settings = Settings::load().context("loading settings")?;
    inlet_domain::telemetry::init(settings.log_format);
    let shutdown = on_signals().context("installing signal handlers")?;
    let app = Application::build(settings.clone(), shutdown.clone())?;
    tracing::info!(port = app.port(), "Gateway listening.");
    // The management API gets its own pool; ingest never touches it.
    let repo = Repository::new(settings.database.pool()?);
    let admin = AdminApp::build(&settings, repo, app.metrics(), shutdown.clone())?;
    tracing::info!(port = admin.port(), "Management API listening.");
    let mut ingest = tokio::spawn(app.run_until_stopped());
    let mut admin = tokio::spawn(admin.run_until_stopped());
    // Whichever server ends first (normally both, on the signal) stops the other.
    let (first, other) = tokio::select! {
        r = &mut ingest => (("ingest", r), admin),
        r = &mut admin => (("management", r), ingest),
    };
    if !shutdown.is_cancelled() {
        tracing::error!(
            server = first.0,
            "A server stopped unexpectedly; stopping the gateway."
        );
        shutdown.cancel();
    }
    // The other server drains (and the ingest one closes its broker
    // connection) before any error of the first is returned.
    let rest = other.await;
    first.1??;
    rest??;
    tracing::info!("Gateway stopped.");
    Ok(())
}
