//! The certificate authority: creation, persistence and issuing of amphora server and
//! controller client certificates.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;

use crate::files::{pair_exists, read, with_dir_lock, write_atomic};
use crate::CertError;

/// File name of the CA certificate in a CA directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key (mode 0600) in a CA directory.
pub const CA_KEY_FILE: &str = "ca.key";
/// File name of the controller's client certificate in a CA directory.
pub const CONTROLLER_CERT_FILE: &str = "client.pem";
/// File name of the controller's client key (mode 0600) in a CA directory.
pub const CONTROLLER_KEY_FILE: &str = "client.key";
/// Common name of the controller's client certificate.
pub const CONTROLLER_COMMON_NAME: &str = "krater-controller";

/// Validity of a newly created CA: ten years.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 86_400);
/// Octavia's validity of an amphora server certificate: 30 days.
pub const DEFAULT_AMPHORA_CERT_VALIDITY: Duration = Duration::from_secs(30 * 86_400);
/// Validity of the controller's client certificate: one year.
pub const DEFAULT_CONTROLLER_CERT_VALIDITY: Duration = Duration::from_secs(365 * 86_400);

/// How far `not_before` is back-dated, to tolerate clocks running behind.
const BACKDATE_SECS: i64 = 3600;
/// Subject common name of a CA created by [`CertAuthority::generate`].
const CA_COMMON_NAME: &str = "krater internal CA";
/// Subject organization of every certificate krater issues.
const ORGANIZATION: &str = "krater";

/// A certificate with its private key, both PEM, and its expiry.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM.
    pub key_pem: String,
    /// End of validity (UTC, whole seconds, exactly as in the certificate).
    pub not_after: NaiveDateTime,
}

impl std::fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCert")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .field("not_after", &self.not_after)
            .finish()
    }
}

/// krater's certificate authority: a self-signed CA certificate and its key.
pub struct CertAuthority {
    cert_pem: String,
    key_pem: String,
    /// The CA as rcgen's issuer (subject name and key identifier used when signing).
    issuer: Certificate,
    key: KeyPair,
}

impl std::fmt::Debug for CertAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAuthority")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

impl CertAuthority {
    /// Creates a new CA in memory: ECDSA P-256, valid for [`CA_VALIDITY`].
    pub fn generate() -> Result<Self, CertError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORGANIZATION);
        params
            .distinguished_name
            .push(DnType::CommonName, CA_COMMON_NAME);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let (not_before, not_after) = validity_window(CA_VALIDITY)?;
        params.not_before = not_before;
        params.not_after = not_after;
        let issuer = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: issuer.pem(),
            key_pem: key.serialize_pem(),
            issuer,
            key,
        })
    }

    /// Loads a CA from its certificate and key PEM, checking that they belong together
    /// and that the certificate is a CA.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CertError> {
        let key = KeyPair::from_pem(key_pem)?;
        let der = first_cert_der(cert_pem)?;
        let x509 = parse_x509(&der)?;
        if !x509.is_ca() {
            return Err(CertError::Certificate(
                "the CA certificate lacks basicConstraints CA:TRUE".into(),
            ));
        }
        if x509.public_key().raw != key.public_key_der().as_slice() {
            return Err(CertError::Certificate(
                "the CA key does not match the CA certificate".into(),
            ));
        }
        // rcgen signs with the issuer's subject name and key identifier; rebuild them
        // from the stored certificate (the re-signed copy itself is not used).
        let issuer = CertificateParams::from_ca_cert_der(&der)?.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            issuer,
            key,
        })
    }

    /// Loads the CA from `dir/ca.pem` and `dir/ca.key`, or, if neither exists, creates
    /// `dir` (mode 0700) and a new CA there (key mode 0600).
    ///
    /// If only one of the two files exists this is an error: a CA key is never
    /// overwritten. Several processes may call this at once: under the directory's
    /// lock, the first makes the CA and the others load it.
    pub fn load_or_create(dir: &Path) -> Result<Self, CertError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        with_dir_lock(dir, || {
            if pair_exists(&cert_path, &key_path)? {
                return Self::from_pem(&read(&cert_path)?, &read(&key_path)?);
            }
            let ca = Self::generate()?;
            write_atomic(&key_path, &ca.key_pem, 0o600)?;
            write_atomic(&cert_path, &ca.cert_pem, 0o644)?;
            Ok(ca)
        })
    }

    /// The CA certificate, PEM: what both sides trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Issues an amphora agent's server certificate: CN and DNS SAN = `amphora_id`,
    /// EKU serverAuth, a fresh P-256 key, valid from now (back-dated an hour for clock
    /// skew) for `validity` ([`DEFAULT_AMPHORA_CERT_VALIDITY`] is Octavia's 30 days).
    ///
    /// `amphora_id` must be a valid DNS name (a UUID is), since TLS clients verify the
    /// SAN against it.
    pub fn issue_amphora_cert(
        &self,
        amphora_id: &str,
        validity: Duration,
    ) -> Result<IssuedCert, CertError> {
        self.issue(amphora_id, ExtendedKeyUsagePurpose::ServerAuth, validity)
    }

    /// Issues a client certificate with CN and DNS SAN = `common_name`, EKU clientAuth.
    pub fn issue_client_cert(
        &self,
        common_name: &str,
        validity: Duration,
    ) -> Result<IssuedCert, CertError> {
        self.issue(common_name, ExtendedKeyUsagePurpose::ClientAuth, validity)
    }

    /// Whether `cert_pem` is a certificate signed by this CA's key and naming it as
    /// issuer (validity dates are not checked).
    pub fn is_issuer_of(&self, cert_pem: &str) -> Result<bool, CertError> {
        let der = first_cert_der(cert_pem)?;
        let cert = parse_x509(&der)?;
        let ca_der = first_cert_der(&self.cert_pem)?;
        let ca = parse_x509(&ca_der)?;
        Ok(cert.issuer().as_raw() == ca.subject().as_raw()
            && cert.verify_signature(Some(ca.public_key())).is_ok())
    }

    fn issue(
        &self,
        name: &str,
        usage: ExtendedKeyUsagePurpose,
        validity: Duration,
    ) -> Result<IssuedCert, CertError> {
        if ServerName::try_from(name).is_err() || name.parse::<std::net::IpAddr>().is_ok() {
            return Err(CertError::InvalidName(name.to_owned()));
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![name.to_owned()])?;
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORGANIZATION);
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let (not_before, not_after) = validity_window(validity)?;
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.signed_by(&key, &self.issuer, &self.key)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            not_after: to_naive(not_after)?,
        })
    }
}

/// Loads the controller's client certificate from `dir/client.pem` and
/// `dir/client.key`, or issues one (CN [`CONTROLLER_COMMON_NAME`], valid for
/// `validity`) and stores it there (key mode 0600).
///
/// A stored certificate is replaced when it was not issued by `ca` or when less than a
/// third of `validity` remains, so calling this at every start renews it in time.
pub fn load_or_issue_controller_cert(
    dir: &Path,
    ca: &CertAuthority,
    validity: Duration,
) -> Result<IssuedCert, CertError> {
    let cert_path = dir.join(CONTROLLER_CERT_FILE);
    let key_path = dir.join(CONTROLLER_KEY_FILE);
    with_dir_lock(dir, || {
        if pair_exists(&cert_path, &key_path)? {
            let cert_pem = read(&cert_path)?;
            let key_pem = read(&key_path)?;
            let not_after = cert_not_after(&cert_pem)?;
            let renew_margin =
                chrono::Duration::from_std(validity / 3).map_err(|_| CertError::Validity)?;
            let fresh = not_after - renew_margin > Utc::now().naive_utc();
            if fresh && ca.is_issuer_of(&cert_pem)? {
                return Ok(IssuedCert {
                    cert_pem,
                    key_pem,
                    not_after,
                });
            }
        }
        let issued = ca.issue_client_cert(CONTROLLER_COMMON_NAME, validity)?;
        write_atomic(&key_path, &issued.key_pem, 0o600)?;
        write_atomic(&cert_path, &issued.cert_pem, 0o644)?;
        Ok(issued)
    })
}

/// The end of validity of the first certificate in `cert_pem` (UTC).
pub fn cert_not_after(cert_pem: &str) -> Result<NaiveDateTime, CertError> {
    let der = first_cert_der(cert_pem)?;
    let secs = parse_x509(&der)?.validity().not_after.timestamp();
    DateTime::from_timestamp(secs, 0)
        .map(|t| t.naive_utc())
        .ok_or(CertError::Validity)
}

/// The first certificate in a PEM string, as DER.
pub(crate) fn first_cert_der(pem: &str) -> Result<CertificateDer<'static>, CertError> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .ok_or_else(|| CertError::Pem("no CERTIFICATE block".into()))?
        .map_err(|e| CertError::Pem(e.to_string()))
}

fn parse_x509<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, CertError> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, cert)| cert)
        .map_err(|e| CertError::Certificate(e.to_string()))
}

/// `(now - BACKDATE_SECS, now + validity)`, truncated to whole seconds as X.509 stores.
fn validity_window(validity: Duration) -> Result<(OffsetDateTime, OffsetDateTime), CertError> {
    let now = Utc::now().timestamp();
    let secs = i64::try_from(validity.as_secs()).map_err(|_| CertError::Validity)?;
    let at = |t: i64| OffsetDateTime::from_unix_timestamp(t).map_err(|_| CertError::Validity);
    let end = now.checked_add(secs).ok_or(CertError::Validity)?;
    Ok((at(now - BACKDATE_SECS)?, at(end)?))
}

fn to_naive(t: OffsetDateTime) -> Result<NaiveDateTime, CertError> {
    DateTime::from_timestamp(t.unix_timestamp(), 0)
        .map(|t| t.naive_utc())
        .ok_or(CertError::Validity)
}
