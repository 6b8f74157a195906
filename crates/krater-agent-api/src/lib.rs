//! The amphora agent's REST API, modelled on Octavia's agent API v1.0: the bodies both
//! ends exchange ([`types`]) and the controller's client ([`AgentClient`]).
//!
//! Endpoints (all under `/1.0/` but `GET /`):
//!
//! | method and path | body → answer |
//! |---|---|
//! | `GET /` | → [`ApiVersion`] |
//! | `GET info` | → [`AgentInfo`] |
//! | `POST plug/vip/{vip}` | [`PlugVip`] → 202 |
//! | `POST plug/network` | [`PlugNetwork`] → 202 |
//! | `PUT loadbalancer/{amphora_id}/{lb_id}/haproxy` | `haproxy.cfg` → 202 + `ETag` ([`config_etag`]); 400 when `haproxy -c` refuses it |
//! | `GET loadbalancer/{lb_id}/haproxy` | → `haproxy.cfg`; 404 |
//! | `PUT loadbalancer/{lb_id}/{start,stop,reload}` ([`LbAction`]) | → 202; 400 for another action |
//! | `DELETE listeners/{lb_id}` | → 200 `{"message":"OK"}`, also when unknown |
//!
//! Errors carry a [`Message`]: `{"message": ..., "details": ...}`. Ids in paths are
//! canonical UUIDs ([`parse_id`]). The files the compute driver finds an agent's
//! processes by are in [`layout`].

mod client;
pub mod layout;
pub mod types;

pub use client::{AgentClient, ClientError, ClientSettings};
pub use types::{
    config_etag, parse_id, AgentInfo, ApiVersion, Cidr, FixedIp, LbAction, MacAddress, Message,
    ParseError, PlugNetwork, PlugVip, API_VERSION, DEFAULT_PORT,
};
