//! Mutual TLS between a controller client and an amphora agent server over loopback.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use krater_certs::{
    client_config, client_config_for_amphora, server_config, CertAuthority, IssuedCert,
    CONTROLLER_COMMON_NAME, DEFAULT_AMPHORA_CERT_VALIDITY, DEFAULT_CONTROLLER_CERT_VALIDITY,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

const AMP_A: &str = "0b7c9e3a-5d1f-4e2a-9c8b-1a2b3c4d5e6f";
const AMP_B: &str = "9f8e7d6c-5b4a-4321-8fed-cba987654321";

struct Setup {
    ca: CertAuthority,
    controller: IssuedCert,
}

fn setup() -> Setup {
    let ca = CertAuthority::generate().expect("CA");
    let controller = ca
        .issue_client_cert(CONTROLLER_COMMON_NAME, DEFAULT_CONTROLLER_CERT_VALIDITY)
        .expect("client cert");
    Setup { ca, controller }
}

fn agent_config(ca: &CertAuthority, amphora_id: &str) -> Arc<ServerConfig> {
    let cert = ca
        .issue_amphora_cert(amphora_id, DEFAULT_AMPHORA_CERT_VALIDITY)
        .expect("server cert");
    server_config(&cert.cert_pem, &cert.key_pem, ca.cert_pem()).expect("server config")
}

fn controller_config(s: &Setup) -> Arc<ClientConfig> {
    client_config(
        s.ca.cert_pem(),
        &s.controller.cert_pem,
        &s.controller.key_pem,
    )
    .expect("client config")
}

/// Runs one connection: the client sends `ping`, the server answers `pong` and closes.
/// Returns the server's and the client's outcome.
async fn exchange(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    server_name: &str,
) -> (io::Result<()>, io::Result<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = TlsAcceptor::from(server);
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = acceptor.accept(tcp).await?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        if &buf != b"ping" {
            return Err(io::Error::other("unexpected request"));
        }
        tls.write_all(b"pong").await?;
        tls.shutdown().await
    });
    let name = ServerName::try_from(server_name.to_owned()).expect("server name");
    let client_result = async {
        let tcp = TcpStream::connect(addr).await?;
        let mut tls = TlsConnector::from(client).connect(name, tcp).await?;
        tls.write_all(b"ping").await?;
        tls.flush().await?;
        let mut out = Vec::new();
        tls.read_to_end(&mut out).await?;
        Ok(out)
    };
    let client_result = tokio::time::timeout(Duration::from_secs(10), client_result)
        .await
        .expect("client timed out");
    let server_result = tokio::time::timeout(Duration::from_secs(10), server_task)
        .await
        .expect("server timed out")
        .expect("server task panicked");
    (server_result, client_result)
}

fn assert_refused((server, client): (io::Result<()>, io::Result<Vec<u8>>)) {
    assert!(server.is_err(), "server accepted the connection");
    // In TLS 1.3 the client may finish its side before the server rejects it; then it
    // must see an error or at least no answer.
    if let Ok(answer) = client {
        assert!(answer.is_empty(), "client got an answer: {answer:?}");
    }
}

#[tokio::test]
async fn controller_and_agent_exchange_bytes() {
    let s = setup();
    let (server, client) = exchange(agent_config(&s.ca, AMP_A), controller_config(&s), AMP_A).await;
    server.expect("server side");
    assert_eq!(client.expect("client side"), b"pong");
}

#[tokio::test]
async fn tls12_only_controller_is_accepted() {
    let s = setup();
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(s.ca.cert_pem().as_bytes()).expect("ca der"))
        .expect("root");
    let client =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .expect("versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(
                vec![
                    CertificateDer::from_pem_slice(s.controller.cert_pem.as_bytes()).expect("cert"),
                ],
                PrivateKeyDer::from_pem_slice(s.controller.key_pem.as_bytes()).expect("key"),
            )
            .expect("client config");
    let (server, client) = exchange(agent_config(&s.ca, AMP_A), Arc::new(client), AMP_A).await;
    server.expect("server side");
    assert_eq!(client.expect("client side"), b"pong");
}

#[tokio::test]
async fn client_without_certificate_is_refused() {
    let s = setup();
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(s.ca.cert_pem().as_bytes()).expect("ca der"))
        .expect("root");
    let client =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    assert_refused(exchange(agent_config(&s.ca, AMP_A), Arc::new(client), AMP_A).await);
}

#[tokio::test]
async fn client_certificate_from_another_ca_is_refused() {
    let s = setup();
    let rogue_ca = CertAuthority::generate().expect("rogue CA");
    let rogue = rogue_ca
        .issue_client_cert(CONTROLLER_COMMON_NAME, DEFAULT_CONTROLLER_CERT_VALIDITY)
        .expect("rogue client cert");
    // The rogue client trusts the real CA, so only the server's check can stop it.
    let client = client_config(s.ca.cert_pem(), &rogue.cert_pem, &rogue.key_pem).expect("cfg");
    assert_refused(exchange(agent_config(&s.ca, AMP_A), client, AMP_A).await);
}

#[tokio::test]
async fn controller_refuses_server_of_another_amphora() {
    let s = setup();
    let (server, client) = exchange(agent_config(&s.ca, AMP_B), controller_config(&s), AMP_A).await;
    assert!(
        client.is_err(),
        "client accepted AMP_B's certificate for AMP_A"
    );
    assert!(server.is_err());
}

#[tokio::test]
async fn controller_refuses_server_from_another_ca() {
    let s = setup();
    let rogue_ca = CertAuthority::generate().expect("rogue CA");
    // The rogue server would accept the controller (it trusts the real CA for clients).
    let cert = rogue_ca
        .issue_amphora_cert(AMP_A, DEFAULT_AMPHORA_CERT_VALIDITY)
        .expect("rogue server cert");
    let server = server_config(&cert.cert_pem, &cert.key_pem, s.ca.cert_pem()).expect("cfg");
    let (_, client) = exchange(server, controller_config(&s), AMP_A).await;
    assert!(
        client.is_err(),
        "client accepted a certificate from another CA"
    );
}

#[tokio::test]
async fn pinned_amphora_name_ignores_connection_name() {
    let s = setup();
    let pinned = |amp: &str| {
        client_config_for_amphora(
            s.ca.cert_pem(),
            &s.controller.cert_pem,
            &s.controller.key_pem,
            amp,
        )
        .expect("pinned config")
    };
    // Connecting by IP address, as an HTTP client does with https://<ip>:9443/.
    let (server, client) = exchange(agent_config(&s.ca, AMP_A), pinned(AMP_A), "127.0.0.1").await;
    server.expect("server side");
    assert_eq!(client.expect("client side"), b"pong");

    let (_, client) = exchange(agent_config(&s.ca, AMP_B), pinned(AMP_A), "127.0.0.1").await;
    assert!(client.is_err(), "pinned client accepted another amphora");
}

#[tokio::test]
async fn persisted_ca_still_issues_trusted_certificates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = CertAuthority::load_or_create(dir.path()).expect("create");
    let controller = krater_certs::load_or_issue_controller_cert(
        dir.path(),
        &first,
        DEFAULT_CONTROLLER_CERT_VALIDITY,
    )
    .expect("controller cert");
    drop(first);

    let loaded = CertAuthority::load_or_create(dir.path()).expect("load");
    // Amphora certificate issued by the reloaded CA; trust anchors and client
    // certificate come from the files written by the first instance.
    let ca_pem = std::fs::read_to_string(dir.path().join("ca.pem")).expect("ca.pem");
    assert_eq!(ca_pem, loaded.cert_pem());
    let cert = loaded
        .issue_amphora_cert(AMP_A, DEFAULT_AMPHORA_CERT_VALIDITY)
        .expect("server cert");
    let server = server_config(&cert.cert_pem, &cert.key_pem, &ca_pem).expect("server cfg");
    let client = client_config(&ca_pem, &controller.cert_pem, &controller.key_pem).expect("cfg");
    let (server, client) = exchange(server, client, AMP_A).await;
    server.expect("server side");
    assert_eq!(client.expect("client side"), b"pong");
}
