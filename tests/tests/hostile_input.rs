//! Hostile input against every role (master, agent, Marathon) on loopback: oversized bodies (413), deeply nested
//! JSON and oversized strings, huge RecordIO length prefixes on the scheduler API and the agent link, bad percent
//! escapes and absurd query strings, garbage and oversized headers (400/431), an invalid Marathon app (422). Each
//! role must answer with the upstream-like status and keep serving.

use integration_tests::{get_json, wait_for, ScratchDir, ZooKeeper};
use std::io::{Read, Write};
use std::time::Duration;

/// Sends raw bytes as one HTTP/1.1 exchange and returns the status code and body of the answer (the request
/// must say `Connection: close`).
fn raw(port: u16, request: &[u8]) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    stream.write_all(request).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// A request with a body and the given extra header lines.
fn request(method: &str, target: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Headers declaring a body larger than `limit` (none is sent: the role must refuse from the header alone).
fn declared_too_large(method: &str, target: &str, limit: u64) -> Vec<u8> {
    format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        limit + 1
    )
    .into_bytes()
}

/// Input every role must refuse with 400/431 whatever the path: bad escapes, absurd targets, garbage headers.
fn check_target_and_headers(port: u16, path: &str) {
    let (status, _) = raw(port, &request("GET", &format!("{path}?jsonp=%zz"), "", b""));
    assert_eq!(status, 400, "bad percent escape on {path}");
    let (status, _) = raw(port, &request("GET", &format!("{path}?x=%FF%FE"), "", b""));
    assert_eq!(status, 400, "escape decoding to invalid UTF-8 on {path}");
    let (status, _) = raw(port, &request("GET", &format!("{path}?x={}", "a".repeat(20_000)), "", b""));
    assert_eq!(status, 400, "absurd query string on {path}");
    let (status, _) = raw(port, &request("GET", &format!("{path}{}", "/x".repeat(5_000)), "", b""));
    assert_eq!(status, 400, "absurd path on {path}");
    let (status, _) = raw(port, &request("GET", path, "this is not a header\r\n", b""));
    assert_eq!(status, 400, "header line without a colon on {path}");
    let mut garbage = request("GET", path, "Content-Type: text/", b"");
    let at = garbage.len() - 2;
    garbage.splice(at..at, [0xff, 0xfe, b'\r', b'\n']);
    let (status, _) = raw(port, &garbage);
    assert_eq!(status, 400, "non-text Content-Type on {path}");
    let big: String = (0..20).map(|i| format!("X-Big-{i}: {}\r\n", "v".repeat(4000))).collect();
    let (status, _) = raw(port, &request("GET", path, &big, b""));
    assert_eq!(status, 431, "80 KB of headers on {path}");
    let (status, _) = raw(port, &request("GET", path, "Content-Length: 12abc\r\n", b""));
    assert_eq!(status, 400, "bad Content-Length on {path}");
}

fn deep_json(levels: usize) -> Vec<u8> {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels)).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_refuses_hostile_input_and_keeps_serving() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("hostile-logs");
    let work = ScratchDir::new("hostile-agent");
    let zk_mesos = zk.url("/mesos");
    let (_master, master) = integration_tests::start_leading_master(Some(&zk_mesos), &[], &logs).await;
    let master_port: u16 = master.rsplit(':').next().and_then(|p| p.parse().ok()).expect("master port");
    let (_agent, agent_port) =
        integration_tests::start_agent("agent", &zk_mesos, "cpus:1;mem:256;ports:[31000-31099]", &work, &logs);
    let (_marathon, marathon_port) =
        integration_tests::start_marathon("marathon", &zk_mesos, &zk.url("/marathon"), &[], false, &logs).await;
    wait_for(Duration::from_secs(30), "the agent to register", || {
        let url = format!("http://{master}/master/slaves");
        async move { get_json(&url).await.filter(|s| s["slaves"].as_array().is_some_and(|a| !a.is_empty())) }
    })
    .await;
    wait_for(Duration::from_secs(30), "marathon to register", || {
        let url = format!("http://127.0.0.1:{marathon_port}/v2/info");
        async move { get_json(&url).await.filter(|i| i["frameworkId"].is_string()) }
    })
    .await;

    // The master: 16 MiB bodies, bounded JSON on the scheduler API, the operator API and the agent link.
    let json = "Content-Type: application/json\r\nAccept: application/json\r\n";
    let (status, body) = raw(master_port, &declared_too_large("POST", "/api/v1/scheduler", 16 * 1024 * 1024));
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("larger than the limit"), "{body}");
    for path in ["/api/v1/scheduler", "/api/v1", common::agent_link::PATH] {
        let (status, body) = raw(master_port, &request("POST", path, json, &deep_json(100_000)));
        assert_eq!(status, 400, "deep JSON on {path}: {body}");
        assert!(body.contains("nesting deeper"), "{body}");
        let (status, body) = raw(master_port, &request("POST", path, json, b"18446744073709551615\n{\"type\":"));
        assert_eq!(status, 400, "RecordIO frame with a huge length on {path}: {body}");
        let long = format!("{{\"type\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
        let (status, body) = raw(master_port, &request("POST", path, json, long.as_bytes()));
        assert_eq!(status, 400, "2 MiB string on {path}: {body}");
    }
    check_target_and_headers(master_port, "/master/state");

    // The agent: 1 MiB bodies.
    let (status, _) = raw(agent_port, &declared_too_large("POST", "/state", 1024 * 1024));
    assert_eq!(status, 413);
    check_target_and_headers(agent_port, "/state");

    // Marathon: 8 MiB bodies, bounded JSON on apps and groups, validation errors as 422.
    let (status, body) = raw(marathon_port, &declared_too_large("POST", "/v2/apps", 8 * 1024 * 1024));
    assert_eq!(status, 413, "{body}");
    let message: serde_json::Value = serde_json::from_str(&body).expect("JSON error body");
    assert!(message["message"].as_str().is_some_and(|m| m.contains("larger than the limit")), "{body}");
    for (method, path) in [("POST", "/v2/apps"), ("PUT", "/v2/apps/x"), ("POST", "/v2/groups"), ("PUT", "/v2/groups")] {
        let (status, body) = raw(marathon_port, &request(method, path, json, &deep_json(100_000)));
        assert_eq!(status, 400, "deep JSON on {method} {path}: {body}");
        assert!(body.contains("Invalid JSON"), "{body}");
    }
    let long = format!("{{\"id\":\"/big\",\"cmd\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let (status, body) = raw(marathon_port, &request("POST", "/v2/apps", json, long.as_bytes()));
    assert_eq!(status, 400, "2 MiB cmd: {body}");
    let (status, body) =
        raw(marathon_port, &request("POST", "/v2/apps", json, br#"{"id":"/Bad_Id!","cmd":"sleep 1","cpus":-1}"#));
    assert_eq!(status, 422, "{body}");
    check_target_and_headers(marathon_port, "/v2/apps");

    // Every role still serves.
    assert!(get_json(&format!("http://{master}/master/state")).await.is_some_and(|s| s["activated_slaves"] == 1.0));
    assert!(get_json(&format!("http://127.0.0.1:{agent_port}/state")).await.is_some_and(|s| s["id"].is_string()));
    let apps = get_json(&format!("http://127.0.0.1:{marathon_port}/v2/apps")).await.expect("marathon serves");
    assert_eq!(apps["apps"], serde_json::json!([]));
}
