//! `/master/state` keeps upstream's shape: the top-level keys and the agent, framework, task and offer objects
//! that tools and the upstream web UI read (mesos.md §8, clients.md "Mesos web UI"), with JSONP, the `.json`
//! alias, and the `/metrics/snapshot` keys the UI polls. A real master elected through a real ZooKeeper, a
//! hollow agent, a framework with a running task and an outstanding offer.

use integration_tests::hollow::HollowAgent;
use integration_tests::scheduler::{framework_info, task, TestScheduler};
use integration_tests::{get_json, start_leading_master, wait_for_state, ScratchDir, ZooKeeper};
use serde_json::Value;
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn has_keys(object: &Value, keys: &[&str], what: &str) {
    for key in keys {
        assert!(object.get(*key).is_some(), "{what} lacks '{key}': {object}");
    }
}

/// The flat v0 resources object: cpus, gpus, mem and disk always present as numbers.
fn flat_resources(object: &Value, what: &str) {
    for key in ["cpus", "gpus", "mem", "disk"] {
        assert!(object[key].is_number(), "{what}.{key} is not a number: {object}");
    }
}

#[tokio::test]
async fn master_state_has_the_upstream_shape() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("state-logs");
    let zk_url = zk.url("/mesos");
    let extra = [("MESOS_CLUSTER", "shape-test"), ("MESOS_ALLOCATION_INTERVAL", "100ms")];
    let (_master, master) = start_leading_master(Some(&zk_url), &extra, &logs).await;
    let port: u16 = master.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap();
    let agent = HollowAgent::start(std::slice::from_ref(&master), "cpus:4;mem:1024;disk:2000;ports:[31000-31099]");
    let agent_id = agent.registered(1, SECS(10)).await;
    let mut scheduler = TestScheduler::subscribe(&master, framework_info("shape", 60.0, &[])).await.unwrap();
    let offers = scheduler.offers(SECS(5)).await;
    let offer = &offers[0];
    assert_eq!(
        scheduler.launch(&[&offer["id"]], vec![task(offer, "t1", 1.0, 128.0, "sleep 1000")], Some(0.0)).await,
        202
    );
    for state in ["TASK_STARTING", "TASK_RUNNING"] {
        let status = scheduler.update("t1", SECS(10)).await;
        assert_eq!(status["state"], state);
        assert_eq!(scheduler.acknowledge(&status).await, 202);
    }
    // The rest is offered again and left outstanding (that offer may have arrived between the updates).
    let first_offer = offer["id"].clone();
    let already = scheduler
        .seen
        .iter()
        .filter(|e| e["type"] == "OFFERS")
        .flat_map(|e| e["offers"]["offers"].as_array().cloned().unwrap_or_default())
        .filter(|o| o["id"] != first_offer)
        .collect::<Vec<_>>();
    let outstanding = if already.is_empty() { scheduler.offers(SECS(5)).await } else { already };

    let state = wait_for_state(&master, SECS(5), "the task to run", |s| {
        s["frameworks"][0]["tasks"][0]["state"] == "TASK_RUNNING"
    })
    .await;
    has_keys(
        &state,
        &[
            "version",
            "git_sha",
            "build_date",
            "build_time",
            "build_user",
            "start_time",
            "elected_time",
            "id",
            "pid",
            "hostname",
            "capabilities",
            "activated_slaves",
            "deactivated_slaves",
            "unreachable_slaves",
            "leader",
            "leader_info",
            "cluster",
            "flags",
            "slaves",
            "recovered_slaves",
            "frameworks",
            "completed_frameworks",
            "orphan_tasks",
            "unregistered_frameworks",
        ],
        "state",
    );
    assert_eq!(state["version"], "1.11.0");
    assert!(state["build_time"].is_number() && state["start_time"].is_number() && state["elected_time"].is_number());
    assert_eq!(state["pid"], format!("master@127.0.0.1:{port}").as_str());
    assert_eq!(state["leader"], state["pid"]);
    has_keys(&state["leader_info"], &["id", "pid", "port", "hostname"], "leader_info");
    assert_eq!(state["leader_info"]["port"], port);
    assert_eq!(state["cluster"], "shape-test");
    assert_eq!(state["activated_slaves"], 1);
    assert_eq!(state["flags"]["cluster"], "shape-test");
    assert_eq!(state["orphan_tasks"], serde_json::json!([]));

    let slave = &state["slaves"][0];
    has_keys(
        slave,
        &[
            "id",
            "hostname",
            "port",
            "attributes",
            "pid",
            "registered_time",
            "resources",
            "used_resources",
            "offered_resources",
            "reserved_resources",
            "unreserved_resources",
            "active",
            "deactivated",
            "version",
            "capabilities",
        ],
        "agent",
    );
    assert_eq!(slave["id"], agent_id.as_str());
    assert_eq!(slave["pid"], format!("slave(1)@127.0.0.1:{}", slave["port"]).as_str());
    for key in ["resources", "used_resources", "offered_resources", "unreserved_resources"] {
        flat_resources(&slave[key], key);
    }
    assert_eq!(slave["resources"]["cpus"], 4.0);
    assert_eq!(slave["resources"]["ports"], "[31000-31099]");
    assert_eq!(slave["used_resources"]["cpus"], 1.0);
    assert_eq!(slave["offered_resources"]["cpus"], 3.0);
    assert_eq!((slave["active"].as_bool(), slave["deactivated"].as_bool()), (Some(true), Some(false)));

    let framework = &state["frameworks"][0];
    has_keys(
        framework,
        &[
            "id",
            "name",
            "used_resources",
            "offered_resources",
            "capabilities",
            "hostname",
            "webui_url",
            "active",
            "connected",
            "recovered",
            "user",
            "failover_timeout",
            "checkpoint",
            "registered_time",
            "unregistered_time",
            "resources",
            "role",
            "tasks",
            "unreachable_tasks",
            "completed_tasks",
            "offers",
            "executors",
            "offer_constraints",
        ],
        "framework",
    );
    assert!(framework.get("pid").is_none(), "HTTP frameworks have no pid");
    assert_eq!(framework["id"], scheduler.framework_id.as_str());
    assert_eq!(framework["role"], "*");
    assert_eq!(framework["failover_timeout"], 60.0);
    assert_eq!((framework["active"].as_bool(), framework["connected"].as_bool()), (Some(true), Some(true)));
    for key in ["used_resources", "offered_resources", "resources"] {
        flat_resources(&framework[key], key);
    }
    assert_eq!(framework["used_resources"]["cpus"], 1.0);
    assert_eq!(framework["offered_resources"]["cpus"], 3.0);
    assert_eq!(framework["resources"]["cpus"], 4.0);
    let state_offer = &framework["offers"][0];
    has_keys(state_offer, &["id", "framework_id", "slave_id", "resources", "allocation_info"], "offer");
    assert_eq!(state_offer["id"], outstanding[0]["id"]["value"]);
    assert_eq!(state_offer["slave_id"], agent_id.as_str());
    flat_resources(&state_offer["resources"], "offer.resources");

    let task = &framework["tasks"][0];
    has_keys(
        task,
        &["id", "name", "framework_id", "executor_id", "slave_id", "state", "resources", "role", "statuses"],
        "task",
    );
    assert_eq!(task["id"], "t1");
    assert_eq!(task["executor_id"], "");
    assert_eq!(task["slave_id"], agent_id.as_str());
    flat_resources(&task["resources"], "task.resources");
    let statuses: Vec<&str> =
        task["statuses"].as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"]);
    assert!(task["statuses"].as_array().unwrap().iter().all(|s| s["timestamp"].is_number()));

    // JSONP (the web UI) and the legacy `.json` alias.
    let client = reqwest::Client::new();
    let jsonp = client.get(format!("http://{master}/master/state?jsonp=angular.callbacks._0")).send().await.unwrap();
    assert_eq!(jsonp.headers()["content-type"], "text/javascript");
    let body = jsonp.text().await.unwrap();
    assert!(body.starts_with("angular.callbacks._0({") && body.ends_with("})"), "{}", &body[..80.min(body.len())]);
    let alias = get_json(&format!("http://{master}/master/state.json")).await.unwrap();
    assert_eq!(alias["id"], state["id"]);

    // The metrics the web UI polls.
    let metrics = get_json(&format!("http://{master}/metrics/snapshot")).await.unwrap();
    for key in [
        "master/tasks_staging",
        "master/tasks_starting",
        "master/tasks_running",
        "master/tasks_killing",
        "master/tasks_finished",
        "master/tasks_killed",
        "master/tasks_failed",
        "master/tasks_lost",
        "master/slaves_active",
        "master/slaves_unreachable",
        "master/frameworks_active",
        "master/cpus_total",
        "master/cpus_used",
        "master/mem_total",
        "master/outstanding_offers",
    ] {
        assert!(metrics[key].is_number(), "metrics lack {key}");
    }
    assert_eq!(metrics["master/tasks_running"], 1.0);
    assert_eq!(metrics["master/outstanding_offers"], 1.0);
}

#[tokio::test]
async fn the_operator_api_streams_state_changes() {
    use futures::StreamExt;
    let logs = integration_tests::ScratchDir::new("operator-subscribe");
    let port = integration_tests::free_port();
    let master = format!("127.0.0.1:{port}");
    let _process = integration_tests::Process::start(
        "master",
        &integration_tests::binary("mesos-master"),
        &[],
        &[("MESOS_IP", "127.0.0.1"), ("MESOS_PORT", &port.to_string()), ("MESOS_REGISTRY", "in_memory")],
        logs.path(),
    );
    let url = format!("http://{master}/api/v1");
    let response = integration_tests::wait_for(std::time::Duration::from_secs(10), "SUBSCRIBE to be answered", || {
        let url = url.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .header("Content-Type", "application/json")
                .body(r#"{"type": "SUBSCRIBE"}"#)
                .send()
                .await
                .ok()
                .filter(|r| r.status() == 200)
        }
    })
    .await;
    let mut body = response.bytes_stream();
    let mut decoder = common::recordio::Decoder::new(1 << 20);
    let mut events: Vec<serde_json::Value> = Vec::new();
    let mut agent = None;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !events.iter().any(|e| e["type"] == "AGENT_ADDED") {
        assert!(std::time::Instant::now() < deadline, "no AGENT_ADDED in {events:?}");
        let chunk =
            tokio::time::timeout(std::time::Duration::from_secs(10), body.next()).await.unwrap().unwrap().unwrap();
        events.extend(decoder.feed(&chunk).unwrap().iter().map(|r| serde_json::from_slice(r).unwrap()));
        if agent.is_none() && events.iter().any(|e| e["type"] == "SUBSCRIBED") {
            agent =
                Some(integration_tests::hollow::HollowAgent::start(std::slice::from_ref(&master), "cpus:1;mem:512"));
        }
    }
    assert_eq!(events[0]["type"], "SUBSCRIBED");
    assert!(events[0]["subscribed"]["get_state"]["get_agents"]["agents"].is_array());
    let added = events.iter().find(|e| e["type"] == "AGENT_ADDED").unwrap();
    assert!(added["agent_added"]["agent"]["agent_info"]["id"]["value"].is_string(), "{added}");
}
