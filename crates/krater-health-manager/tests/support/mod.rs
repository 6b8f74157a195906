//! What the health manager's tests and bench share: a database of load balancers with
//! their amphorae, a receiver on loopback, stamped messages and a bounded wait.
// Each test binary uses a part of it.
#![allow(dead_code)]

use krater_db::Db;
use krater_domain::*;
use krater_health_manager::{Receiver, SourceNetwork, Watch};
use krater_heartbeat::HeartbeatMessage;
use std::time::Duration;

/// A receiver on a free loopback port that hears only `sources`, logging at most one
/// line about drops an hour, failing nothing over.
pub fn receiver(sources: &str) -> Receiver {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (address, prefix_len) = sources.split_once('/').unwrap();
    Receiver {
        bind: format!("127.0.0.1:{port}").parse().unwrap(),
        key: "right-key".into(),
        sources: SourceNetwork {
            address: address.parse().unwrap(),
            prefix_len: prefix_len.parse().unwrap(),
        },
        replay_window: Duration::from_secs(30),
        drop_log_interval: Duration::from_secs(3600),
        // These tests are about receiving: nothing goes stale while they run.
        watch: Watch {
            heartbeat_timeout: Duration::from_secs(3600),
            check_interval: Duration::from_secs(3600),
            failover_threshold: 5,
        },
    }
}

/// Waits (bounded) until `count()` reaches `value`.
pub async fn wait_for(count: impl Fn() -> u64, value: u64) {
    for _ in 0..500 {
        if count() >= value {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("count stuck at {}, expected {value}", count());
}

/// `message` stamped as krater's agent stamps it: run `boot`, sent now.
pub fn stamped(mut message: HeartbeatMessage, boot: &str) -> HeartbeatMessage {
    message.stamp(boot);
    message
}

/// The health manager's name in its reports, for tests.
pub const NAME: &str = "test-host:127.0.0.1";

/// A database with `count` ACTIVE load balancers `lb-<i>`, each with an HTTP listener
/// `listener-<i>`, a pool `pool-<i>` with members `m<i>-a` and `m<i>-b`, and a
/// watched, ALLOCATED amphora `amp-<i>`.
pub async fn load_balancers(count: usize) -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&krater_db::test_support::database_url(dir.path()).await)
        .await
        .unwrap();
    let t = now();
    let mut tx = db.begin().await.unwrap();
    for i in 0..count {
        tx.save_load_balancer(&LoadBalancer {
            id: format!("lb-{i}"),
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
            id: format!("listener-{i}"),
            project_id: "p".into(),
            load_balancer_id: format!("lb-{i}"),
            name: None,
            description: None,
            provisioning_status: ProvisioningStatus::Active,
            operating_status: OperatingStatus::Offline,
            admin_state_up: true,
            protocol: ListenerProtocol::Http,
            protocol_port: 80,
            connection_limit: -1,
            default_pool_id: Some(format!("pool-{i}")),
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
            id: format!("pool-{i}"),
            project_id: "p".into(),
            load_balancer_id: format!("lb-{i}"),
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
        for (suffix, port) in [("a", 80), ("b", 81)] {
            tx.save_member(&Member {
                id: format!("m{i}-{suffix}"),
                project_id: "p".into(),
                pool_id: format!("pool-{i}"),
                name: None,
                provisioning_status: ProvisioningStatus::Active,
                operating_status: OperatingStatus::Offline,
                admin_state_up: true,
                address: format!("198.18.{}.{}", 2 + i / 250, 10 + i % 250),
                protocol_port: port,
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
            load_balancer_id: Some(format!("lb-{i}")),
            role: Some(AmphoraRole::Standalone),
            vrrp_id: None,
            created_at: t,
            ..Amphora::new(format!("amp-{i}"), AmphoraStatus::Allocated)
        })
        .await
        .unwrap();
        tx.watch_amphora(&format!("amp-{i}")).await.unwrap();
    }
    tx.commit().await.unwrap();
    (db, dir)
}
