//! Golden files: each case's rendering must equal `tests/golden/<case>.cfg` (HAProxy),
//! `.keepalived.conf` or `.nft` (the UDP listeners' ruleset); `UPDATE_GOLDEN=1`
//! rewrites them. Every golden file must pass its program's check (`haproxy -c`,
//! `keepalived -t`, `nft -c`).

use std::path::{Path, PathBuf};
use std::process::Command;

use krater_render::{
    nat_listeners, render, render_keepalived, render_nftables, vrrp_amphorae, RenderOptions,
    VrrpOptions, LB_DIR_VAR, SERVER_STATE, VRRP_CHECK,
};

use crate::cases;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Every rendering, by golden file name: each case's `haproxy.cfg` with the default
/// options, and for the ACTIVE_STANDBY case each amphora's `haproxy.cfg` and
/// `keepalived.conf`.
fn renderings() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for (name, graph) in cases::all() {
        let text = render(&graph, &RenderOptions::default())
            .unwrap_or_else(|e| panic!("case {name}: {e}"));
        files.push((format!("{name}.cfg"), text));
    }
    let (name, graph) = cases::active_standby();
    for (n, amphora) in vrrp_amphorae(&graph).into_iter().enumerate() {
        let opts = RenderOptions {
            local_peer: Some(amphora.id.clone()),
            ..RenderOptions::default()
        };
        let haproxy = render(&graph, &opts).unwrap_or_else(|e| panic!("case {name}: {e}"));
        files.push((format!("{name}.{}.cfg", n + 1), haproxy));
        let keepalived = render_keepalived(&graph, &amphora.id, &VrrpOptions::default())
            .unwrap_or_else(|e| panic!("case {name}: {e}"));
        files.push((format!("{name}.{}.keepalived.conf", n + 1), keepalived));
    }
    for (name, graph, down) in cases::udp() {
        let listeners = nat_listeners(&graph).unwrap_or_else(|e| panic!("case {name}: {e}"));
        let ruleset = render_nftables(&listeners, &|_, m| !down.contains(&m.member_id));
        // Both tables in one file: `nft -c` checks them together.
        files.push((format!("{name}.nft"), ruleset.filter + "\n" + &ruleset.nat));
    }
    files
}

#[test]
fn renderings_match_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut mismatches = Vec::new();
    for (file, text) in renderings() {
        let path = golden_dir().join(&file);
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
    let names: Vec<String> = renderings().into_iter().map(|(n, _)| n).collect();
    for entry in std::fs::read_dir(golden_dir()).expect("golden dir") {
        let file = entry.expect("dir entry").file_name();
        let file = file.to_string_lossy();
        assert!(names.iter().any(|n| *n == file), "stale golden file {file}");
    }
}

/// The golden files whose names end with `suffix`, sorted.
fn golden_files(suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("golden dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
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

/// `haproxy -c` on `cfg` as the agent runs it, with `KRATER_LB_DIR` naming a
/// temporary directory that holds a server-state file without servers (what `show
/// servers state` prints for a new load balancer): its output when HAProxy refuses
/// the file or warns about it.
pub fn haproxy_check(cfg: &Path) -> Result<(), String> {
    let lb_dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        lb_dir.path().join(SERVER_STATE),
        "1\n# be_id be_name srv_id srv_name srv_addr\n",
    )
    .expect("write server state");
    let out = Command::new(haproxy())
        .env(LB_DIR_VAR, lb_dir.path())
        .arg("-c")
        .arg("-f")
        .arg(cfg)
        .output()
        .expect("run haproxy -c");
    let log = output_text(&out);
    if out.status.success() && !log.contains("[WARNING]") && !log.contains("[ALERT]") {
        Ok(())
    } else {
        Err(log)
    }
}

/// Every golden file passes `haproxy -c`, without errors and without warnings.
#[test]
fn golden_files_pass_haproxy_check() {
    let files = golden_files(".cfg");
    let expected = renderings()
        .iter()
        .filter(|(n, _)| n.ends_with(".cfg"))
        .count();
    assert_eq!(files.len(), expected, "a golden file is missing");
    for cfg in files {
        if let Err(log) = haproxy_check(&cfg) {
            panic!(
                "haproxy -c rejects or warns about {}:\n{log}",
                cfg.display()
            );
        }
    }
}

/// Runs `keepalived -t` on every golden `keepalived.conf`, from a directory laid out
/// as the agent's (`<state>/bundles/<version>/keepalived.conf`, the check program at
/// `<state>/vrrp-check`), in a network namespace of its own with an `eth1` (one end of a veth pair):
/// keepalived checks that the interface exists.
#[test]
fn golden_keepalived_files_pass_keepalived_check() {
    let files = golden_files(".keepalived.conf");
    assert_eq!(files.len(), 2, "a golden keepalived file is missing");
    let state = tempfile::tempdir().expect("temp dir");
    let version = state.path().join("bundles").join("v1");
    std::fs::create_dir_all(&version).expect("mkdir");
    let check = state.path().join(VRRP_CHECK);
    std::fs::write(&check, "#!/bin/sh\nexit 0\n").expect("write check");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&check, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    for file in files {
        let conf = version.join("keepalived.conf");
        std::fs::copy(&file, &conf).expect("copy");
        let out = Command::new("unshare")
            .args(["--net", "sh", "-c"])
            .arg("ip link add eth1 type veth peer name eth1p && keepalived -t -f \"$0\"")
            .arg(&conf)
            .output()
            .expect("run keepalived -t");
        let log = output_text(&out);
        assert!(
            out.status.success(),
            "keepalived -t rejects {}:\n{log}",
            file.display()
        );
    }
}

/// `nft -c` on every golden ruleset, in a network namespace of its own (the check
/// asks the kernel, which must accept every rule).
#[test]
fn golden_rulesets_pass_nft_check() {
    let files = golden_files(".nft");
    assert_eq!(
        files.len(),
        cases::udp().len(),
        "a golden ruleset is missing"
    );
    for file in files {
        let out = Command::new("unshare")
            .args(["--net", "nft", "-c", "-f"])
            .arg(&file)
            .output()
            .expect("run nft -c");
        assert!(
            out.status.success(),
            "nft -c rejects {}:\n{}",
            file.display(),
            output_text(&out)
        );
    }
}

/// A program's standard output and error, as text.
fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
