//! The version 3 heartbeat message and helpers to classify the statuses it carries.
//!
//! ```json
//! {"id": "<amphora id>", "seq": 42, "ver": 3,
//!  "listeners": {"<listener id>": {"status": "OPEN",
//!                                  "stats": {"tx": 0, "rx": 0, "conns": 0, "totconns": 0, "ereq": 0}}},
//!  "pools": {"<pool id>:<listener id>": {"status": "UP", "members": {"<member id>": "UP"}}},
//!  "bundle_version": "<sha-256>"}
//! ```
//!
//! `bundle_version`, the version of the bundle the amphora runs, is krater's own key:
//! Octavia's health manager reads only the keys it knows, and its amphorae send none.
//!
//! In version 3, `tx`, `rx`, `totconns` and `ereq` are deltas since the previous
//! heartbeat while `conns` is absolute. Statuses are kept as the strings the sender
//! wrote; [`ListenerStatus`], [`PoolStatus`] and [`MemberStatus`] classify them the way
//! Octavia's health manager does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The message version krater sends.
pub const MESSAGE_VERSION: u32 = 3;

/// Version assumed when a message carries no `ver` field (Octavia's default).
fn default_version() -> u32 {
    1
}

/// One heartbeat from an amphora.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatMessage {
    /// The amphora id.
    pub id: String,
    /// Sequence number, from 0, incremented per heartbeat sent.
    #[serde(default)]
    pub seq: u64,
    /// Message format version; 1 when absent.
    #[serde(default = "default_version")]
    pub ver: u32,
    /// Listener health and counters, by listener id.
    #[serde(default)]
    pub listeners: BTreeMap<String, ListenerHealth>,
    /// Pool health, keyed `"<pool id>:<listener id>"` (or just the pool id for LVS
    /// listeners); see [`split_pool_key`].
    #[serde(default)]
    pub pools: BTreeMap<String, PoolHealth>,
    /// The version of the bundle the amphora runs (krater's agent only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_version: Option<String>,
    /// The agent's run: a random id chosen when it starts, so that `seq` starting
    /// over after a restart is not taken for a replay (krater's agent only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<String>,
    /// When the agent sent it, in milliseconds since the Unix epoch; an old datagram
    /// is dropped (krater's agent only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_ms: Option<u64>,
}

impl HeartbeatMessage {
    /// An empty version 3 message for amphora `id` with sequence number `seq`.
    pub fn new(id: impl Into<String>, seq: u64) -> Self {
        Self {
            id: id.into(),
            seq,
            ver: MESSAGE_VERSION,
            listeners: BTreeMap::new(),
            pools: BTreeMap::new(),
            bundle_version: None,
            boot: None,
            sent_ms: None,
        }
    }

    /// Stamps the message as krater's agent sends it: its run `boot`, sent now.
    pub fn stamp(&mut self, boot: &str) {
        self.boot = Some(boot.to_owned());
        self.sent_ms = Some(unix_ms());
    }
}

/// Milliseconds since the Unix epoch, the clock of `sent_ms`.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|since| u64::try_from(since.as_millis()).ok())
        .unwrap_or(0)
}

/// A listener's reported status and counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerHealth {
    /// `"OPEN"`, `"FULL"` or another string; see [`ListenerStatus::classify`].
    pub status: String,
    /// Traffic counters.
    #[serde(default)]
    pub stats: ListenerStats,
}

/// A listener's counters (deltas in version 3, except `conns`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerStats {
    /// Bytes sent to clients.
    #[serde(default)]
    pub tx: u64,
    /// Bytes received from clients.
    #[serde(default)]
    pub rx: u64,
    /// Currently active connections (absolute).
    #[serde(default)]
    pub conns: u64,
    /// Connections accepted.
    #[serde(default)]
    pub totconns: u64,
    /// Request errors.
    #[serde(default)]
    pub ereq: u64,
}

/// A pool's reported status and its members' statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolHealth {
    /// `"UP"`, `"DOWN"` or another string; see [`PoolStatus::classify`].
    pub status: String,
    /// Member statuses by member id, free strings such as `"UP"`, `"DOWN 1/2"`,
    /// `"DRAIN"`, `"MAINT"` or `"no check"`; see [`MemberStatus::classify`].
    #[serde(default)]
    pub members: BTreeMap<String, String>,
}

/// Splits a pool key `"<pool id>:<listener id>"` into its parts; a key without a colon
/// is a bare pool id.
pub fn split_pool_key(key: &str) -> (&str, Option<&str>) {
    match key.split_once(':') {
        Some((pool, listener)) => (pool, Some(listener)),
        None => (key, None),
    }
}

/// Classification of a listener status string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerStatus {
    /// `"OPEN"`: accepting connections.
    Open,
    /// `"FULL"`: at its connection limit.
    Full,
    /// Anything else.
    Other,
}

impl ListenerStatus {
    /// Classifies a reported listener status (exact, case-sensitive match).
    pub fn classify(status: &str) -> Self {
        match status {
            "OPEN" => Self::Open,
            "FULL" => Self::Full,
            _ => Self::Other,
        }
    }
}

/// Classification of a pool status string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolStatus {
    /// `"UP"`: the backend has working servers, or none.
    Up,
    /// `"DOWN"`: the backend has no working server.
    Down,
    /// Anything else.
    Other,
}

impl PoolStatus {
    /// Classifies a reported pool status (exact, case-sensitive match).
    pub fn classify(status: &str) -> Self {
        match status {
            "UP" => Self::Up,
            "DOWN" => Self::Down,
            _ => Self::Other,
        }
    }
}

/// Classification of a member status string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    /// `"UP"` or transitional `"UP n/m"` (any string starting with `UP`).
    Up,
    /// `"DOWN"` or transitional `"DOWN n/m"` (any string starting with `DOWN`).
    Down,
    /// `"DRAIN"`: up with weight 0.
    Drain,
    /// `"MAINT"`: administratively disabled.
    Maint,
    /// `"no check"`: no health monitor.
    NoCheck,
    /// Anything else.
    Other,
}

impl MemberStatus {
    /// Classifies a reported member status as Octavia's health manager does: prefixes
    /// `UP`/`DOWN`, otherwise exact matches.
    pub fn classify(status: &str) -> Self {
        if status.starts_with("UP") {
            Self::Up
        } else if status.starts_with("DOWN") {
            Self::Down
        } else {
            match status {
                "DRAIN" => Self::Drain,
                "MAINT" => Self::Maint,
                "no check" => Self::NoCheck,
                _ => Self::Other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_statuses() {
        for (s, want) in [
            ("UP", MemberStatus::Up),
            ("UP 1/3", MemberStatus::Up),
            ("DOWN", MemberStatus::Down),
            ("DOWN 1/2", MemberStatus::Down),
            ("DRAIN", MemberStatus::Drain),
            ("MAINT", MemberStatus::Maint),
            ("no check", MemberStatus::NoCheck),
            ("NOLB", MemberStatus::Other),
            ("", MemberStatus::Other),
        ] {
            assert_eq!(MemberStatus::classify(s), want, "{s:?}");
        }
    }

    #[test]
    fn listener_and_pool_statuses() {
        assert_eq!(ListenerStatus::classify("OPEN"), ListenerStatus::Open);
        assert_eq!(ListenerStatus::classify("FULL"), ListenerStatus::Full);
        assert_eq!(ListenerStatus::classify("open"), ListenerStatus::Other);
        assert_eq!(PoolStatus::classify("UP"), PoolStatus::Up);
        assert_eq!(PoolStatus::classify("DOWN"), PoolStatus::Down);
        assert_eq!(PoolStatus::classify("UP 1/2"), PoolStatus::Other);
    }

    #[test]
    fn pool_keys() {
        assert_eq!(split_pool_key("p:l"), ("p", Some("l")));
        assert_eq!(split_pool_key("p"), ("p", None));
    }

    #[test]
    fn tolerant_decoding() {
        let msg: HeartbeatMessage = serde_json::from_str(
            r#"{"id": "a", "extra": [1], "listeners": {"l": {"status": "OPEN", "x": 1}}}"#,
        )
        .expect("parses");
        assert_eq!(msg.seq, 0);
        assert_eq!(msg.ver, 1);
        assert!(msg.pools.is_empty());
        assert_eq!(msg.listeners["l"].stats, ListenerStats::default());
        let msg: HeartbeatMessage =
            serde_json::from_str(r#"{"id": "a", "pools": {"p:l": {"status": "DOWN"}}}"#)
                .expect("parses");
        assert!(msg.pools["p:l"].members.is_empty());
    }
}
