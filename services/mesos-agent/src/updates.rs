//! Reliable status updates: per task an ordered queue whose head is sent to the master until the scheduler's
//! acknowledgement comes back, then the next one. Queues are checkpointed under
//! `<work_dir>/meta/slaves/<agentId>/updates/` (one JSON file per task, written atomically) so an agent restart
//! loses nothing. Retries back off from 10 s, doubling to 10 min (upstream's schedule); a new master link
//! resends every head at once.

use crate::records::TaskKey;
use common::mesos::{Id, TaskStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// First retry delay.
pub const INITIAL_RETRY: Duration = Duration::from_secs(10);
/// Longest retry delay.
pub const MAX_RETRY: Duration = Duration::from_secs(600);

/// One task's pending updates.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskStream {
    /// The task.
    pub key: TaskKey,
    /// Updates not yet acknowledged, oldest first.
    pub pending: VecDeque<TaskStatus>,
    /// When the head may be sent (again); `None` = now.
    #[serde(skip)]
    next_send: Option<Instant>,
    /// Current retry delay.
    #[serde(skip)]
    backoff: Option<Duration>,
}

/// The status update manager.
#[derive(Debug, Default)]
pub struct StatusUpdates {
    /// Checkpoint directory; `None` until the agent has an id (nothing is queued before).
    dir: Option<PathBuf>,
    streams: BTreeMap<TaskKey, TaskStream>,
}

impl StatusUpdates {
    /// The checkpoint directory of an agent's updates.
    pub fn dir_of(work_dir: &Path, agent_id: &Id) -> PathBuf {
        work_dir.join("meta").join("slaves").join(&agent_id.value).join("updates")
    }

    /// Loads checkpointed queues from `dir` (created if missing); later changes are checkpointed there.
    pub fn recover(dir: &Path) -> std::io::Result<StatusUpdates> {
        std::fs::create_dir_all(dir)?;
        let mut streams = BTreeMap::new();
        for entry in std::fs::read_dir(dir)?.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<TaskStream>(&b).ok()) {
                Some(stream) if !stream.pending.is_empty() => {
                    streams.insert(stream.key.clone(), stream);
                }
                _ => {
                    tracing::warn!(file = %path.display(), "dropping an empty or unreadable status update checkpoint");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(StatusUpdates { dir: Some(dir.to_path_buf()), streams })
    }

    /// Sets the checkpoint directory once the agent has an id (no-op if already set).
    pub fn attach(&mut self, dir: PathBuf) {
        if self.dir.is_none() {
            if let Err(e) = std::fs::create_dir_all(&dir) {
                tracing::error!(dir = %dir.display(), error = %e, "cannot create the status update directory");
            }
            self.dir = Some(dir);
            let keys: Vec<TaskKey> = self.streams.keys().cloned().collect();
            for key in keys {
                self.checkpoint(&key);
            }
        }
    }

    /// Queues an update (it must carry a uuid) behind the task's earlier ones and checkpoints the queue.
    pub fn enqueue(&mut self, key: &TaskKey, status: TaskStatus) {
        let stream = self.streams.entry(key.clone()).or_insert_with(|| TaskStream {
            key: key.clone(),
            pending: VecDeque::new(),
            next_send: None,
            backoff: None,
        });
        stream.pending.push_back(status);
        self.checkpoint(key);
    }

    /// Applies an acknowledgement: drops the head if its uuid matches and makes the next one due now.
    /// Returns the acknowledged update, or `None` when it did not match.
    pub fn acknowledge(&mut self, key: &TaskKey, uuid: &str) -> Option<TaskStatus> {
        let stream = self.streams.get_mut(key)?;
        if stream.pending.front().and_then(|s| s.uuid.as_deref()) != Some(uuid) {
            return None;
        }
        let acknowledged = stream.pending.pop_front();
        stream.next_send = None;
        stream.backoff = None;
        if stream.pending.is_empty() {
            self.streams.remove(key);
        }
        self.checkpoint(key);
        acknowledged
    }

    /// The heads that are due to be sent now, with their framework; each is then scheduled for a retry with
    /// backoff.
    pub fn due(&mut self, now: Instant) -> Vec<(Id, TaskStatus)> {
        let mut out = Vec::new();
        for stream in self.streams.values_mut() {
            if stream.next_send.is_some_and(|t| t > now) {
                continue;
            }
            if let Some(head) = stream.pending.front() {
                out.push((stream.key.framework_id.clone(), head.clone()));
                let delay = stream.backoff.map(|d| (d * 2).min(MAX_RETRY)).unwrap_or(INITIAL_RETRY);
                stream.backoff = Some(delay);
                stream.next_send = Some(now + delay);
            }
        }
        out
    }

    /// Makes every head due now (after (re)registering with a master).
    pub fn resend_all(&mut self) {
        for stream in self.streams.values_mut() {
            stream.next_send = None;
            stream.backoff = None;
        }
    }

    /// Drops a framework's queues (framework removed by the master).
    pub fn forget_framework(&mut self, framework_id: &Id) {
        let keys: Vec<TaskKey> = self.streams.keys().filter(|k| k.framework_id == *framework_id).cloned().collect();
        for key in keys {
            self.streams.remove(&key);
            self.checkpoint(&key);
        }
    }

    /// Whether a task still has unacknowledged updates.
    pub fn has_pending(&self, key: &TaskKey) -> bool {
        self.streams.contains_key(key)
    }

    /// Whether a task's queue already holds a terminal update.
    pub fn has_terminal(&self, key: &TaskKey) -> bool {
        self.streams.get(key).is_some_and(|s| s.pending.iter().any(|u| u.state.is_terminal()))
    }

    /// Number of unacknowledged updates.
    pub fn pending_count(&self) -> usize {
        self.streams.values().map(|s| s.pending.len()).sum()
    }

    /// Writes a task's queue atomically (temp file + rename), or removes the file when the queue is empty.
    fn checkpoint(&self, key: &TaskKey) {
        let Some(dir) = &self.dir else { return };
        let path = dir.join(key.file_name());
        let result = match self.streams.get(key) {
            Some(stream) => {
                let tmp = path.with_extension("json.tmp");
                serde_json::to_vec(stream)
                    .map_err(std::io::Error::other)
                    .and_then(|bytes| std::fs::write(&tmp, bytes))
                    .and_then(|()| std::fs::rename(&tmp, &path))
            }
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        };
        if let Err(e) = result {
            tracing::error!(task = %key, error = %e, "cannot checkpoint status updates");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::mesos::TaskState;

    fn status(task: &str, state: TaskState, uuid: &str) -> TaskStatus {
        serde_json::from_value(serde_json::json!({"task_id": {"value": task}, "state": state, "uuid": uuid})).unwrap()
    }

    fn key(task: &str) -> TaskKey {
        TaskKey::new(&Id::new("fw"), &Id::new(task))
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("updates-{name}-{}", uuid::Uuid::new_v4().simple()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn sends_in_order_one_at_a_time_until_acknowledged() {
        let dir = temp_dir("order");
        let mut u = StatusUpdates::recover(&dir).unwrap();
        u.enqueue(&key("t1"), status("t1", TaskState::TASK_STARTING, "a"));
        u.enqueue(&key("t1"), status("t1", TaskState::TASK_RUNNING, "b"));
        let now = Instant::now();
        let due = u.due(now);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, Id::new("fw"));
        assert_eq!(due[0].1.state, TaskState::TASK_STARTING);
        assert!(u.due(now).is_empty(), "the head is in flight until the retry time");
        assert_eq!(u.due(now + INITIAL_RETRY).len(), 1, "retried after the backoff");
        assert!(u.acknowledge(&key("t1"), "b").is_none(), "only the head can be acknowledged");
        assert!(
            u.acknowledge(&TaskKey::new(&Id::new("other"), &Id::new("t1")), "a").is_none(),
            "keys include the framework"
        );
        assert_eq!(u.acknowledge(&key("t1"), "a").map(|s| s.state), Some(TaskState::TASK_STARTING));
        assert_eq!(u.due(now)[0].1.state, TaskState::TASK_RUNNING);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn queues_survive_a_restart() {
        let dir = temp_dir("restart");
        {
            let mut u = StatusUpdates::recover(&dir).unwrap();
            u.enqueue(&key("t1"), status("t1", TaskState::TASK_RUNNING, "a"));
            u.enqueue(&key("t1"), status("t1", TaskState::TASK_FINISHED, "b"));
            u.enqueue(&key("t2"), status("t2", TaskState::TASK_RUNNING, "c"));
            assert!(u.acknowledge(&key("t2"), "c").is_some());
        }
        let mut u = StatusUpdates::recover(&dir).unwrap();
        assert_eq!(u.pending_count(), 2);
        assert!(!u.has_pending(&key("t2")));
        assert!(u.has_terminal(&key("t1")));
        let due = u.due(Instant::now());
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.uuid.as_deref(), Some("a"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn queued_before_an_id_then_attached() {
        let dir = temp_dir("attach");
        let mut u = StatusUpdates::default();
        u.enqueue(&key("t"), status("t", TaskState::TASK_RUNNING, "a"));
        u.attach(dir.clone());
        assert_eq!(StatusUpdates::recover(&dir).unwrap().pending_count(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn backoff_doubles_to_a_cap() {
        let dir = temp_dir("backoff");
        let mut u = StatusUpdates::recover(&dir).unwrap();
        u.enqueue(&key("t"), status("t", TaskState::TASK_RUNNING, "a"));
        let mut now = Instant::now();
        let mut delays = Vec::new();
        for _ in 0..8 {
            assert_eq!(u.due(now).len(), 1);
            let stream = u.streams.values().next().unwrap();
            delays.push(stream.backoff.unwrap());
            now = stream.next_send.unwrap();
        }
        assert_eq!(delays[0], INITIAL_RETRY);
        assert_eq!(delays[1], INITIAL_RETRY * 2);
        assert_eq!(*delays.last().unwrap(), MAX_RETRY);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
