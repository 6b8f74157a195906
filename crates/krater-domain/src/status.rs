//! Which provisioning states allow which requests: the transition table that
//! `krater-db`'s test-and-set calls enforce (Octavia's MUTABLE/DELETABLE statuses).

use crate::ProvisioningStatus as P;

/// The states from which a child of a locked load balancer (a listener, pool, member or
/// health monitor) may start a change: a child in ERROR is fixed by an update, or
/// deleted.
pub const CHILD_MUTABLE: &[P] = &[P::Active, P::Error];

/// A request that changes an object's provisioning status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The object (or a child of it) is being changed: ACTIVE → PENDING_UPDATE.
    Update,
    /// The object is being deleted: ACTIVE or ERROR → PENDING_DELETE.
    Delete,
    /// The load balancer is being failed over: ACTIVE or ERROR → PENDING_UPDATE.
    Failover,
}

impl Transition {
    /// States from which the transition may start.
    pub fn allowed_from(self) -> &'static [P] {
        match self {
            Transition::Update => &[P::Active],
            Transition::Delete | Transition::Failover => &[P::Active, P::Error],
        }
    }

    /// The state the object is in while the transition is carried out.
    pub fn target(self) -> P {
        match self {
            Transition::Update | Transition::Failover => P::PendingUpdate,
            Transition::Delete => P::PendingDelete,
        }
    }

    /// True when an object in `from` may start this transition.
    pub fn allows(self, from: P) -> bool {
        self.allowed_from().contains(&from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_objects_are_immutable() {
        for t in [Transition::Update, Transition::Delete, Transition::Failover] {
            for s in [
                P::PendingCreate,
                P::PendingUpdate,
                P::PendingDelete,
                P::Deleted,
            ] {
                assert!(!t.allows(s), "{t:?} from {s}");
            }
        }
        assert!(Transition::Delete.allows(P::Error));
        assert!(!Transition::Update.allows(P::Error));
    }
}
