//! Heartbeats against a real database (SQLite, or PostgreSQL: see
//! `krater_db::test_support`): statuses and statistics as a user sees them after an
//! amphora reports, and forged heartbeats dropped.

mod support;

use krater_db::Db;
use krater_domain::*;
use krater_health_manager::{process, run, Counters};
use krater_heartbeat::{HeartbeatMessage, ListenerHealth, ListenerStats as Counts, PoolHealth};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use support::{receiver, wait_for};

const LB: &str = "lb-1";
const LISTENER: &str = "listener-1";
const POOL: &str = "pool-1";
const AMPHORA: &str = "amphora-1";

async fn database() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&krater_db::test_support::database_url(dir.path()).await)
        .await
        .unwrap();
    let t = now();
    let mut tx = db.begin().await.unwrap();
    tx.save_load_balancer(&LoadBalancer {
        id: LB.into(),
        project_id: "p".into(),
        name: None,
        description: None,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Offline,
        admin_state_up: true,
        provider: "amphora".into(),
        topology: Topology::Single,
        vip: Vip::default(),
        flavor_id: None,
        availability_zone: None,
        tags: vec![],
        created_at: t,
        updated_at: None,
    })
    .await
    .unwrap();
    tx.save_listener(&Listener {
        id: LISTENER.into(),
        project_id: "p".into(),
        load_balancer_id: LB.into(),
        name: None,
        description: None,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Offline,
        admin_state_up: true,
        protocol: ListenerProtocol::Http,
        protocol_port: 80,
        connection_limit: -1,
        default_pool_id: Some(POOL.into()),
        timeout_client_data: 50000,
        timeout_member_connect: 5000,
        timeout_member_data: 50000,
        timeout_tcp_inspect: 0,
        insert_headers: vec![],
        allowed_cidrs: vec![],
        tls: TlsOptions::default(),
        tags: vec![],
        created_at: t,
        updated_at: None,
    })
    .await
    .unwrap();
    tx.save_pool(&Pool {
        id: POOL.into(),
        project_id: "p".into(),
        load_balancer_id: LB.into(),
        name: None,
        description: None,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Offline,
        admin_state_up: true,
        protocol: PoolProtocol::Http,
        lb_algorithm: LbAlgorithm::RoundRobin,
        session_persistence: None,
        tls_enabled: false,
        tls: TlsOptions::default(),
        tags: vec![],
        created_at: t,
        updated_at: None,
    })
    .await
    .unwrap();
    for (id, address) in [("m1", "198.18.2.20"), ("m2", "198.18.2.21")] {
        tx.save_member(&Member {
            id: id.into(),
            project_id: "p".into(),
            pool_id: POOL.into(),
            name: None,
            provisioning_status: ProvisioningStatus::Active,
            operating_status: OperatingStatus::Offline,
            admin_state_up: true,
            address: address.into(),
            protocol_port: 80,
            weight: 1,
            backup: false,
            subnet_id: None,
            monitor_address: None,
            monitor_port: None,
            tags: vec![],
            created_at: t,
            updated_at: None,
        })
        .await
        .unwrap();
    }
    tx.save_amphora(&Amphora {
        id: AMPHORA.into(),
        load_balancer_id: Some(LB.into()),
        compute_id: None,
        status: AmphoraStatus::Allocated,
        role: Some(AmphoraRole::Standalone),
        lb_network_ip: None,
        vrrp_ip: None,
        ha_ip: None,
        vrrp_port_id: None,
        ha_port_id: None,
        vrrp_interface: None,
        vrrp_id: None,
        vrrp_priority: None,
        cert_expiration: None,
        cert_busy: false,
        cached_zone: None,
        image_id: None,
        compute_flavor: None,
        created_at: t,
        updated_at: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (db, dir)
}

fn message(m1: &str, m2: &str, pool: &str, rx: u64) -> HeartbeatMessage {
    let mut msg = HeartbeatMessage::new(AMPHORA, 1);
    msg.listeners.insert(
        LISTENER.into(),
        ListenerHealth {
            status: "OPEN".into(),
            stats: Counts {
                tx: 10,
                rx,
                conns: 2,
                totconns: 5,
                ereq: 0,
            },
        },
    );
    msg.pools.insert(
        format!("{POOL}:{LISTENER}"),
        PoolHealth {
            status: pool.into(),
            members: [
                ("m1".to_string(), m1.to_string()),
                ("m2".to_string(), m2.to_string()),
            ]
            .into_iter()
            .collect(),
        },
    );
    msg
}

async fn statuses(
    db: &Db,
) -> (
    OperatingStatus,
    OperatingStatus,
    OperatingStatus,
    OperatingStatus,
    OperatingStatus,
) {
    let mut tx = db.begin().await.unwrap();
    let g = tx.load_balancer_graph(LB).await.unwrap();
    (
        g.load_balancer.operating_status,
        g.listeners[0].operating_status,
        g.pools[0].pool.operating_status,
        g.pools[0].members[0].operating_status,
        g.pools[0].members[1].operating_status,
    )
}

#[tokio::test]
async fn statuses_follow_the_heartbeats() {
    use OperatingStatus::*;
    let (db, _dir) = database().await;
    process(&db, &message("UP", "UP", "UP", 100)).await.unwrap();
    assert_eq!(
        statuses(&db).await,
        (Online, Online, Online, Online, Online)
    );

    process(&db, &message("UP", "DOWN", "UP", 50))
        .await
        .unwrap();
    assert_eq!(
        statuses(&db).await,
        (Degraded, Online, Degraded, Online, Error)
    );

    process(&db, &message("DOWN", "DOWN", "DOWN", 0))
        .await
        .unwrap();
    assert_eq!(statuses(&db).await, (Error, Online, Error, Error, Error));

    let mut tx = db.begin().await.unwrap();
    let stats = tx.listener_stats(LISTENER).await.unwrap();
    assert_eq!(stats.bytes_in, 150, "deltas add up");
    assert_eq!(
        stats.active_connections, 2,
        "current connections are absolute"
    );
    assert_eq!(
        tx.amphora_listener_stats(AMPHORA).await.unwrap(),
        vec![(LISTENER.to_string(), stats)],
        "the amphora's own view of the same counters"
    );
    assert!(tx.last_heartbeat(AMPHORA).await.unwrap().is_some());
}

#[tokio::test]
async fn forged_heartbeats_are_dropped() {
    let (db, _dir) = database().await;
    let counters = Arc::new(Counters::default());
    let settings = receiver("127.0.0.0/8");
    let bind = settings.bind;
    let receiver = tokio::spawn(run(db.clone(), settings, counters.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let forged = krater_heartbeat::encode(&message("UP", "UP", "UP", 1), "wrong-key").unwrap();
    socket.send_to(&forged, bind).await.unwrap();
    socket.send_to(b"garbage", bind).await.unwrap();
    let good = krater_heartbeat::encode(&message("UP", "UP", "UP", 1), "right-key").unwrap();
    socket.send_to(&good, bind).await.unwrap();
    wait_for(&counters.accepted, 1).await;
    receiver.abort();
    assert_eq!(counters.rejected.load(Ordering::Relaxed), 2);
    assert_eq!(counters.accepted.load(Ordering::Relaxed), 1);
    assert_eq!(statuses(&db).await.0, OperatingStatus::Online);
}
