//! The grammar of every user value that reaches an amphora's configuration.
//!
//! Each field has one function here, used twice: the API refuses what it refuses
//! (with Octavia's fault), and `krater-render` checks again with the same function
//! before it writes the value. So a value the API accepted can never make a
//! configuration fail later, and no value can add a word, a line or a comment to it.

use std::net::IpAddr;
use std::ops::RangeInclusive;

mod l7;
pub use l7::*;

/// Why a value was refused: a short, user-facing reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub &'static str);

/// HAProxy keeps timers in milliseconds in a signed 32-bit integer: the largest
/// number of seconds a check interval or a check timeout can have.
pub const MAX_TIMER_SECONDS: i64 = i32::MAX as i64 / 1000;

/// Characters that HAProxy's configuration parser treats specially in an unquoted
/// word: quotes, the escape character and the start of a comment.
fn is_config_special(c: char) -> bool {
    matches!(c, '"' | '\'' | '\\' | '#')
}

/// The path of an HTTP health check: starts with one `/`, then printable ASCII
/// without spaces, quotes, backslashes or `#` (HAProxy sends it as written).
pub fn url_path(value: &str) -> Result<&str, Refused> {
    if !value.starts_with('/') || value.starts_with("//") {
        return Err(Refused("must start with a single '/'"));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_graphic() && !is_config_special(c))
    {
        return Err(Refused(
            "only printable ASCII without spaces, quotes, '\\' or '#' is allowed",
        ));
    }
    Ok(value)
}

/// Expected HTTP status codes (`200`, `200,202`, `200-204`), expanded into the sorted
/// list of distinct codes. Codes are 100 to 599; a range goes upwards.
pub fn expected_codes(value: &str) -> Result<Vec<u16>, Refused> {
    const SHAPE: Refused = Refused("codes are 100 to 599, as 200, 200,202 or 200-204");
    let code = |s: &str| -> Result<u16, Refused> {
        let s = s.trim_matches(' ');
        match s.parse::<u16>() {
            Ok(c) if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) => {
                if (100..=599).contains(&c) {
                    Ok(c)
                } else {
                    Err(SHAPE)
                }
            }
            _ => Err(SHAPE),
        }
    };
    let mut codes = Vec::new();
    match value.split_once('-') {
        Some((low, high)) => {
            let (low, high) = (code(low)?, code(high)?);
            if low > high {
                return Err(Refused("a range must go upwards"));
            }
            codes.extend(low..=high);
        }
        None => {
            for part in value.split(',') {
                codes.push(code(part)?);
            }
        }
    }
    codes.sort_unstable();
    codes.dedup();
    Ok(codes)
}

/// A DNS host name (RFC 1123 labels), sent as the `Host` header of a health check.
pub fn domain_name(value: &str) -> Result<&str, Refused> {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if value.is_empty() || value.len() > 253 || !value.split('.').all(label_ok) {
        return Err(Refused("not a host name"));
    }
    Ok(value)
}

/// A cookie name for APP_COOKIE persistence: an RFC 6265 token, which also keeps it
/// inside `req.cook(…)`, without the characters HAProxy's parser treats specially.
pub fn cookie_name(value: &str) -> Result<&str, Refused> {
    let separator = |c: char| "()<>@,;:/[]?={}".contains(c);
    if value.is_empty()
        || !value
            .chars()
            .all(|c| c.is_ascii_graphic() && !separator(c) && !is_config_special(c))
    {
        return Err(Refused("not an HTTP token"));
    }
    Ok(value)
}

/// An IPv4 or IPv6 network in CIDR notation (`198.18.1.0/24`, `2001:db8::/32`; a bare
/// address is a host route), returned in its canonical form: the host bits cleared and
/// the prefix length written, so that `10.1.2.3/8` is `10.0.0.0/8`.
pub fn cidr(value: &str) -> Result<String, Refused> {
    const SHAPE: Refused = Refused("not an IPv4 or IPv6 CIDR");
    let (address, length) = value.split_once('/').unwrap_or((value, ""));
    let address: IpAddr = address.parse().map_err(|_| SHAPE)?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let length: u32 = if length.is_empty() && !value.contains('/') {
        max
    } else if !length.is_empty() && length.bytes().all(|b| b.is_ascii_digit()) {
        length.parse().map_err(|_| SHAPE)?
    } else {
        return Err(SHAPE);
    };
    if length > max {
        return Err(SHAPE);
    }
    let network = match address {
        IpAddr::V4(a) => {
            IpAddr::V4((u32::from(a) & u32::MAX.checked_shl(32 - length).unwrap_or(0)).into())
        }
        IpAddr::V6(a) => {
            IpAddr::V6((u128::from(a) & u128::MAX.checked_shl(128 - length).unwrap_or(0)).into())
        }
    };
    Ok(format!("{network}/{length}"))
}

/// The seconds between two health checks (`delay`).
const CHECK_INTERVAL_SECONDS: RangeInclusive<i64> = 1..=MAX_TIMER_SECONDS;
/// The seconds a health check may take (`timeout`).
const CHECK_TIMEOUT_SECONDS: RangeInclusive<i64> = 0..=MAX_TIMER_SECONDS;

/// A health check's interval: within [`CHECK_INTERVAL_SECONDS`].
pub fn check_interval(seconds: i64) -> Result<i64, Refused> {
    within(
        CHECK_INTERVAL_SECONDS,
        seconds,
        "must be 1 to 2147483 seconds",
    )
}

/// A health check's timeout: within [`CHECK_TIMEOUT_SECONDS`].
pub fn check_timeout(seconds: i64) -> Result<i64, Refused> {
    within(
        CHECK_TIMEOUT_SECONDS,
        seconds,
        "must be 0 to 2147483 seconds",
    )
}

fn within(range: RangeInclusive<i64>, value: i64, reason: &'static str) -> Result<i64, Refused> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(Refused(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths() {
        for good in ["/", "/healthz", "/a/b?x=1&y=%20", "/a;b$c{d}~"] {
            assert_eq!(url_path(good), Ok(good));
        }
        for bad in [
            "", "healthz", "//host/x", "/a b", "/a#b", "/a\"b", "/a'b", "/a\\b", "/é", "/a\tb",
        ] {
            assert!(url_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn expected_codes_are_expanded() {
        assert_eq!(expected_codes("200"), Ok(vec![200]));
        assert_eq!(expected_codes("202,200, 202"), Ok(vec![200, 202]));
        assert_eq!(expected_codes("200-204"), Ok((200..=204).collect()));
        assert_eq!(expected_codes("100-599").map(|c| c.len()), Ok(500));
        for bad in [
            "",
            "20",
            "2000",
            "999",
            "000",
            "099",
            "600",
            "500-200",
            "200,",
            "abc",
            "200-",
            "+20",
            "200-300-400",
            "200,300-400",
            "200\n",
            "200#",
        ] {
            assert!(expected_codes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn domain_names_and_cookies() {
        assert!(domain_name("www.example.com").is_ok());
        for bad in ["", "a/b", "-a.b", "a..b", "a_b", &"a".repeat(64)] {
            assert!(domain_name(bad).is_err(), "{bad:?}");
        }
        for good in ["JSESSIONID", "ok_1", "a.b-c!*"] {
            assert!(cookie_name(good).is_ok(), "{good:?}");
        }
        for bad in [
            "", "a=b", "a)b", "a#b", "é", "a\"b", "a'b", "a b", "a\\b", "a;b",
        ] {
            assert!(cookie_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cidrs_are_canonical() {
        assert_eq!(cidr("198.18.1.0/24").as_deref(), Ok("198.18.1.0/24"));
        assert_eq!(cidr("10.1.2.3/8").as_deref(), Ok("10.0.0.0/8"));
        assert_eq!(cidr("10.1.2.3").as_deref(), Ok("10.1.2.3/32"));
        assert_eq!(cidr("0.0.0.0/0").as_deref(), Ok("0.0.0.0/0"));
        assert_eq!(cidr("10.0.0.0/0008").as_deref(), Ok("10.0.0.0/8"));
        assert_eq!(cidr("2001:db8::1/32").as_deref(), Ok("2001:db8::/32"));
        assert_eq!(cidr("::/0").as_deref(), Ok("::/0"));
        for bad in [
            "",
            "/24",
            "10.0.0.0/",
            "10.0.0.0/33",
            "2001:db8::/129",
            "10.0.0.0/+8",
            "10.0.0.0/8a",
            "10.0.0.0 /8",
            "10.0.0.0/8 ",
            "10.0.0.0/8\n",
            "10.0.0.0/8#",
            "fe80::1%eth0/64",
            "10.0.0.0/4294967304",
            "ten/8",
            "10.0.0.0/8/8",
        ] {
            assert!(cidr(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timers_fit_haproxy() {
        assert!(check_interval(0).is_err());
        assert_eq!(check_interval(MAX_TIMER_SECONDS), Ok(2_147_483));
        assert!(check_interval(MAX_TIMER_SECONDS + 1).is_err());
        assert_eq!(check_timeout(0), Ok(0));
        assert!(check_timeout(-1).is_err());
        assert!(check_timeout(i64::from(i32::MAX)).is_err());
    }
}
