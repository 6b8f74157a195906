//! What the renderer needs to know besides the graph: connection limits, the amphora
//! a configuration is for, VRRP timings, and the names by which configurations refer
//! to the files the agent keeps.

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
/// The program keepalived runs to learn whether HAProxy serves (exit status 0), at
/// the top of the agent's state directory. keepalived's configuration lies two
/// levels below it (`bundles/<version>/`, also when read through the `bundle`
/// link), so it names the program as `${_PWD}/../../vrrp-check`: `${_PWD}` is
/// keepalived's own name for the directory of the file it reads.
pub const VRRP_CHECK: &str = "vrrp-check";
/// The port of HAProxy's `peers` on each amphora's VRRP address (Octavia's).
pub const PEER_PORT: u16 = 1025;

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
    /// The id of the amphora the configuration is for. With ACTIVE_STANDBY it names
    /// this HAProxy among the `peers` (every ALLOCATED amphora of the load balancer),
    /// so that stick tables survive a takeover; `None` renders no peers.
    pub local_peer: Option<String>,
}

impl Default for RenderOptions {
    /// The 20000 open files measured on these machines (DESIGN §6).
    fn default() -> Self {
        Self {
            max_global_maxconn: maxconn_for_fd_limit(20_000),
            default_listener_maxconn: 50_000,
            user: None,
            local_peer: None,
        }
    }
}

/// keepalived's timings (`[keepalived_vrrp]`).
#[derive(Debug, Clone, PartialEq)]
pub struct VrrpOptions {
    /// Between two advertisements, in hundredths of a second (VRRPv3's unit).
    pub advert_int_centis: u16,
    /// Seconds between two checks that HAProxy serves.
    pub check_interval: u64,
    /// Failed checks in a row that give the VIP up.
    pub fall: u32,
    /// Passed checks in a row before the VIP may be held again.
    pub rise: u32,
    /// Seconds between two rounds of gratuitous ARP of the MASTER.
    pub garp_refresh: u64,
    /// Gratuitous ARPs per round.
    pub garp_repeat: u32,
}

impl Default for VrrpOptions {
    fn default() -> Self {
        Self {
            advert_int_centis: 20,
            check_interval: 1,
            fall: 2,
            rise: 2,
            garp_refresh: 5,
            garp_repeat: 2,
        }
    }
}

impl VrrpOptions {
    /// How long a BACKUP waits for a silent MASTER before it takes the VIP: three
    /// advertisement intervals and a skew below one (RFC 5798's Master_Down_Interval),
    /// rounded up to four.
    pub fn takeover_time(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.advert_int_centis) * 10 * 4)
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
