//! Directory layout and the per-container checkpoint a restarted agent uses to
//! re-attach to (or clean up) containers it launched before.
//!
//! Layout (same as Mesos; `<meta run dir>` is where the checkpoint lives):
//!
//! ```text
//! <work_dir>/slaves/<aid>/frameworks/<fid>/executors/<eid>/runs/<cid>         sandbox (stdout, stderr)
//! <work_dir>/slaves/<aid>/frameworks/<fid>/executors/<eid>/runs/latest -> <cid>
//! <work_dir>/meta/slaves/<aid>/frameworks/<fid>/executors/<eid>/runs/<cid>/   meta run dir:
//!     containerizer.json   Checkpoint (JSON), rewritten atomically when the task pid is known
//!     exit_status          raw wait(2) status of a command task, written by its supervisor
//!     kill_requested       KillMarker (JSON): a kill was requested (time + grace)
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name of the checkpoint inside the meta run directory.
pub const CHECKPOINT_FILE: &str = "containerizer.json";
/// File name of the wait status written by a command task's supervisor.
pub const EXIT_STATUS_FILE: &str = "exit_status";
/// File name of the marker written when a kill is requested.
pub const KILL_MARKER_FILE: &str = "kill_requested";
/// Current checkpoint format version.
pub const CHECKPOINT_VERSION: u32 = 1;

/// Which containerizer runs a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerizerKind {
    /// Docker containers through the Docker daemon.
    Docker,
    /// Plain processes on the host ("MESOS" containerizer, command tasks).
    Mesos,
}

impl ContainerizerKind {
    /// Mesos' flag spelling (`docker` / `mesos`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ContainerizerKind::Docker => "docker",
            ContainerizerKind::Mesos => "mesos",
        }
    }
}

/// What a restarted agent needs to find a container again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version ([`CHECKPOINT_VERSION`]).
    pub version: u32,
    /// Containerizer that launched it.
    pub kind: ContainerizerKind,
    /// Task id.
    pub task_id: String,
    /// Framework id.
    pub framework_id: String,
    /// Executor id (equals the task id for command tasks).
    pub executor_id: String,
    /// Container id (UUID).
    pub container_id: String,
    /// Agent id at launch time.
    pub agent_id: String,
    /// Host path of the sandbox.
    pub sandbox_dir: PathBuf,
    /// `/proc/sys/kernel/random/boot_id` at launch; pids are void after a reboot.
    pub boot_id: Option<String>,
    /// Launch time, seconds since the epoch.
    pub launched_at: f64,
    /// CPU allocation.
    pub cpus: f64,
    /// Memory allocation in MB.
    pub mem_mb: f64,
    /// Default kill grace period in milliseconds.
    pub kill_grace_ms: u64,
    /// Command tasks: pid of the supervisor process (the session id of the task).
    #[serde(default)]
    pub supervisor_pid: Option<i32>,
    /// Command tasks: supervisor start time (clock ticks after boot).
    #[serde(default)]
    pub supervisor_start_time: Option<u64>,
    /// Command tasks: pid of the task (its process group id); docker: container init pid.
    #[serde(default)]
    pub pid: Option<i32>,
    /// Command tasks: task start time (clock ticks after boot).
    #[serde(default)]
    pub pid_start_time: Option<u64>,
    /// Command tasks: cgroup v2 directory, when limits were applied.
    #[serde(default)]
    pub cgroup: Option<PathBuf>,
    /// Docker tasks: container name.
    #[serde(default)]
    pub container_name: Option<String>,
    /// Emit a `Killing` event when a kill starts (see `LaunchSpec::killing_state`).
    #[serde(default)]
    pub killing_state: bool,
}

/// Recorded when a kill is requested, so a restarted agent finishes the kill
/// and reports `TASK_KILLED` rather than a failure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KillMarker {
    /// When the kill was requested, seconds since the epoch.
    pub requested_at: f64,
    /// Grace period before SIGKILL, seconds.
    pub grace_secs: f64,
}

/// Host path of a sandbox in the standard layout.
pub fn sandbox_dir(
    work_dir: &Path,
    agent_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
) -> PathBuf {
    work_dir
        .join("slaves")
        .join(agent_id)
        .join("frameworks")
        .join(framework_id)
        .join("executors")
        .join(executor_id)
        .join("runs")
        .join(container_id)
}

/// The meta run directory holding the checkpoint of one container.
pub fn meta_run_dir(
    work_dir: &Path,
    agent_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
) -> PathBuf {
    sandbox_dir(&work_dir.join("meta"), agent_id, framework_id, executor_id, container_id)
}

/// Reads the checkpoint stored in a meta run directory.
pub fn read_checkpoint(run_dir: &Path) -> io::Result<Checkpoint> {
    let text = fs::read(run_dir.join(CHECKPOINT_FILE))?;
    serde_json::from_slice(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Finds every checkpoint of `agent_id` below `<work_dir>/meta`, skipping
/// unreadable ones (logged). Order: by launch time.
pub fn scan_checkpoints(work_dir: &Path, agent_id: &str) -> Vec<Checkpoint> {
    let root = work_dir.join("meta").join("slaves").join(agent_id).join("frameworks");
    let mut out = Vec::new();
    for fw in subdirs(&root) {
        for ex in subdirs(&fw.join("executors")) {
            for run in subdirs(&ex.join("runs")) {
                if run.file_name().is_some_and(|n| n == "latest") {
                    continue;
                }
                match read_checkpoint(&run) {
                    Ok(cp) => out.push(cp),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => tracing::warn!(dir = %run.display(), error = %e, "unreadable containerizer checkpoint"),
                }
            }
        }
    }
    out.sort_by(|a, b| a.launched_at.total_cmp(&b.launched_at));
    out
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()).filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false)).map(|e| e.path()).collect()
}

/// Writes `bytes` to `dir/name` atomically (temp file + rename).
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, dir.join(name))
}

/// Writes the checkpoint into its meta run directory.
pub(crate) fn write_checkpoint(run_dir: &Path, cp: &Checkpoint) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(cp).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    write_atomic(run_dir, CHECKPOINT_FILE, &json)
}

/// The raw wait status a supervisor recorded, if the task has exited.
pub(crate) fn read_exit_status(run_dir: &Path) -> Option<i32> {
    fs::read_to_string(run_dir.join(EXIT_STATUS_FILE)).ok()?.trim().parse().ok()
}

/// Records that a kill was requested.
pub(crate) fn write_kill_marker(run_dir: &Path, marker: &KillMarker) -> io::Result<()> {
    let json = serde_json::to_vec(marker).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    write_atomic(run_dir, KILL_MARKER_FILE, &json)
}

/// Reads the kill marker, if a kill was requested.
pub(crate) fn read_kill_marker(run_dir: &Path) -> Option<KillMarker> {
    let bytes = fs::read(run_dir.join(KILL_MARKER_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Points `<runs>/latest` at `container_id` (replacing an older link).
pub(crate) fn update_latest_link(runs_dir: &Path, container_id: &str) -> io::Result<()> {
    let tmp = runs_dir.join(format!(".latest.{container_id}"));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(container_id, &tmp)?;
    fs::rename(&tmp, runs_dir.join("latest"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_mesos() {
        let w = Path::new("/var/lib/mesos");
        assert_eq!(
            sandbox_dir(w, "A-S0", "F-0000", "t1", "c1"),
            Path::new("/var/lib/mesos/slaves/A-S0/frameworks/F-0000/executors/t1/runs/c1")
        );
        assert_eq!(
            meta_run_dir(w, "A-S0", "F-0000", "t1", "c1"),
            Path::new("/var/lib/mesos/meta/slaves/A-S0/frameworks/F-0000/executors/t1/runs/c1")
        );
    }

    #[test]
    fn checkpoint_round_trip_and_scan() {
        let dir = std::env::temp_dir().join(format!("cz-cp-{}", uuid::Uuid::new_v4()));
        let cp = Checkpoint {
            version: CHECKPOINT_VERSION,
            kind: ContainerizerKind::Mesos,
            task_id: "t1".into(),
            framework_id: "f".into(),
            executor_id: "t1".into(),
            container_id: "c1".into(),
            agent_id: "a".into(),
            sandbox_dir: sandbox_dir(&dir, "a", "f", "t1", "c1"),
            boot_id: Some("b".into()),
            launched_at: 1.5,
            cpus: 0.1,
            mem_mb: 32.0,
            kill_grace_ms: 3000,
            supervisor_pid: Some(10),
            supervisor_start_time: Some(11),
            pid: Some(12),
            pid_start_time: Some(13),
            cgroup: None,
            container_name: None,
            killing_state: true,
        };
        let run = meta_run_dir(&dir, "a", "f", "t1", "c1");
        write_checkpoint(&run, &cp).expect("write");
        assert_eq!(read_checkpoint(&run).expect("read"), cp);
        update_latest_link(run.parent().expect("runs"), "c1").expect("link");
        assert_eq!(scan_checkpoints(&dir, "a"), vec![cp]);
        assert!(scan_checkpoints(&dir, "other").is_empty());
        let _ = fs::remove_dir_all(&dir);
    }
}
