//! The agent's containerizers: the code that actually runs tasks.
//!
//! * **Mesos containerizer** ([`ContainerizerKind::Mesos`]): command tasks as
//!   plain host processes (`/bin/sh -c <value>` or exec of `value`), started
//!   through a small supervisor process so they survive agent restarts and
//!   their exit status is recorded (see `supervisor.rs`).
//! * **Docker containerizer** ([`ContainerizerKind::Docker`]): containers via
//!   the Docker Engine API (bollard), named `mesos-<agentId>.<containerId>`
//!   (Mesos 0.23–1.3 style: several agents can share one Docker daemon and
//!   still tell their containers apart).
//!
//! Interface: [`Containerizers::new`] returns the handle and the event
//! receiver; [`Containerizers::launch`] returns immediately and the task's
//! [`ContainerEvent`]s (Starting, Running, Killing once a kill starts if the
//! spec asks for it, then one terminal event) follow on the receiver, in order
//! per task. [`Containerizers::kill`],
//! [`Containerizers::running`], [`Containerizers::usage`],
//! [`Containerizers::recover`] and [`Containerizers::kill_orphans`] complete the
//! picture. A checkpoint per container (see [`checkpoint`]) lets a restarted
//! agent re-attach. `launch`/`recover` must be called inside a Tokio runtime.
//!
//! Dropping the last [`Containerizers`] handle stops watching (background
//! tasks are aborted) but leaves tasks and containers running, exactly like an
//! agent process exiting.
//!
//! Environment of command tasks: `PATH` (= [`Config::default_path`]),
//! `MESOS_SANDBOX` and `MESOS_DIRECTORY` (both the host sandbox path), then
//! [`CommandSpec::env`] in order (later entries win). Nothing is inherited from
//! the agent. Docker containers get [`CommandSpec::env`] plus
//! `MESOS_SANDBOX=/mnt/mesos/sandbox` and `MESOS_CONTAINER_NAME=<name>`.
//!
//! Command tasks run as [`CommandSpec::user`] when the agent is root and
//! [`Config::switch_user`] is set (users from `/etc/passwd`/`/etc/group`: the
//! binary is static, so there is no NSS); otherwise as the agent's user.
//! For tasks to survive an agent restart under systemd, the unit needs
//! `KillMode=process` (as for Mesos).

mod cgroups;
pub mod checkpoint;
mod command;
mod docker;
mod docker_params;
mod procfs;
mod supervisor;
mod types;

#[cfg(test)]
mod tests_command;
#[cfg(test)]
mod tests_docker;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;

pub use checkpoint::{scan_checkpoints, Checkpoint};
pub use types::*;

/// Receiver of container events.
pub type EventReceiver = mpsc::UnboundedReceiver<ContainerEvent>;

/// Messages to a task's watcher.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Control {
    /// Kill with this grace period (a shorter one escalates sooner).
    Kill(Duration),
}

/// Bookkeeping of one running task.
pub(crate) struct TaskEntry {
    /// Public snapshot.
    pub info: RunningContainer,
    /// Channel to the task's watcher.
    pub control: mpsc::UnboundedSender<Control>,
    /// Default kill grace.
    pub kill_grace: Duration,
    /// Command tasks: supervisor pid (session id of the task's processes).
    pub supervisor_pid: Option<i32>,
    /// Command tasks: cgroup directory.
    pub cgroup: Option<PathBuf>,
}

/// Shared state behind [`Containerizers`].
pub(crate) struct Inner {
    /// Configuration.
    pub config: Config,
    events: mpsc::UnboundedSender<ContainerEvent>,
    tasks: Mutex<HashMap<String, TaskEntry>>,
    docker: tokio::sync::Mutex<Option<bollard::Docker>>,
    /// Usable cgroup v2 root, if any.
    pub cgroups: Option<cgroups::CgroupV2>,
    background: Mutex<Vec<AbortHandle>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    /// Sends an event (dropped silently when nobody listens).
    pub fn emit(&self, ev: ContainerEvent) {
        tracing::debug!(task = %ev.task_id, state = %ev.state, message = ?ev.message, "container event");
        let _ = self.events.send(ev);
    }

    /// Removes the task from the running set, then emits its terminal event.
    pub fn finish(&self, ev: ContainerEvent) {
        lock(&self.tasks).remove(&ev.task_id);
        self.emit(ev);
    }

    /// Spawns a background task that is aborted when the last handle drops.
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(fut);
        let mut bg = lock(&self.background);
        bg.retain(|h| !h.is_finished());
        bg.push(handle.abort_handle());
    }

    /// Like [`Inner::spawn`], returning the join handle.
    pub fn spawn_joinable<F>(&self, fut: F) -> tokio::task::JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(fut);
        let mut bg = lock(&self.background);
        bg.retain(|h| !h.is_finished());
        bg.push(handle.abort_handle());
        handle
    }

    /// Container names of running Docker tasks.
    pub fn docker_names(&self) -> HashSet<String> {
        lock(&self.tasks).values().filter_map(|e| e.info.container_name.clone()).collect()
    }

    /// Registers a task; fails if the id is taken.
    pub fn register(&self, task_id: &str, entry: TaskEntry) -> Result<(), LaunchError> {
        let mut tasks = lock(&self.tasks);
        if tasks.contains_key(task_id) {
            return Err(LaunchError::AlreadyRunning(task_id.to_string()));
        }
        tasks.insert(task_id.to_string(), entry);
        Ok(())
    }

    /// Drops a task's registration without an event.
    pub fn unregister(&self, task_id: &str) {
        lock(&self.tasks).remove(task_id);
    }

    /// Updates a registered task in place.
    pub fn update(&self, task_id: &str, f: impl FnOnce(&mut TaskEntry)) {
        if let Some(e) = lock(&self.tasks).get_mut(task_id) {
            f(e);
        }
    }

    /// Whether a task id is registered.
    pub fn is_registered(&self, task_id: &str) -> bool {
        lock(&self.tasks).contains_key(task_id)
    }

    /// Meta run directory of a container.
    pub fn meta_dir(&self, agent: &str, framework: &str, executor: &str, container: &str) -> PathBuf {
        checkpoint::meta_run_dir(&self.config.work_dir, agent, framework, executor, container)
    }

    /// The Docker client, connecting (and negotiating the API version) on first use.
    pub async fn docker(&self) -> Result<bollard::Docker, String> {
        let mut guard = self.docker.lock().await;
        if let Some(d) = guard.as_ref() {
            return Ok(d.clone());
        }
        let path = self.config.docker_socket.clone().unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"));
        let path_str = path.to_string_lossy().to_string();
        let client = bollard::Docker::connect_with_socket(&path_str, 120, bollard::API_DEFAULT_VERSION)
            .map_err(|e| format!("Failed to connect to the Docker daemon at '{path_str}': {e}"))?;
        let client = tokio::time::timeout(Duration::from_secs(30), client.negotiate_version())
            .await
            .map_err(|_| format!("Timed out connecting to the Docker daemon at '{path_str}'"))?
            .map_err(|e| format!("Failed to connect to the Docker daemon at '{path_str}': {e}"))?;
        *guard = Some(client.clone());
        Ok(client)
    }

    /// Docker container name for a container id.
    pub fn docker_name(&self, agent_id: &str, container_id: &str) -> String {
        docker_container_name(agent_id, container_id)
    }
}

/// Aborts background tasks when the last public handle goes away.
struct DetachGuard(Arc<Inner>);

impl Drop for DetachGuard {
    fn drop(&mut self) {
        for h in lock(&self.0.background).drain(..) {
            h.abort();
        }
    }
}

/// Docker container name: `mesos-<agentId>.<containerId>`.
pub fn docker_container_name(agent_id: &str, container_id: &str) -> String {
    format!("mesos-{agent_id}.{container_id}")
}

/// The containerizers of one agent. Cheap to clone; all clones share state.
#[derive(Clone)]
pub struct Containerizers {
    inner: Arc<Inner>,
    _guard: Arc<DetachGuard>,
}

impl Containerizers {
    /// Creates the containerizers and the receiver of their events.
    pub fn new(config: Config) -> (Self, EventReceiver) {
        let (tx, rx) = mpsc::unbounded_channel();
        let cgroups = cgroups::CgroupV2::detect(config.cgroup_root.as_deref());
        let inner = Arc::new(Inner {
            config,
            events: tx,
            tasks: Mutex::new(HashMap::new()),
            docker: tokio::sync::Mutex::new(None),
            cgroups,
            background: Mutex::new(Vec::new()),
        });
        let guard = Arc::new(DetachGuard(inner.clone()));
        (Containerizers { inner, _guard: guard }, rx)
    }

    /// Host sandbox path a spec will use.
    pub fn sandbox_dir(&self, spec: &LaunchSpec) -> PathBuf {
        spec.sandbox_dir.clone().unwrap_or_else(|| {
            checkpoint::sandbox_dir(
                &self.inner.config.work_dir,
                &spec.agent_id,
                &spec.framework_id,
                &spec.executor_id,
                &spec.container_id,
            )
        })
    }

    /// Meta run directory (checkpoint location) of a spec.
    pub fn meta_run_dir(&self, spec: &LaunchSpec) -> PathBuf {
        self.inner.meta_dir(&spec.agent_id, &spec.framework_id, &spec.executor_id, &spec.container_id)
    }

    /// Launches a task. Returns at once; on `Ok` a `Starting` event has been
    /// emitted and `Running` plus a terminal event follow. On `Err` nothing was
    /// started and no event is emitted.
    pub fn launch(&self, spec: LaunchSpec) -> Result<(), LaunchError> {
        validate_ids(&spec)?;
        let kind = if spec.docker.is_some() { ContainerizerKind::Docker } else { ContainerizerKind::Mesos };
        if !self.inner.config.containerizers.contains(&kind) {
            let enabled: Vec<&str> = self.inner.config.containerizers.iter().map(|k| k.as_str()).collect();
            return Err(LaunchError::Unsupported(format!(
                "None of the enabled containerizers ({}) could create a container for the provided TaskInfo/ExecutorInfo message",
                enabled.join(",")
            )));
        }
        if self.inner.is_registered(&spec.task_id) {
            return Err(LaunchError::AlreadyRunning(spec.task_id));
        }
        let sandbox = self.sandbox_dir(&spec);
        let meta = self.meta_run_dir(&spec);
        prepare_dirs(&sandbox, &meta, spec.sandbox_dir.is_none(), &spec.container_id)?;
        match kind {
            ContainerizerKind::Mesos => command::launch(&self.inner, spec, sandbox, meta),
            ContainerizerKind::Docker => docker::launch(&self.inner, spec, sandbox, meta),
        }
    }

    /// Kills a task: SIGTERM (docker: stop) now, SIGKILL after `grace` (default:
    /// the spec's `kill_grace`). A second kill may shorten the grace. The
    /// terminal event is `Killed`.
    pub fn kill(&self, task_id: &str, grace: Option<Duration>) -> Result<(), KillError> {
        let tasks = lock(&self.inner.tasks);
        let entry = tasks.get(task_id).ok_or_else(|| KillError::UnknownTask(task_id.to_string()))?;
        let grace = grace.unwrap_or(entry.kill_grace);
        entry.control.send(Control::Kill(grace)).map_err(|_| KillError::UnknownTask(task_id.to_string()))
    }

    /// Snapshot of running tasks.
    pub fn running(&self) -> Vec<RunningContainer> {
        let mut v: Vec<RunningContainer> = lock(&self.inner.tasks).values().map(|e| e.info.clone()).collect();
        v.sort_by(|a, b| a.launched_at.total_cmp(&b.launched_at));
        v
    }

    /// Running tasks with their resource usage (best effort). Command tasks:
    /// the task's cgroup (`cpu.stat`, `memory.stat`) when it has one, otherwise
    /// the sum over its processes in `/proc` (all processes of its session).
    /// Docker tasks: one-shot `docker stats` (usermode/kernelmode CPU, `rss`
    /// or `anon` memory).
    pub async fn usage(&self) -> Vec<ContainerUsage> {
        let entries: Vec<(RunningContainer, Option<i32>, Option<PathBuf>)> =
            lock(&self.inner.tasks).values().map(|e| (e.info.clone(), e.supervisor_pid, e.cgroup.clone())).collect();
        let futs = entries.into_iter().map(|(info, sup, cg)| {
            let inner = self.inner.clone();
            async move {
                let statistics = match info.kind {
                    ContainerizerKind::Mesos => command::usage(&info, sup, cg.as_deref()),
                    ContainerizerKind::Docker => docker::usage(&inner, &info).await,
                };
                ContainerUsage { container: info, statistics }
            }
        });
        let mut out = futures::future::join_all(futs).await;
        out.sort_by(|a, b| a.container.launched_at.total_cmp(&b.container.launched_at));
        out
    }

    /// Recovers containers from checkpoints (see [`scan_checkpoints`]): re-attaches
    /// to running ones ([`RecoverMode::Reconnect`]) or kills them
    /// ([`RecoverMode::Cleanup`]); containers that ended meanwhile get their
    /// terminal event. Command tasks are identified by pid *and* start time
    /// (and boot id), Docker tasks by container name.
    pub async fn recover(&self, checkpoints: Vec<Checkpoint>, mode: RecoverMode) -> Vec<RecoverOutcome> {
        let mut out = Vec::with_capacity(checkpoints.len());
        for cp in checkpoints {
            let result = if self.inner.is_registered(&cp.task_id) {
                RecoverResult::Error(format!("Task '{}' is already running", cp.task_id))
            } else {
                match cp.kind {
                    ContainerizerKind::Mesos => command::recover(&self.inner, &cp, mode),
                    ContainerizerKind::Docker => docker::recover(&self.inner, &cp, mode).await,
                }
            };
            out.push(RecoverOutcome { task_id: cp.task_id, container_id: cp.container_id, result });
        }
        out
    }

    /// Removes (kills) Docker containers named `mesos-*` that are not in `known`
    /// (container names) and not managed here. With `agent_id`, only containers
    /// of that agent (label `mesos-rs.agent` or name prefix `mesos-<agentId>.`)
    /// are considered; with `None`, every `mesos-*` container (Mesos' behaviour).
    /// Returns the removed names.
    pub async fn kill_orphans(&self, agent_id: Option<&str>, known: &HashSet<String>) -> Result<Vec<String>, String> {
        docker::kill_orphans(&self.inner, agent_id, known).await
    }
}

/// Mesos-style id check: non-empty, no `/`, no NUL, not `.` or `..`.
fn validate_ids(spec: &LaunchSpec) -> Result<(), LaunchError> {
    let ids = [
        ("task id", &spec.task_id),
        ("framework id", &spec.framework_id),
        ("executor id", &spec.executor_id),
        ("container id", &spec.container_id),
        ("agent id", &spec.agent_id),
    ];
    for (what, id) in ids {
        if id.is_empty() || id == "." || id == ".." || id.contains('/') || id.contains('\0') {
            return Err(LaunchError::Invalid(format!("Invalid {what} '{id}'")));
        }
    }
    Ok(())
}

/// Creates the sandbox and meta run directories (and `runs/latest` links for
/// the standard layout).
fn prepare_dirs(sandbox: &Path, meta: &Path, standard_layout: bool, container_id: &str) -> Result<(), LaunchError> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        LaunchError::Io(format!("Failed to create {what} '{}': {e}", p.display()))
    };
    std::fs::create_dir_all(sandbox).map_err(|e| io("sandbox directory", sandbox, e))?;
    std::fs::create_dir_all(meta).map_err(|e| io("meta directory", meta, e))?;
    for dir in [meta.parent()].into_iter().chain(standard_layout.then(|| sandbox.parent())).flatten() {
        if let Err(e) = checkpoint::update_latest_link(dir, container_id) {
            tracing::warn!(dir = %dir.display(), error = %e, "failed to update runs/latest link");
        }
    }
    Ok(())
}
