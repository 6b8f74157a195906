//! The amphora bundle: everything the data plane of one amphora runs, sent whole by
//! the controller and swapped in whole by the agent.
//!
//! Its [`version`](AmphoraBundle::version) is derived from its content, so two equal
//! bundles have the same version and the controller need not send one the agent
//! applied already. Names in a bundle are checked when it is deserialized: load
//! balancer ids are canonical UUIDs and certificate names are plain file names, so
//! both are safe path components.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::types::{parse_id, ParseError};
use crate::NatListener;

/// Longest certificate file name.
const MAX_CERTIFICATE_NAME: usize = 200;

/// What one amphora runs. Parts that are `None` or empty are not run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmphoraBundle {
    /// `haproxy.cfg` of each load balancer served, by load balancer id; one HAProxy
    /// runs per entry. The configuration names its runtime files under
    /// `"${KRATER_LB_DIR}"`, which the agent sets (see `krater_render::LB_DIR_VAR`).
    #[serde(default, deserialize_with = "load_balancer_ids")]
    pub haproxy: BTreeMap<String, String>,
    /// keepalived's configuration (ACTIVE_STANDBY), checked with `keepalived -t`.
    #[serde(default)]
    pub keepalived: Option<String>,
    /// The UDP listeners of every load balancer served, which the agent serves with
    /// nftables; see [`krater_render::spec`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nat_listeners: Vec<NatListener>,
    /// Certificate files (PEM: certificates and keys) by file name.
    #[serde(default, deserialize_with = "certificate_names")]
    pub certificates: BTreeMap<String, String>,
}

impl AmphoraBundle {
    /// The SHA-256 of the bundle's canonical JSON (fields in declaration order, maps
    /// sorted by key), in lower-case hex: equal bundles, equal versions.
    pub fn version(&self) -> String {
        use sha2::{Digest, Sha256};
        let canonical = serde_json::to_vec(self).expect("a bundle is plain JSON");
        hex(&Sha256::digest(canonical))
    }
}

/// `GET /1.0/bundle` and the answer of `PUT /1.0/bundle`: the version of the bundle
/// the agent runs; `None` before the first one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleStatus {
    pub version: Option<String>,
}

/// A certificate's file name: letters, digits, `.`, `_` and `-`, not starting with
/// `.`, at most 200 bytes.
pub fn parse_certificate_name(s: &str) -> Result<String, ParseError> {
    let ok = !s.is_empty()
        && s.len() <= MAX_CERTIFICATE_NAME
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(ParseError::new("certificate name", s))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A map whose keys each pass `parse`.
fn checked_keys<'de, D: Deserializer<'de>>(
    d: D,
    parse: impl Fn(&str) -> Result<String, ParseError>,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map = BTreeMap::<String, String>::deserialize(d)?;
    for key in map.keys() {
        parse(key).map_err(serde::de::Error::custom)?;
    }
    Ok(map)
}

fn load_balancer_ids<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    checked_keys(d, |key| parse_id("load balancer id", key))
}

fn certificate_names<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    checked_keys(d, parse_certificate_name)
}
