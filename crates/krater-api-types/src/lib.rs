//! Response bodies of the Octavia v2 API, field for field as Octavia 19 renders them
//! (API version v2.30). Shared by the API server and clients of krater.
//!
//! Timestamps are strings in Octavia's format (`2017-08-17T12:14:57`); NULL names and
//! descriptions render as `""`; every resource with `project_id` also renders
//! `tenant_id`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{"id": …}`: a reference to another object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRef {
    pub id: String,
}

/// An entry of `additional_vips`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdditionalVip {
    pub subnet_id: String,
    pub ip_address: Option<String>,
    pub port_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub id: String,
    pub name: String,
    pub description: String,
    pub provisioning_status: String,
    pub operating_status: String,
    pub admin_state_up: bool,
    pub project_id: String,
    pub tenant_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub vip_address: Option<String>,
    pub vip_port_id: Option<String>,
    pub vip_subnet_id: Option<String>,
    pub vip_network_id: Option<String>,
    pub vip_qos_policy_id: Option<String>,
    pub vip_sg_ids: Vec<String>,
    pub vip_vnic_type: String,
    pub additional_vips: Vec<AdditionalVip>,
    pub listeners: Vec<IdRef>,
    pub pools: Vec<IdRef>,
    pub provider: String,
    pub flavor_id: Option<String>,
    pub availability_zone: Option<String>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listener {
    pub id: String,
    pub name: String,
    pub description: String,
    pub provisioning_status: String,
    pub operating_status: String,
    pub admin_state_up: bool,
    pub protocol: String,
    pub protocol_port: u16,
    pub connection_limit: i64,
    pub default_tls_container_ref: Option<String>,
    pub sni_container_refs: Vec<String>,
    pub project_id: String,
    pub tenant_id: String,
    pub default_pool_id: Option<String>,
    pub l7policies: Vec<IdRef>,
    pub insert_headers: serde_json::Map<String, Value>,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub loadbalancers: Vec<IdRef>,
    pub timeout_client_data: i64,
    pub timeout_member_connect: i64,
    pub timeout_member_data: i64,
    pub timeout_tcp_inspect: i64,
    pub tags: Vec<String>,
    pub client_ca_tls_container_ref: Option<String>,
    pub client_authentication: String,
    pub client_crl_container_ref: Option<String>,
    pub allowed_cidrs: Option<Vec<String>>,
    pub tls_ciphers: Option<String>,
    pub tls_versions: Option<Vec<String>>,
    pub alpn_protocols: Option<Vec<String>>,
    pub hsts_max_age: Option<i64>,
    pub hsts_include_subdomains: bool,
    pub hsts_preload: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionPersistence {
    #[serde(rename = "type")]
    pub kind: String,
    pub cookie_name: Option<String>,
    pub persistence_timeout: Option<i64>,
    pub persistence_granularity: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    pub id: String,
    pub name: String,
    pub description: String,
    pub provisioning_status: String,
    pub operating_status: String,
    pub admin_state_up: bool,
    pub protocol: String,
    pub lb_algorithm: String,
    pub session_persistence: Option<SessionPersistence>,
    pub project_id: String,
    pub tenant_id: String,
    pub loadbalancers: Vec<IdRef>,
    pub listeners: Vec<IdRef>,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// Left out while the pool has no health monitor, as Octavia does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthmonitor_id: Option<String>,
    pub members: Vec<IdRef>,
    pub tags: Vec<String>,
    pub tls_container_ref: Option<String>,
    pub ca_tls_container_ref: Option<String>,
    pub crl_container_ref: Option<String>,
    pub tls_enabled: bool,
    pub tls_ciphers: Option<String>,
    pub tls_versions: Option<Vec<String>>,
    pub alpn_protocols: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub operating_status: String,
    pub provisioning_status: String,
    pub admin_state_up: bool,
    pub address: String,
    pub protocol_port: u16,
    pub weight: u16,
    pub backup: bool,
    pub subnet_id: Option<String>,
    pub project_id: String,
    pub tenant_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub monitor_address: Option<String>,
    pub monitor_port: Option<u16>,
    pub tags: Vec<String>,
    pub vnic_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthMonitor {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub delay: i64,
    pub timeout: i64,
    pub max_retries: i64,
    pub max_retries_down: i64,
    pub http_method: Option<String>,
    pub url_path: Option<String>,
    pub expected_codes: Option<String>,
    pub admin_state_up: bool,
    pub project_id: String,
    pub tenant_id: String,
    pub pools: Vec<IdRef>,
    pub provisioning_status: String,
    pub operating_status: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub tags: Vec<String>,
    pub http_version: Option<f64>,
    pub domain_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct L7Policy {
    pub id: String,
    pub name: String,
    pub description: String,
    pub provisioning_status: String,
    pub operating_status: String,
    pub admin_state_up: bool,
    pub project_id: String,
    pub tenant_id: String,
    pub action: String,
    pub listener_id: String,
    pub redirect_pool_id: Option<String>,
    pub redirect_url: Option<String>,
    pub redirect_prefix: Option<String>,
    pub position: i64,
    pub rules: Vec<IdRef>,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub tags: Vec<String>,
    pub redirect_http_code: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct L7Rule {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub compare_type: String,
    pub key: Option<String>,
    pub value: String,
    pub invert: bool,
    pub provisioning_status: String,
    pub operating_status: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub project_id: String,
    pub tenant_id: String,
    pub admin_state_up: bool,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Amphora {
    pub id: String,
    pub loadbalancer_id: Option<String>,
    pub compute_id: Option<String>,
    pub lb_network_ip: Option<String>,
    pub vrrp_ip: Option<String>,
    pub ha_ip: Option<String>,
    pub vrrp_port_id: Option<String>,
    pub ha_port_id: Option<String>,
    pub cert_expiration: Option<String>,
    pub cert_busy: bool,
    pub role: Option<String>,
    pub status: String,
    pub vrrp_interface: Option<String>,
    pub vrrp_id: Option<i64>,
    pub vrrp_priority: Option<i64>,
    pub cached_zone: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub image_id: Option<String>,
    pub compute_flavor: Option<String>,
}

/// `GET /v2/lbaas/loadbalancers/{id}/stats` and the listener equivalent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub bytes_in: i64,
    pub bytes_out: i64,
    pub active_connections: i64,
    pub total_connections: i64,
    pub request_errors: i64,
}

/// A link of a paginated list (`<collection>_links`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub href: String,
    pub rel: String,
}
