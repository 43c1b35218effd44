//! Agent liveness on the real master (elected through a real ZooKeeper): pings flow on the agent link; an agent
//! whose link stays down for `--max_agent_ping_timeouts` ping intervals is marked unreachable (TASK_UNREACHABLE
//! for partition-aware frameworks, TASK_LOST for the others, FAILURE for all), and re-admitted with its tasks
//! reported again when it re-registers.

use integration_tests::hollow::HollowAgent;
use integration_tests::scheduler::{framework_info, task, TestScheduler};
use integration_tests::{get_json, start_leading_master, wait_for, wait_for_state, ScratchDir, ZooKeeper};
use std::time::{Duration, Instant};

const SECS: fn(u64) -> Duration = Duration::from_secs;

async fn launch_sleep(scheduler: &mut TestScheduler, task_id: &str) {
    let offers = scheduler.offers(SECS(10)).await;
    let offer = &offers[0];
    // The rest is refused for long, so that it goes to the other framework.
    assert_eq!(
        scheduler.launch(&[&offer["id"]], vec![task(offer, task_id, 0.5, 64.0, "sleep 1000")], Some(3600.0)).await,
        202
    );
    for state in ["TASK_STARTING", "TASK_RUNNING"] {
        let status = scheduler.update(task_id, SECS(10)).await;
        assert_eq!(status["state"], state);
        assert_eq!(scheduler.acknowledge(&status).await, 202);
    }
}

#[tokio::test]
async fn agents_whose_link_stays_down_become_unreachable_and_are_readmitted() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("health-logs");
    let zk_url = zk.url("/mesos");
    let extra = [
        ("MESOS_ALLOCATION_INTERVAL", "100ms"),
        ("MESOS_AGENT_PING_TIMEOUT", "500ms"),
        ("MESOS_MAX_AGENT_PING_TIMEOUTS", "3"),
    ];
    let (_master, master) = start_leading_master(Some(&zk_url), &extra, &logs).await;

    let agent = HollowAgent::start(std::slice::from_ref(&master), "cpus:2;mem:512");
    let agent_id = agent.registered(1, SECS(10)).await;
    let mut aware =
        TestScheduler::subscribe(&master, framework_info("aware", 3600.0, &["PARTITION_AWARE"])).await.unwrap();
    launch_sleep(&mut aware, "t-aware").await;
    let mut plain = TestScheduler::subscribe(&master, framework_info("plain", 3600.0, &[])).await.unwrap();
    launch_sleep(&mut plain, "t-plain").await;

    // Pings flow while the link is up.
    wait_for(SECS(5), "pings on the agent link", || async { (agent.pings() >= 2).then_some(()) }).await;

    // The link goes down and stays down: unreachable after about 3 ping intervals, not at once.
    let down = Instant::now();
    agent.disconnect();
    let status = aware.update("t-aware", SECS(10)).await;
    let took = down.elapsed();
    assert!(took >= Duration::from_millis(900), "marked unreachable after only {took:?}");
    assert_eq!(status["state"], "TASK_UNREACHABLE");
    assert_eq!(status["reason"], "REASON_AGENT_REMOVED");
    assert!(status["unreachable_time"]["nanoseconds"].is_i64());
    assert_eq!(aware.expect("FAILURE", SECS(5)).await["failure"]["agent_id"]["value"], agent_id.as_str());
    assert_eq!(plain.update("t-plain", SECS(5)).await["state"], "TASK_LOST");
    plain.expect("FAILURE", SECS(5)).await;
    let state = wait_for_state(&master, SECS(5), "the agent to be unreachable", |s| s["unreachable_slaves"] == 1).await;
    assert_eq!(state["slaves"].as_array().map(Vec::len), Some(0));
    let framework = state["frameworks"].as_array().unwrap().iter().find(|f| f["name"] == "aware").unwrap();
    assert_eq!(framework["unreachable_tasks"][0]["state"], "TASK_UNREACHABLE");
    let metrics = get_json(&format!("http://{master}/metrics/snapshot")).await.unwrap();
    assert_eq!(metrics["master/slaves_unreachable"], 1.0);

    // It comes back: re-admitted with the same id, and both frameworks hear their task runs.
    agent.reconnect();
    for (scheduler, task_id) in [(&mut aware, "t-aware"), (&mut plain, "t-plain")] {
        let status = scheduler.update(task_id, SECS(10)).await;
        assert_eq!(status["state"], "TASK_RUNNING", "{status}");
        assert_eq!(status["reason"], "REASON_AGENT_REREGISTERED");
        assert_eq!(status["source"], "SOURCE_MASTER");
    }
    assert_eq!(agent.id().as_deref(), Some(agent_id.as_str()));
    let state = wait_for_state(&master, SECS(5), "re-admission", |s| s["unreachable_slaves"] == 0).await;
    assert_eq!(state["slaves"][0]["id"], agent_id.as_str());
    assert_eq!(state["slaves"][0]["active"], true);

    // The re-admitted task is managed as before.
    assert_eq!(plain.kill("t-plain").await, 202);
    let killed = plain.update("t-plain", SECS(5)).await;
    assert_eq!(killed["state"], "TASK_KILLED");
    assert_eq!(plain.acknowledge(&killed).await, 202);
}
