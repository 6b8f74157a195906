//! The tasks flows are made of. Every task is idempotent: it reads what is done from
//! the database and the drivers, and does the rest, so a resumed flow can run a task
//! that had half-finished before a crash.

use crate::{finalize, Drivers, FlowError, WorkerSettings};
use krater_db::{Db, PortRequest};
use krater_domain::flow::Flow;
use krater_domain::*;
use krater_drivers::{LocalNetworks, Subnet};
use std::sync::Arc;

/// What a task needs.
pub(crate) struct Context {
    pub db: Db,
    pub drivers: Drivers,
    pub settings: WorkerSettings,
    pub networks: Arc<LocalNetworks>,
    pub lb_id: String,
}

/// One step of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Makes the amphorae of the load balancer (one for SINGLE) and waits for their agents.
    BuildAmphorae,
    /// Gives every amphora an interface on the VIP subnet carrying the VIP.
    PlugVip,
    /// Gives every amphora an interface on each subnet its members live on.
    PlugMemberNetworks,
    /// Renders the HAProxy configuration and applies it on every amphora.
    ApplyConfig,
    /// Marks the change done: pending objects ACTIVE, deleted children removed.
    MarkActive,
    /// Stops and deletes the amphorae of a load balancer being deleted.
    RemoveAmphorae,
    /// Marks the load balancer DELETED, removes its children and releases its VIP.
    MarkDeleted,
}

impl Task {
    /// The tasks of a flow, in order.
    pub fn plan(flow: &Flow) -> Vec<Task> {
        use Task::*;
        match flow {
            Flow::CreateLoadBalancer { .. } => vec![
                BuildAmphorae,
                PlugVip,
                PlugMemberNetworks,
                ApplyConfig,
                MarkActive,
            ],
            Flow::UpdateLoadBalancer { .. } => vec![ApplyConfig, MarkActive],
            Flow::ApplyChildren { .. } => vec![PlugMemberNetworks, ApplyConfig, MarkActive],
            Flow::DeleteLoadBalancer { .. } => vec![RemoveAmphorae, MarkDeleted],
        }
    }

    pub(crate) async fn execute(self, ctx: &Context) -> Result<(), FlowError> {
        match self {
            Task::BuildAmphorae => build_amphorae(ctx).await,
            Task::PlugVip => plug_vip(ctx).await,
            Task::PlugMemberNetworks => plug_member_networks(ctx).await,
            Task::ApplyConfig => apply_config(ctx).await,
            Task::MarkActive => finalize::mark_active(ctx).await,
            Task::RemoveAmphorae => remove_amphorae(ctx).await,
            Task::MarkDeleted => finalize::mark_deleted(ctx).await,
        }
    }
}

async fn load_balancer(ctx: &Context) -> Result<LoadBalancer, FlowError> {
    let mut tx = ctx.db.begin().await?;
    tx.load_balancer(&ctx.lb_id)
        .await?
        .ok_or_else(|| FlowError::Other(format!("load balancer {} is gone", ctx.lb_id)))
}

async fn amphorae(ctx: &Context) -> Result<Vec<Amphora>, FlowError> {
    let mut tx = ctx.db.begin().await?;
    Ok(tx.amphorae_of(&ctx.lb_id).await?)
}

async fn save_amphora(ctx: &Context, amphora: &Amphora) -> Result<(), FlowError> {
    let mut tx = ctx.db.begin().await?;
    tx.save_amphora(amphora).await?;
    Ok(tx.commit().await?)
}

async fn build_amphorae(ctx: &Context) -> Result<(), FlowError> {
    let lb = load_balancer(ctx).await?;
    if amphorae(ctx).await?.is_empty() {
        let roles: &[Option<AmphoraRole>] = match lb.topology {
            Topology::Single => &[Some(AmphoraRole::Standalone)],
            Topology::ActiveStandby => &[Some(AmphoraRole::Master), Some(AmphoraRole::Backup)],
        };
        for role in roles {
            let amphora = Amphora {
                id: uuid::Uuid::new_v4().to_string(),
                load_balancer_id: Some(lb.id.clone()),
                compute_id: None,
                status: AmphoraStatus::PendingCreate,
                role: *role,
                lb_network_ip: None,
                vrrp_ip: None,
                ha_ip: None,
                vrrp_port_id: None,
                ha_port_id: None,
                vrrp_interface: None,
                // Octavia's VRRP router id, which every amphora carries.
                vrrp_id: Some(1),
                vrrp_priority: None,
                cert_expiration: None,
                cert_busy: false,
                cached_zone: None,
                image_id: None,
                compute_flavor: None,
                created_at: now(),
                updated_at: None,
            };
            save_amphora(ctx, &amphora).await?;
        }
    }
    for mut amphora in amphorae(ctx).await? {
        if amphora.status == AmphoraStatus::Allocated {
            continue;
        }
        let (_, mgmt_subnet) = ctx
            .networks
            .management
            .as_ref()
            .ok_or_else(|| FlowError::Other("no management network is configured".into()))?;
        let management = port_on(ctx, mgmt_subnet, &amphora.id, "krater:amphora-mgmt").await?;
        let instance = ctx.drivers.compute.build(&amphora, &management).await?;
        amphora.compute_id = Some(instance.compute_id);
        amphora.lb_network_ip = Some(instance.lb_network_ip);
        amphora.cert_expiration = instance.cert_expiration;
        amphora.status = AmphoraStatus::Booting;
        amphora.updated_at = Some(now());
        save_amphora(ctx, &amphora).await?;
        ctx.drivers.amphora.wait_reachable(&amphora).await?;
        amphora.status = AmphoraStatus::Allocated;
        save_amphora(ctx, &amphora).await?;
    }
    Ok(())
}

/// The port of `device` on `subnet`, allocated when it has none yet.
async fn port_on(
    ctx: &Context,
    subnet: &Subnet,
    device: &str,
    owner: &str,
) -> Result<Port, FlowError> {
    if let Some(port) = ctx.drivers.network.made_up_port(subnet, device) {
        return Ok(port);
    }
    let mut tx = ctx.db.begin().await?;
    if let Some(port) = tx
        .ports_of_device(device)
        .await?
        .into_iter()
        .find(|p| p.subnet_id == subnet.id)
    {
        return Ok(port);
    }
    let name = format!("krater-amphora-{device}");
    let request = PortRequest {
        network_id: &subnet.network_id,
        subnet_id: &subnet.id,
        device_owner: owner,
        device_id: device,
        name: &name,
    };
    let port = tx
        .allocate_port(
            request,
            subnet.allocation_start..=subnet.allocation_end,
            &subnet.reserved_addresses(),
        )
        .await?
        .ok_or_else(|| FlowError::Other(format!("no free address on subnet {}", subnet.id)))?;
    tx.commit().await?;
    Ok(port)
}

/// Records the interface's MAC address on its port (what Neutron's view shows).
async fn record_mac(ctx: &Context, port: &Port, mac: &str) -> Result<(), FlowError> {
    if port.mac_address == mac {
        return Ok(());
    }
    let mut updated = port.clone();
    updated.mac_address = mac.to_string();
    let mut tx = ctx.db.begin().await?;
    tx.save_port(&updated).await?;
    Ok(tx.commit().await?)
}

async fn plug_vip(ctx: &Context) -> Result<(), FlowError> {
    let lb = load_balancer(ctx).await?;
    let subnet_id = lb.vip.subnet_id.clone().unwrap_or_default();
    let subnet = ctx
        .networks
        .subnet(&subnet_id)
        .ok_or_else(|| FlowError::Other(format!("VIP subnet {subnet_id} is unknown")))?
        .clone();
    let vip = lb
        .vip
        .ip_address
        .clone()
        .ok_or_else(|| FlowError::Other("load balancer has no VIP address".into()))?;
    for mut amphora in amphorae(ctx).await? {
        let port = port_on(ctx, &subnet, &amphora.id, "krater:amphora").await?;
        let interface = ctx.drivers.network.plug(&amphora, &subnet, &port).await?;
        record_mac(ctx, &port, &interface.mac_address).await?;
        ctx.drivers
            .amphora
            .plug_vip(&amphora, &vip, &interface)
            .await?;
        amphora.vrrp_ip = Some(port.ip_address.clone());
        amphora.vrrp_port_id = Some(port.id.clone());
        amphora.ha_ip = Some(vip.clone());
        amphora.ha_port_id = lb.vip.port_id.clone();
        amphora.vrrp_interface = Some("eth1".into());
        save_amphora(ctx, &amphora).await?;
    }
    Ok(())
}

/// Subnets the members of the load balancer live on: the member's own `subnet_id`,
/// else the local subnet that contains its address.
fn member_subnets(ctx: &Context, graph: &LoadBalancerGraph) -> Vec<Subnet> {
    let mut subnets: Vec<Subnet> = Vec::new();
    let vip_subnet = graph.load_balancer.vip.subnet_id.clone();
    for member in graph.pools.iter().flat_map(|p| &p.members) {
        let subnet = match &member.subnet_id {
            Some(id) => ctx.networks.subnet(id),
            None => member
                .address
                .parse()
                .ok()
                .and_then(|ip| ctx.networks.subnet_containing(ip)),
        };
        if let Some(subnet) = subnet {
            let already = subnets.iter().any(|s| s.id == subnet.id);
            if !already && Some(&subnet.id) != vip_subnet.as_ref() {
                subnets.push(subnet.clone());
            }
        }
    }
    subnets
}

async fn plug_member_networks(ctx: &Context) -> Result<(), FlowError> {
    let graph = {
        let mut tx = ctx.db.begin().await?;
        tx.load_balancer_graph(&ctx.lb_id).await?
    };
    let subnets = member_subnets(ctx, &graph);
    for amphora in &graph.amphorae {
        for subnet in &subnets {
            let port = port_on(ctx, subnet, &amphora.id, "krater:amphora").await?;
            let interface = ctx.drivers.network.plug(amphora, subnet, &port).await?;
            record_mac(ctx, &port, &interface.mac_address).await?;
            ctx.drivers
                .amphora
                .plug_network(amphora, &interface)
                .await?;
        }
    }
    Ok(())
}

async fn apply_config(ctx: &Context) -> Result<(), FlowError> {
    // The renderer leaves out objects in PENDING_DELETE.
    let graph = {
        let mut tx = ctx.db.begin().await?;
        tx.load_balancer_graph(&ctx.lb_id).await?
    };
    for amphora in &graph.amphorae {
        let options = krater_render::RenderOptions {
            base_dir: krater_drivers::netns::amphora_dir(
                std::path::Path::new(&ctx.settings.amphora_base_dir),
                &amphora.id,
            )
            .display()
            .to_string(),
            ..krater_render::RenderOptions::default()
        };
        if krater_render::haproxy_listeners(&graph).is_empty() {
            ctx.drivers
                .amphora
                .remove_config(amphora, &ctx.lb_id)
                .await?;
        } else {
            let config = krater_render::render(&graph, &options)?;
            ctx.drivers
                .amphora
                .apply_config(amphora, &ctx.lb_id, &config)
                .await?;
        }
    }
    Ok(())
}

async fn remove_amphorae(ctx: &Context) -> Result<(), FlowError> {
    for mut amphora in amphorae(ctx).await? {
        if amphora.compute_id.is_some() {
            ctx.drivers.network.unplug_all(&amphora).await?;
            ctx.drivers.compute.delete(&amphora.id).await?;
        }
        let mut tx = ctx.db.begin().await?;
        for port in tx.ports_of_device(&amphora.id).await? {
            tx.delete_port(&port.id).await?;
        }
        amphora.status = AmphoraStatus::Deleted;
        amphora.updated_at = Some(now());
        tx.save_amphora(&amphora).await?;
        tx.commit().await?;
    }
    Ok(())
}
