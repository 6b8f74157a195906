//! A bounded fuzz run of the renderer: every user string that reaches `haproxy.cfg`
//! is fed hostile values (newlines, carriage returns, quotes, backslashes, spaces,
//! `#`, `%`, `$`, NUL, non-ASCII, 4 KB strings), mixed into a good value or alone.
//! Each rendering is either refused with an error, or has exactly the lines and
//! keywords of the rendering with good values, and `haproxy -c` takes it. Cases
//! are drawn from a fixed seed (the same run every time); `KRATER_FUZZ_CASES`
//! asks for more than the default.

use std::collections::HashSet;

use krater_domain::{
    HealthMonitor, HealthMonitorType, L7CompareType, L7PolicyAction, L7RuleType, LbAlgorithm,
    ListenerProtocol, LoadBalancerGraph, Member, PoolProtocol, SessionPersistenceType,
};
use krater_render::{render, RenderOptions};

use crate::golden::haproxy_check;
use crate::sample::*;

const DEFAULT_CASES: usize = 4000;
/// Accepted renderings checked by `haproxy -c` (each takes a few milliseconds).
const HAPROXY_CHECKS: usize = 120;

const HOSTILE: &[&str] = &[
    "\n",
    "\r",
    "\r\n",
    "\"",
    "'",
    "\\",
    " ",
    "\t",
    "#",
    "%",
    "%[src]",
    "$",
    "${HOME}",
    "\0",
    "é",
    "\u{2028}",
    "-",
    "--",
    "/",
    ":",
    ",",
    ";",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "=",
    "a",
    "0",
    ".",
    "*",
    "|",
    "^",
    "?",
    "\n    server evil 203.0.113.1:80",
];

/// xorshift64*: enough randomness for picking cases, with no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// A hostile version of `good`: good with pieces inserted, pieces alone, or 4 KB.
    fn hostile(&mut self, good: &str) -> String {
        match self.below(10) {
            0 => "a".repeat(4096),
            1 => format!("{good}{}", "%".repeat(4096)),
            2..=5 => {
                let mut value = good.to_owned();
                for _ in 0..=self.below(3) {
                    let at = self.below(value.len() + 1);
                    let at = (0..=at)
                        .rev()
                        .find(|i| value.is_char_boundary(*i))
                        .unwrap_or(0);
                    value.insert_str(at, HOSTILE[self.below(HOSTILE.len())]);
                }
                value
            }
            _ => (0..=self.below(4))
                .map(|_| HOSTILE[self.below(HOSTILE.len())])
                .collect(),
        }
    }
}

/// A load balancer with every user string field set to a good value: an HTTP
/// listener with CIDRs, an APP_COOKIE pool with an HTTP monitor (path, codes, host)
/// and a member with a monitor address, and an L7 policy of each target kind.
fn good() -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    let mut l = listener(1, ListenerProtocol::Http, 80, Some(1));
    l.allowed_cidrs = vec!["198.18.1.0/24".into()];
    g.listeners.push(l);
    let mut p = pool(1, PoolProtocol::Http, LbAlgorithm::RoundRobin);
    p.pool.session_persistence = Some(persistence(SessionPersistenceType::AppCookie, Some("SID")));
    p.health_monitor = Some(HealthMonitor {
        url_path: Some("/health".into()),
        expected_codes: Some("200-204".into()),
        http_version: Some(1.1),
        domain_name: Some("www.example.com".into()),
        ..health_monitor(1, HealthMonitorType::Http)
    });
    p.members = vec![Member {
        monitor_address: Some("198.18.2.111".into()),
        ..member(1, "198.18.2.11", 80)
    }];
    g.pools.push(p);
    let mut header = l7policy(1, L7PolicyAction::Reject, 1);
    header.rules = vec![l7rule(
        1,
        1,
        L7RuleType::Header,
        L7CompareType::EqualTo,
        Some("X-A"),
        "b",
    )];
    let mut path = l7policy(2, L7PolicyAction::RedirectToUrl, 2);
    path.policy.redirect_url = Some("https://www.example.com/x".into());
    path.rules = vec![l7rule(
        2,
        2,
        L7RuleType::Path,
        L7CompareType::Regex,
        None,
        "^/old",
    )];
    g.l7policies = vec![header, path];
    g
}

/// The fields fuzzed, each as a way to set it on the good graph.
type Setter = fn(&mut LoadBalancerGraph, String);
const FIELDS: &[(&str, Setter)] = &[
    ("url_path", |g, v| {
        g.pools[0].health_monitor.as_mut().unwrap().url_path = Some(v)
    }),
    ("expected_codes", |g, v| {
        g.pools[0].health_monitor.as_mut().unwrap().expected_codes = Some(v)
    }),
    ("domain_name", |g, v| {
        g.pools[0].health_monitor.as_mut().unwrap().domain_name = Some(v)
    }),
    ("cookie_name", |g, v| {
        g.pools[0]
            .pool
            .session_persistence
            .as_mut()
            .unwrap()
            .cookie_name = Some(v)
    }),
    ("allowed_cidrs", |g, v| {
        g.listeners[0].allowed_cidrs = vec![v]
    }),
    ("member.address", |g, v| g.pools[0].members[0].address = v),
    ("member.monitor_address", |g, v| {
        g.pools[0].members[0].monitor_address = Some(v)
    }),
    ("l7rule.key", |g, v| g.l7policies[0].rules[0].key = Some(v)),
    ("l7rule.value", |g, v| g.l7policies[0].rules[0].value = v),
    ("l7rule.regex", |g, v| g.l7policies[1].rules[0].value = v),
    ("redirect_url", |g, v| {
        g.l7policies[1].policy.redirect_url = Some(v)
    }),
];

/// The first word and the number of words of every line, words split as HAProxy
/// splits them (a backslash escapes the next character): the structure a value must
/// not change.
fn shape(text: &str) -> Vec<(String, usize)> {
    text.lines()
        .map(|line| {
            let mut words: Vec<String> = Vec::new();
            let (mut word, mut escaped) = (String::new(), false);
            for c in line.chars() {
                if escaped {
                    word.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c.is_whitespace() {
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                } else {
                    word.push(c);
                }
            }
            if !word.is_empty() {
                words.push(word);
            }
            (words.first().cloned().unwrap_or_default(), words.len())
        })
        .collect()
}

#[test]
fn hostile_values_are_refused_or_stay_inside_their_word() {
    let opts = RenderOptions::default();
    let baseline = render(&good(), &opts).expect("the good graph renders");
    let cases = std::env::var("KRATER_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let mut rng = Rng(0x6b72_6174_6572_0009);
    let (mut refused, mut accepted) = (0, HashSet::new());
    let dir = tempfile::tempdir().expect("temp dir");
    for case in 0..cases {
        let (field, set) = FIELDS[rng.below(FIELDS.len())];
        let mut g = good();
        let value = rng.hostile(if field == "l7rule.value" { "b" } else { "x" });
        set(&mut g, value.clone());
        let Ok(text) = render(&g, &opts) else {
            refused += 1;
            continue;
        };
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n') && text.is_ascii(),
            "case {case}: {field} = {value:?} put a control or non-ASCII character in:\n{text}"
        );
        assert_eq!(
            shape(&text),
            shape(&baseline),
            "case {case}: {field} = {value:?} changed the structure:\n{text}"
        );
        if accepted.len() < HAPROXY_CHECKS && accepted.insert(text.clone()) {
            let path = dir.path().join("haproxy.cfg");
            std::fs::write(&path, &text).expect("write");
            if let Err(log) = haproxy_check(&path) {
                panic!("case {case}: {field} = {value:?} is refused by haproxy -c:\n{log}\n{text}");
            }
        }
    }
    eprintln!(
        "fuzz: {cases} cases, {refused} refused, {} distinct renderings accepted and checked by haproxy -c",
        accepted.len()
    );
    assert!(
        refused > 0 && !accepted.is_empty(),
        "the run exercised both outcomes"
    );
}
