//! Octavia's list conventions: the query string read into a [`ListQuery`] (filters
//! and sort keys on the attributes Octavia takes for each collection, tags, marker,
//! limit), which `krater-db` runs in SQL, and the page rendered with
//! `<collection>_links` as Octavia's `PaginationHelper` makes them, and `fields`.

use crate::error::{ApiError, ApiResult};
use axum::http::StatusCode;
use krater_db::{ListQuery, TagFilters};
use serde_json::{json, Value};

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

/// A collection: its name in bodies and links, and its attributes in `krater-db`.
pub struct Collection {
    pub name: &'static str,
    pub attributes: krater_db::Collection,
}

pub const LOAD_BALANCERS: Collection = Collection {
    name: "loadbalancers",
    attributes: krater_db::Collection::LoadBalancers,
};
pub const LISTENERS: Collection = Collection {
    name: "listeners",
    attributes: krater_db::Collection::Listeners,
};
pub const POOLS: Collection = Collection {
    name: "pools",
    attributes: krater_db::Collection::Pools,
};
pub const MEMBERS: Collection = Collection {
    name: "members",
    attributes: krater_db::Collection::Members,
};
pub const HEALTH_MONITORS: Collection = Collection {
    name: "healthmonitors",
    attributes: krater_db::Collection::HealthMonitors,
};
pub const L7POLICIES: Collection = Collection {
    name: "l7policies",
    attributes: krater_db::Collection::L7Policies,
};
pub const L7RULES: Collection = Collection {
    name: "rules",
    attributes: krater_db::Collection::L7Rules,
};
pub const AMPHORAE: Collection = Collection {
    name: "amphorae",
    attributes: krater_db::Collection::Amphorae,
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

/// Whether a view needs `attribute` (every one when no `fields` are given).
pub fn wants(fields: &[String], attribute: &str) -> bool {
    fields.is_empty() || fields.iter().any(|f| f == attribute)
}

fn tag_set<'a>(query: &'a Query, key: &'a str) -> Vec<String> {
    query
        .all(key)
        .flat_map(|value| value.split(','))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
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

/// Reads the list query of `collection`: unknown and repeated filters, unknown sort
/// keys and bad directions or limits are refused as Octavia refuses them.
pub fn list_query(
    collection: &Collection,
    query: &Query,
    max_limit: usize,
) -> ApiResult<ListQuery> {
    let limit = page_limit(query, max_limit)?;
    let sort = sort_keys(query)?;
    let filters: Vec<(String, String)> = query
        .pairs
        .iter()
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
        .cloned()
        .collect();
    let repeated = |i: usize, key: &str| filters[..i].iter().any(|(k, _)| k == key);
    if filters
        .iter()
        .enumerate()
        .any(|(i, (key, _))| !collection.attributes.knows(key) || repeated(i, key))
    {
        return Err(ApiError::bad_request(
            "One or more arguments are either duplicate or invalid",
        ));
    }
    if let Some((key, _)) = sort
        .iter()
        .find(|(key, _)| !collection.attributes.knows(key))
    {
        return Err(ApiError::bad_request(format!(
            "Supplied sort key '{key}' is not valid."
        )));
    }
    Ok(ListQuery {
        filters,
        tags: TagFilters {
            all: tag_set(query, "tags"),
            any: tag_set(query, "tags-any"),
            not_all: tag_set(query, "not-tags"),
            not_any: tag_set(query, "not-tags-any"),
        },
        sort,
        marker: query.first("marker").map(str::to_string),
        page_reverse: query.first("page_reverse") == Some("True"),
        limit,
    })
}

/// Renders `{"<collection>": […], "<collection>_links": […]}` for a page (objects with
/// an `id`, in order), as Octavia's `PaginationHelper`: `previous` after a marker and
/// `next` after a full page, carrying the limit, `sort` and `sort_key`; `fields`
/// applied. `base` is the URL of the collection, without query.
pub fn list_body(
    collection: &Collection,
    page: Vec<Value>,
    list: &ListQuery,
    query: &Query,
    base: &str,
) -> Value {
    let mut links = Vec::new();
    let mut link_query = match list.limit {
        Some(limit) => format!("limit={limit}"),
        None => "limit=None".to_string(),
    };
    for key in ["sort", "sort_key"] {
        if let Some(value) = query.first(key).filter(|v| !v.is_empty()) {
            link_query.push_str(&format!("&{key}={}", encode(value)));
        }
    }
    let id_of = |o: &Value| {
        o.get("id")
            .and_then(Value::as_str)
            .map(encode)
            .unwrap_or_default()
    };
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        if list.marker.is_some() {
            links.push(json!({
                "href": format!("{base}?{link_query}&marker={}&page_reverse=True", id_of(first)),
                "rel": "previous"
            }));
        }
        if list.limit.is_none_or(|limit| page.len() >= limit) {
            links.push(json!({
                "href": format!("{base}?{link_query}&marker={}", id_of(last)),
                "rel": "next"
            }));
        }
    }
    let fields = query.fields();
    let items: Vec<Value> = page
        .into_iter()
        .map(|o| select_fields(o, &fields))
        .collect();
    json!({ collection.name: items, format!("{}_links", collection.name): links })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(q: &str) -> ApiResult<ListQuery> {
        list_query(&LOAD_BALANCERS, &Query::parse(Some(q)), 1000)
    }

    fn page(q: &str, ids: &[&str]) -> Value {
        let objects = ids
            .iter()
            .map(|id| json!({"id": id, "name": "n"}))
            .collect();
        let query = Query::parse(Some(q));
        let list = list_query(&LOAD_BALANCERS, &query, 1000).unwrap();
        list_body(&LOAD_BALANCERS, objects, &list, &query, "http://x/lbs")
    }

    fn links(v: &Value) -> Vec<String> {
        v["loadbalancers_links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                format!(
                    "{} {}",
                    l["rel"].as_str().unwrap(),
                    l["href"].as_str().unwrap()
                )
            })
            .collect()
    }

    #[test]
    fn queries_are_read_and_refused_as_octavia() {
        let list = read(
            "limit=2&marker=m&page_reverse=True&sort=name:desc,id&tags=a,b&not-tags-any=c&name=x",
        )
        .unwrap();
        assert_eq!(list.limit, Some(2));
        assert_eq!(list.marker.as_deref(), Some("m"));
        assert!(list.page_reverse);
        assert_eq!(list.sort, [("name".into(), false), ("id".into(), true)]);
        assert_eq!(list.tags.all, ["a", "b"]);
        assert_eq!(list.tags.not_any, ["c"]);
        assert_eq!(list.filters, [("name".to_string(), "x".to_string())]);
        assert!(!read("page_reverse=true").unwrap().page_reverse);
        for limit in ["0", "-1", "infinite"] {
            assert_eq!(read(&format!("limit={limit}")).unwrap().limit, None);
        }
        assert_eq!(read("limit=5000").unwrap().limit, Some(1000));
        assert!(read("limit=x").unwrap_err().pecan);
        assert_eq!(
            read("sort=bogus").unwrap_err().message,
            "Supplied sort key 'bogus' is not valid."
        );
        assert!(read("sort=name:up").unwrap_err().pecan);
        for bad in ["bogus=1", "name=a&name=b", "listeners=x"] {
            assert_eq!(
                read(bad).unwrap_err().message,
                "One or more arguments are either duplicate or invalid"
            );
        }
    }

    #[test]
    fn links_and_fields_follow_octavia() {
        assert_eq!(
            links(&page("limit=2", &["a", "b"])),
            ["next http://x/lbs?limit=2&marker=b"]
        );
        assert_eq!(
            links(&page("limit=2&marker=z&sort=name:asc", &["a"])),
            ["previous http://x/lbs?limit=2&sort=name:asc&marker=a&page_reverse=True"]
        );
        assert_eq!(
            links(&page("limit=infinite", &["a"])),
            ["next http://x/lbs?limit=None&marker=a"]
        );
        assert!(links(&page("", &["a"])).is_empty());
        assert_eq!(
            page("fields=id", &["a"])["loadbalancers"][0],
            json!({"id": "a"})
        );
    }
}
