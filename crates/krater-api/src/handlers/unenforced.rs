//! What the amphora's data plane cannot honour yet, refused in one place.
//!
//! A field stored and reported ACTIVE but not enforced (an access list, a listener
//! that serves nothing) would make a user believe in a restriction or a service that
//! does not exist. Until the data plane implements them, creates and updates that
//! would need them answer 501, as Octavia's providers answer options they lack. The
//! `noop_driver` provider has no data plane at all and takes everything, as Octavia's.

use super::*;
use krater_domain::{Listener, ListenerProtocol, Pool, PoolProtocol, NOOP_PROVIDER};

/// A listener as it would be stored by a create or an update.
pub(super) fn check_listener(provider: &str, listener: &Listener) -> ApiResult<()> {
    if provider == NOOP_PROVIDER {
        return Ok(());
    }
    if matches!(
        listener.protocol,
        ListenerProtocol::Udp | ListenerProtocol::Sctp | ListenerProtocol::Prometheus
    ) {
        return Err(ApiError::unsupported_option(
            provider,
            format!("{} listeners are not available yet.", listener.protocol),
        ));
    }
    Ok(())
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

/// A pool as it would be stored by a create.
pub(super) fn check_pool(provider: &str, pool: &Pool) -> ApiResult<()> {
    if provider != NOOP_PROVIDER && matches!(pool.protocol, PoolProtocol::Udp | PoolProtocol::Sctp)
    {
        return Err(ApiError::unsupported_option(
            provider,
            format!("{} pools are not available yet.", pool.protocol),
        ));
    }
    Ok(())
}
