//! Marathon against a real master, a real agent and a real ZooKeeper: the tutorial's basic-0 app through the
//! REST API, its upstream response shape and errors, scaling, a task that keeps failing backing off, and
//! deletion.

use integration_tests::{binary, free_port, get_json, wait_for, Process, ScratchDir, ZooKeeper};
use serde_json::{json, Value};
use std::time::Duration;

/// A one-agent cluster plus Marathon, all on loopback.
struct Cluster {
    zk: ZooKeeper,
    logs: ScratchDir,
    _work: ScratchDir,
    _master: Process,
    _agent: Process,
    marathon: Process,
    marathon_port: u16,
    agent_port: u16,
}

impl Cluster {
    async fn start() -> Cluster {
        let zk = ZooKeeper::start().await;
        let logs = ScratchDir::new("marathon-logs");
        let work = ScratchDir::new("marathon-agent");
        let marathon_port = free_port();
        let zk_mesos = zk.url("/mesos");
        let (master, _) =
            integration_tests::start_leading_master(Some(&zk_mesos), &[("MESOS_ALLOCATION_INTERVAL", "100ms")], &logs)
                .await;
        let resources = "cpus:4;mem:4096;disk:1000;ports:[31000-31999]";
        let (agent, agent_port) = integration_tests::start_agent("agent", &zk_mesos, resources, &work, &logs);
        let marathon = Process::start(
            "marathon",
            &binary("marathon"),
            &[
                "--master",
                &zk_mesos,
                "--zk",
                &zk.url("/marathon"),
                "--http_port",
                &marathon_port.to_string(),
                "--hostname",
                "127.0.0.1",
                "--zk_session_timeout",
                "3000",
                "--reconciliation_initial_delay",
                "1000",
            ],
            &[],
            logs.path(),
        );
        let cluster =
            Cluster { zk, logs, _work: work, _master: master, _agent: agent, marathon, marathon_port, agent_port };
        let info = cluster.url("/v2/info");
        wait_for(Duration::from_secs(30), "marathon to register with Mesos", || {
            let info = info.clone();
            async move { get_json(&info).await.filter(|i| i["frameworkId"].is_string()) }
        })
        .await;
        cluster
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.marathon_port)
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut request =
            reqwest::Client::new().request(method, self.url(path)).header("Content-Type", "application/json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.expect("marathon answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn running(&self, app: &str) -> usize {
        get_json(&self.url(&format!("/v2/apps/{app}")))
            .await
            .and_then(|a| a["app"]["tasksRunning"].as_u64())
            .unwrap_or(0) as usize
    }
}

const BASIC_0: &str = r#"{"id": "basic-0", "cmd": "while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done", "cpus": 0.1, "mem": 10.0, "instances": 1}"#;

#[tokio::test]
async fn basic_0_runs_scales_and_is_deleted() {
    let cluster = Cluster::start().await;
    let (status, app) = cluster.send(reqwest::Method::POST, "/v2/apps", Some(BASIC_0)).await;
    assert_eq!(status, 201, "{app}");
    for (key, value) in [
        ("id", json!("/basic-0")),
        ("instances", json!(1)),
        ("backoffSeconds", json!(1)),
        ("backoffFactor", json!(1.15)),
        ("maxLaunchDelaySeconds", json!(3600)),
        ("upgradeStrategy", json!({"minimumHealthCapacity": 1, "maximumOverCapacity": 1})),
        ("ports", json!([0])),
        ("tasksRunning", json!(0)),
        ("tasks", json!([])),
    ] {
        assert_eq!(app[key], value, "{key} in {app}");
    }
    assert_eq!(app["deployments"].as_array().map(Vec::len), Some(1));

    wait_for(Duration::from_secs(30), "basic-0 to run", || async {
        (cluster.running("basic-0").await == 1).then_some(())
    })
    .await;
    let app = get_json(&cluster.url("/v2/apps/basic-0")).await.unwrap();
    let task = &app["app"]["tasks"][0];
    assert!(task["id"].as_str().unwrap().starts_with("basic-0."));
    assert_eq!(task["state"], "TASK_RUNNING");
    assert!(app["app"]["portDefinitions"][0]["port"].as_u64().unwrap() >= 10000, "service port assigned");
    let deployments = get_json(&cluster.url("/v2/deployments")).await.unwrap();
    wait_for(Duration::from_secs(10), "the deployment to finish", || async {
        get_json(&cluster.url("/v2/deployments")).await.filter(|d| d.as_array().is_some_and(Vec::is_empty))
    })
    .await;
    assert!(deployments.is_array());

    // The sandbox stdout says hello, read through the agent's /files API.
    let state = get_json(&format!("http://127.0.0.1:{}/state", cluster.agent_port)).await.unwrap();
    let dir = state["frameworks"][0]["executors"][0]["directory"].as_str().unwrap().to_string();
    let read = format!("http://127.0.0.1:{}/files/read?path={dir}/stdout&offset=0", cluster.agent_port);
    wait_for(Duration::from_secs(10), "Hello Marathon in stdout", || {
        let read = read.clone();
        async move { get_json(&read).await.filter(|r| r["data"].as_str().is_some_and(|d| d.contains("Hello Marathon"))) }
    })
    .await;

    // Scale to 3 and back to 1.
    let (status, body) = cluster.send(reqwest::Method::PUT, "/v2/apps/basic-0", Some(r#"{"instances": 3}"#)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["deploymentId"].is_string() && body["version"].is_string());
    wait_for(Duration::from_secs(30), "3 instances", || async {
        (cluster.running("basic-0").await == 3).then_some(())
    })
    .await;
    cluster.send(reqwest::Method::PUT, "/v2/apps/basic-0?force=true", Some(r#"{"instances": 1}"#)).await;
    wait_for(Duration::from_secs(30), "back to 1 instance", || async {
        (cluster.running("basic-0").await == 1).then_some(())
    })
    .await;

    // Delete.
    let (status, _) = cluster.send(reqwest::Method::DELETE, "/v2/apps/basic-0", None).await;
    assert_eq!(status, 200);
    let (status, body) = cluster.send(reqwest::Method::GET, "/v2/apps/basic-0", None).await;
    assert_eq!((status, body), (404, json!({"message": "App '/basic-0' does not exist"})));
    wait_for(Duration::from_secs(30), "the task to be killed", || async {
        get_json(&cluster.url("/v2/tasks")).await.filter(|t| t["tasks"].as_array().is_some_and(Vec::is_empty))
    })
    .await;
}

#[tokio::test]
async fn upstream_errors() {
    let cluster = Cluster::start().await;
    let post = |body: &'static str| cluster.send(reqwest::Method::POST, "/v2/apps", Some(body));
    let (status, body) = post("{not json").await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Invalid JSON");
    let (status, body) = post(r#"{"id": "bad", "cmd": "x", "cpus": -3}"#).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["message"], "Object is not valid");
    assert!(body["details"].as_array().unwrap().iter().any(|d| d["path"] == "/cpus"), "{body}");
    let (status, body) = post(r#"{"id": "UPPER", "cmd": "x"}"#).await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = post(r#"{"id": "dup", "cmd": "sleep 100", "cpus": 0.1, "mem": 16}"#).await;
    assert_eq!(status, 201);
    let (status, body) = post(r#"{"id": "dup", "cmd": "sleep 100", "cpus": 0.1, "mem": 16}"#).await;
    assert_eq!(status, 409);
    assert_eq!(body["message"], "An app with id [/dup] already exists.");
    let (status, body) = cluster.send(reqwest::Method::GET, "/v2/apps/nope", None).await;
    assert_eq!((status, body["message"].clone()), (404, json!("App '/nope' does not exist")));
    let response = reqwest::Client::new().post(cluster.url("/v2/apps")).body(BASIC_0).send().await.unwrap();
    assert_eq!(response.status(), 415);
    let (status, body) = cluster.send(reqwest::Method::GET, "/v2/nothing-here", None).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn a_failing_task_is_relaunched_with_growing_backoff() {
    let cluster = Cluster::start().await;
    let (status, _) = cluster
        .send(
            reqwest::Method::POST,
            "/v2/apps",
            Some(
                r#"{"id": "crashy", "cmd": "exit 1", "cpus": 0.1, "mem": 16, "backoffSeconds": 1, "backoffFactor": 2}"#,
            ),
        )
        .await;
    assert_eq!(status, 201);
    let last_failure = wait_for(Duration::from_secs(20), "a recorded task failure", || async {
        get_json(&cluster.url("/v2/apps/crashy")).await.and_then(|a| a["app"].get("lastTaskFailure").cloned())
    })
    .await;
    assert_eq!(last_failure["state"], "TASK_FAILED");
    let queued = wait_for(Duration::from_secs(20), "crashy in the queue with a delay", || async {
        get_json(&cluster.url("/v2/queue"))
            .await
            .and_then(|q| q["queue"].as_array().and_then(|items| items.first().cloned()))
    })
    .await;
    assert_eq!(queued["app"]["id"], "/crashy");
    assert!(queued["delay"]["timeLeftSeconds"].is_number());
}

/// The Python interpreter with the test clients installed (`scripts/test.sh` sets `MESOS_RS_PYTHON` to its
/// virtualenv), if it can import `module`.
fn python_with(module: &str) -> Option<String> {
    let python = std::env::var("MESOS_RS_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let ok =
        std::process::Command::new(&python).args(["-c", &format!("import {module}")]).output().ok()?.status.success();
    ok.then_some(python)
}

#[tokio::test]
async fn the_marathon_python_client_works_unmodified() {
    let Some(python) = python_with("marathon") else {
        eprintln!("skipped: no python with the `marathon` package (scripts/test.sh installs it)");
        return;
    };
    let cluster = Cluster::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/marathon_client.py");
    let url = cluster.url("");
    let output = tokio::process::Command::new(python).args([script, &url]).output().await.expect("python runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    assert!(text.contains("all checks passed"), "{text}");
}

async fn task_ids(cluster: &Cluster, app: &str) -> Vec<String> {
    let mut ids: Vec<String> = get_json(&cluster.url(&format!("/v2/apps/{app}/tasks")))
        .await
        .and_then(|t| {
            t["tasks"].as_array().map(|ts| ts.iter().filter_map(|t| t["id"].as_str().map(str::to_string)).collect())
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn restart_replaces_every_task_without_dropping_below_capacity() {
    let cluster = Cluster::start().await;
    let (status, _) = cluster
        .send(
            reqwest::Method::POST,
            "/v2/apps",
            Some(r#"{"id": "web", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 2}"#),
        )
        .await;
    assert_eq!(status, 201);
    wait_for(Duration::from_secs(30), "2 running", || async { (cluster.running("web").await == 2).then_some(()) })
        .await;
    wait_for(Duration::from_secs(10), "no deployment", || async {
        get_json(&cluster.url("/v2/deployments")).await.filter(|d| d.as_array().is_some_and(Vec::is_empty))
    })
    .await;
    let before = task_ids(&cluster, "web").await;
    let (status, body) = cluster.send(reqwest::Method::POST, "/v2/apps/web/restart", None).await;
    assert_eq!(status, 200, "{body}");
    // minimumHealthCapacity 1: never fewer than 2 running while the restart goes on.
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let mut lowest = usize::MAX;
    loop {
        let running = cluster.running("web").await;
        lowest = lowest.min(running);
        let ids = task_ids(&cluster, "web").await;
        if ids.len() == 2 && running == 2 && ids.iter().all(|id| !before.contains(id)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "restart did not replace every task: {ids:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(lowest >= 2, "running dropped to {lowest} during the restart");
}

#[tokio::test]
async fn unique_hostname_constraint_and_fixed_host_ports() {
    let cluster = Cluster::start().await;
    // One agent: UNIQUE hostname allows one instance; the second stays queued.
    let (status, _) = cluster
        .send(reqwest::Method::POST, "/v2/apps", Some(r#"{"id": "uniq", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 2, "constraints": [["hostname", "UNIQUE"]]}"#))
        .await;
    assert_eq!(status, 201);
    wait_for(Duration::from_secs(30), "1 running", || async { (cluster.running("uniq").await == 1).then_some(()) })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(cluster.running("uniq").await, 1, "UNIQUE hostname must hold");
    // requirePorts: the task gets exactly the service port as its host port, and $PORT0 says so.
    let (status, body) = cluster
        .send(
            reqwest::Method::POST,
            "/v2/apps",
            Some(r#"{"id": "fixed", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "portDefinitions": [{"port": 31555}], "requirePorts": true}"#),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    wait_for(Duration::from_secs(30), "fixed running", || async {
        (cluster.running("fixed").await == 1).then_some(())
    })
    .await;
    let app = get_json(&cluster.url("/v2/apps/fixed")).await.unwrap();
    assert_eq!(app["app"]["tasks"][0]["ports"], json!([31555]));
    assert_eq!(app["app"]["portDefinitions"][0]["port"], 31555);
}

#[tokio::test]
async fn a_failing_http_health_check_kills_and_replaces_the_task() {
    let cluster = Cluster::start().await;
    // Nothing listens on the task's port, so the HTTP check fails; after 2 failures the task is replaced.
    let (status, body) = cluster
        .send(
            reqwest::Method::POST,
            "/v2/apps",
            Some(r#"{"id": "sick", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 0, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 2}]}"#),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let first =
        wait_for(Duration::from_secs(30), "a task", || async { task_ids(&cluster, "sick").await.into_iter().next() })
            .await;
    wait_for(Duration::from_secs(30), "the unhealthy task replaced", || {
        let first = first.clone();
        let cluster = &cluster;
        async move { task_ids(cluster, "sick").await.into_iter().find(|id| *id != first) }
    })
    .await;
    let app = get_json(&cluster.url("/v2/apps/sick")).await.unwrap();
    assert_eq!(app["app"]["tasksHealthy"], 0);
}

#[tokio::test]
async fn a_standby_marathon_takes_over_and_adopts_the_running_tasks() {
    let cluster = Cluster::start().await;
    let standby_port = free_port();
    let zk_mesos = cluster.zk.url("/mesos");
    let mut standby = Process::start(
        "marathon-standby",
        &binary("marathon"),
        &[
            "--master",
            &zk_mesos,
            "--zk",
            &cluster.zk.url("/marathon"),
            "--http_port",
            &standby_port.to_string(),
            "--hostname",
            "127.0.0.1",
            "--zk_session_timeout",
            "3000",
        ],
        &[],
        cluster.logs.path(),
    );
    let standby_url = format!("http://127.0.0.1:{standby_port}");
    wait_for(Duration::from_secs(20), "the standby to answer", || {
        let url = format!("{standby_url}/v2/leader");
        async move { get_json(&url).await }
    })
    .await;
    // The standby proxies API calls to the leader.
    let response = reqwest::Client::new()
        .post(format!("{standby_url}/v2/apps"))
        .header("Content-Type", "application/json")
        .body(r#"{"id": "ha", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 2}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // A request that already passed through this standby is a proxying loop: refused, as upstream.
    let looped = reqwest::Client::new()
        .get(format!("{standby_url}/v2/apps"))
        .header("X-Marathon-Via", format!("1.1 127.0.0.1:{standby_port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(looped.status(), 502);
    wait_for(Duration::from_secs(30), "2 running", || async { (cluster.running("ha").await == 2).then_some(()) }).await;
    let before = task_ids(&cluster, "ha").await;

    // Kill the leader: the standby leads, knows the app and adopts the same tasks (no duplicates).
    let mut cluster = cluster;
    cluster.marathon.kill();
    let after = wait_for(Duration::from_secs(30), "the standby to lead with the same tasks", || {
        let url = format!("{standby_url}/v2/apps/ha/tasks");
        async move {
            let tasks = get_json(&url).await?;
            let mut ids: Vec<String> =
                tasks["tasks"].as_array()?.iter().filter_map(|t| t["id"].as_str().map(str::to_string)).collect();
            ids.sort();
            (ids.len() == 2).then_some(ids)
        }
    })
    .await;
    assert_eq!(before, after);
    let info = get_json(&format!("{standby_url}/v2/info")).await.unwrap();
    assert_eq!(info["elected"], true);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        get_json(&format!("{standby_url}/v2/apps/ha")).await.unwrap()["app"]["tasksRunning"],
        2,
        "no extra instances"
    );
    assert!(standby.is_running());
}

#[tokio::test]
async fn groups_hold_nested_apps() {
    let cluster = Cluster::start().await;
    let body = r#"{"id": "prod", "apps": [{"id": "web", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16}], "groups": [{"id": "db", "apps": [{"id": "pg", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16}]}]}"#;
    let (status, result) = cluster.send(reqwest::Method::POST, "/v2/groups", Some(body)).await;
    assert_eq!(status, 201, "{result}");
    assert!(result["deploymentId"].is_string());
    let (status, _) = cluster.send(reqwest::Method::POST, "/v2/groups", Some(body)).await;
    assert_eq!(status, 409);
    let group = get_json(&cluster.url("/v2/groups/prod")).await.unwrap();
    assert_eq!(group["id"], "/prod");
    assert_eq!(group["apps"][0]["id"], "/prod/web");
    assert_eq!(group["groups"][0]["id"], "/prod/db");
    assert_eq!(group["groups"][0]["apps"][0]["id"], "/prod/db/pg");
    wait_for(Duration::from_secs(30), "both apps running", || async {
        (cluster.running("prod/web").await == 1 && cluster.running("prod/db/pg").await == 1).then_some(())
    })
    .await;
    let (status, _) = cluster.send(reqwest::Method::PUT, "/v2/groups/prod?force=true", Some(r#"{"scaleBy": 2}"#)).await;
    assert_eq!(status, 200);
    wait_for(Duration::from_secs(30), "scaled by 2", || async {
        (cluster.running("prod/web").await == 2).then_some(())
    })
    .await;
    let (status, _) = cluster.send(reqwest::Method::DELETE, "/v2/groups/prod?force=true", None).await;
    assert_eq!(status, 200);
    let (status, _) = cluster.send(reqwest::Method::GET, "/v2/apps/prod/web", None).await;
    assert_eq!(status, 404);
    let (status, _) = cluster.send(reqwest::Method::GET, "/v2/groups/prod", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_task_on_a_lost_agent_is_replaced_on_another_agent() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("marathon-agent-loss");
    let zk_mesos = zk.url("/mesos");
    let marathon_port = free_port();
    let extra = [
        ("MESOS_ALLOCATION_INTERVAL", "100ms"),
        ("MESOS_AGENT_PING_TIMEOUT", "1secs"),
        ("MESOS_MAX_AGENT_PING_TIMEOUTS", "2"),
    ];
    let (_master, _) = integration_tests::start_leading_master(Some(&zk_mesos), &extra, &logs).await;
    let start_agent = |name: &str, work: &ScratchDir| {
        Process::start(
            name,
            &binary("mesos-agent"),
            &[],
            &[
                ("MESOS_MASTER", zk_mesos.as_str()),
                ("MESOS_IP", "127.0.0.1"),
                ("MESOS_HOSTNAME", name),
                ("MESOS_ADVERTISE_IP", "127.0.0.1"),
                ("MESOS_PORT", &free_port().to_string()),
                ("MESOS_WORK_DIR", &work.path().display().to_string()),
                ("MESOS_RESOURCES", "cpus:2;mem:1024;ports:[31000-31099]"),
            ],
            logs.path(),
        )
    };
    let (work_a, work_b) = (ScratchDir::new("loss-agent-a"), ScratchDir::new("loss-agent-b"));
    let mut agents = [("agent-a", start_agent("agent-a", &work_a)), ("agent-b", start_agent("agent-b", &work_b))];
    let _marathon = Process::start(
        "marathon",
        &binary("marathon"),
        &[
            "--master",
            &zk_mesos,
            "--zk",
            &zk.url("/marathon"),
            "--http_port",
            &marathon_port.to_string(),
            "--hostname",
            "127.0.0.1",
        ],
        &[],
        logs.path(),
    );
    let base = format!("http://127.0.0.1:{marathon_port}");
    wait_for(Duration::from_secs(30), "marathon to register", || {
        let url = format!("{base}/v2/info");
        async move { get_json(&url).await.filter(|i| i["frameworkId"].is_string()) }
    })
    .await;
    let response = reqwest::Client::new()
        .post(format!("{base}/v2/apps"))
        .header("Content-Type", "application/json")
        .body(r#"{"id": "survivor", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let host_of_running = || {
        let url = format!("{base}/v2/apps/survivor/tasks");
        async move {
            let tasks = get_json(&url).await?;
            let running: Vec<String> = tasks["tasks"]
                .as_array()?
                .iter()
                .filter(|t| t["state"] == "TASK_RUNNING")
                .filter_map(|t| t["host"].as_str().map(str::to_string))
                .collect();
            (running.len() == 1).then(|| running[0].clone())
        }
    };
    let first_host = wait_for(Duration::from_secs(30), "the task to run", host_of_running).await;
    // The agent running it dies (its task with it).
    let (name, process) = agents.iter_mut().find(|(name, _)| *name == first_host).unwrap();
    process.kill();
    let work = if *name == "agent-a" { &work_a } else { &work_b };
    integration_tests::kill_tasks_under(work.path());
    let second_host = wait_for(Duration::from_secs(60), "the task to be replaced on the other agent", || async {
        host_of_running().await.filter(|h| *h != first_host)
    })
    .await;
    assert_ne!(first_host, second_host);
}
