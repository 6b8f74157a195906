//! The text of `haproxy.cfg`: the global and defaults sections, then one frontend per
//! listener followed by the backend of its default pool.
//!
//! Semantics follow Octavia's combined-listeners template: objects in PENDING_DELETE
//! (or DELETED) and disabled listeners are left out; a disabled pool gets no backend
//! and its listener no `default_backend` (HAProxy answers 503 / closes); a disabled
//! member is written with `disabled`; a disabled health monitor is as none. Objects
//! are written in the order of the graph.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};

use krater_domain::{
    grammar, HealthMonitor, HealthMonitorType, HttpMethod, LbAlgorithm, Listener, ListenerProtocol,
    LoadBalancerGraph, Member, PoolGraph, PoolProtocol, ProvisioningStatus, SessionPersistenceType,
};

use crate::l7;
use crate::options::{in_lb_dir, PEER_PORT, SERVER_STATE, STATS_SOCKET};
use crate::validate::{self, invalid};
use crate::{RenderError, RenderOptions};

/// The `peers` section of an ACTIVE_STANDBY load balancer.
const PEERS_SECTION: &str = "amphorae";
/// The ACL of a frontend's `allowed_cidrs`: one line per network, or'ed by HAProxy.
const ALLOWED_CIDRS_ACL: &str = "allowed_cidrs";
/// Size of the stick tables of session persistence.
const STICK_TABLE_SIZE: &str = "10k";
/// Octavia's defaults, used when a listener timeout is 0 (as Octavia does).
const DEFAULT_TIMEOUT_CLIENT_DATA: i64 = 50_000;
const DEFAULT_TIMEOUT_MEMBER_CONNECT: i64 = 5_000;
const DEFAULT_TIMEOUT_MEMBER_DATA: i64 = 50_000;

/// The listeners HAProxy serves, in graph order: the enabled, not deleted HTTP, TCP
/// and HTTPS (passthrough) listeners of an enabled load balancer.
///
/// TERMINATED_HTTPS (needs certificates) and PROMETHEUS are not rendered yet; UDP
/// and SCTP listeners are served by nftables, not HAProxy. When this is empty there
/// is nothing for HAProxy to do.
pub fn haproxy_listeners(graph: &LoadBalancerGraph) -> Vec<&Listener> {
    let lb = &graph.load_balancer;
    if !lb.admin_state_up || !live(lb.provisioning_status) {
        return Vec::new();
    }
    graph
        .listeners
        .iter()
        .filter(|l| l.admin_state_up && live(l.provisioning_status))
        .filter(|l| {
            matches!(
                l.protocol,
                ListenerProtocol::Http | ListenerProtocol::Tcp | ListenerProtocol::Https
            )
        })
        .collect()
}

/// Renders the `haproxy.cfg` of one load balancer.
///
/// The global `maxconn` is the sum of the listeners' limits (unlimited ones count as
/// [`RenderOptions::default_listener_maxconn`]), capped at
/// [`RenderOptions::max_global_maxconn`]. Fails when a value could not be written
/// safely (see [`RenderError`]).
pub fn render(graph: &LoadBalancerGraph, opts: &RenderOptions) -> Result<String, RenderError> {
    let lb_id = validate::ident("load_balancer.id", &graph.load_balancer.id)?;
    let listeners = haproxy_listeners(graph);
    let mut cfg = Cfg::default();
    cfg.write(format_args!(
        "# haproxy.cfg of load balancer {lb_id}, rendered by krater"
    ));

    let peers = peers(graph, opts)?;
    global(&mut cfg, &listeners, opts, peers.as_ref())?;
    defaults(&mut cfg);
    if let Some(peers) = &peers {
        cfg.section(format_args!("peers {PEERS_SECTION}"));
        for (name, address) in &peers.members {
            cfg.line(format_args!("peer {name} {address}"));
        }
    }
    if !listeners.is_empty() {
        let vip = graph
            .load_balancer
            .vip
            .ip_address
            .as_deref()
            .ok_or(RenderError::Missing {
                field: "load_balancer.vip.ip_address",
            })?;
        let vip = validate::ip("load_balancer.vip.ip_address", vip)?;
        for listener in listeners {
            frontend_and_backend(&mut cfg, graph, listener, vip, opts, peers.is_some())?;
        }
    }
    Ok(cfg.text)
}

/// The HAProxy of every amphora of an ACTIVE_STANDBY load balancer (see
/// [`crate::vrrp_amphorae`]), each on its VRRP address, which share their stick
/// tables; `local` is the one rendered for.
struct Peers<'g> {
    local: &'g str,
    members: Vec<(&'g str, SocketAddr)>,
}

/// The peers of the amphora `opts.local_peer`, when it is one of the VRRP amphorae.
fn peers<'g>(
    graph: &'g LoadBalancerGraph,
    opts: &RenderOptions,
) -> Result<Option<Peers<'g>>, RenderError> {
    let amphorae = crate::vrrp_amphorae(graph);
    let Some(local) = opts
        .local_peer
        .as_deref()
        .and_then(|id| amphorae.iter().find(|a| a.id == id))
    else {
        return Ok(None);
    };
    let mut members = Vec::new();
    for amphora in &amphorae {
        let name = validate::ident("amphora.id", &amphora.id)?;
        let ip = validate::ip(
            "amphora.vrrp_ip",
            amphora.vrrp_ip.as_deref().unwrap_or_default(),
        )?;
        members.push((name, SocketAddr::new(ip, PEER_PORT)));
    }
    Ok(Some(Peers {
        local: validate::ident("amphora.id", &local.id)?,
        members,
    }))
}

fn global(
    cfg: &mut Cfg,
    listeners: &[&Listener],
    opts: &RenderOptions,
    peers: Option<&Peers<'_>>,
) -> Result<(), RenderError> {
    let maxconn = listeners
        .iter()
        .map(|l| listener_maxconn(l, opts))
        .fold(0u64, u64::saturating_add)
        .min(opts.max_global_maxconn);

    cfg.section(format_args!("global"));
    cfg.line(format_args!("master-worker"));
    if let Some(user) = &opts.user {
        cfg.line(format_args!(
            "user {}",
            validate::ident("options.user", user)?
        ));
    }
    cfg.line(format_args!(
        "stats socket {} mode 0600 level admin expose-fd listeners",
        in_lb_dir(STATS_SOCKET)
    ));
    cfg.line(format_args!(
        "server-state-file {}",
        in_lb_dir(SERVER_STATE)
    ));
    if maxconn > 0 {
        cfg.line(format_args!("maxconn {maxconn}"));
    }
    if let Some(peers) = peers {
        cfg.line(format_args!("localpeer {}", peers.local));
    }
    Ok(())
}

fn defaults(cfg: &mut Cfg) {
    cfg.section(format_args!("defaults"));
    for line in [
        "no log",
        "retries 3",
        "option redispatch",
        "option splice-request",
        "option splice-response",
        "option http-keep-alive",
    ] {
        cfg.line(format_args!("{line}"));
    }
}

/// How HAProxy handles a proxy's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Http,
    Tcp,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Http => "http",
            Mode::Tcp => "tcp",
        }
    }
}

fn frontend_and_backend(
    cfg: &mut Cfg,
    graph: &LoadBalancerGraph,
    l: &Listener,
    vip: IpAddr,
    opts: &RenderOptions,
    peers: bool,
) -> Result<(), RenderError> {
    let id = validate::ident("listener.id", &l.id)?;
    let mode = if l.protocol == ListenerProtocol::Http {
        Mode::Http
    } else {
        Mode::Tcp
    };
    let maxconn = listener_maxconn(l, opts);
    let client = timeout(
        "listener.timeout_client_data",
        l.timeout_client_data,
        DEFAULT_TIMEOUT_CLIENT_DATA,
    )?;
    let inspect = timeout("listener.timeout_tcp_inspect", l.timeout_tcp_inspect, 0)?;
    let backend = Backend {
        listener_id: id,
        listener_mode: mode,
        fullconn: maxconn,
        peers,
        timeout_connect: timeout(
            "listener.timeout_member_connect",
            l.timeout_member_connect,
            DEFAULT_TIMEOUT_MEMBER_CONNECT,
        )?,
        timeout_server: timeout(
            "listener.timeout_member_data",
            l.timeout_member_data,
            DEFAULT_TIMEOUT_MEMBER_DATA,
        )?,
    };
    let default = default_pool(graph, l)?;
    // L7 policies apply to HTTP listeners only (the API takes none on others).
    let l7 = if mode == Mode::Http {
        l7::policies(graph, l, &backend)?
    } else {
        l7::Policies::default()
    };
    let port = valid_port("listener.protocol_port", l.protocol_port)?;

    cfg.section(format_args!("frontend {id}"));
    cfg.line(format_args!("maxconn {maxconn}"));
    cfg.line(format_args!("bind {}", SocketAddr::new(vip, port)));
    cfg.line(format_args!("mode {}", mode.as_str()));
    allowed_cidrs(cfg, l)?;
    if mode == Mode::Http {
        let wants = |name: &str| {
            l.insert_headers
                .iter()
                .any(|(k, v)| k == name && v.eq_ignore_ascii_case("true"))
        };
        if wants("X-Forwarded-For") {
            cfg.line(format_args!("option forwardfor"));
        }
        if wants("X-Forwarded-Port") {
            cfg.line(format_args!(
                "http-request set-header X-Forwarded-Port %[dst_port]"
            ));
        }
        if wants("X-Forwarded-Proto") {
            cfg.line(format_args!(
                "http-request set-header X-Forwarded-Proto http"
            ));
        }
        // Octavia accepts these and writes nothing; krater gives them the client's
        // address, which is what their names promise.
        for header in ["X-Forwarded-IP", "X-Client-IP", "X-Real-IP"] {
            if wants(header) {
                cfg.line(format_args!("http-request set-header {header} %[src]"));
            }
        }
    }
    for line in &l7.lines {
        cfg.line(format_args!("{line}"));
    }
    if let Some(pg) = default {
        cfg.line(format_args!("default_backend {}", backend.name(pg)?));
    }
    cfg.line(format_args!("timeout client {client}"));
    if inspect > 0 {
        cfg.line(format_args!("tcp-request inspect-delay {inspect}"));
    }

    // The default pool's backend, then those only policies lead to.
    if let Some(pg) = default {
        backend.render(cfg, pg)?;
    }
    for pg in l7.pools {
        if default.map(|d| &d.pool.id) != Some(&pg.pool.id) {
            backend.render(cfg, pg)?;
        }
    }
    Ok(())
}

/// A listener with `allowed_cidrs` closes every connection from elsewhere as soon as
/// it is accepted, before a byte is read (Octavia drops the packets in a security
/// group instead; the client is refused either way).
fn allowed_cidrs(cfg: &mut Cfg, l: &Listener) -> Result<(), RenderError> {
    if l.allowed_cidrs.is_empty() {
        return Ok(());
    }
    for cidr in &l.allowed_cidrs {
        let cidr = validate::grammar("listener.allowed_cidrs", cidr, grammar::cidr)?;
        cfg.line(format_args!("acl {ALLOWED_CIDRS_ACL} src {cidr}"));
    }
    cfg.line(format_args!(
        "tcp-request connection reject unless {ALLOWED_CIDRS_ACL}"
    ));
    Ok(())
}

/// A listener timeout in milliseconds, 0 meaning `default` as in Octavia.
fn timeout(field: &'static str, value: i64, default: i64) -> Result<i64, RenderError> {
    validate::duration(field, value).map(|v| if v == 0 { default } else { v })
}

/// The listener's default pool when it gets a backend: present, enabled, not deleted.
fn default_pool<'g>(
    graph: &'g LoadBalancerGraph,
    l: &Listener,
) -> Result<Option<&'g PoolGraph>, RenderError> {
    match &l.default_pool_id {
        Some(pool_id) => serving_pool(graph, l, pool_id),
        None => Ok(None),
    }
}

/// A pool of the listener's load balancer, if it gets a backend: enabled and not
/// deleted.
pub(crate) fn serving_pool<'g>(
    graph: &'g LoadBalancerGraph,
    l: &Listener,
    pool_id: &str,
) -> Result<Option<&'g PoolGraph>, RenderError> {
    let pg = graph
        .pool(pool_id)
        .ok_or_else(|| RenderError::UnknownPool {
            listener_id: l.id.clone(),
            pool_id: pool_id.to_owned(),
        })?;
    Ok((pg.pool.admin_state_up && live(pg.pool.provisioning_status)).then_some(pg))
}

/// What a backend takes from the listener that uses it: each pool a listener uses
/// gets a backend of its own, `<pool id>:<listener id>`.
pub(crate) struct Backend<'l> {
    listener_id: &'l str,
    listener_mode: Mode,
    fullconn: u64,
    /// Stick tables are shared with the `peers`.
    peers: bool,
    timeout_connect: i64,
    timeout_server: i64,
}

impl Backend<'_> {
    pub(crate) fn name(&self, pg: &PoolGraph) -> Result<String, RenderError> {
        let pool = validate::ident("pool.id", &pg.pool.id)?;
        Ok(format!("{pool}:{}", self.listener_id))
    }

    fn render(&self, cfg: &mut Cfg, pg: &PoolGraph) -> Result<(), RenderError> {
        let pool = &pg.pool;
        let mode = match pool.protocol {
            PoolProtocol::Http => Mode::Http,
            PoolProtocol::Tcp | PoolProtocol::Https => Mode::Tcp,
            PoolProtocol::Proxy | PoolProtocol::ProxyV2 => self.listener_mode,
            PoolProtocol::Udp | PoolProtocol::Sctp => {
                return Err(invalid(
                    "pool.protocol",
                    pool.protocol.as_str(),
                    "a UDP or SCTP pool cannot serve a TCP-family listener",
                ))
            }
        };
        let hm = pg
            .health_monitor
            .as_ref()
            .filter(|hm| hm.admin_state_up && live(hm.provisioning_status));

        cfg.section(format_args!("backend {}", self.name(pg)?));
        cfg.line(format_args!("mode {}", mode.as_str()));
        if mode == Mode::Http {
            cfg.line(format_args!("http-reuse safe"));
        }
        let balance = match pool.lb_algorithm {
            LbAlgorithm::LeastConnections => "leastconn",
            LbAlgorithm::SourceIp => "source",
            LbAlgorithm::RoundRobin | LbAlgorithm::SourceIpPort => "roundrobin",
        };
        cfg.line(format_args!("balance {balance}"));
        let cookie_per_member = persistence(cfg, pg, mode, self.peers)?;
        let check = match hm {
            Some(hm) => Some(health_check(cfg, hm)?),
            None => None,
        };
        cfg.line(format_args!("fullconn {}", self.fullconn));
        cfg.line(format_args!("option allbackups"));
        cfg.line(format_args!("timeout connect {}", self.timeout_connect));
        cfg.line(format_args!("timeout server {}", self.timeout_server));

        for member in pg.members.iter().filter(|m| live(m.provisioning_status)) {
            let line = server(pg, member, check.as_deref(), cookie_per_member)?;
            cfg.line(format_args!("{line}"));
        }
        Ok(())
    }
}

/// Writes the session persistence of a pool; true when each server needs a cookie
/// value. Cookie-based persistence needs HTTP and is left out of a `tcp` backend.
fn persistence(
    cfg: &mut Cfg,
    pg: &PoolGraph,
    mode: Mode,
    peers: bool,
) -> Result<bool, RenderError> {
    let Some(sp) = &pg.pool.session_persistence else {
        return Ok(false);
    };
    let shared = if peers {
        format!(" peers {PEERS_SECTION}")
    } else {
        String::new()
    };
    match sp.kind {
        SessionPersistenceType::SourceIp => {
            cfg.line(format_args!(
                "stick-table type ipv6 size {STICK_TABLE_SIZE}{shared}"
            ));
            cfg.line(format_args!("stick on src"));
        }
        SessionPersistenceType::AppCookie if mode == Mode::Http => {
            let name = sp.cookie_name.as_deref().ok_or(RenderError::Missing {
                field: "session_persistence.cookie_name",
            })?;
            let name = validate::grammar(
                "session_persistence.cookie_name",
                name,
                grammar::cookie_name,
            )?;
            cfg.line(format_args!(
                "stick-table type string len 64 size {STICK_TABLE_SIZE}{shared}"
            ));
            cfg.line(format_args!("stick store-response res.cook({name})"));
            cfg.line(format_args!("stick match req.cook({name})"));
        }
        SessionPersistenceType::HttpCookie if mode == Mode::Http => {
            cfg.line(format_args!("cookie SRV insert indirect nocache"));
            return Ok(true);
        }
        SessionPersistenceType::AppCookie | SessionPersistenceType::HttpCookie => {}
    }
    Ok(false)
}

/// Writes a backend's health-check settings; returns the options every server gets.
fn health_check(cfg: &mut Cfg, hm: &HealthMonitor) -> Result<String, RenderError> {
    let timeout =
        validate::grammar_number("health_monitor.timeout", hm.timeout, grammar::check_timeout)?;
    let delay =
        validate::grammar_number("health_monitor.delay", hm.delay, grammar::check_interval)?;
    let fall = validate::positive("health_monitor.max_retries_down", hm.max_retries_down)?;
    let rise = validate::positive("health_monitor.max_retries", hm.max_retries)?;
    let ssl = match hm.kind {
        HealthMonitorType::Https => " check-ssl verify none",
        // A TLS-HELLO, TCP or PING monitor is a connection check.
        HealthMonitorType::Http
        | HealthMonitorType::Tcp
        | HealthMonitorType::TlsHello
        | HealthMonitorType::Ping => "",
        HealthMonitorType::UdpConnect | HealthMonitorType::Sctp => {
            return Err(invalid(
                "health_monitor.type",
                hm.kind.as_str(),
                "cannot check the members of a TCP-family pool",
            ))
        }
    };

    cfg.line(format_args!("load-server-state-from-file global"));
    cfg.line(format_args!("timeout check {timeout}s"));
    if hm.kind.is_http() {
        let method = hm.http_method.unwrap_or(HttpMethod::Get);
        let (path, codes) = http_check(hm)?;
        match http_version(hm)? {
            Some(version) => {
                cfg.line(format_args!(
                    "option httpchk {method} {path} HTTP/{version}"
                ));
                if let (HttpVersion::V1_1, Some(domain)) = (version, &hm.domain_name) {
                    let domain = validate::grammar(
                        "health_monitor.domain_name",
                        domain,
                        grammar::domain_name,
                    )?;
                    cfg.line(format_args!("http-check send hdr Host {domain}"));
                }
            }
            None => cfg.line(format_args!("option httpchk {method} {path}")),
        }
        let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
        cfg.line(format_args!(
            "http-check expect rstatus ^({})$",
            codes.join("|")
        ));
    }
    Ok(format!(
        " check{ssl} inter {delay}s fall {fall} rise {rise}"
    ))
}

/// The HTTP versions a health check may speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HttpVersion {
    V1_0,
    V1_1,
}

impl fmt::Display for HttpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpVersion::V1_0 => "1.0",
            HttpVersion::V1_1 => "1.1",
        })
    }
}

/// The path (default `/`) and the expected codes (default `200`) of an HTTP check,
/// each checked by its grammar.
pub(crate) fn http_check(hm: &HealthMonitor) -> Result<(&str, Vec<u16>), RenderError> {
    let path = match &hm.url_path {
        Some(p) => validate::grammar("health_monitor.url_path", p, grammar::url_path)?,
        None => "/",
    };
    let codes = validate::grammar(
        "health_monitor.expected_codes",
        hm.expected_codes.as_deref().unwrap_or("200"),
        grammar::expected_codes,
    )?;
    Ok((path, codes))
}

pub(crate) fn http_version(hm: &HealthMonitor) -> Result<Option<HttpVersion>, RenderError> {
    let Some(v) = hm.http_version else {
        return Ok(None);
    };
    if (v - 1.0).abs() < 1e-9 {
        Ok(Some(HttpVersion::V1_0))
    } else if (v - 1.1).abs() < 1e-9 {
        Ok(Some(HttpVersion::V1_1))
    } else {
        Err(invalid(
            "health_monitor.http_version",
            &v.to_string(),
            "only 1.0 and 1.1 are supported",
        ))
    }
}

/// One `server` line.
fn server(
    pg: &PoolGraph,
    m: &Member,
    check: Option<&str>,
    cookie: bool,
) -> Result<String, RenderError> {
    let id = validate::ident("member.id", &m.id)?;
    let addr = validate::ip("member.address", &m.address)?;
    let port = valid_port("member.protocol_port", m.protocol_port)?;
    if m.weight > 256 {
        return Err(invalid(
            "member.weight",
            &m.weight.to_string(),
            "must be 0 to 256",
        ));
    }
    let mut line = format!(
        "server {id} {} weight {}",
        SocketAddr::new(addr, port),
        m.weight
    );
    if let Some(check) = check {
        line.push_str(check);
        if let Some(a) = &m.monitor_address {
            let a = validate::ip("member.monitor_address", a)?;
            line.push_str(&match a {
                IpAddr::V4(a) => format!(" addr {a}"),
                IpAddr::V6(a) => format!(" addr [{a}]"),
            });
        }
        if let Some(p) = m.monitor_port {
            line.push_str(&format!(" port {}", valid_port("member.monitor_port", p)?));
        }
    }
    if cookie {
        line.push_str(&format!(" cookie {id}"));
    }
    match pg.pool.protocol {
        PoolProtocol::Proxy => line.push_str(" send-proxy"),
        PoolProtocol::ProxyV2 => line.push_str(" send-proxy-v2"),
        _ => {}
    }
    if m.backup {
        line.push_str(" backup");
    }
    if !m.admin_state_up {
        line.push_str(" disabled");
    }
    if pg.pool.tls_enabled {
        // No CA certificates yet: members' certificates are not verified.
        line.push_str(" ssl verify none");
    }
    Ok(line)
}

/// `maxconn` of a listener: its limit, or the default when unlimited (−1, or 0 as
/// Octavia reads it).
fn listener_maxconn(l: &Listener, opts: &RenderOptions) -> u64 {
    u64::try_from(l.connection_limit)
        .ok()
        .filter(|&c| c > 0)
        .unwrap_or(opts.default_listener_maxconn)
}

fn valid_port(field: &'static str, port: u16) -> Result<u16, RenderError> {
    if port == 0 {
        Err(invalid(field, "0", "ports are 1 to 65535"))
    } else {
        Ok(port)
    }
}

/// False for objects being or already deleted, which are left out.
pub(crate) fn live(status: ProvisioningStatus) -> bool {
    !matches!(
        status,
        ProvisioningStatus::PendingDelete | ProvisioningStatus::Deleted
    )
}

/// The configuration text being written: sections and indented lines.
#[derive(Default)]
struct Cfg {
    text: String,
}

impl Cfg {
    /// Starts a section, after a blank line unless it is the first thing written.
    fn section(&mut self, header: fmt::Arguments<'_>) {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.write(header);
    }

    /// Writes one line of the current section.
    fn line(&mut self, line: fmt::Arguments<'_>) {
        self.text.push_str("    ");
        self.write(line);
    }

    fn write(&mut self, line: fmt::Arguments<'_>) {
        // Writing into a String cannot fail.
        let _ = self.text.write_fmt(line);
        self.text.push('\n');
    }
}
