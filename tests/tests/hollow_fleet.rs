//! The bench's machinery at tiny size: a fleet of 20 hollow agents sharing one client (as `mesos-bench` runs
//! thousands) behind a real master and Marathon; an app of 50 instances reaches TASK_RUNNING, every update
//! acknowledged, and deleting it kills every task. Correctness only, no timing.

use common::mesos::TaskState;
use integration_tests::hollow::{client, HollowAgent};
use integration_tests::{get_json, start_leading_master, start_marathon, wait_for, ScratchDir, ZooKeeper};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tasks_run_on_twenty_hollow_agents() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("hollow-fleet");
    let zk_mesos = zk.url("/mesos");
    let (_master, master) = start_leading_master(Some(&zk_mesos), &[], &logs).await;
    let (_marathon, port) = start_marathon("marathon", &zk_mesos, &zk.url("/marathon"), &[], true, &logs).await;
    let shared = client();
    let fleet: Vec<HollowAgent> =
        (0..20).map(|_| HollowAgent::start_with(&shared, std::slice::from_ref(&master), "cpus:1;mem:256")).collect();
    let metrics = format!("http://{master}/metrics/snapshot");
    wait_for(Duration::from_secs(60), "20 active agents", || {
        let metrics = metrics.clone();
        async move { get_json(&metrics).await.filter(|m| m["master/slaves_active"] == 20.0) }
    })
    .await;

    let app =
        json!({"id": "/fleet", "cmd": "sleep 3600", "instances": 50, "cpus": 0.1, "mem": 8, "portDefinitions": []});
    let base = format!("http://127.0.0.1:{port}");
    let response = reqwest::Client::new().post(format!("{base}/v2/apps")).json(&app).send().await.expect("POST");
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    let fleet = &fleet;
    wait_for(Duration::from_secs(120), "50 tasks RUNNING on the fleet and in Marathon", || {
        let url = format!("{base}/v2/apps/fleet");
        async move {
            let app = get_json(&url).await?;
            let on_fleet: usize = fleet.iter().map(|a| a.tasks_in(TaskState::TASK_RUNNING)).sum();
            (app["app"]["tasksRunning"] == 50 && on_fleet == 50).then_some(())
        }
    })
    .await;
    wait_for(Duration::from_secs(60), "every update acknowledged", || async move {
        (fleet.iter().map(HollowAgent::unacknowledged).sum::<usize>() == 0).then_some(())
    })
    .await;
    let placed = fleet.iter().filter(|a| a.tasks_in(TaskState::TASK_RUNNING) > 0).count();
    assert!(placed > 1, "tasks spread over the fleet, not one agent ({placed})");

    let response = reqwest::Client::new().delete(format!("{base}/v2/apps/fleet")).send().await.expect("DELETE");
    assert_eq!(response.status(), 200);
    wait_for(Duration::from_secs(120), "every task killed", || async move {
        let killed: usize = fleet.iter().map(|a| a.tasks_in(TaskState::TASK_KILLED)).sum();
        (killed == 50).then_some(())
    })
    .await;
}
