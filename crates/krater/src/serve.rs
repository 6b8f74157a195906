//! The control-plane roles as services: `api`, `worker`, `health-manager` and
//! `housekeeping`, each a task with the same stop token. `krater serve` runs them all
//! in one process (the embedded default); `krater <role>` runs one. The roles share
//! nothing but the database.
//!
//! Stopping (SIGTERM or SIGINT) cancels the token: the API stops accepting and
//! finishes the requests it has, the worker finishes the task it runs and gives its
//! job back, the health manager and housekeeping stop at once. Amphorae keep serving.

use anyhow::Context;
use krater_api::AppState;
use krater_config::{Config, DriverChoice};
use krater_controller::spares::{Refill, SparePool};
use krater_controller::{Drivers, Failpoints, Worker, WorkerSettings};
use krater_drivers::LocalNetworks;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// At most one log line about dropped heartbeats per this interval.
const DROP_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Names under which the amphora provider is enabled (Octavia's aliases).
const AMPHORA_PROVIDERS: &[&str] = &["amphora", "octavia", "amphorav2"];

/// Which roles a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub api: bool,
    pub worker: bool,
    pub health_manager: bool,
    pub housekeeping: bool,
}

impl Roles {
    /// `krater serve`: every role; the health manager only where amphorae are real
    /// (it listens on the management network, which noop drivers do not make).
    pub fn all(config: &Config) -> Self {
        Self {
            api: true,
            worker: true,
            health_manager: config.controller_worker.amphora_drivers == DriverChoice::Real,
            housekeeping: true,
        }
    }

    pub const API: Self = Self::only(true, false, false, false);
    pub const WORKER: Self = Self::only(false, true, false, false);
    pub const HEALTH_MANAGER: Self = Self::only(false, false, true, false);
    pub const HOUSEKEEPING: Self = Self::only(false, false, false, true);

    const fn only(api: bool, worker: bool, health_manager: bool, housekeeping: bool) -> Self {
        Self {
            api,
            worker,
            health_manager,
            housekeeping,
        }
    }
}

/// The running roles of this process.
pub struct Service {
    /// Where the API listens (useful when the configured port is 0); None without it.
    pub api_address: Option<std::net::SocketAddr>,
    /// The service's database (tests read what a request stored).
    pub db: krater_db::Db,
    stop: CancellationToken,
    roles: JoinSet<(&'static str, anyhow::Result<()>)>,
}

impl Service {
    /// Where the API listens; panics in a process without the API role.
    pub fn address(&self) -> std::net::SocketAddr {
        self.api_address.expect("this process runs no API")
    }

    /// Runs until a role fails or the process gets SIGINT or SIGTERM, then stops
    /// every role gracefully.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let failed = tokio::select! {
            Some(ended) = self.roles.join_next() => Some(ended?),
            _ = tokio::signal::ctrl_c() => { tracing::info!("interrupted; stopping"); None }
            _ = terminate.recv() => { tracing::info!("terminated; stopping"); None }
        };
        self.shutdown().await;
        match failed {
            Some((role, Err(err))) => Err(err.context(format!("{role} failed"))),
            Some((role, Ok(()))) => anyhow::bail!("{role} stopped"),
            None => Ok(()),
        }
    }

    /// Stops every role and waits until each has.
    pub async fn shutdown(&mut self) {
        self.stop.cancel();
        while let Some(ended) = self.roles.join_next().await {
            match ended {
                Ok((role, Ok(()))) => tracing::info!(role, "stopped"),
                Ok((role, Err(err))) => {
                    tracing::error!(role, error = %err, "stopped with an error")
                }
                Err(err) => tracing::error!(error = %err, "a role panicked"),
            }
        }
    }

    /// Stops every role at once, without waiting (tests dropping a service).
    pub fn abort(&mut self) {
        self.stop.cancel();
        self.roles.abort_all();
    }
}

/// `krater serve`: applies pending migrations (the embedded default has no separate
/// `db upgrade` step), then starts every role.
pub async fn start(config: Config) -> anyhow::Result<Service> {
    let db = open_database(&config).await?;
    db.upgrade().await.context("cannot upgrade the database")?;
    let roles = Roles::all(&config);
    start_roles(config, db, roles).await
}

/// One or more roles on a database that `krater db upgrade` brought up to date; an
/// older schema is refused.
pub async fn start_checked(config: Config, roles: Roles) -> anyhow::Result<Service> {
    let db = open_database(&config).await?;
    db.check_schema().await?;
    start_roles(config, db, roles).await
}

/// Opens the configured database (the data directory made first, root's only: it
/// holds the SQLite file and the heartbeat key).
pub async fn open_database(config: &Config) -> anyhow::Result<krater_db::Db> {
    let data_dir = config.data_dir();
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    }
    krater_db::Db::open(&config.database_url())
        .await
        .context("cannot open the database")
}

async fn start_roles(config: Config, db: krater_db::Db, roles: Roles) -> anyhow::Result<Service> {
    let networks = Arc::new(
        LocalNetworks::from_config(&config.networking)
            .map_err(anyhow::Error::msg)
            .context("invalid [networking]")?,
    );
    let stop = CancellationToken::new();
    let mut running = JoinSet::new();
    let concurrency = config.controller_worker.workers;
    // `workers = 0` makes an API-only process of `serve`.
    let runs_worker = roles.worker && concurrency > 0;
    // The amphora provider's drivers, for the worker and the spares pool.
    let drivers = match config.controller_worker.amphora_drivers {
        DriverChoice::Real if runs_worker || roles.housekeeping => {
            real_drivers(&config, &networks)?
        }
        _ => Drivers::noop(),
    };
    if runs_worker {
        let worker = worker(&config, &db, &networks, drivers.clone())?;
        let stop = stop.clone();
        running.spawn(async move {
            worker.run(concurrency, stop).await;
            ("worker", Ok(()))
        });
    }
    // After the worker: its drivers make the management bridge the health manager
    // listens on.
    if roles.health_manager {
        let receiver = heartbeat_receiver(&config, &networks)?;
        let (db, stop) = (db.clone(), stop.clone());
        running.spawn(async move { ("health-manager", health_manager(db, receiver, stop).await) });
    }
    if roles.housekeeping {
        let (db, stop) = (db.clone(), stop.clone());
        let settings = config.house_keeping.clone();
        let rotation = CertRotation::of(&config)?;
        let spares = spare_pool(&config, &db, drivers, &networks);
        running.spawn(async move {
            (
                "housekeeping",
                housekeeping(db, settings, rotation, spares, stop).await,
            )
        });
    }
    let mut api_address = None;
    if roles.api {
        let address = format!(
            "{}:{}",
            config.api_settings.bind_host, config.api_settings.bind_port
        );
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let address = listener.local_addr()?;
        tracing::info!(%address, "krater API listening");
        api_address = Some(address);
        let state = AppState {
            db: db.clone(),
            config: Arc::new(config.clone()),
            networks: networks.clone(),
        };
        let stop = stop.clone();
        running.spawn(async move {
            let server = axum::serve(listener, krater_api::router(state))
                .with_graceful_shutdown(stop.cancelled_owned());
            ("api", server.await.context("API server failed"))
        });
    }
    Ok(Service {
        api_address,
        db,
        stop,
        roles: running,
    })
}

/// Receives heartbeats until `stop`. While the listening address does not exist yet (a
/// health manager started before the worker made the management bridge) or the socket
/// fails, it tries again every second.
async fn health_manager(
    db: krater_db::Db,
    receiver: krater_health_manager::Receiver,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let counters = Arc::new(krater_health_manager::Counters::default());
    // Its name in the counts the operator reads: the host and the address it hears on.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = format!("{}:{}", host.trim(), receiver.bind);
    loop {
        let run = krater_health_manager::run(
            db.clone(),
            receiver.clone(),
            counters.clone(),
            name.clone(),
        );
        let received = tokio::select! {
            received = run => received,
            _ = stop.cancelled() => return Ok(()),
        };
        if let Err(err) = received {
            tracing::warn!(bind = %receiver.bind, error = %err, "cannot receive heartbeats; trying again");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.cancelled() => return Ok(()),
        }
    }
}

/// Where heartbeats arrive, and from where they may come.
fn heartbeat_receiver(
    config: &Config,
    networks: &LocalNetworks,
) -> anyhow::Result<krater_health_manager::Receiver> {
    let (_, mgmt_subnet) = networks
        .management
        .clone()
        .context("no management network")?;
    Ok(krater_health_manager::Receiver {
        bind: heartbeat_bind(config)?,
        key: crate::pki::heartbeat_key(&config.heartbeat_key_file())?,
        sources: krater_health_manager::SourceNetwork {
            address: mgmt_subnet.network.into(),
            prefix_len: mgmt_subnet.prefix_len,
        },
        replay_window: Duration::from_secs(config.health_manager.heartbeat_replay_window),
        drop_log_interval: DROP_LOG_INTERVAL,
        watch: krater_health_manager::Watch {
            heartbeat_timeout: Duration::from_secs(config.health_manager.heartbeat_timeout),
            check_interval: Duration::from_secs(config.health_manager.health_check_interval),
            failover_threshold: config.health_manager.failover_threshold,
        },
    })
}

fn heartbeat_bind(config: &Config) -> anyhow::Result<std::net::SocketAddr> {
    let hm = &config.health_manager;
    format!("{}:{}", hm.bind_ip, hm.bind_port)
        .parse()
        .context("[health_manager] bind_ip/bind_port")
}

fn worker(
    config: &Config,
    db: &krater_db::Db,
    networks: &Arc<LocalNetworks>,
    amphora_drivers: Drivers,
) -> anyhow::Result<Worker> {
    let worker_config = &config.controller_worker;
    let mut providers = HashMap::new();
    for name in AMPHORA_PROVIDERS {
        providers.insert(name.to_string(), amphora_drivers.clone());
    }
    let settings = WorkerSettings {
        lease: Duration::from_secs(worker_config.job_lease_seconds.max(1)),
        poll_interval: Duration::from_millis(worker_config.poll_interval_ms),
        task_attempts: worker_config.task_retries.max(1),
        retry_delay: Duration::from_secs(1),
        max_job_attempts: i64::from(worker_config.job_max_attempts.max(1)),
        vrrp: vrrp_options(&config.keepalived_vrrp),
        spare_heard_within: Duration::from_secs(config.health_manager.heartbeat_timeout),
        failpoints: Failpoints::from_env().map_err(anyhow::Error::msg)?,
    };
    Ok(Worker::new(
        db.clone(),
        settings,
        providers,
        networks.clone(),
    ))
}

/// keepalived's timings from `[keepalived_vrrp]` (checked when it was read).
fn vrrp_options(vrrp: &krater_config::KeepalivedVrrp) -> krater_controller::VrrpOptions {
    krater_controller::VrrpOptions {
        advert_int_centis: (vrrp.vrrp_advert_int * 100.0).round() as u16,
        check_interval: vrrp.vrrp_check_interval,
        fall: vrrp.vrrp_fail_count,
        rise: vrrp.vrrp_success_count,
        garp_refresh: vrrp.vrrp_garp_refresh_interval,
        garp_repeat: vrrp.vrrp_garp_refresh_count,
    }
}

/// krater's CA, and the client that talks to the agents with the controller's
/// certificate.
fn agent_access(
    config: &Config,
) -> anyhow::Result<(Arc<crate::pki::Pki>, krater_drivers::AgentAmphora)> {
    let pki = Arc::new(crate::pki::Pki::load_or_create(
        &config.data_dir().join("certs"),
        Duration::from_secs(config.certificates.cert_validity_time),
    )?);
    let amphora = krater_drivers::AgentAmphora::new(
        pki.ca.cert_pem().to_string(),
        pki.controller.cert_pem.clone(),
        pki.controller.key_pem.clone(),
        config.haproxy_amphora.bind_port,
        krater_agent_api::ClientSettings::default(),
        Duration::from_secs(config.controller_worker.amp_boot_timeout_seconds),
    );
    Ok((pki, amphora))
}

/// The drivers of the embedded default: network namespaces, local bridges, the agent.
fn real_drivers(config: &Config, networks: &Arc<LocalNetworks>) -> anyhow::Result<Drivers> {
    let local = krater_drivers::LocalNetwork::new((**networks).clone());
    local
        .ensure_bridges()
        .context("cannot create the network bridges")?;
    let (mgmt_network, mgmt_subnet) = networks
        .management
        .clone()
        .context("no management network")?;
    let (pki, amphora) = agent_access(config)?;
    let hm = &config.health_manager;
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
    let key_file = config.heartbeat_key_file();
    // Made here when missing, so that the agents and the health manager share it.
    crate::pki::heartbeat_key(&key_file)?;
    let compute = krater_drivers::NetnsCompute::new(
        config.haproxy_amphora.base_path.clone(),
        mgmt_network.bridge.clone(),
        mgmt_subnet,
        krater_drivers::netns::AgentSettings {
            binary: std::env::current_exe().context("cannot find the krater binary")?,
            port: config.haproxy_amphora.bind_port,
            haproxy_cmd: config.haproxy_amphora.haproxy_cmd.clone(),
            heartbeat_targets: config
                .heartbeat_targets()
                .iter()
                .map(ToString::to_string)
                .collect(),
            heartbeat_interval_secs: hm.heartbeat_interval,
            heartbeat_key_file: key_file,
        },
        pki.clone(),
    );
    Ok(Drivers {
        compute: Arc::new(compute),
        network: Arc::new(local),
        amphora: Arc::new(amphora),
    })
}

/// The spares pool, kept with the real amphora drivers only (a pool of size 0 still
/// removes the spares a larger size left).
fn spare_pool(
    config: &Config,
    db: &krater_db::Db,
    drivers: Drivers,
    networks: &Arc<LocalNetworks>,
) -> Option<SparePool> {
    let size = config.house_keeping.spare_amphora_pool_size;
    if config.controller_worker.amphora_drivers != DriverChoice::Real {
        if size > 0 {
            tracing::warn!(
                size,
                "spare amphorae need the real amphora drivers; none are kept"
            );
        }
        return None;
    }
    Some(SparePool {
        db: db.clone(),
        drivers,
        networks: networks.clone(),
        size,
        heartbeat_timeout: Duration::from_secs(config.health_manager.heartbeat_timeout),
        boot_timeout: Duration::from_secs(config.controller_worker.amp_boot_timeout_seconds),
        interval: Duration::from_secs(config.house_keeping.spare_check_interval.max(1)),
    })
}

/// The rotation of the amphorae's server certificates (amphorae with an agent only).
struct CertRotation {
    pki: Arc<crate::pki::Pki>,
    amphora: Arc<dyn krater_drivers::AmphoraDriver>,
    interval: Duration,
    buffer: Duration,
}

impl CertRotation {
    fn of(config: &Config) -> anyhow::Result<Option<Self>> {
        if config.controller_worker.amphora_drivers != DriverChoice::Real {
            return Ok(None);
        }
        let (pki, amphora) = agent_access(config)?;
        Ok(Some(Self {
            pki,
            amphora: Arc::new(amphora),
            interval: Duration::from_secs(config.house_keeping.cert_interval.max(1)),
            buffer: Duration::from_secs(config.house_keeping.cert_expiry_buffer),
        }))
    }

    /// Gives every amphora whose certificate expires within the buffer a new one; an
    /// amphora that cannot take it now is tried again at the next look.
    async fn rotate(&self, db: &krater_db::Db) -> anyhow::Result<()> {
        use krater_drivers::netns::CertificateIssuer;
        let due = db.read().await?.certificates_to_rotate(self.buffer).await?;
        for id in due {
            let mut tx = db.begin().await?;
            if !tx.claim_certificate_rotation(&id).await? {
                continue;
            }
            tx.commit().await?;
            // Every path from the claim on ends the rotation, so that no amphora stays
            // claimed (only a crash right here leaves cert_busy set).
            let outcome = async {
                let amphora = async { db.read().await?.amphora(&id).await }
                    .await
                    .map_err(|e: krater_db::DbError| e.to_string())?
                    .ok_or_else(|| "the amphora is gone".to_string())?;
                let certificate = self
                    .pki
                    .amphora_certificate(&id)
                    .map_err(|e| e.to_string())?;
                self.amphora
                    .rotate_certificate(&amphora, &certificate)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(certificate.expires_at)
            }
            .await;
            let mut tx = db.begin().await?;
            tx.finish_certificate_rotation(&id, outcome.as_ref().ok().copied())
                .await?;
            tx.commit().await?;
            match outcome {
                Ok(expires_at) => {
                    tracing::info!(amphora = %id, %expires_at, "amphora certificate rotated")
                }
                Err(err) => {
                    tracing::warn!(amphora = %id, error = %err, "amphora certificate not rotated; trying again later")
                }
            }
        }
        Ok(())
    }
}

/// Housekeeping: every `cleanup_interval`, the rows of objects deleted long ago go;
/// every `cert_interval`, certificates near their end are replaced; every
/// `spare_check_interval`, the spares pool is refilled. A stop waits for the rotation
/// of the amphora at hand and the spares being built.
async fn housekeeping(
    db: krater_db::Db,
    settings: krater_config::HouseKeeping,
    rotation: Option<CertRotation>,
    spares: Option<SparePool>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let keep_spares = async {
        let Some(pool) = spares else { return };
        loop {
            match pool.look().await {
                Ok(refill) if refill != Refill::default() => {
                    tracing::info!(?refill, size = pool.size, "spares pool looked after")
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "cannot look after the spares pool"),
            }
            tokio::select! {
                _ = tokio::time::sleep(pool.interval) => {}
                _ = stop.cancelled() => return,
            }
        }
    };
    let rotate = async {
        let Some(rotation) = rotation else { return };
        loop {
            if let Err(err) = rotation.rotate(&db).await {
                tracing::warn!(error = %err, "cannot rotate amphora certificates");
            }
            tokio::select! {
                _ = tokio::time::sleep(rotation.interval) => {}
                _ = stop.cancelled() => return,
            }
        }
    };
    let (cleaned, (), ()) = tokio::join!(cleanup(&db, &settings, &stop), rotate, keep_spares);
    cleaned
}

async fn cleanup(
    db: &krater_db::Db,
    settings: &krater_config::HouseKeeping,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let interval = Duration::from_secs(settings.cleanup_interval.max(1));
    loop {
        let purged = async {
            let mut tx = db.begin().await?;
            let purged = tx
                .purge_deleted(
                    Duration::from_secs(settings.load_balancer_expiry_age),
                    Duration::from_secs(settings.amphora_expiry_age),
                )
                .await?;
            tx.commit().await?;
            Ok::<_, krater_db::DbError>(purged)
        }
        .await;
        match purged {
            Ok(purged) if purged != krater_db::Purged::default() => {
                tracing::info!(?purged, "housekeeping purged expired rows")
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "housekeeping could not purge"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.cancelled() => return Ok(()),
        }
    }
}
