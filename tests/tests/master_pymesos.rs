//! pymesos 0.3.15, unmodified, as a framework on the real master: it finds the master through ZooKeeper
//! (`zk://`) and at a fixed `host:port`, launches `echo hi` and `exit 3` on a hollow agent and on a real agent, sees TASK_FINISHED
//! and TASK_FAILED after acknowledging each update, and tears itself down. Skipped (with the reason printed)
//! when the Python interpreter cannot import pymesos; nothing is installed at test time.

use integration_tests::hollow::HollowAgent;
use integration_tests::{start_agent, start_leading_master, wait_for, wait_for_state, ScratchDir, ZooKeeper};
use serde_json::Value;
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// The interpreter from `MESOS_RS_PYTHON` (set by `scripts/test.sh`) or `python3`, if it can import pymesos.
fn python_with_pymesos() -> Result<String, String> {
    let python = std::env::var("MESOS_RS_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let output = std::process::Command::new(&python)
        .args(["-c", "import pymesos"])
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if output.status.success() {
        Ok(python)
    } else {
        Err(format!(
            "{python} cannot import pymesos: {}",
            String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or_default()
        ))
    }
}

/// Runs the framework script against `master` and returns its JSON lines; panics on failure or after 90 s.
async fn run_framework(python: &str, master: &str, name: &str) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/pymesos_framework.py");
    let mut command = tokio::process::Command::new(python);
    command.args([script, master, name]).kill_on_drop(true);
    let output =
        tokio::time::timeout(SECS(90), command.output()).await.expect("the framework finishes").expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(
        output.status.success(),
        "pymesos framework failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    lines
}

fn states(lines: &[Value], task_id: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["event"] == "update" && l["task_id"] == task_id)
        .map(|l| l["state"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn pymesos_runs_tasks_through_zk_and_host_port() {
    let python = match python_with_pymesos() {
        Ok(python) => python,
        Err(reason) => {
            eprintln!("skipped: {reason} (scripts/test.sh installs pymesos==0.3.15)");
            return;
        }
    };
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("pymesos-logs");
    let zk_url = zk.url("/mesos");
    let (_master, master) = start_leading_master(Some(&zk_url), &[("MESOS_ALLOCATION_INTERVAL", "100ms")], &logs).await;
    let agent = HollowAgent::start(std::slice::from_ref(&master), "cpus:2;mem:1024");
    agent.registered(1, SECS(10)).await;

    for (how, address, name) in [("zk", zk_url.as_str(), "py-zk"), ("host:port", master.as_str(), "py-direct")] {
        let lines = run_framework(&python, address, name).await;
        let framework_id =
            lines.iter().find(|l| l["event"] == "registered").expect("registered")["framework_id"].clone();
        assert_eq!(
            states(&lines, &format!("{name}-echo")),
            ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"],
            "via {how}"
        );
        assert_eq!(
            states(&lines, &format!("{name}-fail")),
            ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"],
            "via {how}"
        );
        assert!(
            lines.iter().filter(|l| l["event"] == "update").all(|l| l["has_uuid"] == true),
            "reliable updates via {how}"
        );
        // Each update after the first came only because pymesos acknowledged the one before; the last ones too.
        for (task, state) in [("echo", "TASK_FINISHED"), ("fail", "TASK_FAILED")] {
            let task_id = format!("{name}-{task}");
            wait_for(SECS(5), "the terminal update to be acknowledged", || {
                let task_id = task_id.clone();
                let agent = &agent;
                async move {
                    agent.acknowledged().iter().any(|(t, s)| *t == task_id && format!("{s:?}") == state).then_some(())
                }
            })
            .await;
        }
        // driver.stop() tore the framework down.
        let state = wait_for_state(&master, SECS(5), "TEARDOWN to remove the framework", |s| {
            s["completed_frameworks"].as_array().is_some_and(|c| c.iter().any(|f| f["id"] == framework_id))
        })
        .await;
        assert!(state["frameworks"].as_array().is_some_and(|f| f.iter().all(|f| f["id"] != framework_id)), "via {how}");
    }
    assert_eq!(agent.unacknowledged(), 0);
}

#[tokio::test]
async fn pymesos_runs_real_command_tasks_on_a_real_agent() {
    let python = match python_with_pymesos() {
        Ok(python) => python,
        Err(reason) => {
            eprintln!("skipped: {reason} (scripts/test.sh installs pymesos==0.3.15)");
            return;
        }
    };
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("pymesos-real-logs");
    let work = ScratchDir::new("pymesos-real-agent");
    let zk_url = zk.url("/mesos");
    let (_master, master) = start_leading_master(Some(&zk_url), &[], &logs).await;
    let (_agent, _) = start_agent("agent", &zk_url, "cpus:2;mem:1024", &work, &logs);
    wait_for_state(&master, SECS(20), "the agent to register", |s| {
        s["slaves"].as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    let lines = run_framework(&python, &zk_url, "py-real").await;
    assert_eq!(states(&lines, "py-real-echo"), ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);
    assert_eq!(states(&lines, "py-real-fail"), ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"]);
    let failed = lines.iter().find(|l| l["task_id"] == "py-real-fail" && l["state"] == "TASK_FAILED").unwrap();
    assert!(lines.iter().filter(|l| l["event"] == "update").all(|l| l["has_uuid"] == true), "{failed}");
}
