//! Scenario 4: failover. Two masters and two Marathons in ZooKeeper, a hollow fleet running one task per
//! agent. Kill the leading master (SIGKILL): time until the other leads, until every agent has re-registered
//! with it, and until Marathon has re-subscribed. Then kill the leading Marathon: time until the standby
//! leads and serves the API.

use super::launch::HOLLOW_RESOURCES;
use super::{secs, Options};
use crate::cluster::Cluster;
use crate::marathon::{create_app, sleeper, wait_running};
use crate::report::Row;
use integration_tests::{get_json, wait_for};
use std::time::{Duration, Instant};

/// Runs the scenario with `options.failover_agents` hollow agents.
pub async fn run(options: &Options, rows: &mut Vec<Row>) {
    let agents = options.failover_agents;
    let mut cluster = Cluster::start("failover").await;
    // Killed leaders are noticed when their ZooKeeper sessions expire: 3 s instead of the default 10 s.
    cluster.zk_session_timeout = Duration::from_secs(3);
    cluster.add_master();
    cluster.leading_master(Duration::from_secs(30)).await;
    cluster.add_master();
    cluster.add_marathon().await;
    cluster.marathon_registered(0, Duration::from_secs(60)).await;
    cluster.add_marathon().await;
    cluster.add_hollow(agents, HOLLOW_RESOURCES);
    cluster.agents_active(agents, Duration::from_secs(600)).await;
    let client = reqwest::Client::new();
    let base = cluster.marathons[0].url("");
    if let Err(e) = create_app(&client, &base, &sleeper("/bench/failover", agents)).await {
        rows.push(Row::info("4 failover", "setup", e));
        return;
    }
    wait_running(&client, &base, agents as u64, Duration::from_millis(500), Duration::from_secs(600)).await;
    let case = format!("{agents} agents, {agents} tasks");

    // Master leader.
    let leader = cluster.leading_master(Duration::from_secs(10)).await;
    let index = cluster.masters.iter().position(|m| m.address == leader).expect("leader is ours");
    let killed = Instant::now();
    cluster.masters[index].process.kill();
    let other = cluster.masters[1 - index].address.clone();
    let metrics = format!("http://{other}/metrics/snapshot");
    let elected = until(&metrics, |m| m["master/elected"] == 1.0).await - killed;
    let all_agents = until(&metrics, |m| m["master/slaves_active"].as_f64() == Some(agents as f64)).await - killed;
    let framework = until(&metrics, |m| m["master/frameworks_active"] == 1.0).await - killed;
    rows.push(Row::info(
        "4 failover",
        format!("master leader killed ({case}): new leader / all agents re-registered / Marathon re-subscribed"),
        format!("{} / {} / {}", secs(elected), secs(all_agents), secs(framework)),
    ));

    // Marathon leader.
    let leader = get_json(&cluster.marathons[0].url("/v2/leader")).await;
    let leader = leader.and_then(|l| l["leader"].as_str().map(str::to_string)).unwrap_or_default();
    let index = cluster.marathons.iter().position(|m| leader.ends_with(&format!(":{}", m.port))).unwrap_or(0);
    let standby = cluster.marathons[1 - index].url("");
    let killed = Instant::now();
    cluster.marathons[index].process.kill();
    let elected = until(&format!("{standby}/v2/info"), |i| i["elected"] == true).await - killed;
    let registered =
        until(&format!("{standby}/v2/info"), |i| i["elected"] == true && i["frameworkId"].is_string()).await;
    let serving = until(&format!("{standby}/v2/apps"), |a| {
        a["apps"]
            .as_array()
            .is_some_and(|apps| apps.iter().any(|app| app["tasksRunning"].as_u64() == Some(agents as u64)))
    })
    .await
    .max(registered)
        - killed;
    rows.push(Row::info(
        "4 failover",
        format!("Marathon leader killed ({case}): standby elected / serving all tasks"),
        format!("{} / {}", secs(elected), secs(serving)),
    ));
}

/// Polls `url` (every 100 ms) until `accept` takes its JSON, up to five minutes; returns when.
async fn until(url: &str, accept: impl Fn(&serde_json::Value) -> bool) -> Instant {
    let accept = &accept;
    wait_for(Duration::from_secs(300), url, || async move {
        let value = get_json(url).await?;
        accept(&value).then(Instant::now)
    })
    .await
}
