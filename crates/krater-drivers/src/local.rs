//! The `local` network driver: networks are Linux bridges on this host. Plugging an
//! amphora into a subnet makes a veth pair: one end on the subnet's bridge, the other
//! in the amphora's agent namespace with a MAC derived from the port, where the agent
//! finds it (as an amphora VM finds a hot-plugged NIC) and moves it to its
//! load-balancing namespace.

use crate::ip::{self, ip, mac_for, short_hash};
use crate::netns::AmphoraNames;
use crate::{DriverResult, Interface, LocalNetworks, NetworkDriver, Subnet};
use async_trait::async_trait;
use krater_domain::{Amphora, Port};

/// Wires amphorae to the bridges of the local networks.
pub struct LocalNetwork {
    networks: LocalNetworks,
}

impl LocalNetwork {
    pub fn new(networks: LocalNetworks) -> Self {
        Self { networks }
    }

    /// Creates every bridge (with the subnet's gateway address) that is missing.
    pub fn ensure_bridges(&self) -> DriverResult<()> {
        for network in self
            .networks
            .networks
            .iter()
            .chain(self.networks.management.as_ref().map(|(n, _)| n))
        {
            let subnet = self
                .networks
                .subnet(&network.subnet_id)
                .or(self.networks.management.as_ref().map(|(_, s)| s))
                .ok_or_else(|| {
                    crate::DriverError::permanent(format!("network {} has no subnet", network.name))
                })?;
            ip::ensure_bridge(
                &network.bridge,
                &format!("{}/{}", subnet.gateway_ip, subnet.prefix_len),
            )?;
        }
        Ok(())
    }

    fn bridge_of(&self, subnet: &Subnet) -> Option<&str> {
        self.networks
            .networks
            .iter()
            .chain(self.networks.management.as_ref().map(|(n, _)| n))
            .find(|n| n.id == subnet.network_id)
            .map(|n| n.bridge.as_str())
    }
}

#[async_trait]
impl NetworkDriver for LocalNetwork {
    async fn plug(
        &self,
        amphora: &Amphora,
        subnet: &Subnet,
        port: &Port,
    ) -> DriverResult<Interface> {
        let names = AmphoraNames::of(&amphora.id);
        let h = short_hash(&port.id);
        let host_end = format!("kp{h}");
        let amphora_end = format!("np{h}");
        let mac = mac_for(&port.id);
        let bridge = self.bridge_of(subnet).ok_or_else(|| {
            crate::DriverError::permanent(format!("subnet {} has no bridge", subnet.id))
        })?;
        if !ip::link_exists(&host_end) {
            ip(&[
                "link",
                "add",
                &host_end,
                "type",
                "veth",
                "peer",
                "name",
                &amphora_end,
                "address",
                &mac,
                "netns",
                &names.agent_ns,
            ])?;
        }
        ip(&["link", "set", &host_end, "master", bridge, "up"])?;
        Ok(Interface {
            port_id: port.id.clone(),
            mac_address: mac,
            ip_address: port.ip_address.clone(),
            subnet_cidr: subnet.cidr(),
            gateway: subnet.gateway_ip.to_string(),
        })
    }

    async fn unplug_all(&self, _amphora: &Amphora) -> DriverResult<()> {
        // The veth pairs end with the amphora's namespaces, which the compute driver deletes.
        Ok(())
    }
}
