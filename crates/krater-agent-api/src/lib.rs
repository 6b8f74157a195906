//! The amphora agent's REST API, modelled on Octavia's agent API v1.0: the bodies both
//! ends exchange ([`types`], [`bundle`]) and the controller's client ([`AgentClient`]).
//!
//! Endpoints (all under `/1.0/` but `GET /`):
//!
//! | method and path | body → answer |
//! |---|---|
//! | `GET /` | → [`ApiVersion`] |
//! | `GET info` | → [`AgentInfo`] |
//! | `POST plug/vip/{vip}` | [`PlugVip`] → 202 |
//! | `GET plug/vip/{vip}` | → [`VipStatus`] |
//! | `POST plug/network` | [`PlugNetwork`] → 202 |
//! | `PUT bundle` | [`AmphoraBundle`] → 200 [`BundleStatus`]; 400 when a part is refused (the running bundle stays) |
//! | `GET bundle` | → [`BundleStatus`] |
//! | `PUT certificate` | [`ServerCertificate`] → 202; new connections get it (no restart, nothing else touched); 400 when unusable |
//! | `PUT vrrp/stop` | → 202; keepalived stops without giving the VIP up (see the client's [`AgentClient::stop_vrrp`]) |
//! | `GET loadbalancer/{lb_id}/haproxy` | → the running `haproxy.cfg` + `ETag` ([`config_etag`]); 404 |
//! | `PUT loadbalancer/{lb_id}/{start,stop,reload}` ([`LbAction`]) | → 202; 400 for another action |
//!
//! Errors carry a [`Message`]: `{"message": ..., "details": ...}`. Ids in paths are
//! canonical UUIDs ([`parse_id`]). The files the compute driver finds an agent's
//! processes by are in [`layout`].

pub mod bundle;
mod client;
pub mod layout;
pub mod types;

pub use bundle::{AmphoraBundle, BundleStatus};
pub use client::{AgentClient, Applied, ClientError, ClientSettings};
/// The UDP listeners of a bundle: pure types, shared with the renderer.
pub use krater_render::spec::{
    HttpCheckMethod, NatAlgorithm, NatCheck, NatListener, NatMember, NatMonitor, NatPool, Network,
};
pub use types::{
    config_etag, parse_id, AgentInfo, ApiVersion, Cidr, FixedIp, LbAction, MacAddress, Message,
    ParseError, PlugNetwork, PlugVip, ServerCertificate, VipStatus, API_VERSION, DEFAULT_PORT,
};
