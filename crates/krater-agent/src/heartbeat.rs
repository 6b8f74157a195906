//! Heartbeats (OCTAVIA_REFERENCE §8): every heartbeat interval the agent reads
//! `show stat` from the stats socket of each HAProxy it runs and sends an Octavia v3
//! message, signed with the heartbeat key, to every health manager.
//!
//! From HAProxy's CSV:
//! - a `FRONTEND` row whose proxy is a listener id gives that listener's status
//!   (`OPEN`, `FULL`) and counters: `tx` = `bout`, `rx` = `bin`, `conns` = `scur`,
//!   `totconns` = `stot`, `ereq` = `ereq`;
//! - a `BACKEND` row whose proxy is `<pool id>:<listener id>` gives that pool's status
//!   (`UP`, `DOWN`), and the server rows of that proxy its members' statuses, HAProxy's
//!   text (`UP`, `DOWN 1/2`, `no check`, `MAINT`, …) except that a server `UP` with
//!   weight 0 is `DRAIN`, as Octavia reports it;
//! - other rows (a stats proxy, say) are left out.
//!
//! The UDP listeners, their pools (keyed by pool id, as Octavia's LVS ones) and
//! members come from the agent's own health checks (the `nat` module).
//!
//! `tx`, `rx`, `totconns` and `ereq` are sent as deltas since the previous heartbeat,
//! per load balancer and listener; a counter lower than last time means HAProxy
//! restarted, and its value is sent as is. `conns` is absolute. A load balancer whose
//! stats cannot be read is left out of that beat (its counters wait for the next one);
//! a beat is sent even when no load balancer runs.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use krater_heartbeat::{HeartbeatMessage, ListenerHealth, ListenerStats, PoolHealth};
use tokio::net::UdpSocket;

use crate::haproxy::{stats_command, LbFiles, HAPROXY};
use crate::nat::Nat;
use crate::{process, AgentConfig};

/// The columns of `show stat` a heartbeat is made of.
const COLUMNS: [&str; 9] = [
    "pxname", "svname", "status", "scur", "stot", "bin", "bout", "ereq", "weight",
];

/// One row of `show stat`: the columns the heartbeat needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StatRow {
    pxname: String,
    svname: String,
    status: String,
    scur: u64,
    stot: u64,
    bin: u64,
    bout: u64,
    ereq: u64,
    weight: u64,
}

/// Parses HAProxy's `show stat` answer: a header line `# pxname,svname,…`, then one
/// CSV row per proxy and server. Columns are found by name; an empty number is 0.
fn parse_show_stat(csv: &str) -> Result<Vec<StatRow>, String> {
    let mut lines = csv.lines();
    let header = lines
        .next()
        .and_then(|h| h.strip_prefix("# "))
        .ok_or_else(|| format!("not a show stat answer: {:?}", truncate(csv)))?;
    let header = split_csv(header);
    let mut index = [0; COLUMNS.len()];
    for (slot, name) in index.iter_mut().zip(COLUMNS) {
        *slot = header
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| format!("no column {name} in show stat"))?;
    }
    let [px, sv, st, scur, stot, bin, bout, ereq, weight] = index;
    lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields = split_csv(line);
            let text = |i: usize| {
                fields
                    .get(i)
                    .cloned()
                    .ok_or_else(|| format!("short show stat row {:?}", truncate(line)))
            };
            let number = |i: usize| -> Result<u64, String> {
                let value = text(i)?;
                if value.is_empty() {
                    return Ok(0);
                }
                value
                    .parse()
                    .map_err(|_| format!("column {} is not a number: {value:?}", header[i]))
            };
            Ok(StatRow {
                pxname: text(px)?,
                svname: text(sv)?,
                status: text(st)?,
                scur: number(scur)?,
                stot: number(stot)?,
                bin: number(bin)?,
                bout: number(bout)?,
                ereq: number(ereq)?,
                weight: number(weight)?,
            })
        })
        .collect()
}

/// Splits one CSV line; a field may be quoted (`"a,b"`, `""` for a quote), as HAProxy
/// quotes free text.
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn truncate(text: &str) -> String {
    text.chars().take(200).collect()
}

/// Whether `name` is a canonical id, as krater's listeners, pools and members have.
fn is_id(name: &str) -> bool {
    krater_agent_api::parse_id("id", name).is_ok()
}

/// Whether `pxname` names a pool's backend: `<pool id>:<listener id>`.
fn is_pool_key(pxname: &str) -> bool {
    pxname
        .split_once(':')
        .is_some_and(|(pool, listener)| is_id(pool) && is_id(listener))
}

/// A listener's cumulative counters, as HAProxy (or the UDP listeners' ruleset) counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) tx: u64,
    pub(crate) rx: u64,
    pub(crate) totconns: u64,
    pub(crate) ereq: u64,
}

impl Counters {
    /// What to send: each counter's growth since `last` (see [`delta`]), and `conns`.
    pub(crate) fn stats_since(&self, last: Option<&Counters>, conns: u64) -> ListenerStats {
        ListenerStats {
            tx: delta(self.tx, last.map(|b| b.tx)),
            rx: delta(self.rx, last.map(|b| b.rx)),
            conns,
            totconns: delta(self.totconns, last.map(|b| b.totconns)),
            ereq: delta(self.ereq, last.map(|b| b.ereq)),
        }
    }

    /// The sum of two counts.
    pub(crate) fn plus(&self, other: &Counters) -> Counters {
        Counters {
            tx: self.tx + other.tx,
            rx: self.rx + other.rx,
            totconns: self.totconns + other.totconns,
            ereq: self.ereq + other.ereq,
        }
    }
}

/// What a counter grew by since `last`; a counter that went down was reset (HAProxy
/// restarted) and counts from zero.
fn delta(now: u64, last: Option<u64>) -> u64 {
    match last {
        Some(last) if now >= last => now - last,
        _ => now,
    }
}

/// Builds heartbeat messages, remembering the counters last sent.
#[derive(Debug, Default)]
struct Beats {
    /// Counters last sent, by load balancer, then listener.
    sent: HashMap<String, HashMap<String, Counters>>,
}

impl Beats {
    /// Adds the rows of load balancer `lb_id` to `message`.
    fn add(&mut self, message: &mut HeartbeatMessage, lb_id: &str, rows: &[StatRow]) {
        let last = self.sent.remove(lb_id).unwrap_or_default();
        let mut now = HashMap::new();
        let mut members: HashMap<&str, BTreeMap<String, String>> = HashMap::new();
        for row in rows {
            match row.svname.as_str() {
                "FRONTEND" if is_id(&row.pxname) => {
                    let counters = Counters {
                        tx: row.bout,
                        rx: row.bin,
                        totconns: row.stot,
                        ereq: row.ereq,
                    };
                    let stats = counters.stats_since(last.get(&row.pxname), row.scur);
                    now.insert(row.pxname.clone(), counters);
                    message.listeners.insert(
                        row.pxname.clone(),
                        ListenerHealth {
                            status: row.status.clone(),
                            stats,
                        },
                    );
                }
                "BACKEND" if is_pool_key(&row.pxname) => {
                    message.pools.insert(
                        row.pxname.clone(),
                        PoolHealth {
                            status: row.status.clone(),
                            members: members.remove(row.pxname.as_str()).unwrap_or_default(),
                        },
                    );
                }
                "FRONTEND" | "BACKEND" => {}
                member if is_pool_key(&row.pxname) => {
                    let status = if row.status == "UP" && row.weight == 0 {
                        "DRAIN".to_owned()
                    } else {
                        row.status.clone()
                    };
                    members
                        .entry(&row.pxname)
                        .or_default()
                        .insert(member.to_owned(), status);
                }
                _ => {}
            }
        }
        self.sent.insert(lb_id.to_owned(), now);
    }

    /// Forgets the counters of the load balancers that no longer run.
    fn retain(&mut self, running: &[String]) {
        self.sent.retain(|lb, _| running.contains(lb));
    }
}

/// Builds and sends the heartbeats of one agent.
pub(crate) struct Sender {
    amphora_id: String,
    state_dir: PathBuf,
    targets: Vec<SocketAddr>,
    interval: Duration,
    key: String,
    /// This run of the agent, stamped on every heartbeat with `seq`.
    boot: String,
    seq: u64,
    beats: Beats,
    nat: Arc<Nat>,
}

impl Sender {
    /// A sender for `config`, signing with `key`.
    pub(crate) fn new(config: &AgentConfig, key: String, nat: Arc<Nat>) -> Self {
        Self {
            amphora_id: config.amphora_id.clone(),
            state_dir: config.state_dir.clone(),
            targets: config.heartbeat_targets.clone(),
            interval: config.heartbeat_interval,
            key,
            boot: uuid::Uuid::new_v4().simple().to_string(),
            seq: 0,
            beats: Beats::default(),
            nat,
        }
    }

    /// The load balancers whose HAProxy runs: directories named by an id with a live
    /// master.
    fn running(&self) -> Vec<String> {
        let entries = match std::fs::read_dir(&self.state_dir) {
            Ok(entries) => entries,
            Err(err) => {
                tracing::warn!(dir = %self.state_dir.display(), error = %err, "cannot list the load balancers");
                return Vec::new();
            }
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|name| is_id(name))
            .filter(|lb| {
                process::running(&LbFiles::new(&self.state_dir, lb).pid_file(), HAPROXY).is_some()
            })
            .collect()
    }

    /// The next message: every running load balancer whose stats can be read, and the
    /// version of the bundle in force.
    async fn message(&mut self) -> HeartbeatMessage {
        let mut message = HeartbeatMessage::new(self.amphora_id.clone(), self.seq);
        message.bundle_version = crate::bundle::current_version(&self.state_dir);
        self.seq += 1;
        let running = self.running();
        for lb in &running {
            let socket = LbFiles::new(&self.state_dir, lb).stats_socket();
            let rows = stats_command(&socket, "show stat")
                .await
                .map_err(|err| err.to_string())
                .and_then(|csv| parse_show_stat(&csv));
            match rows {
                Ok(rows) => self.beats.add(&mut message, lb, &rows),
                Err(err) => {
                    tracing::warn!(lb_id = %lb, socket = %socket.display(), error = %err, "no HAProxy stats; load balancer left out of the heartbeat");
                }
            }
        }
        self.beats.retain(&running);
        self.nat.add_health(&mut message).await;
        // Stamped last: the health manager measures its age from here.
        message.stamp(&self.boot);
        message
    }
}

/// One UDP socket per address family of the targets.
struct Sockets {
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
}

impl Sockets {
    async fn bind(targets: &[SocketAddr]) -> std::io::Result<Self> {
        let v4 = if targets.iter().any(SocketAddr::is_ipv4) {
            Some(UdpSocket::bind("0.0.0.0:0").await?)
        } else {
            None
        };
        let v6 = if targets.iter().any(SocketAddr::is_ipv6) {
            Some(UdpSocket::bind("[::]:0").await?)
        } else {
            None
        };
        Ok(Self { v4, v6 })
    }

    async fn send(&self, datagram: &[u8], target: SocketAddr) -> std::io::Result<()> {
        let socket = if target.is_ipv4() { &self.v4 } else { &self.v6 };
        let socket = socket
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no socket for this address family"))?;
        socket.send_to(datagram, target).await.map(drop)
    }
}

/// Sends a heartbeat to every target every interval, the first at once, for as long
/// as the task runs; does nothing without targets.
pub(crate) async fn send_forever(mut sender: Sender) {
    if sender.targets.is_empty() {
        tracing::info!("no heartbeat targets; no heartbeats");
        return;
    }
    let sockets = match Sockets::bind(&sender.targets).await {
        Ok(sockets) => sockets,
        Err(err) => {
            tracing::error!(error = %err, "cannot open the heartbeat socket; no heartbeats");
            return;
        }
    };
    let mut ticks = tokio::time::interval(sender.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let message = sender.message().await;
        let datagram = match krater_heartbeat::encode(&message, &sender.key) {
            Ok(datagram) => datagram,
            Err(err) => {
                tracing::error!(error = %err, seq = message.seq, "cannot encode a heartbeat");
                continue;
            }
        };
        for &target in &sender.targets {
            if let Err(err) = sockets.send(&datagram, target).await {
                tracing::warn!(%target, error = %err, "heartbeat not sent");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `show stat` of HAProxy 2.6.12 running `testdata/show_stat.haproxy.cfg` after 5
    /// requests and a bad one: a listener, its pool (members up, down — nothing
    /// listens —, without check, disabled, weight 0) and a stats proxy.
    const SHOW_STAT: &str = include_str!("testdata/show_stat.csv");
    const LISTENER: &str = "2a1f0c8e-5b7d-4c3a-9e21-6f4b8d0c1a11";
    const POOL: &str = "3b2e1d9f-6c8e-4d4b-8f32-7a5c9e1d2b22:2a1f0c8e-5b7d-4c3a-9e21-6f4b8d0c1a11";

    fn member(n: u8) -> String {
        format!("4c3f2e0a-7d9f-4e5c-8a43-8b6d0f2e3c0{n}")
    }

    /// A beat made of load balancer `lb` answering `csv`.
    fn beat(beats: &mut Beats, lb: &str, csv: &str) -> HeartbeatMessage {
        let mut message = HeartbeatMessage::new("amp", 0);
        let rows = parse_show_stat(csv).expect("parses");
        beats.add(&mut message, lb, &rows);
        message
    }

    #[test]
    fn real_show_stat_becomes_an_octavia_heartbeat() {
        let message = beat(&mut Beats::default(), "lb", SHOW_STAT);
        let mut members = BTreeMap::new();
        for (n, status) in [
            (1, "UP"),
            (2, "DOWN"),
            (3, "no check"),
            (4, "MAINT"),
            (5, "DRAIN"),
        ] {
            members.insert(member(n), status.to_owned());
        }
        let mut want = HeartbeatMessage::new("amp", 0);
        want.listeners.insert(
            LISTENER.to_owned(),
            ListenerHealth {
                status: "OPEN".into(),
                stats: ListenerStats {
                    tx: 925,
                    rx: 390,
                    conns: 0,
                    totconns: 6,
                    ereq: 1,
                },
            },
        );
        want.pools.insert(
            POOL.to_owned(),
            PoolHealth {
                status: "UP".into(),
                members,
            },
        );
        // The `stats` proxy is not a listener nor a pool.
        assert_eq!(message, want);
    }

    /// The capture's header with one `FRONTEND` row of listener `LISTENER`.
    fn frontend(status: &str, scur: u64, stot: u64, bin: u64, bout: u64, ereq: u64) -> String {
        let header = SHOW_STAT.lines().next().expect("header");
        let row: Vec<String> = split_csv(header.trim_start_matches("# "))
            .iter()
            .map(|column| match column.as_str() {
                "pxname" => LISTENER.to_owned(),
                "svname" => "FRONTEND".to_owned(),
                "status" => status.to_owned(),
                "scur" => scur.to_string(),
                "stot" => stot.to_string(),
                "bin" => bin.to_string(),
                "bout" => bout.to_string(),
                "ereq" => ereq.to_string(),
                _ => String::new(),
            })
            .collect();
        format!("{header}\n{}\n", row.join(","))
    }

    fn stats(message: &HeartbeatMessage) -> (&str, ListenerStats) {
        let listener = &message.listeners[LISTENER];
        (listener.status.as_str(), listener.stats)
    }

    fn s(tx: u64, rx: u64, conns: u64, totconns: u64, ereq: u64) -> ListenerStats {
        ListenerStats {
            tx,
            rx,
            conns,
            totconns,
            ereq,
        }
    }

    #[test]
    fn counters_are_deltas_and_a_restart_starts_them_again() {
        let mut beats = Beats::default();
        let first = beat(&mut beats, "a", &frontend("OPEN", 3, 10, 100, 200, 1));
        assert_eq!(stats(&first), ("OPEN", s(200, 100, 3, 10, 1)));
        // Nothing happened: zero deltas, the connections still open.
        let idle = beat(&mut beats, "a", &frontend("OPEN", 3, 10, 100, 200, 1));
        assert_eq!(stats(&idle), ("OPEN", s(0, 0, 3, 0, 0)));
        let second = beat(&mut beats, "a", &frontend("FULL", 1, 15, 160, 290, 4));
        assert_eq!(stats(&second), ("FULL", s(90, 60, 1, 5, 3)));
        // HAProxy restarted: every counter is lower; its value is the delta.
        let restarted = beat(&mut beats, "a", &frontend("OPEN", 0, 2, 30, 40, 0));
        assert_eq!(stats(&restarted), ("OPEN", s(40, 30, 0, 2, 0)));
        let after = beat(&mut beats, "a", &frontend("OPEN", 0, 3, 50, 70, 0));
        assert_eq!(stats(&after), ("OPEN", s(30, 20, 0, 1, 0)));
        // Only some counters went down (one reset, others grew since): each on its own.
        let mixed = beat(&mut beats, "a", &frontend("OPEN", 0, 1, 80, 10, 0));
        assert_eq!(stats(&mixed), ("OPEN", s(10, 30, 0, 1, 0)));
    }

    #[test]
    fn counters_are_kept_per_load_balancer_and_forgotten_when_it_stops() {
        let mut beats = Beats::default();
        beat(&mut beats, "a", &frontend("OPEN", 0, 10, 100, 100, 0));
        // The same listener id under another load balancer has its own counters.
        let b = beat(&mut beats, "b", &frontend("OPEN", 0, 12, 120, 120, 0));
        assert_eq!(stats(&b).1, s(120, 120, 0, 12, 0));
        let a = beat(&mut beats, "a", &frontend("OPEN", 0, 11, 110, 110, 0));
        assert_eq!(stats(&a).1, s(10, 10, 0, 1, 0));
        // `a` stopped, then came back with higher counters: sent whole.
        beats.retain(&["b".to_owned()]);
        let a = beat(&mut beats, "a", &frontend("OPEN", 0, 20, 200, 200, 0));
        assert_eq!(stats(&a).1, s(200, 200, 0, 20, 0));
        let b = beat(&mut beats, "b", &frontend("OPEN", 0, 13, 130, 130, 0));
        assert_eq!(stats(&b).1, s(10, 10, 0, 1, 0));
    }

    #[test]
    fn proxies_that_are_not_listeners_or_pools_are_left_out() {
        let csv = format!(
            "# pxname,svname,status,scur,stot,bin,bout,ereq,weight\n\
             stats,FRONTEND,OPEN,0,0,0,0,0,\n\
             {LISTENER}:x,BACKEND,UP,0,0,0,0,0,1\n\
             {LISTENER}:x,srv,UP,0,0,0,0,0,1\n\
             {POOL},BACKEND,DOWN,0,0,0,0,0,0\n\
             {POOL},FRONTEND,OPEN,0,0,0,0,0,\n"
        );
        let message = beat(&mut Beats::default(), "lb", &csv);
        assert!(message.listeners.is_empty(), "{message:?}");
        assert_eq!(message.pools.keys().collect::<Vec<_>>(), [POOL]);
        assert_eq!(message.pools[POOL].status, "DOWN");
        assert!(message.pools[POOL].members.is_empty());
    }

    #[test]
    fn answers_that_are_not_show_stat_are_errors() {
        assert!(parse_show_stat("Unknown command: 'show stat'\n").is_err());
        assert!(parse_show_stat("").is_err());
        let err = parse_show_stat("# pxname,svname,status\nx,FRONTEND,OPEN\n").unwrap_err();
        assert!(err.contains("scur"), "{err}");
        let header = "# pxname,svname,status,scur,stot,bin,bout,ereq,weight\n";
        assert!(parse_show_stat(&format!("{header}x,FRONTEND,OPEN,0\n")).is_err());
        assert!(parse_show_stat(&format!("{header}x,FRONTEND,OPEN,a,0,0,0,0,\n")).is_err());
    }

    #[test]
    fn quoted_fields_are_split_as_csv() {
        assert_eq!(
            split_csv(r#"a,"b,c","say ""hi""",,d"#),
            ["a", "b,c", r#"say "hi""#, "", "d"]
        );
        let csv = "# pxname,check_desc,svname,status,scur,stot,bin,bout,ereq,weight\n\
                   p,\"Layer7 wrong status, 404\",s,DOWN,1,2,3,4,5,1\n";
        let rows = parse_show_stat(csv).expect("parses");
        assert_eq!(
            rows,
            [StatRow {
                pxname: "p".into(),
                svname: "s".into(),
                status: "DOWN".into(),
                scur: 1,
                stot: 2,
                bin: 3,
                bout: 4,
                ereq: 5,
                weight: 1,
            }]
        );
    }
}
