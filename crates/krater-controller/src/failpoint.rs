//! Failpoints: named places in a flow where a test makes the worker fail or stop.
//!
//! Compiled in and off unless `KRATER_FAILPOINTS` names some, as a comma-separated
//! list of `<flow>.<task>=<action>` (e.g. `create_load_balancer.boot_amphora=exit`).
//! Actions:
//! - `fail`: the task fails permanently before it runs, so the flow reverts;
//! - `exit`: the process exits before the task runs;
//! - `exit-after`: the task runs, then the process exits before its progress commits;
//! - `stop`: the process stops itself (SIGSTOP) before the task runs.
//!
//! A failpoint that fires says so on stderr (`failpoint hit: …`) and an `exit` uses
//! [`EXIT_CODE`], so a test can prove that the process ended where it meant it to.

use std::collections::HashMap;

/// The environment variable that names the failpoints.
pub const ENV: &str = "KRATER_FAILPOINTS";

/// The exit status of a process ended by a failpoint.
pub const EXIT_CODE: i32 = 86;

/// What a failpoint does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Fail,
    Exit,
    ExitAfter,
    Stop,
}

/// When, around a task, a failpoint is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    Before,
    /// After the task ran, before its progress commits.
    After,
}

/// The failpoints of this process.
#[derive(Debug, Clone, Default)]
pub struct Failpoints(HashMap<String, Action>);

impl Failpoints {
    /// The failpoints of [`ENV`]; none when it is unset.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(ENV) {
            Ok(spec) => Self::parse(&spec).map_err(|err| format!("{ENV}: {err}")),
            Err(_) => Ok(Self::default()),
        }
    }

    /// Parses `<flow>.<task>=<action>[,…]`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut points = HashMap::new();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, action) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}` is not <flow>.<task>=<action>"))?;
            let action = match action {
                "fail" => Action::Fail,
                "exit" => Action::Exit,
                "exit-after" => Action::ExitAfter,
                "stop" => Action::Stop,
                other => {
                    return Err(format!(
                        "unknown action `{other}` (fail, exit, exit-after, stop)"
                    ))
                }
            };
            if !name.contains('.') {
                return Err(format!("`{name}` is not <flow>.<task>"));
            }
            points.insert(name.to_string(), action);
        }
        Ok(Self(points))
    }

    /// Fires the failpoint of `name` (`<flow>.<task>`) if it is set for `moment`.
    /// Returns true when the task must fail; exits or stops the process itself.
    pub fn fire(&self, name: &str, moment: Moment) -> bool {
        let Some(action) = self.0.get(name).copied() else {
            return false;
        };
        let fires = match moment {
            Moment::Before => action != Action::ExitAfter,
            Moment::After => action == Action::ExitAfter,
        };
        if !fires {
            return false;
        }
        eprintln!("failpoint hit: {name} {action:?}");
        match action {
            Action::Fail => true,
            Action::Exit | Action::ExitAfter => std::process::exit(EXIT_CODE),
            Action::Stop => {
                // Continued (SIGCONT) by the test that stopped it.
                let _ = rustix::process::kill_process(
                    rustix::process::getpid(),
                    rustix::process::Signal::STOP,
                );
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_action_and_refuses_nonsense() {
        let points = Failpoints::parse(
            "create_load_balancer.boot_amphora=exit, delete_load_balancer.mark_deleted=fail,\
             apply_children.apply_config=exit-after,update_load_balancer.mark_active=stop",
        )
        .unwrap();
        assert_eq!(points.0.len(), 4);
        assert_eq!(points.0["apply_children.apply_config"], Action::ExitAfter);
        assert!(Failpoints::parse("boot_amphora=exit").is_err());
        assert!(Failpoints::parse("a.b=explode").is_err());
        assert!(Failpoints::parse("a.b").is_err());
    }

    #[test]
    fn fail_fires_before_the_task_only() {
        let points = Failpoints::parse("f.t=fail").unwrap();
        assert!(points.fire("f.t", Moment::Before));
        assert!(!points.fire("f.t", Moment::After));
        assert!(!points.fire("f.other", Moment::Before));
    }
}
