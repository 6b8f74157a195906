//! Tables of the entities and their mapping to and from `krater-domain` types.

use crate::{fmt_ts, map_unique, parse_enum, parse_ts, DbError, Result, Tx};
use krater_domain::*;
use sqlx::any::AnyRow;
use sqlx::Row;

/// The tables whose rows carry a provisioning status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    LoadBalancer,
    Listener,
    Pool,
    Member,
    HealthMonitor,
    L7Policy,
    L7Rule,
}

impl Table {
    pub(crate) fn sql_name(self) -> &'static str {
        match self {
            Table::LoadBalancer => "load_balancer",
            Table::Listener => "listener",
            Table::Pool => "pool",
            Table::Member => "member",
            Table::HealthMonitor => "health_monitor",
            Table::L7Policy => "l7policy",
            Table::L7Rule => "l7rule",
        }
    }

    /// Octavia's name of the resource in messages.
    pub fn display_name(self) -> &'static str {
        self.kind().display_name()
    }

    /// The object kind stored in this table.
    pub fn kind(self) -> flow::ObjectKind {
        use flow::ObjectKind as K;
        match self {
            Table::LoadBalancer => K::LoadBalancer,
            Table::Listener => K::Listener,
            Table::Pool => K::Pool,
            Table::Member => K::Member,
            Table::HealthMonitor => K::HealthMonitor,
            Table::L7Policy => K::L7Policy,
            Table::L7Rule => K::L7Rule,
        }
    }

    /// The table that stores objects of `kind`.
    pub fn of(kind: flow::ObjectKind) -> Self {
        use flow::ObjectKind as K;
        match kind {
            K::LoadBalancer => Table::LoadBalancer,
            K::Listener => Table::Listener,
            K::Pool => Table::Pool,
            K::Member => Table::Member,
            K::HealthMonitor => Table::HealthMonitor,
            K::L7Policy => Table::L7Policy,
            K::L7Rule => Table::L7Rule,
        }
    }
}

/// A value bound into a statement.
pub(crate) enum Val {
    Text(Option<String>),
    Int(Option<i64>),
}

fn text(s: impl Into<String>) -> Val {
    Val::Text(Some(s.into()))
}
fn opt_text(s: &Option<String>) -> Val {
    Val::Text(s.clone())
}
fn int(i: i64) -> Val {
    Val::Int(Some(i))
}
fn flag(b: bool) -> Val {
    Val::Int(Some(i64::from(b)))
}
fn json(v: &impl serde_json_ser::Ser) -> Val {
    Val::Text(Some(v.to_json()))
}

/// Minimal JSON encoding of the list-valued columns.
mod serde_json_ser {
    pub trait Ser {
        fn to_json(&self) -> String;
    }
    impl Ser for Vec<String> {
        fn to_json(&self) -> String {
            serde_json::Value::from(self.clone()).to_string()
        }
    }
    impl Ser for Vec<(String, String)> {
        fn to_json(&self) -> String {
            let map: serde_json::Map<String, serde_json::Value> = self
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone())))
                .collect();
            serde_json::Value::Object(map).to_string()
        }
    }
}

fn get_list(row: &AnyRow, column: &str) -> Result<Vec<String>> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| DbError::Corrupt(format!("{column}: {e}")))
}

/// A list column that may be NULL ("not set").
fn get_opt_list(row: &AnyRow, column: &str) -> Result<Option<Vec<String>>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| {
        serde_json::from_str(&text).map_err(|e| DbError::Corrupt(format!("{column}: {e}")))
    })
    .transpose()
}

/// The `tls_*` and `alpn_protocols` columns of a listener or pool.
fn tls_from(row: &AnyRow) -> Result<TlsOptions> {
    Ok(TlsOptions {
        ciphers: row.try_get("tls_ciphers")?,
        versions: get_opt_list(row, "tls_versions")?,
        alpn_protocols: get_opt_list(row, "alpn_protocols")?,
    })
}

fn tls_values(tls: &TlsOptions) -> [(&'static str, Val); 3] {
    let opt_json =
        |list: &Option<Vec<String>>| Val::Text(list.as_ref().map(serde_json_ser::Ser::to_json));
    [
        ("tls_ciphers", opt_text(&tls.ciphers)),
        ("tls_versions", opt_json(&tls.versions)),
        ("alpn_protocols", opt_json(&tls.alpn_protocols)),
    ]
}

fn get_map(row: &AnyRow, column: &str) -> Result<Vec<(String, String)>> {
    let text: String = row.try_get(column)?;
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| DbError::Corrupt(format!("{column}: {e}")))?;
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
        .collect())
}

fn get_bool(row: &AnyRow, column: &str) -> Result<bool> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

pub(crate) fn get_ts(row: &AnyRow, column: &str) -> Result<Timestamp> {
    parse_ts(&row.try_get::<String, _>(column)?)
}

pub(crate) fn get_opt_ts(row: &AnyRow, column: &str) -> Result<Option<Timestamp>> {
    row.try_get::<Option<String>, _>(column)?
        .map(|s| parse_ts(&s))
        .transpose()
}

fn get_port(row: &AnyRow, column: &str) -> Result<u16> {
    let v: i64 = row.try_get(column)?;
    u16::try_from(v).map_err(|_| DbError::Corrupt(format!("{column} = {v}")))
}

fn get_opt_enum<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<Option<T>> {
    row.try_get::<Option<String>, _>(column)?
        .map(|t| {
            t.parse()
                .map_err(|_| DbError::Corrupt(format!("{column} = {t}")))
        })
        .transpose()
}

pub(crate) fn load_balancer_from(row: &AnyRow) -> Result<LoadBalancer> {
    Ok(LoadBalancer {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        provisioning_status: parse_enum(row, "provisioning_status")?,
        operating_status: parse_enum(row, "operating_status")?,
        admin_state_up: get_bool(row, "enabled")?,
        provider: row.try_get("provider")?,
        topology: parse_enum(row, "topology")?,
        vip: Vip {
            ip_address: row.try_get("vip_address")?,
            port_id: row.try_get("vip_port_id")?,
            subnet_id: row.try_get("vip_subnet_id")?,
            network_id: row.try_get("vip_network_id")?,
            qos_policy_id: row.try_get("vip_qos_policy_id")?,
        },
        flavor_id: row.try_get("flavor_id")?,
        availability_zone: row.try_get("availability_zone")?,
        tags: get_list(row, "tags")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_opt_ts(row, "updated_at")?,
    })
}

fn load_balancer_values(lb: &LoadBalancer) -> Vec<(&'static str, Val)> {
    vec![
        ("id", text(&lb.id)),
        ("project_id", text(&lb.project_id)),
        ("name", opt_text(&lb.name)),
        ("description", opt_text(&lb.description)),
        ("provisioning_status", text(lb.provisioning_status.as_str())),
        ("operating_status", text(lb.operating_status.as_str())),
        ("enabled", flag(lb.admin_state_up)),
        ("provider", text(&lb.provider)),
        ("topology", text(lb.topology.as_str())),
        ("vip_address", opt_text(&lb.vip.ip_address)),
        ("vip_port_id", opt_text(&lb.vip.port_id)),
        ("vip_subnet_id", opt_text(&lb.vip.subnet_id)),
        ("vip_network_id", opt_text(&lb.vip.network_id)),
        ("vip_qos_policy_id", opt_text(&lb.vip.qos_policy_id)),
        ("flavor_id", opt_text(&lb.flavor_id)),
        ("availability_zone", opt_text(&lb.availability_zone)),
        ("tags", json(&lb.tags)),
        ("created_at", text(fmt_ts(lb.created_at))),
        ("updated_at", Val::Text(lb.updated_at.map(fmt_ts))),
    ]
}

pub(crate) fn listener_from(row: &AnyRow) -> Result<Listener> {
    Ok(Listener {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        load_balancer_id: row.try_get("load_balancer_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        provisioning_status: parse_enum(row, "provisioning_status")?,
        operating_status: parse_enum(row, "operating_status")?,
        admin_state_up: get_bool(row, "enabled")?,
        protocol: parse_enum(row, "protocol")?,
        protocol_port: get_port(row, "protocol_port")?,
        connection_limit: row.try_get("connection_limit")?,
        default_pool_id: row.try_get("default_pool_id")?,
        timeout_client_data: row.try_get("timeout_client_data")?,
        timeout_member_connect: row.try_get("timeout_member_connect")?,
        timeout_member_data: row.try_get("timeout_member_data")?,
        timeout_tcp_inspect: row.try_get("timeout_tcp_inspect")?,
        insert_headers: get_map(row, "insert_headers")?,
        allowed_cidrs: get_list(row, "allowed_cidrs")?,
        tls: tls_from(row)?,
        tags: get_list(row, "tags")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_opt_ts(row, "updated_at")?,
    })
}

fn listener_values(l: &Listener) -> Vec<(&'static str, Val)> {
    let mut values = vec![
        ("id", text(&l.id)),
        ("project_id", text(&l.project_id)),
        ("load_balancer_id", text(&l.load_balancer_id)),
        ("name", opt_text(&l.name)),
        ("description", opt_text(&l.description)),
        ("provisioning_status", text(l.provisioning_status.as_str())),
        ("operating_status", text(l.operating_status.as_str())),
        ("enabled", flag(l.admin_state_up)),
        ("protocol", text(l.protocol.as_str())),
        ("protocol_port", int(l.protocol_port.into())),
        ("connection_limit", int(l.connection_limit)),
        ("default_pool_id", opt_text(&l.default_pool_id)),
        ("timeout_client_data", int(l.timeout_client_data)),
        ("timeout_member_connect", int(l.timeout_member_connect)),
        ("timeout_member_data", int(l.timeout_member_data)),
        ("timeout_tcp_inspect", int(l.timeout_tcp_inspect)),
        ("insert_headers", json(&l.insert_headers)),
        ("allowed_cidrs", json(&l.allowed_cidrs)),
        ("tags", json(&l.tags)),
        ("created_at", text(fmt_ts(l.created_at))),
        ("updated_at", Val::Text(l.updated_at.map(fmt_ts))),
    ];
    values.extend(tls_values(&l.tls));
    values
}

pub(crate) fn pool_from(row: &AnyRow) -> Result<Pool> {
    let session_persistence = match get_opt_enum(row, "sp_type")? {
        Some(kind) => Some(SessionPersistence {
            kind,
            cookie_name: row.try_get("sp_cookie_name")?,
            persistence_timeout: row.try_get("sp_timeout")?,
            persistence_granularity: row.try_get("sp_granularity")?,
        }),
        None => None,
    };
    Ok(Pool {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        load_balancer_id: row.try_get("load_balancer_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        provisioning_status: parse_enum(row, "provisioning_status")?,
        operating_status: parse_enum(row, "operating_status")?,
        admin_state_up: get_bool(row, "enabled")?,
        protocol: parse_enum(row, "protocol")?,
        lb_algorithm: parse_enum(row, "lb_algorithm")?,
        session_persistence,
        tls_enabled: get_bool(row, "tls_enabled")?,
        tls: tls_from(row)?,
        tags: get_list(row, "tags")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_opt_ts(row, "updated_at")?,
    })
}

fn pool_values(p: &Pool) -> Vec<(&'static str, Val)> {
    let sp = p.session_persistence.as_ref();
    let mut values = vec![
        ("id", text(&p.id)),
        ("project_id", text(&p.project_id)),
        ("load_balancer_id", text(&p.load_balancer_id)),
        ("name", opt_text(&p.name)),
        ("description", opt_text(&p.description)),
        ("provisioning_status", text(p.provisioning_status.as_str())),
        ("operating_status", text(p.operating_status.as_str())),
        ("enabled", flag(p.admin_state_up)),
        ("protocol", text(p.protocol.as_str())),
        ("lb_algorithm", text(p.lb_algorithm.as_str())),
        (
            "sp_type",
            Val::Text(sp.map(|s| s.kind.as_str().to_string())),
        ),
        (
            "sp_cookie_name",
            Val::Text(sp.and_then(|s| s.cookie_name.clone())),
        ),
        (
            "sp_timeout",
            Val::Int(sp.and_then(|s| s.persistence_timeout)),
        ),
        (
            "sp_granularity",
            Val::Text(sp.and_then(|s| s.persistence_granularity.clone())),
        ),
        ("tls_enabled", flag(p.tls_enabled)),
        ("tags", json(&p.tags)),
        ("created_at", text(fmt_ts(p.created_at))),
        ("updated_at", Val::Text(p.updated_at.map(fmt_ts))),
    ];
    values.extend(tls_values(&p.tls));
    values
}

pub(crate) fn member_from(row: &AnyRow) -> Result<Member> {
    let weight: i64 = row.try_get("weight")?;
    Ok(Member {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        pool_id: row.try_get("pool_id")?,
        name: row.try_get("name")?,
        provisioning_status: parse_enum(row, "provisioning_status")?,
        operating_status: parse_enum(row, "operating_status")?,
        admin_state_up: get_bool(row, "enabled")?,
        address: row.try_get("address")?,
        protocol_port: get_port(row, "protocol_port")?,
        weight: u16::try_from(weight).map_err(|_| DbError::Corrupt(format!("weight {weight}")))?,
        backup: get_bool(row, "backup")?,
        subnet_id: row.try_get("subnet_id")?,
        monitor_address: row.try_get("monitor_address")?,
        monitor_port: row
            .try_get::<Option<i64>, _>("monitor_port")?
            .map(|p| u16::try_from(p).map_err(|_| DbError::Corrupt(format!("monitor_port {p}"))))
            .transpose()?,
        tags: get_list(row, "tags")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_opt_ts(row, "updated_at")?,
    })
}

fn member_values(m: &Member) -> Vec<(&'static str, Val)> {
    vec![
        ("id", text(&m.id)),
        ("project_id", text(&m.project_id)),
        ("pool_id", text(&m.pool_id)),
        ("name", opt_text(&m.name)),
        ("provisioning_status", text(m.provisioning_status.as_str())),
        ("operating_status", text(m.operating_status.as_str())),
        ("enabled", flag(m.admin_state_up)),
        ("address", text(&m.address)),
        ("protocol_port", int(m.protocol_port.into())),
        ("weight", int(m.weight.into())),
        ("backup", flag(m.backup)),
        ("subnet_id", opt_text(&m.subnet_id)),
        ("monitor_address", opt_text(&m.monitor_address)),
        ("monitor_port", Val::Int(m.monitor_port.map(i64::from))),
        ("tags", json(&m.tags)),
        ("created_at", text(fmt_ts(m.created_at))),
        ("updated_at", Val::Text(m.updated_at.map(fmt_ts))),
    ]
}

pub(crate) fn health_monitor_from(row: &AnyRow) -> Result<HealthMonitor> {
    Ok(HealthMonitor {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        pool_id: row.try_get("pool_id")?,
        name: row.try_get("name")?,
        provisioning_status: parse_enum(row, "provisioning_status")?,
        operating_status: parse_enum(row, "operating_status")?,
        admin_state_up: get_bool(row, "enabled")?,
        kind: parse_enum(row, "type")?,
        delay: row.try_get("delay")?,
        timeout: row.try_get("timeout")?,
        max_retries: row.try_get("max_retries")?,
        max_retries_down: row.try_get("max_retries_down")?,
        http_method: get_opt_enum(row, "http_method")?,
        url_path: row.try_get("url_path")?,
        expected_codes: row.try_get("expected_codes")?,
        http_version: get_opt_enum(row, "http_version")?,
        domain_name: row.try_get("domain_name")?,
        tags: get_list(row, "tags")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_opt_ts(row, "updated_at")?,
    })
}

fn health_monitor_values(h: &HealthMonitor) -> Vec<(&'static str, Val)> {
    vec![
        ("id", text(&h.id)),
        ("project_id", text(&h.project_id)),
        ("pool_id", text(&h.pool_id)),
        ("name", opt_text(&h.name)),
        ("provisioning_status", text(h.provisioning_status.as_str())),
        ("operating_status", text(h.operating_status.as_str())),
        ("enabled", flag(h.admin_state_up)),
        ("type", text(h.kind.as_str())),
        ("delay", int(h.delay)),
        ("timeout", int(h.timeout)),
        ("max_retries", int(h.max_retries)),
        ("max_retries_down", int(h.max_retries_down)),
        (
            "http_method",
            Val::Text(h.http_method.map(|m| m.as_str().into())),
        ),
        ("url_path", opt_text(&h.url_path)),
        ("expected_codes", opt_text(&h.expected_codes)),
        (
            "http_version",
            Val::Text(h.http_version.map(|v| format!("{v:.1}"))),
        ),
        ("domain_name", opt_text(&h.domain_name)),
        ("tags", json(&h.tags)),
        ("created_at", text(fmt_ts(h.created_at))),
        ("updated_at", Val::Text(h.updated_at.map(fmt_ts))),
    ]
}

pub(crate) fn l7policy_from(row: &AnyRow) -> Result<L7Policy> {
    Ok(L7Policy {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        listener_id: row.try_get("listener_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        provisioning_status: parse_enum(row, "provisioning_status")?,
        operating_status: parse_enum(row, "operating_status")?,
        admin_state_up: get_bool(row, "enabled")?,
        action: parse_enum(row, "action")?,
        position: row.try_get("position")?,
        redirect_pool_id: row.try_get("redirect_pool_id")?,
        redirect_url: row.try_get("redirect_url")?,
        redirect_prefix: row.try_get("redirect_prefix")?,
        redirect_http_code: row.try_get("redirect_http_code")?,
        tags: get_list(row, "tags")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_opt_ts(row, "updated_at")?,
    })
}

fn l7policy_values(p: &L7Policy) -> Vec<(&'static str, Val)> {
    vec![
        ("id", text(&p.id)),
        ("project_id", text(&p.project_id)),
        ("listener_id", text(&p.listener_id)),
        ("name", opt_text(&p.name)),
        ("description", opt_text(&p.description)),
        ("provisioning_status", text(p.provisioning_status.as_str())),
        ("operating_status", text(p.operating_status.as_str())),
        ("enabled", flag(p.admin_state_up)),
        ("action", text(p.action.as_str())),
        ("position", int(p.position)),
        ("redirect_pool_id", opt_text(&p.redirect_pool_id)),
        ("redirect_url", opt_text(&p.redirect_url)),
        ("redirect_prefix", opt_text(&p.redirect_prefix)),
        ("redirect_http_code", Val::Int(p.redirect_http_code)),
        ("tags", json(&p.tags)),
        ("created_at", text(fmt_ts(p.created_at))),
        ("updated_at", Val::Text(p.updated_at.map(fmt_ts))),
    ]
}

pub(crate) fn l7rule_from(row: &AnyRow) -> Result<L7Rule> {
    Ok(L7Rule {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        l7policy_id: row.try_get("l7policy_id")?,
        provisioning_status: parse_enum(row, "provisioning_status")?,
        operating_status: parse_enum(row, "operating_status")?,
        admin_state_up: get_bool(row, "enabled")?,
        kind: parse_enum(row, "type")?,
        compare_type: parse_enum(row, "compare_type")?,
        key: row.try_get("rule_key")?,
        value: row.try_get("value")?,
        invert: get_bool(row, "invert")?,
        tags: get_list(row, "tags")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_opt_ts(row, "updated_at")?,
    })
}

fn l7rule_values(r: &L7Rule) -> Vec<(&'static str, Val)> {
    vec![
        ("id", text(&r.id)),
        ("project_id", text(&r.project_id)),
        ("l7policy_id", text(&r.l7policy_id)),
        ("provisioning_status", text(r.provisioning_status.as_str())),
        ("operating_status", text(r.operating_status.as_str())),
        ("enabled", flag(r.admin_state_up)),
        ("type", text(r.kind.as_str())),
        ("compare_type", text(r.compare_type.as_str())),
        ("rule_key", opt_text(&r.key)),
        ("value", text(&r.value)),
        ("invert", flag(r.invert)),
        ("tags", json(&r.tags)),
        ("created_at", text(fmt_ts(r.created_at))),
        ("updated_at", Val::Text(r.updated_at.map(fmt_ts))),
    ]
}

pub(crate) fn amphora_from(row: &AnyRow) -> Result<Amphora> {
    Ok(Amphora {
        id: row.try_get("id")?,
        load_balancer_id: row.try_get("load_balancer_id")?,
        compute_id: row.try_get("compute_id")?,
        status: parse_enum(row, "status")?,
        role: get_opt_enum(row, "role")?,
        lb_network_ip: row.try_get("lb_network_ip")?,
        vrrp_ip: row.try_get("vrrp_ip")?,
        ha_ip: row.try_get("ha_ip")?,
        vrrp_port_id: row.try_get("vrrp_port_id")?,
        ha_port_id: row.try_get("ha_port_id")?,
        vrrp_interface: row.try_get("vrrp_interface")?,
        vrrp_id: row.try_get("vrrp_id")?,
        vrrp_priority: row.try_get("vrrp_priority")?,
        cert_expiration: get_opt_ts(row, "cert_expiration")?,
        cert_busy: get_bool(row, "cert_busy")?,
        cached_zone: row.try_get("cached_zone")?,
        image_id: row.try_get("image_id")?,
        compute_flavor: row.try_get("compute_flavor")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_opt_ts(row, "updated_at")?,
    })
}

fn amphora_values(a: &Amphora) -> Vec<(&'static str, Val)> {
    vec![
        ("id", text(&a.id)),
        ("load_balancer_id", opt_text(&a.load_balancer_id)),
        ("compute_id", opt_text(&a.compute_id)),
        ("status", text(a.status.as_str())),
        ("role", Val::Text(a.role.map(|r| r.as_str().into()))),
        ("lb_network_ip", opt_text(&a.lb_network_ip)),
        ("vrrp_ip", opt_text(&a.vrrp_ip)),
        ("ha_ip", opt_text(&a.ha_ip)),
        ("vrrp_port_id", opt_text(&a.vrrp_port_id)),
        ("ha_port_id", opt_text(&a.ha_port_id)),
        ("vrrp_interface", opt_text(&a.vrrp_interface)),
        ("vrrp_id", Val::Int(a.vrrp_id)),
        ("vrrp_priority", Val::Int(a.vrrp_priority)),
        ("cert_expiration", Val::Text(a.cert_expiration.map(fmt_ts))),
        ("cert_busy", flag(a.cert_busy)),
        ("cached_zone", opt_text(&a.cached_zone)),
        ("image_id", opt_text(&a.image_id)),
        ("compute_flavor", opt_text(&a.compute_flavor)),
        ("created_at", text(fmt_ts(a.created_at))),
        ("updated_at", Val::Text(a.updated_at.map(fmt_ts))),
    ]
}

fn port_from(row: &AnyRow) -> Result<Port> {
    Ok(Port {
        id: row.try_get("id")?,
        network_id: row.try_get("network_id")?,
        subnet_id: row.try_get("subnet_id")?,
        ip_address: row.try_get("ip_address")?,
        mac_address: row.try_get("mac_address")?,
        device_owner: row.try_get("device_owner")?,
        device_id: row.try_get("device_id")?,
        name: row.try_get("name")?,
        created_at: get_ts(row, "created_at")?,
    })
}

fn port_values(p: &Port) -> Vec<(&'static str, Val)> {
    vec![
        ("id", text(&p.id)),
        ("network_id", text(&p.network_id)),
        ("subnet_id", text(&p.subnet_id)),
        ("ip_address", text(&p.ip_address)),
        ("mac_address", text(&p.mac_address)),
        ("device_owner", text(&p.device_owner)),
        ("device_id", text(&p.device_id)),
        ("name", text(&p.name)),
        ("created_at", text(fmt_ts(p.created_at))),
    ]
}

/// The search for the first free address of a pool, as (CTE, FROM … LIMIT 1) around a
/// SELECT list of `c.address`: $1 and $2 are the pool's first and last address as
/// numbers, $3 the subnet, $4… the `excluded` addresses.
fn first_free_address(excluded: usize) -> (String, String) {
    let address = "CAST(n / 16777216 AS TEXT) || '.' || CAST(n / 65536 % 256 AS TEXT) \
                   || '.' || CAST(n / 256 % 256 AS TEXT) || '.' || CAST(n % 256 AS TEXT)";
    let not_excluded: String = (0..excluded)
        .map(|i| format!(" AND c.address <> ${}", 4 + i))
        .collect();
    (
        "WITH RECURSIVE candidate(n) AS (SELECT CAST($1 AS BIGINT) \
         UNION ALL SELECT n + 1 FROM candidate WHERE n < $2)"
            .to_string(),
        format!(
            "FROM (SELECT n, {address} AS address FROM candidate) c \
             WHERE NOT EXISTS (SELECT 1 FROM port p WHERE p.subnet_id = $3 \
             AND p.ip_address = c.address){not_excluded} ORDER BY c.n LIMIT 1"
        ),
    )
}

/// The search's statement `sql` with its binds ([`first_free_address`]).
fn bind_search<'q>(
    sql: &'q str,
    start: std::net::Ipv4Addr,
    end: std::net::Ipv4Addr,
    subnet_id: &str,
    excluded: &[std::net::Ipv4Addr],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut query = sqlx::query(sql)
        .bind(i64::from(u32::from(start)))
        .bind(i64::from(u32::from(end)))
        .bind(subnet_id.to_string());
    for ip in excluded {
        query = query.bind(ip.to_string());
    }
    query
}

/// Who asks for an address, and where.
#[derive(Debug, Clone, Copy)]
pub struct PortRequest<'a> {
    pub network_id: &'a str,
    pub subnet_id: &'a str,
    pub device_owner: &'a str,
    pub device_id: &'a str,
    pub name: &'a str,
}

/// Visible rows: DELETED ones are kept (soft delete) but never shown.
const VISIBLE: &str = "provisioning_status <> 'DELETED'";

/// Columns an update of a stored row never writes: its identity, and the statuses, each
/// with its one writer: provisioning status through `Tx::lock` (the API, into PENDING_*)
/// and `set_provisioning_status` (the worker, out of it), operating status through
/// `set_operating_status` (the health manager and the flows). An update is a patch of
/// the other fields, so an API update never overwrites a status a heartbeat just set.
const KEPT_ON_UPDATE: &[&str] = &[
    "id",
    "created_at",
    "provisioning_status",
    "operating_status",
];

impl Tx {
    /// Inserts the row, or replaces the columns of the row with the same id but
    /// [`KEPT_ON_UPDATE`].
    async fn save(&mut self, table: &str, values: Vec<(&'static str, Val)>) -> Result<()> {
        let columns: Vec<&str> = values.iter().map(|(c, _)| *c).collect();
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let updates: Vec<String> = columns
            .iter()
            .filter(|c| !KEPT_ON_UPDATE.contains(*c))
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {}",
            columns.join(", "),
            placeholders.join(", "),
            updates.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (_, value) in values {
            query = match value {
                Val::Text(t) => query.bind(t),
                Val::Int(i) => query.bind(i),
            };
        }
        query.execute(self.conn()).await.map_err(map_unique)?;
        Ok(())
    }

    pub(crate) async fn fetch(&mut self, sql: &str, binds: &[&str]) -> Result<Vec<AnyRow>> {
        let mut query = sqlx::query(sql);
        for b in binds {
            query = query.bind(*b);
        }
        Ok(query.fetch_all(self.conn()).await?)
    }

    pub async fn save_load_balancer(&mut self, lb: &LoadBalancer) -> Result<()> {
        self.save("load_balancer", load_balancer_values(lb)).await
    }
    pub async fn save_listener(&mut self, l: &Listener) -> Result<()> {
        self.save("listener", listener_values(l)).await
    }
    pub async fn save_pool(&mut self, p: &Pool) -> Result<()> {
        self.save("pool", pool_values(p)).await
    }
    pub async fn save_member(&mut self, m: &Member) -> Result<()> {
        self.save("member", member_values(m)).await
    }
    pub async fn save_health_monitor(&mut self, h: &HealthMonitor) -> Result<()> {
        self.save("health_monitor", health_monitor_values(h)).await
    }
    pub async fn save_l7policy(&mut self, p: &L7Policy) -> Result<()> {
        self.save("l7policy", l7policy_values(p)).await
    }
    pub async fn save_l7rule(&mut self, r: &L7Rule) -> Result<()> {
        self.save("l7rule", l7rule_values(r)).await
    }
    pub async fn save_amphora(&mut self, a: &Amphora) -> Result<()> {
        self.save("amphora", amphora_values(a)).await
    }

    pub async fn load_balancer(&mut self, id: &str) -> Result<Option<LoadBalancer>> {
        let sql = format!("SELECT * FROM load_balancer WHERE id = $1 AND {VISIBLE}");
        self.fetch(&sql, &[id])
            .await?
            .first()
            .map(load_balancer_from)
            .transpose()
    }
    pub async fn load_balancers(&mut self) -> Result<Vec<LoadBalancer>> {
        let sql = format!("SELECT * FROM load_balancer WHERE {VISIBLE}");
        self.fetch(&sql, &[])
            .await?
            .iter()
            .map(load_balancer_from)
            .collect()
    }

    pub async fn listener(&mut self, id: &str) -> Result<Option<Listener>> {
        let sql = format!("SELECT * FROM listener WHERE id = $1 AND {VISIBLE}");
        self.fetch(&sql, &[id])
            .await?
            .first()
            .map(listener_from)
            .transpose()
    }
    pub async fn listeners(&mut self) -> Result<Vec<Listener>> {
        let sql = format!("SELECT * FROM listener WHERE {VISIBLE}");
        self.fetch(&sql, &[])
            .await?
            .iter()
            .map(listener_from)
            .collect()
    }
    pub async fn listeners_of(&mut self, lb_id: &str) -> Result<Vec<Listener>> {
        let sql = format!(
            "SELECT * FROM listener WHERE load_balancer_id = $1 AND {VISIBLE} ORDER BY created_at, id"
        );
        self.fetch(&sql, &[lb_id])
            .await?
            .iter()
            .map(listener_from)
            .collect()
    }

    pub async fn pool(&mut self, id: &str) -> Result<Option<Pool>> {
        let sql = format!("SELECT * FROM pool WHERE id = $1 AND {VISIBLE}");
        self.fetch(&sql, &[id])
            .await?
            .first()
            .map(pool_from)
            .transpose()
    }
    pub async fn pools(&mut self) -> Result<Vec<Pool>> {
        let sql = format!("SELECT * FROM pool WHERE {VISIBLE}");
        self.fetch(&sql, &[]).await?.iter().map(pool_from).collect()
    }
    pub async fn pools_of(&mut self, lb_id: &str) -> Result<Vec<Pool>> {
        let sql = format!(
            "SELECT * FROM pool WHERE load_balancer_id = $1 AND {VISIBLE} ORDER BY created_at, id"
        );
        self.fetch(&sql, &[lb_id])
            .await?
            .iter()
            .map(pool_from)
            .collect()
    }

    pub async fn member(&mut self, id: &str) -> Result<Option<Member>> {
        let sql = format!("SELECT * FROM member WHERE id = $1 AND {VISIBLE}");
        self.fetch(&sql, &[id])
            .await?
            .first()
            .map(member_from)
            .transpose()
    }
    pub async fn members_of(&mut self, pool_id: &str) -> Result<Vec<Member>> {
        let sql = format!(
            "SELECT * FROM member WHERE pool_id = $1 AND {VISIBLE} ORDER BY created_at, id"
        );
        self.fetch(&sql, &[pool_id])
            .await?
            .iter()
            .map(member_from)
            .collect()
    }

    pub async fn health_monitor(&mut self, id: &str) -> Result<Option<HealthMonitor>> {
        let sql = format!("SELECT * FROM health_monitor WHERE id = $1 AND {VISIBLE}");
        self.fetch(&sql, &[id])
            .await?
            .first()
            .map(health_monitor_from)
            .transpose()
    }
    pub async fn health_monitors(&mut self) -> Result<Vec<HealthMonitor>> {
        let sql = format!("SELECT * FROM health_monitor WHERE {VISIBLE}");
        self.fetch(&sql, &[])
            .await?
            .iter()
            .map(health_monitor_from)
            .collect()
    }
    pub async fn health_monitor_of(&mut self, pool_id: &str) -> Result<Option<HealthMonitor>> {
        let sql = format!("SELECT * FROM health_monitor WHERE pool_id = $1 AND {VISIBLE}");
        self.fetch(&sql, &[pool_id])
            .await?
            .first()
            .map(health_monitor_from)
            .transpose()
    }

    pub async fn l7policy(&mut self, id: &str) -> Result<Option<L7Policy>> {
        let sql = format!("SELECT * FROM l7policy WHERE id = $1 AND {VISIBLE}");
        self.fetch(&sql, &[id])
            .await?
            .first()
            .map(l7policy_from)
            .transpose()
    }
    /// A listener's policies in position order.
    pub async fn l7policies_of(&mut self, listener_id: &str) -> Result<Vec<L7Policy>> {
        let sql = format!(
            "SELECT * FROM l7policy WHERE listener_id = $1 AND {VISIBLE} ORDER BY position, created_at, id"
        );
        self.fetch(&sql, &[listener_id])
            .await?
            .iter()
            .map(l7policy_from)
            .collect()
    }
    /// The policies that redirect to a pool.
    pub async fn l7policies_to_pool(&mut self, pool_id: &str) -> Result<Vec<L7Policy>> {
        let sql = format!(
            "SELECT * FROM l7policy WHERE redirect_pool_id = $1 AND {VISIBLE} ORDER BY created_at, id"
        );
        self.fetch(&sql, &[pool_id])
            .await?
            .iter()
            .map(l7policy_from)
            .collect()
    }
    /// Writes the positions 1..n in the order given, to the policies whose position
    /// differs (Octavia keeps a listener's positions dense).
    pub async fn set_l7policy_positions(&mut self, ordered_ids: &[&str]) -> Result<()> {
        for (index, id) in ordered_ids.iter().enumerate() {
            let position = index as i64 + 1;
            sqlx::query("UPDATE l7policy SET position = $1 WHERE id = $2 AND position <> $1")
                .bind(position)
                .bind(*id)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    pub async fn l7rule(&mut self, id: &str) -> Result<Option<L7Rule>> {
        let sql = format!("SELECT * FROM l7rule WHERE id = $1 AND {VISIBLE}");
        self.fetch(&sql, &[id])
            .await?
            .first()
            .map(l7rule_from)
            .transpose()
    }
    pub async fn l7rules_of(&mut self, policy_id: &str) -> Result<Vec<L7Rule>> {
        let sql = format!(
            "SELECT * FROM l7rule WHERE l7policy_id = $1 AND {VISIBLE} ORDER BY created_at, id"
        );
        self.fetch(&sql, &[policy_id])
            .await?
            .iter()
            .map(l7rule_from)
            .collect()
    }

    pub async fn amphora(&mut self, id: &str) -> Result<Option<Amphora>> {
        let sql = "SELECT * FROM amphora WHERE id = $1 AND status <> 'DELETED'";
        self.fetch(sql, &[id])
            .await?
            .first()
            .map(amphora_from)
            .transpose()
    }
    pub async fn amphorae(&mut self) -> Result<Vec<Amphora>> {
        let sql = "SELECT * FROM amphora WHERE status <> 'DELETED'";
        self.fetch(sql, &[])
            .await?
            .iter()
            .map(amphora_from)
            .collect()
    }
    pub async fn amphorae_of(&mut self, lb_id: &str) -> Result<Vec<Amphora>> {
        let sql = "SELECT * FROM amphora WHERE load_balancer_id = $1 AND status <> 'DELETED' \
                   ORDER BY created_at, id";
        self.fetch(sql, &[lb_id])
            .await?
            .iter()
            .map(amphora_from)
            .collect()
    }

    /// Takes an address; fails with `Duplicate` when the address is already taken.
    pub async fn save_port(&mut self, p: &Port) -> Result<()> {
        self.save("port", port_values(p)).await
    }
    pub async fn ports(&mut self) -> Result<Vec<Port>> {
        let sql = "SELECT * FROM port ORDER BY created_at, id";
        self.fetch(sql, &[]).await?.iter().map(port_from).collect()
    }
    pub async fn ports_of_device(&mut self, device_id: &str) -> Result<Vec<Port>> {
        let sql = "SELECT * FROM port WHERE device_id = $1 ORDER BY created_at, id";
        self.fetch(sql, &[device_id])
            .await?
            .iter()
            .map(port_from)
            .collect()
    }
    /// Takes the first address of `pool` on the subnet that is neither `excluded` nor
    /// taken, for a device; `Ok(None)` when there is none (a one-address pool asks for
    /// exactly that address). One statement finds and inserts it; the UNIQUE (subnet,
    /// address) constraint makes a racing allocation of the same address insert
    /// nothing, and the search runs again past it.
    pub async fn allocate_port(
        &mut self,
        request: PortRequest<'_>,
        pool: std::ops::RangeInclusive<std::net::Ipv4Addr>,
        excluded: &[std::net::Ipv4Addr],
    ) -> Result<Option<Port>> {
        let (start, end) = pool.into_inner();
        let first_free = first_free_address(excluded.len());
        let values_at = 4 + excluded.len();
        let insert = format!(
            "{first_free_cte} INSERT INTO port (id, network_id, subnet_id, ip_address, \
             mac_address, device_owner, device_id, name, created_at) \
             SELECT ${}, ${}, $3, c.address, '', ${}, ${}, ${}, ${} {first_free_rest} \
             ON CONFLICT (subnet_id, ip_address) DO NOTHING RETURNING ip_address",
            values_at,
            values_at + 1,
            values_at + 2,
            values_at + 3,
            values_at + 4,
            values_at + 5,
            first_free_cte = first_free.0,
            first_free_rest = first_free.1,
        );
        let search = format!("{} SELECT c.address {}", first_free.0, first_free.1);
        let port = Port {
            id: uuid::Uuid::new_v4().to_string(),
            network_id: request.network_id.to_string(),
            subnet_id: request.subnet_id.to_string(),
            ip_address: String::new(),
            mac_address: String::new(),
            device_owner: request.device_owner.to_string(),
            device_id: request.device_id.to_string(),
            name: request.name.to_string(),
            created_at: now(),
        };
        let search_binds = |sql| bind_search(sql, start, end, &port.subnet_id, excluded);
        // A racing allocation of the same address makes the insert take nothing; the
        // search then finds the next free address, or none.
        loop {
            let inserted = search_binds(&insert)
                .bind(port.id.clone())
                .bind(port.network_id.clone())
                .bind(port.device_owner.clone())
                .bind(port.device_id.clone())
                .bind(port.name.clone())
                .bind(fmt_ts(port.created_at))
                .fetch_optional(self.conn())
                .await
                .map_err(map_unique)?;
            if let Some(row) = inserted {
                let ip_address = row.try_get("ip_address")?;
                return Ok(Some(Port { ip_address, ..port }));
            }
            if search_binds(&search)
                .fetch_optional(self.conn())
                .await?
                .is_none()
            {
                return Ok(None);
            }
        }
    }

    /// Releases an address.
    pub async fn delete_port(&mut self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM port WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// The counters of a listener, summed over its amphorae.
    pub async fn listener_stats(&mut self, listener_id: &str) -> Result<ListenerStats> {
        // PostgreSQL sums BIGINTs to NUMERIC, which `sqlx::Any` cannot read: cast back.
        let sql = "SELECT CAST(COALESCE(SUM(bytes_in), 0) AS BIGINT) AS bi, \
                   CAST(COALESCE(SUM(bytes_out), 0) AS BIGINT) AS bo, \
                   CAST(COALESCE(SUM(active_connections), 0) AS BIGINT) AS ac, \
                   CAST(COALESCE(SUM(total_connections), 0) AS BIGINT) AS tc, \
                   CAST(COALESCE(SUM(request_errors), 0) AS BIGINT) AS re \
                   FROM listener_statistics WHERE listener_id = $1";
        let rows = self.fetch(sql, &[listener_id]).await?;
        let Some(row) = rows.first() else {
            return Ok(ListenerStats::default());
        };
        Ok(ListenerStats {
            bytes_in: row.try_get("bi")?,
            bytes_out: row.try_get("bo")?,
            active_connections: row.try_get("ac")?,
            total_connections: row.try_get("tc")?,
            request_errors: row.try_get("re")?,
        })
    }

    /// The counters an amphora reported, per listener (ordered by listener id).
    pub async fn amphora_listener_stats(
        &mut self,
        amphora_id: &str,
    ) -> Result<Vec<(String, ListenerStats)>> {
        let sql = "SELECT listener_id, bytes_in, bytes_out, active_connections, \
                   total_connections, request_errors \
                   FROM listener_statistics WHERE amphora_id = $1 ORDER BY listener_id";
        let rows = self.fetch(sql, &[amphora_id]).await?;
        rows.iter()
            .map(|row| {
                let stats = ListenerStats {
                    bytes_in: row.try_get("bytes_in")?,
                    bytes_out: row.try_get("bytes_out")?,
                    active_connections: row.try_get("active_connections")?,
                    total_connections: row.try_get("total_connections")?,
                    request_errors: row.try_get("request_errors")?,
                };
                Ok((row.try_get("listener_id")?, stats))
            })
            .collect()
    }

    /// Adds counter deltas reported by an amphora to a listener's statistics and sets
    /// its current connection count.
    pub async fn add_listener_stats(
        &mut self,
        listener_id: &str,
        amphora_id: &str,
        delta: ListenerStats,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO listener_statistics (listener_id, amphora_id, bytes_in, bytes_out, \
             active_connections, total_connections, request_errors, received_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (listener_id, amphora_id) DO UPDATE SET \
             bytes_in = listener_statistics.bytes_in + excluded.bytes_in, \
             bytes_out = listener_statistics.bytes_out + excluded.bytes_out, \
             active_connections = excluded.active_connections, \
             total_connections = listener_statistics.total_connections + excluded.total_connections, \
             request_errors = listener_statistics.request_errors + excluded.request_errors, \
             received_time = excluded.received_time",
        )
        .bind(listener_id)
        .bind(amphora_id)
        .bind(delta.bytes_in)
        .bind(delta.bytes_out)
        .bind(delta.active_connections)
        .bind(delta.total_connections)
        .bind(delta.request_errors)
        .bind(fmt_ts(now()))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The load balancer with all its visible children: the input of rendering.
    pub async fn load_balancer_graph(&mut self, lb_id: &str) -> Result<LoadBalancerGraph> {
        let load_balancer = self
            .load_balancer(lb_id)
            .await?
            .ok_or_else(|| DbError::NotFound {
                table: Table::LoadBalancer,
                id: lb_id.into(),
            })?;
        let listeners = self.listeners_of(lb_id).await?;
        let mut pools = Vec::new();
        for pool in self.pools_of(lb_id).await? {
            let members = self.members_of(&pool.id).await?;
            let health_monitor = self.health_monitor_of(&pool.id).await?;
            pools.push(PoolGraph {
                pool,
                members,
                health_monitor,
            });
        }
        let mut l7policies = Vec::new();
        for listener in &listeners {
            for policy in self.l7policies_of(&listener.id).await? {
                let rules = self.l7rules_of(&policy.id).await?;
                l7policies.push(L7PolicyGraph { policy, rules });
            }
        }
        let amphorae = self.amphorae_of(lb_id).await?;
        Ok(LoadBalancerGraph {
            load_balancer,
            listeners,
            pools,
            l7policies,
            amphorae,
        })
    }
}
