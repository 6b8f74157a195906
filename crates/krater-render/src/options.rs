//! What the renderer needs to know besides the graph: paths and connection limits.

/// File descriptors kept aside for listening sockets, health checks, the stats socket
/// and the like when deriving `maxconn` from an open-file limit.
const RESERVED_FDS: u64 = 1000;

/// Settings of the amphora the configuration is rendered for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Directory holding one directory per load balancer (`<base_dir>/<lb_id>/`), in
    /// which HAProxy's stats socket and server-state file live.
    pub base_dir: String,
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
    /// The amphora agent's layout: `/var/lib/krater/<lb_id>/`, and the 20000
    /// open files measured on these machines (DESIGN §6).
    fn default() -> Self {
        Self {
            base_dir: "/var/lib/krater".to_owned(),
            max_global_maxconn: maxconn_for_fd_limit(20_000),
            default_listener_maxconn: 50_000,
            user: None,
        }
    }
}

impl RenderOptions {
    /// Directory of one load balancer's runtime files.
    pub fn lb_dir(&self, lb_id: &str) -> String {
        format!("{}/{lb_id}", self.base_dir.trim_end_matches('/'))
    }

    /// Path of the master's stats socket (admin level, exposes the listening sockets
    /// to the next process on a reload).
    pub fn stats_socket_path(&self, lb_id: &str) -> String {
        format!("{}/haproxy.sock", self.lb_dir(lb_id))
    }

    /// Path of the server-state file HAProxy reads on a reload; the agent dumps
    /// `show servers state` into it beforehand.
    pub fn server_state_path(&self, lb_id: &str) -> String {
        format!("{}/servers-state", self.lb_dir(lb_id))
    }
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
    fn paths_are_per_load_balancer() {
        let opts = RenderOptions {
            base_dir: "/srv/k/".into(),
            ..RenderOptions::default()
        };
        assert_eq!(opts.stats_socket_path("lb1"), "/srv/k/lb1/haproxy.sock");
        assert_eq!(opts.server_state_path("lb1"), "/srv/k/lb1/servers-state");
    }
}
