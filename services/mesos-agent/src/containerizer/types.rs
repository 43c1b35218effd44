//! Plain-data types of the containerizer interface: launch specs in, events and
//! snapshots out, configuration and errors.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

pub use super::checkpoint::ContainerizerKind;

/// Reason names used in events (Mesos `TaskStatus.Reason`, without changes).
pub mod reasons {
    /// The container could not be launched (bad spec, pull failure, exec failure).
    pub const CONTAINER_LAUNCH_FAILED: &str = "REASON_CONTAINER_LAUNCH_FAILED";
    /// The executor/container vanished without a known exit status.
    pub const EXECUTOR_TERMINATED: &str = "REASON_EXECUTOR_TERMINATED";
    /// Killed before the container was started.
    pub const TASK_KILLED_DURING_LAUNCH: &str = "REASON_TASK_KILLED_DURING_LAUNCH";
}

/// What to run for a task (Mesos `CommandInfo`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommandSpec {
    /// `true`: run `/bin/sh -c <value>`; `false`: exec `value` with `arguments`.
    pub shell: bool,
    /// The shell command or the executable.
    pub value: Option<String>,
    /// Non-shell: argv (Mesos convention: `arguments[0]` is argv\[0\]; empty → `[value]`).
    /// Docker: appended after `value` to form the container command.
    pub arguments: Vec<String>,
    /// Environment, in order; a later entry wins over an earlier one with the same name.
    /// The lead passes the agent's executor environment (`MESOS_*`) first, then
    /// `CommandInfo.environment`.
    pub env: Vec<(String, String)>,
    /// User to run as (command tasks; honoured when the agent runs as root).
    pub user: Option<String>,
}

/// Docker network mode (Mesos `DockerInfo.Network`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DockerNetwork {
    /// `--net=host` (Mesos default).
    #[default]
    Host,
    /// `--net=bridge`.
    Bridge,
    /// `--net=none`.
    None,
    /// A user-defined network by name.
    User(String),
}

/// One `-p hostPort:containerPort/protocol` mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// Port on the host (bound on 0.0.0.0).
    pub host_port: u16,
    /// Port inside the container.
    pub container_port: u16,
    /// `tcp` (default), `udp`, or a comma-separated list such as `udp,tcp`.
    pub protocol: Option<String>,
}

/// Volume access mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VolumeMode {
    /// Read-write.
    #[default]
    Rw,
    /// Read-only.
    Ro,
}

/// A bind mount (Mesos `Volume` with a `host_path`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Path in the container; relative paths are below `/mnt/mesos/sandbox`.
    pub container_path: String,
    /// Path on the host; relative paths are below the sandbox.
    pub host_path: String,
    /// Access mode.
    pub mode: VolumeMode,
}

/// Docker settings of a task (Mesos `ContainerInfo.DockerInfo` plus the
/// container-level `volumes` and `hostname`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DockerSpec {
    /// Image reference; `:latest` is implied when no tag or digest is given.
    pub image: String,
    /// Network mode.
    pub network: DockerNetwork,
    /// Port mappings (bridge and user networks only).
    pub port_mappings: Vec<PortMapping>,
    /// Bind mounts.
    pub volumes: Vec<Volume>,
    /// `--privileged`.
    pub privileged: bool,
    /// Extra `docker run --key=value` options, mapped onto the Docker API.
    pub parameters: Vec<(String, String)>,
    /// Pull even if the image exists locally.
    pub force_pull: bool,
    /// Container hostname (`ContainerInfo.hostname`; not with host networking).
    pub hostname: Option<String>,
}

/// Everything needed to launch one task.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    /// Task id.
    pub task_id: String,
    /// Framework id.
    pub framework_id: String,
    /// Executor id (the task id for command tasks).
    pub executor_id: String,
    /// Container id, a fresh UUID string.
    pub container_id: String,
    /// Agent id.
    pub agent_id: String,
    /// Sandbox host path; `None` = the standard layout below `Config::work_dir`
    /// (see [`super::checkpoint::sandbox_dir`]). Created if missing.
    pub sandbox_dir: Option<PathBuf>,
    /// The command.
    pub command: CommandSpec,
    /// Docker settings; `Some` selects the Docker containerizer.
    pub docker: Option<DockerSpec>,
    /// CPU allocation (Docker: `cpu-shares = max(cpus*1024, 2)`; cgroup v2: `cpu.weight`).
    pub cpus: f64,
    /// Memory allocation in MB (limit `max(mem, 32 MB)`; `<= 0` means no limit).
    pub mem_mb: f64,
    /// Grace period between SIGTERM and SIGKILL when killed without an explicit one.
    pub kill_grace: Duration,
    /// Labels (Docker container labels).
    pub labels: Vec<(String, String)>,
    /// Emit a `Killing` event when a kill starts (the framework has the
    /// `TASK_KILLING_STATE` capability).
    pub killing_state: bool,
}

/// Task state carried by an event (subset of Mesos `TaskState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TaskState {
    /// `TASK_STARTING`.
    #[serde(rename = "TASK_STARTING")]
    Starting,
    /// `TASK_RUNNING`.
    #[serde(rename = "TASK_RUNNING")]
    Running,
    /// `TASK_KILLING`: a kill started (only with [`LaunchSpec::killing_state`]).
    #[serde(rename = "TASK_KILLING")]
    Killing,
    /// `TASK_FINISHED`.
    #[serde(rename = "TASK_FINISHED")]
    Finished,
    /// `TASK_FAILED`.
    #[serde(rename = "TASK_FAILED")]
    Failed,
    /// `TASK_KILLED`.
    #[serde(rename = "TASK_KILLED")]
    Killed,
}

impl TaskState {
    /// The Mesos enum name, e.g. `TASK_RUNNING`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TaskState::Starting => "TASK_STARTING",
            TaskState::Running => "TASK_RUNNING",
            TaskState::Killing => "TASK_KILLING",
            TaskState::Finished => "TASK_FINISHED",
            TaskState::Failed => "TASK_FAILED",
            TaskState::Killed => "TASK_KILLED",
        }
    }

    /// Whether no further events follow for the task.
    #[cfg(test)]
    pub fn is_terminal(&self) -> bool {
        matches!(self, TaskState::Finished | TaskState::Failed | TaskState::Killed)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who would have sent the update in Mesos (`TaskStatus.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventSource {
    /// The (command/docker) executor: normal lifecycle updates.
    #[serde(rename = "SOURCE_EXECUTOR")]
    Executor,
    /// The agent: launch failures and vanished containers.
    #[serde(rename = "SOURCE_AGENT")]
    Agent,
}

/// A task status change. Per task, events arrive in order, and a terminal one is last.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerEvent {
    /// Task id.
    pub task_id: String,
    /// Container id.
    pub container_id: String,
    /// New state.
    pub state: TaskState,
    /// `TaskStatus.message`, e.g. `Command exited with status 3`.
    pub message: Option<String>,
    /// `TaskStatus.reason` name, e.g. `REASON_CONTAINER_LAUNCH_FAILED`.
    pub reason: Option<&'static str>,
    /// Update source.
    pub source: EventSource,
    /// Exit code, when the process/container exited normally (terminal events).
    pub exit_code: Option<i32>,
    /// Terminating signal of a command task (terminal events).
    pub signal: Option<i32>,
    /// Container IP (Docker bridge/user networks; on `Running`).
    pub container_ip: Option<String>,
    /// Seconds since the epoch.
    pub timestamp: f64,
}

impl ContainerEvent {
    /// A bare event with the given state and message.
    pub(crate) fn new(task_id: &str, container_id: &str, state: TaskState, source: EventSource) -> Self {
        ContainerEvent {
            task_id: task_id.to_string(),
            container_id: container_id.to_string(),
            state,
            message: None,
            reason: None,
            source,
            exit_code: None,
            signal: None,
            container_ip: None,
            timestamp: now_secs(),
        }
    }

    /// Sets the message.
    pub(crate) fn message(mut self, m: impl Into<String>) -> Self {
        self.message = Some(m.into());
        self
    }

    /// Sets the reason.
    pub(crate) fn reason(mut self, r: &'static str) -> Self {
        self.reason = Some(r);
        self
    }
}

/// Seconds since the Unix epoch as a float (Mesos timestamp style).
pub(crate) fn now_secs() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Containerizer configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Agent work directory (`--work_dir`): sandboxes and meta dirs live below it.
    pub work_dir: PathBuf,
    /// Docker socket; `None` = `/var/run/docker.sock`.
    pub docker_socket: Option<PathBuf>,
    /// Enabled containerizers (`--containerizers`), default `[Mesos]`.
    pub containerizers: Vec<ContainerizerKind>,
    /// cgroup v2 directory under which command tasks get a cgroup each; `None`
    /// (default) or an unusable directory = no limits.
    pub cgroup_root: Option<PathBuf>,
    /// Run command tasks as `CommandSpec.user` (`--switch_user`, default true;
    /// only effective when the agent runs as root).
    pub switch_user: bool,
    /// `PATH` given to command tasks unless their environment sets one.
    pub default_path: String,
    /// Upper bound for an image pull.
    pub docker_pull_timeout: Duration,
}

impl Config {
    /// Defaults for a work directory.
    pub fn new(work_dir: impl Into<PathBuf>) -> Self {
        Config {
            work_dir: work_dir.into(),
            docker_socket: None,
            containerizers: vec![ContainerizerKind::Mesos],
            cgroup_root: None,
            switch_user: true,
            default_path: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            docker_pull_timeout: Duration::from_secs(600),
        }
    }
}

/// Why a launch was refused. No events are emitted for a refused launch; use
/// [`LaunchError::to_event`] to build the `TASK_FAILED` update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchError {
    /// A task with this id is already running here.
    AlreadyRunning(String),
    /// No enabled containerizer can run this spec.
    Unsupported(String),
    /// The spec is invalid (bad ids, docker parameters, volumes, ...).
    Invalid(String),
    /// Local failure (sandbox creation, fork, ...).
    Io(String),
}

impl LaunchError {
    /// Reason name for the resulting `TASK_FAILED`.
    pub fn reason(&self) -> &'static str {
        reasons::CONTAINER_LAUNCH_FAILED
    }

    /// A terminal `TASK_FAILED` event for the refused spec.
    pub fn to_event(&self, spec: &LaunchSpec) -> ContainerEvent {
        ContainerEvent::new(&spec.task_id, &spec.container_id, TaskState::Failed, EventSource::Agent)
            .message(self.to_string())
            .reason(self.reason())
    }
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchError::AlreadyRunning(t) => write!(f, "Task '{t}' is already running"),
            LaunchError::Unsupported(m) | LaunchError::Invalid(m) | LaunchError::Io(m) => {
                write!(f, "Failed to launch container: {m}")
            }
        }
    }
}

impl std::error::Error for LaunchError {}

/// Why a kill request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillError {
    /// No running task with that id.
    UnknownTask(String),
}

impl fmt::Display for KillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KillError::UnknownTask(t) => write!(f, "Unknown task '{t}'"),
        }
    }
}

impl std::error::Error for KillError {}

/// What recovery does with still-running containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoverMode {
    /// Re-attach (`--recover=reconnect`).
    Reconnect,
    /// Kill them (`--recover=cleanup`, or frameworks without checkpointing).
    Cleanup,
}

/// Result of recovering one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoverResult {
    /// Still running and watched again; no event emitted.
    Reattached,
    /// Still running and being killed (cleanup mode); a `Killed` event follows.
    Killing,
    /// It had exited meanwhile; its terminal event was emitted.
    Exited,
    /// It vanished without a known status; a `Failed` event
    /// (`REASON_EXECUTOR_TERMINATED`) was emitted.
    Lost,
    /// Not recovered (e.g. already running here, Docker unreachable); no event.
    Error(String),
}

/// Outcome of recovering one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverOutcome {
    /// Task id.
    pub task_id: String,
    /// Container id.
    pub container_id: String,
    /// What happened.
    pub result: RecoverResult,
}

/// Snapshot of a running container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunningContainer {
    /// Task id.
    pub task_id: String,
    /// Framework id.
    pub framework_id: String,
    /// Executor id.
    pub executor_id: String,
    /// Container id.
    pub container_id: String,
    /// Agent id.
    pub agent_id: String,
    /// Containerizer.
    pub kind: ContainerizerKind,
    /// Task pid (command) or container init pid (docker), once known.
    pub pid: Option<i32>,
    /// Docker container name.
    pub container_name: Option<String>,
    /// Docker container IP.
    pub container_ip: Option<String>,
    /// Sandbox host path.
    pub sandbox_dir: PathBuf,
    /// CPU allocation.
    pub cpus: f64,
    /// Memory allocation in MB.
    pub mem_mb: f64,
    /// Launch time, seconds since the epoch.
    pub launched_at: f64,
}

/// Mesos `ResourceStatistics` subset for `/monitor/statistics` (best effort:
/// fields are `None` when unknown).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ResourceStatistics {
    /// Sampling time, seconds since the epoch.
    pub timestamp: f64,
    /// User CPU time in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus_user_time_secs: Option<f64>,
    /// System CPU time in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus_system_time_secs: Option<f64>,
    /// CPU allocation.
    pub cpus_limit: f64,
    /// Resident memory in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_rss_bytes: Option<u64>,
    /// Memory limit in bytes (allocation).
    pub mem_limit_bytes: u64,
    /// Number of processes (command tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<u64>,
}

/// A running container with its resource usage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerUsage {
    /// The container.
    pub container: RunningContainer,
    /// Its usage.
    pub statistics: ResourceStatistics,
}
