//! Checkpointed task records: what the agent knows about each task it was asked to run, one JSON file per
//! task under `<work_dir>/meta/slaves/<agentId>/tasks/`, written atomically (temp file + rename). A record
//! stays after its task ended until the garbage collector removes it with the task's sandbox.

use common::mesos::{FrameworkInfo, Id, TaskInfo, TaskState};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A task's identity on an agent: task ids are only unique within a framework.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskKey {
    /// The framework.
    pub framework_id: Id,
    /// The task.
    pub task_id: Id,
}

impl TaskKey {
    /// A key from its parts.
    pub fn new(framework_id: &Id, task_id: &Id) -> TaskKey {
        TaskKey { framework_id: framework_id.clone(), task_id: task_id.clone() }
    }

    /// A file name unique to the key: both ids with every byte outside `[A-Za-z0-9.-]` written `%XX`,
    /// joined by `+` (which is always escaped inside the ids), plus `.json`.
    pub fn file_name(&self) -> String {
        format!("{}+{}.json", escape(&self.framework_id.value), escape(&self.task_id.value))
    }
}

impl std::fmt::Display for TaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of framework {}", self.task_id, self.framework_id)
    }
}

/// Escapes an id for use in a file name (injective: `%` itself is escaped).
fn escape(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    // "." and ".." are not usable as file name parts on their own.
    if out.chars().all(|c| c == '.') {
        out = out.replace('.', "%2E");
    }
    out
}

/// A task this agent was asked to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Its framework, as the master sent it with the launch.
    pub framework: FrameworkInfo,
    /// The task as launched.
    pub info: TaskInfo,
    /// Latest state (reported or about to be).
    pub state: TaskState,
    /// Container id.
    pub container_id: String,
    /// Host sandbox path.
    pub sandbox: PathBuf,
    /// When it was launched (seconds since the epoch).
    pub launched_at: f64,
    /// State history (state, timestamp).
    #[serde(default)]
    pub statuses: Vec<(TaskState, f64)>,
    /// When the scheduler acknowledged the terminal update (seconds since the epoch); from then on the task
    /// is completed and its sandbox waits for the garbage collector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<f64>,
}

impl TaskRecord {
    /// The framework id.
    pub fn framework_id(&self) -> Id {
        self.framework.id.clone().unwrap_or_default()
    }

    /// The record's key.
    pub fn key(&self) -> TaskKey {
        TaskKey::new(&self.framework_id(), &self.info.task_id)
    }
}

/// The directory of task records.
#[derive(Debug, Clone)]
pub struct RecordStore {
    dir: PathBuf,
}

impl RecordStore {
    /// The store of an agent: `<work_dir>/meta/slaves/<agentId>/tasks`.
    pub fn new(work_dir: &Path, agent_id: &Id) -> RecordStore {
        RecordStore { dir: work_dir.join("meta").join("slaves").join(&agent_id.value).join("tasks") }
    }

    /// Every readable record; unreadable files are logged and skipped.
    pub fn load(&self) -> Vec<TaskRecord> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<TaskRecord>(&b).map_err(|e| e.to_string()))
            {
                Ok(record) => out.push(record),
                Err(e) => tracing::warn!(file = %path.display(), error = %e, "skipping an unreadable task record"),
            }
        }
        out
    }

    /// The file of a task's record.
    pub fn path(&self, key: &TaskKey) -> PathBuf {
        self.dir.join(key.file_name())
    }

    /// Writes a record atomically.
    pub fn save(&self, record: &TaskRecord) {
        let path = self.path(&record.key());
        let tmp = path.with_extension("json.tmp");
        let result = std::fs::create_dir_all(&self.dir)
            .and_then(|()| serde_json::to_vec(record).map_err(std::io::Error::other))
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = result {
            tracing::error!(task = %record.key(), error = %e, "cannot checkpoint the task record");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_distinct_and_safe() {
        let names: Vec<String> =
            [("f", "a/b"), ("f", "a_b"), ("f", "a%2Fb"), ("f+a", "b"), ("f", "a+b"), ("f", ".."), ("f", "app.1-x")]
                .iter()
                .map(|(f, t)| TaskKey::new(&Id::new(*f), &Id::new(*t)).file_name())
                .collect();
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(names.iter().all(|n| !n.contains('/') && !n.starts_with('.')), "{names:?}");
        assert_eq!(names[6], "f+app.1-x.json");
    }
}
