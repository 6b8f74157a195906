//! Plans: the ordered, typed tasks a flow is made of.
//!
//! A worker plans a flow the first time it runs it and stores the plan with the job,
//! parameters included (the new amphora's id, the amphorae a delete removes), so a
//! worker that resumes the job runs exactly the same tasks on the same objects.

use krater_domain::flow::Flow;
use krater_domain::{Amphora, AmphoraRole, LoadBalancer, Topology};
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
    /// Gives every amphora an interface on each subnet its members live on.
    PlugMemberNetworks,
    /// Renders the configuration and applies it on every amphora.
    ApplyConfig,
    /// Marks the change done: pending objects ACTIVE, deleted children removed.
    MarkActive,
    /// Stops and deletes an amphora of a load balancer being deleted.
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
            Step::PlugMemberNetworks => "plug_member_networks",
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
    }
}

/// The tasks of `flow` on `lb` (whose amphorae are `amphorae`), in order.
pub fn plan(flow: &Flow, lb: &LoadBalancer, amphorae: &[Amphora]) -> Vec<Step> {
    match flow {
        Flow::CreateLoadBalancer { .. } => {
            let roles: &[AmphoraRole] = match lb.topology {
                Topology::Single => &[AmphoraRole::Standalone],
                Topology::ActiveStandby => &[AmphoraRole::Master, AmphoraRole::Backup],
            };
            let ids: Vec<String> = roles
                .iter()
                .map(|_| uuid::Uuid::new_v4().to_string())
                .collect();
            let mut steps: Vec<Step> = roles
                .iter()
                .zip(&ids)
                .map(|(role, id)| Step::CreateAmphora {
                    amphora_id: id.clone(),
                    role: *role,
                })
                .collect();
            for id in &ids {
                steps.push(Step::BootAmphora {
                    amphora_id: id.clone(),
                });
            }
            for id in &ids {
                steps.push(Step::PlugVip {
                    amphora_id: id.clone(),
                });
            }
            steps.extend([
                Step::PlugMemberNetworks,
                Step::ApplyConfig,
                Step::MarkActive,
            ]);
            steps
        }
        Flow::UpdateLoadBalancer { .. } => vec![Step::ApplyConfig, Step::MarkActive],
        Flow::ApplyChildren { .. } => {
            vec![
                Step::PlugMemberNetworks,
                Step::ApplyConfig,
                Step::MarkActive,
            ]
        }
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
}
