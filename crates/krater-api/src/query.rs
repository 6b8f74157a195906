//! Octavia's list conventions over rendered objects: filters, tags, sorting,
//! pagination with `<collection>_links`, and `fields` selection.
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
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

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

/// True when a stored value equals the text of a filter.
fn matches_filter(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(s) => s == wanted,
        Value::Bool(b) => match wanted.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "t" | "on" => *b,
            "false" | "0" | "no" | "f" | "off" => !*b,
            _ => false,
        },
        Value::Number(n) => n.to_string() == wanted,
        Value::Null => false,
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

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

/// Sort keys with their direction (true = ascending).
fn sort_keys(query: &Query, attributes: &[String]) -> ApiResult<Vec<(String, bool)>> {
    let mut keys: Vec<(String, bool)> = Vec::new();
    let parse_dir = |d: &str| match d.to_ascii_lowercase().as_str() {
        "asc" => Ok(true),
        "desc" => Ok(false),
        _ => Err(ApiError::pecan(
            StatusCode::BAD_REQUEST,
            format!("Supplied sort direction '{d}' is not valid."),
        )),
    };
    if let Some(sort) = query.first("sort") {
        for part in sort.split(',').filter(|p| !p.is_empty()) {
            let (key, dir) = part.split_once(':').unwrap_or((part, "asc"));
            keys.push((key.trim().to_string(), parse_dir(dir.trim())?));
        }
    } else if let Some(sort_key) = query.first("sort_key") {
        let dirs: Vec<&str> = query
            .first("sort_dir")
            .map(|d| d.split(',').collect())
            .unwrap_or_default();
        for (i, key) in sort_key.split(',').filter(|k| !k.is_empty()).enumerate() {
            let dir = dirs.get(i).copied().unwrap_or("asc");
            keys.push((key.trim().to_string(), parse_dir(dir)?));
        }
    } else if let Some(dir) = query.first("sort_dir") {
        parse_dir(dir)?;
    }
    for (key, _) in &keys {
        if !attributes.contains(key) {
            return Err(ApiError::bad_request(format!(
                "Supplied sort key '{key}' is not valid."
            )));
        }
    }
    for default in ["created_at", "id"] {
        if !keys.iter().any(|(k, _)| k == default) {
            keys.push((default.to_string(), true));
        }
    }
    Ok(keys)
}

/// Applies the query to `objects` and renders `{"<collection>": […], "<collection>_links": […]}`.
/// `base` is the URL of the collection, without query.
pub fn list_response(
    collection: &str,
    objects: Vec<Value>,
    query: &Query,
    base: &str,
    max_limit: usize,
) -> ApiResult<Value> {
    let attributes: Vec<String> = objects
        .first()
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter(|(_, v)| is_scalar(v))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();

    let limit = match query.first("limit") {
        None => max_limit,
        Some("infinite") => max_limit,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n < 1 => max_limit,
            Ok(n) => usize::try_from(n).unwrap_or(max_limit).min(max_limit),
            Err(_) => {
                return Err(ApiError::pecan(
                    StatusCode::BAD_REQUEST,
                    format!("Supplied pagination limit '{text}' is not valid."),
                ))
            }
        },
    };
    let keys = sort_keys(query, &attributes)?;
    let page_reverse = query
        .first("page_reverse")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));

    // Filters on top-level attributes; unknown keys are refused.
    let filters: Vec<(&str, &str)> = query
        .pairs
        .iter()
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if !objects.is_empty() {
        for (key, _) in &filters {
            if !attributes.iter().any(|a| a == key) {
                return Err(ApiError::bad_request(
                    "One or more arguments are either duplicate or invalid",
                ));
            }
        }
    }
    let tags_all: Vec<&str> = query.all("tags").flat_map(tag_set).collect();
    let tags_any: Vec<&str> = query.all("tags-any").flat_map(tag_set).collect();
    let not_tags: Vec<&str> = query.all("not-tags").flat_map(tag_set).collect();
    let not_tags_any: Vec<&str> = query.all("not-tags-any").flat_map(tag_set).collect();

    let mut selected: Vec<Map<String, Value>> = objects
        .into_iter()
        .filter_map(|o| match o {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .filter(|o| {
            filters
                .iter()
                .all(|(k, v)| o.get(*k).is_some_and(|value| matches_filter(value, v)))
        })
        .filter(|o| {
            let tags = tags_of(o);
            (tags_all.is_empty() || tags_all.iter().all(|t| tags.contains(t)))
                && (tags_any.is_empty() || tags_any.iter().any(|t| tags.contains(t)))
                && (not_tags.is_empty() || !not_tags.iter().all(|t| tags.contains(t)))
                && (not_tags_any.is_empty() || !not_tags_any.iter().any(|t| tags.contains(t)))
        })
        .collect();

    selected.sort_by(|a, b| {
        for (key, ascending) in &keys {
            let ord = compare(
                a.get(key).unwrap_or(&Value::Null),
                b.get(key).unwrap_or(&Value::Null),
            );
            if ord != Ordering::Equal {
                return if *ascending { ord } else { ord.reverse() };
            }
        }
        Ordering::Equal
    });

    let marker = query.first("marker");
    let page: Vec<Map<String, Value>> = match marker {
        Some(marker) => {
            let position = selected
                .iter()
                .position(|o| o.get("id").and_then(Value::as_str) == Some(marker))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Supplied pagination marker '{marker}' is not valid."
                    ))
                })?;
            if page_reverse {
                let start = position.saturating_sub(limit);
                selected[start..position].to_vec()
            } else {
                selected
                    .into_iter()
                    .skip(position + 1)
                    .take(limit)
                    .collect()
            }
        }
        None => selected.into_iter().take(limit).collect(),
    };

    let mut links = Vec::new();
    let mut link_query = format!("limit={limit}");
    if let Some(sort) = query.first("sort") {
        link_query.push_str(&format!("&sort={}", encode(sort)));
    }
    if let Some(sort_key) = query.first("sort_key") {
        link_query.push_str(&format!("&sort_key={}", encode(sort_key)));
    }
    let id_of = |o: &Map<String, Value>| o.get("id").and_then(Value::as_str).map(encode);
    if page.len() == limit {
        if let Some(last) = page.last().and_then(id_of) {
            links
                .push(json!({"href": format!("{base}?{link_query}&marker={last}"), "rel": "next"}));
        }
    }
    if marker.is_some() {
        if let Some(first) = page.first().and_then(id_of) {
            links.push(json!({
                "href": format!("{base}?{link_query}&marker={first}&page_reverse=True"),
                "rel": "previous"
            }));
        }
    }

    let fields = query.fields();
    let items: Vec<Value> = page
        .into_iter()
        .map(|o| select_fields(Value::Object(o), &fields))
        .collect();
    Ok(json!({ collection: items, format!("{collection}_links"): links }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> Vec<Value> {
        (0..5)
            .map(|i| {
                json!({"id": format!("id-{i}"), "name": format!("n{}", 4 - i),
                       "created_at": format!("2026-01-01T00:00:0{i}"),
                       "admin_state_up": i % 2 == 0, "tags": if i < 2 { json!(["a", "b"]) } else { json!(["b"]) }})
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

    fn run(q: &str) -> ApiResult<Value> {
        list_response(
            "things",
            objects(),
            &Query::parse(Some(q)),
            "http://x/things",
            1000,
        )
    }

    #[test]
    fn pages_follow_markers() {
        let page = run("limit=2").unwrap();
        assert_eq!(ids(&page), ["id-0", "id-1"]);
        assert_eq!(
            page["things_links"][0]["href"],
            "http://x/things?limit=2&marker=id-1"
        );
        let page = run("limit=2&marker=id-1").unwrap();
        assert_eq!(ids(&page), ["id-2", "id-3"]);
        assert_eq!(page["things_links"][1]["rel"], "previous");
        let page = run("limit=2&marker=id-2&page_reverse=True").unwrap();
        assert_eq!(ids(&page), ["id-0", "id-1"]);
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
        assert_eq!(ids(&run("name=n4").unwrap()), ["id-0"]);
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
    }
}
