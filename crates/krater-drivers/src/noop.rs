//! Drivers that do nothing and always succeed: provider `noop_driver`, and tests of
//! the API and the worker alone.

use crate::*;

/// Pretends to boot amphorae.
#[derive(Debug, Default)]
pub struct NoopCompute;

#[async_trait]
impl ComputeDriver for NoopCompute {
    async fn build(&self, amphora: &Amphora, management: &Port) -> DriverResult<ComputeInstance> {
        Ok(ComputeInstance {
            compute_id: format!("noop-{}", amphora.id),
            lb_network_ip: management.ip_address.clone(),
            cert_expiration: None,
        })
    }
    async fn delete(&self, _amphora_id: &str) -> DriverResult<()> {
        Ok(())
    }
}

/// Pretends to wire amphorae.
#[derive(Debug, Default)]
pub struct NoopNetwork;

#[async_trait]
impl NetworkDriver for NoopNetwork {
    async fn plug(
        &self,
        _amphora: &Amphora,
        subnet: &Subnet,
        port: &Port,
    ) -> DriverResult<Interface> {
        Ok(Interface {
            port_id: port.id.clone(),
            mac_address: "02:00:00:00:00:01".into(),
            ip_address: port.ip_address.clone(),
            subnet_cidr: subnet.cidr(),
            gateway: subnet.gateway_ip.to_string(),
        })
    }
    async fn unplug_all(&self, _amphora: &Amphora) -> DriverResult<()> {
        Ok(())
    }
    /// Every amphora gets the subnet's made-up address, as Octavia's noop network
    /// driver gives out one address: thousands of noop load balancers exhaust nothing.
    fn made_up_port(&self, subnet: &Subnet, device_id: &str) -> Option<Port> {
        let name = format!("{}:{device_id}", subnet.id);
        Some(Port {
            id: uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).to_string(),
            network_id: subnet.network_id.clone(),
            subnet_id: subnet.id.clone(),
            ip_address: subnet.made_up_address().to_string(),
            mac_address: "02:00:00:00:00:01".into(),
            device_owner: "krater:noop".into(),
            device_id: device_id.into(),
            name: format!("krater-noop-{device_id}"),
            created_at: krater_domain::now(),
        })
    }
}

/// Pretends to configure amphorae.
#[derive(Debug, Default)]
pub struct NoopAmphora;

#[async_trait]
impl AmphoraDriver for NoopAmphora {
    async fn wait_reachable(&self, _amphora: &Amphora) -> DriverResult<()> {
        Ok(())
    }
    async fn stop_vrrp(&self, _: &Amphora) -> DriverResult<()> {
        Ok(())
    }
    async fn holds_vip(&self, _: &Amphora, _: &str) -> DriverResult<bool> {
        Ok(false)
    }
    async fn plug_vip(&self, _: &Amphora, _: &str, _: &Interface, _: bool) -> DriverResult<()> {
        Ok(())
    }
    async fn plug_network(&self, _: &Amphora, _: &Interface) -> DriverResult<()> {
        Ok(())
    }
    async fn apply_bundle(&self, _: &Amphora, _: &AmphoraBundle) -> DriverResult<()> {
        Ok(())
    }
    async fn rotate_certificate(
        &self,
        _: &Amphora,
        _: &crate::netns::AmphoraCertificate,
    ) -> DriverResult<()> {
        Ok(())
    }
}
