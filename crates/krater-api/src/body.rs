//! Request bodies, parsed and type-checked the way Octavia's WSME types do it, with
//! the same messages: `Invalid input for field/attribute <f>. Value: '<v>'. <reason>`.
//!
//! A field is [`Field::Absent`], [`Field::Null`] or a value: PUT tells "leave as is"
//! from "reset to the default" by that difference.

use crate::error::{ApiError, ApiResult};
use serde_json::{Map, Value};
use std::net::IpAddr;
use std::str::FromStr;

/// A field of a request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<T> {
    Absent,
    Null,
    Value(T),
}

impl<T> Field<T> {
    /// The value, or None when absent or null.
    pub fn value(self) -> Option<T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }
    /// Applies `f` to a value, keeps Absent and Null.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Value(v) => Field::Value(f(v)),
        }
    }
}

/// The wrapped object of a request body, e.g. `{"listener": {...}}`.
pub struct Input {
    fields: Map<String, Value>,
    /// The whole body, for the messages that quote it.
    whole: Value,
    /// WSME's argument name, e.g. `listener_`.
    pyarg: &'static str,
}

/// Python's `repr` of a JSON value, as Octavia's messages show values.
pub fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            if s.contains('\'') && !s.contains('"') {
                format!("\"{s}\"")
            } else {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
            }
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::String(k.clone())), py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// How WSME prints a value inside `Value: '…'`: strings bare, the rest as Python does.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// `Invalid input for field/attribute <field>. Value: '<value>'. <reason>`
pub fn invalid(field: &str, value: &str, reason: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Invalid input for field/attribute {field}. Value: '{value}'. {reason}"
    ))
}

fn unknown_attributes(argument: &str, mut keys: Vec<&String>) -> ApiError {
    keys.sort();
    let list: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    let noun = if list.len() == 1 {
        "attribute"
    } else {
        "attributes"
    };
    ApiError::bad_request(format!(
        "Unknown {noun} for argument {argument}: {}",
        list.join(", ")
    ))
}

/// Parses a JSON body. Octavia answers every parse failure with the same message.
pub fn parse_json(bytes: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(bytes)
        .map_err(|_| ApiError::bad_request("Request is not in valid JSON format"))
}

impl Input {
    /// Unwraps `{"<wrapper>": {...}}`, refusing unknown keys at both levels.
    pub fn parse(
        bytes: &[u8],
        wrapper: &str,
        pyarg: &'static str,
        allowed: &[&str],
    ) -> ApiResult<Self> {
        // No body at all: the controller's argument is missing, as pecan says.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(format!(
                "Missing argument: \"{pyarg}\""
            )));
        }
        let whole = parse_json(bytes)?;
        let Value::Object(top) = &whole else {
            return Err(ApiError::bad_request("Request is not in valid JSON format"));
        };
        let unknown: Vec<&String> = top.keys().filter(|k| *k != wrapper).collect();
        if !unknown.is_empty() {
            return Err(unknown_attributes(pyarg, unknown));
        }
        let fields = match top.get(wrapper) {
            Some(Value::Object(inner)) => inner.clone(),
            other => {
                return Err(invalid(
                    pyarg,
                    &other.map(shown).unwrap_or_else(|| "None".into()),
                    "Mandatory field missing.",
                ))
            }
        };
        let unknown: Vec<&String> = fields
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .collect();
        if !unknown.is_empty() {
            return Err(unknown_attributes(&format!("{pyarg}.{wrapper}"), unknown));
        }
        Ok(Self {
            fields,
            whole,
            pyarg,
        })
    }

    /// An input made from an object inside another body (a member of a batch update).
    pub fn nested(fields: Map<String, Value>, whole: Value, pyarg: &'static str) -> Self {
        Self {
            fields,
            whole,
            pyarg,
        }
    }

    /// An object nested in this input (an entry of `listeners` in a fully populated
    /// load balancer, say). Unknown keys are refused naming `argument`, WSME's dotted
    /// path of the nested type; conversion errors quote the outer body, as WSME does.
    pub fn element(&self, value: &Value, argument: &str, allowed: &[&str]) -> ApiResult<Input> {
        let Value::Object(fields) = value else {
            return Err(
                self.whole_body_error(format!("Value should be a dictionary: {}", shown(value)))
            );
        };
        let unknown: Vec<&String> = fields
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .collect();
        if !unknown.is_empty() {
            return Err(unknown_attributes(argument, unknown));
        }
        Ok(Input {
            fields: fields.clone(),
            whole: self.whole.clone(),
            pyarg: self.pyarg,
        })
    }

    /// The entries of a list field (absent or null: none); a value that is not a list
    /// is refused as WSME refuses it.
    pub fn list(&self, name: &str) -> ApiResult<Vec<Value>> {
        match self.raw(name) {
            Field::Value(Value::Array(items)) => Ok(items.clone()),
            Field::Value(other) => {
                Err(self.whole_body_error(format!("Value not a valid list: {}", shown(other))))
            }
            Field::Null | Field::Absent => Ok(vec![]),
        }
    }

    /// The error WSME gives when a conversion fails: it names the controller's
    /// argument (`listener_`, `load_balancer`) and quotes the whole body.
    fn whole_body_error(&self, reason: String) -> ApiError {
        invalid(self.pyarg, &py_repr(&self.whole), &reason)
    }

    fn raw(&self, name: &str) -> Field<&Value> {
        match self.fields.get(name) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(v) => Field::Value(v),
        }
    }

    /// Fails with "Mandatory field missing." unless the field has a value.
    pub fn required<T>(&self, name: &str, field: Field<T>) -> ApiResult<T> {
        match field {
            Field::Value(v) => Ok(v),
            _ => Err(invalid(name, "None", "Mandatory field missing.")),
        }
    }

    /// A string of at most `max_len` characters.
    pub fn string(&self, name: &str, max_len: usize) -> ApiResult<Field<String>> {
        match self.raw(name) {
            Field::Value(Value::String(s)) => {
                if s.chars().count() > max_len {
                    return Err(invalid(
                        name,
                        s,
                        &format!("Value should have a maximum character requirement of {max_len}"),
                    ));
                }
                Ok(Field::Value(s.clone()))
            }
            Field::Value(other) => Err(invalid(name, &shown(other), "Value should be string")),
            Field::Null => Ok(Field::Null),
            Field::Absent => Ok(Field::Absent),
        }
    }

    /// A UUID in its canonical textual form (any case, dashes optional as WSME allows).
    pub fn uuid(&self, name: &str) -> ApiResult<Field<String>> {
        // WSME's UUID type refuses a number or a list with its own message.
        if let Field::Value(other) = self.raw(name) {
            if !other.is_string() {
                return Err(invalid(name, &shown(other), "Value should be UUID format"));
            }
        }
        let field = self.string(name, usize::MAX)?;
        if let Field::Value(s) = &field {
            match uuid::Uuid::parse_str(s) {
                Ok(u) => return Ok(Field::Value(u.hyphenated().to_string())),
                Err(_) => return Err(invalid(name, s, "Value should be UUID format")),
            }
        }
        Ok(field)
    }

    /// An integer in `min..=max`; numeric strings and floats are converted as Python's
    /// `int()` does.
    pub fn int(&self, name: &str, min: Option<i64>, max: Option<i64>) -> ApiResult<Field<i64>> {
        let value = match self.raw(name) {
            Field::Value(Value::Number(n)) => match n.as_i64() {
                Some(i) => i,
                None => match n.as_f64() {
                    Some(f) if f.is_finite() && f.abs() < 9.2e18 => f.trunc() as i64,
                    _ => {
                        return Err(self.whole_body_error(format!("invalid literal for int(): {n}")))
                    }
                },
            },
            Field::Value(Value::String(s)) => s.trim().parse::<i64>().map_err(|_| {
                self.whole_body_error(format!("invalid literal for int() with base 10: '{s}'"))
            })?,
            Field::Value(Value::Bool(b)) => i64::from(*b),
            Field::Value(other) => {
                return Err(self.whole_body_error(format!(
                "int() argument must be a string, a bytes-like object or a real number, not '{}'",
                py_type(other)
            )))
            }
            Field::Null => return Ok(Field::Null),
            Field::Absent => return Ok(Field::Absent),
        };
        if let Some(min) = min {
            if value < min {
                return Err(invalid(
                    name,
                    &value.to_string(),
                    &format!("Value should be greater or equal to {min}"),
                ));
            }
        }
        if let Some(max) = max {
            if value > max {
                return Err(invalid(
                    name,
                    &value.to_string(),
                    &format!("Value should be lower or equal to {max}"),
                ));
            }
        }
        Ok(Field::Value(value))
    }

    /// A port number 1–65535.
    pub fn port(&self, name: &str) -> ApiResult<Field<u16>> {
        Ok(self
            .int(name, Some(1), Some(65535))?
            .map(|p| u16::try_from(p).unwrap_or(u16::MAX)))
    }

    /// A boolean; WSME also takes 0/1 and the strings true/false, yes/no, on/off, 1/0, t/f, y/n.
    pub fn boolean(&self, name: &str) -> ApiResult<Field<bool>> {
        match self.raw(name) {
            Field::Value(Value::Bool(b)) => Ok(Field::Value(*b)),
            Field::Value(Value::Number(n)) if n.as_f64().is_some() => {
                Ok(Field::Value(n.as_f64() != Some(0.0)))
            }
            Field::Value(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" | "t" | "y" => Ok(Field::Value(true)),
                "false" | "no" | "off" | "0" | "f" | "n" => Ok(Field::Value(false)),
                _ => Err(self.whole_body_error(format!("Value not an unambiguous boolean: {s}"))),
            },
            Field::Value(other) => Err(self.whole_body_error(format!(
                "Value not an unambiguous boolean: {}",
                shown(other)
            ))),
            Field::Null => Ok(Field::Null),
            Field::Absent => Ok(Field::Absent),
        }
    }

    /// One of an enum's values, spelled exactly.
    pub fn enumeration<T: FromStr<Err = krater_domain::UnknownValue>>(
        &self,
        name: &str,
    ) -> ApiResult<Field<T>> {
        match self.raw(name) {
            Field::Value(Value::String(s)) => s.parse::<T>().map(Field::Value).map_err(|e| {
                invalid(
                    name,
                    s,
                    &format!("Value should be one of: {}", e.allowed.join(", ")),
                )
            }),
            Field::Value(other) => Err(invalid(name, &shown(other), "Value should be string")),
            Field::Null => Ok(Field::Null),
            Field::Absent => Ok(Field::Absent),
        }
    }

    /// An IPv4 or IPv6 address, normalised.
    pub fn ip_address(&self, name: &str) -> ApiResult<Field<IpAddr>> {
        match self.string(name, usize::MAX)? {
            Field::Value(s) => s
                .parse::<IpAddr>()
                .map(Field::Value)
                .map_err(|_| invalid(name, &s, "Value should be IPv4 or IPv6 format")),
            Field::Null => Ok(Field::Null),
            Field::Absent => Ok(Field::Absent),
        }
    }

    /// A list of strings of at most `max_len` characters each.
    pub fn string_list(&self, name: &str, max_len: usize) -> ApiResult<Field<Vec<String>>> {
        match self.raw(name) {
            Field::Value(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) if s.chars().count() <= max_len => out.push(s.clone()),
                        Value::String(_) => {
                            return Err(invalid(
                                name,
                                &py_repr(&Value::Array(items.clone())),
                                &format!(
                                    "Value should have a maximum character requirement of {max_len}"
                                ),
                            ))
                        }
                        _ => {
                            return Err(invalid(
                                name,
                                &py_repr(&Value::Array(items.clone())),
                                "Value should be string",
                            ))
                        }
                    }
                }
                Ok(Field::Value(out))
            }
            Field::Value(other) => {
                Err(self.whole_body_error(format!("Value not a valid list: {}", shown(other))))
            }
            Field::Null => Ok(Field::Null),
            Field::Absent => Ok(Field::Absent),
        }
    }

    /// A JSON object (nested types such as `session_persistence`).
    pub fn object(&self, name: &str) -> ApiResult<Field<Map<String, Value>>> {
        match self.raw(name) {
            Field::Value(Value::Object(map)) => Ok(Field::Value(map.clone())),
            // WSME fails the conversion of the whole body.
            Field::Value(other) => {
                Err(self.whole_body_error(format!("Value not a valid dict: {}", shown(other))))
            }
            Field::Null => Ok(Field::Null),
            Field::Absent => Ok(Field::Absent),
        }
    }

    /// A child object nested in this input (`healthmonitor` of a pool): a dictionary,
    /// else refused as a failed conversion of the whole body.
    pub fn child(&self, name: &str) -> ApiResult<Option<&Map<String, Value>>> {
        match self.raw(name) {
            Field::Value(Value::Object(map)) => Ok(Some(map)),
            Field::Value(other) => {
                Err(self
                    .whole_body_error(format!("Value should be a dictionary: {}", shown(other))))
            }
            Field::Null | Field::Absent => Ok(None),
        }
    }

    /// The raw JSON of a field, for nested lists handled by the caller.
    pub fn raw_value(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// The names of the fields given.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.fields.keys()
    }
}

fn py_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(body: &str) -> ApiResult<Input> {
        Input::parse(
            body.as_bytes(),
            "listener",
            "listener_",
            &[
                "name",
                "protocol_port",
                "admin_state_up",
                "tags",
                "loadbalancer_id",
            ],
        )
    }

    #[test]
    fn messages_match_octavia() {
        let err = input("nope").err().unwrap();
        assert_eq!(err.message, "Request is not in valid JSON format");
        let err = input(r#"{"x": {}}"#).err().unwrap();
        assert_eq!(err.message, "Unknown attribute for argument listener_: x");
        let err = input(r#"{"listener": {"foo": 1, "bar": 2}}"#)
            .err()
            .unwrap();
        assert_eq!(
            err.message,
            "Unknown attributes for argument listener_.listener: bar, foo"
        );
        let i = input(r#"{"listener": {"protocol_port": 0, "name": 5}}"#).unwrap();
        assert_eq!(
            i.port("protocol_port").unwrap_err().message,
            "Invalid input for field/attribute protocol_port. Value: '0'. Value should be greater or equal to 1"
        );
        assert_eq!(
            i.string("name", 255).unwrap_err().message,
            "Invalid input for field/attribute name. Value: '5'. Value should be string"
        );
        let i =
            input(r#"{"listener": {"protocol_port": "abc", "admin_state_up": "maybe"}}"#).unwrap();
        assert_eq!(
            i.int("protocol_port", None, None).unwrap_err().message,
            "Invalid input for field/attribute listener_. Value: '{'listener': {'protocol_port': 'abc', 'admin_state_up': 'maybe'}}'. invalid literal for int() with base 10: 'abc'"
        );
        assert!(i
            .boolean("admin_state_up")
            .unwrap_err()
            .message
            .ends_with("Value not an unambiguous boolean: maybe"));
        let i = input(r#"{"listener": {"loadbalancer_id": "x"}}"#).unwrap();
        assert_eq!(
            i.uuid("loadbalancer_id").unwrap_err().message,
            "Invalid input for field/attribute loadbalancer_id. Value: 'x'. Value should be UUID format"
        );
    }

    #[test]
    fn conversions_follow_wsme() {
        let i = input(
            r#"{"listener": {"protocol_port": "80", "admin_state_up": null, "tags": ["a"]}}"#,
        )
        .unwrap();
        assert_eq!(i.port("protocol_port").unwrap(), Field::Value(80));
        assert_eq!(i.boolean("admin_state_up").unwrap(), Field::Null);
        assert_eq!(i.boolean("name").unwrap(), Field::Absent);
        assert_eq!(
            i.string_list("tags", 255).unwrap(),
            Field::Value(vec!["a".to_string()])
        );
    }
}
