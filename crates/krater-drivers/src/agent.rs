//! The amphora driver that talks to krater's agent over mutual TLS: the controller
//! presents its client certificate and accepts only a server certificate for the
//! amphora's own id.

use crate::{AmphoraDriver, DriverError, DriverResult, Interface};
use async_trait::async_trait;
use krater_agent_api::{
    AgentClient, AmphoraBundle, ClientError, ClientSettings, FixedIp, PlugNetwork, PlugVip,
    ServerCertificate,
};
use krater_domain::Amphora;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The controller's credentials and how patiently it talks to agents.
pub struct AgentAmphora {
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
    port: u16,
    settings: ClientSettings,
    /// How long a new amphora's agent may take to answer.
    boot_timeout: Duration,
}

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> DriverResult<T> {
    text.parse()
        .map_err(|_| DriverError::permanent(format!("invalid {what}: {text}")))
}

/// An agent that answered 4xx refused the request itself (a configuration it checked
/// and rejected, say): asking again would get the same answer. Anything else (no
/// answer, a 5xx) may pass on a retry.
fn failed(err: ClientError) -> DriverError {
    match err {
        ClientError::Status { status, .. } if (400..500).contains(&status) => {
            DriverError::permanent(err.to_string())
        }
        other => DriverError::retryable(other.to_string()),
    }
}

impl AgentAmphora {
    pub fn new(
        ca_pem: String,
        client_cert_pem: String,
        client_key_pem: String,
        port: u16,
        settings: ClientSettings,
        boot_timeout: Duration,
    ) -> Self {
        Self {
            ca_pem,
            client_cert_pem,
            client_key_pem,
            port,
            settings,
            boot_timeout,
        }
    }

    fn client(&self, amphora: &Amphora) -> DriverResult<AgentClient> {
        let ip: IpAddr = parse(
            "management address",
            amphora.lb_network_ip.as_deref().unwrap_or_default(),
        )?;
        let tls = krater_certs::client_config_for_amphora(
            &self.ca_pem,
            &self.client_cert_pem,
            &self.client_key_pem,
            &amphora.id,
        )
        .map_err(|e| DriverError::permanent(e.to_string()))?;
        AgentClient::new(
            &amphora.id,
            SocketAddr::new(ip, self.port),
            tls,
            self.settings.clone(),
        )
        .map_err(failed)
    }
}

#[async_trait]
impl AmphoraDriver for AgentAmphora {
    async fn wait_reachable(&self, amphora: &Amphora) -> DriverResult<()> {
        self.client(amphora)?
            .wait_reachable(self.boot_timeout)
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn plug_vip(
        &self,
        amphora: &Amphora,
        vip: &str,
        interface: &Interface,
        vrrp: bool,
    ) -> DriverResult<()> {
        let body = PlugVip {
            subnet_cidr: parse("subnet", &interface.subnet_cidr)?,
            gateway: Some(parse("gateway", &interface.gateway)?),
            mac_address: parse("MAC address", &interface.mac_address)?,
            vrrp_ip: parse("address", &interface.ip_address)?,
            mtu: None,
            vrrp,
        };
        let client = self.client(amphora)?;
        client
            .plug_vip(parse("VIP", vip)?, &body)
            .await
            .map_err(failed)
    }

    async fn stop_vrrp(&self, amphora: &Amphora) -> DriverResult<()> {
        self.client(amphora)?.stop_vrrp().await.map_err(failed)
    }

    async fn holds_vip(&self, amphora: &Amphora, vip: &str) -> DriverResult<bool> {
        let status = self.client(amphora)?.vip_status(parse("VIP", vip)?).await;
        Ok(status.map_err(failed)?.held)
    }

    async fn plug_network(&self, amphora: &Amphora, interface: &Interface) -> DriverResult<()> {
        let body = PlugNetwork {
            mac_address: parse("MAC address", &interface.mac_address)?,
            fixed_ips: vec![FixedIp {
                ip_address: parse("address", &interface.ip_address)?,
                subnet_cidr: parse("subnet", &interface.subnet_cidr)?,
            }],
            mtu: None,
        };
        self.client(amphora)?
            .plug_network(&body)
            .await
            .map_err(failed)
    }

    async fn rotate_certificate(
        &self,
        amphora: &Amphora,
        certificate: &crate::netns::AmphoraCertificate,
    ) -> DriverResult<()> {
        let body = ServerCertificate {
            cert_pem: certificate.cert_pem.clone(),
            key_pem: certificate.key_pem.clone(),
        };
        self.client(amphora)?
            .put_certificate(&body)
            .await
            .map_err(failed)
    }

    async fn apply_bundle(&self, amphora: &Amphora, bundle: &AmphoraBundle) -> DriverResult<()> {
        // The client skips a bundle the agent reports running already.
        self.client(amphora)?
            .ensure_bundle(bundle)
            .await
            .map(drop)
            .map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> ClientError {
        ClientError::Status {
            status: code,
            message: "Invalid configuration".into(),
            details: None,
        }
    }

    #[test]
    fn a_refusal_is_permanent_and_a_server_error_is_worth_a_retry() {
        assert!(!failed(status(400)).is_retryable());
        assert!(!failed(status(404)).is_retryable());
        assert!(failed(status(500)).is_retryable());
        assert!(failed(status(503)).is_retryable());
        assert!(failed(ClientError::Decode("?".into())).is_retryable());
    }
}
