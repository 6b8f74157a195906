//! Runs iproute2 (`ip`) and other host commands with arguments, never through a shell.

use crate::{DriverError, DriverResult};
use std::process::Command;

/// Runs `program args…`; an error carries the command's stderr.
pub fn run(program: &str, args: &[&str]) -> DriverResult<String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| DriverError::retryable(format!("cannot run {program}: {e}")))?;
    if !output.status.success() {
        return Err(DriverError::retryable(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `ip args…`
pub fn ip(args: &[&str]) -> DriverResult<String> {
    run("ip", args)
}

/// True when a link of that name exists in the current namespace.
pub fn link_exists(name: &str) -> bool {
    ip(&["link", "show", "dev", name]).is_ok()
}

/// True when a named network namespace exists.
pub fn netns_exists(name: &str) -> bool {
    std::path::Path::new("/run/netns").join(name).exists()
}

/// Creates a bridge with an address when missing, and brings it up.
pub fn ensure_bridge(name: &str, address_cidr: &str) -> DriverResult<()> {
    if !link_exists(name) {
        ip(&["link", "add", name, "type", "bridge"])?;
    }
    ip(&["addr", "replace", address_cidr, "dev", name])?;
    ip(&["link", "set", name, "up"])?;
    Ok(())
}

/// True when the named namespace opens in this process's mount namespace (a name
/// made in another mount namespace is only an empty file here).
pub fn netns_usable(name: &str) -> bool {
    netns_exists(name) && ip(&["-n", name, "link", "show", "dev", "lo"]).is_ok()
}

/// Names, in this process's mount namespace, the network namespace that `source`
/// (a path this process can open, such as `/proc/<pid>/ns/net`) refers to:
/// `/run/netns/<name>` is bind-mounted from it, as `ip netns add` does.
pub fn pin_netns(name: &str, source: &std::path::Path) -> DriverResult<()> {
    let dir = std::path::Path::new("/run/netns");
    let path = dir.join(name);
    std::fs::create_dir_all(dir)
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
        })
        .map_err(|e| DriverError::retryable(format!("cannot create {}: {e}", path.display())))?;
    // Entering the namespace first makes it `/proc/self/ns/net` of `mount`, which can
    // be bound whichever mount namespace `source` lives in.
    run(
        "nsenter",
        &[
            &format!("--net={}", source.display()),
            "mount",
            "--bind",
            "/proc/self/ns/net",
            &path.display().to_string(),
        ],
    )?;
    Ok(())
}

/// Makes sure a usable named namespace exists, with `lo` up. A name left half made
/// (the file without its namespace, after a crash during `ip netns add`) is replaced.
pub fn ensure_netns(name: &str) -> DriverResult<()> {
    if netns_usable(name) && ip(&["-n", name, "link", "set", "lo", "up"]).is_ok() {
        return Ok(());
    }
    if netns_exists(name) {
        let _ = ip(&["netns", "delete", name]);
        let _ = std::fs::remove_file(std::path::Path::new("/run/netns").join(name));
    }
    ip(&["netns", "add", name])?;
    ip(&["-n", name, "link", "set", "lo", "up"])?;
    Ok(())
}

/// Kills every process of a namespace, then deletes it. Succeeds when it is gone.
pub fn delete_netns(name: &str) -> DriverResult<()> {
    if !netns_exists(name) {
        return Ok(());
    }
    if let Ok(pids) = ip(&["netns", "pids", name]) {
        for pid in pids.split_whitespace() {
            let _ = run("kill", &["-9", pid]);
        }
    }
    ip(&["netns", "delete", name])?;
    Ok(())
}

/// A short, stable hash of an id, as hex: interface names must fit in 15 bytes.
pub fn short_hash(id: &str) -> String {
    // FNV-1a, 64 bit: stable across releases and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")[..10].to_string()
}

/// A locally administered unicast MAC address derived from an id.
pub fn mac_for(id: &str) -> String {
    let h = short_hash(&format!("mac:{id}"));
    format!(
        "02:{}:{}:{}:{}:{}",
        &h[0..2],
        &h[2..4],
        &h[4..6],
        &h[6..8],
        &h[8..10]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_and_stable() {
        let h = short_hash("a8e0755b-05b5-4756-bc5e-6fbbd63bc465");
        assert_eq!(h.len(), 10);
        assert_eq!(h, short_hash("a8e0755b-05b5-4756-bc5e-6fbbd63bc465"));
        assert_ne!(h, short_hash("a8e0755b-05b5-4756-bc5e-6fbbd63bc466"));
        let mac = mac_for("port-1");
        assert!(mac.starts_with("02:") && mac.len() == 17, "{mac}");
    }
}
