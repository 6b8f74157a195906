//! Plugging interfaces: an interface that appears in the agent's namespace (found by
//! its MAC address) moves into the load-balancing namespace, renamed `eth1` (the VIP
//! network) or `ethN`, N ≥ 2 (member networks), and gets its addresses there.
//!
//! Everything goes through iproute2's `ip`, with typed values as arguments. Each step
//! is idempotent, so a repeated or interrupted plug converges: an interface already
//! in the load-balancing namespace is only configured again. The move and the rename
//! are one netlink request (`ip link set dev X netns NS name ethN`), so no name in
//! the target namespace can collide with the interface's old name.

use std::net::IpAddr;

use axum::http::StatusCode;
use krater_agent_api::{Cidr, MacAddress, PlugNetwork, PlugVip};
use serde::Deserialize;

use crate::cmd::Cmd;
use crate::error::{ApiError, ApiResult};

/// Name of the VIP interface in the load-balancing namespace.
const VIP_IF: &str = "eth1";

/// The namespaces an agent plugs between.
pub(crate) struct Plugger {
    /// Namespace holding the interfaces to plug; `None`: the agent's own.
    pub(crate) interfaces_netns: Option<String>,
    /// The load-balancing namespace.
    pub(crate) lb_netns: String,
}

/// An interface as `ip -j link` shows it.
#[derive(Debug, Deserialize)]
struct Link {
    ifname: String,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    link_type: Option<String>,
}

impl Link {
    fn has_mac(&self, mac: MacAddress) -> bool {
        self.link_type.as_deref() != Some("loopback")
            && self
                .address
                .as_deref()
                .and_then(|a| a.parse::<MacAddress>().ok())
                == Some(mac)
    }
}

/// `ip -j addr` of one interface.
#[derive(Debug, Deserialize)]
struct LinkAddrs {
    ifname: String,
    #[serde(default)]
    addr_info: Vec<AddrInfo>,
}

#[derive(Debug, Deserialize)]
struct AddrInfo {
    local: IpAddr,
    prefixlen: u8,
    #[serde(default)]
    scope: Option<String>,
}

impl Plugger {
    /// `POST plug/vip/{vip}`
    pub(crate) async fn plug_vip(&self, vip: IpAddr, body: &PlugVip) -> ApiResult<()> {
        let family = Family::of(body.vrrp_ip);
        if Family::of(vip) != family
            || Family::of(body.subnet_cidr.addr()) != family
            || body.gateway.is_some_and(|g| Family::of(g) != family)
        {
            return Err(ApiError::invalid(
                "the VIP, vrrp_ip, subnet_cidr and gateway must be of one address family",
            ));
        }
        check_mtu(body.mtu, family)?;

        let lb_links = self.links(Some(&self.lb_netns)).await?;
        let vip_if = lb_links.iter().find(|l| l.ifname == VIP_IF);
        match lb_links.iter().find(|l| l.has_mac(body.mac_address)) {
            Some(l) if l.ifname == VIP_IF => {}
            Some(l) if member_index(&l.ifname).is_some() => {
                return Err(ApiError::conflict(
                    "Interface already exists",
                    format!("{} is plugged as {}", body.mac_address, l.ifname),
                ))
            }
            Some(l) => {
                // A move whose rename did not happen: finish it.
                if vip_if.is_some() {
                    return Err(vip_taken(body.mac_address));
                }
                self.lb_ip(["link", "set", "dev", &l.ifname, "down"])
                    .await?;
                self.lb_ip(["link", "set", "dev", &l.ifname, "name", VIP_IF])
                    .await?;
            }
            None => {
                if vip_if.is_some() {
                    return Err(vip_taken(body.mac_address));
                }
                self.move_in(body.mac_address, VIP_IF).await?;
            }
        }

        let mut addrs = vec![Cidr::new(body.vrrp_ip, body.subnet_cidr.prefix_len())?];
        let vip_addr = Cidr::new(vip, family.host_prefix())?;
        // keepalived adds and removes a VRRP VIP; it is left as it is.
        let (keep, announce) = if body.vrrp {
            (vec![vip_addr], false)
        } else {
            if vip != body.vrrp_ip {
                addrs.push(vip_addr);
            }
            (Vec::new(), true)
        };
        self.configure(VIP_IF, body.mtu, &addrs, &keep).await?;
        // HAProxy binds the VIP also where keepalived has not put it (yet).
        Cmd::in_netns(&self.lb_netns, "sysctl")
            .args(["-q", "-w", family.nonlocal_bind()])
            .run()
            .await?;
        if let Some(gateway) = body.gateway {
            self.lb_ip([
                family.flag(),
                "route",
                "replace",
                "default",
                "via",
                &gateway.to_string(),
                "dev",
                VIP_IF,
            ])
            .await?;
        }
        if announce {
            self.announce(vip);
        }
        Ok(())
    }

    /// `GET plug/vip/{vip}`: whether `vip` is on the VIP interface (none before the
    /// VIP is plugged).
    pub(crate) async fn holds_vip(&self, vip: IpAddr) -> ApiResult<bool> {
        let out = self
            .ip(Some(&self.lb_netns))
            .args(["-j", "addr", "show"])
            .run()
            .await?;
        let links: Vec<LinkAddrs> = parse_json(&out)?;
        Ok(links
            .iter()
            .filter(|l| l.ifname == VIP_IF)
            .flat_map(|l| &l.addr_info)
            .any(|a| a.local == vip))
    }

    /// Tells the VIP network that `vip` now lives at this interface's MAC address
    /// (two unsolicited ARPs, in the background), so that clients and routers that
    /// knew the VIP at a replaced amphora switch at once instead of after their
    /// neighbour entry times out. IPv6 neighbours learn it on their next solicitation.
    fn announce(&self, vip: IpAddr) {
        if vip.is_ipv6() {
            return;
        }
        let command = Cmd::in_netns(&self.lb_netns, "arping")
            .args(["-q", "-U", "-c", "2", "-w", "2"])
            .args(["-I", VIP_IF, "-s", &vip.to_string(), &vip.to_string()]);
        tokio::spawn(async move {
            if let Err(err) = command.run().await {
                tracing::warn!(%vip, error = %err, "cannot announce the VIP");
            }
        });
    }

    /// `POST plug/network`
    pub(crate) async fn plug_network(&self, body: &PlugNetwork) -> ApiResult<()> {
        let mut addrs = Vec::with_capacity(body.fixed_ips.len());
        for ip in &body.fixed_ips {
            if Family::of(ip.ip_address) != Family::of(ip.subnet_cidr.addr()) {
                return Err(ApiError::invalid(format!(
                    "{} is not of the family of {}",
                    ip.ip_address, ip.subnet_cidr
                )));
            }
            addrs.push(Cidr::new(ip.ip_address, ip.subnet_cidr.prefix_len())?);
        }
        let family = if addrs.iter().any(|a| a.addr().is_ipv6()) {
            Family::V6
        } else {
            Family::V4
        };
        check_mtu(body.mtu, family)?;

        let lb_links = self.links(Some(&self.lb_netns)).await?;
        let name = match lb_links.iter().find(|l| l.has_mac(body.mac_address)) {
            Some(l) if l.ifname == VIP_IF => {
                return Err(ApiError::conflict(
                    "Interface already exists",
                    format!("{} is the VIP interface {VIP_IF}", body.mac_address),
                ))
            }
            Some(l) => l.ifname.clone(),
            None => {
                let n = (2..)
                    .find(|n| !lb_links.iter().any(|l| member_index(&l.ifname) == Some(*n)))
                    .unwrap_or(2);
                let name = format!("eth{n}");
                self.move_in(body.mac_address, &name).await?;
                name
            }
        };
        self.configure(&name, body.mtu, &addrs, &[]).await
    }

    /// Moves the interface with this MAC address from the interfaces' namespace into
    /// the load-balancing one, renaming it in the same request.
    async fn move_in(&self, mac: MacAddress, name: &str) -> ApiResult<()> {
        let links = self.links(self.interfaces_netns.as_deref()).await?;
        let Some(link) = links.iter().find(|l| l.has_mac(mac)) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "Network interface not found",
                Some(format!("no interface has the MAC address {mac}")),
            ));
        };
        tracing::info!(ifname = %link.ifname, %mac, name, netns = %self.lb_netns, "moving interface");
        self.ip(self.interfaces_netns.as_deref())
            .args(["link", "set", "dev", &link.ifname, "netns", &self.lb_netns])
            .args(["name", name])
            .run()
            .await?;
        Ok(())
    }

    /// Sets the MTU, makes `addrs` the interface's only global addresses besides
    /// those in `keep`, which are left as they are, and brings it and the namespace's
    /// loopback up.
    async fn configure(
        &self,
        ifname: &str,
        mtu: Option<u32>,
        addrs: &[Cidr],
        keep: &[Cidr],
    ) -> ApiResult<()> {
        if let Some(mtu) = mtu {
            self.lb_ip(["link", "set", "dev", ifname, "mtu", &mtu.to_string()])
                .await?;
        }
        // Stale addresses go first: deleting a subnet's primary address would also
        // delete the secondaries added after it.
        for stale in self.global_addrs(ifname).await? {
            if !addrs.contains(&stale) && !keep.contains(&stale) {
                self.lb_ip(["addr", "del", &stale.to_string(), "dev", ifname])
                    .await?;
            }
        }
        for addr in addrs {
            self.lb_ip(["addr", "replace", &addr.to_string(), "dev", ifname])
                .await?;
        }
        self.lb_ip(["link", "set", "dev", "lo", "up"]).await?;
        self.lb_ip(["link", "set", "dev", ifname, "up"]).await
    }

    async fn global_addrs(&self, ifname: &str) -> ApiResult<Vec<Cidr>> {
        let out = self
            .ip(Some(&self.lb_netns))
            .args(["-j", "addr", "show", "dev", ifname])
            .run()
            .await?;
        let links: Vec<LinkAddrs> = parse_json(&out)?;
        links
            .into_iter()
            .flat_map(|l| l.addr_info)
            .filter(|a| a.scope.as_deref().is_none_or(|s| s == "global"))
            .map(|a| Cidr::new(a.local, a.prefixlen).map_err(ApiError::from))
            .collect()
    }

    async fn links(&self, netns: Option<&str>) -> ApiResult<Vec<Link>> {
        let out = self.ip(netns).args(["-j", "link", "show"]).run().await?;
        parse_json(&out)
    }

    /// `ip [-n <netns>] ...`
    fn ip(&self, netns: Option<&str>) -> Cmd {
        match netns {
            Some(ns) => Cmd::new("ip").arg("-n").arg(ns),
            None => Cmd::new("ip"),
        }
    }

    /// Runs `ip -n <lb_netns> <args>`.
    async fn lb_ip<const N: usize>(&self, args: [&str; N]) -> ApiResult<()> {
        self.ip(Some(&self.lb_netns)).args(args).run().await?;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn of(ip: IpAddr) -> Self {
        if ip.is_ipv4() {
            Self::V4
        } else {
            Self::V6
        }
    }

    fn host_prefix(self) -> u8 {
        match self {
            Self::V4 => 32,
            Self::V6 => 128,
        }
    }

    /// The sysctl setting that lets programs bind addresses of this family that
    /// the namespace does not have.
    fn nonlocal_bind(self) -> &'static str {
        match self {
            Self::V4 => "net.ipv4.ip_nonlocal_bind=1",
            Self::V6 => "net.ipv6.ip_nonlocal_bind=1",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Self::V4 => "-4",
            Self::V6 => "-6",
        }
    }
}

/// The N of a member interface `ethN`, N ≥ 2.
fn member_index(ifname: &str) -> Option<u32> {
    let n = ifname.strip_prefix("eth")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok().filter(|n| *n >= 2)
}

fn check_mtu(mtu: Option<u32>, family: Family) -> ApiResult<()> {
    let min = match family {
        Family::V4 => 68,
        Family::V6 => 1280,
    };
    match mtu {
        Some(m) if !(min..=65535).contains(&m) => {
            Err(ApiError::invalid(format!("mtu {m} is out of {min}..65535")))
        }
        _ => Ok(()),
    }
}

fn vip_taken(mac: MacAddress) -> ApiError {
    ApiError::conflict(
        "Interface already exists",
        format!("{VIP_IF} exists already with another MAC address than {mac}"),
    )
}

fn parse_json<T: serde::de::DeserializeOwned>(out: &str) -> ApiResult<T> {
    serde_json::from_str(out)
        .map_err(|e| ApiError::internal("Unexpected output of ip", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_interfaces() {
        assert_eq!(member_index("eth2"), Some(2));
        assert_eq!(member_index("eth12"), Some(12));
        assert_eq!(member_index("eth1"), None);
        assert_eq!(member_index("eth"), None);
        assert_eq!(member_index("eth+2"), None);
        assert_eq!(member_index("veth2"), None);
    }

    #[test]
    fn links_from_ip_json() {
        let out = r#"[{"ifindex":1,"ifname":"lo","link_type":"loopback","address":"00:00:00:00:00:00"},
            {"ifindex":4,"ifname":"eth1","link_type":"ether","address":"02:00:00:00:00:aa"}]"#;
        let links: Vec<Link> = parse_json(out).expect("parse");
        let mac: MacAddress = "02:00:00:00:00:AA".parse().expect("mac");
        assert!(!links[0].has_mac("00:00:00:00:00:00".parse().expect("mac")));
        assert!(links[1].has_mac(mac));
    }

    #[test]
    fn mtu_bounds() {
        assert!(check_mtu(Some(1400), Family::V4).is_ok());
        assert!(check_mtu(Some(1000), Family::V6).is_err());
        assert!(check_mtu(Some(70_000), Family::V4).is_err());
        assert!(check_mtu(None, Family::V6).is_ok());
    }
}
