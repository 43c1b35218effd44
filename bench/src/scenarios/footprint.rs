//! Scenario 5 (idle half): role image sizes, release binary sizes, cold start to serving, and idle RSS of
//! each role. The loaded half (RSS at scale) is measured by the launch scenario.

use super::{docker, secs};
use crate::cluster::{cpu_time, rss_bytes, Cluster};
use crate::report::{mib, Row};
use integration_tests::binary;
use std::time::{Duration, Instant};

/// Image and idle-RSS targets.
const IMAGE_TARGET: u64 = 20 << 20;
const IDLE_TARGET: u64 = 15 << 20;

/// How long idle CPU use is sampled.
const IDLE_CPU_WINDOW: Duration = Duration::from_secs(10);

/// Measures everything; `tag` names the role images (`MESOS_RS_TAG`, built by `scripts/build-images.sh`).
pub async fn run(tag: &str, rows: &mut Vec<Row>) {
    for image in [format!("mesos-rs/mesos:{tag}"), format!("mesos-rs/marathon:{tag}")] {
        match docker::run("docker", &["image", "inspect", "-f", "{{.Size}}", &image]) {
            Ok(size) => {
                let bytes: u64 = size.parse().unwrap_or(0);
                rows.push(Row::target(
                    "5 footprint",
                    format!("image {image}"),
                    mib(bytes),
                    "< 20 MiB",
                    bytes < IMAGE_TARGET,
                ));
            }
            Err(_) => {
                rows.push(Row::info("5 footprint", format!("image {image}"), "not built (scripts/build-images.sh)"))
            }
        }
    }
    for name in ["mesos-master", "mesos-agent", "marathon"] {
        let size = std::fs::metadata(binary(name)).map(|m| m.len()).unwrap_or(0);
        rows.push(Row::info("5 footprint", format!("binary {name} (static, release)"), mib(size)));
    }

    let mut cluster = Cluster::start("footprint").await;
    let master = cluster.add_master().address.clone();
    let started = cluster.masters[0].started;
    let answered = first_answer(&format!("http://{master}/metrics/snapshot"), |_| true).await;
    let elected = first_answer(&format!("http://{master}/metrics/snapshot"), |m| m["master/elected"] == 1.0).await;
    rows.push(Row::info(
        "5 footprint",
        "master cold start: HTTP / elected",
        format!("{} / {}", secs(answered - started), secs(elected - started)),
    ));

    let agent_started = Instant::now();
    let agent_port = cluster.add_agent(super::latency::AGENT_RESOURCES, &[]);
    let answered = first_answer(&format!("http://127.0.0.1:{agent_port}/health"), |_| true).await;
    cluster.agents_active(1, Duration::from_secs(60)).await;
    let registered = Instant::now();
    rows.push(Row::info(
        "5 footprint",
        "agent cold start: HTTP / registered",
        format!("{} / {}", secs(answered - agent_started), secs(registered - agent_started)),
    ));

    let marathon = cluster.add_marathon().await;
    let (started, ping, info) = (marathon.started, marathon.url("/ping"), marathon.url("/v2/info"));
    let answered = first_answer(&ping, |_| true).await;
    let registered = first_answer(&info, |i| i["frameworkId"].is_string()).await;
    rows.push(Row::info(
        "5 footprint",
        "Marathon cold start: HTTP / registered",
        format!("{} / {}", secs(answered - started), secs(registered - started)),
    ));

    // Idle: let every role settle (first allocations, reconciliation) before reading RSS.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let roles = [
        ("master", cluster.masters[0].process.child.id()),
        ("agent", cluster.agents[0].0.child.id()),
        ("Marathon", cluster.marathons[0].process.child.id()),
    ];
    for (role, pid) in roles {
        let rss = rss_bytes(pid);
        rows.push(Row::target(
            "5 footprint",
            format!("{role} idle RSS"),
            mib(rss),
            "< 15 MiB",
            rss > 0 && rss < IDLE_TARGET,
        ));
    }
    // Idle CPU: an idle role should only wake for its timers (a leader loop that woke itself once spun a core).
    let before: Vec<Duration> = roles.iter().map(|(_, pid)| cpu_time(*pid)).collect();
    tokio::time::sleep(IDLE_CPU_WINDOW).await;
    for ((role, pid), before) in roles.iter().zip(before) {
        let used = cpu_time(*pid).saturating_sub(before);
        let share = used.as_secs_f64() / IDLE_CPU_WINDOW.as_secs_f64() * 100.0;
        rows.push(Row::info("5 footprint", format!("{role} idle CPU"), format!("{share:.1} % of a core")));
    }
}

/// Polls `url` every 5 ms until it answers 200 with JSON (or text) that `accept` takes; returns when (or after
/// a minute, when it never does).
async fn first_answer(url: &str, accept: impl Fn(&serde_json::Value) -> bool) -> Instant {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(url).timeout(Duration::from_secs(2)).send().await {
            if response.status().is_success() {
                let body = response.text().await.unwrap_or_default();
                let value = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
                if accept(&value) {
                    return Instant::now();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("warning: {url} did not answer as expected within a minute");
    Instant::now()
}
