//! Flows: the units of work the API hands to the controller worker through the job table.
//!
//! A flow names what changed; the worker derives what to do from the database, which
//! holds the intent (the objects and their PENDING_* states).

/// Kinds of objects a flow can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    LoadBalancer,
    Listener,
    Pool,
    Member,
    HealthMonitor,
    L7Policy,
    L7Rule,
}

impl ObjectKind {
    /// The stable name stored in the job table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoadBalancer => "loadbalancer",
            Self::Listener => "listener",
            Self::Pool => "pool",
            Self::Member => "member",
            Self::HealthMonitor => "healthmonitor",
            Self::L7Policy => "l7policy",
            Self::L7Rule => "l7rule",
        }
    }

    /// Inverse of [`ObjectKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::LoadBalancer,
            Self::Listener,
            Self::Pool,
            Self::Member,
            Self::HealthMonitor,
            Self::L7Policy,
            Self::L7Rule,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Octavia's resource name in messages ("Load Balancer", "Health Monitor", …).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::LoadBalancer => "Load Balancer",
            Self::Listener => "Listener",
            Self::Pool => "Pool",
            Self::Member => "Member",
            Self::HealthMonitor => "Health Monitor",
            Self::L7Policy => "L7 Policy",
            Self::L7Rule => "L7 Rule",
        }
    }
}

/// One object a flow changes: on failure it is the one left in ERROR.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    pub id: String,
}

impl ObjectRef {
    pub fn new(kind: ObjectKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }
}

/// A unit of work for the controller worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// Build the amphorae of a new load balancer and apply any graph it was created with.
    CreateLoadBalancer { lb_id: String },
    /// Apply a change of the load balancer itself (admin state).
    UpdateLoadBalancer { lb_id: String },
    /// Remove the amphorae and the VIP; with `cascade`, every child too.
    DeleteLoadBalancer { lb_id: String, cascade: bool },
    /// Apply created, updated or deleted children (listeners, pools, members, health
    /// monitors, L7 policies and rules) of a load balancer; `changed` are the objects the request was about.
    ApplyChildren {
        lb_id: String,
        changed: Vec<ObjectRef>,
    },
    /// Replace one amphora of the load balancer by a new one with the same role, VIP
    /// and configuration (an operator's request, or the health manager's when the
    /// amphora went silent).
    FailoverAmphora { lb_id: String, amphora_id: String },
    /// Replace every amphora of the load balancer, one after the other (or build the
    /// ones it lacks).
    FailoverLoadBalancer { lb_id: String },
}

impl Flow {
    /// The load balancer the flow works on.
    pub fn lb_id(&self) -> &str {
        match self {
            Flow::CreateLoadBalancer { lb_id }
            | Flow::UpdateLoadBalancer { lb_id }
            | Flow::DeleteLoadBalancer { lb_id, .. }
            | Flow::ApplyChildren { lb_id, .. }
            | Flow::FailoverAmphora { lb_id, .. }
            | Flow::FailoverLoadBalancer { lb_id } => lb_id,
        }
    }
}
