//! The control plane's secrets in its data directory: krater's CA, the controller's
//! client certificate, and the heartbeat key. Made at first start, reused after.

use anyhow::Context;
use krater_certs::{CertAuthority, IssuedCert};
use krater_drivers::netns::{AmphoraCertificate, CertificateIssuer};
use krater_drivers::{DriverError, DriverResult};
use std::path::Path;

/// krater's CA, the controller's certificate, and how long the amphorae's are valid.
pub struct Pki {
    pub ca: CertAuthority,
    pub controller: IssuedCert,
    pub amphora_validity: std::time::Duration,
}

impl Pki {
    pub fn load_or_create(
        dir: &Path,
        amphora_validity: std::time::Duration,
    ) -> anyhow::Result<Self> {
        let ca = CertAuthority::load_or_create(dir).context("krater CA")?;
        let controller = krater_certs::load_or_issue_controller_cert(
            dir,
            &ca,
            krater_certs::DEFAULT_CONTROLLER_CERT_VALIDITY,
        )
        .context("controller certificate")?;
        Ok(Self {
            ca,
            controller,
            amphora_validity,
        })
    }
}

impl CertificateIssuer for Pki {
    fn amphora_certificate(&self, amphora_id: &str) -> DriverResult<AmphoraCertificate> {
        let issued = self
            .ca
            .issue_amphora_cert(amphora_id, self.amphora_validity)
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
/// root's only (0600, narrowed when it was wider), in a directory made 0700; processes
/// started together all read the one key the first of them made.
pub fn heartbeat_key(path: &Path) -> anyhow::Result<String> {
    krater_certs::load_or_create_secret(path, || {
        format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
    })
    .context("heartbeat key")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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

        let empty = root.path().join("empty.key");
        std::fs::write(&empty, "\n").expect("write");
        assert!(heartbeat_key(&empty).is_err(), "an empty file is no key");
    }

    #[test]
    fn processes_started_together_share_one_heartbeat_key_and_one_ca() {
        let root = tempfile::tempdir().expect("tempdir");
        let made: Vec<(String, String)> = std::thread::scope(|scope| {
            let starts: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let key = heartbeat_key(&root.path().join("heartbeat.key")).expect("key");
                        let pki = Pki::load_or_create(
                            &root.path().join("certs"),
                            krater_certs::DEFAULT_AMPHORA_CERT_VALIDITY,
                        )
                        .expect("pki");
                        (key, pki.ca.cert_pem().to_owned())
                    })
                })
                .collect();
            starts
                .into_iter()
                .map(|s| s.join().expect("start"))
                .collect()
        });
        assert!(
            made.iter().all(|m| m == &made[0]),
            "every start got the first one's"
        );
        assert_eq!(made[0].0.len(), 64);
    }
}
