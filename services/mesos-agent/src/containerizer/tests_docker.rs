//! Integration tests of the Docker containerizer against the local daemon.
//!
//! No registry is reachable, so a tiny image `mesos-rs/test-busybox:latest`
//! (label `mesos-rs.test=1`) is built from the host's static `/bin/busybox`.
//! Every container carries `mesos-rs.test=1` and the test's agent id; a drop
//! guard removes them even when a test fails, and each test checks that none
//! is left. Tests are skipped (with a printed reason) when
//! `/var/run/docker.sock` is absent.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use bollard::query_parameters::{BuildImageOptions, ListContainersOptions, RemoveContainerOptions};
use bollard::Docker;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::tests_command::{expect_state, until_terminal, WorkDir};
use super::*;

const SOCKET: &str = "/var/run/docker.sock";
const TEST_IMAGE: &str = "mesos-rs/test-busybox:latest";

/// Serializes the image build across concurrently running tests.
static IMAGE_BUILT: tokio::sync::Mutex<bool> = tokio::sync::Mutex::const_new(false);

fn docker_present() -> bool {
    if Path::new(SOCKET).exists() {
        true
    } else {
        eprintln!("skipping docker test: {SOCKET} is absent");
        false
    }
}

async fn client() -> Docker {
    Docker::connect_with_socket(SOCKET, 120, bollard::API_DEFAULT_VERSION)
        .expect("docker socket")
        .negotiate_version()
        .await
        .expect("docker version negotiation")
}

/// Appends one ustar entry to `out`.
fn tar_entry(out: &mut Vec<u8>, name: &str, mode: u32, kind: u8, link: &str, data: &[u8]) {
    fn octal(field: &mut [u8], v: u64) {
        let s = format!("{:0w$o}\0", v, w = field.len() - 1);
        field.copy_from_slice(s.as_bytes());
    }
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], mode as u64);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], data.len() as u64);
    octal(&mut h[136..148], 0);
    h[148..156].copy_from_slice(b"        ");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let chk = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(chk.as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// Builds the busybox test image once per test process.
async fn ensure_test_image(docker: &Docker) {
    let mut built = IMAGE_BUILT.lock().await;
    if *built {
        return;
    }
    let busybox = std::fs::read("/bin/busybox").expect("the host's /bin/busybox (busybox-static)");
    let dockerfile = "FROM scratch\nCOPY bin /bin\nENV PATH=/bin\nLABEL mesos-rs.test=1\nCMD [\"/bin/sh\"]\n";
    let mut tar = Vec::new();
    tar_entry(&mut tar, "Dockerfile", 0o644, b'0', "", dockerfile.as_bytes());
    tar_entry(&mut tar, "bin/", 0o755, b'5', "", &[]);
    tar_entry(&mut tar, "bin/busybox", 0o755, b'0', "", &busybox);
    for applet in ["sh", "echo", "httpd", "sleep", "cat", "env", "true", "false", "ls"] {
        tar_entry(&mut tar, &format!("bin/{applet}"), 0o777, b'2', "busybox", &[]);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    let opts = BuildImageOptions {
        dockerfile: "Dockerfile".into(),
        t: Some(TEST_IMAGE.into()),
        rm: true,
        forcerm: true,
        ..Default::default()
    };
    let mut stream = docker.build_image(opts, None, Some(bollard::body_full(tar.into())));
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            panic!("building {TEST_IMAGE} failed: {e}");
        }
    }
    *built = true;
}

/// Names of containers (any state) labelled with this agent id.
async fn agent_containers(docker: &Docker, agent: &str) -> Vec<String> {
    let filters = HashMap::from([("label".to_string(), vec![format!("mesos-rs.agent={agent}")])]);
    let opts = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    docker
        .list_containers(Some(opts))
        .await
        .expect("list containers")
        .into_iter()
        .filter_map(|c| c.names.and_then(|n| n.first().cloned()))
        .collect()
}

/// Removes this test's containers on drop (runs its own runtime on a thread).
struct ContainerGuard {
    agent: String,
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let agent = self.agent.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async {
                let docker = client().await;
                for name in agent_containers(&docker, &agent).await {
                    let opts = RemoveContainerOptions { force: true, v: true, ..Default::default() };
                    let _ = docker.remove_container(name.trim_start_matches('/'), Some(opts)).await;
                }
            });
        })
        .join();
    }
}

/// Test fixture: work dir, cleanup guard, docker client, containerizers.
struct Fixture {
    docker: Docker,
    // Field order = drop order: containerizers first, then the guard, then the dir.
    cz: Containerizers,
    rx: EventReceiver,
    guard: ContainerGuard,
    w: WorkDir,
}

impl Fixture {
    async fn new(tag: &str) -> Fixture {
        let w = WorkDir::new(tag);
        let guard = ContainerGuard { agent: w.agent.clone() };
        let docker = client().await;
        ensure_test_image(&docker).await;
        let (cz, rx) = Containerizers::new(config(&w));
        Fixture { docker, cz, rx, guard, w }
    }

    /// Asserts that no container of this test is left.
    async fn assert_clean(&self) {
        let left = agent_containers(&self.docker, &self.w.agent).await;
        assert!(left.is_empty(), "containers left behind: {left:?}");
    }
}

fn config(w: &WorkDir) -> Config {
    let mut c = w.config();
    c.containerizers = vec![ContainerizerKind::Docker, ContainerizerKind::Mesos];
    c.docker_pull_timeout = Duration::from_secs(60);
    c
}

fn docker_spec(w: &WorkDir, task: &str, cmd: Option<&str>) -> LaunchSpec {
    let mut spec = super::tests_command::shell_spec(w, task, cmd.unwrap_or(""));
    if cmd.is_none() {
        spec.command = CommandSpec::default();
    }
    spec.docker = Some(DockerSpec { image: TEST_IMAGE.into(), ..Default::default() });
    spec.labels = vec![("mesos-rs.test".into(), "1".into())];
    spec
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until `f` holds, polling, or fails after `secs`.
async fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_echo_finishes_with_output_and_env() {
    if !docker_present() {
        return;
    }
    let mut f = Fixture::new("decho").await;
    let mut spec =
        docker_spec(&f.w, "t-echo", Some(r#"echo hi; echo "$MESOS_SANDBOX $MESOS_CONTAINER_NAME $FOO"; echo err >&2"#));
    spec.command.env = vec![("FOO".into(), "bar".into())];
    // A forced pull of a local-only image fails (no registry) but proceeds.
    if let Some(d) = spec.docker.as_mut() {
        d.force_pull = true;
    }
    let sandbox = f.cz.sandbox_dir(&spec);
    let name = docker_container_name(&spec.agent_id, &spec.container_id);
    f.cz.launch(spec).expect("launch");
    let events = until_terminal(&mut f.rx).await;
    let states: Vec<TaskState> = events.iter().map(|e| e.state).collect();
    assert_eq!(states, vec![TaskState::Starting, TaskState::Running, TaskState::Finished], "{events:?}");
    let last = events.last().expect("terminal");
    assert_eq!(last.message.as_deref(), Some("Container exited with status 0"));
    assert_eq!(last.exit_code, Some(0));
    assert_eq!(read(&sandbox.join("stdout")), format!("hi\n/mnt/mesos/sandbox {name} bar\n"));
    assert_eq!(read(&sandbox.join("stderr")), "err\n");
    assert!(f.cz.running().is_empty());
    f.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_nonzero_exit_fails() {
    if !docker_present() {
        return;
    }
    let mut f = Fixture::new("dexit").await;
    f.cz.launch(docker_spec(&f.w, "t-exit", Some("exit 3"))).expect("launch");
    let last = until_terminal(&mut f.rx).await.pop().expect("terminal");
    assert_eq!(last.state, TaskState::Failed);
    assert_eq!(last.message.as_deref(), Some("Container exited with status 3"));
    assert_eq!(last.exit_code, Some(3));
    f.assert_clean().await;
}

/// A free TCP port in 31000-32000.
fn free_port() -> u16 {
    let start = 31000 + (uuid::Uuid::new_v4().as_u128() % 1000) as u16;
    (0..1000)
        .map(|i| 31000 + (start - 31000 + i) % 1000)
        .find(|&p| std::net::TcpListener::bind(("0.0.0.0", p)).is_ok())
        .expect("a free port in 31000-32000")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_bridge_port_mapping_serves_http() {
    if !docker_present() {
        return;
    }
    let mut f = Fixture::new("dport").await;
    let port = free_port();
    let mut spec = docker_spec(&f.w, "t-http", Some("exec httpd -f -p 8080 -h /mnt/mesos/sandbox/www"));
    if let Some(d) = spec.docker.as_mut() {
        d.network = DockerNetwork::Bridge;
        d.port_mappings = vec![PortMapping { host_port: port, container_port: 8080, protocol: Some("tcp".into()) }];
    }
    let sandbox = f.cz.sandbox_dir(&spec);
    std::fs::create_dir_all(sandbox.join("www")).expect("www dir");
    std::fs::write(sandbox.join("www/index.html"), "hello from mesos-rs\n").expect("index");
    f.cz.launch(spec).expect("launch");
    expect_state(&mut f.rx, TaskState::Starting).await;
    let running = expect_state(&mut f.rx, TaskState::Running).await;
    assert!(running.container_ip.as_deref().is_some_and(|ip| !ip.is_empty()), "{running:?}");
    assert_eq!(f.cz.running()[0].container_ip, running.container_ip);

    let deadline = Instant::now() + Duration::from_secs(20);
    let response = loop {
        let attempt = async {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            s.write_all(b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n").await?;
            let mut buf = String::new();
            s.read_to_string(&mut buf).await?;
            Ok::<_, std::io::Error>(buf)
        };
        match tokio::time::timeout(Duration::from_secs(5), attempt).await {
            Ok(Ok(body)) if body.contains("hello from mesos-rs") => break body,
            _ => {
                assert!(Instant::now() < deadline, "no HTTP answer on port {port}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert!(response.starts_with("HTTP/1.") && response.contains(" 200 "), "{response}");

    let usage = f.cz.usage().await;
    assert_eq!(usage.len(), 1);
    assert!(usage[0].statistics.mem_rss_bytes.is_some(), "{usage:?}");
    assert_eq!(usage[0].statistics.mem_limit_bytes, 32 * 1024 * 1024);

    f.cz.kill("t-http", Some(Duration::from_secs(5))).expect("kill");
    let last = until_terminal(&mut f.rx).await.pop().expect("terminal");
    assert_eq!(last.state, TaskState::Killed);
    assert!(last.message.as_deref().unwrap_or("").starts_with("Container exited with status "), "{last:?}");
    f.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_kill_escalates_after_grace() {
    if !docker_present() {
        return;
    }
    let mut f = Fixture::new("dkill").await;
    // PID 1 without a TERM handler ignores SIGTERM: only SIGKILL ends it.
    f.cz.launch(docker_spec(&f.w, "t-stubborn", Some("trap '' TERM; sleep 300"))).expect("launch");
    expect_state(&mut f.rx, TaskState::Starting).await;
    expect_state(&mut f.rx, TaskState::Running).await;
    let start = Instant::now();
    f.cz.kill("t-stubborn", Some(Duration::from_secs(2))).expect("kill");
    let last = until_terminal(&mut f.rx).await.pop().expect("terminal");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(1900), "stopped before the grace period: {took:?}");
    assert!(took < Duration::from_secs(20), "stop took too long: {took:?}");
    assert_eq!(last.state, TaskState::Killed);
    assert_eq!(last.message.as_deref(), Some("Container exited with status 137"));
    f.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_missing_image_fails_with_daemon_message() {
    if !docker_present() {
        return;
    }
    let mut f = Fixture::new("dpull").await;
    let image = format!("mesos-rs/does-not-exist-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut spec = docker_spec(&f.w, "t-pull", Some("true"));
    if let Some(d) = spec.docker.as_mut() {
        d.image = image.clone();
        d.force_pull = true;
    }
    let start = Instant::now();
    f.cz.launch(spec).expect("launch");
    let events = until_terminal(&mut f.rx).await;
    assert!(start.elapsed() < Duration::from_secs(60));
    assert_eq!(events[0].state, TaskState::Starting);
    let last = events.last().expect("terminal");
    assert_eq!(last.state, TaskState::Failed);
    assert_eq!(last.reason, Some(reasons::CONTAINER_LAUNCH_FAILED));
    assert_eq!(last.source, EventSource::Agent);
    let msg = last.message.clone().unwrap_or_default();
    let prefix = format!("Failed to launch container: Failed to pull image '{image}:latest': ");
    assert!(msg.starts_with(&prefix) && msg.len() > prefix.len(), "{msg}");
    f.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_recovery_reattaches_by_name() {
    if !docker_present() {
        return;
    }
    let f = Fixture::new("drecover").await;
    let spec = docker_spec(&f.w, "t-rec", Some("i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done"));
    let sandbox = f.cz.sandbox_dir(&spec);
    let meta = f.cz.meta_run_dir(&spec);
    let Fixture { docker, cz: first, rx: mut rx1, guard, w } = f;
    first.launch(spec).expect("launch");
    expect_state(&mut rx1, TaskState::Starting).await;
    expect_state(&mut rx1, TaskState::Running).await;
    eventually(20, "first output", || read(&sandbox.join("stdout")).contains("tick2")).await;
    // "Agent restart".
    drop(first);
    drop(rx1);
    let cp = checkpoint::read_checkpoint(&meta).expect("checkpoint");
    assert_eq!(cp.kind, ContainerizerKind::Docker);
    let name = cp.container_name.clone().expect("container name");
    assert_eq!(agent_containers(&docker, &w.agent).await, vec![format!("/{name}")]);
    let lines_before = read(&sandbox.join("stdout")).lines().count();

    let (second, mut rx2) = Containerizers::new(config(&w));
    let out = second.recover(vec![cp], RecoverMode::Reconnect).await;
    assert_eq!(out[0].result, RecoverResult::Reattached);
    assert_eq!(second.running()[0].container_name.as_deref(), Some(name.as_str()));
    eventually(20, "output after recovery", || read(&sandbox.join("stdout")).lines().count() > lines_before + 3).await;

    second.kill("t-rec", Some(Duration::from_secs(5))).expect("kill");
    let last = until_terminal(&mut rx2).await.pop().expect("terminal");
    assert_eq!(last.state, TaskState::Killed, "{last:?}");
    // Output resumed without duplicating lines copied before the restart.
    let text = read(&sandbox.join("stdout"));
    let lines: Vec<&str> = text.lines().collect();
    let unique: HashSet<&str> = lines.iter().copied().collect();
    assert_eq!(unique.len(), lines.len(), "duplicated output: {text}");
    let left = agent_containers(&docker, &w.agent).await;
    assert!(left.is_empty(), "containers left behind: {left:?}");
    drop(second);
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_orphans_and_invalid_parameters() {
    if !docker_present() {
        return;
    }
    let f = Fixture::new("dorphan").await;
    let mut bad = docker_spec(&f.w, "t-bad", Some("true"));
    if let Some(d) = bad.docker.as_mut() {
        d.parameters = vec![("restart".into(), "always".into())];
    }
    let err = f.cz.launch(bad).expect_err("unsupported parameter");
    assert!(err.to_string().contains("Unsupported docker parameter 'restart'"), "{err}");

    let spec = docker_spec(&f.w, "t-orphan", Some("sleep 300"));
    let name = docker_container_name(&spec.agent_id, &spec.container_id);
    let Fixture { docker, cz: first, rx: mut rx1, guard, w } = f;
    first.launch(spec).expect("launch");
    expect_state(&mut rx1, TaskState::Starting).await;
    expect_state(&mut rx1, TaskState::Running).await;
    drop(first);
    drop(rx1);

    let (second, _rx2) = Containerizers::new(config(&w));
    let keep: HashSet<String> = HashSet::new();
    let other_agent = second.kill_orphans(Some("some-other-agent"), &keep).await.expect("kill orphans");
    assert!(!other_agent.contains(&name));
    let removed = second.kill_orphans(Some(&w.agent), &keep).await.expect("kill orphans");
    assert_eq!(removed, vec![name]);
    let left = agent_containers(&docker, &w.agent).await;
    assert!(left.is_empty(), "containers left behind: {left:?}");
    drop(second);
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_guard_removes_containers_of_a_failed_test() {
    if !docker_present() {
        return;
    }
    let (agent_tx, agent_rx) = tokio::sync::oneshot::channel();
    // A "test" that panics while its container is running.
    let failed = tokio::spawn(async move {
        let mut f = Fixture::new("dguard").await;
        let _ = agent_tx.send(f.w.agent.clone());
        f.cz.launch(docker_spec(&f.w, "t-guard", Some("sleep 300"))).expect("launch");
        expect_state(&mut f.rx, TaskState::Starting).await;
        expect_state(&mut f.rx, TaskState::Running).await;
        panic!("deliberate failure with a running container");
    })
    .await;
    assert!(failed.is_err_and(|e| e.is_panic()));
    let agent = agent_rx.await.expect("agent id");
    let left = agent_containers(&client().await, &agent).await;
    assert!(left.is_empty(), "guard left containers behind: {left:?}");
}
