//! UDP listeners, which the amphora serves with nftables rather than HAProxy
//! (DESIGN §6): what the controller sends of them in a bundle (the agent API's
//! `AmphoraBundle::nat_listeners`).
//!
//! The controller sends what to serve, not a ruleset: which members serve a listener
//! at a given moment is the agent's own business, since its health checks take dead
//! members out and put them back without the controller. The agent renders the
//! ruleset ([`crate::render_nftables`]) from these and the members' health.
//!
//! Every field is typed (addresses, ports, ids, codes), so nothing a user wrote can
//! reach a ruleset as text. The one string, an HTTP check's path and host, goes into
//! the agent's own request only, and is checked when a bundle is read.

use std::fmt;
use std::net::IpAddr;
use std::num::{NonZeroU16, NonZeroU32};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest path or host name of an HTTP health check.
const MAX_CHECK_TEXT: usize = 2048;

/// A UDP listener of a load balancer on this amphora.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatListener {
    #[serde(deserialize_with = "listener_id")]
    pub listener_id: String,
    /// The VIP; packets to `vip:port` are balanced over the pool's members.
    pub vip: IpAddr,
    pub port: NonZeroU16,
    /// Clients allowed to reach the listener; none: every client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_cidrs: Vec<Network>,
    /// The most flows the listener has at once; none: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_limit: Option<NonZeroU32>,
    /// The default pool, when it is enabled; none: packets are dropped.
    pub pool: Option<NatPool>,
}

/// The pool of a UDP listener: its enabled members, all of the VIP's address family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatPool {
    #[serde(deserialize_with = "pool_id")]
    pub pool_id: String,
    pub algorithm: NatAlgorithm,
    pub members: Vec<NatMember>,
    /// The health monitor, when it is enabled; none: every member serves.
    pub monitor: Option<NatMonitor>,
}

/// How a new flow picks its member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum NatAlgorithm {
    /// In turn, each member as often as its weight says.
    RoundRobin,
    /// By a hash of the client's address under `mask` (the pool's
    /// `persistence_granularity`; none: the whole address), so that a client keeps
    /// its member as long as the members serving do not change.
    SourceIp { mask: Option<IpAddr> },
}

/// An enabled member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatMember {
    #[serde(deserialize_with = "member_id")]
    pub member_id: String,
    pub address: IpAddr,
    pub port: NonZeroU16,
    /// 0: draining, no new flows.
    pub weight: u16,
    /// Serves only while no other member can.
    pub backup: bool,
    /// Where the health check goes instead of `address` and `port`.
    pub monitor_address: Option<IpAddr>,
    pub monitor_port: Option<NonZeroU16>,
}

/// A health monitor, run by the agent itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatMonitor {
    pub check: NatCheck,
    /// Seconds between two checks of a member; at least 1.
    pub delay: u32,
    /// Seconds a check may take.
    pub timeout: u32,
    /// Checks passed in a row that bring a member up (`max_retries`).
    pub rise: u8,
    /// Checks failed in a row that take a member down (`max_retries_down`).
    pub fall: u8,
}

/// What one check does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum NatCheck {
    /// A datagram to the member; it fails when the member's host answers that the
    /// port is closed (ICMP unreachable), as Octavia's UDP-CONNECT does.
    UdpConnect,
    /// A TCP connection to the member.
    Tcp,
    /// An HTTP request; it passes when the status is one of `expected_codes`.
    Http {
        method: HttpCheckMethod,
        #[serde(deserialize_with = "check_text")]
        path: String,
        expected_codes: Vec<u16>,
        /// `Host` of an HTTP/1.1 request; none: HTTP/1.0.
        #[serde(default, deserialize_with = "optional_check_text")]
        host: Option<String>,
    },
}

/// The methods an HTTP check may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HttpCheckMethod {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Trace,
    Options,
    Connect,
    Patch,
}

impl HttpCheckMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Trace => "TRACE",
            Self::Options => "OPTIONS",
            Self::Connect => "CONNECT",
            Self::Patch => "PATCH",
        }
    }
}

/// A network in its canonical CIDR form (`198.18.1.0/24`), as
/// `krater_domain::grammar::cidr` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let refused = || format!("invalid network: {s:?}");
        let canonical = krater_domain::grammar::cidr(s).map_err(|_| refused())?;
        let (addr, len) = canonical.split_once('/').ok_or_else(refused)?;
        Ok(Self {
            addr: addr.parse().map_err(|_| refused())?,
            prefix_len: len.parse().map_err(|_| refused())?,
        })
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Text of an HTTP check (a path, a host): printable ASCII without spaces, so that it
/// stays one word of the request.
pub fn parse_check_text(s: &str) -> Result<String, String> {
    if !s.is_empty() && s.len() <= MAX_CHECK_TEXT && s.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(s.to_owned())
    } else {
        Err(format!("invalid HTTP check text: {s:?}"))
    }
}

/// A canonical (lower-case, hyphenated) UUID.
pub fn parse_uuid(what: &str, s: &str) -> Result<String, String> {
    match uuid::Uuid::try_parse(s) {
        Ok(id) if id.hyphenated().to_string() == s => Ok(s.to_owned()),
        _ => Err(format!("invalid {what}: {s:?}")),
    }
}

fn check_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    parse_check_text(&s).map_err(serde::de::Error::custom)
}

fn optional_check_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| parse_check_text(&s).map_err(serde::de::Error::custom))
        .transpose()
}

fn checked_id<'de, D: Deserializer<'de>>(d: D, what: &'static str) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    parse_uuid(what, &s).map_err(serde::de::Error::custom)
}

fn listener_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked_id(d, "listener id")
}

fn pool_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked_id(d, "pool id")
}

fn member_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked_id(d, "member id")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener_json(path: &str) -> String {
        format!(
            r#"{{"listener_id":"00000000-0000-4000-8000-000000000001","vip":"198.18.1.10","port":53,
            "pool":{{"pool_id":"00000000-0000-4000-8000-000000000002","algorithm":{{"type":"ROUND_ROBIN"}},
            "members":[],"monitor":{{"check":{{"type":"HTTP","method":"GET","path":{path},"expected_codes":[200]}},
            "delay":1,"timeout":1,"rise":1,"fall":1}}}}}}"#
        )
    }

    #[test]
    fn a_listener_reads_back_as_written() {
        let listener: NatListener =
            serde_json::from_str(&listener_json(r#""/health""#)).expect("valid");
        let again: NatListener =
            serde_json::from_str(&serde_json::to_string(&listener).expect("json")).expect("read");
        assert_eq!(listener, again);
    }

    #[test]
    fn check_texts_and_ids_are_checked_when_read() {
        for bad in [r#""/a b""#, r#""/a\r\nX: y""#, r#""""#] {
            assert!(
                serde_json::from_str::<NatListener>(&listener_json(bad)).is_err(),
                "{bad}"
            );
        }
        let bad_id = listener_json(r#""/""#).replace("00000000-0000-4000-8000-000000000001", "x");
        assert!(serde_json::from_str::<NatListener>(&bad_id).is_err());
        let port_zero = listener_json(r#""/""#).replace(r#""port":53"#, r#""port":0"#);
        assert!(serde_json::from_str::<NatListener>(&port_zero).is_err());
    }
}
