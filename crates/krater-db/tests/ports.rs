//! Address allocation: one statement takes the first free address of a pool.

use krater_db::{Db, PortRequest};
use std::net::Ipv4Addr;

fn request(device: &str) -> PortRequest<'_> {
    PortRequest {
        network_id: "net",
        subnet_id: "sub",
        device_owner: "test",
        device_id: device,
        name: device,
    }
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

#[tokio::test]
async fn ports_take_the_first_free_address_until_the_pool_is_exhausted() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&krater_db::test_support::database_url(dir.path()).await)
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    let pool = || ip("10.0.0.254")..=ip("10.0.1.2");
    let excluded = [ip("10.0.0.255"), ip("10.0.1.0")];
    let mut taken = Vec::new();
    for device in ["a", "b", "c"] {
        let port = tx
            .allocate_port(request(device), pool(), &excluded)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(port.device_id, device);
        taken.push(port);
    }
    let addresses: Vec<&str> = taken.iter().map(|p| p.ip_address.as_str()).collect();
    assert_eq!(addresses, ["10.0.0.254", "10.0.1.1", "10.0.1.2"]);
    assert!(tx
        .allocate_port(request("d"), pool(), &excluded)
        .await
        .unwrap()
        .is_none());
    // A released address is the next one taken; one asked for is taken only once.
    tx.delete_port(&taken[1].id).await.unwrap();
    let again = tx.allocate_port(request("e"), pool(), &excluded).await;
    assert_eq!(again.unwrap().unwrap().ip_address, "10.0.1.1");
    let exact = || ip("10.0.0.254")..=ip("10.0.0.254");
    assert!(tx
        .allocate_port(request("f"), exact(), &[])
        .await
        .unwrap()
        .is_none());
    tx.delete_port(&taken[0].id).await.unwrap();
    let exact_port = tx.allocate_port(request("f"), exact(), &[]).await;
    assert_eq!(exact_port.unwrap().unwrap().ip_address, "10.0.0.254");
    assert_eq!(tx.ports().await.unwrap().len(), 3);
}
