//! Two masters against one real ZooKeeper: exactly one leads, the standby redirects, a `kill -9` of the leader
//! hands leadership over within the session timeout, a SIGTERM at once, and the group's znodes look like
//! upstream's to a third-party client (ZooKeeper's own zkCli).

use integration_tests::{binary, get_json, wait_for, Process, ScratchDir, ZooKeeper};
use std::process::Command;
use std::time::{Duration, Instant};

const SESSION_TIMEOUT: Duration = Duration::from_secs(2);

fn start_master(name: &str, zk: &ZooKeeper, port: u16, logs: &ScratchDir) -> Process {
    start_master_with_session(name, zk, port, logs, "2secs")
}

fn start_master_with_session(name: &str, zk: &ZooKeeper, port: u16, logs: &ScratchDir, session: &str) -> Process {
    let port_text = port.to_string();
    let zk_url = zk.url("/mesos");
    Process::start(
        name,
        &binary("mesos-master"),
        &[],
        &[
            ("MESOS_ZK", &zk_url),
            ("MESOS_IP", "127.0.0.1"),
            ("MESOS_HOSTNAME", "127.0.0.1"),
            ("MESOS_PORT", &port_text),
            ("MESOS_REGISTRY", "in_memory"),
            ("MESOS_ZK_SESSION_TIMEOUT", session),
        ],
        logs.path(),
    )
}

async fn elected(port: u16) -> Option<bool> {
    let snapshot = get_json(&format!("http://127.0.0.1:{port}/metrics/snapshot")).await?;
    Some(snapshot["master/elected"].as_f64()? == 1.0)
}

fn zk_cli(zk: &ZooKeeper, command: &str) -> String {
    let output = Command::new("/usr/share/zookeeper/bin/zkCli.sh")
        .args(["-server", &format!("127.0.0.1:{}", zk.port)])
        .args(command.split_whitespace())
        .output()
        .expect("zkCli.sh runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn one_master_leads_and_a_standby_takes_over_after_kill_9() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("election");
    let (port_a, port_b) = (integration_tests::free_port(), integration_tests::free_port());
    let mut a = start_master("master-a", &zk, port_a, &logs);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut b = start_master("master-b", &zk, port_b, &logs);

    let (leader_port, standby_port) = wait_for(Duration::from_secs(20), "exactly one leader", || async move {
        match (elected(port_a).await?, elected(port_b).await?) {
            (true, false) => Some((port_a, port_b)),
            (false, true) => Some((port_b, port_a)),
            _ => None,
        }
    })
    .await;

    // The standby redirects leader-only endpoints to the leader, path and query kept.
    // (It answers 503 "No leader elected" until it has read the leader's MasterInfo.)
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let state_url = format!("http://127.0.0.1:{standby_port}/master/state?jsonp=x");
    let location = wait_for(Duration::from_secs(10), "a 307 from the standby", || {
        let (client, url) = (client.clone(), state_url.clone());
        async move {
            let response = client.get(url).send().await.ok()?;
            (response.status() == 307).then(|| response.headers()["location"].to_str().unwrap_or_default().to_string())
        }
    })
    .await;
    assert_eq!(location, format!("//127.0.0.1:{leader_port}/master/state?jsonp=x"));

    // A third-party client sees upstream's layout: ephemeral json.info_<10 digits> members with MasterInfo JSON
    // (beside them, as upstream's `log_replicas`, may sit the durable registry).
    let listing = zk_cli(&zk, "ls /mesos");
    let members: Vec<String> = listing
        .lines()
        .filter(|l| l.starts_with('['))
        .flat_map(|l| l.trim_matches(|c| c == '[' || c == ']').split(", ").map(str::to_string).collect::<Vec<_>>())
        .filter(|m| m.starts_with("json.info_"))
        .collect();
    assert_eq!(members.len(), 2, "members: {listing}");
    for member in &members {
        let digits = member.strip_prefix("json.info_").expect("json.info_ prefix");
        assert_eq!(digits.len(), 10);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        let data = zk_cli(&zk, &format!("get -s /mesos/{member}"));
        let json_line = data.lines().find(|l| l.starts_with('{')).expect("JSON data");
        let info: serde_json::Value = serde_json::from_str(json_line).unwrap();
        for key in ["id", "ip", "port", "pid", "hostname", "version", "address"] {
            assert!(info.get(key).is_some(), "{key} missing in {info}");
        }
        assert_eq!(info["ip"], 16777343, "127.0.0.1 as a network-order uint32");
        assert!(info["pid"].as_str().unwrap().starts_with("master@127.0.0.1:"));
        for key in ["hostname", "ip", "port"] {
            assert!(info["address"].get(key).is_some());
        }
        let owner = data.lines().find(|l| l.starts_with("ephemeralOwner")).expect("stat output");
        assert!(!owner.ends_with("= 0x0"), "ephemeral: {owner}");
    }

    // kill -9 the leader: the standby leads within the session timeout + 2 s.
    let killed_at = Instant::now();
    if leader_port == port_a {
        a.kill()
    } else {
        b.kill()
    }
    wait_for(SESSION_TIMEOUT + Duration::from_secs(2), "the standby to take over", || async move {
        elected(standby_port).await?.then_some(())
    })
    .await;
    eprintln!("failover took {:?}", killed_at.elapsed());
}

#[tokio::test]
async fn a_leader_stopped_with_sigterm_leaves_the_group_so_the_standby_leads_at_once() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("election-sigterm");
    let (port_a, port_b) = (integration_tests::free_port(), integration_tests::free_port());
    // Sessions (10 s: the test ZooKeeper's maximum) twice the wait below: only leaving the group explains a
    // handover in time.
    let mut a = start_master_with_session("master-a", &zk, port_a, &logs, "10secs");
    wait_for(Duration::from_secs(20), "master-a to lead", || async move { elected(port_a).await?.then_some(()) }).await;
    let _b = start_master_with_session("master-b", &zk, port_b, &logs, "10secs");
    wait_for(
        Duration::from_secs(20),
        "master-b to stand by",
        || async move { (!elected(port_b).await?).then_some(()) },
    )
    .await;

    let status = a.terminate(Duration::from_secs(10)).expect("the leader exits on SIGTERM");
    assert!(status.success(), "exit status {status}");
    assert!(a.output().contains("left the election group"), "{}", a.output());
    wait_for(Duration::from_secs(5), "master-b to lead", || async move { elected(port_b).await?.then_some(()) }).await;
}
