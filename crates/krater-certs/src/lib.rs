//! krater's internal certificate authority and the mutual-TLS configurations between
//! the controller and the amphora agents.
//!
//! * [`CertAuthority`] is a self-signed CA with an **ECDSA P-256** key (Octavia uses
//!   RSA-2048; `ring` cannot generate RSA keys, and P-256 is faster and smaller). It is
//!   kept as `ca.pem` / `ca.key` in a directory ([`CertAuthority::load_or_create`]).
//! * [`CertAuthority::issue_amphora_cert`] issues an amphora agent's server certificate:
//!   CN and DNS SAN = the amphora id, EKU serverAuth. The controller verifies the agent
//!   with server name = amphora id.
//! * [`load_or_issue_controller_cert`] keeps the controller's client certificate
//!   (CN [`CONTROLLER_COMMON_NAME`], EKU clientAuth) as `client.pem` / `client.key` next
//!   to the CA, renewing it when it nears expiry.
//! * [`server_config`] (agent side) requires a client certificate signed by the CA;
//!   [`client_config`] and [`client_config_for_amphora`] (controller side) trust only
//!   the CA and present the client certificate. Both use rustls with the `ring`
//!   provider selected explicitly, TLS 1.2 and 1.3, so no process-wide default provider
//!   needs installing.
//!
//! Every issued certificate gets a fresh P-256 key; private keys are written with mode
//! 0600 (this crate targets Unix). Files are loaded or made under [`with_dir_lock`], so
//! several processes may start at once on one directory and all get the same CA.

mod ca;
mod error;
mod files;
mod tls;

pub use ca::{
    cert_not_after, load_or_issue_controller_cert, CertAuthority, IssuedCert, CA_CERT_FILE,
    CA_KEY_FILE, CA_VALIDITY, CONTROLLER_CERT_FILE, CONTROLLER_COMMON_NAME, CONTROLLER_KEY_FILE,
    DEFAULT_AMPHORA_CERT_VALIDITY, DEFAULT_CONTROLLER_CERT_VALIDITY,
};
pub use error::CertError;
pub use files::{load_or_create_secret, with_dir_lock};
pub use tls::{client_config, client_config_for_amphora, server_config};
