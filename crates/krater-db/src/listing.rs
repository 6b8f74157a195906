//! Lists in SQL: Octavia's filters, tag filters, sort keys and marker pagination over
//! one table, so that a page costs the same however large the table is. Column
//! expressions come only from a fixed allowlist per [`Collection`] (the attributes
//! Octavia takes, under their API names and aliases); every user value is bound.

use crate::rows::{
    amphora_from, health_monitor_from, l7policy_from, l7rule_from, listener_from,
    load_balancer_from, member_from, pool_from,
};
use crate::{fmt_ts, Result, Tx};
use krater_domain::*;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

/// Whose objects a caller reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every project's (an admin, or noauth without roles).
    All,
    /// One project's.
    Project(String),
}

impl Scope {
    /// Whether an object of `project_id` is within the scope.
    pub fn admits(&self, project_id: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Project(own) => own == project_id,
        }
    }
}

/// The collections that have a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    LoadBalancers,
    Listeners,
    Pools,
    Members,
    HealthMonitors,
    L7Policies,
    L7Rules,
    Amphorae,
}

/// A shown value that is the same for every object.
#[derive(Clone, Copy)]
enum Fixed {
    Text(&'static str),
    Flag(bool),
    /// Null, or a list or object: no filter matches it.
    Unmatched,
}

/// How an attribute is stored: an SQL expression over the row `o`, and how a filter
/// text compares with it.
#[derive(Clone, Copy)]
enum Attr {
    Text(&'static str),
    /// Text stored NULL when empty, shown as "".
    EmptyText(&'static str),
    /// 0/1, filtered with oslo's `bool_from_string`.
    Flag(&'static str),
    Number(&'static str),
    /// A number stored as text with one decimal (`1.1`).
    Decimal(&'static str),
    Time(&'static str),
    /// A list or map stored as JSON: sorted by its text, never matched.
    Json(&'static str),
    Fixed(Fixed),
}

const UNMATCHED: Attr = Attr::Fixed(Fixed::Unmatched);

const COMMON: &[(&str, Attr)] = &[
    ("id", Attr::Text("o.id")),
    ("name", Attr::EmptyText("o.name")),
    ("project_id", Attr::Text("o.project_id")),
    ("provisioning_status", Attr::Text("o.provisioning_status")),
    ("operating_status", Attr::Text("o.operating_status")),
    ("admin_state_up", Attr::Flag("o.enabled")),
    ("enabled", Attr::Flag("o.enabled")),
    ("created_at", Attr::Time("o.created_at")),
    ("updated_at", Attr::Time("o.updated_at")),
];

const LOAD_BALANCER: &[(&str, Attr)] = &[
    ("description", Attr::EmptyText("o.description")),
    ("vip_address", Attr::Text("o.vip_address")),
    ("vip_port_id", Attr::Text("o.vip_port_id")),
    ("vip_subnet_id", Attr::Text("o.vip_subnet_id")),
    ("vip_network_id", Attr::Text("o.vip_network_id")),
    ("vip_qos_policy_id", Attr::Text("o.vip_qos_policy_id")),
    ("vip_vnic_type", Attr::Fixed(Fixed::Text("normal"))),
    ("vip_sg_ids", UNMATCHED),
    ("provider", Attr::Text("o.provider")),
    ("flavor_id", Attr::Text("o.flavor_id")),
    ("availability_zone", Attr::Text("o.availability_zone")),
    ("topology", Attr::Text("o.topology")),
    // krater has no server groups: that filter matches nothing.
    ("server_group_id", UNMATCHED),
];

const LISTENER: &[(&str, Attr)] = &[
    ("description", Attr::EmptyText("o.description")),
    ("protocol", Attr::Text("o.protocol")),
    ("protocol_port", Attr::Number("o.protocol_port")),
    ("connection_limit", Attr::Number("o.connection_limit")),
    ("default_tls_container_ref", UNMATCHED),
    ("default_pool_id", Attr::Text("o.default_pool_id")),
    ("insert_headers", Attr::Json("o.insert_headers")),
    ("timeout_client_data", Attr::Number("o.timeout_client_data")),
    (
        "timeout_member_connect",
        Attr::Number("o.timeout_member_connect"),
    ),
    ("timeout_member_data", Attr::Number("o.timeout_member_data")),
    ("timeout_tcp_inspect", Attr::Number("o.timeout_tcp_inspect")),
    ("client_ca_tls_container_ref", UNMATCHED),
    ("client_authentication", Attr::Fixed(Fixed::Text("NONE"))),
    ("client_crl_container_ref", UNMATCHED),
    ("allowed_cidrs", Attr::Json("o.allowed_cidrs")),
    ("tls_ciphers", Attr::Text("o.tls_ciphers")),
    ("tls_versions", Attr::Json("o.tls_versions")),
    ("alpn_protocols", Attr::Json("o.alpn_protocols")),
    ("hsts_max_age", UNMATCHED),
    ("hsts_include_subdomains", Attr::Fixed(Fixed::Flag(false))),
    ("hsts_preload", Attr::Fixed(Fixed::Flag(false))),
    ("loadbalancer_id", Attr::Text("o.load_balancer_id")),
    ("load_balancer_id", Attr::Text("o.load_balancer_id")),
    ("tls_certificate_id", UNMATCHED),
    ("client_ca_tls_certificate_id", UNMATCHED),
    ("client_crl_container_id", UNMATCHED),
    // krater's listeners have no peer port: that filter matches nothing.
    ("peer_port", UNMATCHED),
];

const POOL: &[(&str, Attr)] = &[
    ("description", Attr::EmptyText("o.description")),
    ("protocol", Attr::Text("o.protocol")),
    ("lb_algorithm", Attr::Text("o.lb_algorithm")),
    (
        "healthmonitor_id",
        Attr::Text(
            "(SELECT h.id FROM health_monitor h WHERE h.pool_id = o.id \
             AND h.provisioning_status <> 'DELETED')",
        ),
    ),
    ("tls_container_ref", UNMATCHED),
    ("ca_tls_container_ref", UNMATCHED),
    ("crl_container_ref", UNMATCHED),
    ("tls_enabled", Attr::Flag("o.tls_enabled")),
    ("tls_ciphers", Attr::Text("o.tls_ciphers")),
    ("tls_versions", Attr::Json("o.tls_versions")),
    ("alpn_protocols", Attr::Json("o.alpn_protocols")),
    ("loadbalancer_id", Attr::Text("o.load_balancer_id")),
    ("load_balancer_id", Attr::Text("o.load_balancer_id")),
    ("tls_certificate_id", UNMATCHED),
    ("ca_tls_certificate_id", UNMATCHED),
    ("crl_container_id", UNMATCHED),
];

const MEMBER: &[(&str, Attr)] = &[
    ("address", Attr::Text("o.address")),
    ("ip_address", Attr::Text("o.address")),
    ("protocol_port", Attr::Number("o.protocol_port")),
    ("weight", Attr::Number("o.weight")),
    ("backup", Attr::Flag("o.backup")),
    ("subnet_id", Attr::Text("o.subnet_id")),
    ("monitor_address", Attr::Text("o.monitor_address")),
    ("monitor_port", Attr::Number("o.monitor_port")),
    ("vnic_type", Attr::Fixed(Fixed::Text("normal"))),
    ("pool_id", Attr::Text("o.pool_id")),
];

const HEALTH_MONITOR: &[(&str, Attr)] = &[
    ("type", Attr::Text("o.type")),
    ("delay", Attr::Number("o.delay")),
    ("timeout", Attr::Number("o.timeout")),
    ("max_retries", Attr::Number("o.max_retries")),
    ("rise_threshold", Attr::Number("o.max_retries")),
    ("max_retries_down", Attr::Number("o.max_retries_down")),
    ("fall_threshold", Attr::Number("o.max_retries_down")),
    ("http_method", Attr::Text("o.http_method")),
    ("url_path", Attr::Text("o.url_path")),
    ("expected_codes", Attr::Text("o.expected_codes")),
    ("http_version", Attr::Decimal("o.http_version")),
    ("domain_name", Attr::Text("o.domain_name")),
    ("pool_id", Attr::Text("o.pool_id")),
];

const L7POLICY: &[(&str, Attr)] = &[
    ("description", Attr::EmptyText("o.description")),
    ("action", Attr::Text("o.action")),
    ("listener_id", Attr::Text("o.listener_id")),
    ("redirect_pool_id", Attr::Text("o.redirect_pool_id")),
    ("redirect_url", Attr::Text("o.redirect_url")),
    ("redirect_prefix", Attr::Text("o.redirect_prefix")),
    ("redirect_http_code", Attr::Number("o.redirect_http_code")),
    ("position", Attr::Number("o.position")),
];

const L7RULE: &[(&str, Attr)] = &[
    ("type", Attr::Text("o.type")),
    ("compare_type", Attr::Text("o.compare_type")),
    ("key", Attr::Text("o.rule_key")),
    ("value", Attr::Text("o.value")),
    ("invert", Attr::Flag("o.invert")),
    ("l7policy_id", Attr::Text("o.l7policy_id")),
];

/// The project of an amphora is its load balancer's.
const AMPHORA_PROJECT: &str =
    "(SELECT l.project_id FROM load_balancer l WHERE l.id = o.load_balancer_id)";

const AMPHORA: &[(&str, Attr)] = &[
    ("id", Attr::Text("o.id")),
    ("loadbalancer_id", Attr::Text("o.load_balancer_id")),
    ("load_balancer_id", Attr::Text("o.load_balancer_id")),
    ("compute_id", Attr::Text("o.compute_id")),
    ("lb_network_ip", Attr::Text("o.lb_network_ip")),
    ("vrrp_ip", Attr::Text("o.vrrp_ip")),
    ("ha_ip", Attr::Text("o.ha_ip")),
    ("vrrp_port_id", Attr::Text("o.vrrp_port_id")),
    ("ha_port_id", Attr::Text("o.ha_port_id")),
    ("cert_expiration", Attr::Time("o.cert_expiration")),
    ("cert_busy", Attr::Flag("o.cert_busy")),
    ("role", Attr::Text("o.role")),
    ("status", Attr::Text("o.status")),
    ("vrrp_interface", Attr::Text("o.vrrp_interface")),
    ("vrrp_id", Attr::Number("o.vrrp_id")),
    ("vrrp_priority", Attr::Number("o.vrrp_priority")),
    ("cached_zone", Attr::Text("o.cached_zone")),
    ("created_at", Attr::Time("o.created_at")),
    ("updated_at", Attr::Time("o.updated_at")),
    ("image_id", Attr::Text("o.image_id")),
    ("compute_flavor", Attr::Text("o.compute_flavor")),
    ("project_id", Attr::Text(AMPHORA_PROJECT)),
];

impl Collection {
    fn table(self) -> &'static str {
        match self {
            Collection::LoadBalancers => "load_balancer",
            Collection::Listeners => "listener",
            Collection::Pools => "pool",
            Collection::Members => "member",
            Collection::HealthMonitors => "health_monitor",
            Collection::L7Policies => "l7policy",
            Collection::L7Rules => "l7rule",
            Collection::Amphorae => "amphora",
        }
    }

    fn own(self) -> &'static [(&'static str, Attr)] {
        match self {
            Collection::LoadBalancers => LOAD_BALANCER,
            Collection::Listeners => LISTENER,
            Collection::Pools => POOL,
            Collection::Members => MEMBER,
            Collection::HealthMonitors => HEALTH_MONITOR,
            Collection::L7Policies => L7POLICY,
            Collection::L7Rules => L7RULE,
            Collection::Amphorae => AMPHORA,
        }
    }

    fn attr(self, key: &str) -> Option<Attr> {
        let common = if self == Collection::Amphorae {
            &[][..]
        } else {
            COMMON
        };
        common
            .iter()
            // Rules have no name.
            .filter(|(name, _)| !(self == Collection::L7Rules && *name == "name"))
            .chain(self.own())
            .find(|(name, _)| *name == key)
            .map(|(_, attr)| *attr)
    }

    /// Whether the collection can be filtered and sorted by `key`.
    pub fn knows(self, key: &str) -> bool {
        self.attr(key).is_some()
    }

    fn visible(self) -> &'static str {
        match self {
            Collection::Amphorae => "o.status <> 'DELETED'",
            _ => "o.provisioning_status <> 'DELETED'",
        }
    }

    fn project(self) -> &'static str {
        match self {
            Collection::Amphorae => AMPHORA_PROJECT,
            _ => "o.project_id",
        }
    }

    fn tags(self) -> &'static str {
        match self {
            Collection::Amphorae => "CAST('[]' AS TEXT)",
            _ => "o.tags",
        }
    }
}

/// Octavia's tag filters, each a list of tags.
#[derive(Debug, Clone, Default)]
pub struct TagFilters {
    /// `tags`: every one of them.
    pub all: Vec<String>,
    /// `tags-any`: at least one.
    pub any: Vec<String>,
    /// `not-tags`: not every one of them.
    pub not_all: Vec<String>,
    /// `not-tags-any`: none of them.
    pub not_any: Vec<String>,
}

/// One page of a list, as asked for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// (attribute, text) pairs, attributes the collection [`Collection::knows`].
    pub filters: Vec<(String, String)>,
    pub tags: TagFilters,
    /// (attribute, ascending); `created_at` and `id` complete the order.
    pub sort: Vec<(String, bool)>,
    /// The id the page follows (precedes, with `page_reverse`).
    pub marker: Option<String>,
    pub page_reverse: bool,
    /// `None`: every object.
    pub limit: Option<usize>,
}

/// A value bound into the statement.
#[derive(Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// A statement under construction: text and binds, numbered in order.
#[derive(Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut query = sqlx::query(&self.text);
        for bind in &self.binds {
            query = match bind {
                Bind::Text(t) => query.bind(t.clone()),
                Bind::Int(i) => query.bind(*i),
            };
        }
        query
    }
}

/// oslo's `bool_from_string`, as Octavia reads a filter on a boolean.
fn truthy(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "1" | "t" | "true" | "on" | "y" | "yes"
    )
}

/// The condition that attribute `attr` equals the filter `text` as Octavia compares the
/// shown value (numbers by value, booleans as read, timestamps to the second).
fn filter_condition(sql: &mut Sql, attr: Attr, text: &str) -> String {
    const NONE: &str = "1 = 0";
    match attr {
        Attr::Text(expr) => format!("{expr} = {}", sql.bind(Bind::Text(text.into()))),
        Attr::EmptyText(expr) if text.is_empty() => format!("({expr} IS NULL OR {expr} = '')"),
        Attr::EmptyText(expr) => format!("{expr} = {}", sql.bind(Bind::Text(text.into()))),
        Attr::Flag(expr) => format!("{expr} = {}", sql.bind(Bind::Int(truthy(text).into()))),
        Attr::Number(expr) => match text.trim().parse::<f64>() {
            Ok(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                // Whole and well inside i64, so the cast is exact.
                format!("{expr} = {}", sql.bind(Bind::Int(n as i64)))
            }
            _ => NONE.into(),
        },
        Attr::Decimal(expr) => match text.trim().parse::<f64>() {
            Ok(n) if (n * 10.0).fract() == 0.0 => {
                format!("{expr} = {}", sql.bind(Bind::Text(format!("{n:.1}"))))
            }
            _ => NONE.into(),
        },
        Attr::Time(expr) => {
            match chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
                Ok(second) => {
                    let from = sql.bind(Bind::Text(fmt_ts(second)));
                    let to = sql.bind(Bind::Text(fmt_ts(second + chrono::Duration::seconds(1))));
                    format!("({expr} >= {from} AND {expr} < {to})")
                }
                Err(_) => NONE.into(),
            }
        }
        Attr::Json(_) | Attr::Fixed(Fixed::Unmatched) => NONE.into(),
        Attr::Fixed(Fixed::Text(shown)) if shown == text => "1 = 1".into(),
        Attr::Fixed(Fixed::Flag(shown)) if shown == truthy(text) => "1 = 1".into(),
        Attr::Fixed(_) => NONE.into(),
    }
}

/// The expression an attribute sorts by; `None` when it is the same for every object.
fn sort_expr(attr: Attr) -> Option<&'static str> {
    match attr {
        Attr::Text(e)
        | Attr::EmptyText(e)
        | Attr::Flag(e)
        | Attr::Number(e)
        | Attr::Decimal(e)
        | Attr::Time(e)
        | Attr::Json(e) => Some(e),
        Attr::Fixed(_) => None,
    }
}

/// Whether the tags column `tags` (a compact JSON list) holds `tag`: the list's text,
/// brackets turned into commas, contains `,"<tag>",` (a quote after a comma always
/// starts an element). `replace` compares case-sensitively on both backends.
fn has_tag(sql: &mut Sql, tags: &str, tag: &str) -> String {
    let element = format!(",{},", serde_json::Value::from(tag));
    let bound = sql.bind(Bind::Text(element));
    let commas = format!("(',' || substr({tags}, 2, length({tags}) - 2) || ',')");
    format!("replace({commas}, {bound}, '') <> {commas}")
}

/// `a` comes after `b` in the direction of one sort key (nulls first ascending).
fn after(a: &str, b: &str, ascending: bool) -> String {
    if ascending {
        format!("(({b} IS NULL AND {a} IS NOT NULL) OR {a} > {b})")
    } else {
        format!("(({a} IS NULL AND {b} IS NOT NULL) OR {a} < {b})")
    }
}

fn same(a: &str, b: &str) -> String {
    format!("({a} = {b} OR ({a} IS NULL AND {b} IS NULL))")
}

/// The keys every list is ordered by last (after the asked ones); never NULL.
const NOT_NULL_KEYS: [&str; 2] = ["o.created_at", "o.id"];

impl Tx {
    /// The rows of one page of `collection` in `scope` (only `parent`'s members for
    /// members, its rules for rules), in the query's order. `Err(BadMarker)` when the marker is not an
    /// object of the collection in scope.
    async fn page(
        &mut self,
        collection: Collection,
        scope: &Scope,
        parent: Option<&str>,
        query: &ListQuery,
    ) -> Result<Vec<AnyRow>> {
        let table = collection.table();
        let mut sql = Sql::default();
        let mut scoped = vec![collection.visible().to_string()];
        if let Scope::Project(project) = scope {
            let bound = sql.bind(Bind::Text(project.clone()));
            scoped.push(format!("{} = {bound}", collection.project()));
        }
        if let Some(parent) = parent {
            let column = match collection {
                Collection::L7Rules => "o.l7policy_id",
                _ => "o.pool_id",
            };
            let bound = sql.bind(Bind::Text(parent.into()));
            scoped.push(format!("{column} = {bound}"));
        }

        let mut keys: Vec<(&'static str, bool)> = Vec::new();
        for (key, ascending) in &query.sort {
            if let Some(expr) = collection.attr(key).and_then(sort_expr) {
                keys.push((expr, *ascending));
            }
        }
        for default in NOT_NULL_KEYS {
            if !keys.iter().any(|(expr, _)| *expr == default) {
                keys.push((default, true));
            }
        }

        let mut conditions = scoped.clone();
        if let Some(marker) = &query.marker {
            let marker_bound = sql.bind(Bind::Text(marker.clone()));
            let marker_row = format!(
                "FROM {table} o WHERE o.id = {marker_bound} AND {}",
                scoped.join(" AND ")
            );
            let exists = Sql {
                text: format!("SELECT 1 AS found {marker_row}"),
                binds: sql.binds.clone(),
            };
            if exists.query().fetch_optional(self.conn()).await?.is_none() {
                return Err(crate::DbError::BadMarker(marker.clone()));
            }
            let mut alternatives = Vec::new();
            for (i, (expr, ascending)) in keys.iter().enumerate() {
                let marker_value = format!("(SELECT {expr} {marker_row})");
                let mut parts: Vec<String> = keys[..i]
                    .iter()
                    .map(|(e, _)| same(e, &format!("(SELECT {e} {marker_row})")))
                    .collect();
                parts.push(if query.page_reverse {
                    after(&marker_value, expr, *ascending)
                } else {
                    after(expr, &marker_value, *ascending)
                });
                alternatives.push(format!("({})", parts.join(" AND ")));
            }
            conditions.push(format!("({})", alternatives.join(" OR ")));
        }
        for (key, text) in &query.filters {
            let condition = match collection.attr(key) {
                Some(attr) => filter_condition(&mut sql, attr, text),
                None => "1 = 0".into(),
            };
            conditions.push(condition);
        }
        let tags = &query.tags;
        let column = collection.tags();
        let any_of = |sql: &mut Sql, list: &[String], joiner: &str| -> Option<String> {
            (!list.is_empty()).then(|| {
                let parts: Vec<String> = list.iter().map(|t| has_tag(sql, column, t)).collect();
                format!("({})", parts.join(joiner))
            })
        };
        if let Some(c) = any_of(&mut sql, &tags.all, " AND ") {
            conditions.push(c);
        }
        if let Some(c) = any_of(&mut sql, &tags.any, " OR ") {
            conditions.push(c);
        }
        if let Some(c) = any_of(&mut sql, &tags.not_all, " AND ") {
            conditions.push(format!("NOT {c}"));
        }
        if let Some(c) = any_of(&mut sql, &tags.not_any, " OR ") {
            conditions.push(format!("NOT {c}"));
        }

        // NULLs sort first ascending on both backends (SQLite's order). The default keys
        // are never NULL and carry no NULLS clause, so that PostgreSQL walks their index
        // instead of sorting the whole table for one page.
        let order: Vec<String> = keys
            .iter()
            .map(
                |(expr, ascending)| match (ascending, NOT_NULL_KEYS.contains(expr)) {
                    (true, true) => format!("{expr} ASC"),
                    (false, true) => format!("{expr} DESC"),
                    (true, false) => format!("{expr} ASC NULLS FIRST"),
                    (false, false) => format!("{expr} DESC NULLS LAST"),
                },
            )
            .collect();
        sql.text = format!(
            "SELECT o.* FROM {table} o WHERE {} ORDER BY {}",
            conditions.join(" AND "),
            order.join(", ")
        );
        if let Some(limit) = query.limit {
            let bound = sql.bind(Bind::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
            sql.text.push_str(&format!(" LIMIT {bound}"));
        }
        Ok(sql.query().fetch_all(self.conn()).await?)
    }

    pub async fn list_load_balancers(
        &mut self,
        scope: &Scope,
        query: &ListQuery,
    ) -> Result<Vec<LoadBalancer>> {
        let rows = self.page(Collection::LoadBalancers, scope, None, query);
        rows.await?.iter().map(load_balancer_from).collect()
    }

    pub async fn list_listeners(
        &mut self,
        scope: &Scope,
        query: &ListQuery,
    ) -> Result<Vec<Listener>> {
        let rows = self.page(Collection::Listeners, scope, None, query);
        rows.await?.iter().map(listener_from).collect()
    }

    pub async fn list_pools(&mut self, scope: &Scope, query: &ListQuery) -> Result<Vec<Pool>> {
        let rows = self.page(Collection::Pools, scope, None, query);
        rows.await?.iter().map(pool_from).collect()
    }

    pub async fn list_members(
        &mut self,
        scope: &Scope,
        pool_id: &str,
        query: &ListQuery,
    ) -> Result<Vec<Member>> {
        let rows = self.page(Collection::Members, scope, Some(pool_id), query);
        rows.await?.iter().map(member_from).collect()
    }

    pub async fn list_health_monitors(
        &mut self,
        scope: &Scope,
        query: &ListQuery,
    ) -> Result<Vec<HealthMonitor>> {
        let rows = self.page(Collection::HealthMonitors, scope, None, query);
        rows.await?.iter().map(health_monitor_from).collect()
    }

    pub async fn list_l7policies(
        &mut self,
        scope: &Scope,
        query: &ListQuery,
    ) -> Result<Vec<L7Policy>> {
        let rows = self.page(Collection::L7Policies, scope, None, query);
        rows.await?.iter().map(l7policy_from).collect()
    }

    pub async fn list_l7rules(
        &mut self,
        scope: &Scope,
        policy_id: &str,
        query: &ListQuery,
    ) -> Result<Vec<L7Rule>> {
        let rows = self.page(Collection::L7Rules, scope, Some(policy_id), query);
        rows.await?.iter().map(l7rule_from).collect()
    }

    pub async fn list_amphorae(
        &mut self,
        scope: &Scope,
        query: &ListQuery,
    ) -> Result<Vec<Amphora>> {
        let rows = self.page(Collection::Amphorae, scope, None, query);
        rows.await?.iter().map(amphora_from).collect()
    }

    /// (parent id, child id) of the visible children `relation` links to `parents`,
    /// oldest first (policies in position order): the references a view shows, by indexed queries.
    pub async fn related_ids(
        &mut self,
        relation: Relation,
        parents: &[String],
    ) -> Result<Vec<(String, String)>> {
        let (table, column) = relation.sql();
        let mut pairs = Vec::new();
        // Well under the bound-parameter limit of either backend.
        for chunk in parents.chunks(500) {
            let mut sql = Sql::default();
            let placeholders: Vec<String> = chunk
                .iter()
                .map(|id| sql.bind(Bind::Text(id.clone())))
                .collect();
            sql.text = format!(
                "SELECT {column} AS parent, id FROM {table} WHERE {column} IN ({}) \
                 AND provisioning_status <> 'DELETED' ORDER BY {}created_at, id",
                placeholders.join(", "),
                relation.order()
            );
            for row in sql.query().fetch_all(self.conn()).await? {
                pairs.push((row.try_get("parent")?, row.try_get("id")?));
            }
        }
        Ok(pairs)
    }
}

/// How children refer to their parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    ListenersOfLoadBalancer,
    PoolsOfLoadBalancer,
    /// Listeners whose default pool is the parent.
    ListenersOfDefaultPool,
    MembersOfPool,
    MonitorOfPool,
    /// L7 policies of the parent listener.
    PoliciesOfListener,
    RulesOfPolicy,
}

impl Relation {
    /// The keys children are listed by before their age.
    fn order(self) -> &'static str {
        match self {
            Relation::PoliciesOfListener => "position, ",
            _ => "",
        }
    }

    fn sql(self) -> (&'static str, &'static str) {
        match self {
            Relation::ListenersOfLoadBalancer => ("listener", "load_balancer_id"),
            Relation::PoolsOfLoadBalancer => ("pool", "load_balancer_id"),
            Relation::ListenersOfDefaultPool => ("listener", "default_pool_id"),
            Relation::MembersOfPool => ("member", "pool_id"),
            Relation::MonitorOfPool => ("health_monitor", "pool_id"),
            Relation::PoliciesOfListener => ("l7policy", "listener_id"),
            Relation::RulesOfPolicy => ("l7rule", "l7policy_id"),
        }
    }
}
