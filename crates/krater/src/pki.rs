//! The control plane's secrets in its data directory: krater's CA, the controller's
//! client certificate, and the heartbeat key. Made at first start, reused after.

use anyhow::Context;
use krater_certs::{CertAuthority, IssuedCert};
use krater_drivers::netns::{AmphoraCertificate, CertificateIssuer};
use krater_drivers::{DriverError, DriverResult};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// krater's CA and the controller's certificate.
pub struct Pki {
    pub ca: CertAuthority,
    pub controller: IssuedCert,
}

impl Pki {
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        let ca = CertAuthority::load_or_create(dir).context("krater CA")?;
        let controller = krater_certs::load_or_issue_controller_cert(
            dir,
            &ca,
            krater_certs::DEFAULT_CONTROLLER_CERT_VALIDITY,
        )
        .context("controller certificate")?;
        Ok(Self { ca, controller })
    }
}

impl CertificateIssuer for Pki {
    fn amphora_certificate(&self, amphora_id: &str) -> DriverResult<AmphoraCertificate> {
        let issued = self
            .ca
            .issue_amphora_cert(amphora_id, krater_certs::DEFAULT_AMPHORA_CERT_VALIDITY)
            .map_err(|e| DriverError(e.to_string()))?;
        Ok(AmphoraCertificate {
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
            client_ca_pem: self.ca.cert_pem().to_string(),
            expires_at: issued.not_after,
        })
    }
}

/// The heartbeat key: read from `path`, or made (random, mode 0600) when missing.
pub fn heartbeat_key(path: &Path) -> anyhow::Result<String> {
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let key = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        file.write_all(key.as_bytes())?;
    }
    let key =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(key.trim().to_string())
}
