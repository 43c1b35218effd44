//! The durable registry (`--registry=replicated_log`): two masters on a real ZooKeeper, `kill -9` of the leader,
//! and the new leader recovering admitted agents and frameworks (agents re-register, frameworks re-subscribe
//! with their ids, agents that do not come back are marked unreachable and re-admitted when they do);
//! `--quorum`; 307 from a standby; and a standalone master recovering `<work_dir>/registry.json` after a restart.

use integration_tests::hollow::HollowAgent;
use integration_tests::scheduler::{framework_info, task, TestScheduler};
use integration_tests::{binary, free_port, get_json, wait_for, wait_for_state, Process, ScratchDir, ZooKeeper};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// Starts a master on `port` with the durable registry; its work dir is `<work>/<dir>`.
fn start_master(
    name: &str,
    port: u16,
    zk: Option<&ZooKeeper>,
    quorum: &str,
    (work, dir): (&ScratchDir, &str),
    logs: &ScratchDir,
) -> Process {
    let port_text = port.to_string();
    let work_dir = work.path().join(dir).display().to_string();
    let zk_url = zk.map(|zk| zk.url("/mesos"));
    let mut env = vec![
        ("MESOS_IP", "127.0.0.1"),
        ("MESOS_HOSTNAME", "127.0.0.1"),
        ("MESOS_PORT", port_text.as_str()),
        ("MESOS_REGISTRY", "replicated_log"),
        ("MESOS_WORK_DIR", work_dir.as_str()),
        ("MESOS_QUORUM", quorum),
        ("MESOS_ZK_SESSION_TIMEOUT", "2secs"),
        ("MESOS_AGENT_REREGISTER_TIMEOUT", "4secs"),
        ("MESOS_ALLOCATION_INTERVAL", "100ms"),
    ];
    if let Some(url) = &zk_url {
        env.push(("MESOS_ZK", url.as_str()));
    }
    Process::start(name, &binary("mesos-master"), &[], &env, logs.path())
}

async fn elected(port: u16) -> Option<bool> {
    let snapshot = get_json(&format!("http://127.0.0.1:{port}/metrics/snapshot")).await?;
    Some(snapshot["master/elected"].as_f64()? == 1.0)
}

/// Collects offers until every agent in `agents` has been offered; returns one offer per agent id.
async fn offers_by_agent(scheduler: &mut TestScheduler, agents: &[&str]) -> BTreeMap<String, Value> {
    let mut by_agent = BTreeMap::new();
    while !agents.iter().all(|a| by_agent.contains_key(*a)) {
        for offer in scheduler.offers(SECS(10)).await {
            by_agent.insert(offer["agent_id"]["value"].as_str().unwrap().to_string(), offer);
        }
    }
    by_agent
}

async fn run_task(scheduler: &mut TestScheduler, offer: &Value, task_id: &str) {
    assert_eq!(
        scheduler.launch(&[&offer["id"]], vec![task(offer, task_id, 0.5, 64.0, "sleep 1000")], Some(0.0)).await,
        202
    );
    for state in ["TASK_STARTING", "TASK_RUNNING"] {
        let status = scheduler.update(task_id, SECS(10)).await;
        assert_eq!(status["state"], state);
        assert_eq!(scheduler.acknowledge(&status).await, 202);
    }
}

/// Waits until the children of `path` are `expected` (sorted); the registry is written in the background.
async fn expect_znodes(zk: &ZooKeeper, path: &str, expected: &[String]) {
    let client = zookeeper_client::Client::connect(&format!("127.0.0.1:{}", zk.port)).await.expect("zk client");
    let mut last = Vec::new();
    for _ in 0..50 {
        last = client.list_children(path).await.unwrap_or_default();
        last.sort();
        if last == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} has {last:?}, expected {expected:?}");
}

#[tokio::test]
async fn leader_kill_9_loses_no_agents_frameworks_or_tasks() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("failover-logs");
    let work = ScratchDir::new("failover-work");
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = start_master("master-a", port_a, Some(&zk), "1", (&work, "a"), &logs);
    let mut b = start_master("master-b", port_b, Some(&zk), "1", (&work, "b"), &logs);
    let (leader, standby) = wait_for(SECS(20), "exactly one leader", || async move {
        match (elected(port_a).await?, elected(port_b).await?) {
            (true, false) => Some((port_a, port_b)),
            (false, true) => Some((port_b, port_a)),
            _ => None,
        }
    })
    .await;
    let masters = vec![format!("127.0.0.1:{port_a}"), format!("127.0.0.1:{port_b}")];
    let standby_address = format!("127.0.0.1:{standby}");

    // A standby redirects scheduler calls to the leader (once it has read who leads: 503 until then).
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let url = format!("http://{standby_address}/api/v1/scheduler");
    let location = wait_for(SECS(10), "the standby to redirect", || async {
        let response = client.post(&url).body("{}").send().await.ok()?;
        (response.status() == 307).then(|| response.headers()["location"].to_str().unwrap_or_default().to_string())
    })
    .await;
    assert_eq!(location, format!("//127.0.0.1:{leader}/api/v1/scheduler"));

    let stays = HollowAgent::start(&masters, "cpus:2;mem:512");
    let idle = HollowAgent::start(&masters, "cpus:2;mem:512");
    let leaves = HollowAgent::start(&masters, "cpus:2;mem:512");
    let stays_id = stays.registered(1, SECS(10)).await;
    let idle_id = idle.registered(1, SECS(10)).await;
    let leaves_id = leaves.registered(1, SECS(10)).await;

    // The scheduler reaches the leader through the standby's redirect.
    let info = framework_info("survivor", 3600.0, &[]);
    let mut scheduler = TestScheduler::subscribe(&standby_address, info.clone()).await.unwrap();
    let framework_id = scheduler.framework_id.clone();
    let offers = offers_by_agent(&mut scheduler, &[&stays_id, &idle_id, &leaves_id]).await;
    run_task(&mut scheduler, &offers[&stays_id], "t-stays").await;
    run_task(&mut scheduler, &offers[&leaves_id], "t-leaves").await;

    // The registry is in ZooKeeper, one znode per entry.
    let mut admitted = vec![stays_id.clone(), idle_id.clone(), leaves_id.clone()];
    admitted.sort();
    expect_znodes(&zk, "/mesos/registry/agents", &admitted).await;
    expect_znodes(&zk, "/mesos/registry/frameworks", std::slice::from_ref(&framework_id)).await;

    // One agent goes away with the leader; the leader is killed.
    leaves.disconnect();
    if leader == port_a {
        a.kill()
    } else {
        b.kill()
    }
    let survivor = format!("127.0.0.1:{standby}");

    // The new leader knows the framework from the registry (recovered), the agents that come back re-register
    // with their ids and tasks, and the one that does not is expected until the timeout.
    let state = wait_for_state(&survivor, SECS(15), "the standby to lead and the agents to re-register", |s| {
        s["slaves"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    assert_eq!(state["frameworks"][0]["id"], framework_id.as_str());
    assert_eq!(state["frameworks"][0]["recovered"], true);
    assert_eq!(state["recovered_slaves"][0]["id"], leaves_id.as_str());
    let mut ids: Vec<&str> = state["slaves"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    ids.sort();
    let mut expected = vec![stays_id.as_str(), idle_id.as_str()];
    expected.sort();
    assert_eq!(ids, expected, "agents keep their ids");
    assert_eq!(state["frameworks"][0]["tasks"][0]["id"], "t-stays");

    // The framework re-subscribes with its id and finds its task.
    let mut resumed = info.clone();
    resumed["id"] = json!({ "value": framework_id });
    let mut scheduler = wait_for(SECS(10), "re-subscribing", || {
        let resumed = resumed.clone();
        let survivor = survivor.clone();
        async move { TestScheduler::subscribe(&survivor, resumed).await.ok() }
    })
    .await;
    assert_eq!(scheduler.framework_id, framework_id);
    assert_eq!(scheduler.reconcile(&[]).await, 202);
    assert_eq!(scheduler.update("t-stays", SECS(5)).await["state"], "TASK_RUNNING");
    // Nothing is known yet about the task on the agent still expected.
    assert_eq!(scheduler.reconcile(&[("t-leaves", Some(&leaves_id))]).await, 202);
    let answers = scheduler.events_during(Duration::from_millis(500)).await;
    assert!(answers.iter().all(|e| e["type"] != "UPDATE"), "{answers:?}");

    // After --agent_reregister_timeout it is unreachable, and its task lost for this framework.
    let state = wait_for_state(&survivor, SECS(10), "the missing agent to be marked unreachable", |s| {
        s["unreachable_slaves"] == 1
    })
    .await;
    assert_eq!(state["recovered_slaves"], json!([]));
    expect_znodes(&zk, "/mesos/registry/unreachable", std::slice::from_ref(&leaves_id)).await;
    assert_eq!(scheduler.reconcile(&[("t-leaves", Some(&leaves_id))]).await, 202);
    assert_eq!(scheduler.update("t-leaves", SECS(5)).await["state"], "TASK_LOST");

    // When it comes back it is re-admitted, and the framework hears its task is running.
    leaves.reconnect();
    let status = scheduler.update("t-leaves", SECS(15)).await;
    assert_eq!(
        (status["state"].as_str(), status["reason"].as_str()),
        (Some("TASK_RUNNING"), Some("REASON_AGENT_REREGISTERED"))
    );
    assert_eq!(leaves.id().as_deref(), Some(leaves_id.as_str()));
    let state = wait_for_state(&survivor, SECS(5), "re-admission", |s| s["unreachable_slaves"] == 0).await;
    assert_eq!(state["slaves"].as_array().unwrap().len(), 3);
    expect_znodes(&zk, "/mesos/registry/unreachable", &[]).await;
    expect_znodes(&zk, "/mesos/registry/agents", &admitted).await;
}

#[tokio::test]
async fn quorum_keeps_a_lone_leader_from_serving() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("quorum-logs");
    let work = ScratchDir::new("quorum-work");
    let (port_a, port_b) = (free_port(), free_port());
    let _a = start_master("master-a", port_a, Some(&zk), "2", (&work, "a"), &logs);
    wait_for(SECS(20), "the lone master to be elected", || async move { elected(port_a).await?.then_some(()) }).await;
    let address = format!("127.0.0.1:{port_a}");
    let refused = TestScheduler::subscribe(&address, framework_info("early", 0.0, &[]))
        .await
        .err()
        .expect("503 before the quorum");
    assert!(refused.contains("503") && refused.contains("Master has not finished recovery"), "{refused}");

    let _b = start_master("master-b", port_b, Some(&zk), "2", (&work, "b"), &logs);
    let scheduler = wait_for(SECS(15), "the leader to serve once a quorum is present", || {
        let address = address.clone();
        async move { TestScheduler::subscribe(&address, framework_info("later", 0.0, &[])).await.ok() }
    })
    .await;
    assert!(!scheduler.framework_id.is_empty());
}

#[tokio::test]
async fn standalone_master_recovers_its_registry_file_after_a_restart() {
    let logs = ScratchDir::new("standalone-logs");
    let work = ScratchDir::new("standalone-work");
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let mut master = start_master("master", port, None, "1", (&work, "master"), &logs);
    let agent = HollowAgent::start(std::slice::from_ref(&address), "cpus:2;mem:512");
    let agent_id = agent.registered(1, SECS(15)).await;
    let scheduler = TestScheduler::subscribe(&address, framework_info("filed", 3600.0, &[])).await.unwrap();
    let framework_id = scheduler.framework_id.clone();

    let file = work.path().join("master").join("registry.json");
    let registry: Value = serde_json::from_slice(&std::fs::read(&file).expect("registry.json written")).unwrap();
    assert_eq!(registry["agents"][&agent_id]["info"]["hostname"], "127.0.0.1");
    assert_eq!(registry["frameworks"][&framework_id]["info"]["name"], "filed");

    // Restart the master while the agent is away: it recovers both and waits for the agent.
    agent.disconnect();
    drop(scheduler);
    master.kill();
    let _master = start_master("master-restarted", port, None, "1", (&work, "master"), &logs);
    let state = wait_for_state(&address, SECS(15), "the restarted master to recover", |s| {
        s["recovered_slaves"].as_array().is_some_and(|r| r.len() == 1)
    })
    .await;
    assert_eq!(state["recovered_slaves"][0]["id"], agent_id.as_str());
    assert_eq!(state["frameworks"][0]["id"], framework_id.as_str());
    agent.reconnect();
    let state = wait_for_state(&address, SECS(10), "the agent to re-register", |s| {
        s["slaves"].as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    assert_eq!(state["slaves"][0]["id"], agent_id.as_str());
    assert_eq!(state["recovered_slaves"], json!([]));
    assert_eq!(state["unreachable_slaves"], 0);
}
