//! The files an agent keeps in its state directory (`<base_path>/<hash>/` on the netns
//! compute driver) that the compute driver relies on to find its processes again.
//!
//! | path | written by | what |
//! |---|---|---|
//! | `agent.toml` | the compute driver | the agent's configuration (`--agent-config`) |
//! | `agent.pid` | the agent, when it starts | the agent's pid |
//! | `bundle/<lb id>/haproxy.cfg` | the agent | the configuration HAProxy runs (`-f`) |
//! | `<lb id>/haproxy.pid` | HAProxy (`-p`) | the pid of its master |
//! | `bundle/keepalived.conf` | the agent | the configuration keepalived runs (`-f`) |
//! | `keepalived/keepalived.pid` | keepalived (`-p`) | the pid of its parent process |
//! | `keepalived/vrrp.pid` | keepalived (`-r`) | the pid of its VRRP process |
//!
//! Everything else in it is the agent's own business.

/// The agent's configuration file.
pub const AGENT_CONFIG: &str = "agent.toml";
/// The agent's pid file.
pub const AGENT_PID: &str = "agent.pid";
/// The bundle in force (a link the agent swaps), holding one directory per load
/// balancer.
pub const BUNDLE: &str = "bundle";
/// A load balancer's HAProxy configuration, in the load balancer's directory of the
/// bundle.
pub const HAPROXY_CONFIG: &str = "haproxy.cfg";
/// The pid file of a load balancer's HAProxy master, in the load balancer's runtime
/// directory.
pub const HAPROXY_PID: &str = "haproxy.pid";
/// keepalived's configuration, in the bundle.
pub const KEEPALIVED_CONFIG: &str = "keepalived.conf";
/// keepalived's runtime directory.
pub const KEEPALIVED_DIR: &str = "keepalived";
/// The pid file of keepalived's parent process, in its runtime directory.
pub const KEEPALIVED_PID: &str = "keepalived.pid";
/// The pid file of keepalived's VRRP process, in its runtime directory.
pub const VRRP_PID: &str = "vrrp.pid";
