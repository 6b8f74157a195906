//! The text of `keepalived.conf` for one amphora of an ACTIVE_STANDBY load balancer.
//!
//! One VRRP instance per load balancer, as Octavia has it, with these differences:
//! VRRP version 3, whose advertisement interval can be a fraction of a second
//! (version 2 counts whole seconds, and so cannot take over within one); unicast
//! advertisements between the amphorae' own addresses on the VIP network (keepalived
//! takes advertisements from those peers only); no password, which version 3 does not
//! carry (version 2's is sent in clear). Both amphorae start as BACKUP with
//! `nopreempt`: a returning or replacing amphora never takes the VIP from one that
//! holds it, so a failover moves the VIP at most once. The VIP is keepalived's
//! virtual address, never a static one, and the check script gives it up when
//! HAProxy does not answer.

use std::net::IpAddr;

use krater_domain::{Amphora, LoadBalancerGraph, Topology};

use crate::options::{VrrpOptions, VRRP_CHECK};
use crate::validate;
use crate::RenderError;

/// The interface of the VIP network in the load-balancing namespace (the agent
/// names it so when it plugs the VIP).
const VIP_INTERFACE: &str = "eth1";

/// The amphorae that take part in VRRP and HAProxy's `peers`: those of an
/// ACTIVE_STANDBY load balancer that serve ([`AmphoraStatus::serves`]) and are
/// plugged into the VIP network (they have a VRRP address), in the graph's order.
pub fn vrrp_amphorae(graph: &LoadBalancerGraph) -> Vec<&Amphora> {
    if graph.load_balancer.topology != Topology::ActiveStandby {
        return Vec::new();
    }
    graph
        .amphorae
        .iter()
        .filter(|a| a.status.serves() && a.vrrp_ip.is_some())
        .collect()
}

/// Renders the `keepalived.conf` of amphora `amphora_id`, one of
/// [`vrrp_amphorae`]; its peers are the others.
pub fn render_keepalived(
    graph: &LoadBalancerGraph,
    amphora_id: &str,
    opts: &VrrpOptions,
) -> Result<String, RenderError> {
    let lb = &graph.load_balancer;
    let lb_id = validate::ident("load_balancer.id", &lb.id)?;
    let members = vrrp_amphorae(graph);
    let this = members
        .iter()
        .find(|a| a.id == amphora_id)
        .ok_or(RenderError::Missing {
            field: "amphora (serving, with a vrrp_ip)",
        })?;
    let own = vrrp_ip(this)?;
    let priority = this
        .role
        .and_then(|r| r.vrrp_priority())
        .ok_or(RenderError::Missing {
            field: "amphora.role (MASTER or BACKUP)",
        })?;
    let router_id = validate::positive("amphora.vrrp_id", this.vrrp_id.unwrap_or(1))?;
    if router_id > 255 {
        return Err(validate::invalid(
            "amphora.vrrp_id",
            &router_id.to_string(),
            "a VRRP router id is 1 to 255",
        ));
    }
    let vip = validate::ip(
        "load_balancer.vip.ip_address",
        lb.vip.ip_address.as_deref().ok_or(RenderError::Missing {
            field: "load_balancer.vip.ip_address",
        })?,
    )?;
    if vip.is_ipv4() != own.is_ipv4() {
        return Err(validate::invalid(
            "amphora.vrrp_ip",
            &own.to_string(),
            "not of the VIP's address family",
        ));
    }
    let mut peers = Vec::new();
    for peer in members.iter().filter(|a| a.id != amphora_id) {
        peers.push(vrrp_ip(peer)?);
    }
    let host_prefix = if vip.is_ipv4() { 32 } else { 128 };
    let advert = seconds(opts.advert_int_centis);

    let mut text = String::new();
    let mut line = |l: &str| {
        text.push_str(l);
        text.push('\n');
    };
    line(&format!(
        "# keepalived.conf of amphora {} of load balancer {lb_id}, rendered by krater",
        validate::ident("amphora.id", &this.id)?
    ));
    line("global_defs {");
    line("    enable_script_security");
    line("    script_user root");
    line("    vrrp_version 3");
    line("}");
    line("");
    line("vrrp_script haproxy_serves {");
    line(&format!("    script \"${{_PWD}}/../../{VRRP_CHECK}\""));
    line(&format!("    interval {}", opts.check_interval));
    line(&format!("    timeout {}", opts.check_interval));
    line(&format!("    fall {}", opts.fall));
    line(&format!("    rise {}", opts.rise));
    line("}");
    line("");
    line(&format!("vrrp_instance {} {{", lb_id.replace('-', "")));
    line("    state BACKUP");
    line(&format!("    interface {VIP_INTERFACE}"));
    line(&format!("    virtual_router_id {router_id}"));
    line(&format!("    priority {priority}"));
    line("    nopreempt");
    line("    accept");
    line(&format!("    advert_int {advert}"));
    line(&format!("    garp_master_refresh {}", opts.garp_refresh));
    line(&format!(
        "    garp_master_refresh_repeat {}",
        opts.garp_repeat
    ));
    line(&format!("    unicast_src_ip {own}"));
    line("    unicast_peer {");
    for peer in &peers {
        line(&format!("        {peer}"));
    }
    line("    }");
    line("    virtual_ipaddress {");
    line(&format!("        {vip}/{host_prefix} dev {VIP_INTERFACE}"));
    line("    }");
    line("    track_script {");
    line("        haproxy_serves");
    line("    }");
    line("}");
    Ok(text)
}

/// Hundredths of a second, written in seconds (`20` → `0.20`).
fn seconds(centis: u16) -> String {
    format!("{}.{:02}", centis / 100, centis % 100)
}

fn vrrp_ip(amphora: &Amphora) -> Result<IpAddr, RenderError> {
    validate::ip(
        "amphora.vrrp_ip",
        amphora.vrrp_ip.as_deref().ok_or(RenderError::Missing {
            field: "amphora.vrrp_ip",
        })?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use krater_domain::{AmphoraRole, AmphoraStatus};

    fn amphora(id: &str, role: AmphoraRole, vrrp_ip: &str) -> Amphora {
        Amphora {
            load_balancer_id: Some("lb".into()),
            role: Some(role),
            vrrp_ip: Some(vrrp_ip.into()),
            ..Amphora::new(id.into(), AmphoraStatus::Allocated)
        }
    }

    #[test]
    fn an_advertisement_interval_is_written_in_seconds() {
        for (centis, text) in [(20, "0.20"), (5, "0.05"), (150, "1.50")] {
            assert_eq!(seconds(centis), text);
        }
        let a = amphora("x", AmphoraRole::Master, "198.19.1.10");
        assert_eq!(vrrp_ip(&a).unwrap().to_string(), "198.19.1.10");
        let mut bad = a.clone();
        bad.vrrp_ip = Some("198.19.1.10\n}".into());
        assert!(vrrp_ip(&bad).is_err());
    }
}
