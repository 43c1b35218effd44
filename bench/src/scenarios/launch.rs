//! Scenario 1 (launch throughput with hollow agents) and, at the largest sizes, scenario 3 (read latency)
//! and the loaded half of scenario 5 (RSS at scale).

use super::{reads, secs, Options};
use crate::cluster::{rss_bytes, Cluster};
use crate::marathon::{create_app, delete, sleeper, wait_no_apps, wait_running};
use crate::report::{mib, Row};
use common::mesos::TaskState;
use futures::StreamExt;
use std::time::{Duration, Instant};

/// What each hollow agent offers: room for a few hundred of the bench's tasks (0.01 cpus, 1 MB each).
pub const HOLLOW_RESOURCES: &str = "cpus:8;mem:8192;disk:1000";

/// The launch-rate target (tasks/s) and the agent count it applies to.
const TARGET_RATE: f64 = 1000.0;
const TARGET_AGENTS: usize = 1000;

/// How long a launch of `n` tasks may take before the bench reports what it reached.
fn launch_timeout(n: usize) -> Duration {
    Duration::from_secs(60) + Duration::from_millis(5 * n as u64)
}

/// Runs every launch case for every hollow fleet size.
pub async fn run(options: &Options, rows: &mut Vec<Row>) {
    let largest_agents = options.agents.iter().copied().max().unwrap_or(0);
    let largest_tasks = options.tasks.iter().copied().max().unwrap_or(0);
    for &agents in &options.agents {
        let mut cluster = Cluster::start("launch").await;
        cluster.add_master();
        cluster.leading_master(Duration::from_secs(30)).await;
        cluster.add_marathon().await;
        cluster.marathon_registered(0, Duration::from_secs(60)).await;
        let since = Instant::now();
        cluster.add_hollow(agents, HOLLOW_RESOURCES);
        cluster.agents_active(agents, Duration::from_secs(600)).await;
        rows.push(Row::info("1 launch", format!("{agents} hollow agents: all registered"), secs(since.elapsed())));
        for &n in &options.tasks {
            let measure_reads = agents == largest_agents && n == largest_tasks;
            launch(&cluster, rows, agents, 1, n, measure_reads).await;
        }
        for &n in options.tasks.iter().filter(|n| **n <= options.max_apps) {
            launch(&cluster, rows, agents, n, 1, false).await;
        }
        if agents == options.agents[0] && options.reads_apps > 0 {
            launch(&cluster, rows, agents, options.reads_apps, 10, true).await;
        }
    }
}

/// Launches `apps` apps of `instances` each (one POST per app, 16 in flight), times POST → all running,
/// optionally measures reads and RSS at that size, then deletes everything.
async fn launch(cluster: &Cluster, rows: &mut Vec<Row>, agents: usize, apps: usize, instances: usize, reads_too: bool) {
    let client = reqwest::Client::new();
    let base = cluster.marathons[0].url("");
    let group = format!("/bench/a{apps}x{instances}");
    let total = apps * instances;
    let case = if apps == 1 {
        format!("{agents} agents, 1 app x {instances}")
    } else {
        format!("{agents} agents, {apps} apps x {instances}")
    };
    eprintln!("==> launch: {case}");
    let started = Instant::now();
    let posted = futures::stream::iter(0..apps)
        .map(|i| {
            let (client, base) = (&client, &base);
            let app = sleeper(&format!("{group}/app-{i}"), instances);
            async move { create_app(client, base, &app).await }
        })
        .buffer_unordered(16)
        .filter_map(|r| async move { r.err() })
        .collect::<Vec<String>>()
        .await;
    let post_time = started.elapsed();
    if let Some(error) = posted.first() {
        rows.push(Row::info("1 launch", case, format!("{} POSTs failed, first: {error}", posted.len())));
        cleanup(cluster, &client, &base, &group).await;
        return;
    }
    let poll = if total >= 10_000 { Duration::from_secs(1) } else { Duration::from_millis(200) };
    let (reached, at) = wait_running(&client, &base, total as u64, poll, launch_timeout(total)).await;
    let elapsed = if reached as usize >= total { at.duration_since(started) } else { started.elapsed() };
    let rate = reached as f64 / elapsed.as_secs_f64();
    let value = if reached as usize >= total {
        format!("{rate:.0} tasks/s ({total} in {}, POSTs {})", secs(elapsed), secs(post_time))
    } else {
        format!("reached {reached}/{total} in {} ({rate:.0} tasks/s)", secs(elapsed))
    };
    eprintln!("    {case}: {value}");
    if agents == TARGET_AGENTS && total >= 1000 {
        rows.push(Row::target(
            "1 launch",
            case,
            value,
            ">= 1000 tasks/s",
            rate >= TARGET_RATE && reached as usize >= total,
        ));
    } else {
        rows.push(Row::info("1 launch", case, value));
    }
    if reads_too {
        let size = format!("{agents} agents, {apps} apps, {reached} tasks");
        // Resident state first; the reads below build multi-MiB answers whose freed memory the allocator
        // keeps, so the master's RSS after them is its peak, reported apart.
        let master_pid = cluster.masters[0].process.child.id();
        let master_rss = rss_bytes(master_pid);
        rows.push(Row::target(
            "5 footprint",
            format!("master RSS at {size}"),
            mib(master_rss),
            "< 500 MiB",
            master_rss < 500 << 20,
        ));
        reads::measure(cluster, &size, apps, rows).await;
        rows.push(Row::info(
            "5 footprint",
            format!("master RSS after the reads at {size}"),
            mib(rss_bytes(master_pid)),
        ));
        let marathon_rss = rss_bytes(cluster.marathons[0].process.child.id());
        rows.push(Row::info("5 footprint", format!("Marathon RSS at {size}"), mib(marathon_rss)));
        rows.push(Row::info(
            "5 footprint",
            format!("simulator (mesos-bench) RSS at {size}"),
            mib(rss_bytes(std::process::id())),
        ));
    }
    cleanup(cluster, &client, &base, &group).await;
}

/// Deletes the case's group and waits until Marathon has no apps and the fleet runs nothing.
async fn cleanup(cluster: &Cluster, client: &reqwest::Client, base: &str, group: &str) {
    if let Err(e) = delete(client, base, "groups", group).await {
        eprintln!("warning: {e}");
    }
    wait_no_apps(client, base, Duration::from_secs(300)).await;
    let deadline = Instant::now() + Duration::from_secs(300);
    while cluster.hollow_tasks_in(TaskState::TASK_RUNNING) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
