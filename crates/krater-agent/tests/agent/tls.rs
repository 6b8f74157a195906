//! Mutual TLS: the controller's certificate gets answers; no certificate, a
//! certificate of another CA, or the wrong amphora's name gets nothing.

use std::sync::Arc;

use krater_agent_api::{AgentClient, ClientError, ServerCertificate};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::netns::Netns;
use crate::support::{settings, Pki, TestAgent};

/// Trusts the CA in `ca_pem`, presents no certificate.
fn anonymous_tls(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("pem")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// The request failed before any HTTP answer.
fn assert_refused(result: Result<impl std::fmt::Debug, ClientError>, what: &str) {
    match result {
        Err(ClientError::Status { status, .. }) => panic!("{what}: answered {status}"),
        Err(_) => {}
        Ok(v) => panic!("{what}: answered {v:?}"),
    }
}

#[tokio::test]
async fn mutual_tls_and_info() {
    let lb_ns = Netns::new("lb");
    let agent = TestAgent::start(&lb_ns.name, None).await;

    let version = agent.client.api_version().await.expect("GET /");
    assert_eq!(version.api_version, "1.0");
    let info = agent.client.info().await.expect("info");
    assert_eq!(info.api_version, "1.0");
    assert!(info.haproxy_version.starts_with("2."), "{info:?}");
    assert!(!info.hostname.is_empty());

    // No client certificate.
    let anonymous = AgentClient::new(
        &agent.config.amphora_id,
        agent.addr,
        anonymous_tls(&agent.pki.ca_pem),
        settings(),
    )
    .expect("client");
    assert_refused(anonymous.api_version().await, "no client certificate");

    // A client certificate of another CA (which the client trusts for the server).
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = Pki::new(other_dir.path(), &agent.config.amphora_id);
    let mixed = krater_certs::client_config(
        &agent.pki.ca_pem,
        &other.client_cert_pem,
        &other.client_key_pem,
    )
    .expect("client config");
    let stranger =
        AgentClient::new(&agent.config.amphora_id, agent.addr, mixed, settings()).expect("client");
    assert_refused(
        stranger.api_version().await,
        "client certificate of another CA",
    );

    // The controller's certificate, but the agent is not the amphora asked for.
    let wrong_amphora = AgentClient::new(
        &uuid::Uuid::new_v4().to_string(),
        agent.addr,
        agent.pki.controller_tls(),
        settings(),
    )
    .expect("client");
    assert_refused(wrong_amphora.api_version().await, "another amphora's name");

    // The controller still gets answers.
    assert_eq!(
        agent.client.api_version().await.expect("GET /").api_version,
        "1.0"
    );
}

/// The certificate the agent presents to a new connection (DER).
async fn served_certificate(agent: &TestAgent) -> Vec<u8> {
    let connector = tokio_rustls::TlsConnector::from(agent.pki.controller_tls());
    let tcp = tokio::net::TcpStream::connect(agent.addr)
        .await
        .expect("connect");
    let name =
        rustls::pki_types::ServerName::try_from(agent.config.amphora_id.clone()).expect("name");
    let tls = connector.connect(name, tcp).await.expect("handshake");
    tls.get_ref().1.peer_certificates().expect("a certificate")[0].to_vec()
}

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("pem")
        .to_vec()
}

#[tokio::test]
async fn a_rotated_certificate_is_served_to_new_connections_without_a_restart() {
    let lb_ns = Netns::new("lb");
    let agent = TestAgent::start(&lb_ns.name, None).await;
    let first = served_certificate(&agent).await;
    let issue = || {
        agent
            .pki
            .ca
            .issue_amphora_cert(
                &agent.config.amphora_id,
                krater_certs::DEFAULT_AMPHORA_CERT_VALIDITY,
            )
            .expect("certificate")
    };

    // A key that is not the certificate's is refused; the agent serves on as before.
    let (one, other) = (issue(), issue());
    let mismatched = ServerCertificate {
        cert_pem: one.cert_pem.clone(),
        key_pem: other.key_pem.clone(),
    };
    match agent.client.put_certificate(&mismatched).await {
        Err(ClientError::Status { status: 400, .. }) => {}
        other => panic!("a mismatched key: {other:?}"),
    }
    assert_eq!(served_certificate(&agent).await, first);

    let rotated = issue();
    agent
        .client
        .put_certificate(&ServerCertificate {
            cert_pem: rotated.cert_pem.clone(),
            key_pem: rotated.key_pem.clone(),
        })
        .await
        .expect("rotation");
    let served = served_certificate(&agent).await;
    assert_ne!(served, first);
    assert_eq!(served, der(&rotated.cert_pem));
    // Stored for the next start, root's only.
    let stored = std::fs::read_to_string(&agent.config.server_cert_pem_path).expect("read");
    assert_eq!(stored, rotated.cert_pem);
    let key_mode = std::fs::metadata(&agent.config.server_key_pem_path)
        .expect("stat")
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key_mode) & 0o777,
        0o600
    );
    assert_eq!(
        agent.client.api_version().await.expect("GET /").api_version,
        "1.0"
    );
}
