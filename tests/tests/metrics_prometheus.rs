//! Every role's Prometheus metrics pass `promtool check metrics` (Debian's `prometheus` package) with no lint
//! complaints, and carry the key metrics with samples once an app has been launched through Marathon; a role
//! given `MESOS_LOG_DIR` writes its log file there.

use integration_tests::{get_json, wait_for, ScratchDir, ZooKeeper};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// GETs a URL as text.
async fn get_text(url: &str) -> String {
    let response = reqwest::Client::new().get(url).timeout(Duration::from_secs(10)).send().await.expect("answer");
    assert!(response.status().is_success(), "{url}: {}", response.status());
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{url}: content type {content_type}");
    response.text().await.expect("text body")
}

/// Runs `promtool check metrics` over `text`; returns its exit success and everything it printed.
fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write metrics");
    let output = child.wait_with_output().expect("promtool runs");
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), printed)
}

/// The value of the first sample line starting with `series` (name plus, optionally, the opening of labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Asserts promtool accepts `text` silently and that each of `names` has a TYPE line.
fn check(role: &str, text: &str, names: &[&str]) {
    let (ok, printed) = promtool(text);
    assert!(ok && printed.trim().is_empty(), "promtool rejects {role}'s metrics:\n{printed}\n---\n{text}");
    for name in names {
        assert!(text.contains(&format!("# TYPE {name} ")), "{role}: {name} missing in\n{text}");
    }
}

#[tokio::test]
async fn every_role_serves_metrics_promtool_accepts() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("metrics-logs");
    let work = ScratchDir::new("metrics-agent");
    let zk_mesos = zk.url("/mesos");
    let (_master, master) =
        integration_tests::start_leading_master(Some(&zk_mesos), &[("MESOS_ALLOCATION_INTERVAL", "100ms")], &logs)
            .await;
    let resources = "cpus:2;mem:1024;disk:1000;ports:[31000-31099]";
    let (_agent, agent_port) = integration_tests::start_agent("agent", &zk_mesos, resources, &work, &logs);
    let (_marathon, marathon_port) =
        integration_tests::start_marathon("marathon", &zk_mesos, &zk.url("/marathon"), &[], false, &logs).await;
    let marathon = format!("http://127.0.0.1:{marathon_port}");
    wait_for(Duration::from_secs(30), "Marathon to register with Mesos", || {
        let url = format!("{marathon}/v2/info");
        async move { get_json(&url).await.filter(|i| i["frameworkId"].is_string()) }
    })
    .await;
    let app = r#"{"id": "metrics", "cmd": "sleep 600", "cpus": 0.1, "mem": 16, "instances": 1}"#;
    let response = reqwest::Client::new()
        .post(format!("{marathon}/v2/apps"))
        .header("Content-Type", "application/json")
        .body(app)
        .send()
        .await
        .expect("Marathon answers");
    assert_eq!(response.status().as_u16(), 201);
    // Running, acknowledged, and the deployment finished: every latency has been observed.
    wait_for(Duration::from_secs(60), "the app to run and its deployment to finish", || {
        let url = format!("{marathon}/v2/apps/metrics");
        async move {
            get_json(&url)
                .await
                .filter(|a| a["app"]["tasksRunning"] == 1 && a["app"]["deployments"] == serde_json::json!([]))
        }
    })
    .await;
    let agent_metrics = format!("http://127.0.0.1:{agent_port}/metrics");
    wait_for(Duration::from_secs(30), "the agent to see the RUNNING update acknowledged", || {
        let url = agent_metrics.clone();
        async move {
            let text = get_text(&url).await;
            (sample(&text, "mesos_agent_status_update_acknowledgement_duration_seconds_count")? >= 1.0).then_some(())
        }
    })
    .await;

    let text = get_text(&format!("http://{master}/metrics")).await;
    check(
        "master",
        &text,
        &[
            "mesos_master_http_requests_total",
            "mesos_master_http_request_duration_seconds",
            "mesos_master_offers_made_total",
            "mesos_master_offers_declined_total",
            "mesos_master_offers_accepted_total",
            "mesos_master_task_status_updates_total",
            "mesos_master_allocation_cycle_duration_seconds",
            "mesos_master_tasks",
            "mesos_master_agents",
            "mesos_master_frameworks",
            "mesos_master_memory_bytes",
            "mesos_master_elected",
            "zookeeper_session_connected",
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
        ],
    );
    assert_eq!(sample(&text, "mesos_master_elected"), Some(1.0));
    assert_eq!(sample(&text, r#"mesos_master_agents{state="active"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"mesos_master_tasks{state="running"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"zookeeper_session_connected{session="election"}"#), Some(1.0));
    assert_eq!(sample(&text, "mesos_master_memory_bytes{kind=\"total\"}"), Some(1024.0 * 1024.0 * 1024.0));
    assert!(sample(&text, "mesos_master_offers_made_total").unwrap_or(0.0) >= 1.0, "{text}");
    assert!(sample(&text, "mesos_master_offers_accepted_total").unwrap_or(0.0) >= 1.0, "{text}");

    let text = get_text(&agent_metrics).await;
    check(
        "agent",
        &text,
        &[
            "mesos_agent_http_requests_total",
            "mesos_agent_http_request_duration_seconds",
            "mesos_agent_status_update_acknowledgement_duration_seconds",
            "mesos_agent_tasks",
            "mesos_agent_registered",
            "mesos_agent_status_updates_pending",
            "zookeeper_session_connected",
            "process_resident_memory_bytes",
        ],
    );
    assert_eq!(sample(&text, "mesos_agent_registered"), Some(1.0));
    assert_eq!(sample(&text, r#"mesos_agent_tasks{state="running"}"#), Some(1.0));

    let text = get_text(&format!("{marathon}/metrics/prometheus")).await;
    check(
        "marathon",
        &text,
        &[
            "marathon_http_requests_total",
            "marathon_http_request_duration_seconds",
            "marathon_task_launch_duration_seconds",
            "marathon_leader",
            "marathon_apps",
            "marathon_tasks",
            "marathon_deployments",
            "zookeeper_session_connected",
            "process_resident_memory_bytes",
        ],
    );
    assert_eq!(sample(&text, "marathon_leader"), Some(1.0));
    assert_eq!(sample(&text, "marathon_task_launch_duration_seconds_count"), Some(1.0));
    assert_eq!(sample(&text, r#"marathon_tasks{state="running"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"zookeeper_session_connected{session="election"}"#), Some(1.0));
    let json = get_json(&format!("{marathon}/metrics")).await.expect("Marathon's 1.4 metrics JSON");
    assert_eq!(json["gauges"]["service.mesosphere.marathon.task.running.count"]["value"], 1, "{json}");
}

#[tokio::test]
async fn a_role_with_a_log_dir_writes_its_log_file_there() {
    let logs = ScratchDir::new("logdir-logs");
    let log_dir = logs.path().join("mesos");
    let dir = log_dir.display().to_string();
    let (_master, _) =
        integration_tests::start_leading_master(None, &[("MESOS_LOG_DIR", &dir), ("MESOS_LOG_FORMAT", "json")], &logs)
            .await;
    let file = log_dir.join("mesos-master.log");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let lines: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    assert!(lines.iter().any(|l| l["level"] == "INFO" && l["fields"]["message"] == "mesos-master listening"), "{text}");

    // WARNING hides INFO lines, in the file as on stderr.
    let quiet = logs.path().join("quiet");
    let quiet_dir = quiet.display().to_string();
    let (_quiet, _) = integration_tests::start_leading_master(
        None,
        &[("MESOS_LOG_DIR", &quiet_dir), ("MESOS_LOGGING_LEVEL", "WARNING")],
        &logs,
    )
    .await;
    let text = std::fs::read_to_string(quiet.join("mesos-master.log")).expect("the log file exists");
    assert!(!text.contains("listening"), "{text}");
}
