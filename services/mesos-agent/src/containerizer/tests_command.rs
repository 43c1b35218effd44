//! Integration tests of the Mesos (command) containerizer: real processes, no mocks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;

/// Timeout for any single expected event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A temporary work dir; on drop kills whatever tasks its checkpoints name
/// and removes the directory (also when a test fails).
pub(super) struct WorkDir {
    pub dir: PathBuf,
    pub agent: String,
}

impl WorkDir {
    pub fn new(tag: &str) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("mesos-rs-cz-{tag}-{}", &id[..8]));
        std::fs::create_dir_all(&dir).expect("create work dir");
        WorkDir { dir, agent: format!("test-{tag}-{}-S0", &id[..8]) }
    }

    pub fn config(&self) -> Config {
        Config::new(&self.dir)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        for cp in scan_checkpoints(&self.dir, &self.agent) {
            if let Some(sup) = cp.supervisor_pid {
                if procfs::is_alive(sup, cp.supervisor_start_time) {
                    procfs::signal_session(sup, sup, libc::SIGKILL);
                    // SAFETY: killing a supervisor this test started.
                    unsafe { libc::kill(sup, libc::SIGKILL) };
                }
                procfs::try_reap(sup);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A shell command task spec.
pub(super) fn shell_spec(w: &WorkDir, task: &str, cmd: &str) -> LaunchSpec {
    LaunchSpec {
        task_id: task.to_string(),
        framework_id: "fw-0000".into(),
        executor_id: task.to_string(),
        container_id: uuid::Uuid::new_v4().to_string(),
        agent_id: w.agent.clone(),
        sandbox_dir: None,
        command: CommandSpec { shell: true, value: Some(cmd.to_string()), ..Default::default() },
        docker: None,
        cpus: 0.1,
        mem_mb: 32.0,
        kill_grace: Duration::from_secs(3),
        labels: Vec::new(),
        killing_state: false,
    }
}

/// The next event, failing the test after [`EVENT_TIMEOUT`].
pub(super) async fn next_event(rx: &mut EventReceiver) -> ContainerEvent {
    tokio::time::timeout(EVENT_TIMEOUT, rx.recv())
        .await
        .expect("timed out waiting for a container event")
        .expect("event channel closed")
}

/// Asserts the next event's state and returns it.
pub(super) async fn expect_state(rx: &mut EventReceiver, state: TaskState) -> ContainerEvent {
    let ev = next_event(rx).await;
    assert_eq!(ev.state, state, "unexpected event {ev:?}");
    ev
}

/// Events up to and including the terminal one.
pub(super) async fn until_terminal(rx: &mut EventReceiver) -> Vec<ContainerEvent> {
    let mut out = Vec::new();
    loop {
        let ev = next_event(rx).await;
        let done = ev.state.is_terminal();
        out.push(ev);
        if done {
            return out;
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_finishes_and_captures_output() {
    let w = WorkDir::new("finish");
    let (cz, mut rx) = Containerizers::new(w.config());
    let spec = shell_spec(&w, "t-finish", "echo hello; echo oops >&2");
    let sandbox = cz.sandbox_dir(&spec);
    cz.launch(spec).expect("launch");
    let events = until_terminal(&mut rx).await;
    let states: Vec<TaskState> = events.iter().map(|e| e.state).collect();
    assert_eq!(states, vec![TaskState::Starting, TaskState::Running, TaskState::Finished]);
    let last = events.last().expect("terminal");
    assert_eq!(last.message.as_deref(), Some("Command exited with status 0"));
    assert_eq!(last.exit_code, Some(0));
    assert_eq!(last.source, EventSource::Executor);
    assert_eq!(read(&sandbox.join("stdout")), "hello\n");
    assert_eq!(read(&sandbox.join("stderr")), "oops\n");
    assert!(cz.running().is_empty());
    // Standard layout with a runs/latest link.
    assert!(sandbox.starts_with(w.dir.join("slaves").join(&w.agent)));
    assert!(sandbox.parent().expect("runs").join("latest").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_fails_with_exit_status() {
    let w = WorkDir::new("fail");
    let (cz, mut rx) = Containerizers::new(w.config());
    cz.launch(shell_spec(&w, "t-fail", "exit 3")).expect("launch");
    let last = until_terminal(&mut rx).await.pop().expect("terminal");
    assert_eq!(last.state, TaskState::Failed);
    assert_eq!(last.message.as_deref(), Some("Command exited with status 3"));
    assert_eq!(last.exit_code, Some(3));
    assert_eq!(last.reason, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_environment_is_clean_plus_given() {
    let w = WorkDir::new("env");
    let (cz, mut rx) = Containerizers::new(w.config());
    let mut spec = shell_spec(&w, "t-env", r#"echo "$FOO|$MESOS_SANDBOX|$MESOS_DIRECTORY|$PATH|${HOME-unset}|$(pwd)""#);
    spec.command.env = vec![("FOO".into(), "bar".into()), ("MESOS_TASK_X".into(), "1".into())];
    let sandbox = cz.sandbox_dir(&spec);
    cz.launch(spec).expect("launch");
    let last = until_terminal(&mut rx).await.pop().expect("terminal");
    assert_eq!(last.state, TaskState::Finished, "{last:?}");
    let s = sandbox.to_string_lossy();
    assert_eq!(
        read(&sandbox.join("stdout")),
        format!("bar|{s}|{s}|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|unset|{s}\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_exec_without_shell_and_exec_failure() {
    let w = WorkDir::new("exec");
    let (cz, mut rx) = Containerizers::new(w.config());
    let mut spec = shell_spec(&w, "t-exec", "");
    spec.command = CommandSpec {
        shell: false,
        value: Some("echo".into()),
        arguments: vec!["echo".into(), "a b".into(), "c".into()],
        ..Default::default()
    };
    let sandbox = cz.sandbox_dir(&spec);
    cz.launch(spec).expect("launch");
    let last = until_terminal(&mut rx).await.pop().expect("terminal");
    assert_eq!(last.state, TaskState::Finished, "{last:?}");
    assert_eq!(read(&sandbox.join("stdout")), "a b c\n");

    let mut bad = shell_spec(&w, "t-noexec", "");
    bad.command = CommandSpec { shell: false, value: Some("/nonexistent/prog".into()), ..Default::default() };
    cz.launch(bad).expect("launch");
    let events = until_terminal(&mut rx).await;
    assert_eq!(events[0].state, TaskState::Starting);
    let last = events.last().expect("terminal");
    assert_eq!(last.state, TaskState::Failed);
    assert_eq!(last.reason, Some(reasons::CONTAINER_LAUNCH_FAILED));
    assert!(
        last.message
            .as_deref()
            .unwrap_or("")
            .starts_with("Failed to launch container: Failed to execute '/nonexistent/prog'"),
        "{last:?}"
    );
    assert!(!events.iter().any(|e| e.state == TaskState::Running));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_kill_terminates_on_sigterm() {
    let w = WorkDir::new("killterm");
    let (cz, mut rx) = Containerizers::new(w.config());
    let spec = shell_spec(&w, "t-kill", "sleep 300 & echo $! > child.pid; wait");
    let sandbox = cz.sandbox_dir(&spec);
    cz.launch(spec).expect("launch");
    expect_state(&mut rx, TaskState::Starting).await;
    expect_state(&mut rx, TaskState::Running).await;
    // Wait for the background child to exist.
    let deadline = Instant::now() + Duration::from_secs(10);
    let child: i32 = loop {
        if let Ok(pid) = read(&sandbox.join("child.pid")).trim().parse() {
            break pid;
        }
        assert!(Instant::now() < deadline, "child pid never written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let running = cz.running();
    assert_eq!(running.len(), 1);
    assert!(running[0].pid.is_some());

    let start = Instant::now();
    cz.kill("t-kill", Some(Duration::from_secs(10))).expect("kill");
    let last = until_terminal(&mut rx).await.pop().expect("terminal");
    assert!(start.elapsed() < Duration::from_secs(5), "SIGTERM should suffice");
    assert_eq!(last.state, TaskState::Killed);
    assert_eq!(last.message.as_deref(), Some("Command terminated with signal Terminated"));
    assert_eq!(last.signal, Some(libc::SIGTERM));
    // The background child was in the process group: it is gone too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!procfs::is_alive(child, None), "background child survived");
    assert!(matches!(cz.kill("t-kill", None), Err(KillError::UnknownTask(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_kill_escalates_to_sigkill_after_grace() {
    let w = WorkDir::new("killgrace");
    let (cz, mut rx) = Containerizers::new(w.config());
    let spec = shell_spec(&w, "t-trap", "trap '' TERM; echo ready; sleep 300");
    let sandbox = cz.sandbox_dir(&spec);
    cz.launch(spec).expect("launch");
    expect_state(&mut rx, TaskState::Starting).await;
    expect_state(&mut rx, TaskState::Running).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !read(&sandbox.join("stdout")).contains("ready") {
        assert!(Instant::now() < deadline, "task never got ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let start = Instant::now();
    cz.kill("t-trap", Some(Duration::from_millis(1500))).expect("kill");
    let last = until_terminal(&mut rx).await.pop().expect("terminal");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(1400), "killed too early: {took:?}");
    assert!(took < Duration::from_secs(10), "killed too late: {took:?}");
    assert_eq!(last.state, TaskState::Killed);
    assert_eq!(last.message.as_deref(), Some("Command terminated with signal Killed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_recovery_reattaches_after_restart() {
    let w = WorkDir::new("recover");
    let spec = shell_spec(&w, "t-rec", "echo started; exec sleep 300");
    let (first, mut rx1) = Containerizers::new(w.config());
    let meta = first.meta_run_dir(&spec);
    first.launch(spec.clone()).expect("launch");
    expect_state(&mut rx1, TaskState::Starting).await;
    expect_state(&mut rx1, TaskState::Running).await;
    let pid = first.running()[0].pid.expect("pid");
    // "Agent restart": drop the first instance entirely.
    drop(first);
    drop(rx1);
    assert!(procfs::is_alive(pid, None), "task died with the containerizer");

    let cp = checkpoint::read_checkpoint(&meta).expect("checkpoint");
    assert_eq!(cp.kind, ContainerizerKind::Mesos);
    assert_eq!(cp.pid, Some(pid));
    assert_eq!(cp.pid_start_time, procfs::start_time(pid));
    assert!(cp.supervisor_pid.is_some() && cp.supervisor_start_time.is_some());
    let sup = cp.supervisor_pid.unwrap_or_default();
    assert_eq!(read(Path::new(&format!("/proc/{sup}/comm"))).trim(), "mesos-task-sup");
    assert_eq!(procfs::read_stat(pid).map(|s| (s.session, s.pgrp)), Some((sup, pid)));
    assert_eq!(scan_checkpoints(&w.dir, &w.agent), vec![cp.clone()]);

    let (second, mut rx2) = Containerizers::new(w.config());
    let out = second.recover(vec![cp.clone()], RecoverMode::Reconnect).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].result, RecoverResult::Reattached);
    let running = second.running();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].pid, Some(pid));
    // The task may still be exec'ing `sleep` (no resident pages for a moment on a loaded machine): poll.
    let mut usage = second.usage().await;
    for _ in 0..50 {
        if usage.len() == 1 && usage[0].statistics.mem_rss_bytes.unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        usage = second.usage().await;
    }
    assert_eq!(usage.len(), 1);
    assert!(usage[0].statistics.mem_rss_bytes.unwrap_or(0) > 0, "{usage:?}");
    assert_eq!(usage[0].statistics.mem_limit_bytes, 32 * 1024 * 1024);

    // Recovering twice is refused.
    let again = second.recover(vec![cp], RecoverMode::Reconnect).await;
    assert!(matches!(again[0].result, RecoverResult::Error(_)));

    second.kill("t-rec", Some(Duration::from_secs(5))).expect("kill");
    let last = until_terminal(&mut rx2).await.pop().expect("terminal");
    assert_eq!(last.state, TaskState::Killed);
    assert_eq!(last.message.as_deref(), Some("Command terminated with signal Terminated"));
    assert!(!procfs::is_alive(pid, None));
    assert!(second.running().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_recovery_cleanup_kills_and_reports_exits() {
    let w = WorkDir::new("cleanup");
    let (first, mut rx1) = Containerizers::new(w.config());
    let long = shell_spec(&w, "t-long", "exec sleep 300");
    let short = shell_spec(&w, "t-short", "exit 7");
    first.launch(long.clone()).expect("launch");
    first.launch(short.clone()).expect("launch");
    let mut terminal_short = false;
    let mut running_long = false;
    while !(terminal_short && running_long) {
        let ev = next_event(&mut rx1).await;
        terminal_short |= ev.task_id == "t-short" && ev.state.is_terminal();
        running_long |= ev.task_id == "t-long" && ev.state == TaskState::Running;
    }
    let pid = first.running()[0].pid.expect("pid");
    drop(first);
    drop(rx1);

    let cps = scan_checkpoints(&w.dir, &w.agent);
    assert_eq!(cps.len(), 2);
    let (second, mut rx2) = Containerizers::new(w.config());
    let out = second.recover(cps, RecoverMode::Cleanup).await;
    let result_of = |t: &str| out.iter().find(|o| o.task_id == t).map(|o| o.result.clone());
    assert_eq!(result_of("t-long"), Some(RecoverResult::Killing));
    assert_eq!(result_of("t-short"), Some(RecoverResult::Exited));
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let ev = next_event(&mut rx2).await;
        assert!(ev.state.is_terminal(), "{ev:?}");
        seen.push(ev);
    }
    let ev_of = |t: &str| seen.iter().find(|e| e.task_id == t).cloned().expect("event");
    assert_eq!(ev_of("t-short").state, TaskState::Failed);
    assert_eq!(ev_of("t-short").message.as_deref(), Some("Command exited with status 7"));
    assert_eq!(ev_of("t-long").state, TaskState::Killed);
    assert!(!procfs::is_alive(pid, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_refusals() {
    let w = WorkDir::new("refuse");
    let (cz, mut rx) = Containerizers::new(w.config());
    let mut docker = shell_spec(&w, "t-docker", "true");
    docker.docker = Some(DockerSpec { image: "busybox".into(), ..Default::default() });
    let err = cz.launch(docker.clone()).expect_err("docker disabled");
    assert!(matches!(err, LaunchError::Unsupported(_)), "{err}");
    let ev = err.to_event(&docker);
    assert_eq!((ev.state, ev.reason), (TaskState::Failed, Some(reasons::CONTAINER_LAUNCH_FAILED)));

    let bad_id = shell_spec(&w, "a/b", "true");
    assert!(matches!(cz.launch(bad_id), Err(LaunchError::Invalid(_))));

    let no_value = CommandSpec { shell: true, value: None, ..Default::default() };
    let mut empty = shell_spec(&w, "t-empty", "");
    empty.command = no_value;
    assert!(matches!(cz.launch(empty), Err(LaunchError::Invalid(_))));

    cz.launch(shell_spec(&w, "t-dup", "sleep 30")).expect("launch");
    let dup = cz.launch(shell_spec(&w, "t-dup", "sleep 30")).expect_err("duplicate");
    assert_eq!(dup, LaunchError::AlreadyRunning("t-dup".into()));
    cz.kill("t-dup", Some(Duration::ZERO)).expect("kill");
    let last = until_terminal(&mut rx).await.pop().expect("terminal");
    assert_eq!(last.state, TaskState::Killed);
    assert!(matches!(cz.kill("nope", None), Err(KillError::UnknownTask(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_runs_as_requested_user() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping user switch test: the test does not run as root");
        return;
    }
    let Ok(Some(creds)) = command::resolve_user(true, Some("nobody")) else {
        eprintln!("skipping user switch test: no user 'nobody' in /etc/passwd");
        return;
    };
    let (uid, gid) = (creds.uid, creds.gid);
    let w = WorkDir::new("user");
    let (cz, mut rx) = Containerizers::new(w.config());
    let mut spec = shell_spec(&w, "t-user", "id -u; id -g; echo x > file");
    spec.command.user = Some("nobody".into());
    let sandbox = cz.sandbox_dir(&spec);
    cz.launch(spec).expect("launch");
    let last = until_terminal(&mut rx).await.pop().expect("terminal");
    assert_eq!(last.state, TaskState::Finished, "{last:?} stderr: {}", read(&sandbox.join("stderr")));
    assert_eq!(read(&sandbox.join("stdout")), format!("{uid}\n{gid}\n"));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(sandbox.join("file")).expect("file").uid(), uid);

    let mut unknown = shell_spec(&w, "t-nouser", "true");
    unknown.command.user = Some("no-such-user-mesos-rs".into());
    assert!(matches!(cz.launch(unknown), Err(LaunchError::Invalid(_))));
}

/// Opt-in: set `MESOS_RS_TEST_CGROUP_ROOT` to a writable cgroup v2 directory
/// (e.g. `/sys/fs/cgroup/mesos-rs-test`) to exercise per-task cgroups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_cgroup_v2_opt_in() {
    let Some(root) = std::env::var_os("MESOS_RS_TEST_CGROUP_ROOT") else {
        eprintln!("skipping cgroup test: MESOS_RS_TEST_CGROUP_ROOT is not set");
        return;
    };
    let w = WorkDir::new("cgroup");
    let mut config = w.config();
    config.cgroup_root = Some(PathBuf::from(&root));
    let (cz, mut rx) = Containerizers::new(config);
    let spec = shell_spec(&w, "t-cg", "cat /proc/self/cgroup; exec sleep 300");
    let cid = spec.container_id.clone();
    let sandbox = cz.sandbox_dir(&spec);
    cz.launch(spec).expect("launch");
    expect_state(&mut rx, TaskState::Starting).await;
    expect_state(&mut rx, TaskState::Running).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !read(&sandbox.join("stdout")).contains(&cid) {
        assert!(Instant::now() < deadline, "task not in its cgroup: {}", read(&sandbox.join("stdout")));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let usage = cz.usage().await;
    assert!(usage[0].statistics.cpus_user_time_secs.is_some());
    cz.kill("t-cg", Some(Duration::from_secs(2))).expect("kill");
    assert_eq!(until_terminal(&mut rx).await.pop().expect("terminal").state, TaskState::Killed);
    assert!(!Path::new(&root).join(&cid).exists(), "task cgroup not removed");
}
