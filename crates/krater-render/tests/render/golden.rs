//! Golden files: each case's rendering must equal `tests/golden/<case>.cfg`
//! (`UPDATE_GOLDEN=1` rewrites them), and every golden file must pass `haproxy -c`.

use std::path::{Path, PathBuf};
use std::process::Command;

use krater_render::{render, RenderOptions, LB_DIR_VAR, SERVER_STATE};

use crate::cases;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn renderings_match_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut mismatches = Vec::new();
    for (name, graph) in cases::all() {
        let text = render(&graph, &RenderOptions::default())
            .unwrap_or_else(|e| panic!("case {name}: {e}"));
        let path = golden_dir().join(format!("{name}.cfg"));
        if update {
            std::fs::write(&path, &text).expect("write golden file");
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != text {
            mismatches.push(format!(
                "--- {} (expected)\n{expected}\n+++ rendered\n{text}",
                path.display()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "renderings differ from golden files (UPDATE_GOLDEN=1 rewrites them):\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn every_golden_file_has_a_case() {
    let names: Vec<String> = cases::all()
        .into_iter()
        .map(|(n, _)| format!("{n}.cfg"))
        .collect();
    for entry in std::fs::read_dir(golden_dir()).expect("golden dir") {
        let file = entry.expect("dir entry").file_name();
        let file = file.to_string_lossy();
        assert!(names.iter().any(|n| *n == file), "stale golden file {file}");
    }
}

/// The haproxy binary: `$HAPROXY`, else `/usr/sbin/haproxy`.
fn haproxy() -> PathBuf {
    let path = std::env::var_os("HAPROXY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/haproxy"));
    assert!(
        path.is_file(),
        "haproxy not found at {} (set HAPROXY to another path): run the project's setup \
         script, which installs HAProxy 2.6",
        path.display()
    );
    path
}

/// Runs `haproxy -c` on every golden file as the agent does, with `KRATER_LB_DIR`
/// naming a temporary directory that holds a server-state file without servers
/// (what `show servers state` prints for a new load balancer); fails on errors and on
/// warnings.
#[test]
fn golden_files_pass_haproxy_check() {
    let haproxy = haproxy();
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("golden dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    files.sort();
    assert_eq!(files.len(), cases::all().len(), "a golden file is missing");

    let lb_dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        lb_dir.path().join(SERVER_STATE),
        "1\n# be_id be_name srv_id srv_name srv_addr\n",
    )
    .expect("write server state");
    for cfg in files {
        let out = Command::new(&haproxy)
            .env(LB_DIR_VAR, lb_dir.path())
            .arg("-c")
            .arg("-f")
            .arg(&cfg)
            .output()
            .expect("run haproxy -c");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "haproxy -c rejects {}:\n{log}",
            cfg.display()
        );
        assert!(
            !log.contains("[WARNING]") && !log.contains("[ALERT]"),
            "haproxy -c warns about {}:\n{log}",
            cfg.display()
        );
    }
}
