//! The servers' state HAProxy carries over a reload (`show servers state`, read back
//! with `load-server-state-from-file`), pruned against the configuration it will be
//! read with.
//!
//! HAProxy restores a server's health-check address and port from that file
//! (`srv_check_addr`, `srv_check_port`) over what the configuration says, so a
//! monitor address that was changed or removed would stay in force. A server's line
//! is therefore kept only while its check address and port are those of the new
//! configuration (`addr`, `port` on its `server` line; none is `-` and `0` in the
//! file); the others start afresh, as new servers do.

use std::collections::HashMap;

/// `(backend, server)` → `(check address, check port)` as the state file writes them.
fn checks_of(config: &str) -> HashMap<(String, String), (String, String)> {
    let mut checks = HashMap::new();
    let mut backend = None;
    for line in config.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("backend") => backend = words.next().map(str::to_owned),
            Some("frontend" | "listen" | "defaults" | "global" | "peers" | "resolvers") => {
                backend = None
            }
            Some("server") => {
                let (Some(backend), Some(server)) = (&backend, words.next()) else {
                    continue;
                };
                let (mut addr, mut port) = ("-".to_owned(), "0".to_owned());
                while let Some(word) = words.next() {
                    match (word, words.clone().next()) {
                        ("addr", Some(value)) => {
                            addr = value.trim_start_matches('[').trim_end_matches(']').into()
                        }
                        ("port", Some(value)) => port = value.into(),
                        _ => {}
                    }
                }
                checks.insert((backend.clone(), server.to_owned()), (addr, port));
            }
            _ => {}
        }
    }
    checks
}

/// `state` (a `show servers state` answer) without the lines of servers that are
/// not in `config` or whose check address or port differ there. Lines that cannot be
/// understood are dropped; without a header, only the version line is kept.
pub(crate) fn prune(state: &str, config: &str) -> String {
    let checks = checks_of(config);
    let mut lines = state.lines();
    let mut kept = String::new();
    if let Some(version) = lines.next() {
        kept.push_str(version);
        kept.push('\n');
    }
    let Some(header) = lines.next().filter(|h| h.starts_with('#')) else {
        return kept;
    };
    kept.push_str(header);
    kept.push('\n');
    let columns: Vec<&str> = header.trim_start_matches('#').split_whitespace().collect();
    let column = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(be), Some(srv), Some(addr), Some(port)) = (
        column("be_name"),
        column("srv_name"),
        column("srv_check_addr"),
        column("srv_check_port"),
    ) else {
        return kept;
    };
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let field = |i: usize| fields.get(i).copied();
        let (Some(be), Some(srv), Some(addr), Some(port)) =
            (field(be), field(srv), field(addr), field(port))
        else {
            continue;
        };
        let same = checks
            .get(&(be.to_owned(), srv.to_owned()))
            .is_some_and(|(a, p)| a == addr && p == port);
        if same {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What HAProxy 2.6.12 answered for s1 (no `addr`/`port`), s2 (`addr 127.0.0.9
    /// port 3`) and s3 (no check).
    const STATE: &str = "1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
2 b1 1 s1 127.0.0.1 0 0 1 1 1 8 2 0 6 0 0 0 - 1 - 0 0 - - 0
2 b1 2 s2 127.0.0.1 2 0 1 1 1 1 0 2 6 0 0 0 - 2 - 0 3 127.0.0.9 127.0.0.9 3
2 b1 3 s3 127.0.0.1 2 0 1 1 1 1 0 2 0 0 0 0 - 4 - 0 0 - - 0
";

    fn servers(state: &str) -> Vec<String> {
        state
            .lines()
            .skip(2)
            .map(|l| l.split_whitespace().nth(3).expect("srv_name").to_owned())
            .collect()
    }

    const CONFIG: &str = "global\n    stats socket /x\nbackend b1\n    \
        server s1 127.0.0.1:1 check inter 10s\n    \
        server s2 127.0.0.1:2 check inter 10s addr 127.0.0.9 port 3\n    \
        server s3 127.0.0.1:4\n";

    #[test]
    fn unchanged_servers_keep_their_state() {
        assert_eq!(prune(STATE, CONFIG), STATE);
    }

    #[test]
    fn a_changed_or_removed_check_address_or_port_drops_the_state() {
        let removed = CONFIG.replace(" addr 127.0.0.9 port 3", "");
        assert_eq!(servers(&prune(STATE, &removed)), ["s1", "s3"]);
        let moved = CONFIG.replace("addr 127.0.0.9", "addr 127.0.0.8");
        assert_eq!(servers(&prune(STATE, &moved)), ["s1", "s3"]);
        let port = CONFIG.replace("port 3", "port 4");
        assert_eq!(servers(&prune(STATE, &port)), ["s1", "s3"]);
        let added = CONFIG.replace("127.0.0.1:1 check", "127.0.0.1:1 check addr 127.0.0.7");
        assert_eq!(servers(&prune(STATE, &added)), ["s2", "s3"]);
        let other_backend = CONFIG.replace("backend b1", "backend b2");
        assert_eq!(servers(&prune(STATE, &other_backend)), Vec::<String>::new());
    }

    #[test]
    fn bracketed_ipv6_check_addresses_match_the_state() {
        let state = STATE.replace("127.0.0.9 127.0.0.9", "fd00::9 fd00::9");
        let config = CONFIG.replace("addr 127.0.0.9", "addr [fd00::9]");
        assert_eq!(prune(&state, &config), state);
    }

    #[test]
    fn an_answer_without_header_keeps_the_version_only() {
        assert_eq!(prune("1\n", CONFIG), "1\n");
        assert_eq!(prune("1\n2 b1 1 s1\n", CONFIG), "1\n");
    }
}
