//! UDP listeners: what the controller sends of them ([`nat_listeners`]) and the
//! nftables ruleset the agent loads for them ([`render_nftables`]).
//!
//! The kernel here has no IPVS, so where Octavia's amphora runs keepalived's LVS, the
//! agent loads two nftables tables in the load-balancing namespace
//! ([`NatRuleset`]). `inet krater` changes only with the listeners themselves:
//! - `filter_prerouting` drops packets to a listener from outside its
//!   `allowed_cidrs` and new flows beyond its `connection_limit` (counted by
//!   conntrack), then counts the listener's bytes in and its new flows
//!   ([`NatCounters`]);
//! - `nat_postrouting` masquerades balanced flows behind the amphora's address on the
//!   member network, so replies come back through the amphora (Octavia does the same);
//! - `filter_forward` counts the bytes of the replies and forwards balanced flows,
//!   and nothing else.
//!
//! `inet krater_nat` follows the members and their health: its `nat_prerouting`
//! sends the first packet of each new flow to a member, in turn by weight (`numgen`),
//! or by a hash of the client's address under the pool's persistence granularity
//! (`jhash`, seeded by the listener id so that both amphorae of a pair pick the same
//! member); conntrack keeps the rest of the flow on that member. A listener with no
//! member to take new flows drops them; flows already balanced go on (a draining
//! member keeps its flows). So a member going down or up reloads this table alone,
//! and the limits and counters of the other are kept.
//!
//! Each file replaces its whole table in one transaction. Everything written comes
//! from typed values (addresses, ports, numbers), so no user string reaches it.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::spec::{
    HttpCheckMethod, NatAlgorithm, NatCheck, NatListener, NatMember, NatMonitor, NatPool, Network,
};
use krater_domain::{
    grammar, HealthMonitor, HealthMonitorType, HttpMethod, LbAlgorithm, ListenerProtocol,
    LoadBalancerGraph, PoolGraph, PoolProtocol, SessionPersistenceType,
};

use crate::render::{http_check, http_version, live, serving_pool, HttpVersion};
use crate::validate::{self, invalid};
use crate::RenderError;

/// The table of the listeners' filters, limits and counters.
pub const NAT_TABLE: &str = "inet krater";
/// The table of the listeners' choice of members.
pub const DNAT_TABLE: &str = "inet krater_nat";

/// The two nftables files of the UDP listeners; see the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatRuleset {
    /// Replaces [`NAT_TABLE`].
    pub filter: String,
    /// Replaces [`DNAT_TABLE`].
    pub nat: String,
}

/// The UDP listeners of `graph` that the amphora serves: enabled, not being deleted,
/// with their enabled default pool, its enabled members of the VIP's address family
/// and its enabled health monitor. Empty when the load balancer is disabled.
pub fn nat_listeners(graph: &LoadBalancerGraph) -> Result<Vec<NatListener>, RenderError> {
    let lb = &graph.load_balancer;
    if !lb.admin_state_up || !live(lb.provisioning_status) {
        return Ok(Vec::new());
    }
    let udp: Vec<_> = graph
        .listeners
        .iter()
        .filter(|l| l.protocol == ListenerProtocol::Udp)
        .filter(|l| l.admin_state_up && live(l.provisioning_status))
        .collect();
    if udp.is_empty() {
        return Ok(Vec::new());
    }
    let vip = lb.vip.ip_address.as_deref().ok_or(RenderError::Missing {
        field: "load_balancer.vip_address",
    })?;
    let vip = validate::ip("load_balancer.vip_address", vip)?;
    let mut out = Vec::new();
    for l in udp {
        let mut allowed_cidrs = Vec::new();
        for cidr in &l.allowed_cidrs {
            let canonical = validate::grammar("listener.allowed_cidrs", cidr, grammar::cidr)?;
            let cidr: Network = canonical
                .parse()
                .map_err(|_| invalid("listener.allowed_cidrs", cidr, "not a CIDR"))?;
            allowed_cidrs.push(cidr);
        }
        let pool = match &l.default_pool_id {
            Some(id) => serving_pool(graph, l, id)?,
            None => None,
        };
        // −1 (and 0, as Octavia reads it) is no limit.
        let connection_limit = u32::try_from(l.connection_limit)
            .ok()
            .and_then(std::num::NonZeroU32::new);
        out.push(NatListener {
            listener_id: checked_id("listener.id", &l.id)?,
            vip,
            port: port("listener.protocol_port", l.protocol_port)?,
            allowed_cidrs,
            connection_limit,
            pool: pool.map(|pg| nat_pool(pg, vip)).transpose()?,
        });
    }
    Ok(out)
}

fn nat_pool(pg: &PoolGraph, vip: IpAddr) -> Result<NatPool, RenderError> {
    let pool = &pg.pool;
    if pool.protocol != PoolProtocol::Udp {
        return Err(invalid(
            "pool.protocol",
            pool.protocol.as_str(),
            "a UDP listener needs a UDP pool",
        ));
    }
    let persistence = pool
        .session_persistence
        .as_ref()
        .filter(|sp| sp.kind == SessionPersistenceType::SourceIp);
    let algorithm = match (pool.lb_algorithm, persistence) {
        (LbAlgorithm::SourceIp, _) | (LbAlgorithm::RoundRobin, Some(_)) => {
            let mask = match persistence.and_then(|sp| sp.persistence_granularity.as_deref()) {
                Some(mask) => Some(validate::ip("pool.persistence_granularity", mask)?),
                None => None,
            };
            if mask.is_some_and(|m| m.is_ipv4() != vip.is_ipv4()) {
                return Err(invalid(
                    "pool.persistence_granularity",
                    &format!("{mask:?}"),
                    "its address family is not the VIP's",
                ));
            }
            NatAlgorithm::SourceIp { mask }
        }
        (LbAlgorithm::RoundRobin, None) => NatAlgorithm::RoundRobin,
        (other, _) => {
            return Err(invalid(
                "pool.lb_algorithm",
                other.as_str(),
                "UDP pools are balanced by ROUND_ROBIN or SOURCE_IP",
            ))
        }
    };
    let mut members = Vec::new();
    for m in pg.members.iter() {
        if !m.admin_state_up || !live(m.provisioning_status) {
            continue;
        }
        let address = validate::ip("member.address", &m.address)?;
        // NAT cannot take a flow from one address family to the other.
        if address.is_ipv4() != vip.is_ipv4() {
            continue;
        }
        let monitor_address = match &m.monitor_address {
            Some(a) => Some(validate::ip("member.monitor_address", a)?),
            None => None,
        };
        members.push(NatMember {
            member_id: checked_id("member.id", &m.id)?,
            address,
            port: port("member.protocol_port", m.protocol_port)?,
            weight: m.weight,
            backup: m.backup,
            monitor_address,
            monitor_port: m
                .monitor_port
                .map(|p| port("member.monitor_port", p))
                .transpose()?,
        });
    }
    let monitor = pg
        .health_monitor
        .as_ref()
        .filter(|hm| hm.admin_state_up && live(hm.provisioning_status))
        .map(nat_monitor)
        .transpose()?;
    Ok(NatPool {
        pool_id: checked_id("pool.id", &pool.id)?,
        algorithm,
        members,
        monitor,
    })
}

fn nat_monitor(hm: &HealthMonitor) -> Result<NatMonitor, RenderError> {
    let check = match hm.kind {
        HealthMonitorType::UdpConnect => NatCheck::UdpConnect,
        HealthMonitorType::Tcp => NatCheck::Tcp,
        HealthMonitorType::Http => {
            let (path, expected_codes) = http_check(hm)?;
            let host = match (http_version(hm)?, &hm.domain_name) {
                (Some(HttpVersion::V1_1), Some(domain)) => Some(validate::grammar(
                    "health_monitor.domain_name",
                    domain,
                    grammar::domain_name,
                )?),
                _ => None,
            };
            NatCheck::Http {
                method: http_method(hm.http_method.unwrap_or(HttpMethod::Get)),
                path: path.to_owned(),
                expected_codes,
                host: host.map(str::to_owned),
            }
        }
        other => {
            return Err(invalid(
                "health_monitor.type",
                other.as_str(),
                "UDP members are checked by UDP-CONNECT, TCP or HTTP",
            ))
        }
    };
    let delay =
        validate::grammar_number("health_monitor.delay", hm.delay, grammar::check_interval)?;
    let timeout =
        validate::grammar_number("health_monitor.timeout", hm.timeout, grammar::check_timeout)?;
    let count = |field, value: i64| {
        u8::try_from(value)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| invalid(field, &value.to_string(), "must be 1 to 255"))
    };
    Ok(NatMonitor {
        check,
        delay: u32::try_from(delay).expect("the grammar bounds the delay"),
        timeout: u32::try_from(timeout).expect("the grammar bounds the timeout"),
        rise: count("health_monitor.max_retries", hm.max_retries)?,
        fall: count("health_monitor.max_retries_down", hm.max_retries_down)?,
    })
}

fn http_method(method: HttpMethod) -> HttpCheckMethod {
    match method {
        HttpMethod::Get => HttpCheckMethod::Get,
        HttpMethod::Head => HttpCheckMethod::Head,
        HttpMethod::Post => HttpCheckMethod::Post,
        HttpMethod::Put => HttpCheckMethod::Put,
        HttpMethod::Delete => HttpCheckMethod::Delete,
        HttpMethod::Trace => HttpCheckMethod::Trace,
        HttpMethod::Options => HttpCheckMethod::Options,
        HttpMethod::Connect => HttpCheckMethod::Connect,
        HttpMethod::Patch => HttpCheckMethod::Patch,
    }
}

fn checked_id(field: &'static str, id: &str) -> Result<String, RenderError> {
    crate::spec::parse_uuid(field, id).map_err(|_| invalid(field, id, "not a canonical UUID"))
}

fn port(field: &'static str, port: u16) -> Result<std::num::NonZeroU16, RenderError> {
    std::num::NonZeroU16::new(port).ok_or_else(|| invalid(field, "0", "ports are 1 to 65535"))
}

/// The members of `pool` that take new flows: those `serves` says are up with a
/// weight above 0, and only when none of those is a primary member, the backups.
pub fn chosen_members<'p>(
    pool: &'p NatPool,
    serves: &dyn Fn(&NatPool, &NatMember) -> bool,
) -> Vec<&'p NatMember> {
    let up: Vec<&NatMember> = pool
        .members
        .iter()
        .filter(|m| m.weight > 0 && serves(pool, m))
        .collect();
    let primaries: Vec<&NatMember> = up.iter().copied().filter(|m| !m.backup).collect();
    if primaries.is_empty() {
        up
    } else {
        primaries
    }
}

/// The names of a listener's counters in the ruleset: bytes in (`rx`), bytes of the
/// replies (`tx`) and new flows (`flows`). Each is named after the listener's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatCounters {
    pub rx: String,
    pub tx: String,
    pub flows: String,
}

impl NatCounters {
    pub fn of(listener_id: &str) -> Self {
        // Counter names are identifiers: the id without its hyphens.
        let id: String = listener_id.chars().filter(|c| *c != '-').collect();
        Self {
            rx: format!("rx_{id}"),
            tx: format!("tx_{id}"),
            flows: format!("flows_{id}"),
        }
    }
}

/// The nftables files for `listeners`; `serves` says whether a member is up (its
/// health check passes, or it has none). See the module for what each chain does.
pub fn render_nftables(
    listeners: &[NatListener],
    serves: &dyn Fn(&NatPool, &NatMember) -> bool,
) -> NatRuleset {
    let mut objects = String::new();
    let mut filter = String::new();
    let mut nat = String::new();
    let mut forward = String::new();
    for (index, l) in listeners.iter().enumerate() {
        let (family, addr_type) = if l.vip.is_ipv4() {
            ("ip", "ipv4_addr")
        } else {
            ("ip6", "ipv6_addr")
        };
        let matcher = format!("{family} daddr {} udp dport {}", l.vip, l.port);
        let counters = NatCounters::of(&l.listener_id);
        for name in [&counters.rx, &counters.tx, &counters.flows] {
            let _ = writeln!(objects, "    counter {name} {{ }}");
        }
        objects.push('\n');
        // A client of the other address family than the VIP's cannot reach it, so
        // only the VIP's family counts; with CIDRs of the other family only, none
        // may reach the listener.
        let elements: Vec<String> = l
            .allowed_cidrs
            .iter()
            .filter(|c| c.addr.is_ipv4() == l.vip.is_ipv4())
            .map(Network::to_string)
            .collect();
        if !l.allowed_cidrs.is_empty() && elements.is_empty() {
            let _ = writeln!(filter, "        {matcher} drop");
            continue;
        }
        if !elements.is_empty() {
            let _ = write!(
                objects,
                "    set allowed_{index} {{\n        type {addr_type}\n        flags interval\n        auto-merge\n        elements = {{ {} }}\n    }}\n\n",
                elements.join(", ")
            );
            let _ = writeln!(
                filter,
                "        {matcher} {family} saddr != @allowed_{index} drop"
            );
        }
        if let Some(limit) = l.connection_limit {
            let _ = write!(
                objects,
                "    set flows_{index} {{\n        type {addr_type} . inet_service\n        size 65535\n        flags dynamic\n    }}\n\n"
            );
            let _ = writeln!(
                filter,
                "        {matcher} ct state new add @flows_{index} {{ {family} daddr . udp dport ct count over {limit} }} drop"
            );
        }
        let _ = writeln!(filter, "        {matcher} counter name {}", counters.rx);
        let _ = writeln!(
            filter,
            "        {matcher} ct state new counter name {}",
            counters.flows
        );
        let _ = writeln!(
            forward,
            "        ct direction reply ct original {family} daddr {} meta l4proto udp ct original proto-dst {} counter name {}",
            l.vip, l.port, counters.tx
        );
        let members = l
            .pool
            .as_ref()
            .map(|pool| chosen_members(pool, serves))
            .unwrap_or_default();
        let Some(pool) = l.pool.as_ref().filter(|_| !members.is_empty()) else {
            let _ = writeln!(nat, "        {matcher} drop");
            continue;
        };
        let total: u32 = members.iter().map(|m| u32::from(m.weight)).sum();
        let mut entries = Vec::new();
        let mut start = 0u32;
        for m in &members {
            let end = start + u32::from(m.weight) - 1;
            let slots = if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            };
            entries.push(format!("{slots} : {} . {}", m.address, m.port));
            start = end + 1;
        }
        let pick = match pool.algorithm {
            NatAlgorithm::RoundRobin => format!("numgen inc mod {total}"),
            NatAlgorithm::SourceIp { mask } => {
                let source = match mask {
                    Some(mask) => format!("{family} saddr & {mask}"),
                    None => format!("{family} saddr"),
                };
                format!(
                    "jhash {source} mod {total} seed 0x{:08x}",
                    seed(&l.listener_id)
                )
            }
        };
        let _ = writeln!(
            nat,
            "        {matcher} dnat {family} to {pick} map {{ {} }}",
            entries.join(", ")
        );
    }
    let mut filter_table = table_header(NAT_TABLE, "filters, limits and counters");
    filter_table.push_str(&objects);
    filter_table.push_str("    chain filter_prerouting {\n        type filter hook prerouting priority dstnat - 10; policy accept;\n");
    filter_table.push_str(&filter);
    filter_table.push_str("    }\n\n");
    filter_table.push_str("    chain nat_postrouting {\n        type nat hook postrouting priority srcnat; policy accept;\n        meta l4proto udp ct status dnat masquerade\n    }\n\n");
    filter_table.push_str("    chain filter_forward {\n        type filter hook forward priority filter; policy drop;\n");
    filter_table.push_str(&forward);
    filter_table.push_str("        ct status dnat accept\n    }\n}\n");
    let mut nat_table = table_header(DNAT_TABLE, "choice of members");
    nat_table.push_str("    chain nat_prerouting {\n        type nat hook prerouting priority dstnat; policy accept;\n");
    nat_table.push_str(&nat);
    nat_table.push_str("    }\n}\n");
    NatRuleset {
        filter: filter_table,
        nat: nat_table,
    }
}

/// The start of a file that replaces `table` whole.
fn table_header(table: &str, what: &str) -> String {
    format!(
        "# The UDP listeners of this amphora, written by its agent: {what}.\ntable {table}\ndelete table {table}\ntable {table} {{\n"
    )
}

/// A hash seed that depends on the listener only (FNV-1a of its id), so that every
/// amphora of a load balancer sends a client to the same member.
fn seed(listener_id: &str) -> u32 {
    listener_id.bytes().fold(0x811c_9dc5, |hash, b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
