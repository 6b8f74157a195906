//! The networks of the `local` network driver, declared in `[networking]`: each a
//! Linux bridge with one IPv4 subnet and an allocation pool. Ids are stable UUIDs
//! derived from the names, so they survive restarts and are the same on every host.

use krater_config::{NetworkConfig, Networking};
use std::net::Ipv4Addr;

/// Namespace of the stable ids (a fixed random UUID).
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_3a52_9e0b_4d7e_8a51_2c9d_0b7e_41f3);

/// A network: one bridge.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub bridge: String,
    pub subnet_id: String,
}

/// The subnet of a network.
#[derive(Debug, Clone, PartialEq)]
pub struct Subnet {
    pub id: String,
    pub name: String,
    pub network_id: String,
    pub network: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway_ip: Ipv4Addr,
    pub allocation_start: Ipv4Addr,
    pub allocation_end: Ipv4Addr,
}

impl Subnet {
    /// `a.b.c.d/n`
    pub fn cidr(&self) -> String {
        format!("{}/{}", self.network, self.prefix_len)
    }

    /// True when `ip` lies in the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len))
            .unwrap_or(0);
        u32::from(ip) & mask == u32::from(self.network) & mask
    }

    /// What an address of the subnet is that no port may take: its network or
    /// broadcast address, or its gateway (an amphora holding it would answer ARP for
    /// the gateway of every host on the network).
    pub fn reserved_role(&self, ip: Ipv4Addr) -> Option<&'static str> {
        let host_bits = u32::MAX
            .checked_shr(u32::from(self.prefix_len))
            .unwrap_or(0);
        let network = u32::from(self.network) & !host_bits;
        if ip == self.gateway_ip {
            Some("gateway")
        } else if u32::from(ip) == network && host_bits > 1 {
            Some("network address")
        } else if u32::from(ip) == network | host_bits && host_bits > 1 {
            Some("broadcast address")
        } else {
            None
        }
    }

    /// The addresses of the allocation pool, in order.
    pub fn pool(&self) -> impl Iterator<Item = Ipv4Addr> {
        (u32::from(self.allocation_start)..=u32::from(self.allocation_end)).map(Ipv4Addr::from)
    }

    /// The subnet's addresses that have a [`Subnet::reserved_role`].
    pub fn reserved_addresses(&self) -> Vec<Ipv4Addr> {
        let host_bits = u32::MAX
            .checked_shr(u32::from(self.prefix_len))
            .unwrap_or(0);
        let network = u32::from(self.network) & !host_bits;
        [network, network | host_bits, u32::from(self.gateway_ip)]
            .into_iter()
            .map(Ipv4Addr::from)
            .filter(|ip| self.reserved_role(*ip).is_some())
            .collect()
    }

    /// The address a driver that takes none from the subnet shows (noop, as Octavia's
    /// noop drivers show one made-up address): the first of the pool a port may take.
    pub fn made_up_address(&self) -> Ipv4Addr {
        self.pool()
            .find(|ip| self.reserved_role(*ip).is_none())
            .unwrap_or(self.allocation_start)
    }
}

/// Every network of the `local` driver.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalNetworks {
    /// VIP and member networks, visible to users.
    pub networks: Vec<Network>,
    pub subnets: Vec<Subnet>,
    /// The management network, for the controller and the agents only.
    pub management: Option<(Network, Subnet)>,
}

fn stable_id(kind: &str, name: &str) -> String {
    uuid::Uuid::new_v5(&ID_NAMESPACE, format!("{kind}:{name}").as_bytes()).to_string()
}

/// One configured network and its subnet, checked.
fn parse_network(c: &NetworkConfig) -> Result<(Network, Subnet), String> {
    let (net, len) = c
        .cidr
        .split_once('/')
        .ok_or_else(|| format!("network {}: cidr '{}' has no prefix", c.name, c.cidr))?;
    let prefix_len: u8 = len
        .parse()
        .ok()
        .filter(|l| *l <= 32)
        .ok_or_else(|| format!("network {}: bad prefix in '{}'", c.name, c.cidr))?;
    let network_id = stable_id("network", &c.name);
    let subnet = Subnet {
        id: stable_id("subnet", &c.subnet_name),
        name: c.subnet_name.clone(),
        network_id: network_id.clone(),
        network: parse_ip("cidr", net)?,
        prefix_len,
        gateway_ip: parse_ip("gateway_ip", &c.gateway_ip)?,
        allocation_start: parse_ip("allocation_start", &c.allocation_start)?,
        allocation_end: parse_ip("allocation_end", &c.allocation_end)?,
    };
    for ip in [
        subnet.gateway_ip,
        subnet.allocation_start,
        subnet.allocation_end,
    ] {
        if !subnet.contains(ip) {
            return Err(format!("network {}: {ip} is outside {}", c.name, c.cidr));
        }
    }
    let network = Network {
        id: network_id,
        name: c.name.clone(),
        bridge: c.bridge.clone(),
        subnet_id: subnet.id.clone(),
    };
    Ok((network, subnet))
}

fn parse_ip(what: &str, text: &str) -> Result<Ipv4Addr, String> {
    text.parse()
        .map_err(|_| format!("{what}: '{text}' is not an IPv4 address"))
}

impl LocalNetworks {
    /// Builds the catalog from the configuration, refusing inconsistent entries.
    pub fn from_config(config: &Networking) -> Result<Self, String> {
        let mut catalog = LocalNetworks::default();
        for c in &config.networks {
            let (network, subnet) = parse_network(c)?;
            catalog.networks.push(network);
            catalog.subnets.push(subnet);
        }
        catalog.management = Some(parse_network(&config.management)?);
        Ok(catalog)
    }

    pub fn subnet(&self, id: &str) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.id == id)
    }

    pub fn network(&self, id: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.id == id)
    }

    /// The subnet that contains `ip`, if any.
    pub fn subnet_containing(&self, ip: Ipv4Addr) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_networks_have_stable_ids_and_pools() {
        let config = krater_config::Networking::default();
        let a = LocalNetworks::from_config(&config).unwrap();
        let b = LocalNetworks::from_config(&config).unwrap();
        assert_eq!(a, b);
        let public = &a.subnets[0];
        assert_eq!(public.name, "public-subnet");
        assert_eq!(public.cidr(), "198.18.1.0/24");
        assert!(public.contains("198.18.1.77".parse().unwrap()));
        assert!(!public.contains("198.18.2.77".parse().unwrap()));
        assert_eq!(public.pool().next(), Some("198.18.1.10".parse().unwrap()));
        assert_eq!(public.made_up_address().to_string(), "198.18.1.10");
        let reserved: Vec<String> = public
            .reserved_addresses()
            .iter()
            .map(|ip| ip.to_string())
            .collect();
        assert_eq!(reserved, ["198.18.1.0", "198.18.1.255", "198.18.1.1"]);
        let (_, management) = a.management.clone().unwrap();
        assert!(management.pool().count() >= 4000, "{}", management.cidr());
        assert!(a.subnets.iter().all(|s| !management.contains(s.gateway_ip)));
        assert_eq!(a.network(&public.network_id).unwrap().name, "public");
        assert_eq!(a.management.unwrap().1.name, "lb-mgmt-subnet");
    }

    #[test]
    fn inconsistent_networks_are_refused() {
        let mut config = krater_config::Networking::default();
        config.networks[0].gateway_ip = "10.9.9.9".into();
        assert!(LocalNetworks::from_config(&config).is_err());
    }
}
