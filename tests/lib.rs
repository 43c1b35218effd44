//! Test harness for integration tests: a real ZooKeeper (Debian's `zookeeper` package) and the real role
//! binaries, all on loopback with free ports, killed and cleaned up when dropped, pass or fail.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A scratch directory removed on drop.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    /// Creates a fresh directory under the system temp dir.
    pub fn new(name: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("mesos-rs-test-{name}-{}-{}", std::process::id(), free_port()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        ScratchDir(dir)
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    /// Kills any task an agent started with its sandbox in this directory (tasks outlive agents by design,
    /// each in its own session with its supervisor), then removes the directory.
    fn drop(&mut self) {
        kill_tasks_under(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills (SIGKILL) every session that has a process whose `MESOS_DIRECTORY`/`MESOS_SANDBOX` lies under `dir`.
pub fn kill_tasks_under(dir: &Path) {
    let prefix = dir.display().to_string();
    let mut sessions = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        let ours = environ.split(|b| *b == 0).any(|var| {
            let var = String::from_utf8_lossy(var);
            ["MESOS_DIRECTORY=", "MESOS_SANDBOX="]
                .iter()
                .any(|key| var.strip_prefix(key).is_some_and(|v| v.starts_with(&prefix)))
        });
        if ours {
            // SAFETY: getsid has no memory effects.
            let sid = unsafe { libc::getsid(pid) };
            if sid > 1 && !sessions.contains(&sid) {
                sessions.push(sid);
            }
        }
    }
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        // SAFETY: getsid and kill take plain integers.
        if sessions.contains(&unsafe { libc::getsid(pid) }) {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// A child process killed (SIGKILL) on drop; its output goes to a log file shown on failure.
pub struct Process {
    /// The child.
    pub child: Child,
    /// Name for messages.
    pub name: String,
    /// Combined stdout/stderr.
    pub log: PathBuf,
}

impl Process {
    /// Starts `program` with `args` and `env` (the parent's environment is not inherited except PATH/HOME).
    pub fn start(name: &str, program: &Path, args: &[&str], env: &[(&str, &str)], log_dir: &Path) -> Process {
        let log = log_dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut command = Command::new(program);
        command.args(args).env_clear().stdin(Stdio::null()).stdout(out).stderr(err);
        for var in ["PATH", "HOME"] {
            if let Ok(v) = std::env::var(var) {
                command.env(var, v);
            }
        }
        command.envs(env.iter().copied());
        // SAFETY: prctl is async-signal-safe; it makes the child die if the test process dies first.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        Process { child, name: name.to_string(), log }
    }

    /// The log so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills with SIGKILL and waits.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit; returns the exit status (None: still running).
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("----- {} log -----\n{}", self.name, self.output());
        }
    }
}

/// Path of a role binary built in the same profile as the running test (in `target/<profile>/deps/`) or
/// binary (in `target/<profile>/`, like the `load-test` binary).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let parent = exe.parent().expect("executable dir");
    let dir = if parent.ends_with("deps") { parent.parent().expect("target profile dir") } else { parent };
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --bins` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Runs a binary to completion and returns (exit code, stdout+stderr).
pub fn run_to_exit(program: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let output = Command::new(program).args(args).env_clear().envs(env.iter().copied()).output().expect("run");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A standalone ZooKeeper server on loopback, from Debian's `zookeeper` package.
pub struct ZooKeeper {
    /// Client port.
    pub port: u16,
    process: Process,
    _dir: ScratchDir,
}

impl ZooKeeper {
    /// Starts a server (tick 500 ms, so session timeouts of 1-10 s are allowed, 128 MiB of heap) and waits
    /// until it answers.
    pub async fn start() -> ZooKeeper {
        ZooKeeper::start_with_heap(128).await
    }

    /// [`ZooKeeper::start`] with `heap_mib` of Java heap (ZooKeeper keeps every znode in memory: a bench
    /// holding 100,000 task records needs more than the tests' default).
    pub async fn start_with_heap(heap_mib: u32) -> ZooKeeper {
        let dir = ScratchDir::new("zk");
        let port = free_port();
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=ruok,srvr\n",
                dir.path().display()
            ),
        )
        .expect("zoo.cfg");
        let classpath = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar";
        assert!(Path::new("/usr/share/java/zookeeper.jar").exists(), "Debian's zookeeper package is not installed");
        let cfg_text = cfg.display().to_string();
        let heap = format!("-Xmx{heap_mib}m");
        let process = Process::start(
            "zookeeper",
            Path::new("/usr/bin/java"),
            &[&heap, "-cp", classpath, "org.apache.zookeeper.server.ZooKeeperServerMain", &cfg_text],
            &[],
            dir.path(),
        );
        let zk = ZooKeeper { port, process, _dir: dir };
        wait_for(Duration::from_secs(30), "ZooKeeper to answer ruok", || async move { zk_ruok(port).then_some(()) })
            .await;
        zk
    }

    /// `zk://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("zk://127.0.0.1:{}{path}", self.port)
    }

    /// Stops the server (SIGKILL).
    pub fn stop(&mut self) {
        self.process.kill();
    }
}

fn zk_ruok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"ruok").is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf == "imok"
}

/// GET a URL and parse JSON, or `None` on any failure.
pub async fn get_json(url: &str) -> Option<serde_json::Value> {
    get_json_as(url, None).await
}

/// Like [`get_json`], presenting HTTP Basic credentials `(user, password)` when given.
pub async fn get_json_as(url: &str, credential: Option<(&str, &str)>) -> Option<serde_json::Value> {
    let mut request = reqwest::Client::new().get(url).timeout(Duration::from_secs(5));
    if let Some((user, password)) = credential {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// Polls a master's `/master/state` (through its redirect when it is a standby) until `check` accepts it.
pub async fn wait_for_state<F>(master: &str, timeout: Duration, what: &str, check: F) -> serde_json::Value
where
    F: Fn(&serde_json::Value) -> bool,
{
    let url = format!("http://{master}/master/state");
    wait_for(timeout, what, || {
        let url = url.clone();
        let check = &check;
        async move { get_json(&url).await.filter(|s| check(s)) }
    })
    .await
}

/// Standard padded base64, for the uuids of simulated status updates.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub mod load;

pub mod hollow {
    //! A hollow agent: speaks the real agent link (`common::agent_link`) to a master but runs nothing. It
    //! registers (following 307s from standbys, trying each master it was given), re-registers with its id and
    //! live tasks whenever the link breaks, answers launches with reliable STARTING → RUNNING → terminal
    //! updates (one at a time per task, each retried until acknowledged), kills tasks on KILL and
    //! SHUTDOWN_FRAMEWORK, and counts pings. What a task does is read from its command:
    //! - contains `sleep`: stays RUNNING until killed;
    //! - contains `exit N` with N ≠ 0: TASK_FAILED ("Command exited with status N");
    //! - anything else: TASK_FINISHED.
    //!
    //! Tasks are told apart by task id alone, so ids must be unique across frameworks (Marathon's are).
    //! Many can run in one process (one tokio task each, sharing one client through
    //! [`HollowAgent::start_with`]), which makes it the cluster simulator of `mesos-bench` too.

    use common::agent_link::{AgentCall, AgentEvent, AgentInfo, RunningTask, PATH};
    use common::mesos::{FrameworkInfo, Id, TaskInfo, TaskState, TaskStatus};
    use common::recordio::Decoder;
    use common::resources::{ReservationFormat, Resources};
    use std::collections::{BTreeMap, VecDeque};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    use tokio::sync::Notify;

    /// How long an unacknowledged update waits before it is sent again.
    const RETRY: Duration = Duration::from_millis(700);

    /// One simulated task.
    #[derive(Debug, Clone)]
    struct SimTask {
        framework: FrameworkInfo,
        info: TaskInfo,
        /// Latest state generated (queued or sent).
        state: TaskState,
        /// Updates not yet acknowledged, oldest first; the head is the one in flight.
        pending: VecDeque<TaskStatus>,
        /// When the head was last sent.
        sent_at: Option<Instant>,
    }

    #[derive(Debug, Default)]
    struct Shared {
        id: Option<Id>,
        connected: bool,
        paused: bool,
        registrations: u32,
        pings: u64,
        tasks: BTreeMap<String, SimTask>,
        acknowledged: Vec<(String, TaskState)>,
        shutdowns: Vec<String>,
        kills: Vec<String>,
    }

    /// A simulated agent. Stops (closing its link) when dropped.
    pub struct HollowAgent {
        shared: Arc<Mutex<Shared>>,
        wake: Arc<Notify>,
        task: tokio::task::JoinHandle<()>,
    }

    impl HollowAgent {
        /// Starts an agent advertising `resources` (text form) that registers with the first master of
        /// `masters` (`host:port`) that takes it.
        pub fn start(masters: &[String], resources: &str) -> HollowAgent {
            HollowAgent::start_with(&client(), masters, resources)
        }

        /// Like [`HollowAgent::start`], sharing `client` (see [`client`]): a simulator of thousands of agents
        /// uses one client, so update calls reuse a common pool of connections.
        pub fn start_with(client: &reqwest::Client, masters: &[String], resources: &str) -> HollowAgent {
            let info = AgentInfo {
                hostname: "127.0.0.1".into(),
                ip: "127.0.0.1".into(),
                port: u32::from(crate::free_port()),
                resources: Resources::parse_text(resources)
                    .expect("valid resources")
                    .to_v1(ReservationFormat::PreRefinement),
                attributes: Vec::new(),
                version: "1.11.0".into(),
            };
            let shared = Arc::new(Mutex::new(Shared::default()));
            let wake = Arc::new(Notify::new());
            let task = tokio::spawn(run(client.clone(), masters.to_vec(), info, shared.clone(), wake.clone()));
            HollowAgent { shared, wake, task }
        }

        fn with<T>(&self, f: impl FnOnce(&mut Shared) -> T) -> T {
            f(&mut self.shared.lock().expect("hollow agent lock"))
        }

        /// The id the master gave, once registered.
        pub fn id(&self) -> Option<String> {
            self.with(|s| s.id.as_ref().map(|id| id.value.clone()))
        }

        /// Whether a registered link is open.
        pub fn is_connected(&self) -> bool {
            self.with(|s| s.connected)
        }

        /// How many times it (re-)registered.
        pub fn registrations(&self) -> u32 {
            self.with(|s| s.registrations)
        }

        /// Pings received.
        pub fn pings(&self) -> u64 {
            self.with(|s| s.pings)
        }

        /// Waits until it has registered at least `n` times and is connected; returns its id.
        pub async fn registered(&self, n: u32, timeout: Duration) -> String {
            crate::wait_for(timeout, "the hollow agent to register", || async move {
                self.with(|s| {
                    (s.connected && s.registrations >= n).then(|| s.id.as_ref().map(|i| i.value.clone())).flatten()
                })
            })
            .await
        }

        /// The latest state of a task (as generated, acknowledged or not).
        pub fn task_state(&self, task_id: &str) -> Option<TaskState> {
            self.with(|s| s.tasks.get(task_id).map(|t| t.state))
        }

        /// Every acknowledged update as (task id, state), in the order acknowledgements arrived.
        pub fn acknowledged(&self) -> Vec<(String, TaskState)> {
            self.with(|s| s.acknowledged.clone())
        }

        /// Updates still waiting for an acknowledgement.
        pub fn unacknowledged(&self) -> usize {
            self.with(|s| s.tasks.values().map(|t| t.pending.len()).sum())
        }

        /// How many of its tasks are in `state` (as generated, acknowledged or not).
        pub fn tasks_in(&self, state: TaskState) -> usize {
            self.with(|s| s.tasks.values().filter(|t| t.state == state).count())
        }

        /// Frameworks the master told it to shut down.
        pub fn shutdowns(&self) -> Vec<String> {
            self.with(|s| s.shutdowns.clone())
        }

        /// Tasks the master told it to kill.
        pub fn kills(&self) -> Vec<String> {
            self.with(|s| s.kills.clone())
        }

        /// Closes the link and stops re-registering (a crashed or partitioned agent).
        pub fn disconnect(&self) {
            self.with(|s| s.paused = true);
            self.wake.notify_one();
        }

        /// Re-registers (with its id and live tasks) after [`HollowAgent::disconnect`].
        pub fn reconnect(&self) {
            self.with(|s| s.paused = false);
            self.wake.notify_one();
        }
    }

    impl Drop for HollowAgent {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// Why a session ended.
    enum Ended {
        /// Try this `host:port` next (a standby's redirect).
        Redirect(String),
        /// Anything else; try the next master after a pause.
        Failed,
    }

    /// An HTTP client for hollow agents: no redirects followed (a standby's 307 is handled by hand).
    pub fn client() -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http client")
    }

    async fn run(
        client: reqwest::Client,
        masters: Vec<String>,
        info: AgentInfo,
        shared: Arc<Mutex<Shared>>,
        wake: Arc<Notify>,
    ) {
        let mut next = 0;
        let mut target = masters[0].clone();
        loop {
            if shared.lock().expect("lock").paused {
                let _ = tokio::time::timeout(Duration::from_millis(200), wake.notified()).await;
                continue;
            }
            match session(&client, &target, &info, &shared, &wake).await {
                Ended::Redirect(leader) => target = leader,
                Ended::Failed => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    next += 1;
                    target = masters[next % masters.len()].clone();
                }
            }
        }
    }

    /// One registration and its event stream.
    async fn session(
        client: &reqwest::Client,
        master: &str,
        info: &AgentInfo,
        shared: &Arc<Mutex<Shared>>,
        wake: &Notify,
    ) -> Ended {
        let register = {
            let s = shared.lock().expect("lock");
            AgentCall::Register {
                agent_info: info.clone(),
                agent_id: s.id.clone(),
                tasks: s
                    .tasks
                    .values()
                    .filter(|t| !t.state.is_terminal())
                    .map(|t| RunningTask { framework: t.framework.clone(), task: t.info.clone(), state: t.state })
                    .collect(),
            }
        };
        let base = format!("http://{master}");
        let Ok(mut response) = client.post(format!("{base}{PATH}")).json(&register).send().await else {
            return Ended::Failed;
        };
        if response.status() == reqwest::StatusCode::TEMPORARY_REDIRECT {
            let location = response.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default();
            return Ended::Redirect(
                common::http::redirect_base_url(location).trim_start_matches("http://").to_string(),
            );
        }
        if !response.status().is_success() {
            return Ended::Failed;
        }
        let Some(stream_id) =
            response.headers().get("mesos-stream-id").and_then(|v| v.to_str().ok()).map(str::to_string)
        else {
            return Ended::Failed;
        };
        let mut decoder = Decoder::new(64 * 1024 * 1024);
        // Event driven: updates go out as soon as they are queued; the only timer is the retry of the
        // earliest unacknowledged update, so thousands of idle agents cost nothing.
        let mut retry_at: Option<Instant> = None;
        loop {
            let retry = async move {
                match retry_at {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                chunk = response.chunk() => {
                    let Ok(Some(bytes)) = chunk else { break };
                    let Ok(records) = decoder.feed(&bytes) else { break };
                    for record in records {
                        if let Ok(event) = serde_json::from_slice::<AgentEvent>(&record) {
                            if event == AgentEvent::Ping {
                                pong(client, &base, &stream_id, shared);
                            }
                            on_event(shared, event);
                        }
                    }
                }
                _ = retry => {}
                _ = wake.notified() => {}
            }
            if shared.lock().expect("lock").paused {
                break;
            }
            retry_at = send_due(client, &base, &stream_id, shared).await;
        }
        shared.lock().expect("lock").connected = false;
        Ended::Failed
    }

    /// Answers a ping in the background, as a real agent does.
    fn pong(client: &reqwest::Client, base: &str, stream_id: &str, shared: &Arc<Mutex<Shared>>) {
        let Some(agent_id) = shared.lock().expect("lock").id.clone() else { return };
        let request = client
            .post(format!("{base}{PATH}"))
            .header("Mesos-Stream-Id", stream_id)
            .json(&AgentCall::Pong { agent_id })
            .timeout(Duration::from_secs(5));
        tokio::spawn(async move { request.send().await });
    }

    /// Sends, concurrently, the head update of every task that is due (never sent, or sent more than
    /// [`RETRY`] ago); returns when the earliest update still in flight is due again.
    async fn send_due(
        client: &reqwest::Client,
        base: &str,
        stream_id: &str,
        shared: &Arc<Mutex<Shared>>,
    ) -> Option<Instant> {
        let due: Vec<(String, Id, TaskStatus)> = {
            let s = shared.lock().expect("lock");
            if !s.connected {
                return None;
            }
            s.tasks
                .iter()
                .filter(|(_, t)| t.sent_at.is_none_or(|at| at.elapsed() >= RETRY))
                .filter_map(|(id, t)| Some((id.clone(), t.framework.id.clone()?, t.pending.front()?.clone())))
                .collect()
        };
        let url = format!("{base}{PATH}");
        let sends = due.into_iter().map(|(task_id, framework_id, status)| {
            let request = client
                .post(&url)
                .header("Mesos-Stream-Id", stream_id)
                .json(&AgentCall::Update { framework_id, status })
                .timeout(Duration::from_secs(5));
            async move { (task_id, request.send().await.is_ok_and(|r| r.status().is_success())) }
        });
        let results = futures::future::join_all(sends).await;
        let mut s = shared.lock().expect("lock");
        for (task_id, sent) in results {
            if let Some(task) = s.tasks.get_mut(&task_id).filter(|_| sent) {
                task.sent_at = Some(Instant::now());
            }
        }
        // A failed send is retried after RETRY too (its sent_at stays unset only until then).
        let failed_retry = Instant::now() + RETRY;
        s.tasks
            .values()
            .filter(|t| !t.pending.is_empty())
            .map(|t| t.sent_at.map_or(failed_retry, |at| at + RETRY))
            .min()
    }

    fn on_event(shared: &Arc<Mutex<Shared>>, event: AgentEvent) {
        let mut s = shared.lock().expect("lock");
        match event {
            AgentEvent::Registered { agent_id, .. } => {
                s.id = Some(agent_id);
                s.connected = true;
                s.registrations += 1;
                // Unacknowledged updates go again on the new link.
                for task in s.tasks.values_mut() {
                    task.sent_at = None;
                }
            }
            AgentEvent::Launch { framework, task } => {
                let Some(agent_id) = s.id.clone() else { return };
                if s.tasks.contains_key(&task.task_id.value) {
                    return;
                }
                let mut sim = SimTask {
                    framework,
                    info: task.clone(),
                    state: TaskState::TASK_STAGING,
                    pending: VecDeque::new(),
                    sent_at: None,
                };
                for (state, message) in plan(&task) {
                    queue(&mut sim, &agent_id, state, message);
                }
                s.tasks.insert(task.task_id.value.clone(), sim);
            }
            AgentEvent::Kill { task_id, .. } => {
                s.kills.push(task_id.value.clone());
                kill(&mut s, &task_id.value);
            }
            AgentEvent::Acknowledge { task_id, uuid, .. } => {
                let Some(task) = s.tasks.get_mut(&task_id.value) else { return };
                if task.pending.front().and_then(|h| h.uuid.as_deref()) != Some(uuid.as_str()) {
                    return;
                }
                let acked = task.pending.pop_front().map(|h| h.state);
                task.sent_at = None;
                if let Some(state) = acked {
                    s.acknowledged.push((task_id.value, state));
                }
            }
            AgentEvent::ShutdownFramework { framework_id } => {
                s.shutdowns.push(framework_id.value.clone());
                let tasks: Vec<String> = s
                    .tasks
                    .iter()
                    .filter(|(_, t)| t.framework.id.as_ref() == Some(&framework_id))
                    .map(|(id, _)| id.clone())
                    .collect();
                for task in tasks {
                    kill(&mut s, &task);
                }
            }
            AgentEvent::Ping => s.pings += 1,
        }
    }

    /// Queues KILLING (for frameworks with TASK_KILLING_STATE) and KILLED unless the task already ends.
    fn kill(s: &mut Shared, task_id: &str) {
        let Some(agent_id) = s.id.clone() else { return };
        let Some(task) = s.tasks.get_mut(task_id) else { return };
        if task.state.is_terminal() {
            return;
        }
        if task.framework.has_capability("TASK_KILLING_STATE") {
            queue(task, &agent_id, TaskState::TASK_KILLING, None);
        }
        queue(task, &agent_id, TaskState::TASK_KILLED, Some("Command terminated with signal Terminated".into()));
    }

    /// What a launched task reports, from its command.
    fn plan(task: &TaskInfo) -> Vec<(TaskState, Option<String>)> {
        let command =
            task.command.as_ref().map(|c| c.value.clone().unwrap_or_else(|| c.arguments.join(" "))).unwrap_or_default();
        let mut plan = vec![(TaskState::TASK_STARTING, None), (TaskState::TASK_RUNNING, None)];
        if command.contains("sleep") {
            return plan;
        }
        let code = command
            .split("exit")
            .skip(1)
            .filter_map(|rest| {
                rest.split_whitespace()
                    .next()
                    .and_then(|n| n.trim_matches(|c: char| !c.is_ascii_digit()).parse::<i32>().ok())
            })
            .find(|code| *code != 0);
        plan.push(match code {
            Some(code) => (TaskState::TASK_FAILED, Some(format!("Command exited with status {code}"))),
            None => (TaskState::TASK_FINISHED, Some("Command exited with status 0".into())),
        });
        plan
    }

    /// Queues an executor update for the task.
    fn queue(task: &mut SimTask, agent_id: &Id, state: TaskState, message: Option<String>) {
        task.state = state;
        task.pending.push_back(TaskStatus {
            task_id: task.info.task_id.clone(),
            state,
            message,
            source: Some("SOURCE_EXECUTOR".into()),
            reason: (state == TaskState::TASK_FAILED).then(|| "REASON_COMMAND_EXECUTOR_FAILED".into()),
            data: None,
            agent_id: Some(agent_id.clone()),
            executor_id: Some(task.info.task_id.clone()),
            timestamp: Some(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0),
            ),
            uuid: Some(new_uuid()),
            healthy: None,
            labels: None,
            container_status: None,
            unreachable_time: None,
        });
    }

    /// 16 bytes unique within the process (counter, pid, clock), base64-encoded like a status uuid.
    fn new_uuid() -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&n.to_be_bytes());
        bytes[8..12].copy_from_slice(&std::process::id().to_be_bytes());
        bytes[12..].copy_from_slice(&nanos.to_be_bytes());
        crate::base64(&bytes)
    }
}

pub mod scheduler {
    //! A small v1 scheduler API client for tests: SUBSCRIBE (following 307s) with the RecordIO event stream read
    //! in the background, and helpers for the calls. Events are plain JSON, as a framework sees them.

    use common::recordio::Decoder;
    use serde_json::{json, Value};
    use std::time::{Duration, Instant};
    use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

    /// A subscribed framework. Dropping it closes the subscription.
    pub struct TestScheduler {
        /// `host:port` of the master it subscribed with.
        pub master: String,
        /// Its framework id.
        pub framework_id: String,
        /// The subscription's `Mesos-Stream-Id`.
        pub stream_id: String,
        /// Every event received so far (heartbeats included), for messages.
        pub seen: Vec<Value>,
        events: UnboundedReceiver<Value>,
        reader: tokio::task::JoinHandle<()>,
        client: reqwest::Client,
    }

    impl Drop for TestScheduler {
        fn drop(&mut self) {
            self.reader.abort();
        }
    }

    /// A FrameworkInfo with a name, a failover timeout and capabilities.
    pub fn framework_info(name: &str, failover_timeout: f64, capabilities: &[&str]) -> Value {
        json!({
            "user": "root",
            "name": name,
            "failover_timeout": failover_timeout,
            "capabilities": capabilities.iter().map(|c| json!({"type": c})).collect::<Vec<_>>(),
        })
    }

    /// A command task using part of an offer.
    pub fn task(offer: &Value, task_id: &str, cpus: f64, mem: f64, command: &str) -> Value {
        let role = offer["allocation_info"]["role"].as_str().unwrap_or("*");
        let scalar = |name: &str, value: f64| json!({"name": name, "type": "SCALAR", "scalar": {"value": value}, "role": "*", "allocation_info": {"role": role}});
        json!({
            "name": task_id,
            "task_id": {"value": task_id},
            "agent_id": offer["agent_id"],
            "resources": [scalar("cpus", cpus), scalar("mem", mem)],
            "command": {"value": command, "shell": true},
        })
    }

    impl TestScheduler {
        /// Subscribes through `master` (`host:port`), following a standby's 307; fails on any other answer or
        /// an ERROR event.
        pub async fn subscribe(master: &str, framework_info: Value) -> Result<TestScheduler, String> {
            Self::subscribe_as(master, framework_info, None).await
        }

        /// Like [`TestScheduler::subscribe`], presenting HTTP Basic credentials `(principal, secret)` on the
        /// SUBSCRIBE and every later call when given.
        pub async fn subscribe_as(
            master: &str,
            framework_info: Value,
            credential: Option<(&str, &str)>,
        ) -> Result<TestScheduler, String> {
            let mut headers = reqwest::header::HeaderMap::new();
            if let Some((principal, secret)) = credential {
                let header =
                    common::auth::Credential { principal: principal.into(), secret: secret.into() }.basic_header();
                headers.insert(reqwest::header::AUTHORIZATION, header.parse().map_err(|_| "bad credential")?);
            }
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .map_err(|e| e.to_string())?;
            let mut call = json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info}});
            if let Some(id) = framework_info.get("id") {
                call["framework_id"] = id.clone();
            }
            let mut target = master.to_string();
            for _ in 0..3 {
                let mut response = client
                    .post(format!("http://{target}/api/v1/scheduler"))
                    .header("Content-Type", "application/json")
                    .header("Accept", "application/json")
                    .body(call.to_string())
                    .send()
                    .await
                    .map_err(|e| format!("SUBSCRIBE to {target}: {e}"))?;
                if response.status() == 307 {
                    let location = response.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default();
                    target = common::http::redirect_base_url(location).trim_start_matches("http://").to_string();
                    continue;
                }
                if response.status() != 200 {
                    let status = response.status();
                    return Err(format!(
                        "SUBSCRIBE to {target}: {status} {}",
                        response.text().await.unwrap_or_default()
                    ));
                }
                let stream_id = response
                    .headers()
                    .get("mesos-stream-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let (tx, events) = unbounded_channel();
                let reader = tokio::spawn(async move {
                    let mut decoder = Decoder::new(64 * 1024 * 1024);
                    while let Ok(Some(chunk)) = response.chunk().await {
                        let Ok(records) = decoder.feed(&chunk) else { return };
                        for record in records {
                            let Ok(event) = serde_json::from_slice::<Value>(&record) else { return };
                            if tx.send(event).is_err() {
                                return;
                            }
                        }
                    }
                });
                let mut scheduler = TestScheduler {
                    master: target.clone(),
                    framework_id: String::new(),
                    stream_id,
                    seen: Vec::new(),
                    events,
                    reader,
                    client,
                };
                let first =
                    scheduler.next_event(Duration::from_secs(10)).await.ok_or("no first event on the subscription")?;
                return match first["type"].as_str() {
                    Some("SUBSCRIBED") => {
                        scheduler.framework_id =
                            first["subscribed"]["framework_id"]["value"].as_str().unwrap_or_default().to_string();
                        Ok(scheduler)
                    }
                    _ => Err(format!("first event is not SUBSCRIBED: {first}")),
                };
            }
            Err("too many redirects".into())
        }

        /// The next event other than HEARTBEAT, or `None` after `timeout` or when the stream has ended.
        pub async fn next_event(&mut self, timeout: Duration) -> Option<Value> {
            let deadline = Instant::now() + timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let event = tokio::time::timeout(left, self.events.recv()).await.ok()??;
                self.seen.push(event.clone());
                if event["type"] != "HEARTBEAT" {
                    return Some(event);
                }
            }
        }

        /// Waits for the next event of `kind`, skipping others; panics after `timeout`.
        pub async fn expect(&mut self, kind: &str, timeout: Duration) -> Value {
            let deadline = Instant::now() + timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.next_event(left).await {
                    Some(event) if event["type"] == kind => return event,
                    Some(_) => {}
                    None => panic!("no {kind} event within {timeout:?}; seen: {:?}", self.seen),
                }
            }
        }

        /// Waits for offers; returns them.
        pub async fn offers(&mut self, timeout: Duration) -> Vec<Value> {
            let event = self.expect("OFFERS", timeout).await;
            event["offers"]["offers"].as_array().cloned().unwrap_or_default()
        }

        /// Waits for the next UPDATE about `task_id`; returns its status.
        pub async fn update(&mut self, task_id: &str, timeout: Duration) -> Value {
            let deadline = Instant::now() + timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let event = self.expect("UPDATE", left).await;
                if event["update"]["status"]["task_id"]["value"] == task_id {
                    return event["update"]["status"].clone();
                }
            }
        }

        /// Collects events other than heartbeats for `during`.
        pub async fn events_during(&mut self, during: Duration) -> Vec<Value> {
            let deadline = Instant::now() + during;
            let mut events = Vec::new();
            while let Some(event) = self.next_event(deadline.saturating_duration_since(Instant::now())).await {
                events.push(event);
            }
            events
        }

        /// Whether the master closes the stream within `timeout` (events before the end are skipped).
        pub async fn closed(&mut self, timeout: Duration) -> bool {
            let deadline = Instant::now() + timeout;
            loop {
                match tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), self.events.recv()).await
                {
                    Ok(None) => return true,
                    Ok(Some(event)) => self.seen.push(event),
                    Err(_) => return false,
                }
            }
        }

        /// Sends a call of `kind` with an optional payload under its lower-case key; returns (status, body).
        pub async fn call(&self, kind: &str, payload: Option<Value>) -> (u16, String) {
            let mut call = json!({"type": kind, "framework_id": {"value": self.framework_id}});
            if let Some(payload) = payload {
                call[kind.to_ascii_lowercase()] = payload;
            }
            self.raw(&call.to_string(), Some("application/json"), true).await
        }

        /// Posts any body with the given Content-Type (and this subscription's stream id if `stream_id`).
        pub async fn raw(&self, body: &str, content_type: Option<&str>, stream_id: bool) -> (u16, String) {
            let mut request =
                self.client.post(format!("http://{}/api/v1/scheduler", self.master)).body(body.to_string());
            if let Some(content_type) = content_type {
                request = request.header("Content-Type", content_type);
            }
            if stream_id {
                request = request.header("Mesos-Stream-Id", &self.stream_id);
            }
            match request.send().await {
                Ok(response) => (response.status().as_u16(), response.text().await.unwrap_or_default()),
                Err(e) => (0, e.to_string()),
            }
        }

        /// ACCEPT with one LAUNCH of `tasks` on the offers.
        pub async fn launch(&self, offer_ids: &[&Value], tasks: Vec<Value>, refuse_seconds: Option<f64>) -> u16 {
            let mut accept = json!({
                "offer_ids": offer_ids,
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
            });
            if let Some(refuse) = refuse_seconds {
                accept["filters"] = json!({"refuse_seconds": refuse});
            }
            self.call("ACCEPT", Some(accept)).await.0
        }

        /// DECLINE the offers with a filter.
        pub async fn decline(&self, offer_ids: &[&Value], refuse_seconds: Option<f64>) -> u16 {
            let mut decline = json!({ "offer_ids": offer_ids });
            if let Some(refuse) = refuse_seconds {
                decline["filters"] = json!({"refuse_seconds": refuse});
            }
            self.call("DECLINE", Some(decline)).await.0
        }

        /// ACKNOWLEDGE a status that carries a uuid.
        pub async fn acknowledge(&self, status: &Value) -> u16 {
            let ack = json!({"agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]});
            self.call("ACKNOWLEDGE", Some(ack)).await.0
        }

        /// KILL a task.
        pub async fn kill(&self, task_id: &str) -> u16 {
            self.call("KILL", Some(json!({"task_id": {"value": task_id}}))).await.0
        }

        /// RECONCILE the (task id, agent id) pairs; none means implicit reconciliation.
        pub async fn reconcile(&self, tasks: &[(&str, Option<&str>)]) -> u16 {
            let tasks: Vec<Value> = tasks
                .iter()
                .map(|(task, agent)| match agent {
                    Some(agent) => json!({"task_id": {"value": task}, "agent_id": {"value": agent}}),
                    None => json!({"task_id": {"value": task}}),
                })
                .collect();
            self.call("RECONCILE", Some(json!({ "tasks": tasks }))).await.0
        }

        /// TEARDOWN.
        pub async fn teardown(&self) -> u16 {
            self.call("TEARDOWN", None).await.0
        }
    }
}

/// Starts a master on 127.0.0.1 with the in-memory registry (following `zk` when given, plus `extra`
/// environment) and waits until it leads; returns the process and its `127.0.0.1:<port>`.
pub async fn start_leading_master(zk: Option<&str>, extra: &[(&str, &str)], logs: &ScratchDir) -> (Process, String) {
    start_leading_master_as(zk, extra, logs, None).await
}

/// Like [`start_leading_master`], reading `/metrics/snapshot` with HTTP Basic credentials `(principal, secret)`
/// when given (for a master run with `--authenticate_http_readonly`).
pub async fn start_leading_master_as(
    zk: Option<&str>,
    extra: &[(&str, &str)],
    logs: &ScratchDir,
    credential: Option<(&str, &str)>,
) -> (Process, String) {
    let port = free_port().to_string();
    let mut env = vec![("MESOS_IP", "127.0.0.1"), ("MESOS_HOSTNAME", "127.0.0.1"), ("MESOS_PORT", port.as_str())];
    env.push(("MESOS_REGISTRY", "in_memory"));
    if let Some(zk) = zk {
        env.push(("MESOS_ZK", zk));
    }
    env.extend_from_slice(extra);
    let process = Process::start("master", &binary("mesos-master"), &[], &env, logs.path());
    let master = format!("127.0.0.1:{port}");
    let url = format!("http://{master}/metrics/snapshot");
    wait_for(Duration::from_secs(20), "the master to be elected", || {
        let url = url.clone();
        async move { get_json_as(&url, credential).await.filter(|m| m["master/elected"] == 1.0).map(|_| ()) }
    })
    .await;
    (process, master)
}

/// Starts a real agent named `name` on 127.0.0.1 following `master` (`host:port` or `zk://`), offering
/// `resources`, with its work dir in `work`; returns the process and its HTTP port.
pub fn start_agent(name: &str, master: &str, resources: &str, work: &ScratchDir, logs: &ScratchDir) -> (Process, u16) {
    start_agent_with(name, master, resources, work, logs, &[])
}

/// Like [`start_agent`], with `extra` environment (e.g. `MESOS_CREDENTIAL`).
pub fn start_agent_with(
    name: &str,
    master: &str,
    resources: &str,
    work: &ScratchDir,
    logs: &ScratchDir,
    extra: &[(&str, &str)],
) -> (Process, u16) {
    let agent_port = free_port();
    let (port, work_dir) = (agent_port.to_string(), work.path().display().to_string());
    let mut env = vec![
        ("MESOS_MASTER", master),
        ("MESOS_IP", "127.0.0.1"),
        ("MESOS_HOSTNAME", "127.0.0.1"),
        ("MESOS_PORT", port.as_str()),
        ("MESOS_WORK_DIR", work_dir.as_str()),
        ("MESOS_RESOURCES", resources),
    ];
    env.extend_from_slice(extra);
    (Process::start(name, &binary("mesos-agent"), &[], &env, logs.path()), agent_port)
}

/// Starts a Marathon named `name` on a free loopback port following `zk_mesos` (its state under `zk_marathon`),
/// with `extra` arguments, and waits until it has registered with Mesos when `wait` is set; returns the
/// process and its HTTP port.
pub async fn start_marathon(
    name: &str,
    zk_mesos: &str,
    zk_marathon: &str,
    extra: &[&str],
    wait: bool,
    logs: &ScratchDir,
) -> (Process, u16) {
    let port = free_port();
    let http_port = port.to_string();
    let mut args =
        vec!["--master", zk_mesos, "--zk", zk_marathon, "--http_port", &http_port, "--hostname", "127.0.0.1"];
    args.extend_from_slice(extra);
    let process = Process::start(name, &binary("marathon"), &args, &[], logs.path());
    if wait {
        let info = format!("http://127.0.0.1:{port}/v2/info");
        wait_for(Duration::from_secs(30), "Marathon to register with Mesos", || {
            let info = info.clone();
            async move { get_json(&info).await.filter(|i| i["frameworkId"].is_string()).map(|_| ()) }
        })
        .await;
    }
    (process, port)
}
