//! krater's storage: one repository layer over SQLite (the embedded default) and
//! PostgreSQL (several processes on several hosts), through `sqlx::Any`.
//!
//! Everything is done inside a [`Tx`]: API writes put their objects, the PENDING_*
//! states and the job of the change in one transaction, so a crash never leaves one
//! without the other. Status changes go through [`Tx::test_and_set_status`], the one
//! owner of provisioning-status transitions (Octavia's test-and-set).
//!
//! Only this crate knows SQL. The schema is applied only by [`Db::upgrade`] (`krater db
//! upgrade`, and `krater serve` for the embedded default); every other role checks it
//! with [`Db::check_schema`] and refuses to start on an older one.

mod health;
mod housekeeping;
mod jobs;
mod listing;
mod locks;
mod rows;
mod schema;
mod spares;
#[cfg(feature = "test-support")]
pub mod test_support;

pub use health::{HealthManagerReport, HeartbeatCounts, StaleAmphora};
pub use housekeeping::Purged;
pub use jobs::{Job, JobState, Lease};
pub use listing::{Collection, ListQuery, Relation, Scope, TagFilters};
pub use locks::Lock;
pub use rows::{PortRequest, Table};

use krater_domain::{status::Transition, ProvisioningStatus, Timestamp};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// A failed storage operation.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{} {id} not found.", table.display_name())]
    NotFound { table: Table, id: String },
    /// The object is not in a state that allows the change.
    #[error("{} {id} is immutable and cannot be updated.", table.display_name())]
    Immutable {
        table: Table,
        id: String,
        status: ProvisioningStatus,
    },
    /// A uniqueness constraint refused the write.
    #[error("duplicate entry: {0}")]
    Duplicate(String),
    /// A list's marker is not an object of the list.
    #[error("Supplied pagination marker '{0}' is not valid.")]
    BadMarker(String),
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    /// The job's lease went to another worker: its former owner must write nothing more.
    #[error("the lease of job {job_id} was lost")]
    LeaseLost { job_id: String },
    /// The database's schema is not the one this binary was built for.
    #[error(
        "the database schema is at version {found}, this krater needs version {wanted}: {hint}"
    )]
    Schema {
        found: i64,
        wanted: i64,
        hint: &'static str,
    },
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// Which database server is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database: pools of connections.
///
/// Writes go through [`Db::begin`], reads through [`Db::read`]. On SQLite (WAL mode)
/// the writer is one connection, so that writes of this process run one at a time,
/// each `BEGIN IMMEDIATE` (it takes the write lock at once: no transaction has to
/// upgrade a read lock, which is where SQLITE_BUSY comes from), while reads run in
/// parallel on read-only connections. On PostgreSQL both share one pool; reads are
/// `READ ONLY` transactions.
#[derive(Clone, Debug)]
pub struct Db {
    writes: Lane,
    reads: Lane,
    backend: Backend,
    url: String,
    /// Woken when a job is committed in this process, and on PostgreSQL when any
    /// process commits one (LISTEN/NOTIFY, see [`Db::watch_jobs`]).
    jobs_signal: Arc<Notify>,
    /// Set once the PostgreSQL listener runs.
    listening: Arc<std::sync::OnceLock<()>>,
}

/// A pool and the statement that opens its transactions.
#[derive(Clone, Debug)]
struct Lane {
    pool: AnyPool,
    begin: &'static str,
}

/// Read connections of a SQLite database.
const SQLITE_READERS: u32 = 4;
/// Connections of this process to a PostgreSQL server.
const POSTGRES_CONNECTIONS: u32 = 16;

/// The PostgreSQL channel on which job commits are announced.
const JOBS_CHANNEL: &str = "krater_jobs";

impl Db {
    /// Opens `url` and applies pending migrations: for the embedded default and tests.
    pub async fn connect(url: &str) -> Result<Self> {
        let db = Self::open(url).await?;
        db.upgrade().await?;
        Ok(db)
    }

    /// Opens `url` (`sqlite://path` or `postgres[ql]://…`), creating a SQLite file and
    /// its directory when missing. Applies no migration.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let (writes, reads, backend) = match url.strip_prefix("sqlite://") {
            Some(path) => {
                if let Some(dir) = Path::new(path).parent() {
                    std::fs::create_dir_all(dir).map_err(|e| DbError::Sql(e.into()))?;
                }
                // The writer first: it creates the file and turns WAL on for good.
                let writes = sqlite_pool(&format!("sqlite://{path}?mode=rwc"), 1, true).await?;
                let reads =
                    sqlite_pool(&format!("sqlite://{path}?mode=ro"), SQLITE_READERS, false).await?;
                (
                    Lane {
                        pool: writes,
                        begin: "BEGIN IMMEDIATE",
                    },
                    Lane {
                        pool: reads,
                        begin: "BEGIN",
                    },
                    Backend::Sqlite,
                )
            }
            None => {
                let pool = AnyPoolOptions::new()
                    .max_connections(POSTGRES_CONNECTIONS)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await?;
                (
                    Lane {
                        pool: pool.clone(),
                        begin: "BEGIN",
                    },
                    Lane {
                        pool,
                        begin: "BEGIN READ ONLY",
                    },
                    Backend::Postgres,
                )
            }
        };
        Ok(Self {
            writes,
            reads,
            backend,
            url: url.to_string(),
            jobs_signal: Arc::new(Notify::new()),
            listening: Arc::new(std::sync::OnceLock::new()),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The newest schema version this binary knows.
    pub fn latest_schema_version() -> i64 {
        schema::MIGRATIONS
            .iter()
            .map(|(v, _)| *v)
            .max()
            .unwrap_or(0)
    }

    /// The schema version applied to the database (0 when none is).
    pub async fn schema_version(&self) -> Result<i64> {
        let table_exists = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) AS n FROM sqlite_master \
                                WHERE type = 'table' AND name = 'schema_version'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) AS n FROM information_schema.tables \
                                  WHERE table_name = 'schema_version' \
                                  AND table_schema = current_schema()"
            }
        };
        let n: i64 = sqlx::query(table_exists)
            .fetch_one(&self.reads.pool)
            .await?
            .try_get("n")?;
        if n == 0 {
            return Ok(0);
        }
        let applied: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM schema_version")
            .fetch_one(&self.reads.pool)
            .await?
            .try_get("v")?;
        Ok(applied.unwrap_or(0))
    }

    /// Fails unless the schema is exactly the one this binary was built for: the
    /// roles other than `serve` and `db upgrade` never migrate.
    pub async fn check_schema(&self) -> Result<()> {
        let found = self.schema_version().await?;
        let wanted = Self::latest_schema_version();
        match found.cmp(&wanted) {
            std::cmp::Ordering::Equal => Ok(()),
            std::cmp::Ordering::Less => Err(DbError::Schema {
                found,
                wanted,
                hint: "run `krater db upgrade` first",
            }),
            std::cmp::Ordering::Greater => Err(DbError::Schema {
                found,
                wanted,
                hint: "the database was upgraded by a newer krater; run that version",
            }),
        }
    }

    /// Applies every migration not applied yet, in one transaction. On PostgreSQL an
    /// advisory lock makes concurrent upgrades wait for each other.
    pub async fn upgrade(&self) -> Result<()> {
        let mut tx = self.begin().await?.inner;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7277617465)")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY)")
            .execute(&mut *tx)
            .await?;
        let applied: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM schema_version")
            .fetch_one(&mut *tx)
            .await?
            .try_get("v")?;
        let applied = applied.unwrap_or(0);
        for (version, statements) in schema::MIGRATIONS {
            if *version <= applied {
                continue;
            }
            for statement in *statements {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
                .bind(*version)
                .execute(&mut *tx)
                .await?;
            tracing::info!(version, "applied database migration");
        }
        tx.commit().await?;
        Ok(())
    }

    /// Starts a write transaction (it may read too). On SQLite it waits for the
    /// other writes of this process to finish.
    pub async fn begin(&self) -> Result<Tx> {
        self.transaction(&self.writes).await
    }

    /// Starts a read-only transaction: it runs beside the writes and sees the data
    /// committed when it started; a write in it fails.
    pub async fn read(&self) -> Result<Tx> {
        self.transaction(&self.reads).await
    }

    async fn transaction(&self, lane: &Lane) -> Result<Tx> {
        Ok(Tx {
            inner: lane.pool.begin_with(lane.begin).await?,
            backend: self.backend,
            enqueued: false,
            jobs_signal: self.jobs_signal.clone(),
            locked: Default::default(),
        })
    }

    /// Resolves when a job may have been committed: at once after a commit in this
    /// process, and on PostgreSQL after a commit in any process. Workers still poll,
    /// since a notification can be missed while a listener reconnects.
    pub async fn watch_jobs(&self) {
        if self.backend == Backend::Postgres && self.listening.set(()).is_ok() {
            self.spawn_listener();
        }
        self.jobs_signal.notified().await;
    }

    /// Forwards PostgreSQL notifications on [`JOBS_CHANNEL`] to the in-process signal.
    fn spawn_listener(&self) {
        let url = self.url.clone();
        let signal = self.jobs_signal.clone();
        tokio::spawn(async move {
            loop {
                let Err(err) = forward_notifications(&url, &signal).await;
                tracing::warn!(error = %err, "job notifications interrupted; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

async fn forward_notifications(
    url: &str,
    signal: &Notify,
) -> Result<std::convert::Infallible, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(JOBS_CHANNEL).await?;
    loop {
        listener.recv().await?;
        signal.notify_waiters();
        signal.notify_one();
    }
}

/// A pool of connections to a SQLite file, with the pragmas every connection needs.
async fn sqlite_pool(url: &str, max_connections: u32, writer: bool) -> Result<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if writer {
                    sqlx::query("PRAGMA journal_mode=WAL")
                        .execute(&mut *conn)
                        .await?;
                    // WAL with NORMAL: a commit survives the process (a kill -9); only
                    // a crash of the machine may lose the last ones.
                    sqlx::query("PRAGMA synchronous=NORMAL")
                        .execute(&mut *conn)
                        .await?;
                }
                // Another process (a restarted `krater serve`) may hold the lock.
                sqlx::query("PRAGMA busy_timeout=10000")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("PRAGMA foreign_keys=ON")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

/// An open transaction; dropped without [`Tx::commit`] it rolls back.
pub struct Tx {
    inner: sqlx::Transaction<'static, Any>,
    backend: Backend,
    /// A job was queued in this transaction: wake the workers of this process on commit.
    enqueued: bool,
    jobs_signal: Arc<Notify>,
    /// Objects this transaction moved to PENDING_* already ([`Tx::lock`]).
    locked: std::collections::HashSet<(Table, String)>,
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        self.inner.commit().await?;
        if self.enqueued {
            self.jobs_signal.notify_waiters();
            self.jobs_signal.notify_one();
        }
        Ok(())
    }

    /// Octavia's test-and-set: moves the object to `transition.target()` if its
    /// current provisioning status allows it, else fails with `Immutable` (or
    /// `NotFound` for a missing or DELETED row). One conditional UPDATE, so two
    /// racing requests can never both win.
    pub(crate) async fn test_and_set_status(
        &mut self,
        table: Table,
        id: &str,
        transition: Transition,
    ) -> Result<()> {
        self.set_status_if(table, id, transition.allowed_from(), transition.target())
            .await
    }

    /// Moves the object to `target` if its provisioning status is one of `allowed`,
    /// else fails with `Immutable` (or `NotFound`).
    pub(crate) async fn set_status_if(
        &mut self,
        table: Table,
        id: &str,
        allowed: &[ProvisioningStatus],
        target: ProvisioningStatus,
    ) -> Result<()> {
        let allowed: Vec<String> = allowed
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let sql = format!(
            "UPDATE {} SET provisioning_status = $1, updated_at = $2 \
             WHERE id = $3 AND provisioning_status IN ({})",
            table.sql_name(),
            allowed.join(", ")
        );
        let done = sqlx::query(&sql)
            .bind(target.as_str())
            .bind(fmt_ts(krater_domain::now()))
            .bind(id)
            .execute(&mut *self.inner)
            .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        match self.provisioning_status(table, id).await? {
            Some(status) => Err(DbError::Immutable {
                table,
                id: id.into(),
                status,
            }),
            None => Err(DbError::NotFound {
                table,
                id: id.into(),
            }),
        }
    }

    /// Sets a provisioning status unconditionally: for the worker, which owns the
    /// object while its job runs.
    pub async fn set_provisioning_status(
        &mut self,
        table: Table,
        id: &str,
        status: ProvisioningStatus,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET provisioning_status = $1, updated_at = $2 WHERE id = $3",
            table.sql_name()
        );
        sqlx::query(&sql)
            .bind(status.as_str())
            .bind(fmt_ts(krater_domain::now()))
            .bind(id)
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// Sets an operating status (written by the worker and the health manager).
    pub async fn set_operating_status(
        &mut self,
        table: Table,
        id: &str,
        status: krater_domain::OperatingStatus,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET operating_status = $1 WHERE id = $2",
            table.sql_name()
        );
        sqlx::query(&sql)
            .bind(status.as_str())
            .bind(id)
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// The provisioning status of a visible (not DELETED) row.
    pub async fn provisioning_status(
        &mut self,
        table: Table,
        id: &str,
    ) -> Result<Option<ProvisioningStatus>> {
        let sql = format!(
            "SELECT provisioning_status FROM {} WHERE id = $1 AND provisioning_status <> 'DELETED'",
            table.sql_name()
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.map(|r| parse_enum(&r, "provisioning_status"))
            .transpose()
    }

    /// Removes a row for good (children of a load balancer once deleted).
    pub async fn hard_delete(&mut self, table: Table, id: &str) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE id = $1", table.sql_name());
        sqlx::query(&sql).bind(id).execute(&mut *self.inner).await?;
        Ok(())
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.inner
    }
}

const TS_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// Now, to the microsecond: leases and heartbeats need it, unlike the timestamps users
/// see (`krater_domain::now`, whole seconds).
pub(crate) fn precise_now() -> Timestamp {
    chrono::Utc::now().naive_utc()
}

pub(crate) fn fmt_ts(ts: Timestamp) -> String {
    ts.format(TS_FORMAT).to_string()
}

pub(crate) fn parse_ts(s: &str) -> Result<Timestamp> {
    Timestamp::parse_from_str(s, TS_FORMAT).map_err(|e| DbError::Corrupt(format!("{s}: {e}")))
}

pub(crate) fn parse_enum<T: FromStr>(row: &AnyRow, column: &str) -> Result<T> {
    let text: String = row.try_get(column)?;
    text.parse()
        .map_err(|_| DbError::Corrupt(format!("{column} = {text}")))
}

/// Maps a unique-constraint violation onto [`DbError::Duplicate`].
pub(crate) fn map_unique(err: sqlx::Error) -> DbError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            DbError::Duplicate(db.message().to_string())
        }
        _ => DbError::Sql(err),
    }
}
