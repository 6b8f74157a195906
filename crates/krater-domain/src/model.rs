//! The entities as the controller sees them. Ids are UUID strings.

use crate::*;

/// A load balancer: a VIP and the listeners, pools and amphorae behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadBalancer {
    pub id: String,
    pub project_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    pub admin_state_up: bool,
    pub provider: String,
    pub topology: Topology,
    pub vip: Vip,
    pub flavor_id: Option<String>,
    pub availability_zone: Option<String>,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
}

/// The virtual address of a load balancer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Vip {
    pub ip_address: Option<String>,
    pub port_id: Option<String>,
    pub subnet_id: Option<String>,
    pub network_id: Option<String>,
    pub qos_policy_id: Option<String>,
}

/// A port on the VIP that accepts client connections.
#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    pub id: String,
    pub project_id: String,
    pub load_balancer_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    pub admin_state_up: bool,
    pub protocol: ListenerProtocol,
    pub protocol_port: u16,
    /// −1 means unlimited.
    pub connection_limit: i64,
    pub default_pool_id: Option<String>,
    /// Milliseconds.
    pub timeout_client_data: i64,
    pub timeout_member_connect: i64,
    pub timeout_member_data: i64,
    pub timeout_tcp_inspect: i64,
    /// Header name to "true"/"false".
    pub insert_headers: Vec<(String, String)>,
    pub allowed_cidrs: Vec<String>,
    pub tls: TlsOptions,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
}

/// Session persistence settings of a pool.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPersistence {
    pub kind: SessionPersistenceType,
    pub cookie_name: Option<String>,
    pub persistence_timeout: Option<i64>,
    pub persistence_granularity: Option<String>,
}

/// A set of members that share an algorithm and a health monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub id: String,
    pub project_id: String,
    pub load_balancer_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    pub admin_state_up: bool,
    pub protocol: PoolProtocol,
    pub lb_algorithm: LbAlgorithm,
    pub session_persistence: Option<SessionPersistence>,
    pub tls_enabled: bool,
    pub tls: TlsOptions,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
}

/// A backend server of a pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: String,
    pub project_id: String,
    pub pool_id: String,
    pub name: Option<String>,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    pub admin_state_up: bool,
    pub address: String,
    pub protocol_port: u16,
    /// 0–256; 0 drains the member.
    pub weight: u16,
    pub backup: bool,
    pub subnet_id: Option<String>,
    pub monitor_address: Option<String>,
    pub monitor_port: Option<u16>,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
}

/// The health check of a pool's members.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthMonitor {
    pub id: String,
    pub project_id: String,
    pub pool_id: String,
    pub name: Option<String>,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    pub admin_state_up: bool,
    pub kind: HealthMonitorType,
    /// Seconds between checks.
    pub delay: i64,
    /// Seconds a check may take.
    pub timeout: i64,
    pub max_retries: i64,
    pub max_retries_down: i64,
    pub http_method: Option<HttpMethod>,
    pub url_path: Option<String>,
    pub expected_codes: Option<String>,
    pub http_version: Option<f64>,
    pub domain_name: Option<String>,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
}

/// A rule-guarded action of a listener: applied to a request when every one of its
/// rules matches, in `position` order (1 first) among the listener's policies.
#[derive(Debug, Clone, PartialEq)]
pub struct L7Policy {
    pub id: String,
    pub project_id: String,
    pub listener_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    pub admin_state_up: bool,
    pub action: L7PolicyAction,
    /// 1-based, dense among the listener's policies.
    pub position: i64,
    pub redirect_pool_id: Option<String>,
    pub redirect_url: Option<String>,
    pub redirect_prefix: Option<String>,
    pub redirect_http_code: Option<i64>,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
}

/// One condition of an L7 policy.
#[derive(Debug, Clone, PartialEq)]
pub struct L7Rule {
    pub id: String,
    pub project_id: String,
    pub l7policy_id: String,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    pub admin_state_up: bool,
    pub kind: L7RuleType,
    pub compare_type: L7CompareType,
    /// The header, cookie or DN field name (HEADER, COOKIE, SSL_DN_FIELD).
    pub key: Option<String>,
    pub value: String,
    pub invert: bool,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
}

/// A policy with its rules, as the renderer needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct L7PolicyGraph {
    pub policy: L7Policy,
    pub rules: Vec<L7Rule>,
}

/// A virtual machine (here: a pair of network namespaces) running HAProxy for a load balancer.
#[derive(Debug, Clone, PartialEq)]
pub struct Amphora {
    pub id: String,
    pub load_balancer_id: Option<String>,
    pub compute_id: Option<String>,
    pub status: AmphoraStatus,
    pub role: Option<AmphoraRole>,
    pub lb_network_ip: Option<String>,
    pub vrrp_ip: Option<String>,
    pub ha_ip: Option<String>,
    pub vrrp_port_id: Option<String>,
    pub ha_port_id: Option<String>,
    pub vrrp_interface: Option<String>,
    pub vrrp_id: Option<i64>,
    pub vrrp_priority: Option<i64>,
    pub cert_expiration: Option<Timestamp>,
    pub cert_busy: bool,
    pub cached_zone: Option<String>,
    pub image_id: Option<String>,
    pub compute_flavor: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
}

impl Amphora {
    /// A new amphora record in `status`, of no load balancer yet and with nothing
    /// booted; it carries Octavia's VRRP router id (1), as every amphora does.
    pub fn new(id: String, status: AmphoraStatus) -> Self {
        Self {
            id,
            load_balancer_id: None,
            compute_id: None,
            status,
            role: None,
            lb_network_ip: None,
            vrrp_ip: None,
            ha_ip: None,
            vrrp_port_id: None,
            ha_port_id: None,
            vrrp_interface: None,
            vrrp_id: Some(1),
            vrrp_priority: None,
            cert_expiration: None,
            cert_busy: false,
            cached_zone: None,
            image_id: None,
            compute_flavor: None,
            created_at: crate::now(),
            updated_at: None,
        }
    }
}

/// A pool with its members and health monitor, as the renderer needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolGraph {
    pub pool: Pool,
    pub members: Vec<Member>,
    pub health_monitor: Option<HealthMonitor>,
}

/// Everything one load balancer's data plane is made of: the input of rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadBalancerGraph {
    pub load_balancer: LoadBalancer,
    pub listeners: Vec<Listener>,
    pub pools: Vec<PoolGraph>,
    /// Every listener's policies, by listener and then position.
    pub l7policies: Vec<L7PolicyGraph>,
    pub amphorae: Vec<Amphora>,
}

impl LoadBalancerGraph {
    /// The pool with this id, if the load balancer has it.
    pub fn pool(&self, id: &str) -> Option<&PoolGraph> {
        self.pools.iter().find(|p| p.pool.id == id)
    }

    /// The policies of a listener, in position order.
    pub fn l7policies_of<'g>(
        &'g self,
        listener_id: &'g str,
    ) -> impl Iterator<Item = &'g L7PolicyGraph> + 'g {
        self.l7policies
            .iter()
            .filter(move |p| p.policy.listener_id == listener_id)
    }
}

/// An address taken on a network: a VIP or an amphora's interface.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub id: String,
    pub network_id: String,
    pub subnet_id: String,
    pub ip_address: String,
    pub mac_address: String,
    /// Who uses it: `krater:vip`, `krater:amphora`, as Neutron's device_owner.
    pub device_owner: String,
    /// The load balancer or amphora id.
    pub device_id: String,
    pub name: String,
    pub created_at: Timestamp,
}

/// Traffic counters of a listener (summed over its amphorae).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenerStats {
    pub bytes_in: i64,
    pub bytes_out: i64,
    pub active_connections: i64,
    pub total_connections: i64,
    pub request_errors: i64,
}
