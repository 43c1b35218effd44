//! Both web UIs in headless Chromium (Debian's `chromium` + `chromium-driver` through selenium, run by
//! `tests/python/web_ui.py`) against a live cluster on loopback: ZooKeeper, a leading and a standby master, two
//! real agents running command tasks, and Marathon. The master UI is opened on the standby and must follow the
//! leader to find both agents, the marathon framework and the app's task sandbox with its live stdout; the
//! Marathon UI must show the running app and its task and scale it from the app page's form, which is then
//! checked through the REST API; its create/edit form creates and changes a second app. Screenshots land in
//! `tests/artifacts/ui/`. Fails (does not skip) when chromium, chromedriver or selenium is missing: `.ci/run`
//! and `scripts/test.sh` install them.

use integration_tests::{binary, free_port, get_json, start_agent, wait_for, Process, ScratchDir, ZooKeeper};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const APP: &str = "/web-ui-demo";

/// The interpreter from `MESOS_RS_PYTHON` (set by `scripts/test.sh`) or `python3`; panics with what to install
/// when the browser, its driver or selenium is missing.
fn python_with_selenium() -> String {
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: install Debian's {package} (apt-get install chromium chromium-driver; .ci/run does)"
        );
    }
    let python = std::env::var("MESOS_RS_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let output = std::process::Command::new(&python)
        .args(["-c", "import selenium"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        output.status.success(),
        "{python} cannot import selenium ({}): run scripts/python-clients.sh <venv> and set MESOS_RS_PYTHON",
        String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or_default()
    );
    python
}

/// Whether the master at `address` leads (None: not answering yet).
async fn elected(address: &str) -> Option<bool> {
    get_json(&format!("http://{address}/metrics/snapshot")).await.map(|m| m["master/elected"] == 1.0)
}

/// The app's running tasks, from the REST API.
async fn running(marathon: &str) -> Vec<Value> {
    get_json(&format!("{marathon}/v2/apps{APP}"))
        .await
        .and_then(|a| a["app"]["tasks"].as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .collect()
}

#[tokio::test]
async fn both_web_uis_drive_a_live_cluster() {
    let python = python_with_selenium();
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("web-ui-logs");
    let zk_mesos = zk.url("/mesos");
    let (_leader, leader) = integration_tests::start_leading_master(Some(&zk_mesos), &[], &logs).await;
    let standby_port = free_port().to_string();
    let _standby = Process::start(
        "master-standby",
        &binary("mesos-master"),
        &[],
        &[
            ("MESOS_IP", "127.0.0.1"),
            ("MESOS_HOSTNAME", "127.0.0.1"),
            ("MESOS_PORT", standby_port.as_str()),
            ("MESOS_REGISTRY", "in_memory"),
            ("MESOS_ZK", zk_mesos.as_str()),
        ],
        logs.path(),
    );
    let standby = format!("127.0.0.1:{standby_port}");
    wait_for(SECS(20), "the second master to stand by", || async {
        (elected(&standby).await == Some(false)).then_some(())
    })
    .await;
    assert_eq!(elected(&leader).await, Some(true));

    let resources = "cpus:2;mem:2048;disk:1000;ports:[31000-31999]";
    let (work_a, work_b) = (ScratchDir::new("web-ui-agent-a"), ScratchDir::new("web-ui-agent-b"));
    let _agent_a = start_agent("agent-a", &zk_mesos, resources, &work_a, &logs);
    let _agent_b = start_agent("agent-b", &zk_mesos, resources, &work_b, &logs);
    let (_marathon, marathon_port) =
        integration_tests::start_marathon("marathon", &zk_mesos, &zk.url("/marathon"), &[], false, &logs).await;
    let marathon = format!("http://127.0.0.1:{marathon_port}");
    wait_for(SECS(60), "two agents and marathon on the master", || async {
        let state = get_json(&format!("http://{leader}/master/state")).await?;
        let agents = state["slaves"].as_array()?.len();
        let framework = state["frameworks"].as_array()?.iter().any(|f| f["name"] == "marathon");
        (agents == 2 && framework).then_some(())
    })
    .await;

    let app = format!(
        r#"{{"id": "{APP}", "cmd": "while true; do echo hello-ui; sleep 1; done", "cpus": 0.1, "mem": 16, "instances": 1}}"#
    );
    let created = reqwest::Client::new()
        .post(format!("{marathon}/v2/apps"))
        .header("Content-Type", "application/json")
        .body(app)
        .send()
        .await
        .expect("marathon answers");
    assert_eq!(created.status().as_u16(), 201);
    wait_for(SECS(60), "the app's first task to run", || async { (running(&marathon).await.len() == 1).then_some(()) })
        .await;
    let first = running(&marathon).await[0]["id"].as_str().expect("task id").to_string();

    let artifacts = concat!(env!("CARGO_MANIFEST_DIR"), "/artifacts/ui");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/web_ui.py");
    let mut command = tokio::process::Command::new(&python);
    command.args([script, &format!("http://{standby}"), &marathon, APP, artifacts]).kill_on_drop(true);
    let output = tokio::time::timeout(SECS(600), command.output())
        .await
        .expect("the browser script finishes")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "web_ui.py failed ({}); screenshots in {artifacts}:\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let steps: Vec<Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let step =
        |name: &str| steps.iter().find(|s| s["step"] == name).cloned().unwrap_or_else(|| panic!("{name}: {stdout}"));

    // The master UI, served by the standby, read the leader.
    let overview = step("master-overview");
    assert_eq!(overview["standby_notice"], true, "the page says it shows the leader, not the standby serving it");
    assert!(overview["leader"].as_str().is_some_and(|l| l.ends_with(&leader)), "{overview}");
    assert_eq!(step("master-agents")["agents"].as_array().map(Vec::len), Some(2));
    let info = get_json(&format!("{marathon}/v2/info")).await.expect("info");
    assert_eq!(step("master-frameworks")["marathon"], info["frameworkId"]);
    let files = step("master-sandbox")["files"].clone();
    assert!(files.as_array().is_some_and(|f| f.contains(&"stdout".into()) && f.contains(&"stderr".into())), "{files}");

    // The Marathon UI showed the task, scaled the app, and the REST API agrees.
    assert_eq!(step("marathon-app")["tasks"], serde_json::json!([first]));
    let app = get_json(&format!("{marathon}/v2/apps{APP}")).await.expect("app");
    assert_eq!(app["app"]["instances"], 2, "the UI's scale form changed the instance count");
    let tasks = wait_for(SECS(60), "two running tasks", || async {
        let tasks = running(&marathon).await;
        (tasks.len() == 2).then_some(tasks)
    })
    .await;
    let second: Vec<&str> = tasks.iter().filter_map(|t| t["id"].as_str()).filter(|id| *id != first).collect();
    assert_eq!(second.len(), 1, "the first task kept running and one new task runs: {tasks:?}");
    let shown = step("marathon-app-two-tasks")["tasks"].clone();
    assert!(shown.as_array().is_some_and(|t| t.contains(&second[0].into())), "the page listed the new task: {shown}");
    let master_state = get_json(&format!("http://{leader}/master/state")).await.expect("state");
    let on_master = master_state["frameworks"][0]["tasks"].as_array().map(|t| {
        t.iter()
            .filter(|t| {
                t["state"] == "TASK_RUNNING" && t["id"].as_str().is_some_and(|id| id.starts_with("web-ui-demo."))
            })
            .count()
    });
    assert_eq!(on_master, Some(2), "the master runs both of the app's tasks");

    // Validation errors show inline; the console ran an operation.
    let error = step("marathon-create-error");
    assert_eq!(error["status"], "422", "{error}");
    step("marathon-edited");
    let form_app = get_json(&format!("{marathon}/v2/apps/web-ui-form")).await.expect("the form's app");
    assert_eq!(form_app["app"]["env"], serde_json::json!({"GREETING": "hi"}), "{form_app}");
    assert_eq!(form_app["app"]["constraints"], serde_json::json!([["hostname", "UNIQUE"]]));
    assert_eq!(form_app["app"]["cmd"], "sleep 100");
    assert_eq!(form_app["app"]["mem"], 24.0, "the edit form's change was deployed");
    assert!(step("api-console")["operations"].as_u64().is_some_and(|n| n > 20));
    for shot in ["master-overview", "master-agents", "master-sandbox", "marathon-app-scaled", "api-console"] {
        assert!(Path::new(&format!("{artifacts}/{shot}.png")).exists(), "{shot}.png saved");
    }
}
