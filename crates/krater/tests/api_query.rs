//! List conventions against what Octavia 19 answers: pagination links that lead back
//! to the collection, `page_reverse` and limit edge cases, and the filters the
//! openstack CLI sends.

mod common;

use common::{fault, TestService};
use reqwest::StatusCode;
use serde_json::Value;

/// Three load balancers on the noop provider, oldest first.
async fn three_load_balancers(svc: &TestService) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(svc.active_lb("noop_driver").await);
        // Distinct created_at seconds keep the default order the creation order.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    ids
}

fn ids(body: &Value, collection: &str) -> Vec<String> {
    body[collection]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

fn links(body: &Value, collection: &str) -> Vec<(String, String)> {
    body[format!("{collection}_links")]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let rel = l["rel"].as_str().unwrap().to_string();
            (rel, l["href"].as_str().unwrap().to_string())
        })
        .collect()
}

#[tokio::test]
async fn pagination_links_and_page_reverse_follow_octavia() {
    let svc = TestService::start().await;
    let lbs = three_load_balancers(&svc).await;
    let base = format!("{}/v2/lbaas/loadbalancers", svc.base);
    let link = |rel: &str, query: String| (rel.to_string(), format!("{base}?{query}"));

    let (code, page) = svc.get("/v2/lbaas/loadbalancers?limit=2").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(ids(&page, "loadbalancers"), lbs[..2]);
    assert_eq!(
        links(&page, "loadbalancers"),
        [link("next", format!("limit=2&marker={}", lbs[1]))]
    );

    // The next link is followed as a client does: it must lead to the next page.
    let next = &links(&page, "loadbalancers")[0].1;
    let next_path = next.strip_prefix(&svc.base).unwrap();
    let (code, page) = svc.get(next_path).await;
    assert_eq!(code, StatusCode::OK, "{next}: {page}");
    assert_eq!(ids(&page, "loadbalancers"), lbs[2..]);
    assert_eq!(
        links(&page, "loadbalancers"),
        [link(
            "previous",
            format!("limit=2&marker={}&page_reverse=True", lbs[2])
        )]
    );

    // Backwards from the last: the first items before the marker, in order; previous first.
    let (_, page) = svc
        .get(&format!(
            "/v2/lbaas/loadbalancers?limit=1&marker={}&page_reverse=True",
            lbs[2]
        ))
        .await;
    assert_eq!(ids(&page, "loadbalancers"), lbs[..1]);
    assert_eq!(
        links(&page, "loadbalancers"),
        [
            link(
                "previous",
                format!("limit=1&marker={}&page_reverse=True", lbs[0])
            ),
            link("next", format!("limit=1&marker={}", lbs[0])),
        ]
    );
    // Only the exact text `True` reverses.
    let (_, page) = svc
        .get(&format!(
            "/v2/lbaas/loadbalancers?limit=2&marker={}&page_reverse=true",
            lbs[0]
        ))
        .await;
    assert_eq!(ids(&page, "loadbalancers"), lbs[1..]);

    // No limit: everything, and a next link that says `limit=None`.
    for limit in ["0", "-1", "infinite"] {
        let (_, page) = svc
            .get(&format!(
                "/v2/lbaas/loadbalancers?limit={limit}&sort=name:asc"
            ))
            .await;
        assert_eq!(ids(&page, "loadbalancers").len(), 3);
        assert_eq!(
            links(&page, "loadbalancers"),
            [link(
                "next",
                format!("limit=None&sort=name:asc&marker={}", lbs[2])
            )]
        );
    }
    let (_, page) = svc.get("/v2/lbaas/loadbalancers").await;
    assert!(links(&page, "loadbalancers").is_empty());

    // Every mount point links to itself.
    for prefix in ["/v2.0/lbaas", "/v2", "/v2.0"] {
        let (_, page) = svc.get(&format!("{prefix}/loadbalancers?limit=1")).await;
        assert_eq!(
            links(&page, "loadbalancers")[0].1,
            format!(
                "{}{prefix}/loadbalancers?limit=1&marker={}",
                svc.base, lbs[0]
            )
        );
    }
}

#[tokio::test]
async fn a_host_header_is_never_copied_into_links_unchecked() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("noop_driver").await;
    let response = reqwest::Client::new()
        .get(format!("{}/v2/lbaas/loadbalancers?limit=1", svc.base))
        .header("Host", "evil.example/phish?x=")
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let href = body["loadbalancers_links"][0]["href"].as_str().unwrap();
    assert!(!href.contains("evil"), "{href}");
    assert!(
        href.ends_with(&format!("/v2/lbaas/loadbalancers?limit=1&marker={lb}")),
        "{href}"
    );
}

#[tokio::test]
async fn every_filter_octavia_takes_works() {
    let svc = TestService::start().await;
    // Unknown keys and bad sort keys are refused even while the collection is empty.
    let (code, body) = svc.get("/v2/lbaas/healthmonitors?bogus=1").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        fault("One or more arguments are either duplicate or invalid")
    );
    let (code, _) = svc.get("/v2/lbaas/healthmonitors?sort=name:desc").await;
    assert_eq!(code, StatusCode::OK);

    let lb = svc.active_lb("noop_driver").await;
    let other = svc.active_lb("noop_driver").await;
    let common::HttpStack {
        listener,
        pool,
        hm,
        member,
    } = svc.http_stack(&lb).await;
    let members = format!("pools/{pool}/members");
    let none: &[&str] = &[];
    let cases: Vec<(String, &str, Vec<&str>)> = vec![
        (
            format!("listeners?loadbalancer_id={lb}"),
            "listeners",
            vec![&listener],
        ),
        (
            format!("listeners?load_balancer_id={other}"),
            "listeners",
            none.to_vec(),
        ),
        (
            "listeners?protocol_port=080".into(),
            "listeners",
            vec![&listener],
        ),
        (
            "listeners?enabled=true".into(),
            "listeners",
            vec![&listener],
        ),
        (
            "listeners?admin_state_up=maybe".into(),
            "listeners",
            none.to_vec(),
        ),
        (format!("pools?loadbalancer_id={lb}"), "pools", vec![&pool]),
        (format!("pools?healthmonitor_id={hm}"), "pools", vec![&pool]),
        (
            format!("healthmonitors?pool_id={pool}"),
            "healthmonitors",
            vec![&hm],
        ),
        (
            "healthmonitors?rise_threshold=3".into(),
            "healthmonitors",
            vec![&hm],
        ),
        (
            format!("{members}?pool_id={pool}"),
            "members",
            vec![&member],
        ),
        (
            format!("{members}?ip_address=198.18.2.20"),
            "members",
            vec![&member],
        ),
        (
            format!("{members}?address=198.18.2.21"),
            "members",
            none.to_vec(),
        ),
        (
            "loadbalancers?topology=SINGLE&sort=name".into(),
            "loadbalancers",
            vec![&lb, &other],
        ),
        (
            "loadbalancers?server_group_id=x".into(),
            "loadbalancers",
            none.to_vec(),
        ),
        (
            format!("loadbalancers?id={other}"),
            "loadbalancers",
            vec![&other],
        ),
    ];
    for (query, collection, expected) in cases {
        let (code, body) = svc.get(&format!("/v2/lbaas/{query}")).await;
        assert_eq!(code, StatusCode::OK, "{query}: {body}");
        let mut got = ids(&body, collection);
        got.sort();
        let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(got, expected, "{query}");
        // Attributes used only for filtering are never shown.
        for object in body[collection].as_array().unwrap() {
            for hidden in ["topology", "pool_id", "peer_port"] {
                assert!(object.get(hidden).is_none(), "{query}: {object}");
            }
        }
    }
    for query in [
        "loadbalancers?tenant_id=x".to_string(),
        "loadbalancers?listeners=x".into(),
        "pools?listener_id=x".into(),
        "healthmonitors?pools=x".into(),
        format!("{members}?bogus=1"),
        "listeners?loadbalancers=x".into(),
    ] {
        let (code, body) = svc.get(&format!("/v2/lbaas/{query}")).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(
            body,
            fault("One or more arguments are either duplicate or invalid")
        );
    }
    let (code, body) = svc.get("/v2/octavia/amphorae?project_id=project-1").await;
    assert_eq!(code, StatusCode::OK, "{body}");
}
