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
///
/// The bridge's MAC is pinned to one derived from its name. A Linux bridge whose MAC
/// was never set takes the lowest MAC of its ports, so deleting one amphora's port
/// could change it: every other amphora would then send to a MAC nobody has until its
/// neighbour entry expired, seconds without heartbeats or replies.
pub fn ensure_bridge(name: &str, address_cidr: &str) -> DriverResult<()> {
    let mac = mac_for(&format!("bridge:{name}"));
    // Several roles of one host (workers, housekeeping) may make it at the same time.
    if !link_exists(name) {
        if let Err(err) = ip(&["link", "add", name, "type", "bridge"]) {
            if !link_exists(name) {
                return Err(err);
            }
        }
    }
    ip(&["link", "set", "dev", name, "address", &mac])?;
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

    fn mac_of(link: &str) -> String {
        let out = ip(&["-br", "link", "show", "dev", link]).expect("link shown");
        out.split_whitespace().nth(2).expect("a MAC").to_owned()
    }

    /// Runs as root: the thread moves into a network namespace the test makes and
    /// deletes (`ip`, started from that thread, inherits it), so nothing is made on
    /// the host.
    #[test]
    fn a_bridge_keeps_its_mac_when_ports_come_and_go() {
        let netns = format!(
            "kt-{}-bridge",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        ip(&["netns", "add", &netns]).expect("namespace made");
        let inside = netns.clone();
        let result = std::thread::spawn(move || {
            let file = std::fs::File::open(format!("/run/netns/{inside}")).expect("namespace");
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&file),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("thread moved into the namespace");
            ensure_bridge("kt-br", "198.18.9.1/24").expect("bridge made");
            let pinned = mac_for("bridge:kt-br");
            assert_eq!(mac_of("kt-br"), pinned);
            // A port with a MAC lower than the pinned one, as the lowest port's MAC
            // becomes an unpinned bridge's.
            ip(&[
                "link", "add", "kt-p0", "type", "veth", "peer", "name", "kt-p1",
            ])
            .expect("veth");
            ip(&[
                "link",
                "set",
                "kt-p0",
                "address",
                "00:00:5e:00:53:01",
                "master",
                "kt-br",
            ])
            .expect("port");
            assert_eq!(mac_of("kt-br"), pinned);
            ip(&["link", "del", "kt-p0"]).expect("port deleted");
            assert_eq!(mac_of("kt-br"), pinned);
            // Made again on an existing bridge: the same.
            ensure_bridge("kt-br", "198.18.9.1/24").expect("bridge ensured");
            assert_eq!(mac_of("kt-br"), pinned);
            // Made by several roles of one host at once: every one succeeds.
            let racers: Vec<_> = (0..4)
                .map(|_| {
                    let file = file.try_clone().expect("namespace file");
                    std::thread::spawn(move || {
                        rustix::thread::move_into_link_name_space(
                            std::os::fd::AsFd::as_fd(&file),
                            Some(rustix::thread::LinkNameSpaceType::Network),
                        )
                        .expect("thread moved into the namespace");
                        ensure_bridge("kt-race", "198.18.10.1/24")
                    })
                })
                .collect();
            for racer in racers {
                racer.join().expect("racer").expect("bridge made or found");
            }
        })
        .join();
        ip(&["netns", "delete", &netns]).expect("namespace deleted");
        result.expect("the namespace thread passed");
    }
}
