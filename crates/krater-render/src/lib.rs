//! Renders the configurations of one load balancer on one amphora: HAProxy's,
//! keepalived's for ACTIVE_STANDBY, and what the agent serves its UDP listeners with
//! (see [`nat_listeners`] and [`render_nftables`]).
//!
//! The crate is pure: a [`LoadBalancerGraph`](krater_domain::LoadBalancerGraph) and
//! options go in, the text of one `haproxy.cfg` (or `keepalived.conf`) comes out. As Octavia does,
//! one file holds every enabled listener of the load balancer that HAProxy serves
//! (HTTP, TCP and HTTPS passthrough for now; see [`haproxy_listeners`]).
//!
//! User-supplied strings are checked again here, whatever the API accepted: a value
//! that could change the structure of the file is refused with a [`RenderError`]
//! naming the field, so no input can inject configuration. Names and descriptions
//! are never rendered.

mod error;
mod keepalived;
mod l7;
mod nat;
mod options;
mod render;
pub mod spec;
mod validate;

pub use error::RenderError;
pub use keepalived::{render_keepalived, vrrp_amphorae};
pub use nat::{
    chosen_members, nat_listeners, render_nftables, NatCounters, NatRuleset, DNAT_TABLE, NAT_TABLE,
};
pub use options::{
    maxconn_for_fd_limit, RenderOptions, VrrpOptions, LB_DIR_VAR, PEER_PORT, SERVER_STATE,
    STATS_SOCKET, VRRP_CHECK,
};
pub use render::{haproxy_listeners, render};
