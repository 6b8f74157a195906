//! What the renderer needs to know besides the graph: connection limits, and the
//! names by which the configuration refers to the files the agent keeps.

/// File descriptors kept aside for listening sockets, health checks, the stats socket
/// and the like when deriving `maxconn` from an open-file limit.
const RESERVED_FDS: u64 = 1000;

/// The environment variable naming the directory of a load balancer's runtime files
/// in the amphora. The configuration writes its paths as `"${KRATER_LB_DIR}/<file>"`
/// (HAProxy expands variables inside double quotes), and the agent sets the
/// variable for `haproxy -c` and for the HAProxy it runs: only the agent knows where
/// its files are.
pub const LB_DIR_VAR: &str = "KRATER_LB_DIR";
/// The master's stats socket (admin level, exposes the listening sockets to the next
/// process on a reload), in the load balancer's directory.
pub const STATS_SOCKET: &str = "haproxy.sock";
/// The server-state file HAProxy reads on a reload (the agent dumps `show servers
/// state` into it beforehand), in the load balancer's directory.
pub const SERVER_STATE: &str = "servers-state";

/// Settings of the amphora the configuration is rendered for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Upper bound of the global `maxconn`; see [`maxconn_for_fd_limit`].
    pub max_global_maxconn: u64,
    /// `maxconn` of a listener whose connection limit is unlimited (−1, or 0 as in
    /// Octavia).
    pub default_listener_maxconn: u64,
    /// Unprivileged user HAProxy switches to after binding (`user <name>`); none by
    /// default, as the agent starts HAProxy itself.
    pub user: Option<String>,
}

impl Default for RenderOptions {
    /// The 20000 open files measured on these machines (DESIGN §6).
    fn default() -> Self {
        Self {
            max_global_maxconn: maxconn_for_fd_limit(20_000),
            default_listener_maxconn: 50_000,
            user: None,
        }
    }
}

/// `"${KRATER_LB_DIR}/<file>"`: a file in the load balancer's directory.
pub(crate) fn in_lb_dir(file: &str) -> String {
    format!("\"${{{LB_DIR_VAR}}}/{file}\"")
}

/// The largest global `maxconn` HAProxy can start with under an open-file limit.
///
/// HAProxy wants two descriptors per connection plus, with splicing, a pipe (two
/// descriptors) for every fourth connection: 2.5 per connection, after a reserve for
/// listeners and checks. Below the reserve the result is 0.
pub const fn maxconn_for_fd_limit(fd_limit: u64) -> u64 {
    fd_limit.saturating_sub(RESERVED_FDS) * 2 / 5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxconn_fits_the_measured_limit() {
        // HAProxy 2.6 asks for 2.5 × maxconn + 16 descriptors with splicing.
        let m = maxconn_for_fd_limit(20_000);
        assert_eq!(m, 7600);
        assert!(m * 5 / 2 + 16 < 20_000);
        assert_eq!(maxconn_for_fd_limit(10), 0);
    }

    #[test]
    fn paths_name_the_agents_variable() {
        assert_eq!(in_lb_dir(STATS_SOCKET), "\"${KRATER_LB_DIR}/haproxy.sock\"");
    }
}
