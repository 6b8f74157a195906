//! The repository layer against a real database: a SQLite file, or PostgreSQL when
//! `KRATER_TEST_POSTGRES_URL` names a server.

use krater_db::{Db, DbError, JobState, Lock, Table};
use krater_domain::flow::{Flow, ObjectKind, ObjectRef};
use krater_domain::*;
use std::time::Duration;

async fn database() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = krater_db::test_support::database_url(dir.path()).await;
    (Db::connect(&url).await.unwrap(), dir)
}

fn sample_lb(id: &str) -> LoadBalancer {
    LoadBalancer {
        id: id.into(),
        project_id: "p1".into(),
        name: Some("lb".into()),
        description: None,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Online,
        admin_state_up: true,
        provider: "amphora".into(),
        topology: Topology::Single,
        vip: Vip {
            ip_address: Some("198.18.1.10".into()),
            ..Vip::default()
        },
        flavor_id: None,
        availability_zone: None,
        tags: vec!["a".into(), "b".into()],
        created_at: now(),
        updated_at: None,
    }
}

#[tokio::test]
async fn rows_round_trip() {
    let (db, _dir) = database().await;
    let lb = sample_lb("lb-1");
    let mut tx = db.begin().await.unwrap();
    tx.save_load_balancer(&lb).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    assert_eq!(tx.load_balancer("lb-1").await.unwrap(), Some(lb.clone()));
    let mut renamed = lb.clone();
    renamed.name = None;
    tx.save_load_balancer(&renamed).await.unwrap();
    assert_eq!(tx.load_balancers().await.unwrap(), vec![renamed]);
}

#[tokio::test]
async fn an_update_keeps_the_operating_status_a_heartbeat_set() {
    let (db, _dir) = database().await;
    let lb = sample_lb("lb-1");
    let mut tx = db.begin().await.unwrap();
    tx.save_load_balancer(&lb).await.unwrap();
    tx.set_operating_status(Table::LoadBalancer, "lb-1", OperatingStatus::Error)
        .await
        .unwrap();
    // An API update read the row before the heartbeat's write (ONLINE) and saves it.
    let mut renamed = lb.clone();
    renamed.name = Some("renamed".into());
    tx.save_load_balancer(&renamed).await.unwrap();
    let stored = tx.load_balancer("lb-1").await.unwrap().unwrap();
    assert_eq!(stored.name.as_deref(), Some("renamed"));
    assert_eq!(stored.operating_status, OperatingStatus::Error);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_lock_refuses_pending_objects() {
    let (db, _dir) = database().await;
    let mut tx = db.begin().await.unwrap();
    tx.save_load_balancer(&sample_lb("lb-1")).await.unwrap();
    tx.lock(Lock::Update(Table::LoadBalancer, "lb-1"))
        .await
        .unwrap();
    let err = tx
        .lock(Lock::Delete(Table::LoadBalancer, "lb-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DbError::Immutable {
                status: ProvisioningStatus::PendingUpdate,
                ..
            }
        ),
        "{err:?}"
    );
    let err = tx
        .lock(Lock::Update(Table::LoadBalancer, "nope"))
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::NotFound { .. }));
    let err = tx
        .lock(Lock::Update(Table::Listener, "nope"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DbError::NotFound {
                table: Table::Listener,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn rolled_back_writes_leave_nothing() {
    let (db, _dir) = database().await;
    let mut tx = db.begin().await.unwrap();
    tx.save_load_balancer(&sample_lb("lb-1")).await.unwrap();
    tx.enqueue(&Flow::CreateLoadBalancer {
        lb_id: "lb-1".into(),
    })
    .await
    .unwrap();
    drop(tx);
    let mut tx = db.begin().await.unwrap();
    assert_eq!(tx.load_balancer("lb-1").await.unwrap(), None);
    assert_eq!(tx.open_jobs().await.unwrap(), 0);
}

#[tokio::test]
async fn jobs_are_claimed_once_and_resumed_after_the_lease() {
    let (db, _dir) = database().await;
    let flow = Flow::ApplyChildren {
        lb_id: "lb-1".into(),
        changed: vec![ObjectRef::new(ObjectKind::Member, "m-1")],
    };
    let mut tx = db.begin().await.unwrap();
    tx.enqueue(&flow).await.unwrap();
    let lease = Duration::from_millis(300);
    let job = tx.claim_job("w1", lease).await.unwrap().unwrap();
    assert_eq!(job.flow, flow);
    assert_eq!(job.next_task, 0);
    tx.store_plan(&job.lease, "[1,2]").await.unwrap();
    tx.record_progress(&job.lease, 1, false, lease)
        .await
        .unwrap();
    assert!(
        tx.claim_job("w2", lease).await.unwrap().is_none(),
        "lease held"
    );
    tx.commit().await.unwrap();

    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut tx = db.begin().await.unwrap();
    let resumed = tx.claim_job("w2", lease).await.unwrap().unwrap();
    assert_eq!(resumed.id(), job.id());
    assert_ne!(resumed.lease.token, job.lease.token);
    assert_eq!(resumed.next_task, 1);
    assert_eq!(resumed.plan.as_deref(), Some("[1,2]"));
    assert_eq!(resumed.attempts, 2);
    tx.finish_job(&resumed.lease, JobState::Done, None)
        .await
        .unwrap();
    assert_eq!(tx.open_jobs().await.unwrap(), 0);
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_writes_nothing() {
    let (db, _dir) = database().await;
    let mut tx = db.begin().await.unwrap();
    tx.enqueue(&Flow::UpdateLoadBalancer {
        lb_id: "lb-1".into(),
    })
    .await
    .unwrap();
    let lease = Duration::from_millis(200);
    let stale = tx.claim_job("w1", lease).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut tx = db.begin().await.unwrap();
    let current = tx.claim_job("w2", lease).await.unwrap().unwrap();
    tx.commit().await.unwrap();

    let mut tx = db.begin().await.unwrap();
    let lost = |r: Result<(), DbError>| matches!(r, Err(DbError::LeaseLost { .. }));
    assert!(lost(tx.fence(&stale.lease).await));
    assert!(lost(
        tx.record_progress(&stale.lease, 5, false, lease).await
    ));
    assert!(lost(tx.renew_lease(&stale.lease, lease).await));
    assert!(lost(tx.start_revert(&stale.lease, 1, "x", lease).await));
    assert!(lost(
        tx.finish_job(&stale.lease, JobState::Done, None).await
    ));
    assert!(lost(tx.release_job(&stale.lease).await));
    tx.fence(&current.lease).await.unwrap();
    tx.finish_job(&current.lease, JobState::Done, None)
        .await
        .unwrap();
    assert!(
        lost(tx.fence(&current.lease).await),
        "a finished job holds no lease"
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn jobs_of_one_load_balancer_run_in_order_and_others_in_parallel() {
    let (db, _dir) = database().await;
    let update = |lb: &str| Flow::UpdateLoadBalancer { lb_id: lb.into() };
    let mut tx = db.begin().await.unwrap();
    let first = tx.enqueue(&update("lb-1")).await.unwrap();
    let second = tx.enqueue(&update("lb-1")).await.unwrap();
    let other = tx.enqueue(&update("lb-2")).await.unwrap();
    tx.commit().await.unwrap();

    let lease = Duration::from_secs(30);
    let mut tx = db.begin().await.unwrap();
    let a = tx.claim_job("w1", lease).await.unwrap().unwrap();
    let b = tx.claim_job("w2", lease).await.unwrap().unwrap();
    assert_eq!(a.id(), first);
    assert_eq!(b.id(), other, "another load balancer's job runs beside");
    assert!(
        tx.claim_job("w3", lease).await.unwrap().is_none(),
        "the second job of lb-1 waits for the first"
    );
    tx.finish_job(&a.lease, JobState::Done, None).await.unwrap();
    let c = tx.claim_job("w3", lease).await.unwrap().unwrap();
    assert_eq!(c.id(), second);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_released_job_is_claimed_again_at_once_without_counting_an_attempt() {
    let (db, _dir) = database().await;
    let mut tx = db.begin().await.unwrap();
    tx.enqueue(&Flow::UpdateLoadBalancer {
        lb_id: "lb-1".into(),
    })
    .await
    .unwrap();
    let lease = Duration::from_secs(30);
    let job = tx.claim_job("w1", lease).await.unwrap().unwrap();
    assert_eq!(job.attempts, 1);
    tx.release_job(&job.lease).await.unwrap();
    let again = tx.claim_job("w2", lease).await.unwrap().unwrap();
    assert_eq!(again.attempts, 1);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn roles_refuse_a_schema_that_was_not_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let url = krater_db::test_support::database_url(dir.path()).await;
    let db = Db::open(&url).await.unwrap();
    let err = db.check_schema().await.unwrap_err();
    assert!(err.to_string().contains("run `krater db upgrade`"), "{err}");
    db.upgrade().await.unwrap();
    db.check_schema().await.unwrap();
    assert_eq!(
        db.schema_version().await.unwrap(),
        Db::latest_schema_version()
    );
}

#[tokio::test]
async fn housekeeping_purges_only_what_was_deleted_long_ago() {
    let (db, _dir) = database().await;
    let mut tx = db.begin().await.unwrap();
    for (id, status) in [
        ("old", ProvisioningStatus::Deleted),
        ("live", ProvisioningStatus::Active),
    ] {
        let mut lb = sample_lb(id);
        lb.provisioning_status = status;
        lb.updated_at = Some(now() - chrono::Duration::seconds(120));
        tx.save_load_balancer(&lb).await.unwrap();
    }
    tx.commit().await.unwrap();
    let minutes = |n: u64| Duration::from_secs(60 * n);

    let mut tx = db.begin().await.unwrap();
    let purged = tx.purge_deleted(minutes(10), minutes(10)).await.unwrap();
    assert_eq!(purged.load_balancers, 0, "deleted too recently");
    let purged = tx.purge_deleted(minutes(1), minutes(1)).await.unwrap();
    assert_eq!(purged.load_balancers, 1);
    assert!(tx.load_balancer("live").await.unwrap().is_some());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_read_transaction_sees_committed_rows_only_and_refuses_writes() {
    let (db, _dir) = database().await;
    let mut writer = db.begin().await.unwrap();
    writer.save_load_balancer(&sample_lb("lb-1")).await.unwrap();
    // A read runs while a write is open, and does not see it.
    let mut reader = db.read().await.unwrap();
    assert_eq!(reader.load_balancers().await.unwrap(), vec![]);
    drop(reader);
    writer.commit().await.unwrap();

    let mut reader = db.read().await.unwrap();
    assert_eq!(reader.load_balancers().await.unwrap().len(), 1);
    let err = reader.save_load_balancer(&sample_lb("lb-2")).await;
    assert!(err.is_err(), "a read-only transaction wrote: {err:?}");
}

/// Writers that read before they write (as every API write does) all succeed when
/// they run at once: none fails with SQLITE_BUSY on a lock upgrade.
#[tokio::test]
async fn concurrent_read_then_write_transactions_all_commit() {
    let (db, _dir) = database().await;
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin().await?;
                tx.load_balancers().await?;
                tokio::task::yield_now().await;
                tx.save_load_balancer(&sample_lb(&format!("lb-{i}")))
                    .await?;
                tx.commit().await
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    let mut tx = db.read().await.unwrap();
    assert_eq!(tx.load_balancers().await.unwrap().len(), 16);
}

#[tokio::test]
async fn a_taken_address_is_a_duplicate() {
    let (db, _dir) = database().await;
    let port = Port {
        id: "port-1".into(),
        network_id: "net".into(),
        subnet_id: "subnet".into(),
        ip_address: "198.18.1.10".into(),
        mac_address: String::new(),
        device_owner: "krater:vip".into(),
        device_id: "lb-1".into(),
        name: "vip".into(),
        created_at: now(),
    };
    let mut tx = db.begin().await.unwrap();
    tx.save_port(&port).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let err = tx
        .save_port(&Port {
            id: "port-2".into(),
            ..port
        })
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::Duplicate(_)), "{err:?}");
}

#[tokio::test]
async fn listener_statistics_add_up_over_heartbeats_and_amphorae() {
    let (db, _dir) = database().await;
    let delta = |n: i64| ListenerStats {
        bytes_in: n,
        bytes_out: 2 * n,
        active_connections: n,
        total_connections: 3 * n,
        request_errors: 1,
    };
    let mut tx = db.begin().await.unwrap();
    tx.add_listener_stats("l-1", "amp-1", delta(10))
        .await
        .unwrap();
    tx.add_listener_stats("l-1", "amp-1", delta(5))
        .await
        .unwrap();
    tx.add_listener_stats("l-1", "amp-2", delta(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.read().await.unwrap();
    assert_eq!(
        tx.listener_stats("l-1").await.unwrap(),
        ListenerStats {
            bytes_in: 16,
            bytes_out: 32,
            active_connections: 6,
            total_connections: 48,
            request_errors: 3,
        }
    );
    assert_eq!(
        tx.listener_stats("l-none").await.unwrap(),
        ListenerStats::default()
    );
}

#[tokio::test]
async fn a_spare_is_taken_once_and_only_while_it_is_fresh_and_ready() {
    let (db, _dir) = database().await;
    let mut tx = db.begin().await.unwrap();
    tx.save_load_balancer(&sample_lb("lb1")).await.unwrap();
    for id in ["booting", "ready", "silent"] {
        tx.save_amphora(&Amphora::new(id.into(), AmphoraStatus::Booting))
            .await
            .unwrap();
    }
    for id in ["ready", "silent"] {
        let mut booted = Amphora::new(id.into(), AmphoraStatus::Booting);
        booted.compute_id = Some(format!("amp-{id}"));
        booted.lb_network_ip = Some("198.18.0.10".into());
        assert!(tx.spare_booted(&booted).await.unwrap());
        tx.watch_amphora(id).await.unwrap();
    }
    tx.commit().await.unwrap();
    // "silent" was last heard from before the window.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut tx = db.begin().await.unwrap();
    tx.record_heartbeat("ready").await.unwrap();
    let fresh = tx
        .ready_spares(Duration::from_millis(200), 2)
        .await
        .unwrap();
    assert_eq!(fresh, ["ready"], "only a READY spare heard from lately");
    assert_eq!(tx.spares().await.unwrap().len(), 3);

    assert!(tx
        .claim_spare("ready", "lb1", AmphoraRole::Master)
        .await
        .unwrap());
    assert!(
        !tx.claim_spare("ready", "lb1", AmphoraRole::Backup)
            .await
            .unwrap(),
        "taken once"
    );
    assert!(
        !tx.claim_spare("booting", "lb1", AmphoraRole::Backup)
            .await
            .unwrap(),
        "not booted yet"
    );
    let taken = tx.amphora("ready").await.unwrap().unwrap();
    assert_eq!(taken.load_balancer_id.as_deref(), Some("lb1"));
    assert_eq!(taken.status, AmphoraStatus::Allocated);
    assert_eq!(taken.role, Some(AmphoraRole::Master));
    assert_eq!(taken.vrrp_priority, Some(100));
    assert_eq!(taken.compute_id.as_deref(), Some("amp-ready"));
    assert_eq!(tx.amphorae_of("lb1").await.unwrap().len(), 1);

    // Removing: once, and never a spare that a load balancer took meanwhile.
    assert!(tx
        .retire_spare("silent", AmphoraStatus::Ready)
        .await
        .unwrap());
    assert!(!tx
        .retire_spare("silent", AmphoraStatus::Ready)
        .await
        .unwrap());
    assert!(!tx
        .retire_spare("ready", AmphoraStatus::Ready)
        .await
        .unwrap());
    let silent = tx.amphora("silent").await.unwrap().unwrap();
    assert_eq!(silent.status, AmphoraStatus::PendingDelete);
    // A spare taken out of the pool while booting is not made READY.
    assert!(tx
        .retire_spare("booting", AmphoraStatus::Booting)
        .await
        .unwrap());
    assert!(!tx
        .spare_booted(&Amphora::new("booting".into(), AmphoraStatus::Booting))
        .await
        .unwrap());
    let left: Vec<String> = tx
        .spares()
        .await
        .unwrap()
        .into_iter()
        .map(|(a, _)| a.id)
        .collect();
    assert_eq!(
        left,
        ["booting", "silent"],
        "both being removed, still listed to finish"
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn spares_have_their_certificates_rotated_too() {
    let (db, _dir) = database().await;
    let mut tx = db.begin().await.unwrap();
    let soon = Some(now() + chrono::Duration::seconds(60));
    for (id, status) in [
        ("allocated", AmphoraStatus::Allocated),
        ("spare", AmphoraStatus::Ready),
        ("booting", AmphoraStatus::Booting),
    ] {
        let mut amphora = Amphora::new(id.into(), status);
        amphora.cert_expiration = soon;
        tx.save_amphora(&amphora).await.unwrap();
    }
    let mut due = tx
        .certificates_to_rotate(Duration::from_secs(3600))
        .await
        .unwrap();
    due.sort();
    assert_eq!(
        due,
        ["allocated", "spare"],
        "a booting spare has no agent to ask yet"
    );
    assert!(tx.claim_certificate_rotation("spare").await.unwrap());
    assert!(!tx.claim_certificate_rotation("spare").await.unwrap());
    assert!(!tx.claim_certificate_rotation("booting").await.unwrap());
    tx.commit().await.unwrap();
}
