//! The agent's TLS server configuration, replaced whole when the controller rotates
//! the certificate (`PUT /1.0/certificate`): connections made afterwards get the new
//! certificate, open ones keep theirs, and nothing else in the amphora is touched.
//! The client CA never changes. The files are replaced too, so that a restarted agent
//! serves the new certificate.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use krater_agent_api::ServerCertificate;

use crate::error::{ApiError, ApiResult};

/// The configuration in force, and where its certificate and key are kept.
pub(crate) struct Tls {
    current: RwLock<Arc<rustls::ServerConfig>>,
    cert_path: PathBuf,
    key_path: PathBuf,
    client_ca_pem: String,
}

impl Tls {
    /// Reads the certificate, its key and the client CA from their files.
    pub(crate) fn load(
        cert_path: PathBuf,
        key_path: PathBuf,
        client_ca_path: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        };
        let client_ca_pem = read(client_ca_path)?;
        let config =
            krater_certs::server_config(&read(&cert_path)?, &read(&key_path)?, &client_ca_pem)
                .context("TLS configuration")?;
        Ok(Self {
            current: RwLock::new(config),
            cert_path,
            key_path,
            client_ca_pem,
        })
    }

    /// The configuration a new connection gets.
    pub(crate) fn current(&self) -> Arc<rustls::ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Serves `certificate` from now on: refused (400) unless its key matches it and
    /// it makes a usable configuration; stored (0600) before it is swapped in.
    pub(crate) fn replace(&self, certificate: &ServerCertificate) -> ApiResult<()> {
        let config = krater_certs::server_config(
            &certificate.cert_pem,
            &certificate.key_pem,
            &self.client_ca_pem,
        )
        .map_err(|e| ApiError::invalid(format!("unusable certificate: {e}")))?;
        let key = stage(&self.key_path, &certificate.key_pem)?;
        let cert = stage(&self.cert_path, &certificate.cert_pem)?;
        for (staged, path) in [(key, &self.key_path), (cert, &self.cert_path)] {
            staged.persist(path).map_err(|e| {
                ApiError::internal(
                    "Cannot store the certificate",
                    format!("{}: {e}", path.display()),
                )
            })?;
        }
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = config;
        tracing::info!(cert = %self.cert_path.display(), "server certificate replaced");
        Ok(())
    }
}

/// `contents` in a new file (0600) beside `path`, to be renamed over it.
fn stage(path: &std::path::Path, contents: &str) -> ApiResult<tempfile::NamedTempFile> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let write = || -> std::io::Result<tempfile::NamedTempFile> {
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        file.write_all(contents.as_bytes())?;
        file.as_file().sync_all()?;
        Ok(file)
    };
    write().map_err(|e| {
        ApiError::internal(
            "Cannot store the certificate",
            format!("{}: {e}", dir.display()),
        )
    })
}
