//! Octavia's status locks, taken by one call: [`Tx::lock`] takes the object and the
//! change, walks from the object to its load balancer and moves each of them to its
//! PENDING_* state with a conditional UPDATE (Octavia's test-and-set), or fails with
//! `Immutable` naming the first one that is busy. On PostgreSQL the walk reads the
//! parents `FOR UPDATE`, so two requests on one load balancer queue behind each other.
//!
//! The API writes provisioning status only through this call (and the PENDING_CREATE
//! of the rows it inserts); only workers move it out of PENDING_*.

use crate::{Backend, DbError, Result, Table, Tx};
use krater_domain::status::{Transition, CHILD_MUTABLE};
use krater_domain::ProvisioningStatus as P;
use sqlx::Row;

/// A request's change, for the locks it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock<'a> {
    /// A new child of the load balancer or pool named (the child's own row is inserted
    /// PENDING_CREATE by the request).
    NewChildOf(Table, &'a str),
    Update(Table, &'a str),
    Delete(Table, &'a str),
    /// A load balancer failed over (from ACTIVE or ERROR).
    Failover(&'a str),
}

impl Tx {
    /// Takes every lock `lock` needs, in Octavia's order:
    /// - a load balancer: itself (update: ACTIVE; delete and failover: ACTIVE or ERROR);
    /// - a listener: its load balancer, then itself;
    /// - a pool: its load balancer, the listeners using it, then itself;
    /// - a member or a health monitor: its pool (ACTIVE; Octavia's 409 names the pool),
    ///   the pool's load balancer and listeners, then itself;
    /// - an L7 policy: its listener's load balancer, the listener, then itself;
    /// - an L7 rule: its policy (ACTIVE), the policy's load balancer and listener,
    ///   then itself.
    ///
    /// A child itself may change from ACTIVE or ERROR (a failed child is fixed by an
    /// update). A parent locked already in this transaction is not locked again, so
    /// one request can lock several children of one pool.
    pub async fn lock(&mut self, lock: Lock<'_>) -> Result<()> {
        let (table, id, transition) = match lock {
            Lock::NewChildOf(Table::LoadBalancer, id) => {
                return self.lock_parent(Table::LoadBalancer, id).await
            }
            Lock::NewChildOf(Table::Pool, id) => return self.lock_pool_parent(id).await,
            Lock::NewChildOf(Table::Listener, id) => return self.lock_listener_parent(id).await,
            Lock::NewChildOf(Table::L7Policy, id) => return self.lock_policy_parent(id).await,
            Lock::NewChildOf(table, id) => {
                return Err(DbError::Corrupt(format!(
                    "{} {id} has no children",
                    table.display_name()
                )))
            }
            Lock::Failover(id) => (Table::LoadBalancer, id, Transition::Failover),
            Lock::Update(table, id) => (table, id, Transition::Update),
            Lock::Delete(table, id) => (table, id, Transition::Delete),
        };
        match table {
            Table::LoadBalancer => {
                self.test_and_set_status(table, id, transition).await?;
                self.locked.insert((table, id.to_string()));
                return Ok(());
            }
            Table::Listener => {
                let lb = self.parent_of(table, id).await?;
                self.lock_parent(Table::LoadBalancer, &lb).await?;
            }
            Table::Pool => {
                let lb = self.parent_of(table, id).await?;
                self.lock_parent(Table::LoadBalancer, &lb).await?;
                self.mark_listeners_of_pool(id).await?;
            }
            Table::Member | Table::HealthMonitor => {
                let pool = self.parent_of(table, id).await?;
                self.lock_pool_parent(&pool).await?;
            }
            Table::L7Policy => {
                let listener = self.parent_of(table, id).await?;
                self.lock_listener_parent(&listener).await?;
            }
            Table::L7Rule => {
                let policy = self.parent_of(table, id).await?;
                self.lock_policy_parent(&policy).await?;
            }
        }
        self.set_status_if(table, id, CHILD_MUTABLE, transition.target())
            .await
    }

    /// A load balancer (or pool) whose child changes: ACTIVE → PENDING_UPDATE, once.
    async fn lock_parent(&mut self, table: Table, id: &str) -> Result<()> {
        if self.locked.contains(&(table, id.to_string())) {
            return Ok(());
        }
        self.test_and_set_status(table, id, Transition::Update)
            .await?;
        self.locked.insert((table, id.to_string()));
        Ok(())
    }

    /// A pool whose member or monitor changes: the pool first, then its load balancer
    /// and the listeners that use it.
    async fn lock_pool_parent(&mut self, pool_id: &str) -> Result<()> {
        if self.locked.contains(&(Table::Pool, pool_id.to_string())) {
            return Ok(());
        }
        self.lock_parent(Table::Pool, pool_id).await?;
        let lb = self.parent_of(Table::Pool, pool_id).await?;
        self.lock_parent(Table::LoadBalancer, &lb).await?;
        self.mark_listeners_of_pool(pool_id).await
    }

    /// A listener whose L7 policy changes: its load balancer, then the listener.
    async fn lock_listener_parent(&mut self, listener_id: &str) -> Result<()> {
        let lb = self.parent_of(Table::Listener, listener_id).await?;
        self.lock_parent(Table::LoadBalancer, &lb).await?;
        self.mark_listener(listener_id).await
    }

    /// An L7 policy whose rule changes: the policy first (ACTIVE, as Octavia checks
    /// it before the load balancer), then its listener and load balancer.
    async fn lock_policy_parent(&mut self, policy_id: &str) -> Result<()> {
        if self
            .locked
            .contains(&(Table::L7Policy, policy_id.to_string()))
        {
            return Ok(());
        }
        self.lock_parent(Table::L7Policy, policy_id).await?;
        let listener = self.parent_of(Table::L7Policy, policy_id).await?;
        self.lock_listener_parent(&listener).await
    }

    /// A listener of a locked load balancer goes PENDING_UPDATE, once.
    async fn mark_listener(&mut self, listener_id: &str) -> Result<()> {
        if self
            .locked
            .insert((Table::Listener, listener_id.to_string()))
        {
            self.set_status_if(
                Table::Listener,
                listener_id,
                CHILD_MUTABLE,
                P::PendingUpdate,
            )
            .await?;
        }
        Ok(())
    }

    /// The listeners whose default pool is `pool_id` go PENDING_UPDATE.
    async fn mark_listeners_of_pool(&mut self, pool_id: &str) -> Result<()> {
        let rows = sqlx::query("SELECT id FROM listener WHERE default_pool_id = $1")
            .bind(pool_id)
            .fetch_all(self.conn())
            .await?;
        for row in rows {
            let listener: String = row.try_get("id")?;
            self.mark_listener(&listener).await?;
        }
        Ok(())
    }

    /// The id of the row `table`/`id` hangs off (a pool's or listener's load
    /// balancer, a member's or monitor's pool, a policy's listener, a rule's
    /// policy), read `FOR UPDATE` on PostgreSQL.
    async fn parent_of(&mut self, table: Table, id: &str) -> Result<String> {
        let column = match table {
            Table::Listener | Table::Pool => "load_balancer_id",
            Table::Member | Table::HealthMonitor => "pool_id",
            Table::L7Policy => "listener_id",
            Table::L7Rule => "l7policy_id",
            Table::LoadBalancer => {
                return Err(DbError::Corrupt("a load balancer has no parent".into()))
            }
        };
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT {column} AS parent FROM {} WHERE id = $1 AND provisioning_status <> 'DELETED'{lock}",
            table.sql_name()
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.conn())
            .await?
            .ok_or_else(|| DbError::NotFound {
                table,
                id: id.into(),
            })?;
        Ok(row.try_get("parent")?)
    }
}
