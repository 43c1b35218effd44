//! Mesos containerizer: command tasks as host processes.
//!
//! Launch: the sandbox `stdout`/`stderr` files are opened in append mode and
//! handed to the task (output survives agent restarts); the task is started
//! through the supervisor (see `supervisor.rs`) in its own session and process
//! group with cwd = sandbox. Events: `Starting` at launch, `Running` once the
//! exec succeeded, then `Finished` (`Command exited with status 0`), `Failed`
//! (`Command exited with status N` / `Command terminated with signal <Name>`)
//! or, after a kill, `Killed` (same message style). A failed exec is `Failed`
//! with `REASON_CONTAINER_LAUNCH_FAILED`.
//!
//! Kill: `Killing` first (with `killing_state`), then SIGTERM to the task's process group and session, SIGKILL after the
//! grace period. When the task's main process ends, its supervisor SIGKILLs
//! what is left of its process group.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::checkpoint::{self, Checkpoint, KillMarker, CHECKPOINT_VERSION, EXIT_STATUS_FILE};
use super::procfs::{self, WaitStatus};
use super::supervisor::{self, cstring, Credentials, SpawnRequest};
use super::types::*;
use super::{cgroups, Control, Inner, TaskEntry};

/// What a watcher needs to know about its task.
struct TaskCtx {
    task_id: String,
    container_id: String,
    meta: PathBuf,
    program: String,
    supervisor_pid: i32,
    supervisor_start: Option<u64>,
    pid: Option<i32>,
    cgroup: Option<PathBuf>,
    checkpoint: Checkpoint,
}

/// Builds the task environment: PATH, MESOS_SANDBOX, MESOS_DIRECTORY, then
/// `env` in order (later entries win).
fn build_env(default_path: &str, sandbox: &Path, env: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
    let sandbox = sandbox.to_string_lossy().to_string();
    let mut out: Vec<(String, String)> = vec![
        ("PATH".into(), default_path.to_string()),
        ("MESOS_SANDBOX".into(), sandbox.clone()),
        ("MESOS_DIRECTORY".into(), sandbox),
    ];
    for (k, v) in env {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            return Err(format!("Invalid environment variable name '{k}'"));
        }
        match out.iter_mut().find(|(name, _)| name == k) {
            Some(slot) => slot.1 = v.clone(),
            None => out.push((k.clone(), v.clone())),
        }
    }
    Ok(out)
}

/// Candidate executables and argv for a command.
fn resolve_command(cmd: &CommandSpec, env: &[(String, String)]) -> Result<(Vec<String>, Vec<String>), String> {
    let value = cmd.value.clone().filter(|v| !v.is_empty());
    if cmd.shell {
        let value = value.ok_or("Shell specified but no command value provided")?;
        return Ok((vec!["/bin/sh".into()], vec!["sh".into(), "-c".into(), value]));
    }
    let value = value.ok_or("No command value provided")?;
    let argv = if cmd.arguments.is_empty() { vec![value.clone()] } else { cmd.arguments.clone() };
    if value.contains('/') {
        return Ok((vec![value], argv));
    }
    let path = env.iter().rev().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_str()).unwrap_or("");
    let programs =
        path.split(':').map(|dir| if dir.is_empty() { value.clone() } else { format!("{dir}/{value}") }).collect();
    Ok((programs, argv))
}

/// Finds `user` in `/etc/passwd`-style text: (uid, primary gid).
fn passwd_entry(passwd: &str, user: &str) -> Option<(libc::uid_t, libc::gid_t)> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        (f.next()? == user).then_some(())?;
        let _password = f.next()?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// Supplementary groups of `user` in `/etc/group`-style text, plus `primary`.
fn group_ids(group: &str, user: &str, primary: libc::gid_t) -> Vec<libc::gid_t> {
    let mut gids = vec![primary];
    for line in group.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if let [_, _, gid, members] = f.as_slice() {
            if members.split(',').any(|m| m.trim() == user) {
                if let Ok(gid) = gid.parse() {
                    if !gids.contains(&gid) {
                        gids.push(gid);
                    }
                }
            }
        }
    }
    gids
}

/// Looks up a user for switching (only when running as root and enabled).
/// The agent binary is statically linked, so NSS is not available: users come
/// from `/etc/passwd` and `/etc/group` only (a numeric user is taken as uid=gid).
pub(crate) fn resolve_user(switch: bool, user: Option<&str>) -> Result<Option<Credentials>, String> {
    let Some(user) = user.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    // SAFETY: geteuid has no preconditions.
    if !switch || unsafe { libc::geteuid() } != 0 {
        tracing::debug!(user, "not switching user (switch_user disabled or agent not root)");
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let (uid, gid) = match passwd_entry(&passwd, user) {
        Some(ids) => ids,
        None => match user.parse::<u32>() {
            Ok(n) => (n, n),
            Err(_) => return Err(format!("Failed to get user information for '{user}'")),
        },
    };
    if uid == 0 {
        return Ok(None);
    }
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    Ok(Some(Credentials { uid, gid, groups: group_ids(&group, user, gid) }))
}

/// Opens a sandbox output file for appending.
fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    OpenOptions::new().create(true).append(true).mode(0o644).custom_flags(libc::O_CLOEXEC).open(path)
}

fn chown(path: &Path, creds: &Credentials) {
    if let Ok(c) = CString::new(path.as_os_str().as_encoded_bytes()) {
        // SAFETY: chown(2) on a valid C string.
        unsafe {
            libc::chown(c.as_ptr(), creds.uid, creds.gid);
        }
    }
}

/// Launches a command task (see the module docs).
pub(crate) fn launch(inner: &Arc<Inner>, spec: LaunchSpec, sandbox: PathBuf, meta: PathBuf) -> Result<(), LaunchError> {
    let invalid = LaunchError::Invalid;
    let env = build_env(&inner.config.default_path, &sandbox, &spec.command.env).map_err(invalid)?;
    let (programs, argv) = resolve_command(&spec.command, &env).map_err(invalid)?;
    let creds = resolve_user(inner.config.switch_user, spec.command.user.as_deref()).map_err(invalid)?;
    let program_label =
        if spec.command.shell { "/bin/sh".to_string() } else { spec.command.value.clone().unwrap_or_default() };

    let to_c = |what: &str, v: Vec<String>| -> Result<Vec<CString>, LaunchError> {
        v.iter().map(|s| cstring(what, s).map_err(LaunchError::Invalid)).collect()
    };
    let c_programs = to_c("command", programs)?;
    let c_argv = to_c("argument", argv)?;
    let c_env = to_c("environment", env.iter().map(|(k, v)| format!("{k}={v}")).collect())?;
    let path_c = |p: &Path| cstring("path", &p.to_string_lossy()).map_err(LaunchError::Invalid);

    let io_err = |what: &str, e: std::io::Error| LaunchError::Io(format!("{what}: {e}"));
    let stdout = open_append(&sandbox.join("stdout")).map_err(|e| io_err("Failed to open stdout", e))?;
    let stderr = open_append(&sandbox.join("stderr")).map_err(|e| io_err("Failed to open stderr", e))?;
    let stdin = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/null")
        .map_err(|e| io_err("Failed to open /dev/null", e))?;
    if let Some(c) = &creds {
        for p in [sandbox.clone(), sandbox.join("stdout"), sandbox.join("stderr")] {
            chown(&p, c);
        }
    }

    let (cgroup, cgroup_procs) = match &inner.cgroups {
        Some(cg) => match cg.create(&spec.container_id, spec.cpus, spec.mem_mb) {
            Ok((dir, fd)) => (Some(dir), Some(fd)),
            Err(e) => {
                tracing::warn!(task = %spec.task_id, error = %e, "failed to create task cgroup; running without limits");
                (None, None)
            }
        },
        None => (None, None),
    };

    let req = SpawnRequest {
        programs: c_programs,
        argv: c_argv,
        envp: c_env,
        cwd: path_c(&sandbox)?,
        stdout: stdout.into(),
        stderr: stderr.into(),
        stdin: stdin.into(),
        status_path: path_c(&meta.join(EXIT_STATUS_FILE))?,
        status_tmp: path_c(&meta.join(format!(".{EXIT_STATUS_FILE}.tmp")))?,
        cgroup_procs,
        credentials: creds,
    };

    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let launched_at = now_secs();
    let info = RunningContainer {
        task_id: spec.task_id.clone(),
        framework_id: spec.framework_id.clone(),
        executor_id: spec.executor_id.clone(),
        container_id: spec.container_id.clone(),
        agent_id: spec.agent_id.clone(),
        kind: ContainerizerKind::Mesos,
        pid: None,
        container_name: None,
        container_ip: None,
        sandbox_dir: sandbox.clone(),
        cpus: spec.cpus,
        mem_mb: spec.mem_mb,
        launched_at,
    };
    let cleanup_cgroup = |cg: &Option<PathBuf>| {
        if let Some(dir) = cg {
            cgroups::remove(dir);
        }
    };
    if let Err(e) = inner.register(
        &spec.task_id,
        TaskEntry {
            info,
            control: control_tx,
            kill_grace: spec.kill_grace,
            supervisor_pid: None,
            cgroup: cgroup.clone(),
        },
    ) {
        cleanup_cgroup(&cgroup);
        return Err(e);
    }

    let spawned = match supervisor::spawn(&req) {
        Ok(s) => s,
        Err(e) => {
            inner.unregister(&spec.task_id);
            cleanup_cgroup(&cgroup);
            return Err(LaunchError::Io(format!("Failed to fork: {e}")));
        }
    };
    drop(req);
    let supervisor_pid = spawned.supervisor_pid;
    let supervisor_start = procfs::start_time(supervisor_pid);
    inner.update(&spec.task_id, |e| e.supervisor_pid = Some(supervisor_pid));

    let cp = Checkpoint {
        version: CHECKPOINT_VERSION,
        kind: ContainerizerKind::Mesos,
        task_id: spec.task_id.clone(),
        framework_id: spec.framework_id.clone(),
        executor_id: spec.executor_id.clone(),
        container_id: spec.container_id.clone(),
        agent_id: spec.agent_id.clone(),
        sandbox_dir: sandbox,
        boot_id: procfs::boot_id(),
        launched_at,
        cpus: spec.cpus,
        mem_mb: spec.mem_mb,
        kill_grace_ms: spec.kill_grace.as_millis() as u64,
        supervisor_pid: Some(supervisor_pid),
        supervisor_start_time: supervisor_start,
        pid: None,
        pid_start_time: None,
        cgroup: cgroup.clone(),
        container_name: None,
        killing_state: spec.killing_state,
    };
    if let Err(e) = checkpoint::write_checkpoint(&meta, &cp) {
        tracing::warn!(task = %spec.task_id, error = %e, "failed to write containerizer checkpoint");
    }

    inner.emit(ContainerEvent::new(&spec.task_id, &spec.container_id, TaskState::Starting, EventSource::Executor));
    let ctx = TaskCtx {
        task_id: spec.task_id,
        container_id: spec.container_id,
        meta,
        program: program_label,
        supervisor_pid,
        supervisor_start,
        pid: None,
        cgroup,
        checkpoint: cp,
    };
    let report_fd = spawned.report;
    let inner2 = inner.clone();
    inner.spawn(async move {
        let report = tokio::task::spawn_blocking(move || supervisor::read_report(report_fd)).await.unwrap_or_default();
        watch_launched(inner2, ctx, report, control_rx).await;
    });
    Ok(())
}

/// After the exec outcome is known: emit `Running` (or the launch failure) and supervise.
async fn watch_launched(
    inner: Arc<Inner>,
    mut ctx: TaskCtx,
    report: supervisor::LaunchReport,
    control: mpsc::UnboundedReceiver<Control>,
) {
    if let Some(msg) = report.error_message(&ctx.program) {
        procfs::wait_for_exit(ctx.supervisor_pid, ctx.supervisor_start).await;
        if let Some(dir) = &ctx.cgroup {
            cgroups::remove(dir);
        }
        inner.finish(
            ContainerEvent::new(&ctx.task_id, &ctx.container_id, TaskState::Failed, EventSource::Agent)
                .message(format!("Failed to launch container: {msg}"))
                .reason(reasons::CONTAINER_LAUNCH_FAILED),
        );
        return;
    }
    if let Some(pid) = report.task_pid {
        ctx.pid = Some(pid);
        ctx.checkpoint.pid = Some(pid);
        ctx.checkpoint.pid_start_time = procfs::start_time(pid);
        if let Err(e) = checkpoint::write_checkpoint(&ctx.meta, &ctx.checkpoint) {
            tracing::warn!(task = %ctx.task_id, error = %e, "failed to update containerizer checkpoint");
        }
        inner.update(&ctx.task_id, |e| e.info.pid = Some(pid));
    }
    inner.emit(ContainerEvent::new(&ctx.task_id, &ctx.container_id, TaskState::Running, EventSource::Executor));
    supervise(inner, ctx, control, None).await;
}

/// Sends `sig` to the task: its process group and every process of its session.
fn signal_task(ctx: &mut TaskCtx, sig: i32) {
    if ctx.pid.is_none() {
        ctx.pid = procfs::all_processes()
            .into_iter()
            .find(|p| p.ppid == ctx.supervisor_pid && !p.is_defunct())
            .map(|p| p.pid);
    }
    if let Some(pgid) = ctx.pid {
        procfs::signal_group(pgid, sig);
    }
    procfs::signal_session(ctx.supervisor_pid, ctx.supervisor_pid, sig);
}

/// Watches the task until it ends, handling kill requests; emits the terminal event.
/// `resumed_kill` continues a kill requested before an agent restart.
async fn supervise(
    inner: Arc<Inner>,
    mut ctx: TaskCtx,
    mut control: mpsc::UnboundedReceiver<Control>,
    resumed_kill: Option<KillMarker>,
) {
    let exit = procfs::wait_for_exit(ctx.supervisor_pid, ctx.supervisor_start);
    tokio::pin!(exit);
    let mut killed = false;
    let mut deadline: Option<Instant> = None;
    let mut control_open = true;

    if let Some(marker) = resumed_kill {
        killed = true;
        let remaining = marker.requested_at + marker.grace_secs - now_secs();
        signal_task(&mut ctx, libc::SIGTERM);
        deadline = Some(Instant::now() + Duration::from_secs_f64(remaining.max(0.0)));
    }

    loop {
        tokio::select! {
            _ = &mut exit => break,
            msg = control.recv(), if control_open => match msg {
                Some(Control::Kill(grace)) => {
                    let now = Instant::now();
                    if !killed {
                        killed = true;
                        if ctx.checkpoint.killing_state {
                            inner.emit(ContainerEvent::new(&ctx.task_id, &ctx.container_id, TaskState::Killing, EventSource::Executor));
                        }
                        let marker = KillMarker { requested_at: now_secs(), grace_secs: grace.as_secs_f64() };
                        if let Err(e) = checkpoint::write_kill_marker(&ctx.meta, &marker) {
                            tracing::warn!(task = %ctx.task_id, error = %e, "failed to write kill marker");
                        }
                        tracing::info!(task = %ctx.task_id, ?grace, "sending SIGTERM to command task");
                        signal_task(&mut ctx, libc::SIGTERM);
                    }
                    let new = now + grace;
                    deadline = Some(deadline.map_or(new, |d| d.min(new)));
                }
                None => control_open = false,
            },
            _ = async { if let Some(d) = deadline { tokio::time::sleep_until(d).await } }, if deadline.is_some() => {
                tracing::info!(task = %ctx.task_id, "grace period elapsed, sending SIGKILL to command task");
                signal_task(&mut ctx, libc::SIGKILL);
                deadline = None;
            }
        }
    }

    if let Some(dir) = &ctx.cgroup {
        cgroups::remove(dir);
    }
    let killed = killed || checkpoint::read_kill_marker(&ctx.meta).is_some();
    inner.finish(terminal_event(&ctx.task_id, &ctx.container_id, &ctx.meta, killed));
}

/// The terminal event for an exited task, from its recorded wait status.
fn terminal_event(task_id: &str, container_id: &str, meta: &Path, killed: bool) -> ContainerEvent {
    match checkpoint::read_exit_status(meta) {
        Some(raw) => {
            let ws = WaitStatus::from_raw(raw);
            let state = if killed {
                TaskState::Killed
            } else if ws.succeeded() {
                TaskState::Finished
            } else {
                TaskState::Failed
            };
            let mut ev = ContainerEvent::new(task_id, container_id, state, EventSource::Executor)
                .message(format!("Command {}", ws.describe()));
            ev.exit_code = ws.code;
            ev.signal = ws.signal;
            ev
        }
        None => ContainerEvent::new(task_id, container_id, TaskState::Failed, EventSource::Agent)
            .message("Abnormal executor termination: the task ended without a recorded exit status")
            .reason(reasons::EXECUTOR_TERMINATED),
    }
}

/// Recovers one command task from its checkpoint.
pub(crate) fn recover(inner: &Arc<Inner>, cp: &Checkpoint, mode: RecoverMode) -> RecoverResult {
    let meta = inner.meta_dir(&cp.agent_id, &cp.framework_id, &cp.executor_id, &cp.container_id);
    let kill_marker = checkpoint::read_kill_marker(&meta);
    let same_boot = match (&cp.boot_id, procfs::boot_id()) {
        (Some(a), Some(b)) => *a == b,
        _ => true,
    };
    let Some(sup) = cp.supervisor_pid.filter(|_| same_boot) else {
        // Host rebooted (or no pid recorded): nothing of it can be running.
        return lost_or_exited(inner, cp, &meta, kill_marker.is_some());
    };
    if checkpoint::read_exit_status(&meta).is_some() || !procfs::is_alive(sup, cp.supervisor_start_time) {
        procfs::try_reap(sup);
        if checkpoint::read_exit_status(&meta).is_none() {
            // The supervisor died without a status; make sure nothing of the task is left.
            if let Some(pid) = cp.pid.filter(|&p| procfs::is_alive(p, cp.pid_start_time)) {
                procfs::signal_group(pid, libc::SIGKILL);
            }
        }
        if let Some(dir) = &cp.cgroup {
            cgroups::remove(dir);
        }
        return lost_or_exited(inner, cp, &meta, kill_marker.is_some());
    }

    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let pid = cp.pid.filter(|&p| procfs::is_alive(p, cp.pid_start_time));
    let info = RunningContainer {
        task_id: cp.task_id.clone(),
        framework_id: cp.framework_id.clone(),
        executor_id: cp.executor_id.clone(),
        container_id: cp.container_id.clone(),
        agent_id: cp.agent_id.clone(),
        kind: ContainerizerKind::Mesos,
        pid,
        container_name: None,
        container_ip: None,
        sandbox_dir: cp.sandbox_dir.clone(),
        cpus: cp.cpus,
        mem_mb: cp.mem_mb,
        launched_at: cp.launched_at,
    };
    let grace = Duration::from_millis(cp.kill_grace_ms);
    let entry = TaskEntry {
        info,
        control: control_tx.clone(),
        kill_grace: grace,
        supervisor_pid: Some(sup),
        cgroup: cp.cgroup.clone(),
    };
    if let Err(e) = inner.register(&cp.task_id, entry) {
        return RecoverResult::Error(e.to_string());
    }
    let ctx = TaskCtx {
        task_id: cp.task_id.clone(),
        container_id: cp.container_id.clone(),
        meta,
        program: cp.task_id.clone(),
        supervisor_pid: sup,
        supervisor_start: cp.supervisor_start_time,
        pid,
        cgroup: cp.cgroup.clone(),
        checkpoint: cp.clone(),
    };
    let result = if mode == RecoverMode::Cleanup && kill_marker.is_none() {
        let _ = control_tx.send(Control::Kill(grace));
        RecoverResult::Killing
    } else if kill_marker.is_some() {
        RecoverResult::Killing
    } else {
        RecoverResult::Reattached
    };
    tracing::info!(task = %cp.task_id, supervisor = sup, ?result, "recovered command task");
    inner.spawn(supervise(inner.clone(), ctx, control_rx, kill_marker));
    result
}

/// Emits the terminal event of a task that is no longer running.
fn lost_or_exited(inner: &Inner, cp: &Checkpoint, meta: &Path, killed: bool) -> RecoverResult {
    let ev = terminal_event(&cp.task_id, &cp.container_id, meta, killed);
    let result =
        if ev.reason == Some(reasons::EXECUTOR_TERMINATED) { RecoverResult::Lost } else { RecoverResult::Exited };
    inner.emit(ev);
    result
}

/// Resource usage of a command task (cgroup if it has one, else `/proc`).
pub(crate) fn usage(info: &RunningContainer, supervisor: Option<i32>, cgroup: Option<&Path>) -> ResourceStatistics {
    let mut st = ResourceStatistics {
        timestamp: now_secs(),
        cpus_limit: info.cpus,
        mem_limit_bytes: (info.mem_mb.max(0.0) * 1024.0 * 1024.0) as u64,
        ..Default::default()
    };
    let procs: Vec<procfs::ProcStat> = match supervisor {
        Some(sid) => procfs::session_members(sid).into_iter().filter(|p| p.pid != sid).collect(),
        None => Vec::new(),
    };
    st.processes = Some(procs.len() as u64);
    let ticks = procfs::clock_ticks();
    st.cpus_user_time_secs = Some(procs.iter().map(|p| p.utime + p.cutime).sum::<u64>() as f64 / ticks);
    st.cpus_system_time_secs = Some(procs.iter().map(|p| p.stime + p.cstime).sum::<u64>() as f64 / ticks);
    st.mem_rss_bytes = Some(procs.iter().map(|p| p.rss_pages).sum::<u64>() * procfs::page_size());
    if let Some(dir) = cgroup {
        let (user, system, mem) = cgroups::stats(dir);
        st.cpus_user_time_secs = user.or(st.cpus_user_time_secs);
        st.cpus_system_time_secs = system.or(st.cpus_system_time_secs);
        st.mem_rss_bytes = mem.or(st.mem_rss_bytes);
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_in_order() {
        let env = build_env(
            "/bin",
            Path::new("/sb"),
            &[("A".into(), "1".into()), ("PATH".into(), "/x".into()), ("A".into(), "2".into())],
        )
        .expect("env");
        assert_eq!(
            env,
            vec![
                ("PATH".to_string(), "/x".to_string()),
                ("MESOS_SANDBOX".into(), "/sb".into()),
                ("MESOS_DIRECTORY".into(), "/sb".into()),
                ("A".into(), "2".into()),
            ]
        );
        assert!(build_env("/bin", Path::new("/sb"), &[("A=B".into(), "1".into())]).is_err());
    }

    #[test]
    fn parses_user_database() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
        let group = "root:x:0:\nadm:x:4:syslog,nobody\nnogroup:x:65534:\n";
        assert_eq!(passwd_entry(passwd, "nobody"), Some((65534, 65534)));
        assert_eq!(passwd_entry(passwd, "nobod"), None);
        assert_eq!(group_ids(group, "nobody", 65534), vec![65534, 4]);
    }

    #[test]
    fn resolves_shell_and_exec_commands() {
        let env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
        let shell = CommandSpec { shell: true, value: Some("echo hi".into()), ..Default::default() };
        assert_eq!(
            resolve_command(&shell, &env).expect("shell"),
            (vec!["/bin/sh".to_string()], vec!["sh".to_string(), "-c".into(), "echo hi".into()])
        );
        let exec = CommandSpec { shell: false, value: Some("echo".into()), ..Default::default() };
        assert_eq!(
            resolve_command(&exec, &env).expect("exec"),
            (vec!["/usr/bin/echo".to_string(), "/bin/echo".into()], vec!["echo".to_string()])
        );
        let no_value = CommandSpec { shell: true, ..Default::default() };
        assert!(resolve_command(&no_value, &env).is_err());
    }
}
