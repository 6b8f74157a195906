//! rustls configurations for the controller ↔ amphora agent mutual TLS.
//!
//! Both sides use the `ring` crypto provider, selected per configuration, and accept
//! TLS 1.2 and 1.3 only. No ALPN protocols are set; set `alpn_protocols` on a clone if
//! the HTTP stack needs them.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use crate::CertError;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(CertError::Pem("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, CertError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| CertError::Pem(e.to_string()))
}

fn roots(ca_pem: &str) -> Result<Arc<RootCertStore>, CertError> {
    let mut store = RootCertStore::empty();
    for cert in certs(ca_pem)? {
        store.add(cert)?;
    }
    Ok(Arc::new(store))
}

/// The amphora agent's TLS configuration: presents `server_cert_pem` (the leaf first,
/// any chain after it) with `server_key_pem`, and requires a client certificate signed
/// by a CA in `client_ca_pem`. TLS 1.2 and 1.3.
pub fn server_config(
    server_cert_pem: &str,
    server_key_pem: &str,
    client_ca_pem: &str,
) -> Result<Arc<ServerConfig>, CertError> {
    let provider = provider();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(roots(client_ca_pem)?, provider.clone())
            .build()?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(server_cert_pem)?, private_key(server_key_pem)?)?;
    Ok(Arc::new(config))
}

/// The controller's TLS configuration: trusts only the CA(s) in `ca_pem` and presents
/// `client_cert_pem` / `client_key_pem`. TLS 1.2 and 1.3.
///
/// The server name given when connecting is verified against the certificate's SAN, so
/// connect with the amphora id as server name. For HTTP clients that derive the server
/// name from the URL host (an IP address), use [`client_config_for_amphora`].
pub fn client_config(
    ca_pem: &str,
    client_cert_pem: &str,
    client_key_pem: &str,
) -> Result<Arc<ClientConfig>, CertError> {
    let provider = provider();
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca_pem)?)
        .with_client_auth_cert(certs(client_cert_pem)?, private_key(client_key_pem)?)?;
    Ok(Arc::new(config))
}

/// Like [`client_config`], but the server certificate is always verified against
/// `amphora_id`, whatever server name the connection uses (e.g. the IP address an
/// HTTP client takes from `https://<lb_network_ip>:9443/`). One configuration per
/// amphora.
pub fn client_config_for_amphora(
    ca_pem: &str,
    client_cert_pem: &str,
    client_key_pem: &str,
    amphora_id: &str,
) -> Result<Arc<ClientConfig>, CertError> {
    let name = ServerName::try_from(amphora_id.to_owned())
        .map_err(|_| CertError::InvalidName(amphora_id.to_owned()))?;
    let provider = provider();
    let inner =
        WebPkiServerVerifier::builder_with_provider(roots(ca_pem)?, provider.clone()).build()?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedNameVerifier { inner, name }))
        .with_client_auth_cert(certs(client_cert_pem)?, private_key(client_key_pem)?)?;
    Ok(Arc::new(config))
}

/// WebPKI server verification against a fixed name instead of the connection's.
#[derive(Debug)]
struct PinnedNameVerifier {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for PinnedNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
