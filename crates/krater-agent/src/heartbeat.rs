//! Heartbeats: every interval the agent reads `show stat` from the stats socket of
//! each HAProxy it runs and sends the health manager an Octavia v3 heartbeat, signed
//! with the heartbeat key, to every target. Counters are sent as deltas since the last
//! beat (a counter that went down means HAProxy restarted: its value is sent as is).

use crate::haproxy::{stats_command, LbFiles};
use crate::{process, AgentConfig};
use krater_heartbeat::{HeartbeatMessage, ListenerHealth, ListenerStats, PoolHealth};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// One row of `show stat`, the columns the heartbeat needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct StatRow {
    pub pxname: String,
    pub svname: String,
    pub status: String,
    pub scur: u64,
    pub stot: u64,
    pub bin: u64,
    pub bout: u64,
    pub ereq: u64,
    pub weight: u64,
}

/// Parses HAProxy's `show stat` CSV (header line `# pxname,svname,…`).
pub(crate) fn parse_show_stat(csv: &str) -> Vec<StatRow> {
    let mut lines = csv.lines();
    let Some(header) = lines.next().and_then(|h| h.strip_prefix("# ")) else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.split(',').collect();
    let index = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(px), Some(sv), Some(st)) = (index("pxname"), index("svname"), index("status")) else {
        return Vec::new();
    };
    let number = |fields: &[&str], name: &str| {
        index(name)
            .and_then(|i| fields.get(i))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    lines
        .filter(|line| !line.trim().is_empty())
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            Some(StatRow {
                pxname: fields.get(px)?.to_string(),
                svname: fields.get(sv)?.to_string(),
                status: fields.get(st)?.to_string(),
                scur: number(&fields, "scur"),
                stot: number(&fields, "stot"),
                bin: number(&fields, "bin"),
                bout: number(&fields, "bout"),
                ereq: number(&fields, "ereq"),
                weight: number(&fields, "weight"),
            })
        })
        .collect()
}

/// Cumulative counters last sent, per (load balancer, listener): tx, rx, totconns, ereq.
type Sent = HashMap<(String, String), [u64; 4]>;

fn delta(now: u64, before: Option<u64>) -> u64 {
    match before {
        Some(before) if now >= before => now - before,
        _ => now,
    }
}

/// Adds one load balancer's rows to the message.
pub(crate) fn add_rows(
    message: &mut HeartbeatMessage,
    lb_id: &str,
    rows: &[StatRow],
    sent: &mut Sent,
) {
    for row in rows {
        match row.svname.as_str() {
            "FRONTEND" => {
                let key = (lb_id.to_string(), row.pxname.clone());
                let now = [row.bout, row.bin, row.stot, row.ereq];
                let before = sent.insert(key, now);
                let d = |i: usize| delta(now[i], before.map(|b| b[i]));
                message.listeners.insert(
                    row.pxname.clone(),
                    ListenerHealth {
                        status: row.status.clone(),
                        stats: ListenerStats {
                            tx: d(0),
                            rx: d(1),
                            conns: row.scur,
                            totconns: d(2),
                            ereq: d(3),
                        },
                    },
                );
            }
            "BACKEND" if row.pxname.contains(':') => {
                message
                    .pools
                    .entry(row.pxname.clone())
                    .or_insert_with(|| PoolHealth {
                        status: String::new(),
                        members: Default::default(),
                    })
                    .status = row.status.clone();
            }
            member if row.pxname.contains(':') => {
                let status = if row.status == "UP" && row.weight == 0 {
                    "DRAIN".to_string()
                } else {
                    row.status.clone()
                };
                message
                    .pools
                    .entry(row.pxname.clone())
                    .or_insert_with(|| PoolHealth {
                        status: String::new(),
                        members: Default::default(),
                    })
                    .members
                    .insert(member.to_string(), status);
            }
            _ => {}
        }
    }
}

/// Builds and sends heartbeats.
pub(crate) struct Sender {
    amphora_id: String,
    state_dir: PathBuf,
    targets: Vec<SocketAddr>,
    interval: Duration,
    key: String,
    seq: u64,
    sent: Sent,
}

impl Sender {
    pub(crate) fn new(config: &AgentConfig) -> Self {
        Self {
            amphora_id: config.amphora_id.clone(),
            state_dir: config.state_dir.clone(),
            targets: config.heartbeat_targets.clone(),
            interval: config.heartbeat_interval,
            key: config.heartbeat_key.clone(),
            seq: 0,
            sent: HashMap::new(),
        }
    }

    /// The load balancers whose HAProxy runs: directories with a live master.
    fn running(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.state_dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|name| krater_agent_api::parse_id("load balancer id", name).is_ok())
            .filter(|lb| {
                process::running_master(&LbFiles::new(&self.state_dir, lb).pid_file()).is_some()
            })
            .collect()
    }

    async fn message(&mut self) -> HeartbeatMessage {
        let mut message = HeartbeatMessage::new(self.amphora_id.clone(), self.seq);
        message.ver = krater_heartbeat::MESSAGE_VERSION;
        for lb in self.running() {
            let socket = LbFiles::new(&self.state_dir, &lb).stats_socket();
            match stats_command(&socket, "show stat").await {
                Ok(csv) => add_rows(&mut message, &lb, &parse_show_stat(&csv), &mut self.sent),
                Err(err) => tracing::warn!(lb = %lb, error = %err, "cannot read HAProxy stats"),
            }
        }
        self.seq += 1;
        message
    }
}

/// Sends a heartbeat to every target every interval, for as long as the agent runs.
pub(crate) async fn send_forever(mut sender: Sender) {
    if sender.targets.is_empty() {
        return;
    }
    let socket = match tokio::net::UdpSocket::bind("0.0.0.0:0").await {
        Ok(socket) => socket,
        Err(err) => {
            tracing::error!(error = %err, "cannot open the heartbeat socket; no heartbeats");
            return;
        }
    };
    loop {
        let message = sender.message().await;
        match krater_heartbeat::encode(&message, &sender.key) {
            Ok(datagram) => {
                for target in &sender.targets {
                    if let Err(err) = socket.send_to(&datagram, target).await {
                        tracing::warn!(%target, error = %err, "heartbeat not sent");
                    }
                }
            }
            Err(err) => tracing::error!(error = %err, "cannot encode a heartbeat"),
        }
        tokio::time::sleep(sender.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `show stat` of HAProxy 2.6 (columns cut after `weight`), with a listener, a
    /// backend and servers up, down, unchecked, in maintenance and drained.
    const SHOW_STAT: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight\n\
l1,FRONTEND,,,2,5,50000,40,4000,9000,0,0,1,,,,,OPEN,\n\
p1:l1,m-up,0,0,1,2,,20,2000,4500,,0,,0,0,0,0,UP,1\n\
p1:l1,m-down,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1\n\
p1:l1,m-going,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN 1/2,1\n\
p1:l1,m-nocheck,0,0,1,2,,20,2000,4500,,0,,0,0,0,0,no check,1\n\
p1:l1,m-maint,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1\n\
p1:l1,m-drain,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,0\n\
p1:l1,BACKEND,0,0,2,4,5000,40,4000,9000,0,0,,0,0,0,0,UP,3\n";

    #[test]
    fn show_stat_becomes_an_octavia_heartbeat() {
        let mut message = HeartbeatMessage::new("amp", 0);
        let mut sent = Sent::new();
        add_rows(&mut message, "lb", &parse_show_stat(SHOW_STAT), &mut sent);
        let listener = &message.listeners["l1"];
        assert_eq!(listener.status, "OPEN");
        assert_eq!(
            (
                listener.stats.rx,
                listener.stats.tx,
                listener.stats.conns,
                listener.stats.totconns,
                listener.stats.ereq
            ),
            (4000, 9000, 2, 40, 1)
        );
        let pool = &message.pools["p1:l1"];
        assert_eq!(pool.status, "UP");
        let status = |m: &str| pool.members[m].as_str();
        assert_eq!(status("m-up"), "UP");
        assert_eq!(status("m-down"), "DOWN");
        assert_eq!(status("m-going"), "DOWN 1/2");
        assert_eq!(status("m-nocheck"), "no check");
        assert_eq!(status("m-maint"), "MAINT");
        assert_eq!(status("m-drain"), "DRAIN");
    }

    #[test]
    fn counters_are_deltas_and_survive_a_restart() {
        let mut sent = Sent::new();
        let beat = |csv: &str, sent: &mut Sent| {
            let mut message = HeartbeatMessage::new("amp", 0);
            add_rows(&mut message, "lb", &parse_show_stat(csv), sent);
            message.listeners["l1"].stats
        };
        let header = "# pxname,svname,scur,stot,bin,bout,ereq,status,weight\n";
        let first = beat(
            &format!("{header}l1,FRONTEND,3,10,100,200,0,OPEN,\n"),
            &mut sent,
        );
        assert_eq!((first.rx, first.totconns), (100, 10));
        let second = beat(
            &format!("{header}l1,FRONTEND,1,15,160,260,0,OPEN,\n"),
            &mut sent,
        );
        assert_eq!(
            (second.rx, second.tx, second.totconns, second.conns),
            (60, 60, 5, 1)
        );
        let restarted = beat(
            &format!("{header}l1,FRONTEND,0,2,30,40,0,OPEN,\n"),
            &mut sent,
        );
        assert_eq!((restarted.rx, restarted.totconns), (30, 2));
    }
}
