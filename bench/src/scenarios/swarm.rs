//! Scenario 6: side by side on the same Docker engine with the same tiny image: time until N containers run
//! via our Marathon (a Docker app through a real agent) versus `docker service create --replicas N` in Docker
//! Swarm mode. The swarm is created for the run and always left again (also on failure or panic).

use super::docker::{labelled_containers, remove_labelled_containers, run as docker, tiny_image, LABEL};
use super::{secs, Options};
use crate::cluster::Cluster;
use crate::marathon::{create_app, delete, docker_sleeper, wait_no_apps, wait_running};
use crate::report::Row;
use std::time::{Duration, Instant};

/// The bridge network `docker swarm init` creates and `docker swarm leave` keeps.
const GATEWAY_BRIDGE: &str = "docker_gwbridge";

/// A swarm this process created; leaving it (and removing our services, and the gateway bridge when the swarm
/// brought it) on drop.
struct Swarm {
    created_bridge: bool,
}

impl Swarm {
    /// `docker swarm init` on the local engine, unless it is already in a swarm (then nothing is touched).
    fn init() -> Result<Swarm, String> {
        let state = docker("docker", &["info", "-f", "{{.Swarm.LocalNodeState}}"])?;
        if state != "inactive" {
            return Err(format!("the engine's swarm state is '{state}'; not touching a swarm this run did not create"));
        }
        let bridge_existed = docker("docker", &["network", "inspect", GATEWAY_BRIDGE]).is_ok();
        docker("docker", &["swarm", "init", "--advertise-addr", "127.0.0.1"])?;
        Ok(Swarm { created_bridge: !bridge_existed })
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        remove_services();
        if let Err(e) = docker("docker", &["swarm", "leave", "--force"]) {
            eprintln!("warning: {e}");
        }
        wait_containers_gone(Duration::from_secs(60));
        if self.created_bridge {
            if let Err(e) = docker("docker", &["network", "rm", GATEWAY_BRIDGE]) {
                eprintln!("warning: {e}");
            }
        }
    }
}

/// Removes every service labelled for the bench.
fn remove_services() {
    let filter = format!("label={LABEL}");
    if let Ok(ids) = docker("docker", &["service", "ls", "-q", "--filter", &filter]) {
        for id in ids.lines().filter(|l| !l.is_empty()) {
            let _ = docker("docker", &["service", "rm", id]);
        }
    }
}

/// Waits until no labelled container runs (a stopped one waits for its agent's garbage collection, which
/// would otherwise be timed here too).
fn wait_containers_gone(timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !labelled_containers(false).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Runs each N through Marathon, then through Swarm, and reports both and their ratio.
pub async fn run(options: &Options, rows: &mut Vec<Row>) {
    let image = match tiny_image() {
        Ok(image) => image,
        Err(e) => return rows.push(Row::info("6 vs Swarm", "setup", format!("skipped: {e}"))),
    };
    let mut cluster = Cluster::start("swarm").await;
    cluster.add_master();
    cluster.leading_master(Duration::from_secs(30)).await;
    cluster.add_agent(super::latency::AGENT_RESOURCES, &[("MESOS_CONTAINERIZERS", "docker,mesos")]);
    cluster.agents_active(1, Duration::from_secs(60)).await;
    cluster.add_marathon().await;
    cluster.marathon_registered(0, Duration::from_secs(60)).await;
    let base = cluster.marathons[0].url("");
    let client = reqwest::Client::new();

    let mut ours = Vec::new();
    for &n in &options.swarm {
        let id = format!("/bench/swarm-{n}");
        let started = Instant::now();
        if let Err(e) = create_app(&client, &base, &docker_sleeper(&id, n, &image)).await {
            rows.push(Row::info("6 vs Swarm", format!("N={n} Marathon"), e));
            ours.push(None);
            continue;
        }
        let (reached, at) =
            wait_running(&client, &base, n as u64, Duration::from_millis(100), Duration::from_secs(600)).await;
        ours.push((reached as usize >= n).then(|| at.duration_since(started)));
        let _ = delete(&client, &base, "apps", &id).await;
        wait_no_apps(&client, &base, Duration::from_secs(120)).await;
        wait_containers_gone(Duration::from_secs(120));
    }
    drop(cluster);
    remove_labelled_containers();

    let swarm = match Swarm::init() {
        Ok(swarm) => swarm,
        Err(e) => {
            for (n, ours) in options.swarm.iter().zip(&ours) {
                let value = ours.map_or("did not finish".to_string(), secs);
                rows.push(Row::info(
                    "6 vs Swarm",
                    format!("N={n}: Marathon / Swarm"),
                    format!("{value} / skipped: {e}"),
                ));
            }
            return;
        }
    };
    for (&n, ours) in options.swarm.iter().zip(ours) {
        let theirs = swarm_time(n, &image);
        let case = format!("N={n} containers running: Marathon / Swarm");
        match (ours, theirs) {
            (Some(ours), Ok(theirs)) => {
                let ratio = theirs.as_secs_f64() / ours.as_secs_f64();
                let value = format!("{} / {} (Swarm takes {ratio:.2}x)", secs(ours), secs(theirs));
                rows.push(Row::target("6 vs Swarm", case, value, "faster than Swarm", ours < theirs));
            }
            (ours, theirs) => {
                let ours = ours.map_or("did not finish".to_string(), secs);
                let theirs = theirs.map_or_else(|e| e, secs);
                rows.push(Row::target("6 vs Swarm", case, format!("{ours} / {theirs}"), "faster than Swarm", false));
            }
        }
    }
    drop(swarm);
}

/// `docker service create --replicas n` (host network like the Marathon app), timed until `n/n` replicas run;
/// the service is removed afterwards.
fn swarm_time(n: usize, image: &str) -> Result<Duration, String> {
    let name = format!("mesos-rs-bench-{n}");
    let replicas = n.to_string();
    let started = Instant::now();
    docker(
        "docker",
        &[
            "service",
            "create",
            "--detach",
            "--quiet",
            "--name",
            &name,
            "--label",
            LABEL,
            "--container-label",
            LABEL,
            "--network",
            "host",
            "--replicas",
            &replicas,
            "--reserve-cpu",
            "0.01",
            image,
            "sleep",
            "3600",
        ],
    )?;
    let wanted = format!("{n}/{n}");
    let deadline = started + Duration::from_secs(600);
    let result = loop {
        let replicas =
            docker("docker", &["service", "ls", "--filter", &format!("name={name}"), "--format", "{{.Replicas}}"]);
        if replicas.as_deref().is_ok_and(|r| r.starts_with(&wanted)) {
            break Ok(started.elapsed());
        }
        if Instant::now() > deadline {
            break Err(format!("not {wanted} after 10 minutes ({replicas:?})"));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = docker("docker", &["service", "rm", &name]);
    wait_containers_gone(Duration::from_secs(120));
    result
}
