//! Octavia's list conventions over rendered objects: filters and sort keys on the
//! attributes Octavia takes for each collection ([`Collection`]), tags, pagination
//! with `<collection>_links` as Octavia's `PaginationHelper` makes them, and `fields`.
//!
//! Lists are filtered and paged here, on the rendered JSON, so that every resource
//! gets exactly the same behaviour from one implementation.

use crate::error::{ApiError, ApiResult};
use axum::http::StatusCode;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;

/// The query string, keys in order, repeats kept.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses `a=1&b=2&a=3`.
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        Self { pairs }
    }

    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn first<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        self.all(key).next()
    }

    /// The `fields` selection, if any (repeated `fields=a&fields=b`).
    pub fn fields(&self) -> Vec<String> {
        self.all("fields").map(str::to_string).collect()
    }
}

/// Percent-decoding of a query component (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b',' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The query keys that are not filters (tags are filtered separately).
const RESERVED: &[&str] = &[
    "limit",
    "marker",
    "page_reverse",
    "sort",
    "sort_key",
    "sort_dir",
    "fields",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
];

/// A collection and the attributes it can be filtered and sorted by: Octavia's data
/// model attributes, under their own names and under their API names.
pub struct Collection {
    pub name: &'static str,
    /// Whether the attributes every resource but the amphora has apply ([`COMMON`]).
    pub common: bool,
    /// Other attributes shown under the same name.
    pub shown: &'static [&'static str],
    /// Other names Octavia takes, with the JSON pointer of their value.
    pub aliases: &'static [(&'static str, &'static str)],
    /// Attributes the handler adds to each object for filtering only; never shown.
    pub hidden: &'static [&'static str],
}

impl Collection {
    /// The value of attribute `key` of `object` (null when unset); `None` when
    /// `key` is not one of the collection's attributes.
    fn value<'a>(&self, object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
        static NULL: Value = Value::Null;
        if self.shows(key) || self.hidden.contains(&key) {
            return Some(object.get(key).unwrap_or(&NULL));
        }
        let (_, pointer) = self.aliases.iter().find(|(k, _)| *k == key)?;
        let mut parts = pointer.split('/').skip(1);
        let mut current = parts.next().and_then(|first| object.get(first));
        for part in parts {
            current = match current {
                Some(Value::Array(items)) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
                Some(Value::Object(map)) => map.get(part),
                _ => None,
            };
        }
        Some(current.unwrap_or(&NULL))
    }

    fn shows(&self, key: &str) -> bool {
        (self.common && COMMON.contains(&key)) || self.shown.contains(&key)
    }

    fn knows(&self, key: &str) -> bool {
        self.shows(key) || self.hidden.contains(&key) || self.aliases.iter().any(|(k, _)| *k == key)
    }
}

/// Every collection but the amphorae shows Octavia's `enabled` as `admin_state_up`.
const ENABLED: (&str, &str) = ("enabled", "/admin_state_up");
/// What every collection but the amphorae shows.
const COMMON: [&str; 8] = [
    "id",
    "name",
    "project_id",
    "provisioning_status",
    "operating_status",
    "admin_state_up",
    "created_at",
    "updated_at",
];

pub const LOAD_BALANCERS: Collection = Collection {
    name: "loadbalancers",
    common: true,
    shown: &[
        "description",
        "vip_address",
        "vip_port_id",
        "vip_subnet_id",
        "vip_network_id",
        "vip_qos_policy_id",
        "vip_vnic_type",
        "vip_sg_ids",
        "provider",
        "flavor_id",
        "availability_zone",
    ],
    aliases: &[ENABLED],
    // krater has no server groups: that filter matches nothing.
    hidden: &["topology", "server_group_id"],
};

pub const LISTENERS: Collection = Collection {
    name: "listeners",
    common: true,
    shown: &[
        "description",
        "protocol",
        "protocol_port",
        "connection_limit",
        "default_tls_container_ref",
        "default_pool_id",
        "insert_headers",
        "timeout_client_data",
        "timeout_member_connect",
        "timeout_member_data",
        "timeout_tcp_inspect",
        "client_ca_tls_container_ref",
        "client_authentication",
        "client_crl_container_ref",
        "allowed_cidrs",
        "tls_ciphers",
        "tls_versions",
        "alpn_protocols",
        "hsts_max_age",
        "hsts_include_subdomains",
        "hsts_preload",
    ],
    aliases: &[
        ENABLED,
        ("loadbalancer_id", "/loadbalancers/0/id"),
        ("load_balancer_id", "/loadbalancers/0/id"),
        ("tls_certificate_id", "/default_tls_container_ref"),
        (
            "client_ca_tls_certificate_id",
            "/client_ca_tls_container_ref",
        ),
        ("client_crl_container_id", "/client_crl_container_ref"),
    ],
    // krater's listeners have no peer port: that filter matches nothing.
    hidden: &["peer_port"],
};

pub const POOLS: Collection = Collection {
    name: "pools",
    common: true,
    shown: &[
        "description",
        "protocol",
        "lb_algorithm",
        "healthmonitor_id",
        "tls_container_ref",
        "ca_tls_container_ref",
        "crl_container_ref",
        "tls_enabled",
        "tls_ciphers",
        "tls_versions",
        "alpn_protocols",
    ],
    aliases: &[
        ENABLED,
        ("loadbalancer_id", "/loadbalancers/0/id"),
        ("load_balancer_id", "/loadbalancers/0/id"),
        ("tls_certificate_id", "/tls_container_ref"),
        ("ca_tls_certificate_id", "/ca_tls_container_ref"),
        ("crl_container_id", "/crl_container_ref"),
    ],
    hidden: &[],
};

pub const MEMBERS: Collection = Collection {
    name: "members",
    common: true,
    shown: &[
        "address",
        "protocol_port",
        "weight",
        "backup",
        "subnet_id",
        "monitor_address",
        "monitor_port",
        "vnic_type",
    ],
    aliases: &[ENABLED, ("ip_address", "/address")],
    hidden: &["pool_id"],
};

pub const HEALTH_MONITORS: Collection = Collection {
    name: "healthmonitors",
    common: true,
    shown: &[
        "type",
        "delay",
        "timeout",
        "max_retries",
        "max_retries_down",
        "http_method",
        "url_path",
        "expected_codes",
        "http_version",
        "domain_name",
    ],
    aliases: &[
        ENABLED,
        ("pool_id", "/pools/0/id"),
        ("rise_threshold", "/max_retries"),
        ("fall_threshold", "/max_retries_down"),
    ],
    hidden: &[],
};

pub const AMPHORAE: Collection = Collection {
    name: "amphorae",
    common: false,
    shown: &[
        "id",
        "loadbalancer_id",
        "compute_id",
        "lb_network_ip",
        "vrrp_ip",
        "ha_ip",
        "vrrp_port_id",
        "ha_port_id",
        "cert_expiration",
        "cert_busy",
        "role",
        "status",
        "vrrp_interface",
        "vrrp_id",
        "vrrp_priority",
        "cached_zone",
        "created_at",
        "updated_at",
        "image_id",
        "compute_flavor",
    ],
    aliases: &[("load_balancer_id", "/loadbalancer_id")],
    // The project of the amphora's load balancer.
    hidden: &["project_id"],
};

/// Keeps only the requested attributes of one object.
pub fn select_fields(object: Value, fields: &[String]) -> Value {
    if fields.is_empty() {
        return object;
    }
    match object {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| fields.iter().any(|f| f == k))
                .collect(),
        ),
        other => other,
    }
}

/// Adds attributes that a collection filters on but does not show.
pub fn with_hidden(mut object: Value, hidden: &[(&str, Value)]) -> Value {
    if let Value::Object(map) = &mut object {
        for (key, value) in hidden {
            map.insert((*key).to_string(), value.clone());
        }
    }
    object
}

fn tag_set(value: &str) -> Vec<&str> {
    value.split(',').filter(|t| !t.is_empty()).collect()
}

fn tags_of(object: &Map<String, Value>) -> Vec<&str> {
    object
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| tags.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// True when a stored value equals the text of a filter: booleans as oslo's
/// `bool_from_string` reads the text, numbers by value, as the database compares them.
fn matches_filter(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(s) => s == wanted,
        Value::Bool(b) => {
            let truthy = matches!(
                wanted.trim().to_ascii_lowercase().as_str(),
                "1" | "t" | "true" | "on" | "y" | "yes"
            );
            *b == truthy
        }
        Value::Number(n) => wanted
            .trim()
            .parse::<f64>()
            .is_ok_and(|w| n.as_f64() == Some(w)),
        _ => false,
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn parse_dir(d: &str) -> ApiResult<bool> {
    match d.to_ascii_lowercase().as_str() {
        "asc" => Ok(true),
        "desc" => Ok(false),
        _ => Err(ApiError::pecan(
            StatusCode::BAD_REQUEST,
            format!("Supplied sort direction '{d}' is not valid."),
        )),
    }
}

/// Sort keys with their direction (true = ascending), as given; directions checked.
fn sort_keys(query: &Query) -> ApiResult<Vec<(String, bool)>> {
    let mut keys: Vec<(String, bool)> = Vec::new();
    if let Some(sort) = query.first("sort").filter(|s| !s.is_empty()) {
        for part in sort.split(',') {
            let (key, dir) = part.split_once(':').unwrap_or((part, "asc"));
            keys.push((key.to_string(), parse_dir(dir)?));
        }
    } else if let Some(sort_key) = query.first("sort_key").filter(|s| !s.is_empty()) {
        let dirs: Vec<&str> = query
            .first("sort_dir")
            .filter(|d| !d.is_empty())
            .map(|d| d.split(',').collect())
            .unwrap_or_default();
        for (i, key) in sort_key.split(',').enumerate() {
            let dir = dirs.get(i).copied().unwrap_or("asc");
            keys.push((key.to_string(), parse_dir(dir)?));
        }
    }
    Ok(keys)
}

/// The page size: `None` is unlimited (`infinite`, or below 1).
fn page_limit(query: &Query, max_limit: usize) -> ApiResult<Option<usize>> {
    let Some(text) = query.first("limit") else {
        return Ok(Some(max_limit));
    };
    if text == "infinite" {
        return Ok(None);
    }
    match text.trim().parse::<i64>() {
        Ok(n) if n < 1 => Ok(None),
        Ok(n) => Ok(Some(usize::try_from(n).unwrap_or(max_limit).min(max_limit))),
        Err(_) => Err(ApiError::pecan(
            StatusCode::BAD_REQUEST,
            format!("Supplied pagination limit '{text}' is not valid."),
        )),
    }
}

/// Applies the query to `objects` and renders `{"<collection>": […], "<collection>_links": […]}`,
/// as Octavia's `PaginationHelper`: the page follows the marker in the sort order (with
/// `page_reverse=True`, the first items before it, still in that order); `previous`
/// and `next` links carry the limit, `sort` and `sort_key`.
/// `base` is the URL of the collection, without query.
pub fn list_response(
    collection: &Collection,
    objects: Vec<Value>,
    query: &Query,
    base: &str,
    max_limit: usize,
) -> ApiResult<Value> {
    let limit = page_limit(query, max_limit)?;
    let mut keys = sort_keys(query)?;

    // Filters on Octavia's attributes; unknown and repeated keys are refused.
    let filters: Vec<(&str, &str)> = query
        .pairs
        .iter()
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let repeated = |i: usize, key: &str| filters[..i].iter().any(|(k, _)| *k == key);
    if filters
        .iter()
        .enumerate()
        .any(|(i, (key, _))| !collection.knows(key) || repeated(i, key))
    {
        return Err(ApiError::bad_request(
            "One or more arguments are either duplicate or invalid",
        ));
    }
    if let Some((key, _)) = keys.iter().find(|(key, _)| !collection.knows(key)) {
        return Err(ApiError::bad_request(format!(
            "Supplied sort key '{key}' is not valid."
        )));
    }
    for default in ["created_at", "id"] {
        if !keys.iter().any(|(k, _)| k == default) {
            keys.push((default.to_string(), true));
        }
    }
    let order = |a: &Map<String, Value>, b: &Map<String, Value>| {
        for (key, ascending) in &keys {
            let null = Value::Null;
            let ord = compare(
                collection.value(a, key).unwrap_or(&null),
                collection.value(b, key).unwrap_or(&null),
            );
            if ord != Ordering::Equal {
                return if *ascending { ord } else { ord.reverse() };
            }
        }
        Ordering::Equal
    };

    let objects: Vec<Map<String, Value>> = objects
        .into_iter()
        .filter_map(|o| match o {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .collect();
    let marker = match query.first("marker") {
        Some(id) => Some(
            objects
                .iter()
                .find(|o| o.get("id").and_then(Value::as_str) == Some(id))
                .cloned()
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Supplied pagination marker '{id}' is not valid."
                    ))
                })?,
        ),
        None => None,
    };
    let page_reverse = query.first("page_reverse") == Some("True");

    let tags_all: Vec<&str> = query.all("tags").flat_map(tag_set).collect();
    let tags_any: Vec<&str> = query.all("tags-any").flat_map(tag_set).collect();
    let not_tags: Vec<&str> = query.all("not-tags").flat_map(tag_set).collect();
    let not_tags_any: Vec<&str> = query.all("not-tags-any").flat_map(tag_set).collect();

    let mut page: Vec<Map<String, Value>> = objects
        .into_iter()
        .filter(|o| {
            filters.iter().all(|(k, v)| {
                collection
                    .value(o, k)
                    .is_some_and(|value| matches_filter(value, v))
            })
        })
        .filter(|o| {
            let tags = tags_of(o);
            (tags_all.is_empty() || tags_all.iter().all(|t| tags.contains(t)))
                && (tags_any.is_empty() || tags_any.iter().any(|t| tags.contains(t)))
                && (not_tags.is_empty() || !not_tags.iter().all(|t| tags.contains(t)))
                && (not_tags_any.is_empty() || !not_tags_any.iter().any(|t| tags.contains(t)))
        })
        .filter(|o| match &marker {
            None => true,
            Some(m) if page_reverse => order(o, m) == Ordering::Less,
            Some(m) => order(o, m) == Ordering::Greater,
        })
        .collect();
    page.sort_by(|a, b| order(a, b));
    if let Some(limit) = limit {
        page.truncate(limit);
    }

    let mut links = Vec::new();
    let mut link_query = match limit {
        Some(limit) => format!("limit={limit}"),
        None => "limit=None".to_string(),
    };
    for key in ["sort", "sort_key"] {
        if let Some(value) = query.first(key).filter(|v| !v.is_empty()) {
            link_query.push_str(&format!("&{key}={}", encode(value)));
        }
    }
    let id_of = |o: &Map<String, Value>| {
        o.get("id")
            .and_then(Value::as_str)
            .map(encode)
            .unwrap_or_default()
    };
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        if marker.is_some() {
            links.push(json!({
                "href": format!("{base}?{link_query}&marker={}&page_reverse=True", id_of(first)),
                "rel": "previous"
            }));
        }
        if limit.is_none_or(|limit| page.len() >= limit) {
            links.push(json!({
                "href": format!("{base}?{link_query}&marker={}", id_of(last)),
                "rel": "next"
            }));
        }
    }

    let fields = query.fields();
    let items: Vec<Value> = page
        .into_iter()
        .map(|mut o| {
            for key in collection.hidden {
                o.remove(*key);
            }
            select_fields(Value::Object(o), &fields)
        })
        .collect();
    Ok(json!({ collection.name: items, format!("{}_links", collection.name): links }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> Vec<Value> {
        (0..5)
            .map(|i| {
                json!({"id": format!("id-{i}"), "name": format!("n{}", 4 - i),
                       "created_at": format!("2026-01-01T00:00:0{i}"),
                       "admin_state_up": i % 2 == 0, "secret": format!("s{i}"), "tags": if i < 2 { json!(["a", "b"]) } else { json!(["b"]) }})
            })
            .collect()
    }

    fn ids(v: &Value) -> Vec<String> {
        v["things"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect()
    }

    const THINGS: Collection = Collection {
        name: "things",
        common: false,
        shown: &["id", "name", "created_at", "admin_state_up"],
        aliases: &[("enabled", "/admin_state_up")],
        hidden: &["secret"],
    };

    fn run(q: &str) -> ApiResult<Value> {
        list_response(
            &THINGS,
            objects(),
            &Query::parse(Some(q)),
            "http://x/things",
            1000,
        )
    }

    fn links(v: &Value) -> Vec<(String, String)> {
        v["things_links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["rel"].as_str().unwrap().into(),
                    l["href"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    fn link(rel: &str, query: &str) -> (String, String) {
        (rel.into(), format!("http://x/things?{query}"))
    }

    #[test]
    fn pages_follow_markers_as_octavia() {
        let page = run("limit=2").unwrap();
        assert_eq!(ids(&page), ["id-0", "id-1"]);
        assert_eq!(links(&page), [link("next", "limit=2&marker=id-1")]);
        let page = run("limit=2&marker=id-1").unwrap();
        assert_eq!(ids(&page), ["id-2", "id-3"]);
        assert_eq!(
            links(&page),
            [
                link("previous", "limit=2&marker=id-2&page_reverse=True"),
                link("next", "limit=2&marker=id-3")
            ]
        );
        // Backwards: the first items before the marker, in the sort order.
        let page = run("limit=2&marker=id-3&page_reverse=True").unwrap();
        assert_eq!(ids(&page), ["id-0", "id-1"]);
        // Only `True` reverses.
        assert_eq!(
            ids(&run("limit=2&marker=id-3&page_reverse=true").unwrap()),
            ["id-4"]
        );
        // No limit: every item, and always a next link.
        for limit in ["0", "-1", "infinite"] {
            let page = run(&format!("limit={limit}&sort=name:desc")).unwrap();
            assert_eq!(ids(&page).len(), 5);
            assert_eq!(
                links(&page),
                [link("next", "limit=None&sort=name:desc&marker=id-4")]
            );
        }
        assert!(links(&run("").unwrap()).is_empty());
        // A marker that the filters leave out still places the page.
        assert_eq!(
            ids(&run("marker=id-1&enabled=true").unwrap()),
            ["id-2", "id-4"]
        );
        assert_eq!(
            run("marker=zzz").unwrap_err().message,
            "Supplied pagination marker 'zzz' is not valid."
        );
        assert!(run("limit=x").unwrap_err().pecan);
    }

    #[test]
    fn sorts_filters_and_fields() {
        assert_eq!(
            ids(&run("sort=name:asc").unwrap()),
            ["id-4", "id-3", "id-2", "id-1", "id-0"]
        );
        assert_eq!(ids(&run("sort_key=name&sort_dir=desc").unwrap())[0], "id-0");
        assert_eq!(
            run("sort=bogus").unwrap_err().message,
            "Supplied sort key 'bogus' is not valid."
        );
        assert_eq!(ids(&run("admin_state_up=false").unwrap()), ["id-1", "id-3"]);
        assert_eq!(ids(&run("admin_state_up=maybe").unwrap()), ["id-1", "id-3"]);
        assert_eq!(
            ids(&run("enabled=1&sort=name").unwrap()),
            ["id-4", "id-2", "id-0"]
        );
        assert_eq!(ids(&run("secret=s3").unwrap()), ["id-3"]);
        assert_eq!(ids(&run("name=n4").unwrap()), ["id-0"]);
        assert_eq!(
            run("name=n4&name=n3").unwrap_err().message,
            "One or more arguments are either duplicate or invalid"
        );
        assert_eq!(
            run("bogus=1").unwrap_err().message,
            "One or more arguments are either duplicate or invalid"
        );
        assert_eq!(ids(&run("tags=a,b").unwrap()), ["id-0", "id-1"]);
        assert_eq!(ids(&run("not-tags=a").unwrap()), ["id-2", "id-3", "id-4"]);
        assert_eq!(
            ids(&run("tags-any=a&tags-any=zz").unwrap()),
            ["id-0", "id-1"]
        );
        assert!(ids(&run("not-tags-any=b").unwrap()).is_empty());
        let page = run("fields=id&fields=name&limit=1").unwrap();
        assert_eq!(page["things"][0], json!({"id": "id-0", "name": "n4"}));
        assert!(run("").unwrap()["things"][0].get("secret").is_none());
    }
}
