//! What each task of a plan does ([`Step::execute`]) and how it is undone
//! ([`Step::revert`]).
//!
//! Every task is idempotent: it reads what is done from the database and the drivers
//! and does the rest, so a resumed flow can run again a task that had half-finished
//! before a crash. A task's database effects go into the write transaction it returns;
//! the runner records the job's progress in that same transaction and commits both.
//! Every write transaction starts with the job's lease check ([`Context::write`]), so a
//! worker that lost its job writes nothing.

use crate::plan::Step;
use crate::{finalize, Drivers, FlowError};
use krater_db::{Db, Lease, PortRequest, Tx};
use krater_domain::*;
use krater_drivers::{LocalNetworks, Subnet};
use std::sync::Arc;
use std::time::Duration;

/// How long an agent may take to answer a VRRP handover's question; a dead one does
/// not answer.
const HANDOVER_ANSWER: Duration = Duration::from_secs(2);
/// Between two looks at the peers of an amphora that gives its VIP up.
const HANDOVER_POLL: Duration = Duration::from_millis(50);

/// What a task needs.
pub(crate) struct Context {
    pub db: Db,
    pub drivers: Drivers,
    pub networks: Arc<LocalNetworks>,
    pub lb_id: String,
    pub lease: Lease,
    pub vrrp: krater_render::VrrpOptions,
}

impl Context {
    /// A write transaction of this job: it fails with `LeaseLost` once another worker
    /// holds the job.
    pub(crate) async fn write(&self) -> Result<Tx, FlowError> {
        let mut tx = self.db.begin().await?;
        tx.fence(&self.lease).await?;
        Ok(tx)
    }

    async fn load_balancer(&self) -> Result<LoadBalancer, FlowError> {
        let mut tx = self.db.begin().await?;
        tx.load_balancer(&self.lb_id)
            .await?
            .ok_or_else(|| FlowError::Other(format!("load balancer {} is gone", self.lb_id)))
    }

    async fn amphora(&self, id: &str) -> Result<Amphora, FlowError> {
        let mut tx = self.db.begin().await?;
        tx.amphora(id)
            .await?
            .ok_or_else(|| FlowError::Other(format!("amphora {id} is gone")))
    }

    async fn graph(&self) -> Result<LoadBalancerGraph, FlowError> {
        let mut tx = self.db.begin().await?;
        Ok(tx.load_balancer_graph(&self.lb_id).await?)
    }
}

impl Step {
    /// Runs the task; returns the write transaction that holds its database effects.
    pub(crate) async fn execute(&self, ctx: &Context) -> Result<Tx, FlowError> {
        match self {
            Step::CreateAmphora { amphora_id, role } => {
                create_amphora(ctx, amphora_id, *role).await
            }
            Step::BootAmphora { amphora_id } => boot_amphora(ctx, amphora_id).await,
            Step::PlugVip { amphora_id } => plug_vip(ctx, amphora_id).await,
            Step::PlugMemberNetworks { amphora_id } => {
                plug_member_networks(ctx, amphora_id.as_deref()).await
            }
            Step::ApplyConfig => apply_config(ctx).await,
            Step::MarkActive => {
                let mut tx = ctx.write().await?;
                finalize::mark_active(&mut tx, &ctx.lb_id).await?;
                Ok(tx)
            }
            Step::RemoveAmphora { amphora_id } => remove_amphora(ctx, amphora_id).await,
            Step::MarkDeleted => {
                let mut tx = ctx.write().await?;
                finalize::mark_deleted(&mut tx, &ctx.lb_id).await?;
                Ok(tx)
            }
        }
    }

    /// Undoes what the task may have done, whether it finished or not; returns the
    /// write transaction that holds the database side of the undo.
    ///
    /// Some tasks have nothing of their own to undo: an interface plugged by
    /// `plug_vip` goes with the amphora that `boot_amphora`'s revert deletes, and its
    /// port with the rows `create_amphora`'s revert removes; a configuration applied
    /// or a load balancer marked cannot be taken back, and the flow's end marks the
    /// objects ERROR. A deleted amphora is not rebuilt.
    pub(crate) async fn revert(&self, ctx: &Context) -> Result<Tx, FlowError> {
        match self {
            Step::CreateAmphora { amphora_id, .. } => {
                // A spare the plan took came booted: its instance goes here.
                if let Ok(amphora) = ctx.amphora(amphora_id).await {
                    if amphora.compute_id.is_some() {
                        delete_instance(&ctx.drivers, &amphora).await?;
                    }
                }
                let mut tx = ctx.write().await?;
                forget_amphora(&mut tx, amphora_id).await?;
                Ok(tx)
            }
            Step::BootAmphora { amphora_id } => {
                match ctx.amphora(amphora_id).await {
                    Ok(amphora) => delete_instance(&ctx.drivers, &amphora).await?,
                    Err(_) => ctx.drivers.compute.delete(amphora_id).await?,
                }
                ctx.write().await
            }
            Step::PlugVip { .. }
            | Step::PlugMemberNetworks { .. }
            | Step::ApplyConfig
            | Step::MarkActive
            | Step::RemoveAmphora { .. }
            | Step::MarkDeleted => ctx.write().await,
        }
    }
}

/// Unplugs and deletes the instance of `amphora`, whatever of it exists.
pub(crate) async fn delete_instance(drivers: &Drivers, amphora: &Amphora) -> Result<(), FlowError> {
    drivers.network.unplug_all(amphora).await?;
    drivers.compute.delete(&amphora.id).await?;
    Ok(())
}

/// The rows of a removed amphora: its ports and health row go, it is DELETED.
pub(crate) async fn forget_amphora(tx: &mut Tx, id: &str) -> Result<(), FlowError> {
    for port in tx.ports_of_device(id).await? {
        tx.delete_port(&port.id).await?;
    }
    tx.forget_amphora_health(id).await?;
    if let Some(mut amphora) = tx.amphora(id).await? {
        amphora.status = AmphoraStatus::Deleted;
        amphora.updated_at = Some(now());
        tx.save_amphora(&amphora).await?;
    }
    Ok(())
}

async fn create_amphora(ctx: &Context, id: &str, role: AmphoraRole) -> Result<Tx, FlowError> {
    let mut tx = ctx.write().await?;
    if tx.amphora(id).await?.is_none() {
        let amphora = Amphora {
            load_balancer_id: Some(ctx.lb_id.clone()),
            role: Some(role),
            vrrp_priority: role.vrrp_priority(),
            ..Amphora::new(id.to_string(), AmphoraStatus::PendingCreate)
        };
        tx.save_amphora(&amphora).await?;
    }
    management_port(&ctx.drivers, &ctx.networks, &mut tx, id).await?;
    Ok(tx)
}

async fn boot_amphora(ctx: &Context, id: &str) -> Result<Tx, FlowError> {
    let mut amphora = ctx.amphora(id).await?;
    if amphora.status != AmphoraStatus::Allocated {
        // Recorded (or made up) by create_amphora.
        let management = {
            let mut tx = ctx.db.begin().await?;
            management_port(&ctx.drivers, &ctx.networks, &mut tx, id).await?
        };
        let instance = ctx.drivers.compute.build(&amphora, &management).await?;
        amphora.compute_id = Some(instance.compute_id);
        amphora.lb_network_ip = Some(instance.lb_network_ip);
        amphora.cert_expiration = instance.cert_expiration;
        ctx.drivers.amphora.wait_reachable(&amphora).await?;
        amphora.status = AmphoraStatus::Allocated;
        amphora.updated_at = Some(now());
    }
    let mut tx = ctx.write().await?;
    tx.save_amphora(&amphora).await?;
    tx.watch_amphora(&amphora.id).await?;
    Ok(tx)
}

/// The management port of amphora `id` inside `tx` (see [`port_in`]).
pub(crate) async fn management_port(
    drivers: &Drivers,
    networks: &LocalNetworks,
    tx: &mut Tx,
    id: &str,
) -> Result<Port, FlowError> {
    let (_, subnet) = networks
        .management
        .as_ref()
        .ok_or_else(|| FlowError::Other("no management network is configured".into()))?;
    port_in(drivers, tx, subnet, id, "krater:amphora-mgmt").await
}

/// The port of `device` on `subnet` inside `tx`, allocated when it has none yet (or
/// made up by a network driver that takes no address, noop).
async fn port_in(
    drivers: &Drivers,
    tx: &mut Tx,
    subnet: &Subnet,
    device: &str,
    owner: &str,
) -> Result<Port, FlowError> {
    if let Some(port) = drivers.network.made_up_port(subnet, device) {
        return Ok(port);
    }
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
    tx.allocate_port(
        request,
        subnet.allocation_start..=subnet.allocation_end,
        &subnet.reserved_addresses(),
    )
    .await?
    .ok_or_else(|| FlowError::Other(format!("no free address on subnet {}", subnet.id)))
}

/// The port of `device` on `subnet`, allocated and committed when it has none yet,
/// before a driver wires it.
async fn port_on(
    ctx: &Context,
    subnet: &Subnet,
    device: &str,
    owner: &str,
) -> Result<Port, FlowError> {
    let mut tx = ctx.write().await?;
    let port = port_in(&ctx.drivers, &mut tx, subnet, device, owner).await?;
    tx.commit().await?;
    Ok(port)
}

/// Records the interface's MAC address on its port (what Neutron's view shows).
async fn record_mac(tx: &mut Tx, port: &Port, mac: &str) -> Result<(), FlowError> {
    if port.mac_address == mac {
        return Ok(());
    }
    let mut updated = port.clone();
    updated.mac_address = mac.to_string();
    Ok(tx.save_port(&updated).await?)
}

async fn plug_vip(ctx: &Context, id: &str) -> Result<Tx, FlowError> {
    let lb = ctx.load_balancer().await?;
    let mut amphora = ctx.amphora(id).await?;
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
    let port = port_on(ctx, &subnet, &amphora.id, "krater:amphora").await?;
    let interface = ctx.drivers.network.plug(&amphora, &subnet, &port).await?;
    let vrrp = lb.topology == Topology::ActiveStandby;
    ctx.drivers
        .amphora
        .plug_vip(&amphora, &vip, &interface, vrrp)
        .await?;
    amphora.vrrp_ip = Some(port.ip_address.clone());
    amphora.vrrp_port_id = Some(port.id.clone());
    amphora.ha_ip = Some(vip);
    amphora.ha_port_id = lb.vip.port_id.clone();
    amphora.vrrp_interface = Some("eth1".into());
    let mut tx = ctx.write().await?;
    record_mac(&mut tx, &port, &interface.mac_address).await?;
    tx.save_amphora(&amphora).await?;
    Ok(tx)
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

async fn plug_member_networks(ctx: &Context, only: Option<&str>) -> Result<Tx, FlowError> {
    let graph = ctx.graph().await?;
    let subnets = member_subnets(ctx, &graph);
    let mut wired = Vec::new();
    let amphorae = graph
        .amphorae
        .iter()
        .filter(|a| only.is_none_or(|id| a.id == id));
    for amphora in amphorae {
        for subnet in &subnets {
            let port = port_on(ctx, subnet, &amphora.id, "krater:amphora").await?;
            let interface = ctx.drivers.network.plug(amphora, subnet, &port).await?;
            ctx.drivers
                .amphora
                .plug_network(amphora, &interface)
                .await?;
            wired.push((port, interface.mac_address));
        }
    }
    let mut tx = ctx.write().await?;
    for (port, mac) in &wired {
        record_mac(&mut tx, port, mac).await?;
    }
    Ok(tx)
}

async fn apply_config(ctx: &Context) -> Result<Tx, FlowError> {
    // The renderer leaves out objects in PENDING_DELETE.
    let graph = ctx.graph().await?;
    let serves_haproxy = !krater_render::haproxy_listeners(&graph).is_empty();
    let nat_listeners = krater_render::nat_listeners(&graph)?;
    let vrrp = krater_render::vrrp_amphorae(&graph);
    // Oldest first: an amphora that holds the VIP learns of a new peer before the
    // new one starts its VRRP, which then finds a MASTER and stays BACKUP.
    for amphora in graph.amphorae.iter().filter(|a| a.status.serves()) {
        // An amphora serves one load balancer: its bundle holds that one's HAProxy
        // (or nothing once no listener is left), its UDP listeners and, with
        // ACTIVE_STANDBY, keepalived.
        let mut bundle = krater_drivers::AmphoraBundle {
            nat_listeners: nat_listeners.clone(),
            ..krater_drivers::AmphoraBundle::default()
        };
        if serves_haproxy {
            let opts = krater_render::RenderOptions {
                local_peer: Some(amphora.id.clone()),
                ..krater_render::RenderOptions::default()
            };
            let config = krater_render::render(&graph, &opts)?;
            bundle.haproxy.insert(ctx.lb_id.clone(), config);
        }
        if vrrp.iter().any(|a| a.id == amphora.id) {
            let config = krater_render::render_keepalived(&graph, &amphora.id, &ctx.vrrp)?;
            bundle.keepalived = Some(config);
        }
        ctx.drivers.amphora.apply_bundle(amphora, &bundle).await?;
    }
    // keepalived gives the VIP only to an amphora that serves a listener.
    if !vrrp.is_empty() && (serves_haproxy || !nat_listeners.is_empty()) {
        wait_for_vip_holder(ctx, &graph).await;
    }
    ctx.write().await
}

/// Waits (at most a takeover time and two answers) until an amphora of an
/// ACTIVE_STANDBY load balancer holds its VIP, so that ACTIVE means serving: new
/// amphorae all start as BACKUP, and elect one a takeover time after HAProxy runs. Best effort:
/// without a holder by then, the flow goes on (keepalived keeps trying).
async fn wait_for_vip_holder(ctx: &Context, graph: &LoadBalancerGraph) {
    let deadline = tokio::time::Instant::now() + ctx.vrrp.takeover_time() + 2 * HANDOVER_ANSWER;
    while vip_holder(ctx, graph).await.is_none() {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(lb = %ctx.lb_id, "no amphora holds the VIP yet; going on");
            return;
        }
        tokio::time::sleep(HANDOVER_POLL).await;
    }
}

/// Whether `amphora` answers that it holds `vip` (within [`HANDOVER_ANSWER`]).
async fn holds_vip(ctx: &Context, amphora: &Amphora, vip: &str) -> bool {
    let answer = tokio::time::timeout(HANDOVER_ANSWER, ctx.drivers.amphora.holds_vip(amphora, vip));
    matches!(answer.await, Ok(Ok(true)))
}

/// The amphora of an ACTIVE_STANDBY load balancer that holds its VIP, when one
/// answers so (asked all at once: a dead one takes [`HANDOVER_ANSWER`] to give up).
pub(crate) async fn vip_holder(ctx: &Context, graph: &LoadBalancerGraph) -> Option<String> {
    let vip = graph.load_balancer.vip.ip_address.as_deref()?;
    if graph.load_balancer.topology != Topology::ActiveStandby {
        return None;
    }
    let serving: Vec<&Amphora> = graph
        .amphorae
        .iter()
        .filter(|a| a.status.serves())
        .collect();
    let answers =
        futures_util::future::join_all(serving.iter().map(|a| holds_vip(ctx, a, vip))).await;
    serving
        .iter()
        .zip(answers)
        .find(|(_, holds)| *holds)
        .map(|(a, _)| a.id.clone())
}

/// Before `amphora` (of ACTIVE_STANDBY) goes: its keepalived stops with the VIP left
/// in place, so it serves until a peer, missing its advertisements, takes the VIP
/// over; when it held the VIP, it goes only once a peer holds it (or the time VRRP
/// takes to notice has passed), so that no moment goes without an amphora answering
/// for the VIP. Best effort: a dead amphora answers nothing.
async fn hand_vip_over(ctx: &Context, amphora: &Amphora) -> Result<(), FlowError> {
    let graph = ctx.graph().await?;
    let Some(vip) = graph.load_balancer.vip.ip_address.as_deref() else {
        return Ok(());
    };
    let driver = &ctx.drivers.amphora;
    match tokio::time::timeout(HANDOVER_ANSWER, driver.stop_vrrp(amphora)).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::info!(amphora = %amphora.id, error = %err, "no VRRP handover");
            return Ok(());
        }
        Err(_) => {
            tracing::info!(amphora = %amphora.id, "no VRRP handover: no answer");
            return Ok(());
        }
    }
    if !holds_vip(ctx, amphora, vip).await {
        return Ok(());
    }
    let peers: Vec<&Amphora> = graph
        .amphorae
        .iter()
        .filter(|a| a.id != amphora.id && a.status.serves())
        .collect();
    let deadline = tokio::time::Instant::now() + ctx.vrrp.takeover_time() + HANDOVER_ANSWER;
    loop {
        for peer in &peers {
            if holds_vip(ctx, peer, vip).await {
                tracing::info!(amphora = %amphora.id, peer = %peer.id, "VIP handed over");
                return Ok(());
            }
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(amphora = %amphora.id, "no peer took the VIP over in time");
            return Ok(());
        }
        tokio::time::sleep(HANDOVER_POLL).await;
    }
}

async fn remove_amphora(ctx: &Context, id: &str) -> Result<Tx, FlowError> {
    let mut tx = ctx.db.begin().await?;
    let amphora = tx.amphora(id).await?;
    drop(tx);
    let Some(amphora) = amphora else {
        return ctx.write().await;
    };
    if amphora.role.is_some_and(|r| r.vrrp_priority().is_some()) && amphora.status.serves() {
        hand_vip_over(ctx, &amphora).await?;
    }
    if amphora.compute_id.is_some() {
        delete_instance(&ctx.drivers, &amphora).await?;
    }
    let mut tx = ctx.write().await?;
    forget_amphora(&mut tx, &amphora.id).await?;
    Ok(tx)
}
