//! The v1 scheduler API of the real master, driven by a test scheduler over HTTP and served by hollow agents
//! speaking the real agent link: offers, launches with reliable updates and acknowledgements, kills, decline
//! filters, SUPPRESS/REVIVE, reconciliation, TEARDOWN, framework failover and its timeout, offer rescinds,
//! and upstream's status codes for bad calls.

use integration_tests::hollow::HollowAgent;
use integration_tests::scheduler::{framework_info, task, TestScheduler};
use integration_tests::{binary, free_port, get_json, wait_for, wait_for_state, Process, ScratchDir};
use serde_json::{json, Value};
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// A standalone master (in-memory registry) plus its log directory.
struct Master {
    address: String,
    _process: Process,
    _logs: ScratchDir,
}

impl Master {
    async fn start(name: &str, extra: &[(&str, &str)]) -> Master {
        let logs = ScratchDir::new(name);
        let port = free_port();
        let port_text = port.to_string();
        let mut env = vec![
            ("MESOS_IP", "127.0.0.1"),
            ("MESOS_HOSTNAME", "127.0.0.1"),
            ("MESOS_PORT", port_text.as_str()),
            ("MESOS_REGISTRY", "in_memory"),
            ("MESOS_ALLOCATION_INTERVAL", "100ms"),
        ];
        env.extend_from_slice(extra);
        let process = Process::start(name, &binary("mesos-master"), &[], &env, logs.path());
        let address = format!("127.0.0.1:{port}");
        let health = format!("http://{address}/health");
        wait_for(SECS(20), "the master to answer", || {
            let health = health.clone();
            async move { reqwest::get(&health).await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
        })
        .await;
        Master { address, _process: process, _logs: logs }
    }

    fn masters(&self) -> Vec<String> {
        vec![self.address.clone()]
    }

    async fn state(&self) -> Value {
        get_json(&format!("http://{}/master/state", self.address)).await.expect("/master/state")
    }
}

fn cpus(offer: &Value) -> f64 {
    offer["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["name"] == "cpus")
        .filter_map(|r| r["scalar"]["value"].as_f64())
        .sum()
}

fn ids(offers: &[Value]) -> Vec<&Value> {
    offers.iter().map(|o| &o["id"]).collect()
}

/// Receives the next update of `task_id`, checks it is a reliable executor update in `state`, and acknowledges it.
async fn ack_update(scheduler: &mut TestScheduler, task_id: &str, state: &str) -> Value {
    let status = scheduler.update(task_id, SECS(10)).await;
    assert_eq!(status["state"], state, "{status}");
    assert!(status["uuid"].is_string(), "agent updates carry a uuid: {status}");
    assert_eq!(status["source"], "SOURCE_EXECUTOR");
    assert_eq!(scheduler.acknowledge(&status).await, 202);
    status
}

#[tokio::test]
async fn offers_launches_reliable_updates_and_kills() {
    let master = Master::start("api-launch", &[]).await;
    let agent = HollowAgent::start(&master.masters(), "cpus:4;mem:1024;disk:1000;ports:[31000-31099]");
    let agent_id = agent.registered(1, SECS(10)).await;
    let mut scheduler = TestScheduler::subscribe(&master.address, framework_info("launcher", 0.0, &[])).await.unwrap();

    // An offer of the whole agent, in upstream's shape.
    let offers = scheduler.offers(SECS(5)).await;
    assert_eq!(offers.len(), 1);
    let offer = &offers[0];
    assert_eq!(offer["agent_id"]["value"], agent_id.as_str());
    assert_eq!(offer["framework_id"]["value"], scheduler.framework_id.as_str());
    assert_eq!(offer["allocation_info"]["role"], "*");
    assert_eq!(offer["url"]["path"], "/slave(1)");
    assert_eq!(cpus(offer), 4.0);

    let tasks = vec![task(offer, "quick", 1.0, 128.0, "echo hi"), task(offer, "long", 1.0, 128.0, "sleep 1000")];
    assert_eq!(scheduler.launch(&ids(&offers), tasks, None).await, 202);

    // Updates come one at a time per task: the next only after the previous is acknowledged. Unacknowledged,
    // STARTING is sent again (same uuid) and RUNNING does not come.
    let starting = scheduler.update("quick", SECS(10)).await;
    assert_eq!(starting["state"], "TASK_STARTING");
    let again = scheduler.update("quick", SECS(5)).await;
    assert_eq!((again["state"].clone(), again["uuid"].clone()), (starting["state"].clone(), starting["uuid"].clone()));
    assert_eq!(scheduler.acknowledge(&starting).await, 202);
    ack_update(&mut scheduler, "quick", "TASK_RUNNING").await;
    let finished = ack_update(&mut scheduler, "quick", "TASK_FINISHED").await;
    assert_eq!(finished["agent_id"]["value"], agent_id.as_str());

    // The long task runs until killed.
    ack_update(&mut scheduler, "long", "TASK_STARTING").await;
    ack_update(&mut scheduler, "long", "TASK_RUNNING").await;
    assert_eq!(scheduler.kill("long").await, 202);
    ack_update(&mut scheduler, "long", "TASK_KILLED").await;
    assert_eq!(agent.kills(), vec!["long".to_string()]);

    // Killing an unknown task: TASK_LOST from the master, unreliable.
    assert_eq!(scheduler.kill("nope").await, 202);
    let lost = scheduler.update("nope", SECS(5)).await;
    assert_eq!((lost["state"].as_str(), lost["source"].as_str()), (Some("TASK_LOST"), Some("SOURCE_MASTER")));
    assert!(lost.get("uuid").is_none());

    // Every acknowledgement reached the agent, in order per task.
    wait_for(SECS(5), "acknowledgements to reach the agent", || async { (agent.unacknowledged() == 0).then_some(()) })
        .await;
    let acked: Vec<String> =
        agent.acknowledged().iter().filter(|(t, _)| t == "quick").map(|(_, s)| format!("{s:?}")).collect();
    assert_eq!(acked, ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);

    let state = master.state().await;
    let framework = &state["frameworks"][0];
    assert_eq!(framework["tasks"], json!([]));
    let mut completed: Vec<(String, String)> = framework["completed_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_string(), t["state"].as_str().unwrap().to_string()))
        .collect();
    completed.sort();
    assert_eq!(completed, [("long".into(), "TASK_KILLED".into()), ("quick".into(), "TASK_FINISHED".into())]);
}

#[tokio::test]
async fn decline_filters_suppress_and_revive() {
    let master = Master::start("api-decline", &[]).await;
    let _agent = HollowAgent::start(&master.masters(), "cpus:2;mem:512");
    let mut scheduler = TestScheduler::subscribe(&master.address, framework_info("decliner", 0.0, &[])).await.unwrap();

    // Declined for 60 s: not offered again…
    let offers = scheduler.offers(SECS(5)).await;
    assert_eq!(scheduler.decline(&ids(&offers), Some(60.0)).await, 202);
    let quiet = scheduler.events_during(SECS(2)).await;
    assert!(quiet.iter().all(|e| e["type"] != "OFFERS"), "re-offered within refuse_seconds: {quiet:?}");
    // …until REVIVE clears the filter.
    assert_eq!(scheduler.call("REVIVE", None).await.0, 202);
    let offers = scheduler.offers(SECS(3)).await;

    // A short filter expires by itself.
    assert_eq!(scheduler.decline(&ids(&offers), Some(1.0)).await, 202);
    let offers = scheduler.offers(SECS(4)).await;

    // SUPPRESS: resources given back are not offered again until REVIVE.
    assert_eq!(scheduler.call("SUPPRESS", None).await.0, 202);
    assert_eq!(scheduler.decline(&ids(&offers), Some(0.0)).await, 202);
    let quiet = scheduler.events_during(SECS(2)).await;
    assert!(quiet.iter().all(|e| e["type"] != "OFFERS"), "offered while suppressed: {quiet:?}");
    assert_eq!(scheduler.call("REVIVE", Some(json!({"roles": ["*"]}))).await.0, 202);
    assert_eq!(cpus(&scheduler.offers(SECS(3)).await[0]), 2.0);
}

#[tokio::test]
async fn reconciliation_explicit_and_implicit() {
    let master = Master::start("api-reconcile", &[]).await;
    let agent = HollowAgent::start(&master.masters(), "cpus:2;mem:512");
    let agent_id = agent.registered(1, SECS(10)).await;
    let mut plain = TestScheduler::subscribe(&master.address, framework_info("plain", 0.0, &[])).await.unwrap();
    let offers = plain.offers(SECS(5)).await;
    assert_eq!(
        plain.launch(&ids(&offers), vec![task(&offers[0], "t1", 0.5, 64.0, "sleep 1000")], Some(0.0)).await,
        202
    );
    ack_update(&mut plain, "t1", "TASK_STARTING").await;
    ack_update(&mut plain, "t1", "TASK_RUNNING").await;

    // Implicit: every task the master knows, with its latest state, from the master, unreliable.
    assert_eq!(plain.reconcile(&[]).await, 202);
    let status = plain.update("t1", SECS(5)).await;
    assert_eq!(status["state"], "TASK_RUNNING");
    assert_eq!(status["reason"], "REASON_RECONCILIATION");
    assert_eq!(status["source"], "SOURCE_MASTER");
    assert!(status.get("uuid").is_none(), "{status}");

    // Explicit: known tasks and unknown ones (TASK_LOST for frameworks that are not partition-aware).
    assert_eq!(plain.reconcile(&[("t1", Some(&agent_id)), ("ghost", Some(&agent_id))]).await, 202);
    assert_eq!(plain.update("t1", SECS(5)).await["state"], "TASK_RUNNING");
    assert_eq!(plain.update("ghost", SECS(5)).await["state"], "TASK_LOST");

    // Partition-aware frameworks hear TASK_GONE for unknown tasks on a registered agent, TASK_UNKNOWN otherwise.
    let mut aware =
        TestScheduler::subscribe(&master.address, framework_info("aware", 0.0, &["PARTITION_AWARE"])).await.unwrap();
    assert_eq!(aware.reconcile(&[("ghost", Some(&agent_id)), ("ghost2", None)]).await, 202);
    assert_eq!(aware.update("ghost", SECS(5)).await["state"], "TASK_GONE");
    assert_eq!(aware.update("ghost2", SECS(5)).await["state"], "TASK_UNKNOWN");
}

#[tokio::test]
async fn teardown_closes_the_stream_and_shuts_the_framework_down_on_agents() {
    let master = Master::start("api-teardown", &[]).await;
    let agent = HollowAgent::start(&master.masters(), "cpus:2;mem:512");
    agent.registered(1, SECS(10)).await;
    let mut scheduler = TestScheduler::subscribe(&master.address, framework_info("torn", 3600.0, &[])).await.unwrap();
    let offers = scheduler.offers(SECS(5)).await;
    assert_eq!(scheduler.launch(&ids(&offers), vec![task(&offers[0], "t1", 1.0, 64.0, "sleep 1000")], None).await, 202);
    ack_update(&mut scheduler, "t1", "TASK_STARTING").await;
    ack_update(&mut scheduler, "t1", "TASK_RUNNING").await;

    assert_eq!(scheduler.teardown().await, 202);
    assert!(scheduler.closed(SECS(5)).await, "TEARDOWN closes the subscription");
    let id = scheduler.framework_id.clone();
    wait_for(SECS(5), "the agent to kill the framework's task", || async {
        (agent.shutdowns().contains(&id) && agent.task_state("t1") == Some(common::mesos::TaskState::TASK_KILLED))
            .then_some(())
    })
    .await;
    // The master acknowledges the KILLED update on behalf of the removed framework.
    wait_for(SECS(5), "the agent's updates to be acknowledged", || async {
        (agent.unacknowledged() == 0).then_some(())
    })
    .await;
    let state = master.state().await;
    assert_eq!(state["frameworks"], json!([]));
    assert_eq!(state["completed_frameworks"][0]["id"], id.as_str());

    // A torn-down framework cannot re-subscribe.
    let mut info = framework_info("torn", 3600.0, &[]);
    info["id"] = json!({ "value": id });
    let refused = TestScheduler::subscribe(&master.address, info).await.err().expect("re-subscribing is refused");
    assert!(refused.contains("Framework has been removed"), "{refused}");
}

#[tokio::test]
async fn framework_failover_keeps_tasks_and_the_timeout_removes_them() {
    let master = Master::start("api-failover", &[]).await;
    let agent = HollowAgent::start(&master.masters(), "cpus:2;mem:512");
    agent.registered(1, SECS(10)).await;
    let info = framework_info("failover", 4.0, &[]);
    let mut scheduler = TestScheduler::subscribe(&master.address, info.clone()).await.unwrap();
    let id = scheduler.framework_id.clone();
    let offers = scheduler.offers(SECS(5)).await;
    assert_eq!(scheduler.launch(&ids(&offers), vec![task(&offers[0], "t1", 1.0, 64.0, "sleep 1000")], None).await, 202);
    ack_update(&mut scheduler, "t1", "TASK_STARTING").await;
    ack_update(&mut scheduler, "t1", "TASK_RUNNING").await;

    // The scheduler goes away; within the failover timeout it re-subscribes with its id and keeps its task.
    drop(scheduler);
    wait_for_state(&master.address, SECS(5), "the master to see the framework disconnect", |s| {
        s["frameworks"][0]["connected"] == false
    })
    .await;
    let mut resumed = info.clone();
    resumed["id"] = json!({ "value": id });
    let mut scheduler = TestScheduler::subscribe(&master.address, resumed).await.unwrap();
    assert_eq!(scheduler.framework_id, id);
    assert_eq!(scheduler.reconcile(&[]).await, 202);
    assert_eq!(scheduler.update("t1", SECS(5)).await["state"], "TASK_RUNNING");
    let state = master.state().await;
    assert_eq!(state["frameworks"][0]["active"], true);
    assert!(state["frameworks"][0]["reregistered_time"].is_number());

    // Gone for longer than the timeout: removed, and its task killed on the agent.
    drop(scheduler);
    let state = wait_for_state(&master.address, SECS(15), "the framework to be removed", |s| {
        s["completed_frameworks"][0]["id"] == id.as_str()
    })
    .await;
    assert_eq!(state["frameworks"], json!([]));
    wait_for(SECS(5), "the task to be killed", || async {
        (agent.shutdowns().contains(&id) && agent.task_state("t1") == Some(common::mesos::TaskState::TASK_KILLED))
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn offers_are_rescinded_after_offer_timeout() {
    let master = Master::start("api-offer-timeout", &[("MESOS_OFFER_TIMEOUT", "1secs")]).await;
    let _agent = HollowAgent::start(&master.masters(), "cpus:2;mem:512");
    let mut scheduler = TestScheduler::subscribe(&master.address, framework_info("slow", 0.0, &[])).await.unwrap();
    let offers = scheduler.offers(SECS(5)).await;
    let rescind = scheduler.expect("RESCIND", SECS(4)).await;
    assert_eq!(rescind["rescind"]["offer_id"], offers[0]["id"]);
    // The resources come back in a new offer, and using the rescinded one fails its tasks.
    let fresh = scheduler.offers(SECS(4)).await;
    assert_ne!(fresh[0]["id"], offers[0]["id"]);
    assert_eq!(scheduler.launch(&ids(&offers), vec![task(&offers[0], "late", 1.0, 64.0, "sleep 1")], None).await, 202);
    let lost = scheduler.update("late", SECS(5)).await;
    assert_eq!((lost["state"].as_str(), lost["reason"].as_str()), (Some("TASK_LOST"), Some("REASON_INVALID_OFFERS")));
}

#[tokio::test]
async fn offers_are_rescinded_when_the_agent_link_dies() {
    let master = Master::start(
        "api-link-dies",
        &[("MESOS_AGENT_PING_TIMEOUT", "500ms"), ("MESOS_MAX_AGENT_PING_TIMEOUTS", "60")],
    )
    .await;
    let agent = HollowAgent::start(&master.masters(), "cpus:2;mem:512");
    let mut scheduler = TestScheduler::subscribe(&master.address, framework_info("watcher", 0.0, &[])).await.unwrap();
    let offers = scheduler.offers(SECS(5)).await;
    agent.disconnect();
    let rescind = scheduler.expect("RESCIND", SECS(5)).await;
    assert_eq!(rescind["rescind"]["offer_id"], offers[0]["id"]);
    let state = master.state().await;
    assert_eq!(state["slaves"][0]["active"], false);
    // Back on a new link: offered again.
    agent.reconnect();
    agent.registered(2, SECS(10)).await;
    assert_eq!(cpus(&scheduler.offers(SECS(5)).await[0]), 2.0);
}

#[tokio::test]
async fn bad_calls_get_upstream_status_codes() {
    let master = Master::start("api-bad-calls", &[]).await;
    let scheduler = TestScheduler::subscribe(&master.address, framework_info("strict", 3600.0, &[])).await.unwrap();
    let decline =
        json!({"type": "DECLINE", "framework_id": {"value": scheduler.framework_id}, "decline": {"offer_ids": []}})
            .to_string();

    let (status, body) = scheduler.raw(&decline, None, true).await;
    assert_eq!((status, body.as_str()), (400, "Expecting 'Content-Type' to be present"));
    assert_eq!(scheduler.raw(&decline, Some("application/json; charset=utf-8"), true).await.0, 415);
    let (status, body) = scheduler.raw("{not json", Some("application/json"), true).await;
    assert_eq!(status, 400);
    assert!(body.starts_with("Failed to parse body into JSON"), "{body}");
    let no_payload = json!({"type": "ACCEPT", "framework_id": {"value": scheduler.framework_id}}).to_string();
    let (status, body) = scheduler.raw(&no_payload, Some("application/json"), true).await;
    assert_eq!(status, 400);
    assert!(body.contains("Expecting 'accept' to be present"), "{body}");
    let (status, body) = scheduler.raw(&decline, Some("application/json"), false).await;
    assert_eq!(status, 400);
    assert!(body.contains("Mesos-Stream-Id"), "{body}");
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/v1/scheduler", master.address);
    let wrong = client
        .post(&url)
        .header("Content-Type", "application/json")
        .header("Mesos-Stream-Id", "wrong")
        .body(decline.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    assert!(wrong.text().await.unwrap().contains("didn't match"));
    let get = client.get(&url).send().await.unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
    let unknown = json!({"type": "REVIVE", "framework_id": {"value": "nobody"}}).to_string();
    let (status, body) = scheduler.raw(&unknown, Some("application/json"), true).await;
    assert_eq!((status, body.as_str()), (400, "Framework cannot be found"));
    let subscribe =
        json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info("x", 0.0, &[])}}).to_string();
    let (status, body) = scheduler.raw(&subscribe, Some("application/json"), true).await;
    assert_eq!(status, 400);
    assert!(body.contains("should not include the 'Mesos-Stream-Id'"), "{body}");
    assert_eq!(scheduler.call("REVIVE", None).await.0, 202);

    // Disconnected (but not yet removed): 403.
    let stream_id = scheduler.stream_id.clone();
    drop(scheduler);
    wait_for_state(&master.address, SECS(5), "the master to see the framework disconnect", |s| {
        s["frameworks"][0]["connected"] == false
    })
    .await;
    let forbidden = client
        .post(&url)
        .header("Content-Type", "application/json")
        .header("Mesos-Stream-Id", stream_id)
        .body(decline)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    assert_eq!(forbidden.text().await.unwrap(), "Framework is not subscribed");
}
