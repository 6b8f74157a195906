//! Checks of every string before it reaches the configuration text.
//!
//! [`raw`] is the common rule (no whitespace, control characters, quotes, `#` or
//! backslash); the other checks add the grammar of their field on top of it.

use std::net::IpAddr;

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

/// An absolute file path.
pub(crate) fn path<'a>(field: &'static str, value: &'a str) -> Result<&'a str, RenderError> {
    raw(field, value)?;
    if !value.starts_with('/') {
        return Err(invalid(field, value, "not an absolute path"));
    }
    Ok(value)
}

/// The path of an HTTP health check.
pub(crate) fn url_path<'a>(field: &'static str, value: &'a str) -> Result<&'a str, RenderError> {
    raw(field, value)?;
    if !value.starts_with('/') {
        return Err(invalid(field, value, "does not start with '/'"));
    }
    Ok(value)
}

/// A cookie name: an RFC 6265 token, which also keeps it inside `req.cook(…)`.
pub(crate) fn cookie_name<'a>(field: &'static str, value: &'a str) -> Result<&'a str, RenderError> {
    raw(field, value)?;
    let separator = |c: char| "()<>@,;:/[]?={}".contains(c);
    if !value.chars().all(|c| c.is_ascii_graphic() && !separator(c)) {
        return Err(invalid(field, value, "not an HTTP token"));
    }
    Ok(value)
}

/// A host name sent in the `Host` header of a health check.
pub(crate) fn domain_name<'a>(field: &'static str, value: &'a str) -> Result<&'a str, RenderError> {
    raw(field, value)?;
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
    {
        return Err(invalid(field, value, "not a host name"));
    }
    Ok(value)
}

/// Expands expected HTTP codes (`200`, `200,202`, `200-204`) into the sorted list of
/// the exact codes.
pub(crate) fn expected_codes(field: &'static str, value: &str) -> Result<Vec<u16>, RenderError> {
    let code = |s: &str| -> Result<u16, RenderError> {
        let s = s.trim_matches(' ');
        match s.parse::<u16>() {
            Ok(c) if s.len() == 3 && (100..=599).contains(&c) => Ok(c),
            _ => Err(invalid(
                field,
                value,
                "codes are 100 to 599, as 200, 200,202 or 200-204",
            )),
        }
    };
    if value
        .chars()
        .any(|c| !(c.is_ascii_digit() || matches!(c, ',' | '-' | ' ')))
    {
        return Err(raw(field, value)
            .err()
            .unwrap_or_else(|| invalid(field, value, "only digits, ',' and '-' are allowed")));
    }
    let mut codes = Vec::new();
    for part in value.split(',') {
        match part.split_once('-') {
            Some((low, high)) => {
                let (low, high) = (code(low)?, code(high)?);
                if low > high {
                    return Err(invalid(field, value, "a range must not go downwards"));
                }
                codes.extend(low..=high);
            }
            None => codes.push(code(part)?),
        }
    }
    codes.sort_unstable();
    codes.dedup();
    Ok(codes)
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
        assert!(url_path("f", "healthz").is_err());
        assert!(cookie_name("f", "JSESSIONID").is_ok());
        assert!(cookie_name("f", "a)b").is_err());
        assert!(is_unsafe(cookie_name("f", "a b")));
        assert!(domain_name("f", "www.example.com").is_ok());
        assert!(domain_name("f", "a/b").is_err());
        assert!(path("f", "relative").is_err());
    }

    #[test]
    fn expected_codes_are_expanded() {
        assert_eq!(expected_codes("f", "200").ok(), Some(vec![200]));
        assert_eq!(
            expected_codes("f", "202,200, 202").ok(),
            Some(vec![200, 202])
        );
        assert_eq!(
            expected_codes("f", "200-204").ok(),
            Some(vec![200, 201, 202, 203, 204])
        );
        for bad in ["", "20", "2000", "204-200", "600", "200,", "abc", "200-"] {
            assert!(expected_codes("f", bad).is_err(), "{bad:?}");
        }
        assert!(is_unsafe(expected_codes("f", "200\n")));
        assert!(is_unsafe(expected_codes("f", "200#")));
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
