//! Request and response bodies of the agent API, and the typed values inside them.
//!
//! Addresses, prefixes and MAC addresses are parsed when a body is deserialized, so a
//! body that the agent accepts holds nothing but well-formed values: no string from a
//! request ever reaches a command line unparsed.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Version of the API, answered by `GET /` and carried in every path (`/1.0/...`).
pub const API_VERSION: &str = "1.0";

/// Port the agent listens on by default (Octavia's `[haproxy_amphora] bind_port`).
pub const DEFAULT_PORT: u16 = 9443;

/// `GET /`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiVersion {
    pub api_version: String,
}

/// `GET /1.0/info`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub hostname: String,
    pub haproxy_version: String,
    pub api_version: String,
    /// `None` when keepalived is not installed in the amphora.
    pub keepalived_version: Option<String>,
}

/// `POST /1.0/plug/vip/{vip}`: the interface on the VIP network, found by its MAC
/// address, becomes `eth1` of the load-balancing namespace with `vrrp_ip` (prefix of
/// `subnet_cidr`) and, unless `vrrp`, the VIP (a host route) on it. Programs in the
/// namespace may bind the VIP either way.
///
/// Octavia's optional `host_routes`, `additional_vips` and `is_sriov` are not
/// supported yet; unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlugVip {
    pub subnet_cidr: Cidr,
    /// Next hop of the namespace's default route; none for a subnet without gateway.
    #[serde(default)]
    pub gateway: Option<IpAddr>,
    pub mac_address: MacAddress,
    /// The amphora's own address on the VIP subnet.
    pub vrrp_ip: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// The VIP is keepalived's (ACTIVE_STANDBY): it is neither put on the interface
    /// nor announced here, and an address keepalived put there is left alone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vrrp: bool,
}

/// `GET /1.0/plug/vip/{vip}`: whether the VIP is on the VIP interface (`eth1`) now;
/// with ACTIVE_STANDBY, whether keepalived made this amphora the one that answers
/// for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VipStatus {
    pub held: bool,
}

/// One address of a plugged interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedIp {
    pub ip_address: IpAddr,
    pub subnet_cidr: Cidr,
}

/// `POST /1.0/plug/network`: the interface with this MAC address becomes the next
/// free `ethN` (N ≥ 2) of the load-balancing namespace, with these addresses.
///
/// Octavia's `gateway` and `host_routes` of a fixed IP, `vip_net_info` and
/// `is_sriov` are not supported yet; unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlugNetwork {
    pub mac_address: MacAddress,
    #[serde(default)]
    pub fixed_ips: Vec<FixedIp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

/// The agent's new server certificate and its key (PEM), from the controller's CA.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerCertificate {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never a private key in a log.
        f.debug_struct("ServerCertificate").finish_non_exhaustive()
    }
}

/// Body of every error, and of the answers that carry only a message (`{"message":
/// "OK"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl Message {
    /// A message without details.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            details: None,
        }
    }

    /// A message with details.
    pub fn with_details(message: impl Into<String>, details: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            details: Some(details.into()),
        }
    }
}

/// The last path component of `PUT /1.0/loadbalancer/{lb_id}/{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LbAction {
    /// Starts HAProxy; nothing happens when it runs already.
    Start,
    /// Stops HAProxy; nothing happens when it is not running.
    Stop,
    /// Reloads HAProxy without dropping connections; starts it when it is not running.
    Reload,
}

impl LbAction {
    /// The path component.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Reload => "reload",
        }
    }
}

impl fmt::Display for LbAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LbAction {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "start" => Ok(Self::Start),
            "stop" => Ok(Self::Stop),
            "reload" => Ok(Self::Reload),
            _ => Err(ParseError::new("action", s)),
        }
    }
}

/// A value that could not be parsed; names what it should have been.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {value:?}")]
pub struct ParseError {
    pub what: &'static str,
    pub value: String,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, value: &str) -> Self {
        Self {
            what,
            value: value.chars().take(100).collect(),
        }
    }
}

/// An address with a prefix length, `198.18.1.0/24` or `2001:db8::/64`; host bits may
/// be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix_len: u8,
}

impl Cidr {
    /// Fails when the prefix is longer than the address.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Result<Self, ParseError> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix_len > max {
            return Err(ParseError::new("prefix length", &prefix_len.to_string()));
        }
        Ok(Self { addr, prefix_len })
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for Cidr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseError::new("CIDR", s);
        let (addr, len) = s.split_once('/').ok_or_else(err)?;
        let addr: IpAddr = addr.parse().map_err(|_| err())?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let len: u8 = len.parse().map_err(|_| err())?;
        Self::new(addr, len).map_err(|_| err())
    }
}

/// An Ethernet address, written `02:00:5e:00:00:01` (lower case) and read in either
/// case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddress(pub [u8; 6]);

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for MacAddress {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseError::new("MAC address", s);
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next().ok_or_else(err)?;
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(Self(out))
    }
}

/// Serde as the `Display`/`FromStr` string.
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_via_str!(Cidr);
serde_via_str!(MacAddress);
serde_via_str!(LbAction);

/// A load balancer's or amphora's id as it may appear in a path: a UUID in its
/// canonical form (lower-case, hyphenated), which is also a safe file name.
pub fn parse_id(what: &'static str, s: &str) -> Result<String, ParseError> {
    match uuid::Uuid::try_parse(s) {
        Ok(id) if id.hyphenated().to_string() == s => Ok(s.to_owned()),
        _ => Err(ParseError::new(what, s)),
    }
}

/// The `ETag` of an uploaded HAProxy configuration: the MD5 of the body in lower-case
/// hex, as Octavia's agent answers. It detects changes; it protects nothing.
pub fn config_etag(body: &[u8]) -> String {
    use md5::{Digest, Md5};
    format!("{:x}", Md5::digest(body))
}
