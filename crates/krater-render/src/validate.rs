//! Checks of every string before it reaches the configuration text.
//!
//! [`raw`] is the common rule for the values krater itself writes (ids and
//! addresses): no whitespace, control characters, quotes, `#` or backslash. User values
//! go through [`grammar`], the grammar the API checks them with.

use std::net::IpAddr;

use krater_domain::grammar::Refused;

use crate::RenderError;

/// A value that can be written as one HAProxy word without quoting or escaping.
pub(crate) fn raw<'a>(field: &'static str, value: &'a str) -> Result<&'a str, RenderError> {
    let unsafe_char =
        |c: char| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '`' | '#' | '\\');
    if value.chars().any(unsafe_char) {
        return Err(RenderError::UnsafeValue {
            field,
            value: value.to_owned(),
        });
    }
    if value.is_empty() {
        return Err(invalid(field, value, "it is empty"));
    }
    Ok(value)
}

/// An id used as a proxy or server name: letters, digits, `-`, `_`, `.` and `:`.
pub(crate) fn ident<'a>(field: &'static str, value: &'a str) -> Result<&'a str, RenderError> {
    raw(field, value)?;
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(invalid(
            field,
            value,
            "only letters, digits, '-', '_', '.' and ':' are allowed",
        ));
    }
    Ok(value)
}

/// An IPv4 or IPv6 address (no zone, no port).
pub(crate) fn ip(field: &'static str, value: &str) -> Result<IpAddr, RenderError> {
    raw(field, value)?
        .parse()
        .map_err(|_| invalid(field, value, "not an IP address"))
}

/// A value checked by its field's grammar in [`krater_domain::grammar`], the one the
/// API checks it with too. A refused value that could have changed the structure of
/// the file is reported as [`RenderError::UnsafeValue`].
pub(crate) fn grammar<'a, T>(
    field: &'static str,
    value: &'a str,
    check: impl FnOnce(&'a str) -> Result<T, Refused>,
) -> Result<T, RenderError> {
    check(value).map_err(|Refused(reason)| match raw(field, value) {
        Err(unsafe_value @ RenderError::UnsafeValue { .. }) => unsafe_value,
        _ => invalid(field, value, reason),
    })
}

/// A number checked by its field's grammar in [`krater_domain::grammar`].
pub(crate) fn grammar_number(
    field: &'static str,
    value: i64,
    check: impl FnOnce(i64) -> Result<i64, Refused>,
) -> Result<i64, RenderError> {
    check(value).map_err(|Refused(reason)| invalid(field, &value.to_string(), reason))
}

/// A non-negative whole number of milliseconds or seconds HAProxy can hold.
pub(crate) fn duration(field: &'static str, value: i64) -> Result<i64, RenderError> {
    if (0..=i64::from(i32::MAX)).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(field, &value.to_string(), "out of range"))
    }
}

/// A count that must be at least 1 (check intervals and thresholds).
pub(crate) fn positive(field: &'static str, value: i64) -> Result<i64, RenderError> {
    if (1..=i64::from(i32::MAX)).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(field, &value.to_string(), "must be at least 1"))
    }
}

/// Builds an [`RenderError::InvalidValue`].
pub(crate) fn invalid(field: &'static str, value: &str, reason: &'static str) -> RenderError {
    RenderError::InvalidValue {
        field,
        value: value.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_unsafe(r: Result<impl std::fmt::Debug, RenderError>) -> bool {
        matches!(r, Err(RenderError::UnsafeValue { .. }))
    }

    #[test]
    fn raw_refuses_what_could_break_a_line_or_a_word() {
        for bad in [
            "a b", "a\tb", "a\nb", "a\rb", "a\u{0}b", "a\"b", "a'b", "a#b", "a\\b", "a\u{a0}b",
        ] {
            assert!(is_unsafe(raw("f", bad)), "{bad:?}");
        }
        assert!(raw("f", "/ok/path?x=1&y=%20").is_ok());
        assert!(matches!(
            raw("f", ""),
            Err(RenderError::InvalidValue { .. })
        ));
    }

    #[test]
    fn fields_have_their_grammar() {
        assert!(ident("f", "0b7e-1:x_y.z").is_ok());
        assert!(ident("f", "a/b").is_err());
        assert!(ip("f", "2001:db8::1").is_ok());
        assert!(ip("f", "fe80::1%eth0").is_err());
        assert!(ip("f", "10.0.0.1:80").is_err());
    }

    #[test]
    fn numbers_are_bounded() {
        assert!(duration("f", -1).is_err());
        assert!(duration("f", 0).is_ok());
        assert!(duration("f", i64::MAX).is_err());
        assert!(positive("f", 0).is_err());
        assert!(positive("f", 3).is_ok());
    }
}
