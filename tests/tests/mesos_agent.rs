//! The agent end to end: real ZooKeeper, real `mesos-master` and `mesos-agent` binaries and a small v1 scheduler
//! (HTTP + RecordIO) written here. Command tasks, kills with a grace period, Docker pull failures, an agent
//! restart under running command and Docker tasks, a master failover while updates flow, `$PORT0` and the
//! sandbox file endpoints.
//!
//! Docker tests use `mesos-rs/test-busybox:latest`, built from the host's `/bin/busybox` (label
//! `mesos-rs.test=1`); every container they start carries `mesos-rs.test=1` and a label unique to the test, and
//! is removed when the test ends, pass or fail. They are skipped when `/var/run/docker.sock` is absent.

use integration_tests::{binary, free_port, get_json, wait_for, Process, ScratchDir, ZooKeeper};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TEST_IMAGE: &str = "mesos-rs/test-busybox:latest";
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

// ----- cluster -------------------------------------------------------------------------------------------------

fn start_master(name: &str, zk: &ZooKeeper, port: u16, logs: &Path) -> Process {
    let port_text = port.to_string();
    let zk_url = zk.url("/mesos");
    Process::start(
        name,
        &binary("mesos-master"),
        &[],
        &[
            ("MESOS_ZK", &zk_url),
            ("MESOS_IP", "127.0.0.1"),
            ("MESOS_HOSTNAME", "127.0.0.1"),
            ("MESOS_PORT", &port_text),
            ("MESOS_REGISTRY", "in_memory"),
            ("MESOS_ZK_SESSION_TIMEOUT", "2secs"),
        ],
        logs,
    )
}

/// How an agent is started: like the compose cluster's agents (hostname `localhost`, advertised 127.0.0.1,
/// listening on every address).
struct AgentSpec {
    port: u16,
    work_dir: String,
    master: String,
    resources: String,
    containerizers: &'static str,
    extra: Vec<(&'static str, String)>,
}

impl AgentSpec {
    fn new(zk: &ZooKeeper, work_dir: &ScratchDir, resources: &str) -> AgentSpec {
        AgentSpec {
            port: free_port(),
            work_dir: work_dir.path().display().to_string(),
            master: zk.url("/mesos"),
            resources: resources.to_string(),
            containerizers: "mesos",
            extra: Vec::new(),
        }
    }

    fn start(&self, name: &str, logs: &Path) -> Process {
        let port = self.port.to_string();
        let mut env: Vec<(&str, &str)> = vec![
            ("MESOS_MASTER", &self.master),
            ("MESOS_PORT", &port),
            ("MESOS_WORK_DIR", &self.work_dir),
            ("MESOS_HOSTNAME", "localhost"),
            ("MESOS_ADVERTISE_IP", "127.0.0.1"),
            ("MESOS_RESOURCES", &self.resources),
            ("MESOS_CONTAINERIZERS", self.containerizers),
            ("MESOS_ZK_SESSION_TIMEOUT", "2secs"),
            ("MESOS_REGISTRATION_BACKOFF_FACTOR", "200ms"),
        ];
        env.extend(self.extra.iter().map(|(k, v)| (*k, v.as_str())));
        Process::start(name, &binary("mesos-agent"), &[], &env, logs)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

async fn elected(port: u16) -> bool {
    get_json(&format!("http://127.0.0.1:{port}/metrics/snapshot"))
        .await
        .is_some_and(|s| s["master/elected"].as_f64() == Some(1.0))
}

async fn leader(ports: &[u16]) -> u16 {
    let ports = ports.to_vec();
    wait_for(Duration::from_secs(30), "an elected master", || {
        let ports = ports.clone();
        async move {
            for port in ports {
                if elected(port).await {
                    return Some(port);
                }
            }
            None
        }
    })
    .await
}

async fn agent_registered(agent: &AgentSpec) -> bool {
    get_json(&agent.url("/metrics/snapshot")).await.is_some_and(|s| s["slave/registered"].as_f64() == Some(1.0))
}

// ----- Docker ------------------------------------------------------------------------------------------------

fn docker_present() -> bool {
    if Path::new(DOCKER_SOCKET).exists() {
        true
    } else {
        eprintln!("skipping: {DOCKER_SOCKET} is absent");
        false
    }
}

fn docker(args: &[&str]) -> (bool, String) {
    match Command::new("docker").args(args).output() {
        Ok(out) => (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        ),
        Err(e) => (false, e.to_string()),
    }
}

static IMAGE: Mutex<bool> = Mutex::new(false);

/// Builds the busybox test image once per test process, unless it exists.
fn ensure_test_image() {
    let mut built = IMAGE.lock().unwrap_or_else(|e| e.into_inner());
    if *built || docker(&["image", "inspect", TEST_IMAGE]).0 {
        *built = true;
        return;
    }
    let context = ScratchDir::new("busybox-image");
    let bin = context.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("the host's /bin/busybox (busybox-static)");
    for applet in ["sh", "echo", "httpd", "sleep", "cat", "env", "true", "false", "ls"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM scratch\nCOPY bin /bin\nENV PATH=/bin\nLABEL mesos-rs.test=1\nCMD [\"/bin/sh\"]\n",
    )
    .unwrap();
    let (ok, out) = docker(&["build", "-q", "-t", TEST_IMAGE, &context.path().display().to_string()]);
    assert!(ok, "building {TEST_IMAGE} failed: {out}");
    *built = true;
}

/// Removes every container carrying this test's label, pass or fail.
struct ContainerGuard {
    label: String,
}

impl ContainerGuard {
    fn new() -> ContainerGuard {
        ContainerGuard { label: format!("mesos-rs.test.run=agent-{}-{}", std::process::id(), free_port()) }
    }

    /// The label's key and value, for TaskInfo labels.
    fn label_pair(&self) -> (String, String) {
        let (k, v) = self.label.split_once('=').unwrap();
        (k.to_string(), v.to_string())
    }

    /// Names of this test's containers; `running_only` filters out stopped ones.
    fn containers(&self, running_only: bool) -> Vec<String> {
        let filter = format!("label={}", self.label);
        let mut args = vec!["ps", "--filter", &filter, "--format", "{{.Names}}"];
        if !running_only {
            args.insert(1, "-a");
        }
        docker(&args).1.lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        for name in self.containers(false) {
            docker(&["rm", "-f", "-v", &name]);
        }
    }
}

// ----- a v1 scheduler ----------------------------------------------------------------------------------------

/// A v1 HTTP scheduler: SUBSCRIBE stream read in the background (RecordIO), every event kept in order, updates
/// acknowledged automatically unless their task is held.
#[derive(Clone)]
struct Scheduler {
    shared: Arc<Shared>,
}

struct Shared {
    client: reqwest::Client,
    framework_info: Mutex<Value>,
    base_url: Mutex<String>,
    stream_id: Mutex<String>,
    events: Mutex<Vec<Value>>,
    /// Stream generation; a reader of an older one stops recording.
    generation: AtomicU64,
    closed: AtomicBool,
    held: Mutex<HashSet<String>>,
    used_offers: Mutex<HashSet<String>>,
    /// Decline every further offer (for an hour), leaving resources to other frameworks.
    decline_offers: AtomicBool,
}

fn framework_info(name: &str, capabilities: &[&str]) -> Value {
    json!({
        "user": "root",
        "name": name,
        "checkpoint": true,
        "failover_timeout": 300.0,
        "capabilities": capabilities.iter().map(|c| json!({"type": c})).collect::<Vec<_>>(),
    })
}

impl Scheduler {
    async fn subscribe(master_port: u16, info: Value) -> Scheduler {
        let shared = Arc::new(Shared {
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            framework_info: Mutex::new(info),
            base_url: Mutex::new(String::new()),
            stream_id: Mutex::new(String::new()),
            events: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(true),
            held: Mutex::new(HashSet::new()),
            used_offers: Mutex::new(HashSet::new()),
            decline_offers: AtomicBool::new(false),
        });
        let scheduler = Scheduler { shared };
        scheduler.resubscribe(master_port).await;
        scheduler
    }

    /// (Re)subscribes to the master on `port` (with the framework id once known), retrying while it recovers.
    async fn resubscribe(&self, port: u16) {
        let base = format!("http://127.0.0.1:{port}");
        let info = self.shared.framework_info.lock().unwrap().clone();
        let body = json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}});
        let framework_id = info.get("id").cloned();
        let mut call = body.clone();
        if let Some(id) = framework_id {
            call["framework_id"] = id;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let response = loop {
            let r = self
                .shared
                .client
                .post(format!("{base}/api/v1/scheduler"))
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .body(call.to_string())
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 200 => break r,
                other => {
                    assert!(Instant::now() < deadline, "cannot subscribe to {base}: {other:?}");
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        };
        let stream_id = response.headers()["mesos-stream-id"].to_str().unwrap().to_string();
        *self.shared.base_url.lock().unwrap() = base;
        *self.shared.stream_id.lock().unwrap() = stream_id;
        let generation = self.shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.shared.closed.store(false, Ordering::SeqCst);
        let me = self.clone();
        tokio::spawn(async move { me.read(response, generation).await });
        wait_for(Duration::from_secs(10), "SUBSCRIBED", || {
            let me = self.clone();
            async move { me.shared.framework_info.lock().unwrap().get("id").map(|_| ()) }
        })
        .await;
    }

    async fn read(self, mut response: reqwest::Response, generation: u64) {
        let mut buffer: Vec<u8> = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            if self.shared.generation.load(Ordering::SeqCst) != generation {
                return;
            }
            buffer.extend_from_slice(&chunk);
            while let Some(newline) = buffer.iter().position(|b| *b == b'\n') {
                let length: usize = std::str::from_utf8(&buffer[..newline]).unwrap().trim().parse().unwrap();
                if buffer.len() < newline + 1 + length {
                    break;
                }
                let record: Value = serde_json::from_slice(&buffer[newline + 1..newline + 1 + length]).unwrap();
                buffer.drain(..newline + 1 + length);
                self.on_event(record);
            }
        }
        if self.shared.generation.load(Ordering::SeqCst) == generation {
            self.shared.closed.store(true, Ordering::SeqCst);
        }
    }

    fn on_event(&self, event: Value) {
        if event["type"] == "SUBSCRIBED" {
            self.shared.framework_info.lock().unwrap()["id"] = event["subscribed"]["framework_id"].clone();
        }
        if event["type"] == "OFFERS" && self.shared.decline_offers.load(Ordering::SeqCst) {
            let ids: Vec<Value> =
                event["offers"]["offers"].as_array().into_iter().flatten().map(|o| o["id"].clone()).collect();
            let me = self.clone();
            tokio::spawn(async move {
                me.call(
                    json!({"type": "DECLINE", "decline": {"offer_ids": ids, "filters": {"refuse_seconds": 3600.0}}}),
                )
                .await
            });
        }
        if event["type"] == "UPDATE" {
            let status = event["update"]["status"].clone();
            let task = status["task_id"]["value"].as_str().unwrap_or_default().to_string();
            if status.get("uuid").is_some() && !self.shared.held.lock().unwrap().contains(&task) {
                let me = self.clone();
                tokio::spawn(async move { me.acknowledge(&status).await });
            }
        }
        self.shared.events.lock().unwrap().push(event);
    }

    fn framework_id(&self) -> String {
        self.shared.framework_info.lock().unwrap()["id"]["value"].as_str().unwrap_or_default().to_string()
    }

    fn closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    async fn call(&self, mut body: Value) -> u16 {
        body["framework_id"] = json!({"value": self.framework_id()});
        let base = self.shared.base_url.lock().unwrap().clone();
        let stream = self.shared.stream_id.lock().unwrap().clone();
        let result = self
            .shared
            .client
            .post(format!("{base}/api/v1/scheduler"))
            .header("Content-Type", "application/json")
            .header("Mesos-Stream-Id", stream)
            .body(body.to_string())
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        result.map(|r| r.status().as_u16()).unwrap_or(0)
    }

    async fn acknowledge(&self, status: &Value) {
        self.call(json!({"type": "ACKNOWLEDGE", "acknowledge": {
            "agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]}}))
            .await;
    }

    /// Declines every offer from now on.
    fn decline_offers(&self) {
        self.shared.decline_offers.store(true, Ordering::SeqCst);
    }

    /// Withholds acknowledgements of a task's updates.
    fn hold(&self, task: &str) {
        self.shared.held.lock().unwrap().insert(task.to_string());
    }

    /// Acknowledges a held task's latest update and acknowledges its later ones automatically.
    async fn release(&self, task: &str) {
        self.shared.held.lock().unwrap().remove(task);
        if let Some(last) = self.updates(task).last() {
            self.acknowledge(last).await;
        }
    }

    /// Every status update of a task received so far, in order.
    fn updates(&self, task: &str) -> Vec<Value> {
        self.shared
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "UPDATE" && e["update"]["status"]["task_id"]["value"] == task)
            .map(|e| e["update"]["status"].clone())
            .collect()
    }

    /// The agent's updates of a task (those with a uuid), each once, in order of first arrival.
    fn agent_updates(&self, task: &str) -> Vec<Value> {
        let mut seen = HashSet::new();
        self.updates(task)
            .into_iter()
            .filter(|s| s.get("uuid").is_some() && seen.insert(s["uuid"].as_str().unwrap_or_default().to_string()))
            .collect()
    }

    fn agent_states(&self, task: &str) -> Vec<String> {
        self.agent_updates(task).iter().map(|s| s["state"].as_str().unwrap_or_default().to_string()).collect()
    }

    /// Waits for a task's update in `state` and returns it.
    async fn wait_state(&self, task: &str, state: &str, timeout: Duration) -> Value {
        let me = self.clone();
        let (task, state) = (task.to_string(), state.to_string());
        let what = format!("{state} of {task}");
        wait_for(timeout, &what, || {
            let (me, task, state) = (me.clone(), task.clone(), state.clone());
            async move { me.updates(&task).into_iter().find(|s| s["state"] == state.as_str()) }
        })
        .await
    }

    /// Waits for an offer not used yet.
    async fn offer(&self) -> Value {
        let me = self.clone();
        wait_for(Duration::from_secs(30), "an offer", || {
            let me = me.clone();
            async move {
                let events = me.shared.events.lock().unwrap().clone();
                let mut used = me.shared.used_offers.lock().unwrap();
                let offer = events
                    .iter()
                    .filter(|e| e["type"] == "OFFERS")
                    .flat_map(|e| e["offers"]["offers"].as_array().cloned().unwrap_or_default())
                    .find(|o| !used.contains(o["id"]["value"].as_str().unwrap_or_default()))?;
                used.insert(offer["id"]["value"].as_str().unwrap_or_default().to_string());
                Some(offer)
            }
        })
        .await
    }

    /// Launches tasks (built by `tasks` from the offer) on the next offer.
    async fn launch(&self, tasks: impl Fn(&Value) -> Vec<Value>) -> Value {
        let offer = self.offer().await;
        let task_infos = tasks(&offer);
        let status = self
            .call(json!({"type": "ACCEPT", "accept": {
                "offer_ids": [offer["id"]],
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": task_infos}}],
                "filters": {"refuse_seconds": 0.0}}}))
            .await;
        assert_eq!(status, 202, "ACCEPT refused");
        offer
    }

    async fn kill(&self, task: &str, agent_id: &Value, grace: Option<Duration>) {
        let mut kill = json!({"task_id": {"value": task}, "agent_id": agent_id});
        if let Some(grace) = grace {
            kill["kill_policy"] = json!({"grace_period": {"nanoseconds": grace.as_nanos() as i64}});
        }
        assert_eq!(self.call(json!({"type": "KILL", "kill": kill})).await, 202, "KILL refused");
    }
}

/// One of the offer's resources with a new scalar value (or, for `ports`, a single port).
fn resource(offer: &Value, name: &str, value: f64) -> Value {
    let mut r = offer["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no {name} offered"))
        .clone();
    if name == "ports" {
        r["ranges"] = json!({"range": [{"begin": value as u64, "end": value as u64}]});
    } else {
        r["scalar"] = json!({"value": value});
    }
    r
}

/// A command task using a little of the offer.
fn command_task(offer: &Value, id: &str, command: &str) -> Value {
    json!({
        "name": id,
        "task_id": {"value": id},
        "agent_id": offer["agent_id"],
        "resources": [resource(offer, "cpus", 0.1), resource(offer, "mem", 32.0)],
        "command": {"value": command, "shell": true},
    })
}

/// A Docker task of the busybox test image, labelled for cleanup.
fn docker_task(offer: &Value, id: &str, image: &str, command: &str, guard: &ContainerGuard) -> Value {
    let (key, value) = guard.label_pair();
    let mut task = command_task(offer, id, command);
    task["container"] = json!({"type": "DOCKER", "docker": {"image": image, "network": "HOST"}});
    task["labels"] = json!({"labels": [{"key": "mesos-rs.test", "value": "1"}, {"key": key, "value": value}]});
    task
}

/// Upstream's rank of a state in a task's life, to check that updates never go back.
fn rank(state: &str) -> u8 {
    match state {
        "TASK_STAGING" => 0,
        "TASK_STARTING" => 1,
        "TASK_RUNNING" => 2,
        "TASK_KILLING" => 3,
        _ => 4,
    }
}

fn assert_never_goes_back(updates: &[Value]) {
    let ranks: Vec<u8> = updates
        .iter()
        .filter(|s| s.get("uuid").is_some())
        .map(|s| rank(s["state"].as_str().unwrap_or_default()))
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "updates out of order: {updates:#?}");
}

async fn agent_state(agent: &AgentSpec) -> Value {
    let url = agent.url("/state");
    wait_for(Duration::from_secs(10), "agent /state", || get_json(&url)).await
}

/// The agent's executor entry of a task (active frameworks only).
fn executor<'a>(state: &'a Value, task: &str) -> Option<&'a Value> {
    state["frameworks"]
        .as_array()?
        .iter()
        .flat_map(|f| f["executors"].as_array().into_iter().flatten())
        .find(|e| e["id"] == task)
}

// ----- tests -------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn command_tasks_report_their_lifecycle_and_sandboxes_are_collected() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("agent-lifecycle-logs");
    let work = ScratchDir::new("agent-lifecycle-work");
    let master_port = free_port();
    let _master = start_master("master", &zk, master_port, logs.path());
    let mut spec = AgentSpec::new(&zk, &work, "cpus:2;mem:1024;disk:1000;ports:[31000-31009]");
    spec.extra.push(("MESOS_GC_DELAY", "3secs".into()));
    let _agent = spec.start("agent", logs.path());
    leader(&[master_port]).await;

    let sched = Scheduler::subscribe(master_port, framework_info("lifecycle", &[])).await;
    let offer = sched
        .launch(|o| vec![command_task(o, "ok", "echo hello; exit 0"), command_task(o, "bad", "echo oops >&2; exit 3")])
        .await;
    let finished = sched.wait_state("ok", "TASK_FINISHED", Duration::from_secs(30)).await;
    let failed = sched.wait_state("bad", "TASK_FAILED", Duration::from_secs(30)).await;
    assert_eq!(sched.agent_states("ok"), ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);
    assert_eq!(sched.agent_states("bad"), ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"]);
    assert_eq!(finished["message"], "Command exited with status 0");
    assert_eq!(failed["message"], "Command exited with status 3");
    for status in [&finished, &failed] {
        assert_eq!(status["source"], "SOURCE_EXECUTOR");
        assert_eq!(status["agent_id"], offer["agent_id"]);
        assert!(
            status["uuid"].is_string() && status["timestamp"].is_number() && status["executor_id"].is_object(),
            "{status}"
        );
    }

    // Upstream's /state shape: the agent as the compose cluster runs it, and each executor's sandbox.
    let state = agent_state(&spec).await;
    assert_eq!(state["hostname"], "localhost");
    assert_eq!(state["pid"], format!("slave(1)@127.0.0.1:{}", spec.port));
    assert_eq!(state["id"], offer["agent_id"]["value"]);
    for key in [
        "version",
        "build_date",
        "start_time",
        "capabilities",
        "resources",
        "unreserved_resources_full",
        "flags",
        "frameworks",
        "completed_frameworks",
    ] {
        assert!(state.get(key).is_some(), "/state lacks {key}");
    }
    let framework = state["frameworks"]
        .as_array()
        .into_iter()
        .chain(state["completed_frameworks"].as_array())
        .flatten()
        .find(|f| f["id"] == sched.framework_id().as_str());
    let framework = framework.expect("the framework in /state");
    let executors: Vec<&Value> = framework["executors"]
        .as_array()
        .into_iter()
        .chain(framework["completed_executors"].as_array())
        .flatten()
        .collect();
    let ok = executors.iter().find(|e| e["id"] == "ok").expect("executor of ok");
    let sandbox = ok["directory"].as_str().expect("directory").to_string();
    assert!(sandbox.starts_with(&format!("{}/slaves/", spec.work_dir)), "{sandbox}");
    assert_eq!(std::fs::read_to_string(format!("{sandbox}/stdout")).unwrap(), "hello\n");
    let task = &ok["completed_tasks"][0];
    assert_eq!(task["state"], "TASK_FINISHED");
    assert_eq!(task["framework_id"], sched.framework_id().as_str());

    // Everything was acknowledged: after --gc_delay the sandboxes are gone.
    wait_for(Duration::from_secs(20), "the sandboxes to be garbage collected", || {
        let gone = !Path::new(&sandbox).exists();
        async move { gone.then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_announces_killing_and_escalates_to_sigkill_after_the_grace_period() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("agent-kill-logs");
    let work = ScratchDir::new("agent-kill-work");
    let master_port = free_port();
    let _master = start_master("master", &zk, master_port, logs.path());
    let spec = AgentSpec::new(&zk, &work, "cpus:2;mem:1024;disk:1000;ports:[31000-31009]");
    let _agent = spec.start("agent", logs.path());
    leader(&[master_port]).await;

    let sched = Scheduler::subscribe(master_port, framework_info("killer", &["TASK_KILLING_STATE"])).await;
    let offer = sched
        .launch(|o| {
            vec![
                command_task(o, "stubborn", "trap '' TERM; echo ready; sleep 120"),
                command_task(o, "polite", "sleep 120"),
            ]
        })
        .await;
    sched.wait_state("stubborn", "TASK_RUNNING", Duration::from_secs(30)).await;
    sched.wait_state("polite", "TASK_RUNNING", Duration::from_secs(30)).await;

    let grace = Duration::from_secs(3);
    let start = Instant::now();
    sched.kill("stubborn", &offer["agent_id"], Some(grace)).await;
    sched.kill("polite", &offer["agent_id"], Some(Duration::from_secs(20))).await;
    let polite = sched.wait_state("polite", "TASK_KILLED", Duration::from_secs(15)).await;
    assert!(start.elapsed() < grace, "a task that honours SIGTERM ends at once");
    assert_eq!(polite["message"], "Command terminated with signal Terminated");
    let stubborn = sched.wait_state("stubborn", "TASK_KILLED", Duration::from_secs(20)).await;
    let took = start.elapsed();
    assert!(took >= grace && took < grace + Duration::from_secs(5), "SIGKILL after {took:?}, grace {grace:?}");
    assert_eq!(stubborn["message"], "Command terminated with signal Killed");
    for task in ["stubborn", "polite"] {
        assert_eq!(sched.agent_states(task), ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_KILLED"]);
    }

    // Without TASK_KILLING_STATE there is no TASK_KILLING (the first framework leaves, with its offers).
    assert_eq!(sched.call(json!({"type": "TEARDOWN"})).await, 202);
    let plain = Scheduler::subscribe(master_port, framework_info("plain", &[])).await;
    let offer = plain.launch(|o| vec![command_task(o, "plain", "sleep 120")]).await;
    plain.wait_state("plain", "TASK_RUNNING", Duration::from_secs(30)).await;
    plain.kill("plain", &offer["agent_id"], None).await;
    plain.wait_state("plain", "TASK_KILLED", Duration::from_secs(20)).await;
    assert_eq!(plain.agent_states("plain"), ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_docker_image_that_cannot_be_pulled_fails_the_task_with_the_daemons_message() {
    if !docker_present() {
        return;
    }
    let guard = ContainerGuard::new();
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("agent-pull-logs");
    let work = ScratchDir::new("agent-pull-work");
    let master_port = free_port();
    let _master = start_master("master", &zk, master_port, logs.path());
    let mut spec = AgentSpec::new(&zk, &work, "cpus:2;mem:1024;disk:1000;ports:[31000-31009]");
    spec.containerizers = "docker,mesos";
    let _agent = spec.start("agent", logs.path());
    leader(&[master_port]).await;

    let image = format!("mesos-rs/does-not-exist-{}:latest", free_port());
    let sched = Scheduler::subscribe(master_port, framework_info("puller", &[])).await;
    let start = Instant::now();
    sched.launch(|o| vec![docker_task(o, "missing", &image, "true", &guard)]).await;
    let failed = sched.wait_state("missing", "TASK_FAILED", Duration::from_secs(90)).await;
    assert!(start.elapsed() < Duration::from_secs(90));
    assert_eq!(failed["reason"], "REASON_CONTAINER_LAUNCH_FAILED");
    assert_eq!(failed["source"], "SOURCE_AGENT");
    let message = failed["message"].as_str().unwrap_or_default();
    let prefix = format!("Failed to launch container: Failed to pull image '{image}': ");
    assert!(message.starts_with(&prefix) && message.len() > prefix.len(), "{message}");
    assert_eq!(sched.agent_states("missing"), ["TASK_STARTING", "TASK_FAILED"]);
    assert!(guard.containers(false).is_empty(), "no container is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_restart_reattaches_command_and_docker_tasks_without_losing_updates() {
    let docker = docker_present();
    if docker {
        ensure_test_image();
    }
    let guard = ContainerGuard::new();
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("agent-restart-logs");
    let work = ScratchDir::new("agent-restart-work");
    let master_port = free_port();
    let _master = start_master("master", &zk, master_port, logs.path());
    let mut spec = AgentSpec::new(&zk, &work, "cpus:2;mem:1024;disk:1000;ports:[31000-31009]");
    if docker {
        spec.containerizers = "docker,mesos";
    }
    let mut agent = spec.start("agent-1", logs.path());
    leader(&[master_port]).await;

    let sched = Scheduler::subscribe(master_port, framework_info("restarts", &["TASK_KILLING_STATE"])).await;
    // `quick`'s acknowledgements are held: its STARTING stays unacknowledged across the restart, and it ends
    // while the agent is down.
    sched.hold("quick");
    let offer = sched
        .launch(|o| {
            let mut tasks = vec![
                command_task(o, "cmd", "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done"),
                command_task(o, "quick", "sleep 3; echo done"),
            ];
            if docker {
                tasks.push(docker_task(o, "box", TEST_IMAGE, "while true; do echo dtick; sleep 0.2; done", &guard));
            }
            tasks
        })
        .await;
    let mut running = vec!["cmd"];
    if docker {
        running.push("box");
    }
    for task in &running {
        sched.wait_state(task, "TASK_RUNNING", Duration::from_secs(60)).await;
    }
    let starting = sched.wait_state("quick", "TASK_STARTING", Duration::from_secs(30)).await;
    let before = agent_state(&spec).await;
    let agent_id = before["id"].clone();
    let containers: Vec<Value> =
        running.iter().map(|t| executor(&before, t).expect("executor")["container"].clone()).collect();
    let docker_names = if docker { guard.containers(true) } else { Vec::new() };
    if docker {
        assert_eq!(docker_names.len(), 1, "{docker_names:?}");
    }

    // kill -9 the agent; `quick` ends meanwhile.
    agent.kill();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let _agent = spec.start("agent-2", logs.path());
    wait_for(Duration::from_secs(30), "the agent to re-register", || async {
        agent_registered(&spec).await.then_some(())
    })
    .await;

    let after = agent_state(&spec).await;
    assert_eq!(after["id"], agent_id, "same agent id");
    for (task, container) in running.iter().zip(&containers) {
        let e = executor(&after, task).unwrap_or_else(|| panic!("{task} is still there"));
        assert_eq!(&e["container"], container, "{task} kept its container");
        assert_eq!(e["tasks"][0]["state"], "TASK_RUNNING");
    }
    if docker {
        assert_eq!(guard.containers(true), docker_names, "the same single container runs");
    }
    // The command task's output keeps flowing into its sandbox.
    let stdout = format!("{}/stdout", executor(&after, "cmd").unwrap()["directory"].as_str().unwrap());
    let size = std::fs::metadata(&stdout).unwrap().len();
    wait_for(Duration::from_secs(10), "more output from cmd", || {
        let grown = std::fs::metadata(&stdout).map(|m| m.len() > size).unwrap_or(false);
        async move { grown.then_some(()) }
    })
    .await;

    // The held STARTING is resent unchanged; once acknowledged, RUNNING and FINISHED follow in order.
    sched.release("quick").await;
    let finished = sched.wait_state("quick", "TASK_FINISHED", Duration::from_secs(60)).await;
    assert_eq!(finished["message"], "Command exited with status 0");
    assert_eq!(sched.agent_states("quick"), ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);
    assert!(sched
        .updates("quick")
        .iter()
        .filter(|s| s["state"] == "TASK_STARTING")
        .all(|s| s["uuid"] == starting["uuid"]));

    for task in &running {
        sched.kill(task, &offer["agent_id"], Some(Duration::from_secs(1))).await;
    }
    for task in &running {
        sched.wait_state(task, "TASK_KILLED", Duration::from_secs(30)).await;
        assert_eq!(
            sched.agent_states(task),
            ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_KILLED"],
            "{task}"
        );
        assert_never_goes_back(&sched.updates(task));
    }
    for task in ["cmd", "quick", "box"] {
        assert!(
            sched.agent_updates(task).iter().filter(|s| s["state"] == "TASK_STARTING").count() <= 1,
            "{task} was launched once"
        );
    }
    if docker {
        wait_for(Duration::from_secs(20), "the container to be removed", || {
            let left = guard.containers(false);
            async move { left.is_empty().then_some(()) }
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_master_failover_mid_stream_loses_and_reorders_no_update() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("agent-failover-logs");
    let work = ScratchDir::new("agent-failover-work");
    let ports = [free_port(), free_port()];
    let mut masters = vec![start_master("master-a", &zk, ports[0], logs.path())];
    tokio::time::sleep(Duration::from_millis(300)).await;
    masters.push(start_master("master-b", &zk, ports[1], logs.path()));
    let spec = AgentSpec::new(&zk, &work, "cpus:4;mem:2048;disk:1000;ports:[31000-31009]");
    let _agent = spec.start("agent", logs.path());
    let first = leader(&ports).await;

    // `lone` has one task, which ends before the failover while its STARTING is unacknowledged: the new master
    // hears of the framework only through the agent's re-registration, which must report the ended task.
    let lone = Scheduler::subscribe(first, framework_info("lone", &[])).await;
    lone.hold("lone");
    lone.launch(|o| vec![command_task(o, "lone", "sleep 1")]).await;
    lone.decline_offers();
    lone.wait_state("lone", "TASK_STARTING", Duration::from_secs(30)).await;

    let sched = Scheduler::subscribe(first, framework_info("failover", &[])).await;
    // Tasks end one after another over ~8 s, so updates flow before, during and after the failover.
    let tasks: Vec<String> = (0..16).map(|i| format!("t{i:02}")).collect();
    let ids = tasks.clone();
    sched
        .launch(move |o| {
            ids.iter()
                .enumerate()
                .map(|(i, id)| command_task(o, id, &format!("sleep {}.{}", i / 2, (i % 2) * 5)))
                .collect()
        })
        .await;
    sched.wait_state("t02", "TASK_FINISHED", Duration::from_secs(30)).await;
    wait_for(Duration::from_secs(10), "lone to end", || async {
        let state = get_json(&spec.url("/state")).await?;
        (executor(&state, "lone")?["completed_tasks"][0]["state"] == "TASK_FINISHED").then_some(())
    })
    .await;

    let index = ports.iter().position(|p| *p == first).unwrap();
    masters[index].kill();
    let second = leader(&[ports[1 - index]]).await;
    wait_for(Duration::from_secs(20), "the old stream to break", || {
        let closed = sched.closed();
        async move { closed.then_some(()) }
    })
    .await;
    sched.resubscribe(second).await;

    // `lone` comes back only after the agent re-registered (and resent its STARTING) with the new leader.
    let slaves = format!("http://127.0.0.1:{second}/master/slaves");
    wait_for(Duration::from_secs(30), "the agent on the new leader", || async {
        let slaves = get_json(&slaves).await?;
        (slaves["slaves"][0]["active"] == true).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    lone.resubscribe(second).await;
    lone.release("lone").await;

    for task in &tasks {
        sched.wait_state(task, "TASK_FINISHED", Duration::from_secs(120)).await;
    }
    for task in &tasks {
        assert_eq!(
            sched.agent_states(task),
            ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"],
            "{task}: {:#?}",
            sched.updates(task)
        );
        assert_never_goes_back(&sched.updates(task));
    }
    let finished = lone.wait_state("lone", "TASK_FINISHED", Duration::from_secs(60)).await;
    assert_eq!(finished["source"], "SOURCE_EXECUTOR");
    assert_eq!(lone.agent_states("lone"), ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);
    assert_never_goes_back(&lone.updates("lone"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_serves_on_port0_and_its_sandbox_is_readable_over_files() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("agent-files-logs");
    let work = ScratchDir::new("agent-files-work");
    let master_port = free_port();
    let _master = start_master("master", &zk, master_port, logs.path());
    let port = free_port();
    let spec = AgentSpec::new(&zk, &work, &format!("cpus:2;mem:1024;disk:1000;ports:[{port}-{port}]"));
    let _agent = spec.start("agent", logs.path());
    leader(&[master_port]).await;

    let sched = Scheduler::subscribe(master_port, framework_info("web", &[])).await;
    let offer = sched
        .launch(|o| {
            let mut task = command_task(
                o,
                "web",
                "echo hello-from-$PORT0 > index.html; for i in 1 2 3; do echo line$i; done; exec /bin/busybox httpd -f -p 127.0.0.1:$PORT0 -h .",
            );
            task["resources"].as_array_mut().unwrap().push(resource(o, "ports", port as f64));
            // As Marathon does: the offered port in the environment.
            task["command"]["environment"] = json!({"variables": [{"name": "PORT0", "value": port.to_string()}]});
            vec![task]
        })
        .await;
    sched.wait_state("web", "TASK_RUNNING", Duration::from_secs(30)).await;

    let page = wait_for(Duration::from_secs(20), "the task's web server", || async move {
        let r = reqwest::get(format!("http://127.0.0.1:{port}/index.html")).await.ok()?;
        r.status().is_success().then_some(())?;
        r.text().await.ok()
    })
    .await;
    assert_eq!(page, format!("hello-from-{port}\n"));

    let state = agent_state(&spec).await;
    let dir = executor(&state, "web").expect("executor")["directory"].as_str().unwrap().to_string();
    let read = |query: String| {
        let url = spec.url(&format!("/files/read?{query}"));
        async move { get_json(&url).await.expect("/files/read") }
    };
    let stdout = format!("{dir}/stdout");
    wait_for(Duration::from_secs(10), "the task's output", || {
        let full = std::fs::read_to_string(&stdout).unwrap_or_default();
        async move { (full == "line1\nline2\nline3\n").then_some(()) }
    })
    .await;
    assert_eq!(read(format!("path={stdout}&offset=0&length=5")).await, json!({"offset": 0, "data": "line1"}));
    assert_eq!(
        read(format!("path={stdout}&offset=6&length=100")).await,
        json!({"offset": 6, "data": "line2\nline3\n"})
    );
    assert_eq!(read(format!("path={stdout}&offset=-1")).await, json!({"offset": 18, "data": ""}));
    assert_eq!(read(format!("path={stdout}&offset=100")).await, json!({"offset": 100, "data": ""}));
    let virtual_dir = format!("/frameworks/{}/executors/web/runs/latest", sched.framework_id());
    assert_eq!(read(format!("path={virtual_dir}/stdout&offset=0&length=5")).await["data"], "line1");

    let listing = get_json(&spec.url(&format!("/files/browse?path={dir}"))).await.expect("/files/browse");
    let entries = listing.as_array().expect("array");
    let names: Vec<&str> = entries.iter().map(|e| e["path"].as_str().unwrap()).collect();
    for file in ["index.html", "stderr", "stdout"] {
        assert!(names.contains(&format!("{dir}/{file}").as_str()), "{names:?}");
    }
    let entry = entries.iter().find(|e| e["path"] == format!("{dir}/stdout").as_str()).unwrap();
    assert_eq!(entry["size"], 18);
    assert!(entry["mode"].as_str().unwrap().starts_with("-rw"), "{entry}");
    for key in ["nlink", "mtime", "uid", "gid"] {
        assert!(entry.get(key).is_some(), "{entry}");
    }
    let listing = get_json(&spec.url(&format!("/files/browse?path={virtual_dir}"))).await.expect("virtual browse");
    assert!(
        listing.as_array().unwrap().iter().any(|e| e["path"] == format!("{virtual_dir}/stdout").as_str()),
        "{listing}"
    );

    let client = reqwest::Client::new();
    let status = |url: String| {
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(spec.url("/files/read")).await, 400);
    assert_eq!(status(spec.url(&format!("/files/read?path={dir}/nope"))).await, 404);
    assert_eq!(status(spec.url("/files/read?path=/etc/passwd")).await, 404);

    sched.kill("web", &offer["agent_id"], None).await;
    sched.wait_state("web", "TASK_KILLED", Duration::from_secs(20)).await;
}
