//! The load test: a real cluster on loopback (ZooKeeper, a leading master, hollow agents, Marathon), then many
//! concurrent clients for a while against Marathon and the master — reads (`/v2/apps`, `/v2/tasks`,
//! `/master/state`, Marathon's `/metrics`) and writes (new apps, scaling them up and down) while apps deploy.
//! Afterwards every app a client created must be there with the last `instances` it wrote, and converge.
//! `run` returns latency and throughput per request kind and what went wrong (5xx, failed requests, lost
//! writes); the `load-test` binary prints it, and a short variant runs in the test suite.

use crate::hollow::HollowAgent;
use crate::{get_json, start_leading_master, wait_for, Process, ScratchDir, ZooKeeper};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How hard and how long to push.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long the clients run.
    pub duration: Duration,
    /// Concurrent clients.
    pub clients: usize,
    /// Hollow agents in the cluster.
    pub agents: usize,
    /// Apps each client creates at most (afterwards it only scales its own apps).
    pub apps_per_client: usize,
    /// How long apps may take to converge after the run.
    pub converge_timeout: Duration,
}

/// Request kinds, as reported.
pub const KINDS: [&str; 6] =
    ["GET /v2/apps", "GET /v2/tasks", "GET /master/state", "GET /metrics", "POST /v2/apps", "PUT /v2/apps/{id}"];

/// What one kind of request did.
#[derive(Debug, Default, Clone)]
pub struct KindStats {
    /// Latency of every answered request.
    pub latencies: Vec<Duration>,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, usize>,
    /// Requests that got no answer (connection errors, timeouts).
    pub failures: usize,
}

impl KindStats {
    /// The `q` quantile (0..=1) of the latencies.
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        sorted.get(((sorted.len() as f64 - 1.0) * q).round().max(0.0) as usize).copied().unwrap_or_default()
    }
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// Per request kind.
    pub kinds: BTreeMap<&'static str, KindStats>,
    /// How long the clients ran.
    pub elapsed: Duration,
    /// Apps created and scaled.
    pub apps: usize,
    /// Writes not found afterwards: app id, instances written, instances found.
    pub lost_writes: Vec<(String, u64, Option<u64>)>,
    /// Apps that did not converge in time: app id, wanted, running.
    pub unconverged: Vec<(String, u64, u64)>,
}

impl Report {
    /// Answers with a 5xx status, over all kinds.
    pub fn server_errors(&self) -> usize {
        self.kinds.values().flat_map(|k| &k.statuses).filter(|(s, _)| **s >= 500).map(|(_, n)| n).sum()
    }

    /// Requests without an answer, over all kinds.
    pub fn failures(&self) -> usize {
        self.kinds.values().map(|k| k.failures).sum()
    }

    /// A text table: per kind, count, throughput, statuses and latency quantiles.
    pub fn table(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| {:<19} | {:>7} | {:>7} | {:>8} | {:>8} | {:>8} | {:>8} | {:<22} |",
            "request", "count", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "statuses"
        );
        let _ = writeln!(
            out,
            "|{:-<21}|{:->9}|{:->9}|{:->10}|{:->10}|{:->10}|{:->10}|{:-<24}|",
            "", "", "", "", "", "", "", ""
        );
        let mut total = 0;
        for kind in KINDS {
            let Some(k) = self.kinds.get(kind) else { continue };
            total += k.latencies.len();
            let statuses: Vec<String> = k.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
            let _ = writeln!(
                out,
                "| {:<19} | {:>7} | {:>7.1} | {:>8} | {:>8} | {:>8} | {:>8} | {:<22} |",
                kind,
                k.latencies.len(),
                k.latencies.len() as f64 / secs,
                ms(k.quantile(0.5)),
                ms(k.quantile(0.9)),
                ms(k.quantile(0.99)),
                ms(k.quantile(1.0)),
                statuses.join(" ")
            );
        }
        let _ = writeln!(
            out,
            "\n{total} requests in {:.1} s ({:.1} req/s); {} apps; 5xx: {}; failed requests: {}; lost writes: {}; unconverged apps: {}",
            secs,
            total as f64 / secs,
            self.apps,
            self.server_errors(),
            self.failures(),
            self.lost_writes.len(),
            self.unconverged.len()
        );
        out
    }
}

/// The cluster under test; everything is stopped when dropped.
struct Cluster {
    _zk: ZooKeeper,
    _master_process: Process,
    _marathon: Process,
    _agents: Vec<HollowAgent>,
    master: String,
    marathon: String,
    _logs: ScratchDir,
}

impl Cluster {
    async fn start(agents: usize) -> Cluster {
        let zk = ZooKeeper::start().await;
        let logs = ScratchDir::new("load-logs");
        let zk_mesos = zk.url("/mesos");
        let (master_process, master) =
            start_leading_master(Some(&zk_mesos), &[("MESOS_ALLOCATION_INTERVAL", "200ms")], &logs).await;
        let hollow: Vec<HollowAgent> = (0..agents)
            .map(|_| HollowAgent::start(std::slice::from_ref(&master), "cpus:1000;mem:1000000;disk:1000000"))
            .collect();
        for agent in &hollow {
            agent.registered(1, Duration::from_secs(30)).await;
        }
        let (marathon_process, port) =
            crate::start_marathon("marathon", &zk_mesos, &zk.url("/marathon"), &[], false, &logs).await;
        let marathon = format!("127.0.0.1:{port}");
        wait_for(Duration::from_secs(60), "marathon to register with Mesos", || {
            let url = format!("http://{marathon}/v2/info");
            async move { get_json(&url).await.filter(|i| i["frameworkId"].is_string()) }
        })
        .await;
        Cluster {
            _zk: zk,
            _master_process: master_process,
            _marathon: marathon_process,
            _agents: hollow,
            master,
            marathon,
            _logs: logs,
        }
    }
}

/// A tiny deterministic generator (xorshift) so each client's mix is reproducible.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One client's record of what it wrote: app id → last `instances` acknowledged.
type Writes = BTreeMap<String, u64>;

async fn client(
    id: usize,
    http: reqwest::Client,
    cluster: (String, String),
    options: Options,
    deadline: Instant,
    stats: Arc<Mutex<BTreeMap<&'static str, KindStats>>>,
) -> Writes {
    let (master, marathon) = cluster;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut writes = Writes::new();
    while Instant::now() < deadline {
        let roll = rng.below(100);
        let (kind, request, wrote) = match roll {
            0..=24 => (KINDS[0], http.get(format!("http://{marathon}/v2/apps")), None),
            25..=44 => (KINDS[1], http.get(format!("http://{marathon}/v2/tasks")), None),
            45..=59 => (KINDS[2], http.get(format!("http://{master}/master/state")), None),
            60..=74 => (KINDS[3], http.get(format!("http://{marathon}/metrics")), None),
            _ if writes.len() < options.apps_per_client && (roll < 85 || writes.is_empty()) => {
                let app = format!("/load/c{id}-{}", writes.len());
                let body = json!({"id": app, "cmd": "sleep 100000", "cpus": 0.01, "mem": 1, "instances": 1,
                                  "portDefinitions": []});
                (KINDS[4], http.post(format!("http://{marathon}/v2/apps")).json(&body), Some((app, 1)))
            }
            _ => {
                let apps: Vec<&String> = writes.keys().collect();
                let app = apps[rng.below(apps.len() as u64) as usize].clone();
                let instances = rng.below(4);
                let url = format!("http://{marathon}/v2/apps{app}?force=true");
                (KINDS[5], http.put(url).json(&json!({"instances": instances})), Some((app, instances)))
            }
        };
        let started = Instant::now();
        let outcome = request.timeout(Duration::from_secs(30)).send().await;
        let answer = match outcome {
            Ok(response) => {
                let status = response.status().as_u16();
                let _ = response.bytes().await;
                Some(status)
            }
            Err(_) => None,
        };
        let latency = started.elapsed();
        if let (Some(status), Some((app, instances))) = (answer, wrote) {
            if (200..300).contains(&status) {
                writes.insert(app, instances);
            }
        }
        let mut stats = stats.lock().expect("stats lock");
        let entry = stats.entry(kind).or_default();
        match answer {
            Some(status) => {
                entry.latencies.push(latency);
                *entry.statuses.entry(status).or_default() += 1;
            }
            None => entry.failures += 1,
        }
    }
    writes
}

/// Starts the cluster, runs the clients, then checks that every write is there and converges.
pub async fn run(options: Options) -> Report {
    let cluster = Cluster::start(options.agents).await;
    let http = reqwest::Client::builder().pool_max_idle_per_host(options.clients).build().expect("http client");
    let stats = Arc::new(Mutex::new(BTreeMap::new()));
    let started = Instant::now();
    let deadline = started + options.duration;
    let clients: Vec<_> = (0..options.clients)
        .map(|id| {
            let endpoints = (cluster.master.clone(), cluster.marathon.clone());
            tokio::spawn(client(id, http.clone(), endpoints, options.clone(), deadline, stats.clone()))
        })
        .collect();
    let mut writes = Writes::new();
    for c in clients {
        writes.extend(c.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    let kinds = std::mem::take(&mut *stats.lock().expect("stats lock"));
    let mut report = Report { kinds, elapsed, apps: writes.len(), ..Report::default() };

    let apps_url = format!("http://{}/v2/apps", cluster.marathon);
    let found = |apps: &Value| -> BTreeMap<String, (u64, u64)> {
        apps["apps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| {
                let id = a["id"].as_str()?.to_string();
                Some((id, (a["instances"].as_u64()?, a["tasksRunning"].as_u64()?)))
            })
            .collect()
    };
    let apps = get_json(&apps_url).await.expect("marathon lists apps after the run");
    let listed = found(&apps);
    for (app, instances) in &writes {
        let got = listed.get(app).map(|(i, _)| *i);
        if got != Some(*instances) {
            report.lost_writes.push((app.clone(), *instances, got));
        }
    }
    let converge_deadline = Instant::now() + options.converge_timeout;
    loop {
        let listed = match get_json(&apps_url).await {
            Some(apps) => found(&apps),
            None => BTreeMap::new(),
        };
        report.unconverged = writes
            .iter()
            .filter_map(|(app, wanted)| {
                let running = listed.get(app).map_or(0, |(_, r)| *r);
                (running != *wanted).then(|| (app.clone(), *wanted, running))
            })
            .collect();
        if report.unconverged.is_empty() || Instant::now() > converge_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report
}
