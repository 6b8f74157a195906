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
    /// keepalived's check inside an amphora: exits with 0 when every HAProxy of the
    /// bundle in force in the agent's state directory answers on its stats socket.
    VrrpCheck {
        /// The agent's state directory.
        state_dir: PathBuf,
    },
    /// Removes the amphorae (namespaces, links, processes) that krater started on this
    /// host and that a killed run left behind.
    Cleanup,
    /// Prints what each health manager did with the heartbeats it received since it
    /// started: accepted, and dropped by cause.
    Health,
    /// Encodes or decodes one heartbeat datagram with the heartbeat key, as the
    /// agents and the health manager do (to read a captured datagram, or to check
    /// compatibility with Octavia's own encoder).
    Heartbeat {
        #[command(subcommand)]
        command: HeartbeatCommand,
    },
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(Subcommand)]
enum HeartbeatCommand {
    /// Reads a heartbeat message (JSON) on standard input, writes its signed datagram.
    Encode,
    /// Reads a datagram on standard input, writes its message (JSON) once the
    /// signature and the format are checked.
    Decode,
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
        Command::VrrpCheck { state_dir } => krater_agent::vrrp_check(&state_dir).await,
        Command::Cleanup => {
            let root = &config.haproxy_amphora.base_path;
            let removed = krater_drivers::netns::cleanup(root)?;
            tracing::info!(count = removed.len(), namespaces = ?removed, "cleaned up");
            Ok(())
        }
        Command::Health => {
            let db = serve::open_database(&config).await?;
            db.check_schema().await?;
            print!(
                "{}",
                health_table(&db.read().await?.health_managers().await?)
            );
            Ok(())
        }
        Command::Heartbeat { command } => {
            use std::io::{Read, Write};
            let key = std::fs::read_to_string(config.heartbeat_key_file())?;
            let mut input = Vec::new();
            std::io::stdin().read_to_end(&mut input)?;
            let output = match command {
                HeartbeatCommand::Encode => {
                    krater_heartbeat::encode(&serde_json::from_slice(&input)?, key.trim())?
                }
                HeartbeatCommand::Decode => {
                    serde_json::to_vec(&krater_heartbeat::decode(&input, key.trim())?)?
                }
            };
            std::io::stdout().write_all(&output)?;
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

/// The health managers' counts, a row each.
fn health_table(reports: &[krater_db::HealthManagerReport]) -> String {
    let mut out = format!(
        "{:<36} {:<19} {:<19} {:>10} {:>8} {:>9} {:>9} {:>9} {:>8} {:>8}\n",
        "health manager",
        "since",
        "updated",
        "accepted",
        "foreign",
        "bad_sign",
        "malformed",
        "too_large",
        "replayed",
        "stale"
    );
    for r in reports {
        let c = &r.counts;
        out += &format!(
            "{:<36} {:<19} {:<19} {:>10} {:>8} {:>9} {:>9} {:>9} {:>8} {:>8}\n",
            r.id,
            r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.updated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            c.accepted,
            c.foreign_source,
            c.bad_signature,
            c.malformed,
            c.too_large,
            c.replayed,
            c.stale
        );
    }
    out
}
