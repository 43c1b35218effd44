//! Scenario 2: launch latency, POST /v2/apps → TASK_RUNNING seen on Marathon's event stream, for a command
//! task and for a Docker task, on one real agent (`--containerizers=docker,mesos`).

use super::{docker, Options};
use crate::cluster::Cluster;
use crate::marathon::{create_app, delete, docker_sleeper, sleeper, watch_status};
use crate::report::{p50_p99, percentile, Row};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The command-task p99 target.
const TARGET_P99: Duration = Duration::from_millis(500);

/// Resources of the real agent; host ports clear of the compose cluster's 31000-32000.
pub const AGENT_RESOURCES: &str = "cpus:16;mem:16384;disk:10000;ports:[41000-41999]";

/// Runs both kinds, `options.samples` launches each, one at a time.
pub async fn run(options: &Options, rows: &mut Vec<Row>) {
    let mut cluster = Cluster::start("latency").await;
    cluster.add_master();
    cluster.leading_master(Duration::from_secs(30)).await;
    cluster.add_agent(AGENT_RESOURCES, &[("MESOS_CONTAINERIZERS", "docker,mesos")]);
    cluster.agents_active(1, Duration::from_secs(60)).await;
    cluster.add_marathon().await;
    cluster.marathon_registered(0, Duration::from_secs(60)).await;
    let base = cluster.marathons[0].url("");

    let command = samples(&base, options.samples, |id| sleeper(id, 1)).await;
    let met = percentile(&command, 99.0).is_some_and(|p99| p99 < TARGET_P99);
    rows.push(Row::target("2 latency", "command task, real agent", p50_p99(&command), "p99 < 500 ms", met));

    match docker::tiny_image() {
        Ok(image) => {
            let kind = samples(&base, options.samples, |id| docker_sleeper(id, 1, &image)).await;
            docker::remove_labelled_containers();
            rows.push(Row::info("2 latency", "Docker task, real agent", p50_p99(&kind)));
        }
        Err(e) => rows.push(Row::info("2 latency", "Docker task, real agent", format!("skipped: {e}"))),
    }
}

/// Launches `count` one-instance apps one after another; returns POST → TASK_RUNNING of each that ran.
async fn samples(base: &str, count: usize, app: impl Fn(&str) -> Value) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let mut events = match watch_status(base).await {
        Ok(events) => events,
        Err(e) => {
            eprintln!("warning: {e}");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for i in 0..count {
        let id = format!("/bench/latency/app-{}-{i}", std::process::id());
        let started = Instant::now();
        if let Err(e) = create_app(&client, base, &app(&id)).await {
            eprintln!("warning: {e}");
            continue;
        }
        let deadline = started + Duration::from_secs(60);
        while let Ok(Some((app_id, status, at))) =
            tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), events.recv()).await
        {
            if app_id == id && status == "TASK_RUNNING" {
                out.push(at.duration_since(started));
                break;
            }
        }
        if let Err(e) = delete(&client, base, "apps", &id).await {
            eprintln!("warning: {e}");
        }
    }
    out
}
