//! CA persistence, certificate contents and controller certificate renewal.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use krater_certs::{
    cert_not_after, load_or_issue_controller_cert, CertAuthority, CertError, CA_CERT_FILE,
    CA_KEY_FILE, CONTROLLER_CERT_FILE, CONTROLLER_KEY_FILE, DEFAULT_AMPHORA_CERT_VALIDITY,
    DEFAULT_CONTROLLER_CERT_VALIDITY,
};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn ca_is_created_once_and_loaded_after() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("certs");
    let created = CertAuthority::load_or_create(&dir).expect("create");
    assert_eq!(mode(&dir.join(CA_KEY_FILE)), 0o600);
    assert_eq!(mode(&dir), 0o700);
    let loaded = CertAuthority::load_or_create(&dir).expect("load");
    assert_eq!(created.cert_pem(), loaded.cert_pem());
    assert_eq!(created.key_pem(), loaded.key_pem());

    let issued = loaded
        .issue_amphora_cert("amp-1", DEFAULT_AMPHORA_CERT_VALIDITY)
        .expect("issue");
    assert!(created.is_issuer_of(&issued.cert_pem).expect("check"));
    let other = CertAuthority::generate().expect("other CA");
    assert!(!other.is_issuer_of(&issued.cert_pem).expect("check"));
}

#[test]
fn half_a_ca_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    CertAuthority::load_or_create(tmp.path()).expect("create");
    std::fs::remove_file(tmp.path().join(CA_CERT_FILE)).expect("rm");
    assert!(matches!(
        CertAuthority::load_or_create(tmp.path()),
        Err(CertError::IncompletePair { .. })
    ));
    // The key was not overwritten.
    assert!(tmp.path().join(CA_KEY_FILE).exists());
}

#[test]
fn mismatched_ca_key_is_rejected() {
    let a = CertAuthority::generate().expect("a");
    let b = CertAuthority::generate().expect("b");
    assert!(CertAuthority::from_pem(a.cert_pem(), b.key_pem()).is_err());
    assert!(CertAuthority::from_pem(a.cert_pem(), a.key_pem()).is_ok());
}

#[test]
fn leaf_certificate_is_not_a_ca() {
    let ca = CertAuthority::generate().expect("ca");
    let leaf = ca
        .issue_amphora_cert("amp-1", DEFAULT_AMPHORA_CERT_VALIDITY)
        .expect("issue");
    assert!(CertAuthority::from_pem(&leaf.cert_pem, &leaf.key_pem).is_err());
}

#[test]
fn amphora_cert_validity_is_reported_exactly() {
    let ca = CertAuthority::generate().expect("ca");
    let issued = ca
        .issue_amphora_cert("amp-1", DEFAULT_AMPHORA_CERT_VALIDITY)
        .expect("issue");
    assert_eq!(
        cert_not_after(&issued.cert_pem).expect("parse"),
        issued.not_after
    );
    let expected = Utc::now().naive_utc() + chrono::Duration::days(30);
    assert!((issued.not_after - expected).num_seconds().abs() < 60);
    assert!(format!("{issued:?}").contains("<redacted>"));
}

#[test]
fn invalid_amphora_ids_are_rejected() {
    let ca = CertAuthority::generate().expect("ca");
    for bad in ["", "has space", "10.0.0.1", "-leading", "a..b"] {
        assert!(
            matches!(
                ca.issue_amphora_cert(bad, DEFAULT_AMPHORA_CERT_VALIDITY),
                Err(CertError::InvalidName(_))
            ),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn controller_cert_is_kept_then_renewed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = CertAuthority::load_or_create(tmp.path()).expect("ca");
    let first = load_or_issue_controller_cert(tmp.path(), &ca, DEFAULT_CONTROLLER_CERT_VALIDITY)
        .expect("issue");
    assert_eq!(mode(&tmp.path().join(CONTROLLER_KEY_FILE)), 0o600);
    let again = load_or_issue_controller_cert(tmp.path(), &ca, DEFAULT_CONTROLLER_CERT_VALIDITY)
        .expect("load");
    assert_eq!(first, again);

    // Asking for a much longer validity makes the stored one too close to expiry.
    let renewed =
        load_or_issue_controller_cert(tmp.path(), &ca, Duration::from_secs(10 * 365 * 86_400))
            .expect("renew");
    assert_ne!(renewed.cert_pem, first.cert_pem);
    let stored = std::fs::read_to_string(tmp.path().join(CONTROLLER_CERT_FILE)).expect("read");
    assert_eq!(stored, renewed.cert_pem);

    // A certificate from another CA is replaced.
    let other = CertAuthority::generate().expect("other");
    let reissued =
        load_or_issue_controller_cert(tmp.path(), &other, DEFAULT_CONTROLLER_CERT_VALIDITY)
            .expect("reissue");
    assert!(other.is_issuer_of(&reissued.cert_pem).expect("check"));
}
