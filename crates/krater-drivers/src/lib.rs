//! The seams between the controller and the world: traits for compute (boots
//! amphorae), network (wires them) and amphora (talks to the agent inside), each with
//! a noop implementation for API-only runs (provider `noop_driver`, as in Octavia),
//! and the catalog of the `local` driver's networks.

mod networks;
mod noop;

pub use networks::{LocalNetworks, Network, Subnet};
pub use noop::{NoopAmphora, NoopCompute, NoopNetwork};

use async_trait::async_trait;
use krater_domain::{Amphora, LoadBalancer};

/// A driver call that failed; the worker retries it, then reverts the flow.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DriverError(pub String);

pub type DriverResult<T> = Result<T, DriverError>;

/// What a compute driver made for an amphora.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeInstance {
    pub compute_id: String,
    /// Address of the amphora agent on the management network.
    pub lb_network_ip: String,
}

/// Boots and deletes amphorae.
#[async_trait]
pub trait ComputeDriver: Send + Sync {
    /// Creates the amphora's machine and starts its agent. Idempotent per amphora id.
    async fn build(&self, amphora_id: &str) -> DriverResult<ComputeInstance>;
    /// Removes the machine; succeeds when it is already gone.
    async fn delete(&self, amphora_id: &str) -> DriverResult<()>;
}

/// Wires amphorae into the VIP and member networks.
#[async_trait]
pub trait NetworkDriver: Send + Sync {
    /// Connects the amphora to the VIP network; returns the interface's own (VRRP) address.
    async fn plug_vip(&self, lb: &LoadBalancer, amphora: &Amphora) -> DriverResult<String>;
    /// Disconnects everything of the amphora; succeeds when already gone.
    async fn unplug(&self, amphora: &Amphora) -> DriverResult<()>;
}

/// Talks to the agent inside an amphora.
#[async_trait]
pub trait AmphoraDriver: Send + Sync {
    /// Waits until the agent answers.
    async fn wait_reachable(&self, amphora: &Amphora) -> DriverResult<()>;
    /// Configures the VIP on the amphora's VIP interface.
    async fn plug_vip(&self, lb: &LoadBalancer, amphora: &Amphora) -> DriverResult<()>;
    /// Replaces the load balancer's HAProxy configuration and reloads it (starts it when
    /// it is not running).
    async fn apply_config(
        &self,
        amphora: &Amphora,
        lb_id: &str,
        haproxy_cfg: &str,
    ) -> DriverResult<()>;
    /// Stops the load balancer's HAProxy and removes its configuration.
    async fn remove_config(&self, amphora: &Amphora, lb_id: &str) -> DriverResult<()>;
}
