//! Plans: the ordered, typed tasks a flow is made of.
//!
//! A worker plans a flow the first time it runs it and stores the plan with the job,
//! parameters included (the new amphora's id, the amphorae a delete removes), so a
//! worker that resumes the job runs exactly the same tasks on the same objects.

use krater_domain::flow::Flow;
use krater_domain::{Amphora, AmphoraRole, LoadBalancer, Topology, NOOP_PROVIDER};
use serde::{Deserialize, Serialize};

/// One task of a flow, with its parameters. Each has an `execute` and a `revert`
/// (`tasks.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum Step {
    /// Records a new amphora and its management port.
    CreateAmphora {
        amphora_id: String,
        #[serde(with = "by_name")]
        role: AmphoraRole,
    },
    /// Boots the amphora and waits until its agent answers.
    BootAmphora { amphora_id: String },
    /// Gives the amphora an interface on the VIP subnet carrying the VIP.
    PlugVip { amphora_id: String },
    /// Gives the amphora (every amphora of the load balancer when none is named) an
    /// interface on each subnet its members live on.
    PlugMemberNetworks {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amphora_id: Option<String>,
    },
    /// Renders the configuration and applies it on every amphora.
    ApplyConfig,
    /// Marks the change done: pending objects ACTIVE, deleted children removed.
    MarkActive,
    /// Stops and deletes an amphora (of a load balancer being deleted, or one replaced
    /// by a failover).
    RemoveAmphora { amphora_id: String },
    /// Marks the load balancer DELETED, removes its children and releases its VIP.
    MarkDeleted,
}

impl Step {
    /// The task's name in logs and failpoints.
    pub fn name(&self) -> &'static str {
        match self {
            Step::CreateAmphora { .. } => "create_amphora",
            Step::BootAmphora { .. } => "boot_amphora",
            Step::PlugVip { .. } => "plug_vip",
            Step::PlugMemberNetworks { .. } => "plug_member_networks",
            Step::ApplyConfig => "apply_config",
            Step::MarkActive => "mark_active",
            Step::RemoveAmphora { .. } => "remove_amphora",
            Step::MarkDeleted => "mark_deleted",
        }
    }
}

/// The flow's name in logs and failpoints.
pub fn flow_name(flow: &Flow) -> &'static str {
    match flow {
        Flow::CreateLoadBalancer { .. } => "create_load_balancer",
        Flow::UpdateLoadBalancer { .. } => "update_load_balancer",
        Flow::DeleteLoadBalancer { .. } => "delete_load_balancer",
        Flow::ApplyChildren { .. } => "apply_children",
        Flow::FailoverAmphora { .. } => "failover_amphora",
        Flow::FailoverLoadBalancer { .. } => "failover_load_balancer",
    }
}

/// How many spares (booted amphorae with no load balancer, see `krater_db::spares`)
/// `flow` on `lb` could take instead of booting amphorae: one per amphora it builds
/// at most.
pub fn spares_wanted(flow: &Flow, lb: &LoadBalancer) -> usize {
    let builds = matches!(
        flow,
        Flow::CreateLoadBalancer { .. }
            | Flow::FailoverAmphora { .. }
            | Flow::FailoverLoadBalancer { .. }
    );
    if builds && lb.provider != NOOP_PROVIDER {
        roles_of(lb.topology).len()
    } else {
        0
    }
}

/// The spares of `spares` a plan uses, with the role each is to take.
pub fn spares_taken(steps: &[Step], spares: &[String]) -> Vec<(String, AmphoraRole)> {
    steps
        .iter()
        .filter_map(|step| match step {
            Step::CreateAmphora { amphora_id, role } if spares.contains(amphora_id) => {
                Some((amphora_id.clone(), *role))
            }
            _ => None,
        })
        .collect()
}

/// What a plan is made from besides the flow and its load balancer.
#[derive(Debug, Default)]
pub struct Facts<'a> {
    /// The load balancer's amphorae.
    pub amphorae: &'a [Amphora],
    /// Spares the plan may take, in order, before it makes up new amphorae.
    pub spares: &'a [String],
    /// The amphora that holds the VIP (ACTIVE_STANDBY), when known.
    pub vip_holder: Option<&'a str>,
}

/// The tasks of `flow` on `lb`, in order.
pub fn plan(flow: &Flow, lb: &LoadBalancer, facts: &Facts) -> Vec<Step> {
    let amphorae = facts.amphorae;
    let mut ids = NewIds(facts.spares.iter());
    // A provider without amphorae: its flows only mark what the API asked.
    if lb.provider == NOOP_PROVIDER {
        return match flow {
            Flow::DeleteLoadBalancer { .. } => vec![Step::MarkDeleted],
            _ => vec![Step::MarkActive],
        };
    }
    match flow {
        Flow::CreateLoadBalancer { .. } => {
            let mut steps = Vec::new();
            let builds: Vec<Build> = roles_of(lb.topology)
                .iter()
                .map(|role| Build::new(*role, None, &mut ids))
                .collect();
            for build in &builds {
                steps.push(build.create());
            }
            for build in &builds {
                steps.push(build.boot());
            }
            for build in &builds {
                steps.push(build.plug_vip());
            }
            steps.extend(configure_and_finish());
            steps
        }
        Flow::FailoverAmphora { amphora_id, .. } => {
            let mut steps = Vec::new();
            if let Some(old) = amphorae.iter().find(|a| &a.id == amphora_id) {
                steps.extend(Build::new(role_of(old), Some(old), &mut ids).replace(lb.topology));
            }
            steps.extend(configure_and_finish());
            steps
        }
        Flow::FailoverLoadBalancer { .. } => {
            // Every amphora is replaced, one after the other, the VIP holder last
            // so that the VIP moves once (when none is known to hold it, BACKUP
            // before MASTER, which holds it more often); a role the topology needs
            // but no amphora holds (one lost before) is built anew.
            let mut steps = Vec::new();
            let mut olds: Vec<&Amphora> = amphorae.iter().collect();
            olds.sort_by_key(|a| {
                (
                    facts.vip_holder == Some(a.id.as_str()),
                    role_of(a) == AmphoraRole::Master,
                )
            });
            for old in olds {
                steps.extend(Build::new(role_of(old), Some(old), &mut ids).replace(lb.topology));
            }
            for role in roles_of(lb.topology) {
                if !amphorae.iter().any(|a| role_of(a) == *role) {
                    steps.extend(Build::new(*role, None, &mut ids).replace(lb.topology));
                }
            }
            steps.extend(configure_and_finish());
            steps
        }
        Flow::UpdateLoadBalancer { .. } => vec![Step::ApplyConfig, Step::MarkActive],
        Flow::ApplyChildren { .. } => configure_and_finish().to_vec(),
        Flow::DeleteLoadBalancer { .. } => {
            let mut steps: Vec<Step> = amphorae
                .iter()
                .map(|a| Step::RemoveAmphora {
                    amphora_id: a.id.clone(),
                })
                .collect();
            steps.push(Step::MarkDeleted);
            steps
        }
    }
}

/// The amphora roles of a topology.
fn roles_of(topology: Topology) -> &'static [AmphoraRole] {
    match topology {
        Topology::Single => &[AmphoraRole::Standalone],
        Topology::ActiveStandby => &[AmphoraRole::Master, AmphoraRole::Backup],
    }
}

fn role_of(amphora: &Amphora) -> AmphoraRole {
    amphora.role.unwrap_or(AmphoraRole::Standalone)
}

/// The end of every flow that leaves amphorae running: member networks, the
/// configuration on every amphora, the objects ACTIVE.
fn configure_and_finish() -> [Step; 3] {
    [
        Step::PlugMemberNetworks { amphora_id: None },
        Step::ApplyConfig,
        Step::MarkActive,
    ]
}

/// The ids of the amphorae a plan builds: the spares it may take, then new ones.
struct NewIds<'a>(std::slice::Iter<'a, String>);

impl NewIds<'_> {
    fn next(&mut self) -> String {
        self.0
            .next()
            .cloned()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }
}

/// One amphora to build (a spare, or a new one), in place of `old` when it replaces
/// one. A spare's CreateAmphora and BootAmphora find it made and booted.
struct Build {
    amphora_id: String,
    role: AmphoraRole,
    old: Option<String>,
}

impl Build {
    fn new(role: AmphoraRole, old: Option<&Amphora>, ids: &mut NewIds) -> Self {
        Self {
            amphora_id: ids.next(),
            role,
            old: old.map(|a| a.id.clone()),
        }
    }

    fn create(&self) -> Step {
        Step::CreateAmphora {
            amphora_id: self.amphora_id.clone(),
            role: self.role,
        }
    }

    fn boot(&self) -> Step {
        Step::BootAmphora {
            amphora_id: self.amphora_id.clone(),
        }
    }

    fn plug_vip(&self) -> Step {
        Step::PlugVip {
            amphora_id: self.amphora_id.clone(),
        }
    }

    /// A replacement, the new amphora booted first.
    ///
    /// SINGLE: the old one is removed (its VIP address with it) before the new one
    /// takes the VIP, so that two amphorae never answer for one address.
    ///
    /// ACTIVE_STANDBY: the new one is plugged and wired while the old one still
    /// serves (keepalived, not the plug, puts the VIP on an interface); the old one
    /// hands the VIP to its peer and is removed; then the survivor and the new one
    /// get their configuration, each the other's VRRP peer, before any next
    /// replacement.
    fn replace(&self, topology: Topology) -> Vec<Step> {
        let mut steps = vec![self.create(), self.boot()];
        let remove_old = self.old.iter().map(|old| Step::RemoveAmphora {
            amphora_id: old.clone(),
        });
        match topology {
            Topology::Single => {
                steps.extend(remove_old);
                steps.push(self.plug_vip());
            }
            Topology::ActiveStandby => {
                steps.push(self.plug_vip());
                // Only the new one: the old one may be dead.
                steps.push(Step::PlugMemberNetworks {
                    amphora_id: Some(self.amphora_id.clone()),
                });
                steps.extend(remove_old);
                steps.push(Step::ApplyConfig);
            }
        }
        steps
    }
}

/// Serde through Octavia's spelling of an enum value.
mod by_name {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub fn deserialize<'de, T: FromStr, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| D::Error::custom(format!("unknown value {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_survives_the_job_table() {
        let steps = vec![
            Step::CreateAmphora {
                amphora_id: "a1".into(),
                role: AmphoraRole::Standalone,
            },
            Step::BootAmphora {
                amphora_id: "a1".into(),
            },
            Step::MarkActive,
        ];
        let text = serde_json::to_string(&steps).unwrap();
        assert!(text.contains(r#""role":"STANDALONE""#), "{text}");
        assert_eq!(serde_json::from_str::<Vec<Step>>(&text).unwrap(), steps);
    }

    fn amphora(id: &str) -> Amphora {
        Amphora {
            load_balancer_id: Some("lb".into()),
            role: Some(AmphoraRole::Standalone),
            vrrp_id: None,
            ..Amphora::new(id.into(), krater_domain::AmphoraStatus::Allocated)
        }
    }

    fn active_standby() -> LoadBalancer {
        LoadBalancer {
            topology: Topology::ActiveStandby,
            ..load_balancer()
        }
    }

    fn load_balancer() -> LoadBalancer {
        LoadBalancer {
            id: "lb".into(),
            project_id: "p".into(),
            name: None,
            description: None,
            provisioning_status: krater_domain::ProvisioningStatus::PendingUpdate,
            operating_status: krater_domain::OperatingStatus::Online,
            admin_state_up: true,
            provider: "amphora".into(),
            topology: Topology::Single,
            vip: krater_domain::Vip::default(),
            flavor_id: None,
            availability_zone: None,
            tags: vec![],
            created_at: krater_domain::now(),
            updated_at: None,
        }
    }

    /// The task names of a plan, with the amphora each works on (`old`, or `new`
    /// for one the plan made up).
    fn outline(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|step| {
                let on = match step {
                    Step::CreateAmphora { amphora_id, .. }
                    | Step::BootAmphora { amphora_id }
                    | Step::PlugVip { amphora_id }
                    | Step::RemoveAmphora { amphora_id }
                    | Step::PlugMemberNetworks {
                        amphora_id: Some(amphora_id),
                    } => {
                        if amphora_id.starts_with("old") {
                            " old"
                        } else {
                            " new"
                        }
                    }
                    _ => "",
                };
                format!("{}{on}", step.name())
            })
            .collect()
    }

    fn facts<'a>(amphorae: &'a [Amphora], spares: &'a [String]) -> Facts<'a> {
        Facts {
            amphorae,
            spares,
            vip_holder: None,
        }
    }

    fn removed(steps: &[Step]) -> Vec<&str> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::RemoveAmphora { amphora_id } => Some(amphora_id.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_failover_boots_the_new_amphora_before_the_old_one_gives_up_the_vip() {
        let flow = Flow::FailoverAmphora {
            lb_id: "lb".into(),
            amphora_id: "old".into(),
        };
        let steps = plan(&flow, &load_balancer(), &facts(&[amphora("old")], &[]));
        assert_eq!(
            outline(&steps),
            [
                "create_amphora new",
                "boot_amphora new",
                "remove_amphora old",
                "plug_vip new",
                "plug_member_networks",
                "apply_config",
                "mark_active"
            ]
        );
        assert!(
            matches!(&steps[0], Step::CreateAmphora { role, .. } if *role == AmphoraRole::Standalone)
        );
        // A load balancer failover of one that lost its amphora builds one.
        let flow = Flow::FailoverLoadBalancer { lb_id: "lb".into() };
        assert_eq!(
            outline(&plan(&flow, &load_balancer(), &Facts::default())),
            [
                "create_amphora new",
                "boot_amphora new",
                "plug_vip new",
                "plug_member_networks",
                "apply_config",
                "mark_active"
            ]
        );
    }

    #[test]
    fn an_active_standby_failover_hands_the_vip_over_before_the_old_amphora_goes() {
        let flow = Flow::FailoverAmphora {
            lb_id: "lb".into(),
            amphora_id: "old".into(),
        };
        let mut old = amphora("old");
        old.role = Some(AmphoraRole::Master);
        let steps = plan(&flow, &active_standby(), &facts(&[old], &[]));
        assert_eq!(
            outline(&steps),
            [
                "create_amphora new",
                "boot_amphora new",
                "plug_vip new",
                "plug_member_networks new",
                "remove_amphora old",
                "apply_config",
                "plug_member_networks",
                "apply_config",
                "mark_active"
            ]
        );
        assert!(
            matches!(&steps[0], Step::CreateAmphora { role, .. } if *role == AmphoraRole::Master)
        );
    }

    #[test]
    fn a_load_balancer_failover_replaces_the_backup_first() {
        let flow = Flow::FailoverLoadBalancer { lb_id: "lb".into() };
        let mut master = amphora("old-master");
        master.role = Some(AmphoraRole::Master);
        let mut backup = amphora("old-backup");
        backup.role = Some(AmphoraRole::Backup);
        let amphorae = [master, backup];
        let steps = plan(&flow, &active_standby(), &facts(&amphorae, &[]));
        assert_eq!(removed(&steps), ["old-backup", "old-master"]);
        // The BACKUP holds the VIP: it goes last, so that the VIP moves once.
        let holder = Facts {
            vip_holder: Some("old-backup"),
            ..facts(&amphorae, &[])
        };
        let steps_by_holder = plan(&flow, &active_standby(), &holder);
        assert_eq!(removed(&steps_by_holder), ["old-master", "old-backup"]);
        let roles: Vec<AmphoraRole> = steps
            .iter()
            .filter_map(|s| match s {
                Step::CreateAmphora { role, .. } => Some(*role),
                _ => None,
            })
            .collect();
        assert_eq!(roles, [AmphoraRole::Backup, AmphoraRole::Master]);
    }

    #[test]
    fn spares_are_built_first_and_only_by_flows_that_build() {
        let create = Flow::CreateLoadBalancer { lb_id: "lb".into() };
        let spares = ["spare-1".to_owned()];
        assert_eq!(spares_wanted(&create, &active_standby()), 2);
        let steps = plan(&create, &active_standby(), &facts(&[], &spares));
        // The MASTER takes the one spare; the BACKUP is a new amphora.
        assert_eq!(
            spares_taken(&steps, &spares),
            [("spare-1".to_owned(), AmphoraRole::Master)]
        );
        let created: Vec<&str> = steps
            .iter()
            .filter_map(|s| match s {
                Step::CreateAmphora { amphora_id, .. } => Some(amphora_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(created.len(), 2);
        assert_eq!(created[0], "spare-1");
        assert_ne!(created[1], "spare-1");
        let failover = Flow::FailoverAmphora {
            lb_id: "lb".into(),
            amphora_id: "old".into(),
        };
        assert_eq!(spares_wanted(&failover, &load_balancer()), 1);
        let steps = plan(
            &failover,
            &load_balancer(),
            &facts(&[amphora("old")], &spares),
        );
        assert_eq!(
            spares_taken(&steps, &spares),
            [("spare-1".to_owned(), AmphoraRole::Standalone)]
        );
        for flow in [
            Flow::UpdateLoadBalancer { lb_id: "lb".into() },
            Flow::DeleteLoadBalancer {
                lb_id: "lb".into(),
                cascade: false,
            },
        ] {
            assert_eq!(spares_wanted(&flow, &load_balancer()), 0, "{flow:?}");
        }
        let noop = LoadBalancer {
            provider: NOOP_PROVIDER.into(),
            ..load_balancer()
        };
        assert_eq!(spares_wanted(&create, &noop), 0);
    }
}
