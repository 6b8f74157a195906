//! `krater serve`: the API and the worker in one process, sharing one database.

use anyhow::Context;
use krater_api::AppState;
use krater_config::{Config, DriverChoice};
use krater_controller::{Drivers, Worker, WorkerSettings};
use krater_drivers::LocalNetworks;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// At most one log line about dropped heartbeats per this interval.
const DROP_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Names under which the amphora provider is enabled (Octavia's aliases).
const AMPHORA_PROVIDERS: &[&str] = &["amphora", "octavia", "amphorav2"];

/// A running `krater serve`: the API listening, the worker working.
pub struct Service {
    /// Where the API listens (useful when the configured port is 0).
    pub address: std::net::SocketAddr,
    /// The service's database (tests read what a request stored).
    pub db: krater_db::Db,
    api: tokio::task::JoinHandle<std::io::Result<()>>,
    worker: tokio::task::JoinHandle<()>,
}

impl Service {
    /// Runs until the API or the worker stops, or the process gets SIGINT or SIGTERM.
    /// Stopping leaves amphorae serving; unfinished jobs resume at the next start.
    pub async fn wait(self) -> anyhow::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        tokio::select! {
            result = self.api => result?.context("API server failed")?,
            _ = self.worker => anyhow::bail!("worker stopped"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
            _ = terminate.recv() => tracing::info!("terminated; stopping"),
        }
        Ok(())
    }

    /// Stops both (tests).
    pub fn stop(&self) {
        self.api.abort();
        self.worker.abort();
    }
}

/// The drivers of the embedded default: network namespaces, local bridges, the agent.
/// Also starts the health manager on the management network, where the agents send
/// their heartbeats.
async fn real_drivers(
    config: &Config,
    networks: &Arc<LocalNetworks>,
    db: &krater_db::Db,
) -> anyhow::Result<Drivers> {
    let local = krater_drivers::LocalNetwork::new((**networks).clone());
    local
        .ensure_bridges()
        .context("cannot create the network bridges")?;
    let (mgmt_network, mgmt_subnet) = networks
        .management
        .clone()
        .context("no management network")?;
    let pki = Arc::new(crate::pki::Pki::load_or_create(
        &config.data_dir().join("certs"),
    )?);
    let key_file = config.heartbeat_key_file();
    let key = crate::pki::heartbeat_key(&key_file)?;
    let hm = &config.health_manager;
    let bind: std::net::SocketAddr = format!("{}:{}", hm.bind_ip, hm.bind_port)
        .parse()
        .context("[health_manager] bind_ip/bind_port")?;
    // The health manager shares the service's connections: with SQLite a second
    // connection would make writers on either side fail with "database is locked".
    let db = db.clone();
    let counters = Arc::new(krater_health_manager::Counters::default());
    let receiver = krater_health_manager::Receiver {
        bind,
        key,
        sources: krater_health_manager::SourceNetwork {
            address: mgmt_subnet.network.into(),
            prefix_len: mgmt_subnet.prefix_len,
        },
        drop_log_interval: DROP_LOG_INTERVAL,
    };
    tokio::spawn(async move {
        if let Err(err) = krater_health_manager::run(db, receiver, counters).await {
            tracing::error!(error = %err, "health manager stopped");
        }
    });
    // Amphorae started by an earlier run, maybe in another mount namespace.
    for (netns, outcome) in krater_drivers::netns::adopt_amphorae(&config.haproxy_amphora.base_path)
    {
        match outcome {
            Ok(()) => tracing::info!(%netns, "amphora namespace named again"),
            Err(err) => {
                tracing::warn!(%netns, error = %err, "cannot name an amphora namespace again")
            }
        }
    }
    let compute = krater_drivers::NetnsCompute::new(
        config.haproxy_amphora.base_path.clone(),
        mgmt_network.bridge.clone(),
        mgmt_subnet,
        krater_drivers::netns::AgentSettings {
            binary: std::env::current_exe().context("cannot find the krater binary")?,
            port: config.haproxy_amphora.bind_port,
            haproxy_cmd: config.haproxy_amphora.haproxy_cmd.clone(),
            heartbeat_targets: vec![bind.to_string()],
            heartbeat_interval_secs: hm.heartbeat_interval,
            heartbeat_key_file: key_file,
        },
        pki.clone(),
    );
    let amphora = krater_drivers::AgentAmphora::new(
        pki.ca.cert_pem().to_string(),
        pki.controller.cert_pem.clone(),
        pki.controller.key_pem.clone(),
        config.haproxy_amphora.bind_port,
        krater_agent_api::ClientSettings::default(),
        Duration::from_secs(config.controller_worker.amp_boot_timeout_seconds),
    );
    Ok(Drivers {
        compute: Arc::new(compute),
        network: Arc::new(local),
        amphora: Arc::new(amphora),
    })
}

/// Opens the database, starts the worker and the API.
pub async fn start(config: Config) -> anyhow::Result<Service> {
    let data_dir = config.data_dir();
    {
        use std::os::unix::fs::DirBuilderExt;
        // It holds the database and the heartbeat key: root's only.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    }
    let db = krater_db::Db::connect(&config.database_url())
        .await
        .context("cannot open the database")?;
    let networks = Arc::new(
        LocalNetworks::from_config(&config.networking)
            .map_err(anyhow::Error::msg)
            .context("invalid [networking]")?,
    );
    let waker = Arc::new(Notify::new());
    let worker_config = &config.controller_worker;

    let amphora_drivers = match worker_config.amphora_drivers {
        DriverChoice::Noop => Drivers::noop(),
        DriverChoice::Real => real_drivers(&config, &networks, &db).await?,
    };
    let mut providers = HashMap::new();
    for name in AMPHORA_PROVIDERS {
        providers.insert(name.to_string(), amphora_drivers.clone());
    }
    providers.insert("noop_driver".to_string(), Drivers::noop());
    let settings = WorkerSettings {
        lease: Duration::from_secs(worker_config.job_lease_seconds),
        poll_interval: Duration::from_millis(worker_config.poll_interval_ms),
        task_attempts: worker_config.task_retries.max(1),
        retry_delay: Duration::from_secs(1),
    };
    let worker = Worker::new(
        db.clone(),
        settings,
        providers,
        networks.clone(),
        waker.clone(),
    );
    let worker = tokio::spawn(worker.run(worker_config.workers));

    let state = AppState {
        db: db.clone(),
        config: Arc::new(config.clone()),
        networks,
        job_waker: waker,
    };
    let address = format!(
        "{}:{}",
        config.api_settings.bind_host, config.api_settings.bind_port
    );
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, data_dir = %data_dir.display(), "krater API listening");
    let server = axum::serve(listener, krater_api::router(state));
    let api = tokio::spawn(async move { server.await });
    Ok(Service {
        address,
        db,
        api,
        worker,
    })
}
