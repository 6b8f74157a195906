//! The error type of heartbeat encoding and decoding.

/// Why a heartbeat could not be encoded or a datagram was rejected.
#[derive(Debug, thiserror::Error)]
pub enum HeartbeatError {
    /// The datagram (or the envelope being built) exceeds [`crate::MAX_DATAGRAM_LEN`].
    #[error("heartbeat datagram of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Actual length in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The datagram is too short to hold a digest and a payload.
    #[error("heartbeat datagram of {0} bytes is too short")]
    TooShort(usize),
    /// Neither the hex nor the raw trailing digest matches the payload under the key.
    #[error("heartbeat HMAC does not match")]
    BadHmac,
    /// The signed payload is not a complete zlib stream.
    #[error("heartbeat payload is not valid zlib data: {0}")]
    Decompress(String),
    /// The payload inflates past [`crate::MAX_DECOMPRESSED_LEN`].
    #[error("heartbeat payload inflates past the limit of {limit} bytes")]
    DecompressedTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Compressing the message failed.
    #[error("compressing heartbeat failed: {0}")]
    Compress(#[from] std::io::Error),
    /// The JSON could not be produced or parsed as a heartbeat message.
    #[error("heartbeat JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
}
