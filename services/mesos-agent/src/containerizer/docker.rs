//! Docker containerizer (Docker Engine API through bollard).
//!
//! Launch: `Starting`; pull the image if it is missing or `force_pull` is set
//! (a failed pull fails the task with the daemon's message, except that a
//! failed *forced* pull of an image that exists locally only logs a warning
//! and proceeds — an offline-friendly deviation from Mesos); create the
//! container (see `docker_params.rs`), start it, follow its log stream
//! (copied into the sandbox `stdout`/`stderr` files), inspect it and emit
//! `Running` with the container IP. When it exits: exit 0 → `Finished`, otherwise
//! `Failed`, or `Killed` if we killed it; message `Container exited with status N`.
//! The container is removed right after it exits (Mesos keeps exited
//! containers for 6 hours; removal is immediate here).
//!
//! Kill: `Killing` first (with `killing_state`), then `docker stop` with the grace period (the daemon escalates to SIGKILL,
//! even if the agent dies meanwhile); a later kill with a shorter grace sends
//! SIGKILL at its deadline. A kill before the container started removes it and
//! reports `Killed` with `REASON_TASK_KILLED_DURING_LAUNCH`.

use std::collections::{HashMap, HashSet};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectContainerOptions, KillContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, StartContainerOptions, StatsOptions, StopContainerOptions,
    WaitContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;
use std::io::Write;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::checkpoint::{self, Checkpoint, KillMarker, CHECKPOINT_VERSION};
use super::docker_params::{self, LABEL_AGENT};
use super::types::*;
use super::{Control, Inner, TaskEntry};

/// How long to wait for output copying after a container exited.
const LOG_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What the watcher of one container needs.
#[derive(Clone)]
struct DockerCtx {
    task_id: String,
    container_id: String,
    name: String,
    meta: PathBuf,
    sandbox: PathBuf,
    checkpoint: Checkpoint,
}

/// The daemon's message for an error (without bollard's decoration).
pub(crate) fn error_message(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        DockerError::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

fn is_not_found(e: &DockerError) -> bool {
    matches!(e, DockerError::DockerResponseServerError { status_code: 404, .. })
}

/// Launches a Docker task (see the module docs).
pub(crate) fn launch(inner: &Arc<Inner>, spec: LaunchSpec, sandbox: PathBuf, meta: PathBuf) -> Result<(), LaunchError> {
    let docker_spec =
        spec.docker.clone().ok_or_else(|| LaunchError::Invalid("No docker info found in container info".into()))?;
    let name = inner.docker_name(&spec.agent_id, &spec.container_id);
    let body = docker_params::build(&spec, &docker_spec, &name, &sandbox).map_err(LaunchError::Invalid)?;

    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let launched_at = now_secs();
    let info = RunningContainer {
        task_id: spec.task_id.clone(),
        framework_id: spec.framework_id.clone(),
        executor_id: spec.executor_id.clone(),
        container_id: spec.container_id.clone(),
        agent_id: spec.agent_id.clone(),
        kind: ContainerizerKind::Docker,
        pid: None,
        container_name: Some(name.clone()),
        container_ip: None,
        sandbox_dir: sandbox.clone(),
        cpus: spec.cpus,
        mem_mb: spec.mem_mb,
        launched_at,
    };
    inner.register(
        &spec.task_id,
        TaskEntry { info, control: control_tx, kill_grace: spec.kill_grace, supervisor_pid: None, cgroup: None },
    )?;

    let cp = Checkpoint {
        version: CHECKPOINT_VERSION,
        kind: ContainerizerKind::Docker,
        task_id: spec.task_id.clone(),
        framework_id: spec.framework_id.clone(),
        executor_id: spec.executor_id.clone(),
        container_id: spec.container_id.clone(),
        agent_id: spec.agent_id.clone(),
        sandbox_dir: sandbox.clone(),
        boot_id: super::procfs::boot_id(),
        launched_at,
        cpus: spec.cpus,
        mem_mb: spec.mem_mb,
        kill_grace_ms: spec.kill_grace.as_millis() as u64,
        supervisor_pid: None,
        supervisor_start_time: None,
        pid: None,
        pid_start_time: None,
        cgroup: None,
        container_name: Some(name.clone()),
        killing_state: spec.killing_state,
    };
    if let Err(e) = checkpoint::write_checkpoint(&meta, &cp) {
        tracing::warn!(task = %spec.task_id, error = %e, "failed to write containerizer checkpoint");
    }

    inner.emit(ContainerEvent::new(&spec.task_id, &spec.container_id, TaskState::Starting, EventSource::Executor));
    let ctx = DockerCtx { task_id: spec.task_id, container_id: spec.container_id, name, meta, sandbox, checkpoint: cp };
    let image = body.image.clone().unwrap_or_default();
    inner.spawn(run(inner.clone(), ctx, body, image, docker_spec.force_pull, control_rx));
    Ok(())
}

/// Waits for the next kill request; never resolves once the channel is closed.
async fn next_kill(control: &mut mpsc::UnboundedReceiver<Control>) -> Duration {
    match control.recv().await {
        Some(Control::Kill(grace)) => grace,
        None => std::future::pending().await,
    }
}

/// Removes a container (forced, with anonymous volumes); 404 is fine.
async fn remove(docker: &Docker, name: &str) {
    let opts = RemoveContainerOptions { force: true, v: true, ..Default::default() };
    if let Err(e) = docker.remove_container(name, Some(opts)).await {
        if !is_not_found(&e) {
            tracing::warn!(container = name, error = %error_message(&e), "failed to remove container");
        }
    }
}

/// Launch phase then watch phase of a new container.
async fn run(
    inner: Arc<Inner>,
    ctx: DockerCtx,
    body: ContainerCreateBody,
    image: String,
    force_pull: bool,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let fail = |msg: String| {
        ContainerEvent::new(&ctx.task_id, &ctx.container_id, TaskState::Failed, EventSource::Agent)
            .message(format!("Failed to launch container: {msg}"))
            .reason(reasons::CONTAINER_LAUNCH_FAILED)
    };
    let docker = match inner.docker().await {
        Ok(d) => d,
        Err(e) => return inner.finish(fail(e)),
    };

    let started = tokio::select! {
        r = start(&inner, &docker, &ctx, body, &image, force_pull) => r,
        _ = next_kill(&mut control) => {
            if ctx.checkpoint.killing_state {
                inner.emit(ContainerEvent::new(&ctx.task_id, &ctx.container_id, TaskState::Killing, EventSource::Executor));
            }
            remove(&docker, &ctx.name).await;
            return inner.finish(
                ContainerEvent::new(&ctx.task_id, &ctx.container_id, TaskState::Killed, EventSource::Agent)
                    .message("Task killed before the container was started")
                    .reason(reasons::TASK_KILLED_DURING_LAUNCH),
            );
        }
    };
    let copier = match started {
        Ok(c) => c,
        Err(msg) => {
            remove(&docker, &ctx.name).await;
            return inner.finish(fail(msg));
        }
    };
    watch(inner, ctx, docker, control, Some(copier), None).await;
}

/// Pulls (if needed), creates and starts the container, starts copying its
/// output and inspects it,
/// emitting `Running`. Returns the output copier.
async fn start(
    inner: &Arc<Inner>,
    docker: &Docker,
    ctx: &DockerCtx,
    body: ContainerCreateBody,
    image: &str,
    force_pull: bool,
) -> Result<tokio::task::JoinHandle<()>, String> {
    ensure_image(docker, image, force_pull, inner.config.docker_pull_timeout).await?;

    let opts = CreateContainerOptions { name: Some(ctx.name.clone()), ..Default::default() };
    docker
        .create_container(Some(opts), body)
        .await
        .map_err(|e| format!("Failed to create container '{}': {}", ctx.name, error_message(&e)))?;

    docker
        .start_container(&ctx.name, None::<StartContainerOptions>)
        .await
        .map_err(|e| format!("Failed to start container '{}': {}", ctx.name, error_message(&e)))?;
    // The log stream starts with the full history, so nothing is lost by
    // following only after the start.
    let copier = inner.spawn_joinable(copy_output(docker.clone(), ctx.name.clone(), ctx.sandbox.clone(), 0));

    let (pid, ip) = match docker.inspect_container(&ctx.name, None::<InspectContainerOptions>).await {
        Ok(info) => (info.state.as_ref().and_then(|s| s.pid).filter(|&p| p > 0).map(|p| p as i32), container_ip(&info)),
        Err(e) => {
            tracing::warn!(container = %ctx.name, error = %error_message(&e), "inspect after start failed");
            (None, None)
        }
    };
    inner.update(&ctx.task_id, |e| {
        e.info.pid = pid;
        e.info.container_ip = ip.clone();
    });
    let mut cp = ctx.checkpoint.clone();
    cp.pid = pid;
    if let Err(e) = checkpoint::write_checkpoint(&ctx.meta, &cp) {
        tracing::warn!(task = %ctx.task_id, error = %e, "failed to update containerizer checkpoint");
    }
    let mut ev = ContainerEvent::new(&ctx.task_id, &ctx.container_id, TaskState::Running, EventSource::Executor);
    ev.container_ip = ip;
    inner.emit(ev);
    Ok(copier)
}

/// The container's IP: the default bridge address, else the first network's.
fn container_ip(info: &ContainerInspectResponse) -> Option<String> {
    let ns = info.network_settings.as_ref()?;
    ns.ip_address.clone().filter(|ip| !ip.is_empty()).or_else(|| {
        let mut nets: Vec<_> = ns.networks.as_ref()?.iter().collect();
        nets.sort_by(|a, b| a.0.cmp(b.0));
        nets.into_iter().find_map(|(_, ep)| ep.ip_address.clone().filter(|ip| !ip.is_empty()))
    })
}

/// Pulls `image` when it is missing or `force` is set (see the module docs).
async fn ensure_image(docker: &Docker, image: &str, force: bool, timeout: Duration) -> Result<(), String> {
    let exists = match docker.inspect_image(image).await {
        Ok(_) => true,
        Err(e) if is_not_found(&e) => false,
        Err(e) => return Err(format!("Failed to inspect image '{image}': {}", error_message(&e))),
    };
    if exists && !force {
        return Ok(());
    }
    let pulled = match tokio::time::timeout(timeout, pull(docker, image)).await {
        Ok(r) => r,
        Err(_) => Err(format!("timed out after {}s", timeout.as_secs())),
    };
    match pulled {
        Ok(()) => Ok(()),
        Err(e) if exists => {
            tracing::warn!(image, error = %e, "forced pull failed; using the local image");
            Ok(())
        }
        Err(e) => Err(format!("Failed to pull image '{image}': {e}")),
    }
}

async fn pull(docker: &Docker, image: &str) -> Result<(), String> {
    let opts = CreateImageOptions { from_image: Some(image.to_string()), ..Default::default() };
    let mut stream = docker.create_image(Some(opts), None, None);
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            return Err(error_message(&e));
        }
    }
    Ok(())
}

/// Appends container output (from the Docker log stream, with timestamps) to
/// the sandbox `stdout`/`stderr` files, skipping entries stamped at or before
/// `after_nanos`. After each write the file's mtime is set to the entry's
/// Docker timestamp, so a restarted agent resumes exactly after the last
/// copied entry (see [`output_mtime_nanos`]).
async fn copy_output(docker: Docker, name: String, sandbox: PathBuf, after_nanos: i64) {
    let open =
        |file: &str| std::fs::OpenOptions::new().create(true).append(true).open(sandbox.join(file)).map(Arc::new);
    let (out, err) = match (open("stdout"), open("stderr")) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(sandbox = %sandbox.display(), error = %e, "cannot open sandbox output files");
            return;
        }
    };
    let since = (after_nanos / 1_000_000_000).clamp(0, i32::MAX as i64) as i32;
    let opts = LogsOptions { follow: true, stdout: true, stderr: true, since, timestamps: true, ..Default::default() };
    let mut stream = docker.logs(&name, Some(opts));
    while let Some(item) = stream.next().await {
        let (is_err, bytes) = match item {
            Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => (false, message),
            Ok(LogOutput::StdErr { message }) => (true, message),
            Ok(LogOutput::StdIn { .. }) => continue,
            Err(e) => {
                tracing::debug!(container = %name, error = %error_message(&e), "container log stream ended");
                break;
            }
        };
        let (ts, data) = match strip_timestamp(&bytes) {
            Some((ts, _)) if ts <= after_nanos => continue,
            Some((ts, rest)) => (Some(ts), bytes.slice_ref(rest)),
            None => (None, bytes),
        };
        let file = if is_err { err.clone() } else { out.clone() };
        // Write and stamp in one blocking step: the stamp must follow the
        // write's own mtime update. (If the agent dies in between, the entry
        // is copied again after recovery: at-least-once.)
        let written = tokio::task::spawn_blocking(move || {
            (&*file).write_all(&data)?;
            if let Some(ts) = ts {
                set_mtime(&file, ts);
            }
            Ok::<(), std::io::Error>(())
        })
        .await;
        if let Ok(Err(e)) | Err(e) = written.map_err(std::io::Error::other) {
            tracing::warn!(container = %name, error = %e, "failed to write container output");
            break;
        }
    }
}

/// Sets a file's modification time (nanoseconds since the epoch).
fn set_mtime(file: &std::fs::File, nanos: i64) {
    let times = [
        libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
        libc::timespec { tv_sec: nanos / 1_000_000_000, tv_nsec: nanos % 1_000_000_000 },
    ];
    // SAFETY: futimens(2) on an open descriptor with a two-element array.
    unsafe {
        libc::futimens(file.as_raw_fd(), times.as_ptr());
    }
}

/// Splits `<RFC3339Nano timestamp> <payload>` into (nanos, payload).
fn strip_timestamp(line: &[u8]) -> Option<(i64, &[u8])> {
    let space = line.iter().position(|&b| b == b' ')?;
    let ts = std::str::from_utf8(&line[..space]).ok()?;
    let nanos = chrono::DateTime::parse_from_rfc3339(ts).ok()?.timestamp_nanos_opt()?;
    Some((nanos, &line[space + 1..]))
}

/// Waits for the container to stop; its exit code, or an error if it vanished.
async fn wait_exit(docker: &Docker, name: &str) -> Result<i64, String> {
    loop {
        let mut stream = docker.wait_container(name, None::<WaitContainerOptions>);
        match stream.next().await {
            Some(Ok(r)) => return Ok(r.status_code),
            Some(Err(DockerError::DockerContainerWaitError { code, .. })) => return Ok(code),
            Some(Err(e)) if is_not_found(&e) => return Err(format!("container '{name}' not found")),
            other => {
                if let Some(Err(e)) = other {
                    tracing::debug!(container = name, error = %error_message(&e), "wait interrupted");
                }
                match docker.inspect_container(name, None::<InspectContainerOptions>).await {
                    Ok(info) => {
                        let state = info.state.unwrap_or_default();
                        if state.running != Some(true) {
                            return Ok(state.exit_code.unwrap_or(-1));
                        }
                    }
                    Err(e) if is_not_found(&e) => return Err(format!("container '{name}' not found")),
                    Err(_) => {}
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Watches a started container until it exits, handling kills; then removes
/// it and emits the terminal event.
async fn watch(
    inner: Arc<Inner>,
    ctx: DockerCtx,
    docker: Docker,
    mut control: mpsc::UnboundedReceiver<Control>,
    copier: Option<tokio::task::JoinHandle<()>>,
    resumed_kill: Option<KillMarker>,
) {
    let wait = wait_exit(&docker, &ctx.name);
    tokio::pin!(wait);
    let mut killed = false;
    let mut deadline: Option<Instant> = None;
    let mut control_open = true;
    let stop = |grace: Duration| {
        let docker = docker.clone().with_timeout(grace + Duration::from_secs(60));
        let name = ctx.name.clone();
        let secs = grace.as_secs_f64().ceil().min(i32::MAX as f64) as i32;
        async move {
            let opts = StopContainerOptions { t: Some(secs), ..Default::default() };
            if let Err(e) = docker.stop_container(&name, Some(opts)).await {
                tracing::debug!(container = %name, error = %error_message(&e), "docker stop failed");
            }
        }
    };
    if let Some(m) = resumed_kill {
        killed = true;
        let remaining = (m.requested_at + m.grace_secs - now_secs()).max(0.0);
        inner.spawn(stop(Duration::from_secs_f64(remaining)));
    }

    let result = loop {
        tokio::select! {
            r = &mut wait => break r,
            msg = control.recv(), if control_open => match msg {
                Some(Control::Kill(grace)) => {
                    if !killed {
                        killed = true;
                        if ctx.checkpoint.killing_state {
                            inner.emit(ContainerEvent::new(&ctx.task_id, &ctx.container_id, TaskState::Killing, EventSource::Executor));
                        }
                        let marker = KillMarker { requested_at: now_secs(), grace_secs: grace.as_secs_f64() };
                        if let Err(e) = checkpoint::write_kill_marker(&ctx.meta, &marker) {
                            tracing::warn!(task = %ctx.task_id, error = %e, "failed to write kill marker");
                        }
                        tracing::info!(task = %ctx.task_id, container = %ctx.name, ?grace, "stopping container");
                        inner.spawn(stop(grace));
                    } else {
                        let new = Instant::now() + grace;
                        deadline = Some(deadline.map_or(new, |d| d.min(new)));
                    }
                }
                None => control_open = false,
            },
            _ = async { if let Some(d) = deadline { tokio::time::sleep_until(d).await } }, if deadline.is_some() => {
                deadline = None;
                let opts = KillContainerOptions { signal: "SIGKILL".into() };
                if let Err(e) = docker.kill_container(&ctx.name, Some(opts)).await {
                    tracing::debug!(container = %ctx.name, error = %error_message(&e), "docker kill failed");
                }
            }
        }
    };

    if let Some(c) = copier {
        let abort = c.abort_handle();
        if tokio::time::timeout(LOG_DRAIN_TIMEOUT, c).await.is_err() {
            abort.abort();
        }
    }
    remove(&docker, &ctx.name).await;
    let killed = killed || checkpoint::read_kill_marker(&ctx.meta).is_some();
    inner.finish(exit_event(&ctx, result, killed));
}

/// The terminal event for an exit code (or a vanished container).
fn exit_event(ctx: &DockerCtx, result: Result<i64, String>, killed: bool) -> ContainerEvent {
    match result {
        Ok(code) => {
            let state = if killed {
                TaskState::Killed
            } else if code == 0 {
                TaskState::Finished
            } else {
                TaskState::Failed
            };
            let mut ev = ContainerEvent::new(&ctx.task_id, &ctx.container_id, state, EventSource::Executor)
                .message(format!("Container exited with status {code}"));
            ev.exit_code = i32::try_from(code).ok();
            ev
        }
        Err(msg) if killed => {
            ContainerEvent::new(&ctx.task_id, &ctx.container_id, TaskState::Killed, EventSource::Agent)
                .message(format!("Container removed: {msg}"))
        }
        Err(msg) => ContainerEvent::new(&ctx.task_id, &ctx.container_id, TaskState::Failed, EventSource::Agent)
            .message(format!("Abnormal executor termination: {msg}"))
            .reason(reasons::EXECUTOR_TERMINATED),
    }
}

/// Newest modification time of the sandbox output files, in nanoseconds: the
/// Docker timestamp of the last copied log entry.
fn output_mtime_nanos(sandbox: &Path) -> Option<i64> {
    ["stdout", "stderr"]
        .iter()
        .filter_map(|f| std::fs::metadata(sandbox.join(f)).ok()?.modified().ok())
        .filter_map(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .max()
}

/// Recovers one Docker task by container name.
pub(crate) async fn recover(inner: &Arc<Inner>, cp: &Checkpoint, mode: RecoverMode) -> RecoverResult {
    let name = cp.container_name.clone().unwrap_or_else(|| inner.docker_name(&cp.agent_id, &cp.container_id));
    let meta = inner.meta_dir(&cp.agent_id, &cp.framework_id, &cp.executor_id, &cp.container_id);
    let ctx = DockerCtx {
        task_id: cp.task_id.clone(),
        container_id: cp.container_id.clone(),
        name: name.clone(),
        meta: meta.clone(),
        sandbox: cp.sandbox_dir.clone(),
        checkpoint: cp.clone(),
    };
    let marker = checkpoint::read_kill_marker(&meta);
    let docker = match inner.docker().await {
        Ok(d) => d,
        Err(e) => return RecoverResult::Error(e),
    };
    let info = match docker.inspect_container(&name, None::<InspectContainerOptions>).await {
        Ok(i) => i,
        Err(e) if is_not_found(&e) => {
            inner.emit(exit_event(&ctx, Err(format!("container '{name}' not found")), marker.is_some()));
            return RecoverResult::Lost;
        }
        Err(e) => return RecoverResult::Error(format!("Failed to inspect container '{name}': {}", error_message(&e))),
    };
    let state = info.state.clone().unwrap_or_default();
    if state.status == Some(ContainerStateStatusEnum::CREATED) {
        // The previous agent died between create and start.
        remove(&docker, &name).await;
        inner.emit(exit_event(&ctx, Err(format!("container '{name}' was never started")), marker.is_some()));
        return RecoverResult::Lost;
    }
    if state.running != Some(true) {
        remove(&docker, &name).await;
        let code = state.exit_code.unwrap_or(-1);
        inner.emit(exit_event(&ctx, Ok(code), marker.is_some()));
        return RecoverResult::Exited;
    }

    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let grace = Duration::from_millis(cp.kill_grace_ms);
    let entry = TaskEntry {
        info: RunningContainer {
            task_id: cp.task_id.clone(),
            framework_id: cp.framework_id.clone(),
            executor_id: cp.executor_id.clone(),
            container_id: cp.container_id.clone(),
            agent_id: cp.agent_id.clone(),
            kind: ContainerizerKind::Docker,
            pid: state.pid.filter(|&p| p > 0).map(|p| p as i32),
            container_name: Some(name.clone()),
            container_ip: container_ip(&info),
            sandbox_dir: cp.sandbox_dir.clone(),
            cpus: cp.cpus,
            mem_mb: cp.mem_mb,
            launched_at: cp.launched_at,
        },
        control: control_tx.clone(),
        kill_grace: grace,
        supervisor_pid: None,
        cgroup: None,
    };
    if let Err(e) = inner.register(&cp.task_id, entry) {
        return RecoverResult::Error(e.to_string());
    }

    // Resume copying output right after the last entry the previous agent copied.
    let after = output_mtime_nanos(&cp.sandbox_dir).unwrap_or(0);
    let copier = inner.spawn_joinable(copy_output(docker.clone(), name.clone(), cp.sandbox_dir.clone(), after));

    let result = if marker.is_some() {
        RecoverResult::Killing
    } else if mode == RecoverMode::Cleanup {
        let _ = control_tx.send(Control::Kill(grace));
        RecoverResult::Killing
    } else {
        RecoverResult::Reattached
    };
    tracing::info!(task = %cp.task_id, container = %name, ?result, "recovered docker task");
    inner.spawn(watch(inner.clone(), ctx, docker, control_rx, Some(copier), marker));
    result
}

/// See [`super::Containerizers::kill_orphans`].
pub(crate) async fn kill_orphans(
    inner: &Arc<Inner>,
    agent_id: Option<&str>,
    known: &HashSet<String>,
) -> Result<Vec<String>, String> {
    let docker = inner.docker().await?;
    let filters = HashMap::from([("name".to_string(), vec!["mesos-".to_string()])]);
    let opts = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    let list = docker
        .list_containers(Some(opts))
        .await
        .map_err(|e| format!("Failed to list containers: {}", error_message(&e)))?;
    let managed = inner.docker_names();
    let mut removed = Vec::new();
    for c in list {
        let Some(name) = c.names.as_ref().and_then(|n| n.first()).map(|n| n.trim_start_matches('/').to_string()) else {
            continue;
        };
        if !name.starts_with("mesos-") || known.contains(&name) || managed.contains(&name) {
            continue;
        }
        if let Some(aid) = agent_id {
            let labelled = c.labels.as_ref().and_then(|l| l.get(LABEL_AGENT)).is_some_and(|l| l == aid);
            if !labelled && !name.starts_with(&format!("mesos-{aid}.")) {
                continue;
            }
        }
        tracing::info!(container = %name, "removing orphaned container");
        remove(&docker, &name).await;
        removed.push(name);
    }
    Ok(removed)
}

/// Usage of a Docker task from a one-shot `docker stats`.
pub(crate) async fn usage(inner: &Arc<Inner>, info: &RunningContainer) -> ResourceStatistics {
    let mut st = ResourceStatistics {
        timestamp: now_secs(),
        cpus_limit: info.cpus,
        mem_limit_bytes: (info.mem_mb.max(0.0) * 1024.0 * 1024.0) as u64,
        ..Default::default()
    };
    let (Some(name), Ok(docker)) = (info.container_name.as_ref(), inner.docker().await) else {
        return st;
    };
    let opts = StatsOptions { stream: false, one_shot: true };
    let mut stream = docker.stats(name, Some(opts));
    if let Ok(Some(Ok(stats))) = tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
        if let Some(cpu) = stats.cpu_stats.and_then(|c| c.cpu_usage) {
            st.cpus_user_time_secs = cpu.usage_in_usermode.map(|n| n as f64 / 1e9);
            st.cpus_system_time_secs = cpu.usage_in_kernelmode.map(|n| n as f64 / 1e9);
        }
        if let Some(mem) = stats.memory_stats {
            let from_stats = mem.stats.as_ref().and_then(|s| s.get("rss").or_else(|| s.get("anon")).copied());
            st.mem_rss_bytes = from_stats.or(mem.usage);
        }
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_docker_timestamps() {
        let (ns, rest) = strip_timestamp(b"2024-01-02T03:04:05.000000006Z hello\n").expect("ts");
        assert_eq!(rest, b"hello\n");
        assert_eq!(ns % 1_000_000_000, 6);
        assert!(strip_timestamp(b"no-timestamp here").is_none());
    }
}
