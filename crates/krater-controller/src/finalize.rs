//! The ends of flows: what a finished change leaves in the database (Octavia's
//! "mark active" tasks) and what a failed one leaves (its revert).

use crate::FlowError;
use krater_db::{Table, Tx};
use krater_domain::flow::{Flow, ObjectKind};
use krater_domain::*;

/// Every child of the load balancer, with its table.
fn children(graph: &LoadBalancerGraph) -> Vec<(Table, &str, ProvisioningStatus)> {
    let mut out = Vec::new();
    for l in &graph.listeners {
        out.push((Table::Listener, l.id.as_str(), l.provisioning_status));
    }
    for p in &graph.pools {
        out.push((Table::Pool, p.pool.id.as_str(), p.pool.provisioning_status));
        for m in &p.members {
            out.push((Table::Member, m.id.as_str(), m.provisioning_status));
        }
        if let Some(h) = &p.health_monitor {
            out.push((Table::HealthMonitor, h.id.as_str(), h.provisioning_status));
        }
    }
    // After the listeners and pools they refer to, so that a reversed walk removes
    // them first.
    for pg in &graph.l7policies {
        let p = &pg.policy;
        out.push((Table::L7Policy, p.id.as_str(), p.provisioning_status));
    }
    for r in graph.l7policies.iter().flat_map(|p| &p.rules) {
        out.push((Table::L7Rule, r.id.as_str(), r.provisioning_status));
    }
    out
}

/// Removes the L7 policies and rules marked PENDING_DELETE, and those of listeners
/// that go; the remaining policies of a listener that lost one are numbered 1..n.
async fn remove_deleted_policies(tx: &mut Tx, graph: &LoadBalancerGraph) -> Result<(), FlowError> {
    let gone = ProvisioningStatus::PendingDelete;
    for l in &graph.listeners {
        let listener_gone = l.provisioning_status == gone;
        let mut kept = Vec::new();
        let mut removed_any = false;
        for pg in graph.l7policies_of(&l.id) {
            let policy_gone = listener_gone || pg.policy.provisioning_status == gone;
            for r in &pg.rules {
                if policy_gone || r.provisioning_status == gone {
                    tx.hard_delete(Table::L7Rule, &r.id).await?;
                }
            }
            if policy_gone {
                tx.hard_delete(Table::L7Policy, &pg.policy.id).await?;
                removed_any = true;
            } else {
                kept.push(pg.policy.id.as_str());
            }
        }
        if removed_any && !listener_gone {
            tx.set_l7policy_positions(&kept).await?;
        }
    }
    Ok(())
}

/// Removes the children marked PENDING_DELETE (and what hangs off them).
async fn remove_deleted_children(tx: &mut Tx, graph: &LoadBalancerGraph) -> Result<(), FlowError> {
    remove_deleted_policies(tx, graph).await?;
    for pg in &graph.pools {
        let pool_gone = pg.pool.provisioning_status == ProvisioningStatus::PendingDelete;
        if let Some(hm) = &pg.health_monitor {
            if pool_gone || hm.provisioning_status == ProvisioningStatus::PendingDelete {
                tx.hard_delete(Table::HealthMonitor, &hm.id).await?;
                // Without a monitor, members are no longer checked.
                for m in &pg.members {
                    tx.set_operating_status(Table::Member, &m.id, OperatingStatus::NoMonitor)
                        .await?;
                }
            }
        }
        for m in &pg.members {
            if pool_gone || m.provisioning_status == ProvisioningStatus::PendingDelete {
                tx.hard_delete(Table::Member, &m.id).await?;
            }
        }
        if pool_gone {
            for l in &graph.listeners {
                if l.default_pool_id.as_deref() == Some(pg.pool.id.as_str()) {
                    let mut listener = l.clone();
                    listener.default_pool_id = None;
                    tx.save_listener(&listener).await?;
                }
            }
            tx.hard_delete(Table::Pool, &pg.pool.id).await?;
        }
    }
    for l in &graph.listeners {
        if l.provisioning_status == ProvisioningStatus::PendingDelete {
            tx.hard_delete(Table::Listener, &l.id).await?;
        }
    }
    Ok(())
}

/// Success: deleted children go, pending ones become ACTIVE, the load balancer too.
pub(crate) async fn mark_active(tx: &mut Tx, lb_id: &str) -> Result<(), FlowError> {
    let graph = tx.load_balancer_graph(lb_id).await?;
    remove_deleted_children(tx, &graph).await?;
    for (table, id, status) in children(&graph) {
        if matches!(
            status,
            ProvisioningStatus::PendingCreate | ProvisioningStatus::PendingUpdate
        ) {
            tx.set_provisioning_status(table, id, ProvisioningStatus::Active)
                .await?;
        }
    }
    // The operating status of a health monitor, an L7 policy or an L7 rule follows
    // its admin state.
    let by_admin_state = |up: bool| {
        if up {
            OperatingStatus::Online
        } else {
            OperatingStatus::Offline
        }
    };
    for hm in graph.pools.iter().filter_map(|p| p.health_monitor.as_ref()) {
        tx.set_operating_status(
            Table::HealthMonitor,
            &hm.id,
            by_admin_state(hm.admin_state_up),
        )
        .await?;
    }
    for pg in &graph.l7policies {
        let p = &pg.policy;
        tx.set_operating_status(Table::L7Policy, &p.id, by_admin_state(p.admin_state_up))
            .await?;
        for r in &pg.rules {
            tx.set_operating_status(Table::L7Rule, &r.id, by_admin_state(r.admin_state_up))
                .await?;
        }
    }
    tx.set_provisioning_status(Table::LoadBalancer, lb_id, ProvisioningStatus::Active)
        .await?;
    Ok(())
}

/// The end of a delete: children removed, the VIP released, the load balancer DELETED.
pub(crate) async fn mark_deleted(tx: &mut Tx, lb_id: &str) -> Result<(), FlowError> {
    let graph = tx.load_balancer_graph(lb_id).await?;
    // Leaves first: monitors and members before their pools.
    for (table, id, _) in children(&graph).into_iter().rev() {
        tx.hard_delete(table, id).await?;
    }
    for port in tx.ports_of_device(lb_id).await? {
        tx.delete_port(&port.id).await?;
    }
    tx.set_provisioning_status(Table::LoadBalancer, lb_id, ProvisioningStatus::Deleted)
        .await?;
    Ok(())
}

/// Failure: the objects the flow was about go to ERROR, every other pending object
/// of the load balancer (the parents locked by the request) back to ACTIVE; a failed
/// create leaves the load balancer and all its children in ERROR.
pub(crate) async fn mark_error(tx: &mut Tx, flow: &Flow) -> Result<(), FlowError> {
    let lb_id = flow.lb_id();
    let graph = tx.load_balancer_graph(lb_id).await?;
    let lb_status = match flow {
        Flow::CreateLoadBalancer { .. }
        | Flow::UpdateLoadBalancer { .. }
        | Flow::DeleteLoadBalancer { .. }
        | Flow::FailoverAmphora { .. }
        | Flow::FailoverLoadBalancer { .. } => ProvisioningStatus::Error,
        Flow::ApplyChildren { changed, .. } => {
            for object in changed {
                if object.kind != ObjectKind::LoadBalancer {
                    tx.set_provisioning_status(
                        Table::of(object.kind),
                        &object.id,
                        ProvisioningStatus::Error,
                    )
                    .await?;
                }
            }
            ProvisioningStatus::Active
        }
    };
    let changed: Vec<&str> = match flow {
        Flow::ApplyChildren { changed, .. } => changed.iter().map(|o| o.id.as_str()).collect(),
        _ => vec![],
    };
    // Children made with the load balancer (a fully populated create) failed with it.
    let untouched_pending_status = match flow {
        Flow::CreateLoadBalancer { .. } => ProvisioningStatus::Error,
        _ => ProvisioningStatus::Active,
    };
    for (table, id, status) in children(&graph) {
        if status.is_pending() && !changed.contains(&id) {
            tx.set_provisioning_status(table, id, untouched_pending_status)
                .await?;
        }
    }
    // An amphora a failed failover was to replace is left in ERROR (it is not watched
    // any more; a load balancer failover replaces it), as is one not finished.
    let replaced = match flow {
        Flow::FailoverAmphora { amphora_id, .. } => Some(amphora_id.as_str()),
        _ => None,
    };
    for mut amphora in graph.amphorae.clone() {
        // A FAILOVER_STOPPED amphora serves; the storm guard, not this flow, owns it.
        let serving = matches!(
            amphora.status,
            AmphoraStatus::Allocated | AmphoraStatus::FailoverStopped
        );
        if !serving || replaced == Some(amphora.id.as_str()) {
            amphora.status = AmphoraStatus::Error;
            tx.save_amphora(&amphora).await?;
        }
    }
    tx.set_provisioning_status(Table::LoadBalancer, lb_id, lb_status)
        .await?;
    Ok(())
}
