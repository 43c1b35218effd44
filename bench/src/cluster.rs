//! The processes a scenario needs, all on loopback with free ports and killed on drop: ZooKeeper (Debian's
//! package, through the test harness), masters, Marathons, real agents, and fleets of hollow agents.

use common::mesos::TaskState;
use integration_tests::hollow::HollowAgent;
use integration_tests::{
    binary, free_port, get_json, start_agent_with, start_marathon, wait_for, Process, ScratchDir, ZooKeeper,
};
use std::time::{Duration, Instant};

/// Raises this process's open-file limit as far as allowed (hard limit raised too when privileged), so
/// thousands of agent links fit; children (master, Marathon) inherit it. Returns the soft limit in force.
pub fn raise_fd_limit(wanted: u64) -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        let raised = libc::rlimit { rlim_cur: wanted.max(limit.rlim_cur), rlim_max: wanted.max(limit.rlim_max) };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            let soft = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            libc::setrlimit(libc::RLIMIT_NOFILE, &soft);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

/// Whether the roles log at INFO (`MESOS_BENCH_VERBOSE=1`) instead of WARNING, for looking into a run.
fn verbose() -> bool {
    std::env::var("MESOS_BENCH_VERBOSE").is_ok_and(|v| v == "1")
}

/// Resident set size of a process in bytes (`VmRSS` of `/proc/<pid>/status`), 0 when it is gone.
pub fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status")).ok().and_then(|status| parse_vm_rss(&status)).unwrap_or(0)
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`; zero when it cannot be read.
pub fn cpu_time(pid: u32) -> Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|stat| parse_cpu_ticks(&stat));
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Duration::from_secs_f64(ticks.unwrap_or(0) as f64 / per_second)
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line, in clock ticks. The command name (field 2)
/// may hold spaces, so fields are counted after its closing parenthesis.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so utime (14) and stime (15) are indexes 11 and 12.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// `VmRSS:   1234 kB` → bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A started master: its process and `127.0.0.1:<port>`.
pub struct Master {
    /// The process.
    pub process: Process,
    /// `127.0.0.1:<port>`.
    pub address: String,
    /// When it was spawned.
    pub started: Instant,
}

/// A started Marathon.
pub struct Marathon {
    /// The process.
    pub process: Process,
    /// HTTP port on 127.0.0.1.
    pub port: u16,
    /// When it was spawned.
    pub started: Instant,
}

impl Marathon {
    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// ZooKeeper plus whatever a scenario adds; everything is killed on drop.
pub struct Cluster {
    /// Log directory of every process.
    pub logs: ScratchDir,
    /// Masters, in start order.
    pub masters: Vec<Master>,
    /// Marathons, in start order.
    pub marathons: Vec<Marathon>,
    /// Real agents and their work dirs.
    pub agents: Vec<(Process, ScratchDir)>,
    /// The hollow fleet.
    pub hollow: Vec<HollowAgent>,
    /// The ZooKeeper server (dropped last).
    pub zk: ZooKeeper,
    /// ZooKeeper session timeout of the masters and Marathons started next: the roles' default 10 s, or
    /// shorter where the failover scenario wants a killed leader noticed sooner.
    pub zk_session_timeout: Duration,
    fleet_clients: Vec<reqwest::Client>,
}

/// HTTP/2 connections the hollow fleet shares (agents take them in turn).
const FLEET_CONNECTIONS: usize = 8;

/// A client for hollow agents that multiplexes every agent's link and updates over one HTTP/2 connection
/// (cleartext, prior knowledge; the roles' servers speak both HTTP/1.1 and HTTP/2). Over HTTP/1.1 each agent
/// held one connection for its event stream plus one per update in flight, so a fleet of thousands ran the
/// master (and this process) out of file descriptors, which real agents, one per host, never do. No redirects
/// are followed: a hollow agent handles a standby's 307 itself.
fn fleet_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

impl Cluster {
    /// Starts ZooKeeper, with a heap for Marathon's state at the bench's largest sizes (1 GiB, as a
    /// production ensemble for 100,000 tasks would have at least).
    pub async fn start(name: &str) -> Cluster {
        let zk = ZooKeeper::start_with_heap(1024).await;
        Cluster {
            logs: ScratchDir::new(&format!("bench-{name}")),
            masters: Vec::new(),
            marathons: Vec::new(),
            agents: Vec::new(),
            hollow: Vec::new(),
            zk,
            zk_session_timeout: Duration::from_secs(10),
            fleet_clients: (0..FLEET_CONNECTIONS).map(|_| fleet_client()).collect(),
        }
    }

    /// Every master's `host:port`.
    pub fn master_addresses(&self) -> Vec<String> {
        self.masters.iter().map(|m| m.address.clone()).collect()
    }

    /// Starts a master contending in ZooKeeper (in-memory registry) without waiting for it.
    pub fn add_master(&mut self) -> &Master {
        let port = free_port().to_string();
        let zk = self.zk.url("/mesos");
        let session_timeout = format!("{}ms", self.zk_session_timeout.as_millis());
        let env = [
            ("MESOS_IP", "127.0.0.1"),
            ("MESOS_HOSTNAME", "127.0.0.1"),
            ("MESOS_PORT", port.as_str()),
            ("MESOS_REGISTRY", "in_memory"),
            ("MESOS_ZK", zk.as_str()),
            ("MESOS_ZK_SESSION_TIMEOUT", session_timeout.as_str()),
            ("MESOS_LOGGING_LEVEL", if verbose() { "INFO" } else { "WARNING" }),
        ];
        let name = format!("master-{}", self.masters.len() + 1);
        let started = Instant::now();
        let process = Process::start(&name, &binary("mesos-master"), &[], &env, self.logs.path());
        self.masters.push(Master { process, address: format!("127.0.0.1:{port}"), started });
        self.masters.last().expect("just pushed")
    }

    /// The `host:port` of the master whose metrics say it is elected, once one is (within `timeout`).
    pub async fn leading_master(&self, timeout: Duration) -> String {
        let addresses = self.master_addresses();
        wait_for(timeout, "a leading master", || {
            let addresses = addresses.clone();
            async move {
                for address in addresses {
                    let metrics = get_json(&format!("http://{address}/metrics/snapshot")).await;
                    if metrics.is_some_and(|m| m["master/elected"] == 1.0) {
                        return Some(address);
                    }
                }
                None
            }
        })
        .await
    }

    /// Starts a Marathon (HA on, so several elect a leader) following the masters through ZooKeeper, without
    /// waiting for it.
    pub async fn add_marathon(&mut self) -> &Marathon {
        let (master, zk) = (self.zk.url("/mesos"), self.zk.url("/marathon"));
        let name = format!("marathon-{}", self.marathons.len() + 1);
        let level = if verbose() { "info" } else { "warn" };
        let session_timeout = self.zk_session_timeout.as_millis().to_string();
        let extra = ["--zk_session_timeout", session_timeout.as_str(), "--logging_level", level];
        let started = Instant::now();
        let (process, port) = start_marathon(&name, &master, &zk, &extra, false, &self.logs).await;
        self.marathons.push(Marathon { process, port, started });
        self.marathons.last().expect("just pushed")
    }

    /// Waits until Marathon `index` has a framework id (registered with the leading master).
    pub async fn marathon_registered(&self, index: usize, timeout: Duration) {
        let info = self.marathons[index].url("/v2/info");
        wait_for(timeout, "Marathon to register with Mesos", || {
            let info = info.clone();
            async move { get_json(&info).await.filter(|i| i["frameworkId"].is_string()).map(|_| ()) }
        })
        .await;
    }

    /// Starts a real agent (release `mesos-agent`) with `resources`, plus `extra` environment (e.g.
    /// `MESOS_CONTAINERIZERS`); returns its HTTP port.
    pub fn add_agent(&mut self, resources: &str, extra: &[(&str, &str)]) -> u16 {
        let work = ScratchDir::new("bench-agent");
        let name = format!("agent-{}", self.agents.len() + 1);
        let zk = self.zk.url("/mesos");
        let (process, port) = start_agent_with(&name, &zk, resources, &work, &self.logs, extra);
        self.agents.push((process, work));
        port
    }

    /// Starts `count` hollow agents offering `resources`, sharing the fleet's HTTP/2 connections.
    pub fn add_hollow(&mut self, count: usize, resources: &str) {
        let masters = self.master_addresses();
        for _ in 0..count {
            let client = &self.fleet_clients[self.hollow.len() % self.fleet_clients.len()];
            self.hollow.push(HollowAgent::start_with(client, &masters, resources));
        }
    }

    /// Waits until the leading master counts `count` active agents; returns how long that took.
    pub async fn agents_active(&self, count: usize, timeout: Duration) -> Duration {
        let since = Instant::now();
        let leader = self.leading_master(timeout).await;
        let url = format!("http://{leader}/metrics/snapshot");
        wait_for(timeout, "the agents to register", || {
            let url = url.clone();
            async move {
                let metrics = get_json(&url).await?;
                (metrics["master/slaves_active"].as_f64()? as usize >= count).then_some(())
            }
        })
        .await;
        since.elapsed()
    }

    /// Tasks the hollow fleet has in `state`.
    pub fn hollow_tasks_in(&self, state: TaskState) -> usize {
        self.hollow.iter().map(|a| a.tasks_in(state)).sum()
    }
}

impl Drop for Cluster {
    /// Keeps the processes' logs (in `$TMPDIR/mesos-bench-logs/<scenario>/`) for a look after the run.
    fn drop(&mut self) {
        let name = self.logs.path().file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let scenario = name.split('-').nth(4).unwrap_or("run");
        let keep = std::env::temp_dir().join("mesos-bench-logs").join(scenario);
        let _ = std::fs::create_dir_all(&keep);
        for entry in std::fs::read_dir(self.logs.path()).into_iter().flatten().flatten() {
            let _ = std::fs::copy(entry.path(), keep.join(entry.file_name()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\tmesos-master\nVmPeak:\t  9000 kB\nVmRSS:\t    5120 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(5120 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn cpu_ticks_are_user_plus_system_even_with_spaces_in_the_name() {
        let stat = "4242 (tokio worker 1) S 1 4242 4242 0 -1 4194560 500 0 0 0 37 5 0 0 20 0 4 0 100 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(42));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1"), None);
    }
}
