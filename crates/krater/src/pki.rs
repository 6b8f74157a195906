//! The control plane's secrets in its data directory: krater's CA, the controller's
//! client certificate, and the heartbeat key. Made at first start, reused after.

use anyhow::Context;
use krater_certs::{CertAuthority, IssuedCert};
use krater_drivers::netns::{AmphoraCertificate, CertificateIssuer};
use krater_drivers::{DriverError, DriverResult};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
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
            .map_err(|e| DriverError::permanent(e.to_string()))?;
        Ok(AmphoraCertificate {
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
            client_ca_pem: self.ca.cert_pem().to_string(),
            expires_at: issued.not_after,
        })
    }
}

/// The heartbeat key: read from `path`, or made (random) when missing. The file is
/// root's only (0600, narrowed when it was wider), in a directory made 0700.
pub fn heartbeat_key(path: &Path) -> anyhow::Result<String> {
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
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
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", path.display()))?;
    let key =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(key.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn the_heartbeat_key_is_root_only() {
        let root = tempfile::tempdir().expect("tempdir");
        let made = root.path().join("data/heartbeat.key");
        let key = heartbeat_key(&made).expect("made");
        assert_eq!(key.len(), 64);
        assert_eq!(mode(&made), 0o600);
        assert_eq!(mode(made.parent().expect("dir")), 0o700);

        let old = root.path().join("old.key");
        std::fs::write(&old, "k3y\n").expect("write");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(heartbeat_key(&old).expect("read"), "k3y");
        assert_eq!(mode(&old), 0o600);
    }
}
