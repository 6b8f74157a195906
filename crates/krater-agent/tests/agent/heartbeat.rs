//! Heartbeats of an agent running a load balancer whose health-checked pool has one
//! member serving and one stopped, received on a UDP socket of the test (the agent
//! runs in the test process, in the host namespace) and decoded as the health
//! manager does.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use krater_agent_api::LbAction;
use krater_heartbeat::{HeartbeatMessage, ListenerStats};
use tokio::net::UdpSocket;

use crate::graph;
use crate::netns::{body_of, http_get, Member, Netns, Reaper};
use crate::support::{bundle, TestAgent, HEARTBEAT_KEY};

const LB: &str = "10000000-0000-4000-8000-0000000000b1";
const VIP: &str = "198.18.1.10";

/// Receives heartbeats; every datagram must be a valid one.
struct Receiver {
    socket: UdpSocket,
    amphora_id: String,
    next_seq: u64,
}

impl Receiver {
    /// The next heartbeat, which must come within 5 s and carry the next sequence
    /// number.
    async fn next(&mut self) -> HeartbeatMessage {
        let mut buf = vec![0; krater_heartbeat::MAX_DATAGRAM_LEN + 1];
        let (len, _) =
            tokio::time::timeout(Duration::from_secs(5), self.socket.recv_from(&mut buf))
                .await
                .expect("a heartbeat within 5 s")
                .expect("recv");
        let datagram = &buf[..len];
        assert!(
            krater_heartbeat::decode(datagram, "another key").is_err(),
            "a heartbeat verified with the wrong key"
        );
        let message = krater_heartbeat::decode(datagram, HEARTBEAT_KEY).expect("a valid heartbeat");
        assert_eq!(message.id, self.amphora_id);
        assert_eq!(message.ver, 3);
        assert_eq!(message.seq, self.next_seq, "sequence numbers");
        self.next_seq += 1;
        message
    }

    /// Receives heartbeats until one satisfies `done`, for at most `within`; the last
    /// one received when none did.
    async fn until(
        &mut self,
        within: Duration,
        mut done: impl FnMut(&HeartbeatMessage) -> bool,
    ) -> Result<HeartbeatMessage, HeartbeatMessage> {
        let end = Instant::now() + within;
        loop {
            let message = self.next().await;
            if done(&message) {
                return Ok(message);
            }
            if Instant::now() >= end {
                return Err(message);
            }
        }
    }
}

fn members_of(message: &HeartbeatMessage, pool_key: &str) -> Option<BTreeMap<String, String>> {
    message.pools.get(pool_key).map(|p| p.members.clone())
}

#[tokio::test]
async fn heartbeats_report_statuses_and_counters() {
    let lb_ns = Netns::new("hb");
    lb_ns.ip(&["addr", "add", "198.18.1.10/32", "dev", "lo"]);
    lb_ns.ip(&["addr", "add", "198.18.2.11/32", "dev", "lo"]);
    lb_ns.ip(&["addr", "add", "198.18.2.12/32", "dev", "lo"]);
    // Member 0 serves; nothing listens for member 1.
    let _m0 = Member::start(
        &lb_ns,
        "198.18.2.11:8080".parse().expect("addr"),
        "member-0",
    );

    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let target = socket.local_addr().expect("local addr");
    let agent = TestAgent::start_with_heartbeats(
        &lb_ns.name,
        None,
        vec![target],
        Duration::from_millis(500),
    )
    .await;
    let _reaper = Reaper {
        dir: agent.config.state_dir.clone(),
    };
    let mut receiver = Receiver {
        socket,
        amphora_id: agent.config.amphora_id.clone(),
        next_seq: 0,
    };

    // The first beat, sent when the agent starts, has no load balancer and no
    // bundle yet.
    let first = receiver.next().await;
    assert!(
        first.listeners.is_empty() && first.pools.is_empty() && first.bundle_version.is_none(),
        "{first:?}"
    );

    let listener = graph::id(2, 0);
    let pool_key = format!("{}:{listener}", graph::id(3, 0));
    let (up, down) = (graph::id(4, 0), graph::id(4, 1));
    let cfg = graph::checked_config(LB, VIP, 80, &[("198.18.2.11", 8080), ("198.18.2.12", 8080)]);
    assert!(cfg.contains(" check inter 1s fall 1"), "{cfg}");
    agent.apply(&[(LB, &cfg)]).await.expect("apply");
    let version = bundle(&[(LB, &cfg)]).version();

    // The checks settle: the serving member UP, the stopped one DOWN.
    let want: BTreeMap<String, String> = [(up.clone(), "UP".into()), (down.clone(), "DOWN".into())]
        .into_iter()
        .collect();
    let settled = receiver
        .until(Duration::from_secs(10), |m| {
            members_of(m, &pool_key).as_ref() == Some(&want)
        })
        .await
        .unwrap_or_else(|last| panic!("members never {want:?}; last heartbeat {last:?}"));
    assert_eq!(settled.listeners.len(), 1, "{settled:?}");
    assert_eq!(settled.listeners[&listener].status, "OPEN");
    assert_eq!(settled.pools.len(), 1, "{settled:?}");
    assert_eq!(settled.pools[&pool_key].status, "UP");
    assert_eq!(settled.bundle_version.as_deref(), Some(version.as_str()));

    // Three requests through the VIP, all served by the member that is up. Summed
    // over the beats, the deltas count them once.
    let vip: SocketAddr = "198.18.1.10:80".parse().expect("addr");
    for _ in 0..3 {
        let ns = lb_ns.name.clone();
        let answer = tokio::task::spawn_blocking(move || http_get(&ns, vip, "/"))
            .await
            .expect("client");
        assert_eq!(body_of(&answer).as_deref(), Ok("member-0"));
    }
    let mut total = ListenerStats::default();
    let end = Instant::now() + Duration::from_secs(5);
    while total.totconns < 3 {
        assert!(
            Instant::now() < end,
            "connections counted so far: {total:?}"
        );
        accumulate(&mut total, &receiver.next().await, &listener);
    }
    // Later beats add nothing.
    for _ in 0..2 {
        accumulate(&mut total, &receiver.next().await, &listener);
    }
    assert_eq!(total.totconns, 3, "{total:?}");
    assert_eq!(total.ereq, 0, "{total:?}");
    assert!(total.rx > 0 && total.tx > 0, "{total:?}");

    // A stopped load balancer is no longer reported.
    agent
        .client
        .loadbalancer_action(LB, LbAction::Stop)
        .await
        .expect("stop");
    receiver
        .until(Duration::from_secs(5), |m| {
            m.listeners.is_empty() && m.pools.is_empty()
        })
        .await
        .unwrap_or_else(|last| panic!("still reported after stop: {last:?}"));
}

/// Adds the counters of `listener` in `message` to `total`; `conns` is the last one.
fn accumulate(total: &mut ListenerStats, message: &HeartbeatMessage, listener: &str) {
    let stats = message
        .listeners
        .get(listener)
        .unwrap_or_else(|| panic!("listener missing from {message:?}"))
        .stats;
    total.tx += stats.tx;
    total.rx += stats.rx;
    total.totconns += stats.totconns;
    total.ereq += stats.ereq;
    total.conns = stats.conns;
}
