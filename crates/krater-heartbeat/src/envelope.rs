//! The signed, compressed heartbeat envelope, byte-compatible with Octavia.
//!
//! Layout: `zlib(json, level 9) ‖ hmac` where `hmac` is HMAC-SHA256 keyed with the
//! UTF-8 bytes of `heartbeat_key` over the compressed bytes, appended as 64 lowercase
//! hex ASCII characters. On decode the legacy form, 32 raw digest bytes, is accepted
//! too (tried second, as Octavia does). Digests are compared in constant time.

use std::io::Write;

use flate2::{write::ZlibEncoder, Compression, Decompress, FlushDecompress, Status};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::HeartbeatError;

/// Largest datagram accepted (and produced): 64 KiB.
pub const MAX_DATAGRAM_LEN: usize = 64 * 1024;
/// Largest inflated payload accepted, a guard against zlib bombs: 1 MiB.
pub const MAX_DECOMPRESSED_LEN: usize = 1024 * 1024;

const RAW_DIGEST_LEN: usize = 32;
const HEX_DIGEST_LEN: usize = 2 * RAW_DIGEST_LEN;

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &str, payload: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(payload);
    mac
}

/// Compresses `json` (zlib, level 9) and appends its hex HMAC-SHA256 under `key`.
///
/// Fails with [`HeartbeatError::TooLarge`] if the envelope would not fit in one
/// datagram of [`MAX_DATAGRAM_LEN`] bytes.
pub fn wrap_envelope(json: &[u8], key: &str) -> Result<Vec<u8>, HeartbeatError> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(json)?;
    let mut envelope = encoder.finish()?;
    let digest = mac(key, &envelope).finalize().into_bytes();
    envelope.extend_from_slice(hex::encode(digest).as_bytes());
    if envelope.len() > MAX_DATAGRAM_LEN {
        return Err(HeartbeatError::TooLarge {
            len: envelope.len(),
            limit: MAX_DATAGRAM_LEN,
        });
    }
    Ok(envelope)
}

/// Verifies the HMAC of a received datagram under `key` and returns the inflated JSON.
///
/// The hex digest form is tried first, then the legacy raw form. A datagram larger than
/// [`MAX_DATAGRAM_LEN`], a digest mismatch, an incomplete zlib stream or a payload that
/// inflates past [`MAX_DECOMPRESSED_LEN`] is an error.
pub fn unwrap_envelope(datagram: &[u8], key: &str) -> Result<Vec<u8>, HeartbeatError> {
    if datagram.len() > MAX_DATAGRAM_LEN {
        return Err(HeartbeatError::TooLarge {
            len: datagram.len(),
            limit: MAX_DATAGRAM_LEN,
        });
    }
    if datagram.len() <= RAW_DIGEST_LEN {
        return Err(HeartbeatError::TooShort(datagram.len()));
    }
    let payload = verify_hex(datagram, key)
        .or_else(|| verify_raw(datagram, key))
        .ok_or(HeartbeatError::BadHmac)?;
    inflate(payload)
}

/// Returns the payload if `datagram` ends in the matching lowercase hex digest.
fn verify_hex<'a>(datagram: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let split = datagram.len().checked_sub(HEX_DIGEST_LEN)?;
    let (payload, received) = datagram.split_at(split);
    let expected = hex::encode(mac(key, payload).finalize().into_bytes());
    bool::from(expected.as_bytes().ct_eq(received)).then_some(payload)
}

/// Returns the payload if `datagram` ends in the matching raw 32-byte digest.
fn verify_raw<'a>(datagram: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let split = datagram.len().checked_sub(RAW_DIGEST_LEN)?;
    let (payload, received) = datagram.split_at(split);
    mac(key, payload)
        .verify_slice(received)
        .ok()
        .map(|()| payload)
}

/// Inflates a complete zlib stream, refusing output beyond [`MAX_DECOMPRESSED_LEN`].
///
/// Bytes after the end of the stream are ignored, as Python's `zlib.decompress` does.
fn inflate(payload: &[u8]) -> Result<Vec<u8>, HeartbeatError> {
    let mut inflater = Decompress::new(true);
    let mut out: Vec<u8> = Vec::new();
    loop {
        if out.len() > MAX_DECOMPRESSED_LEN {
            return Err(HeartbeatError::DecompressedTooLarge {
                limit: MAX_DECOMPRESSED_LEN,
            });
        }
        if out.len() == out.capacity() {
            // Grow geometrically, but never past one byte beyond the limit, so that a
            // bomb is detected after at most that much output.
            let target = (out.len() * 2).clamp(4 * 1024, MAX_DECOMPRESSED_LEN + 1);
            out.reserve_exact(target - out.len());
        }
        let consumed = usize::try_from(inflater.total_in())
            .map_err(|e| HeartbeatError::Decompress(e.to_string()))?;
        let input = payload.get(consumed..).unwrap_or_default();
        let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress_vec(input, &mut out, FlushDecompress::None)
            .map_err(|e| HeartbeatError::Decompress(e.to_string()))?;
        match status {
            Status::StreamEnd if out.len() <= MAX_DECOMPRESSED_LEN => return Ok(out),
            Status::StreamEnd => {
                return Err(HeartbeatError::DecompressedTooLarge {
                    limit: MAX_DECOMPRESSED_LEN,
                })
            }
            Status::Ok | Status::BufError => {
                let stalled =
                    inflater.total_in() == in_before && inflater.total_out() == out_before;
                if stalled && out.len() < out.capacity() {
                    return Err(HeartbeatError::Decompress(
                        "incomplete or truncated stream".to_owned(),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_bytes() {
        let env = wrap_envelope(b"{\"id\":\"x\"}", "k").expect("wrap");
        assert_eq!(
            unwrap_envelope(&env, "k").expect("unwrap"),
            b"{\"id\":\"x\"}"
        );
    }

    #[test]
    fn hex_digest_is_lowercase_ascii() {
        let env = wrap_envelope(b"{}", "k").expect("wrap");
        let tail = &env[env.len() - HEX_DIGEST_LEN..];
        assert!(tail
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)));
    }

    #[test]
    fn uppercase_hex_digest_is_rejected() {
        let mut env = wrap_envelope(b"{}", "k").expect("wrap");
        let n = env.len();
        env[n - HEX_DIGEST_LEN..].make_ascii_uppercase();
        // The digest of this fixed input contains hex letters, so uppercasing changed it.
        assert!(env[n - HEX_DIGEST_LEN..].iter().any(u8::is_ascii_uppercase));
        assert!(matches!(
            unwrap_envelope(&env, "k"),
            Err(HeartbeatError::BadHmac)
        ));
    }

    #[test]
    fn too_short_and_too_large() {
        assert!(matches!(
            unwrap_envelope(&[0; 32], "k"),
            Err(HeartbeatError::TooShort(32))
        ));
        assert!(matches!(
            unwrap_envelope(&vec![0; MAX_DATAGRAM_LEN + 1], "k"),
            Err(HeartbeatError::TooLarge { .. })
        ));
    }

    #[test]
    fn zlib_bomb_is_refused() {
        // 8 MiB of zeros compresses to a few KiB; correctly signed, still refused.
        let bomb = vec![b' '; 8 * MAX_DECOMPRESSED_LEN];
        let env = wrap_envelope(&bomb, "k").expect("wrap");
        assert!(env.len() < MAX_DATAGRAM_LEN);
        assert!(matches!(
            unwrap_envelope(&env, "k"),
            Err(HeartbeatError::DecompressedTooLarge { .. })
        ));
    }

    #[test]
    fn exactly_the_limit_inflates() {
        let data = vec![b' '; MAX_DECOMPRESSED_LEN];
        let env = wrap_envelope(&data, "k").expect("wrap");
        assert_eq!(
            unwrap_envelope(&env, "k").expect("unwrap").len(),
            data.len()
        );
    }

    #[test]
    fn signed_truncated_zlib_stream_is_refused() {
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::best());
        enc.write_all(b"{\"id\":\"amp\",\"seq\":1}").expect("write");
        let mut compressed = enc.finish().expect("finish");
        compressed.truncate(compressed.len() - 5);
        let digest = mac("k", &compressed).finalize().into_bytes();
        compressed.extend_from_slice(hex::encode(digest).as_bytes());
        assert!(matches!(
            unwrap_envelope(&compressed, "k"),
            Err(HeartbeatError::Decompress(_))
        ));
    }
}
