//! The crate-dependency invariants of docs/ARCHITECTURE.md, read from `cargo metadata`:
//! the pure crates reach no IO crate, only `krater-db` speaks SQL, the agent never
//! reaches the database, and the API never calls an amphora or runs a flow.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// Crates that do IO (network, files through an async runtime, databases).
const IO_CRATES: &[&str] = &[
    "tokio", "mio", "sqlx", "reqwest", "hyper", "axum", "socket2",
];

/// Crates that must stay pure: model in, value out.
const PURE_CRATES: &[&str] = &["krater-domain", "krater-render", "krater-heartbeat"];

struct Graph {
    /// Package name → names of its normal (not dev, not build) dependencies.
    normal: HashMap<String, BTreeSet<String>>,
}

impl Graph {
    fn load() -> Self {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = std::process::Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--locked"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo metadata runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
        let names: HashMap<&str, &str> = metadata["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        let mut normal = HashMap::new();
        for node in metadata["resolve"]["nodes"].as_array().expect("resolve") {
            let deps = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|kind| kind["kind"].is_null())
                })
                .map(|dep| names[dep["pkg"].as_str().unwrap()].to_string())
                .collect();
            normal.insert(names[node["id"].as_str().unwrap()].to_string(), deps);
        }
        Self { normal }
    }

    fn direct(&self, package: &str) -> &BTreeSet<String> {
        &self.normal[package]
    }

    /// Every crate `package` depends on, directly or not.
    fn reach(&self, package: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![package.to_string()];
        while let Some(next) = todo.pop() {
            for dep in self.normal.get(&next).into_iter().flatten() {
                if seen.insert(dep.clone()) {
                    todo.push(dep.clone());
                }
            }
        }
        seen
    }

    fn workspace_crates(&self) -> Vec<&str> {
        self.normal
            .keys()
            .filter(|name| name.starts_with("krater"))
            .map(String::as_str)
            .collect()
    }
}

#[test]
fn pure_crates_reach_no_io_crate() {
    let graph = Graph::load();
    for package in PURE_CRATES {
        let reached = graph.reach(package);
        let io: Vec<_> = IO_CRATES.iter().filter(|c| reached.contains(**c)).collect();
        assert!(io.is_empty(), "{package} reaches {io:?}");
    }
}

#[test]
fn only_krater_db_speaks_sql() {
    let graph = Graph::load();
    for package in graph.workspace_crates() {
        if package != "krater-db" {
            assert!(
                !graph.direct(package).contains("sqlx"),
                "{package} depends on sqlx"
            );
        }
    }
}

#[test]
fn the_agent_never_reaches_the_database_and_the_api_never_an_amphora() {
    let graph = Graph::load();
    assert!(!graph.reach("krater-agent").contains("krater-db"));
    for forbidden in ["krater-controller", "krater-agent-api", "krater-agent"] {
        assert!(
            !graph.direct("krater-api").contains(forbidden),
            "krater-api depends on {forbidden}"
        );
    }
}
