//! The entities of krater (load balancers, listeners, pools, members, health
//! monitors, amphorae), their statuses and the rules that say which status
//! changes are allowed.
//!
//! This crate is pure: no IO, no serde. Wire formats live in `krater-api-types`
//! (REST) and `krater-render` (HAProxy configuration); SQL lives in `krater-db`.

mod enums;
pub mod flow;
pub mod grammar;
mod model;
pub mod status;
mod tls;

pub use enums::*;
pub use model::*;
pub use tls::*;

/// The provider whose load balancers have no amphorae (Octavia's `noop_driver`): it
/// accepts every change and builds nothing.
pub const NOOP_PROVIDER: &str = "noop_driver";

/// Timestamps are naive UTC, as Octavia stores and renders them.
pub type Timestamp = chrono::NaiveDateTime;

/// The current time, truncated to whole seconds as Octavia renders it.
pub fn now() -> Timestamp {
    let now = chrono::Utc::now().naive_utc();
    chrono::DurationRound::duration_trunc(now, chrono::Duration::seconds(1)).unwrap_or(now)
}
