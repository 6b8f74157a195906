//! TLS options of listeners and pools. Octavia stores them on every listener and pool,
//! whether or not it terminates or originates TLS, and echoes them back; they reach an
//! HAProxy configuration only on TLS objects, after the checks of an update.

/// The TLS options of a listener or a pool; `None` is "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// An OpenSSL cipher string.
    pub ciphers: Option<String>,
    pub versions: Option<Vec<String>>,
    pub alpn_protocols: Option<Vec<String>>,
}

/// The TLS versions a listener or pool may name.
pub const TLS_VERSIONS: &[&str] = &["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

/// The ALPN protocol ids a listener or pool may name.
pub const ALPN_PROTOCOLS: &[&str] = &["http/1.0", "http/1.1", "h2"];

/// Versions used when an update resets them (Octavia's default setting).
pub const DEFAULT_TLS_VERSIONS: &[&str] = &["TLSv1.2", "TLSv1.3"];

/// ALPN protocols used when an update of a listener resets them.
pub const DEFAULT_LISTENER_ALPN_PROTOCOLS: &[&str] = &["h2", "http/1.1", "http/1.0"];

/// Ciphers used when an update resets them (Octavia's default setting: modern AEAD
/// suites with forward secrecy).
pub const DEFAULT_TLS_CIPHERS: &str = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:\
TLS_CHACHA20_POLY1305_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:\
ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:\
DHE-RSA-CHACHA20-POLY1305";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_among_the_allowed_values() {
        assert!(DEFAULT_TLS_VERSIONS
            .iter()
            .all(|v| TLS_VERSIONS.contains(v)));
        assert!(DEFAULT_LISTENER_ALPN_PROTOCOLS
            .iter()
            .all(|p| ALPN_PROTOCOLS.contains(p)));
        assert_eq!(DEFAULT_TLS_CIPHERS.split(':').count(), 12);
    }
}
