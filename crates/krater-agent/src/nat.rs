//! The UDP listeners of the bundle in force (`krater_agent_api::nat`), served by
//! nftables in the load-balancing namespace.
//!
//! The agent checks the members' health itself, as keepalived's LVS checker does in
//! Octavia's amphora: every member of a pool with a monitor has a check loop, run from
//! the load-balancing namespace (a thread of the agent moved into it), which counts
//! passes and failures against the monitor's `rise` and `fall`. A member starts up,
//! and keeps its state when only its monitor's settings change. When one goes down or
//! comes back, the agent loads the table of the members' choice again
//! (`krater_render::render_nftables`; the table of filters, limits and counters only
//! changes with the listeners), and removes the conntrack entries of the flows a
//! member that went down had, so their next packets pick a member that serves. The
//! flows of a member or listener that left the bundle (deleted, disabled) are removed
//! the same way. A load that failed is tried again by the agent's supervision. The
//! ruleset stays loaded when the agent stops: the data plane keeps serving without it.
//!
//! Heartbeats report each UDP listener `OPEN` with the ruleset's counters (bytes in
//! and out, new flows; counts of a ruleset replaced are kept) and its current flows
//! (conntrack's entries to its VIP and port), its pool `UP` while a
//! member serves (else `DOWN`), and each member `UP`, `DOWN`, `DRAIN` (up, weight 0)
//! or `no check`. The statuses are a snapshot taken at each change, so a heartbeat
//! never waits for a reload; the counters are read within [`STATS_WAIT`] or left for
//! the next heartbeat.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use krater_agent_api::{NatCheck, NatListener, NatMember, NatMonitor, NatPool};
use krater_heartbeat::{HeartbeatMessage, ListenerHealth, ListenerStats, PoolHealth};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Mutex};

use crate::cmd::Cmd;
use crate::error::{ApiError, ApiResult};
use crate::heartbeat::Counters;

/// The files last loaded, in the state directory: the filters, limits and counters,
/// and the choice of members.
const FILTER_RULESET: &str = "nat-filter.nft";
const DNAT_RULESET: &str = "nat-dnat.nft";
/// The datagram of a UDP-CONNECT check.
const UDP_PROBE: &[u8] = b"krater health check\n";
/// The longest status line an HTTP check reads.
const MAX_STATUS_LINE: usize = 1024;
/// How long a heartbeat waits for the UDP listeners' counters.
const STATS_WAIT: Duration = Duration::from_millis(300);

/// A member of a pool.
type MemberKey = (String, String);

/// The UDP listeners the agent serves; see the module.
pub(crate) struct Nat {
    lb_netns: String,
    state_dir: PathBuf,
    inner: Mutex<Inner>,
    /// Check loops report a member going up (`true`) or down here.
    reports: mpsc::UnboundedSender<Report>,
    /// The runtime of the thread in the load-balancing namespace, started with the
    /// first check.
    checks: OnceLock<tokio::runtime::Handle>,
    /// What heartbeats report of each listener, as of the last change.
    statuses: std::sync::Mutex<Vec<ListenerReport>>,
    /// The counters last sent, by listener.
    sent: std::sync::Mutex<HashMap<String, Counters>>,
}

/// A listener's statuses in a heartbeat: its id, and its pool's id and health.
type ListenerReport = (String, Option<(String, PoolHealth)>);

#[derive(Default)]
struct Inner {
    listeners: Vec<NatListener>,
    /// Members with a monitor, by pool and member.
    checked: HashMap<MemberKey, Checked>,
    /// The two files in force, as loaded.
    loaded_filter: Option<String>,
    loaded_nat: Option<String>,
    /// The address families whose forwarding is on.
    forwarding: Vec<&'static str>,
    /// The last load failed: supervision tries again.
    failed: bool,
    /// The counts of the rulesets it replaced, by listener.
    counted: HashMap<String, Counters>,
    generation: u64,
}

/// A member whose health the agent checks.
struct Checked {
    /// What the check loop checks; a change starts a new loop.
    target: (NatMonitor, SocketAddr),
    generation: u64,
    up: bool,
    task: tokio::task::AbortHandle,
}

struct Report {
    key: MemberKey,
    generation: u64,
    up: bool,
}

impl Nat {
    /// The service of an agent whose load-balancing namespace is `lb_netns`; it
    /// serves nothing until [`Nat::set`] gives it listeners.
    pub(crate) fn start(lb_netns: String, state_dir: PathBuf) -> Arc<Self> {
        let (reports, mut received) = mpsc::unbounded_channel();
        let nat = Arc::new(Self {
            lb_netns,
            state_dir,
            inner: Mutex::new(Inner::default()),
            reports,
            checks: OnceLock::new(),
            statuses: std::sync::Mutex::new(Vec::new()),
            sent: std::sync::Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&nat);
        tokio::spawn(async move {
            while let Some(report) = received.recv().await {
                let Some(nat) = weak.upgrade() else { return };
                nat.apply_report(report).await;
            }
        });
        nat
    }

    /// Serves `listeners` from now on: starts and stops check loops as monitors and
    /// members changed, and loads the ruleset when it changed.
    pub(crate) async fn set(&self, listeners: &[NatListener]) -> ApiResult<()> {
        let mut inner = self.inner.lock().await;
        let mut wanted = HashMap::new();
        for (pool, member) in members(listeners) {
            if let Some(monitor) = &pool.monitor {
                let target = (monitor.clone(), check_address(member));
                wanted.insert((pool.pool_id.clone(), member.member_id.clone()), target);
            }
        }
        // A member whose check goes to the same place keeps its state.
        let mut known_up = HashMap::new();
        inner.checked.retain(|key, checked| {
            let keep = wanted.get(key) == Some(&checked.target);
            if !keep {
                checked.task.abort();
                if wanted.get(key).is_some_and(|t| t.1 == checked.target.1) {
                    known_up.insert(key.clone(), checked.up);
                }
            }
            keep
        });
        for (key, target) in wanted {
            if inner.checked.contains_key(&key) {
                continue;
            }
            inner.generation += 1;
            let generation = inner.generation;
            let up = known_up.get(&key).copied().unwrap_or(true);
            let task = self.spawn_check(key.clone(), generation, target.clone(), up)?;
            inner.checked.insert(
                key,
                Checked {
                    target,
                    generation,
                    up,
                    task,
                },
            );
        }
        let gone = flows_gone(&inner.listeners, listeners);
        inner.listeners = listeners.to_vec();
        let loaded = self.load(&mut inner).await;
        for (vip, member) in gone {
            self.forget_flows(vip, member).await;
        }
        loaded
    }

    /// Tries again a load that failed (see [`Nat::set`]).
    pub(crate) async fn revive(&self) {
        let mut inner = self.inner.lock().await;
        if inner.failed {
            if let Err(err) = self.load(&mut inner).await {
                tracing::error!(error = ?err, "the UDP listeners' ruleset still does not load");
            }
        }
    }

    /// Adds the UDP listeners, with their counters, pools and members to `message`.
    pub(crate) async fn add_health(&self, message: &mut HeartbeatMessage) {
        let statuses = self.statuses.lock().expect("statuses").clone();
        if statuses.is_empty() {
            return;
        }
        let read = async { Ok::<_, ApiError>((self.totals().await?, self.flows().await?)) };
        let totals = match tokio::time::timeout(STATS_WAIT, read).await {
            Ok(Ok(totals)) => Some(totals),
            Ok(Err(err)) => {
                tracing::warn!(error = ?err, "no counters of the UDP listeners in this heartbeat");
                None
            }
            Err(_) => {
                tracing::warn!("the UDP listeners' counters came too late for this heartbeat");
                None
            }
        };
        let mut sent = self.sent.lock().expect("sent counters");
        sent.retain(|id, _| statuses.iter().any(|(l, _)| l == id));
        for (listener_id, pool) in statuses {
            let counts = totals.as_ref().and_then(|(totals, flows)| {
                let conns = flows.get(&listener_id).copied().unwrap_or(0);
                totals.get(&listener_id).map(|now| (now, conns))
            });
            let stats = match counts {
                Some((now, conns)) => {
                    let stats = now.stats_since(sent.get(&listener_id), conns);
                    sent.insert(listener_id.clone(), *now);
                    stats
                }
                None => ListenerStats::default(),
            };
            let status = "OPEN".to_owned();
            message
                .listeners
                .insert(listener_id, ListenerHealth { status, stats });
            if let Some((pool_id, health)) = pool {
                message.pools.insert(pool_id, health);
            }
        }
    }

    /// Each listener's counters since it was first served: the ruleset's, and those of
    /// the rulesets it replaced.
    async fn totals(&self) -> ApiResult<HashMap<String, Counters>> {
        let inner = self.inner.lock().await;
        let mut totals = self.read_counters(&inner.listeners).await?;
        for (id, now) in &mut totals {
            if let Some(before) = inner.counted.get(id) {
                *now = now.plus(before);
            }
        }
        Ok(totals)
    }

    /// The flows each listener has now: conntrack's UDP entries whose original
    /// destination is the listener's VIP and port.
    async fn flows(&self) -> ApiResult<HashMap<String, u64>> {
        let listeners: Vec<(String, String, String)> = {
            let inner = self.inner.lock().await;
            inner
                .listeners
                .iter()
                .map(|l| (l.listener_id.clone(), l.vip.to_string(), l.port.to_string()))
                .collect()
        };
        let mut listed = String::new();
        for family in ["ipv4", "ipv6"] {
            if listeners
                .iter()
                .any(|(_, vip, _)| vip.contains(':') == (family == "ipv6"))
            {
                let entries = Cmd::in_netns(&self.lb_netns, "conntrack")
                    .args(["-L", "-f", family, "-p", "udp"]);
                listed.push_str(&entries.run().await?);
            }
        }
        let mut by_destination: HashMap<(&str, &str), u64> = HashMap::new();
        for line in listed.lines() {
            // `udp 17 29 src=C dst=VIP sport=S dport=P src=M …`: the first dst and
            // dport are the original direction's.
            let field = |key: &str| {
                line.split_whitespace()
                    .find_map(|word| word.strip_prefix(key))
            };
            if let (Some(dst), Some(dport)) = (field("dst="), field("dport=")) {
                *by_destination.entry((dst, dport)).or_default() += 1;
            }
        }
        Ok(listeners
            .iter()
            .map(|(id, vip, port)| {
                let n = by_destination.get(&(vip.as_str(), port.as_str())).copied();
                (id.clone(), n.unwrap_or(0))
            })
            .collect())
    }

    /// The counters of `listeners` in the ruleset loaded.
    async fn read_counters(
        &self,
        listeners: &[NatListener],
    ) -> ApiResult<HashMap<String, Counters>> {
        let json = Cmd::in_netns(&self.lb_netns, "nft")
            .args(["-j", "list", "counters", "table"])
            .args(krater_render::NAT_TABLE.split(' '))
            .run()
            .await?;
        let listed: serde_json::Value = serde_json::from_str(&json).map_err(|e| {
            ApiError::internal("Cannot read the UDP listeners' counters", e.to_string())
        })?;
        let mut counts: HashMap<&str, (u64, u64)> = HashMap::new();
        for entry in listed["nftables"].as_array().into_iter().flatten() {
            let counter = &entry["counter"];
            if let Some(name) = counter["name"].as_str() {
                let bytes = counter["bytes"].as_u64().unwrap_or(0);
                let packets = counter["packets"].as_u64().unwrap_or(0);
                counts.insert(name, (bytes, packets));
            }
        }
        let bytes = |name: &str| counts.get(name).map_or(0, |c| c.0);
        let packets = |name: &str| counts.get(name).map_or(0, |c| c.1);
        Ok(listeners
            .iter()
            .map(|l| {
                let names = krater_render::NatCounters::of(&l.listener_id);
                let counters = Counters {
                    tx: bytes(&names.tx),
                    rx: bytes(&names.rx),
                    totconns: packets(&names.flows),
                    ereq: 0,
                };
                (l.listener_id.clone(), counters)
            })
            .collect())
    }

    async fn apply_report(&self, report: Report) {
        let mut inner = self.inner.lock().await;
        let Some(checked) = inner.checked.get_mut(&report.key) else {
            return;
        };
        if checked.generation != report.generation || checked.up == report.up {
            return;
        }
        checked.up = report.up;
        let (pool_id, member_id) = &report.key;
        tracing::info!(
            pool_id,
            member_id,
            up = report.up,
            "UDP member health changed"
        );
        if let Err(err) = self.load(&mut inner).await {
            tracing::error!(error = ?err, "cannot load the UDP listeners' ruleset");
        }
        if !report.up {
            let flows: Vec<_> = inner
                .listeners
                .iter()
                .filter_map(|l| l.pool.as_ref().map(|p| (l, p)))
                .filter(|(_, p)| p.pool_id == *pool_id)
                .flat_map(|(l, p)| {
                    p.members
                        .iter()
                        .filter(|m| m.member_id == *member_id)
                        .map(|m| (vip_of(l), Some(member_addr(m))))
                })
                .collect();
            for (vip, member) in flows {
                self.forget_flows(vip, member).await;
            }
        }
    }

    /// Loads each table whose rules changed, and turns forwarding on for the address
    /// families of the VIPs (the filter table forwards balanced flows only).
    async fn load(&self, inner: &mut Inner) -> ApiResult<()> {
        let ruleset = krater_render::render_nftables(&inner.listeners, &inner.serves());
        *self.statuses.lock().expect("statuses") = inner.report();
        inner.failed = true;
        if inner.loaded_filter.as_ref() != Some(&ruleset.filter) {
            // The new table counts from zero: what this one counted is kept.
            let counts = match &inner.loaded_filter {
                Some(_) => match self.read_counters(&inner.listeners).await {
                    Ok(counts) => Some(counts),
                    Err(err) => {
                        tracing::warn!(error = ?err, "the UDP listeners' counts before a reload are lost");
                        None
                    }
                },
                None => None,
            };
            self.load_file(FILTER_RULESET, &ruleset.filter).await?;
            inner.loaded_filter = Some(ruleset.filter);
            let mut counted = std::mem::take(&mut inner.counted);
            counted.retain(|id, _| inner.listeners.iter().any(|l| l.listener_id == *id));
            for (id, now) in counts.into_iter().flatten() {
                let before = counted.get(&id).copied().unwrap_or_default();
                counted.insert(id, now.plus(&before));
            }
            inner.counted = counted;
        }
        if inner.loaded_nat.as_ref() != Some(&ruleset.nat) {
            self.load_file(DNAT_RULESET, &ruleset.nat).await?;
            inner.loaded_nat = Some(ruleset.nat);
        }
        for l in &inner.listeners {
            let setting = if l.vip.is_ipv4() {
                "net.ipv4.ip_forward=1"
            } else {
                "net.ipv6.conf.all.forwarding=1"
            };
            if !inner.forwarding.contains(&setting) {
                Cmd::in_netns(&self.lb_netns, "sysctl")
                    .args(["-q", "-w", setting])
                    .run()
                    .await?;
                inner.forwarding.push(setting);
            }
        }
        inner.failed = false;
        Ok(())
    }

    /// Writes `ruleset` to `name` in the state directory and loads it.
    async fn load_file(&self, name: &str, ruleset: &str) -> ApiResult<()> {
        let path = self.state_dir.join(name);
        let staged = self.state_dir.join(format!(".{name}.new"));
        crate::bundle::remove_file(&staged)?;
        crate::bundle::write_private(&staged, ruleset.as_bytes())?;
        std::fs::rename(&staged, &path).map_err(|e| crate::haproxy::file_error(&path, e))?;
        Cmd::in_netns(&self.lb_netns, "nft")
            .arg("-f")
            .arg(&path)
            .run()
            .await?;
        Ok(())
    }

    /// Removes the conntrack entries of the flows to `vip` (a listener), only those
    /// balanced to `member` when given. Best effort.
    async fn forget_flows(&self, vip: SocketAddr, member: Option<SocketAddr>) {
        let family = if vip.is_ipv4() { "ipv4" } else { "ipv6" };
        let mut delete = Cmd::in_netns(&self.lb_netns, "conntrack")
            .args(["-D", "-f", family, "-p", "udp", "--orig-dst"])
            .arg(vip.ip().to_string())
            .arg("--orig-port-dst")
            .arg(vip.port().to_string());
        if let Some(member) = member {
            delete = delete
                .arg("--reply-src")
                .arg(member.ip().to_string())
                .arg("--reply-port-src")
                .arg(member.port().to_string());
        }
        match delete.output().await {
            Ok(out) => tracing::info!(
                %vip,
                member = ?member,
                result = %String::from_utf8_lossy(&out.stderr).trim(),
                "UDP flows removed"
            ),
            Err(err) => tracing::warn!(%vip, error = ?err, "cannot remove UDP flows"),
        }
    }

    /// Starts the check loop of one member on the runtime in the load-balancing
    /// namespace.
    fn spawn_check(
        &self,
        key: MemberKey,
        generation: u64,
        (monitor, target): (NatMonitor, SocketAddr),
        up: bool,
    ) -> ApiResult<tokio::task::AbortHandle> {
        let handle = match self.checks.get() {
            Some(handle) => handle.clone(),
            None => {
                let handle = netns_runtime(&self.lb_netns)?;
                self.checks.get_or_init(|| handle).clone()
            }
        };
        let reports = self.reports.clone();
        let task = handle.spawn(async move {
            let (mut passes, mut failures, mut up) = (0u8, 0u8, up);
            loop {
                let passed = check(&monitor, target).await;
                if passed {
                    failures = 0;
                    passes = passes.saturating_add(1);
                } else {
                    passes = 0;
                    failures = failures.saturating_add(1);
                }
                let now_up = if up {
                    failures < monitor.fall
                } else {
                    passes >= monitor.rise
                };
                if now_up != up {
                    up = now_up;
                    let report = Report {
                        key: key.clone(),
                        generation,
                        up,
                    };
                    if reports.send(report).is_err() {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_secs(u64::from(monitor.delay))).await;
            }
        });
        Ok(task.abort_handle())
    }
}

impl Inner {
    /// What heartbeats report of each listener: its pool `UP` while a member serves,
    /// and each member's status.
    fn report(&self) -> Vec<ListenerReport> {
        let serves = self.serves();
        self.listeners
            .iter()
            .map(|l| {
                let pool = l.pool.as_ref().map(|pool| {
                    let members = pool
                        .members
                        .iter()
                        .map(|m| {
                            let key = (pool.pool_id.clone(), m.member_id.clone());
                            let status = match self.checked.get(&key) {
                                None => "no check",
                                Some(c) if !c.up => "DOWN",
                                Some(_) if m.weight == 0 => "DRAIN",
                                Some(_) => "UP",
                            };
                            (m.member_id.clone(), status.to_owned())
                        })
                        .collect();
                    let up = !krater_render::chosen_members(pool, &serves).is_empty();
                    let status = if up { "UP" } else { "DOWN" }.to_owned();
                    (pool.pool_id.clone(), PoolHealth { status, members })
                });
                (l.listener_id.clone(), pool)
            })
            .collect()
    }

    /// Whether a member serves: it has no monitor, or its checks say it is up.
    fn serves(&self) -> impl Fn(&NatPool, &NatMember) -> bool + '_ {
        |pool, m| {
            self.checked
                .get(&(pool.pool_id.clone(), m.member_id.clone()))
                .is_none_or(|c| c.up)
        }
    }
}

/// Every member of every listener's pool, with its pool.
fn members(listeners: &[NatListener]) -> impl Iterator<Item = (&NatPool, &NatMember)> {
    listeners
        .iter()
        .filter_map(|l| l.pool.as_ref())
        .flat_map(|p| p.members.iter().map(move |m| (p, m)))
}

/// A listener's VIP and port.
fn vip_of(l: &NatListener) -> SocketAddr {
    SocketAddr::new(l.vip, l.port.get())
}

fn member_addr(m: &NatMember) -> SocketAddr {
    SocketAddr::new(m.address, m.port.get())
}

/// The flows that must go when `old` gives way to `new`: those of a listener that
/// left (or moved), and of a member that left its listener's pool.
fn flows_gone(old: &[NatListener], new: &[NatListener]) -> Vec<(SocketAddr, Option<SocketAddr>)> {
    let mut gone = Vec::new();
    for l in old {
        let Some(kept) = new
            .iter()
            .find(|n| n.listener_id == l.listener_id && vip_of(n) == vip_of(l))
        else {
            gone.push((vip_of(l), None));
            continue;
        };
        let members_of = |l: &NatListener| -> Vec<SocketAddr> {
            l.pool
                .iter()
                .flat_map(|p| p.members.iter().map(member_addr))
                .collect()
        };
        let still = members_of(kept);
        for m in members_of(l) {
            if !still.contains(&m) {
                gone.push((vip_of(l), Some(m)));
            }
        }
    }
    gone
}

/// Where a member's check goes: its monitor address and port, else its own.
fn check_address(m: &NatMember) -> SocketAddr {
    let ip = m.monitor_address.unwrap_or(m.address);
    let port = m.monitor_port.unwrap_or(m.port);
    SocketAddr::new(ip, port.get())
}

/// A thread moved into the network namespace `netns`, running a runtime whose
/// tasks open their sockets there.
fn netns_runtime(netns: &str) -> ApiResult<tokio::runtime::Handle> {
    let path = PathBuf::from("/run/netns").join(netns);
    let file = std::fs::File::open(&path).map_err(|e| crate::haproxy::file_error(&path, e))?;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(format!("checks-{netns}"))
        .spawn(move || {
            use std::os::fd::AsFd;
            let entered = rustix::thread::move_into_link_name_space(
                file.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            );
            let runtime = entered.map_err(std::io::Error::from).and_then(|()| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            });
            match runtime {
                Ok(runtime) => {
                    let _ = sender.send(Ok(runtime.handle().clone()));
                    runtime.block_on(std::future::pending::<()>());
                }
                Err(err) => {
                    let _ = sender.send(Err(err));
                }
            }
        })
        .map_err(|e| ApiError::internal("Cannot start the health checks", e.to_string()))?;
    receiver
        .recv()
        .map_err(|e| ApiError::internal("Cannot start the health checks", e.to_string()))?
        .map_err(|e| ApiError::internal("Cannot enter the load-balancing namespace", e.to_string()))
}

/// Runs one check of `target`; true when it passed.
async fn check(monitor: &NatMonitor, target: SocketAddr) -> bool {
    // A check needs some time to hear back.
    let timeout = Duration::from_secs(u64::from(monitor.timeout.max(1)));
    match &monitor.check {
        NatCheck::UdpConnect => udp_connect(target, timeout).await,
        NatCheck::Tcp => matches!(
            tokio::time::timeout(timeout, tokio::net::TcpStream::connect(target)).await,
            Ok(Ok(_))
        ),
        NatCheck::Http {
            method,
            path,
            expected_codes,
            host,
        } => {
            let request = match host {
                Some(host) => format!(
                    "{} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
                    method.as_str()
                ),
                None => format!("{} {path} HTTP/1.0\r\n\r\n", method.as_str()),
            };
            let status = tokio::time::timeout(timeout, http_status(target, &request)).await;
            matches!(status, Ok(Some(code)) if expected_codes.contains(&code))
        }
    }
}

/// A datagram to `target`: fails when an ICMP error (port or host unreachable)
/// comes back within `timeout`; an answer, or silence, passes.
async fn udp_connect(target: SocketAddr, timeout: Duration) -> bool {
    let local: SocketAddr = match target.ip() {
        IpAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
        IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let exchange = async {
        let socket = tokio::net::UdpSocket::bind(local).await?;
        socket.connect(target).await?;
        socket.send(UDP_PROBE).await?;
        let mut answer = [0u8; 512];
        socket.recv(&mut answer).await.map(drop)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(())) | Err(_) => true,
        Ok(Err(_)) => false,
    }
}

/// Sends `request` to `target` and reads the status code of the answer.
async fn http_status(target: SocketAddr, request: &str) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(target).await.ok()?;
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < MAX_STATUS_LINE {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = std::str::from_utf8(&head).ok()?.lines().next()?;
    let mut words = line.split(' ');
    words.next().filter(|v| v.starts_with("HTTP/"))?;
    words.next()?.parse().ok()
}
