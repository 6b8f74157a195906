//! `krater`: one binary, one subcommand per role.

use clap::{Parser, Subcommand};
use krater::serve::{self, Roles};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "krater",
    about = "Octavia-compatible load balancing as a service",
    version
)]
struct Cli {
    /// The configuration file (krater.toml); built-in defaults when omitted.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs every control-plane role in one process (the embedded default); applies
    /// pending database migrations first.
    Serve,
    /// Runs the REST API.
    Api,
    /// Runs flows from the job table.
    Worker,
    /// Receives heartbeats and updates statuses.
    HealthManager,
    /// Purges expired rows from the database.
    Housekeeping,
    /// Runs the agent inside an amphora (started by the compute driver).
    AmphoraAgent {
        /// The agent's configuration, written by the compute driver.
        #[arg(long)]
        agent_config: PathBuf,
    },
    /// Removes the amphorae (namespaces, links, processes) that krater started on this
    /// host and that a killed run left behind.
    Cleanup,
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Applies pending migrations.
    Upgrade,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let config = krater_config::Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve::start(config).await?.wait().await,
        Command::Api => role(config, Roles::API).await,
        Command::Worker => role(config, Roles::WORKER).await,
        Command::HealthManager => role(config, Roles::HEALTH_MANAGER).await,
        Command::Housekeeping => role(config, Roles::HOUSEKEEPING).await,
        Command::AmphoraAgent { agent_config } => {
            krater_agent::run(krater_agent::AgentConfig::load(&agent_config)?).await
        }
        Command::Cleanup => {
            let root = &config.haproxy_amphora.base_path;
            let removed = krater_drivers::netns::cleanup(root)?;
            tracing::info!(count = removed.len(), namespaces = ?removed, "cleaned up");
            Ok(())
        }
        Command::Db {
            command: DbCommand::Upgrade,
        } => {
            let db = serve::open_database(&config).await?;
            db.upgrade().await?;
            tracing::info!(
                version = krater_db::Db::latest_schema_version(),
                "database is up to date"
            );
            Ok(())
        }
    }
}

/// Runs one role on an up-to-date database.
async fn role(config: krater_config::Config, roles: Roles) -> anyhow::Result<()> {
    serve::start_checked(config, roles).await?.wait().await
}
