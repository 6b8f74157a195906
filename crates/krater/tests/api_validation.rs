//! Every validation rule of load balancers, listeners, pools, members and health
//! monitors: the bad input gets Octavia's status code and fault body, and nothing is
//! written (the visible state is identical before and after each refused request).

mod common;

use common::{fault, TestService};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Ids {
    lb: String,
    listener: String,
    pool: String,
    member: String,
    hm: String,
    subnet: String,
    private: String,
}

/// An ACTIVE load balancer with a listener, a pool, a monitor and a member.
async fn setup(svc: &TestService) -> Ids {
    let lb = svc.active_lb("amphora").await;
    let common::HttpStack {
        listener,
        pool,
        hm,
        member,
    } = svc.http_stack(&lb).await;
    Ids {
        subnet: svc.subnet_id("public-subnet").await,
        private: svc.subnet_id("private-subnet").await,
        lb,
        listener,
        pool,
        member,
        hm,
    }
}

fn fill(template: &str, ids: &Ids) -> String {
    template
        .replace("{lb}", &ids.lb)
        .replace("{listener}", &ids.listener)
        .replace("{pool}", &ids.pool)
        .replace("{member}", &ids.member)
        .replace("{hm}", &ids.hm)
        .replace("{subnet}", &ids.subnet)
        .replace("{private}", &ids.private)
}

const MISSING: &str = "00000000-0000-0000-0000-000000000001";

/// (method, path, body, status, faultstring); `{…}` are replaced by the setup's ids.
fn cases() -> Vec<(Method, &'static str, String, u16, String)> {
    use Method as M;
    let lb = |fields: &str| format!(r#"{{"loadbalancer": {{{fields}}}}}"#);
    let listener = |fields: &str| {
        format!(r#"{{"listener": {{"loadbalancer_id": "{{lb}}", "protocol": "HTTP", {fields}}}}}"#)
    };
    let pool = |fields: &str| format!(r#"{{"pool": {{{fields}}}}}"#);
    let member = |fields: &str| format!(r#"{{"member": {{{fields}}}}}"#);
    let hm = |fields: &str| {
        format!(
            r#"{{"healthmonitor": {{"pool_id": "{{pool}}", "delay": 5, "timeout": 3, "max_retries": 3, {fields}}}}}"#
        )
    };
    let long = "a".repeat(256);
    let s = |x: &str| x.to_string();
    vec![
        // Transport and wrappers.
        (M::POST, "/v2/lbaas/loadbalancers", s("not json"), 400, s("Request is not in valid JSON format")),
        (M::POST, "/v2/lbaas/loadbalancers", s(r#"{"lb": {}}"#), 400, s("Unknown attribute for argument load_balancer: lb")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "foo": 1, "bar": 2"#), 400, s("Unknown attributes for argument load_balancer.loadbalancer: bar, foo")),
        (M::POST, "/v2/lbaas/listeners", s(r#"{"x": {}}"#), 400, s("Unknown attribute for argument listener_: x")),
        (M::POST, "/v2/lbaas/pools", s(r#"{"pool": {"foo": 1}}"#), 400, s("Unknown attribute for argument pool_.pool: foo")),
        (M::POST, "/v2/lbaas/pools/{pool}/members", s(r#"{"member": {"foo": 1}}"#), 400, s("Unknown attribute for argument member_.member: foo")),
        (M::POST, "/v2/lbaas/healthmonitors", s(r#"{"healthmonitor": {"foo": 1}}"#), 400, s("Unknown attribute for argument health_monitor_.healthmonitor: foo")),
        // Load balancer.
        (M::POST, "/v2/lbaas/loadbalancers", s(""), 400, s("Missing argument: \"load_balancer\"")),
        (M::PUT, "/v2/lbaas/listeners/{listener}", s(""), 400, s("Missing argument: \"listener_\"")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": 12"#), 400, s("Invalid input for field/attribute vip_subnet_id. Value: '12'. Value should be UUID format")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "insert_headers": "x""#), 400, s("Invalid input for field/attribute listener_. Value: '{'listener': {'loadbalancer_id': '{lb}', 'protocol': 'HTTP', 'protocol_port': 81, 'insert_headers': 'x'}}'. Value not a valid dict: x")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "sni_container_refs": ["x"]"#), 400, s("Validation failure: Certificate container references are not allowed on HTTP protocol listeners.")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "default_tls_container_ref": "x""#), 400, s("Validation failure: Certificate container references are not allowed on HTTP protocol listeners.")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "protocol": "TERMINATED_HTTPS""#).replace(r#""protocol": "HTTP", "#, ""), 400, s("Validation failure: An SNI or default certificate container reference must be provided for TERMINATED_HTTPS protocol listeners.")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "protocol": "TERMINATED_HTTPS", "sni_container_refs": ["a", "b"]"#).replace(r#""protocol": "HTTP", "#, ""), 400, s("Could not retrieve certificate: ['a', 'b']")),
        (M::PUT, "/v2/lbaas/listeners/{listener}", s(r#"{"listener": {"insert_headers": {"X-Bogus": "1"}}}"#), 400, s("['X-Bogus'] is not a valid option for insert_headers")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(""), 400, s("Validation failure: VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "x""#), 400, s("Invalid input for field/attribute vip_subnet_id. Value: 'x'. Value should be UUID format")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(&format!(r#""vip_subnet_id": "{MISSING}""#)), 400, format!("Subnet {MISSING} not found.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(&format!(r#""vip_network_id": "{MISSING}""#)), 400, format!("Network {MISSING} not found.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "name": 5"#), 400, s("Invalid input for field/attribute name. Value: '5'. Value should be string")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(&format!(r#""vip_subnet_id": "{{subnet}}", "name": "{long}""#)), 400, format!("Invalid input for field/attribute name. Value: '{long}'. Value should have a maximum character requirement of 255")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "tags": [1]"#), 400, s("Invalid input for field/attribute tags. Value: '[1]'. Value should be string")),
        // A fully populated load balancer: the nested objects' own rules, and the graph's.
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": "x""#), 400, s("Invalid input for field/attribute load_balancer. Value: '{'loadbalancer': {'vip_subnet_id': '{subnet}', 'listeners': 'x'}}'. Value not a valid list: x")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "HTTP", "protocol_port": 80, "bogus": 1}]"#), 400, s("Unknown attribute for argument load_balancer.loadbalancer.listeners: bogus")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": "{lb}"}]"#), 400, s("Unknown attribute for argument load_balancer.loadbalancer.listeners: loadbalancer_id")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "HTTP"}]"#), 400, s("Invalid input for field/attribute protocol_port. Value: 'None'. Mandatory field missing.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "HTTP", "protocol_port": 80}, {"protocol": "HTTP", "protocol_port": 80}]"#), 409, s("Another Listener on this Load Balancer is already using protocol HTTP and protocol_port 80")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "HTTP", "protocol_port": 80}, {"protocol": "TCP", "protocol_port": 80}]"#), 409, s("Another Listener on this Load Balancer is already using protocol HTTP and protocol_port 80")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "HTTP", "protocol_port": 80, "insert_headers": {"X-Bogus": "true"}}]"#), 400, s("dict_keys(['X-Bogus']) is not a valid option for insert_headers")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool_id": "00000000-0000-0000-0000-000000000001"}]"#), 404, format!("Pool {MISSING} not found.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}]"#), 400, s("Validation failure: Pools must be named when creating a fully populated loadbalancer.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {"name": "", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}]"#), 400, s("Validation failure: Pools must be named when creating a fully populated loadbalancer.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {"name": "x"}}]"#), 400, s("Validation failure: Pool 'x' was referenced but no full definition was found.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {"name": "x", "protocol": "HTTP"}}]"#), 400, s("Validation failure: Pool definition for 'x' missing required attribute: lb_algorithm")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "bogus": 1}}]"#), 400, s("Unknown attribute for argument load_balancer.loadbalancer.listeners.default_pool: bogus")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "members": [{"address": "198.18.2.30", "protocol_port": 80, "bogus": 1}]}}]"#), 400, s("Unknown attribute for argument load_balancer.loadbalancer.listeners.default_pool.members: bogus")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "listeners": [{"protocol": "UDP", "protocol_port": 80, "default_pool": {"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}]"#), 400, s("Validation failure: The pool protocol 'HTTP' is invalid while the listener protocol is 'UDP'.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "pools": [{"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}, {"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}]"#), 400, s("Validation failure: Pool names must be unique when creating a fully populated loadbalancer.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "pools": [{"name": "a", "lb_algorithm": "ROUND_ROBIN"}]"#), 400, s("Validation failure: Pool definition for 'a' missing required attribute: protocol")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "pools": [{"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "listener_id": "{listener}"}]"#), 400, s("Unknown attribute for argument load_balancer.loadbalancer.pools: listener_id")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "pools": [{"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "members": "x"}]"#), 400, s("Invalid input for field/attribute load_balancer. Value: '{'loadbalancer': {'vip_subnet_id': '{subnet}', 'pools': [{'name': 'a', 'protocol': 'HTTP', 'lb_algorithm': 'ROUND_ROBIN', 'members': 'x'}]}}'. Value not a valid list: x")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "pools": [{"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "members": [{"address": "198.18.2.30"}]}]"#), 400, s("Invalid input for field/attribute protocol_port. Value: 'None'. Mandatory field missing.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "pools": [{"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "members": [{"address": "198.18.2.30", "protocol_port": 80, "pool_id": "{pool}"}]}]"#), 400, s("Unknown attribute for argument load_balancer.loadbalancer.pools.members: pool_id")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "pools": [{"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "members": [{"address": "198.18.2.30", "protocol_port": 80}, {"address": "198.18.2.30", "protocol_port": 80}]}]"#), 409, s("Another member on this pool is already using ip 198.18.2.30 on protocol_port 80")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "pools": [{"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "healthmonitor": {"type": "HTTP", "delay": 5, "timeout": 3}}]"#), 400, s("Invalid input for field/attribute max_retries. Value: 'None'. Mandatory field missing.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "pools": [{"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "healthmonitor": {"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3, "pool_id": "{pool}"}}]"#), 400, s("Unknown attribute for argument load_balancer.loadbalancer.pools.healthmonitor: pool_id")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "pools": [{"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "healthmonitor": {"type": "UDP-CONNECT", "delay": 5, "timeout": 3, "max_retries": 3}}]"#), 400, s("Validation failure: The UDP-CONNECT type is only supported for pools of type UDP/SCTP.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(&format!(r#""vip_subnet_id": "{{subnet}}", "tags": ["{long}"]"#)), 400, format!("Invalid input for field/attribute tags. Value: '['{long}']'. Value should have a maximum character requirement of 255")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "vip_address": "bad""#), 400, s("Invalid input for field/attribute vip_address. Value: 'bad'. Value should be IPv4 or IPv6 format")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "vip_address": "198.18.1.10""#), 409, s("The VIP IP address is already in use: 198.18.1.10")),
        // Additional VIPs: Octavia's checks, then 501 (no amphora binds them yet).
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "additional_vips": [{"ip_address": "198.18.1.9"}]"#), 400, s("Invalid input for field/attribute subnet_id. Value: 'None'. Mandatory field missing.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "additional_vips": [{"subnet_id": "{subnet}", "foo": 1}]"#), 400, s("Unknown attribute for argument load_balancer.loadbalancer.additional_vips: foo")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "additional_vips": [{"subnet_id": "{subnet}"}]"#), 400, s("Validation failure: Duplicate VIP subnet(s) specified. Only one IP can be bound per subnet.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "additional_vips": [{"subnet_id": "{private}"}, {"subnet_id": "{private}"}]"#), 400, s("Validation failure: Duplicate VIP subnet(s) specified. Only one IP can be bound per subnet.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(&format!(r#""vip_subnet_id": "{{subnet}}", "additional_vips": [{{"subnet_id": "{MISSING}"}}]"#)), 400, format!("Validation failure: Subnet {MISSING} not found")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "additional_vips": [{"subnet_id": "{private}"}]"#), 400, s("Validation failure: All VIP subnets must belong to the same network.")),
        (M::PUT, "/v2/lbaas/loadbalancers/00000000-0000-0000-0000-000000000001/failover", s(""), 404, format!("Load Balancer {MISSING} not found.")),
        // A VIP never takes the subnet's gateway, network or broadcast address, nor a reserved one.
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "vip_address": "198.18.1.1""#), 400, s("Validation failure: VIP address 198.18.1.1 is the gateway of subnet {subnet} and cannot be used.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "vip_address": "198.18.1.0""#), 400, s("Validation failure: VIP address 198.18.1.0 is the network address of subnet {subnet} and cannot be used.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "vip_address": "198.18.1.255""#), 400, s("Validation failure: VIP address 198.18.1.255 is the broadcast address of subnet {subnet} and cannot be used.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "vip_address": "169.254.169.254""#), 400, s("The selected VIP address is not allowed in this deployment: 169.254.169.254")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "provider": "nope""#), 400, s("Provider 'nope' is not enabled.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(&format!(r#""vip_subnet_id": "{{subnet}}", "flavor_id": "{MISSING}""#)), 400, s("Validation failure: Invalid flavor_id.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "availability_zone": "az1""#), 400, s("Validation failure: Invalid availability zone.")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "admin_state_up": "maybe""#), 400, s("Invalid input for field/attribute load_balancer. Value: '{'loadbalancer': {'vip_subnet_id': '{subnet}', 'admin_state_up': 'maybe'}}'. Value not an unambiguous boolean: maybe")),
        (M::PUT, "/v2/lbaas/loadbalancers/{lb}", lb(r#""vip_subnet_id": "{subnet}""#), 400, s("Unknown attribute for argument load_balancer.loadbalancer: vip_subnet_id")),
        (M::GET, &*Box::leak(format!("/v2/lbaas/loadbalancers/{MISSING}").into_boxed_str()), s(""), 404, format!("Load Balancer {MISSING} not found.")),
        (M::DELETE, "/v2/lbaas/loadbalancers/{lb}", s(""), 400, s("Validation failure: Cannot delete Load Balancer {lb} - it has children")),
        // Listener.
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "protocol": "HTTPX""#).replace(r#""protocol": "HTTP", "#, ""), 400, s("Invalid input for field/attribute protocol. Value: 'HTTPX'. Value should be one of: HTTP, HTTPS, TCP, TERMINATED_HTTPS, UDP, SCTP, PROMETHEUS")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 0"#), 400, s("Invalid input for field/attribute protocol_port. Value: '0'. Value should be greater or equal to 1")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 65536"#), 400, s("Invalid input for field/attribute protocol_port. Value: '65536'. Value should be lower or equal to 65535")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""name": "x""#), 400, s("Invalid input for field/attribute protocol_port. Value: 'None'. Mandatory field missing.")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 80"#), 409, s("Another Listener on this Load Balancer is already using protocol HTTP and protocol_port 80")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "connection_limit": -2"#), 400, s("Invalid input for field/attribute connection_limit. Value: '-2'. Value should be greater or equal to -1")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "timeout_client_data": -1"#), 400, s("Invalid input for field/attribute timeout_client_data. Value: '-1'. Value should be greater or equal to 0")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "timeout_member_data": 2073600001"#), 400, s("Invalid input for field/attribute timeout_member_data. Value: '2073600001'. Value should be lower or equal to 2073600000")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "insert_headers": {"X-Forwarded-For": "true"}"#).replace("HTTP", "TCP"), 400, s("insert-headers is not a valid option for a TCP protocol listener.")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "insert_headers": {"X-Bogus": "true"}"#), 400, s("dict_keys(['X-Bogus']) is not a valid option for insert_headers")),
        (M::POST, "/v2/lbaas/listeners", listener(&format!(r#""protocol_port": 81, "default_pool_id": "{MISSING}""#)), 404, format!("Pool {MISSING} not found.")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "allowed_cidrs": ["2001:db8::/32"]"#), 400, s("Validation failure: CIDR 2001:db8::/32 IP version incompatible with all VIPs ['198.18.1.10'] IP version.")),
        (M::PUT, "/v2/lbaas/listeners/{listener}", s(r#"{"listener": {"allowed_cidrs": ["2001:db8::/32"]}}"#), 400, s("Validation failure: CIDR 2001:db8::/32 IP version incompatible with all VIPs ['198.18.1.10'] IP version.")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "allowed_cidrs": ["10.0.0.0/33"]"#), 400, s("Invalid input for field/attribute allowed_cidrs. Value: '['10.0.0.0/33']'. Value should be IPv4 or IPv6 CIDR format")),
        (M::POST, "/v2/lbaas/listeners", s(&format!(r#"{{"listener": {{"loadbalancer_id": "{MISSING}", "protocol": "HTTP", "protocol_port": 85}}}}"#)), 404, format!("Load Balancer {MISSING} not found.")),
        // TLS options: stored as given on a create; checked on an update.
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "alpn_protocols": ["h3"]"#), 400, s("Invalid input for field/attribute alpn_protocols. Value: '['h3']'. Value should be a valid ALPN protocol ID")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "alpn_protocols": ["h2", 5]"#), 400, s("Invalid input for field/attribute alpn_protocols. Value: '['h2', 5]'. Value should be a valid ALPN protocol ID")),
        (M::POST, "/v2/lbaas/listeners", listener(&format!(r#""protocol_port": 81, "tls_versions": ["{}"]"#, "a".repeat(33))), 400, format!("Invalid input for field/attribute tls_versions. Value: '['{}']'. Value should have a maximum character requirement of 32", "a".repeat(33))),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "tls_versions": [5]"#), 400, s("Invalid input for field/attribute tls_versions. Value: '[5]'. Value should be string")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "tls_ciphers": 5"#), 400, s("Invalid input for field/attribute tls_ciphers. Value: '5'. Value should be string")),
        (M::POST, "/v2/lbaas/listeners", listener(&format!(r#""protocol_port": 81, "tls_ciphers": "{}""#, "a".repeat(2049))), 400, format!("Invalid input for field/attribute tls_ciphers. Value: '{}'. Value should have a maximum character requirement of 2048", "a".repeat(2049))),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "hsts_max_age": 10"#), 400, s("Validation failure: The HSTS feature can only be used for listeners using the TERMINATED_HTTPS protocol.")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "hsts_preload": true"#), 400, s("Validation failure: HSTS configuration options hsts_include_subdomains and hsts_preload only make sense if hsts_max_age is set as well.")),
        (M::PUT, "/v2/lbaas/listeners/{listener}", s(r#"{"listener": {"tls_versions": ["TLSv9", "SSLv3"]}}"#), 400, s("Validation failure: Invalid TLS versions: TLSv9")),
        (M::PUT, "/v2/lbaas/listeners/{listener}", s(r#"{"listener": {"tls_versions": []}}"#), 400, s("Validation failure: Empty TLS version list. Either specify at least one TLS version or remove this parameter to use the default.")),
        (M::PUT, "/v2/lbaas/listeners/{listener}", s(r#"{"listener": {"alpn_protocols": []}}"#), 400, s("Validation failure: Empty ALPN protocol list. Either specify at least one ALPN protocol or remove this parameter to use the default.")),
        (M::PUT, "/v2/lbaas/listeners/{listener}", s(r#"{"listener": {"hsts_max_age": 5}}"#), 400, s("Validation failure: The HSTS feature can only be used for listeners using the TERMINATED_HTTPS protocol.")),
        (M::PUT, "/v2/lbaas/listeners/{listener}", s(r#"{"listener": {"hsts_include_subdomains": true}}"#), 400, s("Validation failure: Cannot enable hsts_include_subdomains or hsts_preload if hsts_max_age was not set as well.")),
        (M::PUT, "/v2/lbaas/pools/{pool}", s(r#"{"pool": {"tls_versions": ["TLSv9"]}}"#), 400, s("Validation failure: Invalid TLS versions: TLSv9")),
        (M::PUT, "/v2/lbaas/pools/{pool}", s(r#"{"pool": {"alpn_protocols": ["h3"]}}"#), 400, s("Invalid input for field/attribute alpn_protocols. Value: '['h3']'. Value should be a valid ALPN protocol ID")),
        (M::PUT, "/v2/lbaas/pools/{pool}", s(r#"{"pool": {"hsts_preload": true}}"#), 400, s("Unknown attribute for argument pool_.pool: hsts_preload")),
        (M::PUT, "/v2/lbaas/listeners/{listener}", s(r#"{"listener": {"protocol": "TCP"}}"#), 400, s("Unknown attribute for argument listener_.listener: protocol")),
        // Pool.
        (M::POST, "/v2/lbaas/pools", pool(r#""protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN""#), 400, s("Validation failure: Must provide at least one of: loadbalancer_id, listener_id")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "lb_algorithm": "ROUND_ROBIN""#), 400, s("Invalid input for field/attribute protocol. Value: 'None'. Mandatory field missing.")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "RANDOM""#), 400, s("Invalid input for field/attribute lb_algorithm. Value: 'RANDOM'. Value should be one of: ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP, SOURCE_IP_PORT")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "members": [{"address": "198.18.2.30", "protocol_port": 80}]"#), 501, s("Provider 'amphora' does not support a requested action: members in a pool create")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "default_pool": {"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}"#), 501, s("Provider 'amphora' does not support a requested action: default_pool in a listener create")),
        // A nested child of the wrong type is a type error first, as WSME makes it.
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "members": true"#), 400, s("Invalid input for field/attribute pool_. Value: '{'pool': {'loadbalancer_id': '{lb}', 'protocol': 'HTTP', 'lb_algorithm': 'ROUND_ROBIN', 'members': True}}'. Value not a valid list: True")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "members": 0"#), 400, s("Invalid input for field/attribute pool_. Value: '{'pool': {'loadbalancer_id': '{lb}', 'protocol': 'HTTP', 'lb_algorithm': 'ROUND_ROBIN', 'members': 0}}'. Value not a valid list: 0")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "healthmonitor": "x""#), 400, s("Invalid input for field/attribute pool_. Value: '{'pool': {'loadbalancer_id': '{lb}', 'protocol': 'HTTP', 'lb_algorithm': 'ROUND_ROBIN', 'healthmonitor': 'x'}}'. Value should be a dictionary: x")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "default_pool": 0"#), 400, s("Invalid input for field/attribute listener_. Value: '{'listener': {'loadbalancer_id': '{lb}', 'protocol': 'HTTP', 'protocol_port': 81, 'default_pool': 0}}'. Value should be a dictionary: 0")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": 81, "l7policies": "x""#), 400, s("Invalid input for field/attribute listener_. Value: '{'listener': {'loadbalancer_id': '{lb}', 'protocol': 'HTTP', 'protocol_port': 81, 'l7policies': 'x'}}'. Value not a valid list: x")),
        (M::POST, "/v2/lbaas/listeners", listener(r#""protocol_port": "abc""#), 400, s("Invalid input for field/attribute listener_. Value: '{'listener': {'loadbalancer_id': '{lb}', 'protocol': 'HTTP', 'protocol_port': 'abc'}}'. invalid literal for int() with base 10: 'abc'")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "admin_state_up": "maybe""#), 400, s("Invalid input for field/attribute pool_. Value: '{'pool': {'loadbalancer_id': '{lb}', 'protocol': 'HTTP', 'lb_algorithm': 'ROUND_ROBIN', 'admin_state_up': 'maybe'}}'. Value not an unambiguous boolean: maybe")),
        (M::PUT, "/v2/lbaas/pools/{pool}/members", s(r#"{"members": [{"address": "198.18.2.41", "protocol_port": "abc"}]}"#), 400, s("Invalid input for field/attribute members_. Value: '{'members': [{'address': '198.18.2.41', 'protocol_port': 'abc'}]}'. invalid literal for int() with base 10: 'abc'")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "SOURCE_IP_PORT""#), 501, s("Provider 'amphora' does not support a requested option: Amphora provider does not support SOURCE_IP_PORT algorithm.")),
        (M::POST, "/v2/lbaas/pools", pool(r#""listener_id": "{listener}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN""#), 409, s("This listener already has a default pool")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "APP_COOKIE"}"#), 400, s("Validation failure: Field \"cookie_name\" must be specified when using the \"APP_COOKIE\" session persistence type.")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "SOURCE_IP", "cookie_name": "x"}"#), 400, s("Validation failure: Field \"cookie_name\" can only be specified with session persistence of type \"APP_COOKIE\".")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "SCTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "APP_COOKIE", "cookie_name": "a"}"#), 400, s("Validation failure: Cookie names are not supported for UDP/SCTP pools.")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "UDP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "HTTP_COOKIE"}"#), 400, s("Validation failure: Session persistence of type HTTP_COOKIE is not supported for UDP/SCTP protocol pools.")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "UDP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "SOURCE_IP", "cookie_name": "a"}"#), 400, s("Validation failure: session_persistence SOURCE_IP type for UDP and SCTP protocols only accepts: type, persistence_timeout, persistence_granularity.")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "HTTP_COOKIE", "persistence_timeout": 5}"#), 400, s("Validation failure: persistence_timeout and persistence_granularity is only for UDP and SCTP protocol pools.")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "HTTP_COOKIE", "persistence_timeout": -1}"#), 400, s("Validation failure: persistence_timeout and persistence_granularity is only for UDP and SCTP protocol pools.")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"cookie_name": "x"}"#), 400, s("Invalid input for field/attribute type. Value: 'None'. Mandatory field missing.")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "SOURCE_IP", "foo": 1, "bar": 2}"#), 400, s("Unknown attributes for argument pool_.pool.session_persistence: bar, foo")),
        (M::PUT, "/v2/lbaas/pools/{pool}", s(r#"{"pool": {"session_persistence": {"type": "SOURCE_IP", "foo": 1}}}"#), 400, s("Unknown attribute for argument pool_.pool.session_persistence: foo")),
        (M::POST, "/v2/lbaas/loadbalancers", lb(r#""vip_subnet_id": "{subnet}", "pools": [{"name": "a", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "SOURCE_IP", "foo": 1}}]"#), 400, s("Unknown attribute for argument load_balancer.loadbalancer.pools.session_persistence: foo")),
        (M::PUT, "/v2/lbaas/pools/{pool}", s(r#"{"pool": {"session_persistence": {"type": "BAD"}}}"#), 400, s("Invalid input for field/attribute type. Value: 'BAD'. Value should be one of: APP_COOKIE, HTTP_COOKIE, SOURCE_IP")),
        (M::PUT, "/v2/lbaas/pools/{pool}", s(r#"{"pool": {"session_persistence": {"cookie_name": "x"}}}"#), 400, s("Validation failure: Invalid session_persistence provided.")),
        (M::PUT, "/v2/lbaas/pools/{pool}", s(r#"{"pool": {"session_persistence": {"type": "SOURCE_IP", "persistence_timeout": "x"}}}"#), 400, s("Invalid input for field/attribute pool_. Value: '{'pool': {'session_persistence': {'type': 'SOURCE_IP', 'persistence_timeout': 'x'}}}'. invalid literal for int() with base 10: 'x'")),
        (M::POST, "/v2/lbaas/pools", pool(r#""loadbalancer_id": "{lb}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "APP_COOKIE", "cookie_name": "a b"}"#), 400, s("Invalid input for field/attribute cookie_name. Value: 'a b'. Value should match the pattern ^[^\\s,;\\\\]+$")),
        (M::POST, "/v2/lbaas/pools", pool(&format!(r#""listener_id": "{MISSING}", "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN""#)), 404, format!("Listener {MISSING} not found.")),
        // Member.
        (M::POST, "/v2/lbaas/pools/{pool}/members", member(r#""protocol_port": 80"#), 400, s("Invalid input for field/attribute address. Value: 'None'. Mandatory field missing.")),
        (M::POST, "/v2/lbaas/pools/{pool}/members", member(r#""address": "169.254.169.254", "protocol_port": 80"#), 400, s("169.254.169.254 is not a valid option for member address")),
        (M::POST, "/v2/lbaas/pools/{pool}/members", member(r#""address": "198.18.2.20", "protocol_port": 80"#), 409, s("Another member on this pool is already using ip 198.18.2.20 on protocol_port 80")),
        (M::POST, "/v2/lbaas/pools/{pool}/members", member(r#""address": "198.18.2.21", "protocol_port": 80, "weight": 300"#), 400, s("Invalid input for field/attribute weight. Value: '300'. Value should be lower or equal to 256")),
        (M::POST, "/v2/lbaas/pools/{pool}/members", member(r#""address": "198.18.2.21", "protocol_port": 80, "monitor_port": 0"#), 400, s("Invalid input for field/attribute monitor_port. Value: '0'. Value should be greater or equal to 1")),
        (M::POST, "/v2/lbaas/pools/{pool}/members", member(&format!(r#""address": "198.18.2.21", "protocol_port": 80, "subnet_id": "{MISSING}""#)), 400, format!("Subnet {MISSING} not found.")),
        (M::POST, "/v2/lbaas/pools/{pool}/members", member(r#""address": "198.18.2.21", "protocol_port": "abc""#), 400, s("Invalid input for field/attribute member_. Value: '{'member': {'address': '198.18.2.21', 'protocol_port': 'abc'}}'. invalid literal for int() with base 10: 'abc'")),
        (M::PUT, "/v2/lbaas/pools/{pool}/members/{member}", member(r#""address": "198.18.2.22""#), 400, s("Unknown attribute for argument member_.member: address")),
        (M::PUT, "/v2/lbaas/pools/{pool}/members", s(r#"{"members": 5}"#), 400, s("Invalid input for field/attribute members_. Value: '{'members': 5}'. Value not a valid list: 5")),
        (M::PUT, "/v2/lbaas/pools/{pool}/members", s(r#"{"member": []}"#), 400, s("Unknown attribute for argument members_: member")),
        (M::PUT, "/v2/lbaas/pools/{pool}/members", s(r#"{"members": [{"address": "198.18.2.40", "protocol_port": 80, "foo": 1}]}"#), 400, s("Unknown attribute for argument members_.members: foo")),
        (M::PUT, "/v2/lbaas/pools/{pool}/members", s(r#"{"members": [{"address": "198.18.2.40", "protocol_port": 80}, {"address": "198.18.2.40", "protocol_port": 80}]}"#), 409, s("Another member on this pool is already using ip 198.18.2.40 on protocol_port 80")),
        (M::PUT, "/v2/lbaas/pools/{pool}/members", s(r#"{"members": [{"address": "198.18.2.20", "protocol_port": 80}, {"address": "198.18.2.20", "protocol_port": 80}]}"#), 400, s("Validation failure: Member must be updated only once in the same request.")),
        // Health monitor.
        (M::POST, "/v2/lbaas/healthmonitors", hm(r#""type": "HTTP""#), 409, s("This pool already has a health monitor")),
        (M::POST, "/v2/lbaas/healthmonitors", hm(r#""type": "BOGUS""#), 400, s("Invalid input for field/attribute type. Value: 'BOGUS'. Value should be one of: HTTP, HTTPS, PING, TCP, TLS-HELLO, UDP-CONNECT, SCTP")),
        (M::POST, "/v2/lbaas/healthmonitors", hm(r#""type": "TCP", "url_path": "/x""#), 400, s("url_path is not a valid option for health monitors of type TCP")),
        (M::POST, "/v2/lbaas/healthmonitors", hm(r#""type": "TCP", "http_method": "GET""#), 400, s("http_method is not a valid option for health monitors of type TCP")),
        (M::POST, "/v2/lbaas/healthmonitors", hm(r#""type": "HTTP", "url_path": "x y""#), 400, s("Invalid input for field/attribute url_path. Value: 'x y'. Value must be a valid URL Path string")),
        (M::POST, "/v2/lbaas/healthmonitors", hm(r#""type": "HTTP", "expected_codes": "2000""#), 400, s("Invalid input for field/attribute expected_codes. Value: '2000'. Value should match the pattern ^(\\d{3}(\\s*,\\s*\\d{3})*)$|^(\\d{3}-\\d{3})$")),
        (M::POST, "/v2/lbaas/healthmonitors", hm(r#""type": "HTTP", "http_method": "FETCH""#), 400, s("Invalid input for field/attribute http_method. Value: 'FETCH'. Value should be one of: GET, HEAD, POST, PUT, DELETE, TRACE, OPTIONS, CONNECT, PATCH")),
        (M::POST, "/v2/lbaas/healthmonitors", hm(r#""type": "HTTP", "domain_name": "a.com""#), 400, s("Validation failure: 'http_version' must be specified when 'domain_name' is provided.")),
        (M::POST, "/v2/lbaas/healthmonitors", hm(r#""type": "HTTP", "domain_name": "a.com", "http_version": 1.0"#), 400, s("http_version 1.0 is not a valid option for health monitors HTTP 1.1 domain name health check")),
        (M::POST, "/v2/lbaas/healthmonitors", hm(r#""type": "HTTP", "http_version": 2"#), 400, s("Invalid input for field/attribute http_version. Value: '2.0'. Value should be one of: 1.0, 1.1")),
        (M::POST, "/v2/lbaas/healthmonitors", hm(r#""type": "UDP-CONNECT""#), 400, s("Validation failure: The UDP-CONNECT type is only supported for pools of type UDP/SCTP.")),
        (M::POST, "/v2/lbaas/healthmonitors", hm(r#""type": "HTTP", "max_retries_down": 11"#), 400, s("Invalid input for field/attribute max_retries_down. Value: '11'. Value should be lower or equal to 10")),
        (M::POST, "/v2/lbaas/healthmonitors", hm(r#""type": "HTTP", "delay": -1"#).replace(r#""delay": 5, "#, ""), 400, s("Invalid input for field/attribute delay. Value: '-1'. Value should be greater or equal to 0")),
        (M::POST, "/v2/lbaas/healthmonitors", s(r#"{"healthmonitor": {"pool_id": "{pool}", "type": "HTTP", "delay": 5, "timeout": 3}}"#), 400, s("Invalid input for field/attribute max_retries. Value: 'None'. Mandatory field missing.")),
        (M::POST, "/v2/lbaas/healthmonitors", s(&format!(r#"{{"healthmonitor": {{"pool_id": "{MISSING}", "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3}}}}"#)), 404, format!("Pool {MISSING} not found.")),
        (M::PUT, "/v2/lbaas/healthmonitors/{hm}", s(r#"{"healthmonitor": {"delay": null}}"#), 400, s("Invalid input for field/attribute delay. Value: 'None'. Mandatory field missing.")),
        (M::PUT, "/v2/lbaas/healthmonitors/{hm}", s(r#"{"healthmonitor": {"type": "TCP"}}"#), 400, s("Unknown attribute for argument health_monitor_.healthmonitor: type")),
        // A change or delete of a whole collection.
        (M::PUT, "/v2/lbaas/loadbalancers", s("{}"), 400, s("Missing argument: \"id\"")),
        (M::DELETE, "/v2/lbaas/listeners", s(""), 400, s("Missing argument: \"id\"")),
        (M::DELETE, "/v2/lbaas/pools/{pool}/members", s(""), 400, s("Missing argument: \"id\"")),
        (M::PUT, "/v2/lbaas/healthmonitors.json", s("{}"), 400, s("Missing argument: \"id\"")),
        (M::DELETE, "/v2/octavia/amphorae", s(""), 400, s("Missing argument: \"id\"")),
        // Lists.
        (M::GET, "/v2/lbaas/loadbalancers?bogus=1", s(""), 400, s("One or more arguments are either duplicate or invalid")),
        (M::GET, "/v2/lbaas/loadbalancers?sort=foo:asc", s(""), 400, s("Supplied sort key 'foo' is not valid.")),
        (M::GET, "/v2/lbaas/loadbalancers?marker=nope", s(""), 400, s("Supplied pagination marker 'nope' is not valid.")),
    ]
}

#[tokio::test]
async fn bad_input_is_refused_with_octavias_fault_and_writes_nothing() {
    let svc = TestService::start().await;
    let ids = setup(&svc).await;
    let before = svc.snapshot().await;
    let mut failures = Vec::new();
    for (method, path, body, status, message) in cases() {
        let path = fill(path, &ids);
        let body = (!body.is_empty()).then(|| fill(&body, &ids));
        let (code, answer) = svc.call_raw(method.clone(), &path, body.clone()).await;
        let mut expected = fault(&fill(&message, &ids));
        if status >= 500 {
            expected["faultcode"] = json!("Server");
        }
        if code.as_u16() != status || answer != expected {
            failures.push(format!(
                "{method} {path} {body:?}\n  expected {status} {expected}\n  got      {code} {answer}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        svc.snapshot().await,
        before,
        "a refused request changed something"
    );
}

#[tokio::test]
async fn list_errors_use_pecan_bodies() {
    let svc = TestService::start().await;
    for (query, message) in [
        ("limit=x", "Supplied pagination limit 'x' is not valid."),
        (
            "sort_key=name&sort_dir=up",
            "Supplied sort direction 'up' is not valid.",
        ),
    ] {
        let (code, body) = svc.get(&format!("/v2/lbaas/loadbalancers?{query}")).await;
        assert_eq!(code, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"code": 400, "title": "Bad Request", "description": message})
        );
    }
    let (code, body) = svc.get("/v2/lbaas/nothing-here").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"code": 404, "title": "Not Found", "description": ""})
    );
    let (code, _): (StatusCode, Value) = svc.get("/v2/lbaas/loadbalancers").await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test]
async fn nested_children_name_the_provider_of_their_load_balancer() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("noop_driver").await;
    let (code, body) = svc
        .post(
            "/v2/lbaas/pools",
            json!({"pool": {"loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                            "members": [{"address": "198.18.2.30", "protocol_port": 80}]}}),
        )
        .await;
    assert_eq!(code, StatusCode::NOT_IMPLEMENTED);
    let mut expected = fault(
        "Provider 'noop_driver' does not support a requested action: members in a pool create",
    );
    expected["faultcode"] = json!("Server");
    assert_eq!(body, expected);
}

#[tokio::test]
async fn a_project_header_is_checked_as_the_body_project_is() {
    let svc = TestService::start().await;
    let subnet = svc.subnet_id("public-subnet").await;
    let long = "p".repeat(37);
    let response = reqwest::Client::new()
        .post(format!("{}/v2/lbaas/loadbalancers", svc.base))
        .header("X-Project-Id", &long)
        .json(&json!({"loadbalancer": {"vip_subnet_id": subnet}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        fault(&format!(
            "Invalid input for field/attribute project_id. Value: '{long}'. Value should have a maximum character requirement of 36"
        ))
    );
    let (_, lbs) = svc.get("/v2/lbaas/loadbalancers").await;
    assert_eq!(lbs["loadbalancers"], json!([]));
    // A child takes its project from its load balancer in Octavia: the header is not checked.
    let lb = svc.active_lb("noop_driver").await;
    let response = reqwest::Client::new()
        .post(format!("{}/v2/lbaas/listeners", svc.base))
        .header("X-Project-Id", &long)
        .json(
            &json!({"listener": {"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 80}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn routing_answers_as_octavia() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("noop_driver").await;
    let pecan = |code: u16, title: &str, description: &str| json!({"code": code, "title": title, "description": description});
    let missing_pool = format!("Pool {MISSING} not found.");
    let rows = [
        (
            Method::PATCH,
            format!("/v2/lbaas/loadbalancers/{lb}"),
            405,
            pecan(405, "Method Not Allowed", ""),
        ),
        (
            Method::PATCH,
            "/v2/lbaas/loadbalancers".into(),
            405,
            pecan(405, "Method Not Allowed", ""),
        ),
        (
            Method::GET,
            format!("/v2/lbaas/loadbalancers/{lb}/"),
            200,
            svc.get(&format!("/v2/lbaas/loadbalancers/{lb}")).await.1,
        ),
        (
            Method::PUT,
            "/v2/lbaas/providers".into(),
            405,
            pecan(405, "Method Not Allowed", ""),
        ),
        (
            Method::GET,
            format!("/v2/lbaas/pools/{MISSING}/members"),
            404,
            pecan(404, "Bad Request", &missing_pool),
        ),
        (
            Method::POST,
            format!("/v2/lbaas/pools/{MISSING}/members"),
            404,
            pecan(404, "Bad Request", &missing_pool),
        ),
        (
            Method::PUT,
            format!("/v2/lbaas/pools/{MISSING}/members"),
            404,
            pecan(404, "Bad Request", &missing_pool),
        ),
        (
            Method::DELETE,
            format!("/v2/lbaas/pools/{MISSING}/members/{MISSING}"),
            404,
            pecan(404, "Bad Request", &missing_pool),
        ),
    ];
    for (method, path, status, expected) in rows {
        let body = matches!(method, Method::POST | Method::PUT).then(|| "{}".to_string());
        let (code, answer) = svc.call_raw(method.clone(), &path, body).await;
        assert_eq!(
            (code.as_u16(), &answer),
            (status, &expected),
            "{method} {path}"
        );
    }
    // `.json` is accepted on any path, and links keep it as Octavia's do.
    let (code, body) = svc.get(&format!("/v2/lbaas/loadbalancers/{lb}.json")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["loadbalancer"]["id"], json!(lb));
    let (code, body) = svc.get("/v2/lbaas/loadbalancers.json?limit=1").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(
        body["loadbalancers_links"][0]["href"],
        json!(format!(
            "{}/v2/lbaas/loadbalancers.json?limit=1&marker={lb}",
            svc.base
        ))
    );
}
