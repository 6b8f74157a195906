//! The stale-amphora watch against a real database (SQLite, or PostgreSQL: see
//! `krater_db::test_support`): a silent amphora is failed over once however many
//! health managers look, a busy load balancer is left to its flow, and the storm guard
//! stops failovers when many amphorae go silent at once, until they are heard again.

mod support;

use krater_db::Db;
use krater_domain::*;
use krater_health_manager::{scan, Scan, Watch};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_millis(300);

fn watch(threshold: usize) -> Watch {
    Watch {
        heartbeat_timeout: TIMEOUT,
        check_interval: Duration::from_millis(50),
        failover_threshold: threshold,
    }
}

async fn database(count: usize) -> (Db, tempfile::TempDir) {
    support::load_balancers(count).await
}

async fn heard(db: &Db, amphora: &str) {
    let mut tx = db.begin().await.unwrap();
    tx.record_heartbeat(amphora).await.unwrap();
    tx.commit().await.unwrap();
}

async fn lb_status(db: &Db, lb: &str) -> ProvisioningStatus {
    let mut tx = db.read().await.unwrap();
    tx.load_balancer(lb)
        .await
        .unwrap()
        .unwrap()
        .provisioning_status
}

async fn amphora_status(db: &Db, amphora: &str) -> AmphoraStatus {
    let mut tx = db.read().await.unwrap();
    tx.amphora(amphora).await.unwrap().unwrap().status
}

async fn failover_jobs(db: &Db) -> Vec<flow::Flow> {
    let mut tx = db.read().await.unwrap();
    tx.open_flows().await.unwrap()
}

#[tokio::test]
async fn a_silent_amphora_is_failed_over_once_by_two_health_managers() {
    let (db, _dir) = database(2).await;
    assert_eq!(
        scan(&db, &watch(5)).await.unwrap(),
        Scan::Quiet,
        "nothing stale yet"
    );
    // amp-1 keeps talking, amp-0 falls silent.
    for _ in 0..4 {
        tokio::time::sleep(TIMEOUT / 3).await;
        heard(&db, "amp-1").await;
    }
    // Two health managers look at the same moment.
    let (first, second) = (watch(5), watch(5));
    let (a, b) = tokio::join!(scan(&db, &first), scan(&db, &second));
    let started: Vec<String> = [a.unwrap(), b.unwrap()]
        .into_iter()
        .flat_map(|scan| match scan {
            Scan::FailedOver(ids) => ids,
            // It looked after the other had claimed it.
            Scan::Quiet => vec![],
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(started, ["amp-0"], "failed over exactly once");
    assert_eq!(
        failover_jobs(&db).await,
        [flow::Flow::FailoverAmphora {
            lb_id: "lb-0".into(),
            amphora_id: "amp-0".into()
        }]
    );
    assert_eq!(
        lb_status(&db, "lb-0").await,
        ProvisioningStatus::PendingUpdate
    );
    assert_eq!(lb_status(&db, "lb-1").await, ProvisioningStatus::Active);
    // Claimed: later looks leave it to its flow.
    assert_eq!(
        scan(&db, &watch(5)).await.unwrap(),
        Scan::Quiet,
        "a claimed amphora is not stale again"
    );
}

#[tokio::test]
async fn an_amphora_of_a_busy_load_balancer_is_left_to_its_flow() {
    let (db, _dir) = database(1).await;
    let mut tx = db.begin().await.unwrap();
    tx.lock(krater_db::Lock::Update(
        krater_db::Table::LoadBalancer,
        "lb-0",
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    tokio::time::sleep(TIMEOUT + TIMEOUT / 2).await;
    assert_eq!(
        scan(&db, &watch(5)).await.unwrap(),
        Scan::FailedOver(vec![])
    );
    assert!(failover_jobs(&db).await.is_empty());
    // Still watched: once the flow is done it is failed over.
    let mut tx = db.begin().await.unwrap();
    tx.set_provisioning_status(
        krater_db::Table::LoadBalancer,
        "lb-0",
        ProvisioningStatus::Active,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        scan(&db, &watch(5)).await.unwrap(),
        Scan::FailedOver(vec!["amp-0".into()])
    );
}

#[tokio::test]
async fn the_storm_guard_fails_none_over_until_they_are_heard_again() {
    let (db, _dir) = database(3).await;
    tokio::time::sleep(TIMEOUT + TIMEOUT / 2).await;
    let ids: Vec<String> = (0..3).map(|i| format!("amp-{i}")).collect();
    assert_eq!(
        scan(&db, &watch(2)).await.unwrap(),
        Scan::Stopped(ids.clone())
    );
    for id in &ids {
        assert_eq!(
            amphora_status(&db, id).await,
            AmphoraStatus::FailoverStopped
        );
    }
    assert!(failover_jobs(&db).await.is_empty());
    for i in 0..3 {
        assert_eq!(
            lb_status(&db, &format!("lb-{i}")).await,
            ProvisioningStatus::Active
        );
    }

    // Heartbeats return, but one amphora stays silent: the storm is over, and it is
    // watched again from now, since it may just be the last to come back.
    heard(&db, "amp-0").await;
    heard(&db, "amp-1").await;
    assert_eq!(amphora_status(&db, "amp-0").await, AmphoraStatus::Allocated);
    assert_eq!(amphora_status(&db, "amp-1").await, AmphoraStatus::Allocated);
    assert_eq!(
        scan(&db, &watch(2)).await.unwrap(),
        Scan::FailedOver(vec![])
    );
    assert_eq!(amphora_status(&db, "amp-2").await, AmphoraStatus::Allocated);
    assert!(failover_jobs(&db).await.is_empty());
    // Silent a whole timeout more: it alone is failed over.
    for _ in 0..4 {
        tokio::time::sleep(TIMEOUT / 3).await;
        heard(&db, "amp-0").await;
        heard(&db, "amp-1").await;
    }
    assert_eq!(
        scan(&db, &watch(2)).await.unwrap(),
        Scan::FailedOver(vec!["amp-2".into()])
    );
}

#[tokio::test]
async fn amphorae_going_silent_together_are_one_storm_though_not_stale_in_one_look() {
    let (db, _dir) = database(2).await;
    // Their last heartbeats were a little apart: amp-0 reaches the timeout while
    // amp-1 has been silent for more than half of it only.
    tokio::time::sleep(TIMEOUT * 2 / 5).await;
    heard(&db, "amp-1").await;
    tokio::time::sleep(TIMEOUT * 7 / 10).await;
    assert_eq!(
        scan(&db, &watch(1)).await.unwrap(),
        Scan::Stopped(vec!["amp-0".into()]),
        "amp-0 is not failed over alone"
    );
    assert!(failover_jobs(&db).await.is_empty());
    assert_eq!(
        amphora_status(&db, "amp-0").await,
        AmphoraStatus::FailoverStopped
    );
    tokio::time::sleep(TIMEOUT).await;
    assert_eq!(
        scan(&db, &watch(1)).await.unwrap(),
        Scan::Stopped(vec!["amp-0".into(), "amp-1".into()])
    );
}

#[tokio::test]
async fn a_failover_still_running_counts_toward_the_storm() {
    let (db, _dir) = database(2).await;
    heard(&db, "amp-1").await;
    tokio::time::sleep(TIMEOUT + TIMEOUT / 10).await;
    heard(&db, "amp-1").await;
    assert_eq!(
        scan(&db, &watch(1)).await.unwrap(),
        Scan::FailedOver(vec!["amp-0".into()])
    );
    // amp-1 goes silent while amp-0's failover runs.
    tokio::time::sleep(TIMEOUT + TIMEOUT / 10).await;
    assert_eq!(
        scan(&db, &watch(1)).await.unwrap(),
        Scan::Stopped(vec!["amp-1".into()])
    );
}
