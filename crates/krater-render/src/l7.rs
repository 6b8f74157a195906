//! The L7 block of an HTTP frontend, as Octavia renders it: one `acl` per enabled
//! rule (named by the rule's id) and one action per enabled policy that has an enabled
//! rule, its condition the AND of its rules (`!` for an inverted one).
//!
//! HAProxy runs a frontend's `http-request deny` rules first, then its `redirect`
//! rules, then `use_backend`, whatever order they are written in: Octavia's evaluation
//! order (every REJECT, then redirects, then pools, each in position order). They are
//! written in that order, so HAProxy has nothing to warn about. A policy that leads
//! to a disabled or deleted pool is left out, as Octavia does.

use krater_domain::grammar::{self, L7Match};
use krater_domain::{
    L7CompareType, L7PolicyAction, L7Rule, L7RuleType, Listener, LoadBalancerGraph, PoolGraph,
};

use crate::render::{live, serving_pool, Backend};
use crate::validate::{self, invalid};
use crate::RenderError;

/// Octavia's redirect code when a policy has none.
const DEFAULT_REDIRECT_CODE: i64 = 302;

/// The L7 lines of one frontend, and the pools they lead to (each needs a backend).
#[derive(Default)]
pub(crate) struct Policies<'g> {
    pub lines: Vec<String>,
    pub pools: Vec<&'g PoolGraph>,
}

pub(crate) fn policies<'g>(
    graph: &'g LoadBalancerGraph,
    l: &Listener,
    backend: &Backend<'_>,
) -> Result<Policies<'g>, RenderError> {
    let (mut acls, mut denies, mut redirects, mut pools) = (vec![], vec![], vec![], vec![]);
    let mut use_backends = vec![];
    for pg in graph.l7policies_of(&l.id) {
        let p = &pg.policy;
        if !p.admin_state_up || !live(p.provisioning_status) {
            continue;
        }
        let rules: Vec<&L7Rule> = pg
            .rules
            .iter()
            .filter(|r| r.admin_state_up && live(r.provisioning_status))
            .collect();
        if rules.is_empty() {
            continue;
        }
        let mut policy_acls = Vec::new();
        let mut condition = Vec::new();
        for r in rules {
            let id = validate::ident("l7rule.id", &r.id)?;
            policy_acls.push(format!("acl {id} {}", acl(r)?));
            condition.push(if r.invert {
                format!("!{id}")
            } else {
                id.to_owned()
            });
        }
        let condition = condition.join(" ");
        match p.action {
            L7PolicyAction::Reject => denies.push(format!("http-request deny if {condition}")),
            L7PolicyAction::RedirectToUrl | L7PolicyAction::RedirectPrefix => {
                let (kind, field, target) = if p.action == L7PolicyAction::RedirectToUrl {
                    ("location", "l7policy.redirect_url", &p.redirect_url)
                } else {
                    ("prefix", "l7policy.redirect_prefix", &p.redirect_prefix)
                };
                let target = target.as_deref().ok_or(RenderError::Missing { field })?;
                let target = word(field, target, grammar::redirect_url)?;
                let code = p.redirect_http_code.unwrap_or(DEFAULT_REDIRECT_CODE);
                if !grammar::REDIRECT_CODES.contains(&code) {
                    return Err(invalid(
                        "l7policy.redirect_http_code",
                        &code.to_string(),
                        "not a redirect code HAProxy has",
                    ));
                }
                redirects.push(format!(
                    "redirect code {code} {kind} {target} if {condition}"
                ));
            }
            L7PolicyAction::RedirectToPool => {
                let pool_id = p.redirect_pool_id.as_deref().ok_or(RenderError::Missing {
                    field: "l7policy.redirect_pool_id",
                })?;
                let Some(pool) = serving_pool(graph, l, pool_id)? else {
                    continue;
                };
                use_backends.push(format!(
                    "use_backend {} if {condition}",
                    backend.name(pool)?
                ));
                if !pools
                    .iter()
                    .any(|seen: &&PoolGraph| seen.pool.id == pool.pool.id)
                {
                    pools.push(pool);
                }
            }
        }
        acls.extend(policy_acls);
    }
    let lines = [acls, denies, redirects, use_backends].concat();
    Ok(Policies { lines, pools })
}

/// The fetch, match method and pattern of a rule's `acl` line. `--` ends the flags,
/// so that a pattern that starts with `-` is a pattern.
fn acl(r: &L7Rule) -> Result<String, RenderError> {
    let keyed = matches!(
        r.kind,
        L7RuleType::Header | L7RuleType::Cookie | L7RuleType::SslDnField
    );
    if let (true, Some(key)) = (keyed, &r.key) {
        validate::raw("l7rule.key", key)?;
    }
    let L7Match { key, value } = validate::grammar("l7rule.value", &r.value, |value| {
        grammar::l7_rule(r.kind, r.compare_type, r.key.as_deref(), value)
            .map_err(|refused| grammar::Refused(refused.reason()))
    })?;
    let key = || -> Result<String, RenderError> {
        let key = key.ok_or(RenderError::Missing {
            field: "l7rule.key",
        })?;
        word("l7rule.key", key, Ok)
    };
    let pattern = word("l7rule.value", value, Ok)?;
    let method = match r.compare_type {
        L7CompareType::Regex => "-m reg",
        L7CompareType::StartsWith => "-m beg",
        L7CompareType::EndsWith => "-m end",
        L7CompareType::Contains => "-m sub",
        L7CompareType::EqualTo => "-m str",
    };
    Ok(match r.kind {
        L7RuleType::HostName => format!("req.hdr(host) -i {method} -- {pattern}"),
        L7RuleType::Path => format!("path {method} -- {pattern}"),
        // `path_end` matches the end already; a regular expression overrides it.
        L7RuleType::FileType if r.compare_type == L7CompareType::EqualTo => {
            format!("path_end -- {pattern}")
        }
        L7RuleType::FileType => format!("path_end {method} -- {pattern}"),
        L7RuleType::Header => format!("req.hdr({}) {method} -- {pattern}", key()?),
        L7RuleType::Cookie => format!("req.cook({}) {method} -- {pattern}", key()?),
        L7RuleType::SslConnHasCert => "ssl_c_used".to_owned(),
        L7RuleType::SslVerifyResult => format!("ssl_c_verify eq {pattern}"),
        L7RuleType::SslDnField => format!("ssl_c_s_dn({}) {method} -- {pattern}", key()?),
    })
}

/// A value checked by `check`, escaped as one HAProxy word.
fn word<'a>(
    field: &'static str,
    value: &'a str,
    check: impl FnOnce(&'a str) -> Result<&'a str, grammar::Refused>,
) -> Result<String, RenderError> {
    let value = validate::grammar(field, value, check)?;
    grammar::haproxy_word(value).ok_or_else(|| RenderError::UnsafeValue {
        field,
        value: value.to_owned(),
    })
}
