//! What the amphora's data plane cannot honour yet, refused in one place.
//!
//! A field stored and reported ACTIVE but not enforced (an access list, a listener
//! that serves nothing) would make a user believe in a restriction or a service that
//! does not exist. Until the data plane implements them, creates and updates that
//! would need them answer 501, as Octavia's providers answer options they lack. The
//! `noop_driver` provider has no data plane at all and takes everything, as Octavia's.

use super::*;
use krater_domain::{
    HealthMonitor, HealthMonitorType, LbAlgorithm, Listener, ListenerProtocol, Pool, PoolProtocol,
    NOOP_PROVIDER,
};

/// What the kernel of the amphorae here lacks: SCTP listeners, pools and monitors
/// cannot be served.
const NO_SCTP: &str = "the amphorae's kernel has no SCTP.";

/// A listener as it would be stored by a create or an update.
pub(super) fn check_listener(provider: &str, listener: &Listener) -> ApiResult<()> {
    if provider == NOOP_PROVIDER {
        return Ok(());
    }
    let refused = match listener.protocol {
        ListenerProtocol::Sctp => format!("SCTP listeners are not available: {NO_SCTP}"),
        ListenerProtocol::Prometheus => "PROMETHEUS listeners are not available yet.".to_owned(),
        _ => return Ok(()),
    };
    Err(ApiError::unsupported_option(provider, refused))
}

/// An L7 policy of `listener`: the amphora renders them on HTTP listeners only, as
/// Octavia's amphora driver does.
pub(super) fn check_l7policy(provider: &str, listener: &Listener) -> ApiResult<()> {
    if provider == NOOP_PROVIDER || listener.protocol == ListenerProtocol::Http {
        return Ok(());
    }
    Err(ApiError::unsupported_option(
        provider,
        format!(
            "{} protocol listeners do not support L7 policies",
            listener.protocol
        ),
    ))
}

/// A pool as it would be stored by a create or an update: UDP pools are balanced
/// by nftables, which can take turns or hash the client's address, not count
/// connections.
pub(super) fn check_pool(provider: &str, pool: &Pool) -> ApiResult<()> {
    if provider == NOOP_PROVIDER {
        return Ok(());
    }
    let refused = match (pool.protocol, pool.lb_algorithm) {
        (PoolProtocol::Sctp, _) => format!("SCTP pools are not available: {NO_SCTP}"),
        (PoolProtocol::Udp, LbAlgorithm::LeastConnections) => {
            "LEAST_CONNECTIONS is not available for UDP pools yet.".to_owned()
        }
        _ => return Ok(()),
    };
    Err(ApiError::unsupported_option(provider, refused))
}

/// A health monitor as it would be stored by a create.
pub(super) fn check_health_monitor(provider: &str, monitor: &HealthMonitor) -> ApiResult<()> {
    if provider != NOOP_PROVIDER && monitor.kind == HealthMonitorType::Sctp {
        return Err(ApiError::unsupported_option(
            provider,
            format!("SCTP health monitors are not available: {NO_SCTP}"),
        ));
    }
    Ok(())
}
