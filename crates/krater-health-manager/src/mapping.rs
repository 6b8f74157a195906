//! From a heartbeat to operating statuses, following Octavia's health manager:
//! members UP → ONLINE, DOWN → ERROR, DRAIN → DRAINING, MAINT → OFFLINE,
//! `no check` → NO_MONITOR, missing → OFFLINE; a pool UP → ONLINE (DEGRADED when a
//! member is down), DOWN → ERROR, missing → OFFLINE; a listener OPEN → ONLINE,
//! FULL → DEGRADED, missing → ERROR; the load balancer ONLINE, DEGRADED or ERROR
//! after its worst listener and pool, OFFLINE when disabled. Only changes are returned.

use krater_db::Table;
use krater_domain::{LoadBalancerGraph, OperatingStatus as O, ProvisioningStatus};
use krater_heartbeat::{
    split_pool_key, HeartbeatMessage, ListenerStatus, MemberStatus, PoolStatus,
};

/// One operating status to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub table: Table,
    pub id: String,
    pub status: O,
}

fn worse(a: O, b: O) -> O {
    let rank = |s: O| match s {
        O::Error => 3,
        O::Degraded => 2,
        _ => 1,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// The operating statuses the heartbeat implies for the load balancer's objects that
/// differ from the stored ones.
pub fn operating_statuses(
    graph: &LoadBalancerGraph,
    message: &HeartbeatMessage,
) -> Vec<StatusUpdate> {
    let mut updates = Vec::new();
    let mut push = |table: Table, id: &str, current: O, status: O| {
        if current != status {
            updates.push(StatusUpdate {
                table,
                id: id.to_string(),
                status,
            });
        }
    };
    let lb = &graph.load_balancer;
    let mut lb_status = O::Online;

    for pg in &graph.pools {
        if pg.pool.provisioning_status == ProvisioningStatus::PendingDelete {
            continue;
        }
        let reported = message
            .pools
            .iter()
            .find(|(key, _)| split_pool_key(key).0 == pg.pool.id)
            .map(|(_, health)| health);
        let mut any_member_down = false;
        for member in &pg.members {
            let status = match reported.and_then(|p| p.members.get(&member.id)) {
                Some(text) => match MemberStatus::classify(text) {
                    MemberStatus::Up => O::Online,
                    MemberStatus::Down => O::Error,
                    MemberStatus::Drain => O::Draining,
                    MemberStatus::Maint => O::Offline,
                    MemberStatus::NoCheck => O::NoMonitor,
                    MemberStatus::Other => member.operating_status,
                },
                None if member.operating_status == O::NoMonitor => O::NoMonitor,
                None => O::Offline,
            };
            any_member_down |= status == O::Error;
            push(Table::Member, &member.id, member.operating_status, status);
        }
        let pool_status = match reported.map(|p| PoolStatus::classify(&p.status)) {
            Some(PoolStatus::Up) if any_member_down => O::Degraded,
            Some(PoolStatus::Up) => O::Online,
            Some(PoolStatus::Down) => O::Error,
            Some(PoolStatus::Other) => pg.pool.operating_status,
            None => O::Offline,
        };
        if reported.is_some() {
            lb_status = worse(lb_status, pool_status);
        }
        push(
            Table::Pool,
            &pg.pool.id,
            pg.pool.operating_status,
            pool_status,
        );
    }

    for listener in &graph.listeners {
        if listener.provisioning_status == ProvisioningStatus::PendingDelete {
            continue;
        }
        let status = match message.listeners.get(&listener.id) {
            Some(health) => match ListenerStatus::classify(&health.status) {
                ListenerStatus::Open => O::Online,
                ListenerStatus::Full => O::Degraded,
                ListenerStatus::Other => O::Error,
            },
            None if listener.admin_state_up && lb.admin_state_up => O::Error,
            None => O::Offline,
        };
        lb_status = worse(lb_status, status);
        push(
            Table::Listener,
            &listener.id,
            listener.operating_status,
            status,
        );
    }

    let lb_status = if lb.admin_state_up {
        lb_status
    } else {
        O::Offline
    };
    push(Table::LoadBalancer, &lb.id, lb.operating_status, lb_status);
    updates
}
