//! What the amphora's data plane cannot honour yet, refused in one place.
//!
//! A field stored and reported ACTIVE but not enforced (an access list, a listener
//! that serves nothing) would make a user believe in a restriction or a service that
//! does not exist. Until the data plane implements them, creates and updates that
//! would need them answer 501, as Octavia's providers answer options they lack. The
//! `noop_driver` provider has no data plane at all and takes everything, as Octavia's.

use super::*;
use krater_domain::{Listener, ListenerProtocol, Pool, PoolProtocol};

pub(super) const NOOP_PROVIDER: &str = "noop_driver";

/// Headers Octavia accepts on HTTP listeners but no amphora inserts.
const HEADERS_NOT_INSERTED: &[&str] = &["X-Forwarded-IP", "X-Client-IP", "X-Real-IP"];

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
    if !listener.allowed_cidrs.is_empty() {
        return Err(ApiError::unsupported_option(
            provider,
            "allowed_cidrs are not enforced yet; leave them empty.",
        ));
    }
    if let Some((header, _)) = listener.insert_headers.iter().find(|(key, value)| {
        HEADERS_NOT_INSERTED.contains(&key.as_str()) && value.eq_ignore_ascii_case("true")
    }) {
        return Err(ApiError::unsupported_option(
            provider,
            format!("the {header} header cannot be inserted yet."),
        ));
    }
    Ok(())
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
