//! Octavia-compatible amphora heartbeats, without any IO.
//!
//! An amphora agent sends its health manager a UDP datagram every heartbeat interval.
//! The datagram is an *envelope* ([`envelope`]): the zlib-compressed (level 9) JSON
//! message followed by its HMAC-SHA256 under the shared `heartbeat_key`, written as 64
//! lowercase hex characters (older senders append the 32 raw digest bytes instead; both
//! are accepted on decode). The JSON is a version 3 [`HeartbeatMessage`] ([`message`]).
//!
//! ```
//! use krater_heartbeat::{decode, encode, HeartbeatMessage};
//!
//! let msg = HeartbeatMessage::new("amp-1", 7);
//! let datagram = encode(&msg, "secret").expect("encodes");
//! assert_eq!(decode(&datagram, "secret").expect("decodes"), msg);
//! assert!(decode(&datagram, "other key").is_err());
//! ```

pub mod envelope;
mod error;
pub mod message;

pub use envelope::{unwrap_envelope, wrap_envelope, MAX_DATAGRAM_LEN, MAX_DECOMPRESSED_LEN};
pub use error::HeartbeatError;
pub use message::{
    split_pool_key, unix_ms, HeartbeatMessage, ListenerHealth, ListenerStats, ListenerStatus,
    MemberStatus, PoolHealth, PoolStatus, MESSAGE_VERSION,
};

/// Serializes `msg` to JSON and wraps it in a signed envelope ready to send.
pub fn encode(msg: &HeartbeatMessage, key: &str) -> Result<Vec<u8>, HeartbeatError> {
    let json = serde_json::to_vec(msg)?;
    wrap_envelope(&json, key)
}

/// Verifies and unwraps a received datagram and parses the message inside.
///
/// Unknown JSON fields are ignored and missing `listeners`/`pools` maps are empty,
/// so messages from older or other senders decode as far as they carry information.
pub fn decode(datagram: &[u8], key: &str) -> Result<HeartbeatMessage, HeartbeatError> {
    let json = unwrap_envelope(datagram, key)?;
    Ok(serde_json::from_slice(&json)?)
}
