//! The grammar of L7 policies and rules: Octavia's character classes, which HAProxy can
//! take as one word once [`haproxy_word`]-escaped, and the regular expressions both
//! Octavia and HAProxy's PCRE2 compile.

use super::Refused;
use crate::{L7CompareType, L7RuleType};

/// The characters of a header or cookie name: HTTP's token characters but `#`, `'`
/// and `` ` ``, which HAProxy's parser would read as a comment or a quote inside
/// `req.hdr(…)`. (Octavia's class takes those, and `,` through a range, which
/// would split the fetch's arguments.)
fn header_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!$%&*+-.^_|~".contains(c)
}

/// Octavia's cookie-value characters: printable ASCII but space, `"`, `;` and `\`
/// (its class takes `,` through the same range).
fn cookie_value_char(c: char) -> bool {
    c.is_ascii_graphic() && !"\";\\".contains(c)
}

/// An HTTP header or cookie name (the `key` of HEADER and COOKIE rules).
pub fn header_name(value: &str) -> Result<&str, Refused> {
    if value.is_empty() || !value.chars().all(header_name_char) {
        return Err(Refused("Invalid characters"));
    }
    Ok(value)
}

/// The key of an SSL_DN_FIELD rule: a letter, then letters, digits and `-`.
pub fn dn_field(value: &str) -> Result<&str, Refused> {
    let mut chars = value.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(Refused("not a distinguished name field"));
    }
    Ok(value)
}

/// A header, host or path text to compare with: printable ASCII without spaces, or
/// between double quotes, where spaces are allowed and `"` is not (and the text is
/// not empty). Returns the text itself, without the quotes.
pub fn header_value(value: &str) -> Result<&str, Refused> {
    const REFUSED: Refused = Refused("Invalid characters");
    if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        // An empty text cannot be written as an HAProxy pattern (Octavia takes `""`).
        let text_char = |c: char| c == ' ' || (c.is_ascii_graphic() && c != '"');
        if !inner.is_empty() && inner.chars().all(text_char) {
            return Ok(inner);
        }
        return Err(REFUSED);
    }
    if value.is_empty() || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(REFUSED);
    }
    Ok(value)
}

/// A cookie value to compare with.
pub fn cookie_value(value: &str) -> Result<&str, Refused> {
    if value.is_empty() || !value.chars().all(cookie_value_char) {
        return Err(Refused("Invalid characters"));
    }
    Ok(value)
}

/// A regular expression of printable ASCII (spaces allowed) that compiles in the
/// syntax Rust's `regex` shares with PCRE2: lookaround and backreferences, which it
/// lacks, are refused.
pub fn regex(value: &str) -> Result<&str, Refused> {
    if value.is_empty() || !value.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
        return Err(Refused("only printable ASCII is allowed"));
    }
    regex_syntax::Parser::new()
        .parse(value)
        .map_err(|_| Refused("not a regular expression HAProxy compiles"))?;
    Ok(value)
}

/// What an L7 rule compares, once its fields are checked against each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L7Match<'a> {
    /// The header, cookie or DN field name, for the rule types that have one.
    pub key: Option<&'a str>,
    /// The text or regular expression to compare with; the SSL_VERIFY_RESULT code.
    pub value: &'a str,
}

/// Why an L7 rule was refused, in the shapes of Octavia's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleRefused {
    /// The fields do not go together (Octavia's "Invalid L7 Rule: …").
    Rule(&'static str),
    /// A field holds characters its grammar lacks ("Invalid characters in <what>").
    Characters(&'static str),
    /// An SSL_CONN_HAS_CERT value other than "true".
    NotTrue,
    /// A regular expression that does not compile.
    Regex(&'static str),
}

impl RuleRefused {
    /// A short reason, for the renderer's errors.
    pub fn reason(self) -> &'static str {
        match self {
            RuleRefused::Rule(reason) | RuleRefused::Regex(reason) => reason,
            RuleRefused::Characters(_) => "invalid characters",
            RuleRefused::NotTrue => "not a boolean True string",
        }
    }
}

/// Checks an L7 rule's fields together, in Octavia's order, and returns what it
/// compares.
pub fn l7_rule<'a>(
    kind: L7RuleType,
    compare: L7CompareType,
    key: Option<&'a str>,
    value: &'a str,
) -> Result<L7Match<'a>, RuleRefused> {
    use L7CompareType as C;
    use L7RuleType as T;
    use RuleRefused as R;
    const NEEDS_KEY: RuleRefused = R::Rule("L7 rule type requires a key");
    const BAD_COMPARE: RuleRefused = R::Rule("invalid comparison type for rule type");
    let key = key.filter(|k| !k.is_empty());
    if value.is_empty() {
        return Err(R::Rule("L7 rule type requires a value"));
    }
    let regex = |value| regex(value).map_err(|Refused(reason)| R::Regex(reason));
    let text = |value| header_value(value).map_err(|_| R::Characters("comparison value"));
    let text_or_regex = |value| match compare {
        C::Regex => regex(value),
        _ => text(value),
    };
    let match_of = |key, value| Ok(L7Match { key, value });
    match kind {
        T::Header | T::Cookie => {
            let key = header_name(key.ok_or(NEEDS_KEY)?).map_err(|_| R::Characters("key"))?;
            let value = match (kind, compare) {
                (_, C::Regex) => regex(value)?,
                (T::Cookie, _) => cookie_value(value).map_err(|_| R::Characters("cookie value"))?,
                _ => text(value)?,
            };
            match_of(Some(key), value)
        }
        T::HostName | T::Path => match_of(None, text_or_regex(value)?),
        T::FileType => match compare {
            C::Regex | C::EqualTo => match_of(None, text_or_regex(value)?),
            _ => Err(BAD_COMPARE),
        },
        T::SslConnHasCert => {
            if key.is_some() {
                return Err(R::Rule(
                    "L7rule type SSL_CONN_HAS_CERT does not use the \"key\" field.",
                ));
            }
            if !value.eq_ignore_ascii_case("true") {
                return Err(R::NotTrue);
            }
            if compare != C::EqualTo {
                return Err(R::Rule(
                    "L7rule type SSL_CONN_HAS_CERT only supports the EQUAL_TO compare type.",
                ));
            }
            match_of(None, value)
        }
        T::SslVerifyResult => {
            if key.is_some() {
                return Err(R::Rule(
                    "L7rule type SSL_VERIFY_RESULT does not use the \"key\" field.",
                ));
            }
            if compare != C::EqualTo {
                return Err(R::Rule(
                    "L7rule type SSL_VERIFY_RESULT only supports the EQUAL_TO compare type.",
                ));
            }
            if !value.bytes().all(|b| b.is_ascii_digit()) || value.len() > 9 {
                return Err(R::Rule(
                    "L7rule type SSL_VERIFY_RESULT needs a int value, which is >= 0",
                ));
            }
            match_of(None, value)
        }
        T::SslDnField => {
            // Octavia checks only a regular expression here; a text is a word too.
            let value = text_or_regex(value)?;
            let key = key
                .and_then(|k| dn_field(k).ok())
                .ok_or(R::Rule("Invalid L7rule distinguished name field."))?;
            match_of(Some(key), value)
        }
    }
}

/// A redirect target (`redirect_url`, `redirect_prefix`): an absolute http or https
/// URL with a host, of printable ASCII without spaces.
pub fn redirect_url(value: &str) -> Result<&str, Refused> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or(Refused("must be an http or https URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(Refused("must name a host"));
    }
    if !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Refused("only printable ASCII without spaces is allowed"));
    }
    Ok(value)
}

/// The redirect codes HAProxy and Octavia both have.
pub const REDIRECT_CODES: [i64; 5] = [301, 302, 303, 307, 308];

/// A value as one HAProxy word: printable ASCII (and spaces) with the characters its
/// parser treats specially outside quotes (space, quotes, `\`, `#`) escaped by a
/// backslash, so that HAProxy reads back exactly `value` (`$` and `%` are plain
/// there: variables expand only between double quotes, and `redirect` takes its
/// location as written). `None` for any other character, which no
/// grammar here lets through.
pub fn haproxy_word(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        if !(c == ' ' || c.is_ascii_graphic()) {
            return None;
        }
        if " \"'\\#".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use L7CompareType as C;
    use L7RuleType as T;

    #[test]
    fn header_names_values_and_cookies() {
        for good in ["X-Forwarded-For", "x~|^_!$%&*+-."] {
            assert!(header_name(good).is_ok(), "{good:?}");
        }
        for bad in [
            "", "a b", "a:b", "a\"b", "é", "a\nb", "a(b", "a,b", "a#b", "a'b", "a`b",
        ] {
            assert!(header_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(header_value("abc\\\"#$"), Ok("abc\\\"#$"));
        assert_eq!(header_value("\"a b\""), Ok("a b"));
        for bad in [
            "", "\"\"", "a b", "a\tb", "a\nb", "\"a\"b\"", "é", "\"a\rb\"",
        ] {
            assert!(header_value(bad).is_err(), "{bad:?}");
        }
        assert!(cookie_value("a,b=c").is_ok());
        for bad in ["a;b", "a\"b", "a\\b", "a b", ""] {
            assert!(cookie_value(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn regexes_compile_or_are_refused() {
        assert!(regex("^/api/v[0-9]+/.*\\.json$").is_ok());
        assert!(regex("a b").is_ok());
        for bad in ["[", "(?P<x", "a\nb", "(?=x)", "é", ""] {
            assert!(regex(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rules_are_checked_together() {
        let ok = |t, c, k, v| l7_rule(t, c, k, v).map(|m| (m.key, m.value));
        assert_eq!(
            ok(T::Header, C::EqualTo, Some("X-A"), "\"a b\""),
            Ok((Some("X-A"), "a b"))
        );
        assert_eq!(
            ok(T::Path, C::StartsWith, Some("ignored"), "/api"),
            Ok((None, "/api"))
        );
        assert!(ok(T::Header, C::EqualTo, None, "x").is_err());
        assert!(ok(T::Cookie, C::EqualTo, Some("c"), "a;b").is_err());
        assert!(ok(T::FileType, C::StartsWith, None, "jpg").is_err());
        assert!(ok(T::SslConnHasCert, C::EqualTo, None, "TRUE").is_ok());
        assert!(ok(T::SslConnHasCert, C::EqualTo, None, "false").is_err());
        assert!(ok(T::SslVerifyResult, C::EqualTo, None, "-1").is_err());
        assert!(ok(T::SslVerifyResult, C::EqualTo, None, "0").is_ok());
        assert!(ok(T::SslDnField, C::EqualTo, Some("1CN"), "x").is_err());
        assert!(ok(T::SslDnField, C::Regex, Some("CN"), "^a.*").is_ok());
        assert!(ok(T::HostName, C::EqualTo, None, "").is_err());
    }

    #[test]
    fn redirect_urls() {
        for good in [
            "http://a",
            "https://www.example.com/x?y=1#z",
            "http://[2001:db8::1]:8080/",
        ] {
            assert!(redirect_url(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "http://",
            "ftp://a",
            "www.example.com",
            "http://a b",
            "http://a\n",
            "http://é",
            "https:///x",
        ] {
            assert!(redirect_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn words_are_escaped_for_haproxy() {
        assert_eq!(
            haproxy_word("a b#c$d\"e'f\\g%").as_deref(),
            Some("a\\ b\\#c$d\\\"e\\'f\\\\g%")
        );
        assert_eq!(haproxy_word("/api"), Some("/api".into()));
        assert_eq!(haproxy_word("a\nb"), None);
        assert_eq!(haproxy_word(""), None);
    }
}
