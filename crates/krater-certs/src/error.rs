//! The error type of the CA, certificate files and TLS configuration.

use std::path::PathBuf;

/// Why a certificate could not be created, loaded or turned into a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// Reading or writing a file or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Only one of a certificate/key file pair exists; refusing to overwrite it.
    #[error("{present} exists but {missing} does not; restore it or remove both")]
    IncompletePair {
        /// The file found.
        present: PathBuf,
        /// The file missing.
        missing: PathBuf,
    },
    /// Generating a key or certificate failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// PEM input holds no usable certificate or key.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// A certificate could not be parsed or does not fit its use.
    #[error("invalid certificate: {0}")]
    Certificate(String),
    /// A name cannot be used as a TLS server name (DNS name).
    #[error("{0:?} is not a valid DNS name")]
    InvalidName(String),
    /// A validity period is out of range.
    #[error("validity period out of range")]
    Validity,
    /// rustls rejected the configuration (e.g. a key that does not match its certificate).
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// A certificate verifier could not be built (e.g. no usable CA certificate).
    #[error("certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}
