//! Closed enums for every enumerated field, with Octavia's spellings.

use std::fmt;
use std::str::FromStr;

/// Declares a closed enum whose variants map one-to-one onto Octavia's strings.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Octavia's spelling of the value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { allowed: Self::ALL.iter().map(|v| v.as_str()).collect() }),
                }
            }
        }
    };
}

/// A string that is not one of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// The values that would have been accepted.
    pub allowed: Vec<&'static str>,
}

string_enum!(
    /// Whether the control plane has finished applying an object.
    ProvisioningStatus {
        PendingCreate => "PENDING_CREATE",
        PendingUpdate => "PENDING_UPDATE",
        PendingDelete => "PENDING_DELETE",
        Active => "ACTIVE",
        Error => "ERROR",
        Deleted => "DELETED",
    }
);

impl ProvisioningStatus {
    /// True for the three PENDING_* states, in which an object is immutable.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            Self::PendingCreate | Self::PendingUpdate | Self::PendingDelete
        )
    }
}

string_enum!(
    /// What the data plane observes of an object.
    OperatingStatus {
        Online => "ONLINE",
        Offline => "OFFLINE",
        Degraded => "DEGRADED",
        Error => "ERROR",
        Draining => "DRAINING",
        NoMonitor => "NO_MONITOR",
    }
);

string_enum!(
    /// Protocol a listener accepts.
    ListenerProtocol {
        Http => "HTTP",
        Https => "HTTPS",
        Tcp => "TCP",
        TerminatedHttps => "TERMINATED_HTTPS",
        Udp => "UDP",
        Sctp => "SCTP",
        Prometheus => "PROMETHEUS",
    }
);

string_enum!(
    /// Protocol a pool speaks to its members.
    PoolProtocol {
        Tcp => "TCP",
        Http => "HTTP",
        Https => "HTTPS",
        Proxy => "PROXY",
        ProxyV2 => "PROXYV2",
        Udp => "UDP",
        Sctp => "SCTP",
    }
);

/// Layer-4 family of a listener: ports must be unique per family on a load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4Family {
    Tcp,
    Udp,
    Sctp,
}

impl ListenerProtocol {
    /// The transport the listener's port belongs to.
    pub fn l4_family(self) -> L4Family {
        match self {
            Self::Udp => L4Family::Udp,
            Self::Sctp => L4Family::Sctp,
            _ => L4Family::Tcp,
        }
    }

    /// Pool protocols a listener of this protocol may use (Octavia's table).
    pub fn allowed_pool_protocols(self) -> &'static [PoolProtocol] {
        use PoolProtocol as P;
        match self {
            Self::Tcp => &[P::Http, P::Https, P::Proxy, P::ProxyV2, P::Tcp],
            Self::Http => &[P::Http, P::Proxy, P::ProxyV2],
            Self::Https => &[P::Https, P::Proxy, P::ProxyV2, P::Tcp],
            Self::TerminatedHttps => &[P::Http, P::Proxy, P::ProxyV2],
            Self::Udp => &[P::Udp],
            Self::Sctp => &[P::Sctp],
            Self::Prometheus => &[],
        }
    }
}

string_enum!(
    /// How a pool spreads connections over its members.
    LbAlgorithm {
        RoundRobin => "ROUND_ROBIN",
        LeastConnections => "LEAST_CONNECTIONS",
        SourceIp => "SOURCE_IP",
        SourceIpPort => "SOURCE_IP_PORT",
    }
);

string_enum!(
    /// Session persistence of a pool.
    SessionPersistenceType {
        AppCookie => "APP_COOKIE",
        HttpCookie => "HTTP_COOKIE",
        SourceIp => "SOURCE_IP",
    }
);

string_enum!(
    /// Kind of health check.
    HealthMonitorType {
        Http => "HTTP",
        Https => "HTTPS",
        Ping => "PING",
        Tcp => "TCP",
        TlsHello => "TLS-HELLO",
        UdpConnect => "UDP-CONNECT",
        Sctp => "SCTP",
    }
);

impl HealthMonitorType {
    /// HTTP and HTTPS monitors carry a method, a path and expected codes.
    pub fn is_http(self) -> bool {
        matches!(self, Self::Http | Self::Https)
    }
}

string_enum!(
    /// HTTP method of an HTTP(S) health check.
    HttpMethod {
        Get => "GET",
        Head => "HEAD",
        Post => "POST",
        Put => "PUT",
        Delete => "DELETE",
        Trace => "TRACE",
        Options => "OPTIONS",
        Connect => "CONNECT",
        Patch => "PATCH",
    }
);

string_enum!(
    /// Lifecycle of an amphora.
    AmphoraStatus {
        PendingCreate => "PENDING_CREATE",
        Booting => "BOOTING",
        Allocated => "ALLOCATED",
        Ready => "READY",
        PendingDelete => "PENDING_DELETE",
        Deleted => "DELETED",
        Error => "ERROR",
        FailoverStopped => "FAILOVER_STOPPED",
    }
);

string_enum!(
    /// Role of an amphora in its load balancer's topology.
    AmphoraRole {
        Master => "MASTER",
        Backup => "BACKUP",
        Standalone => "STANDALONE",
    }
);

impl AmphoraStatus {
    /// Whether an amphora in this state runs its load balancer's data plane, and so
    /// gets its configuration: ALLOCATED, or FAILOVER_STOPPED (the storm guard held
    /// its failover back; it may well be serving).
    pub fn serves(self) -> bool {
        matches!(
            self,
            AmphoraStatus::Allocated | AmphoraStatus::FailoverStopped
        )
    }
}

impl AmphoraRole {
    /// The VRRP priority of an amphora in this role (Octavia's 100 and 90); none
    /// for a STANDALONE amphora, which runs no VRRP.
    pub fn vrrp_priority(self) -> Option<i64> {
        match self {
            AmphoraRole::Master => Some(100),
            AmphoraRole::Backup => Some(90),
            AmphoraRole::Standalone => None,
        }
    }
}

string_enum!(
    /// How many amphorae carry a load balancer.
    Topology {
        Single => "SINGLE",
        ActiveStandby => "ACTIVE_STANDBY",
    }
);

string_enum!(
    /// What an L7 policy does with a request all of whose rules match.
    L7PolicyAction {
        Reject => "REJECT",
        RedirectToUrl => "REDIRECT_TO_URL",
        RedirectToPool => "REDIRECT_TO_POOL",
        RedirectPrefix => "REDIRECT_PREFIX",
    }
);

impl L7PolicyAction {
    /// Whether the action answers with a redirect (and so has a redirect code).
    pub fn redirects(self) -> bool {
        matches!(self, Self::RedirectToUrl | Self::RedirectPrefix)
    }
}

string_enum!(
    /// The part of a request an L7 rule looks at.
    L7RuleType {
        HostName => "HOST_NAME",
        Path => "PATH",
        FileType => "FILE_TYPE",
        Header => "HEADER",
        Cookie => "COOKIE",
        SslConnHasCert => "SSL_CONN_HAS_CERT",
        SslVerifyResult => "SSL_VERIFY_RESULT",
        SslDnField => "SSL_DN_FIELD",
    }
);

string_enum!(
    /// How an L7 rule compares that part with its value.
    L7CompareType {
        Regex => "REGEX",
        StartsWith => "STARTS_WITH",
        EndsWith => "ENDS_WITH",
        Contains => "CONTAINS",
        EqualTo => "EQUAL_TO",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip() {
        for p in ListenerProtocol::ALL {
            assert_eq!(p.as_str().parse::<ListenerProtocol>(), Ok(*p));
        }
        assert_eq!("TLS-HELLO".parse(), Ok(HealthMonitorType::TlsHello));
        let err = "http".parse::<ListenerProtocol>().unwrap_err();
        assert!(err.allowed.contains(&"HTTP"));
    }

    #[test]
    fn pool_protocol_table_matches_octavia() {
        use ListenerProtocol as L;
        use PoolProtocol as P;
        assert!(L::Http.allowed_pool_protocols().contains(&P::Http));
        assert!(!L::Http.allowed_pool_protocols().contains(&P::Tcp));
        assert!(L::Https.allowed_pool_protocols().contains(&P::Tcp));
        assert!(L::Prometheus.allowed_pool_protocols().is_empty());
        assert_eq!(L::TerminatedHttps.l4_family(), L4Family::Tcp);
        assert_eq!(L::Udp.l4_family(), L4Family::Udp);
    }
}
