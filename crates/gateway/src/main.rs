//! `inlet-gateway`: load settings, start telemetry, serve until stopped.

use anyhow::Context;
use inlet_domain::shutdown::on_signals;
use inlet_gateway::config::Settings;
use inlet_gateway::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load().context("loading settings")?;
    inlet_domain::telemetry::init(settings.log_format);
    let shutdown = on_signals().context("installing signal handlers")?;
    let app = Application::build(settings, shutdown)?;
    tracing::info!(port = app.port(), "Gateway listening.");
    app.run_until_stopped().await?;
    tracing::info!("Gateway stopped.");
    Ok(())
}
