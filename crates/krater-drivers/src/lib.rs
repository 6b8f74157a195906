//! The seams between the controller and the world: traits for compute (boots
//! amphorae), network (wires them) and amphora (talks to the agent inside), each with
//! a noop implementation for API-only runs (provider `noop_driver`, as in Octavia),
//! and the catalog of the `local` driver's networks.

mod agent;
pub mod ip;
mod local;
pub mod netns;
mod networks;
mod noop;
mod process;

pub use agent::AgentAmphora;
pub use local::LocalNetwork;
pub use netns::NetnsCompute;
pub use networks::{LocalNetworks, Network, Subnet};
pub use noop::{NoopAmphora, NoopCompute, NoopNetwork};

use async_trait::async_trait;
pub use krater_agent_api::AmphoraBundle;
use krater_domain::{Amphora, Port};

/// A driver call that failed. A retryable failure may pass when tried again (an agent
/// that does not answer yet, a command that failed); the worker retries it, then reverts
/// the flow. A permanent one will not (the amphora refused the configuration, a value is
/// invalid): the worker reverts at once.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DriverError {
    message: String,
    retryable: bool,
}

impl DriverError {
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

pub type DriverResult<T> = Result<T, DriverError>;

/// What a compute driver made for an amphora.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeInstance {
    pub compute_id: String,
    /// Address of the amphora agent on the management network.
    pub lb_network_ip: String,
    /// When the agent's certificate expires, if it has one.
    pub cert_expiration: Option<krater_domain::Timestamp>,
}

/// Boots and deletes amphorae.
#[async_trait]
pub trait ComputeDriver: Send + Sync {
    /// Creates the amphora's machine with its management interface on `management`
    /// and starts its agent. Idempotent per amphora.
    async fn build(&self, amphora: &Amphora, management: &Port) -> DriverResult<ComputeInstance>;
    /// Removes the machine; succeeds when it is already gone.
    async fn delete(&self, amphora_id: &str) -> DriverResult<()>;
}

/// An interface of an amphora on one subnet.
#[derive(Debug, Clone, PartialEq)]
pub struct Interface {
    /// The port that holds the interface's address.
    pub port_id: String,
    pub mac_address: String,
    pub ip_address: String,
    /// `a.b.c.d/n`
    pub subnet_cidr: String,
    pub gateway: String,
}

/// Wires amphorae into the VIP and member networks.
#[async_trait]
pub trait NetworkDriver: Send + Sync {
    /// Connects the amphora to a subnet through a new interface for `port` (whose
    /// address was allocated already); returns the interface. Idempotent per port.
    async fn plug(
        &self,
        amphora: &Amphora,
        subnet: &Subnet,
        port: &Port,
    ) -> DriverResult<Interface>;
    /// Disconnects every interface of the amphora; succeeds when already gone.
    async fn unplug_all(&self, amphora: &Amphora) -> DriverResult<()>;
    /// The port of `device_id` on `subnet` when this driver takes no address from the
    /// local networks and makes one up (noop); `None`: the worker allocates one.
    fn made_up_port(&self, _subnet: &Subnet, _device_id: &str) -> Option<Port> {
        None
    }
}

/// Talks to the agent inside an amphora.
#[async_trait]
pub trait AmphoraDriver: Send + Sync {
    /// Waits until the agent answers.
    async fn wait_reachable(&self, amphora: &Amphora) -> DriverResult<()>;
    /// Moves the VIP interface into the load-balancing side of the amphora and gives it
    /// its own address and, unless `vrrp` (ACTIVE_STANDBY: keepalived holds the VIP),
    /// the VIP.
    async fn plug_vip(
        &self,
        amphora: &Amphora,
        vip: &str,
        interface: &Interface,
        vrrp: bool,
    ) -> DriverResult<()>;
    /// Stops the amphora's VRRP without giving the VIP up: the amphora serves until
    /// its peer takes the VIP over (before an amphora that may hold it is deleted).
    async fn stop_vrrp(&self, amphora: &Amphora) -> DriverResult<()>;
    /// Whether the VIP is on the amphora's VIP interface now.
    async fn holds_vip(&self, amphora: &Amphora, vip: &str) -> DriverResult<bool>;
    /// Moves a member-network interface into the load-balancing side of the amphora.
    async fn plug_network(&self, amphora: &Amphora, interface: &Interface) -> DriverResult<()>;
    /// Makes the amphora run `bundle` (and nothing else): the agent checks it whole,
    /// swaps it in and reloads only what changed; a bundle the amphora runs already
    /// is not sent again. A refused bundle leaves the running one in place.
    async fn apply_bundle(&self, amphora: &Amphora, bundle: &AmphoraBundle) -> DriverResult<()>;
    /// Makes the agent serve a new server certificate from its next connection, the
    /// data plane untouched.
    async fn rotate_certificate(
        &self,
        amphora: &Amphora,
        certificate: &netns::AmphoraCertificate,
    ) -> DriverResult<()>;
}
