//! Reliable status updates: per task an ordered queue whose head is sent to the master until the scheduler's
//! acknowledgement comes back, then the next one. Queues are checkpointed under the work dir so an agent
//! restart loses nothing. Retries back off from 10 s, doubling to 10 min (upstream's schedule); a new master
//! link resends every head at once.

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
    /// Framework of the task.
    pub framework_id: Id,
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
#[derive(Debug)]
pub struct StatusUpdates {
    dir: PathBuf,
    streams: BTreeMap<Id, TaskStream>,
}

impl StatusUpdates {
    /// Loads checkpointed queues from `dir` (created if missing).
    pub fn recover(dir: &Path) -> std::io::Result<StatusUpdates> {
        std::fs::create_dir_all(dir)?;
        let mut streams = BTreeMap::new();
        for entry in std::fs::read_dir(dir)?.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<(Id, TaskStream)>(&b).ok()) {
                Some((task_id, stream)) if !stream.pending.is_empty() => {
                    streams.insert(task_id, stream);
                }
                _ => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(StatusUpdates { dir: dir.to_path_buf(), streams })
    }

    /// Queues an update (it must carry a uuid) and checkpoints the queue.
    pub fn enqueue(&mut self, framework_id: &Id, status: TaskStatus) {
        let task_id = status.task_id.clone();
        let stream = self.streams.entry(task_id.clone()).or_insert_with(|| TaskStream {
            framework_id: framework_id.clone(),
            pending: VecDeque::new(),
            next_send: None,
            backoff: None,
        });
        stream.pending.push_back(status);
        self.checkpoint(&task_id);
    }

    /// Applies an acknowledgement: drops the head if its uuid matches and makes the next one due now.
    /// Returns whether it matched.
    pub fn acknowledge(&mut self, task_id: &Id, uuid: &str) -> bool {
        let Some(stream) = self.streams.get_mut(task_id) else { return false };
        if stream.pending.front().and_then(|s| s.uuid.as_deref()) != Some(uuid) {
            return false;
        }
        stream.pending.pop_front();
        stream.next_send = None;
        stream.backoff = None;
        if stream.pending.is_empty() {
            self.streams.remove(task_id);
        }
        self.checkpoint(task_id);
        true
    }

    /// The heads that are due to be sent now; each is then scheduled for retry with backoff.
    pub fn due(&mut self, now: Instant) -> Vec<(Id, TaskStatus)> {
        let mut out = Vec::new();
        for stream in self.streams.values_mut() {
            if stream.next_send.is_some_and(|t| t > now) {
                continue;
            }
            if let Some(head) = stream.pending.front() {
                out.push((stream.framework_id.clone(), head.clone()));
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
        let tasks: Vec<Id> = self.streams.iter().filter(|(_, s)| s.framework_id == *framework_id).map(|(t, _)| t.clone()).collect();
        for task in tasks {
            self.streams.remove(&task);
            self.checkpoint(&task);
        }
    }

    /// Whether a task still has unacknowledged updates.
    pub fn has_pending(&self, task_id: &Id) -> bool {
        self.streams.contains_key(task_id)
    }

    /// Number of unacknowledged updates.
    pub fn pending_count(&self) -> usize {
        self.streams.values().map(|s| s.pending.len()).sum()
    }

    fn path(&self, task_id: &Id) -> PathBuf {
        let safe: String = task_id.value.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
        self.dir.join(format!("{safe}.json"))
    }

    /// Writes a task's queue atomically (temp file + rename), or removes the file when the queue is empty.
    fn checkpoint(&self, task_id: &Id) {
        let path = self.path(task_id);
        let result = match self.streams.get(task_id) {
            Some(stream) => {
                let tmp = path.with_extension("json.tmp");
                serde_json::to_vec(&(task_id, stream))
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
            tracing::error!(task = %task_id, error = %e, "cannot checkpoint status updates");
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

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("updates-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn sends_in_order_one_at_a_time_until_acknowledged() {
        let dir = temp_dir("order");
        let mut u = StatusUpdates::recover(&dir).unwrap();
        let fw = Id::new("fw");
        u.enqueue(&fw, status("t1", TaskState::TASK_STARTING, "a"));
        u.enqueue(&fw, status("t1", TaskState::TASK_RUNNING, "b"));
        let now = Instant::now();
        let due = u.due(now);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.state, TaskState::TASK_STARTING);
        assert!(u.due(now).is_empty(), "the head is in flight until the retry time");
        assert_eq!(u.due(now + INITIAL_RETRY).len(), 1, "retried after the backoff");
        assert!(!u.acknowledge(&Id::new("t1"), "b"), "only the head can be acknowledged");
        assert!(u.acknowledge(&Id::new("t1"), "a"));
        assert_eq!(u.due(now)[0].1.state, TaskState::TASK_RUNNING);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn queues_survive_a_restart() {
        let dir = temp_dir("restart");
        let fw = Id::new("fw");
        {
            let mut u = StatusUpdates::recover(&dir).unwrap();
            u.enqueue(&fw, status("t1", TaskState::TASK_RUNNING, "a"));
            u.enqueue(&fw, status("t1", TaskState::TASK_FINISHED, "b"));
            u.enqueue(&fw, status("t2", TaskState::TASK_RUNNING, "c"));
            assert!(u.acknowledge(&Id::new("t2"), "c"));
        }
        let mut u = StatusUpdates::recover(&dir).unwrap();
        assert_eq!(u.pending_count(), 2);
        assert!(!u.has_pending(&Id::new("t2")));
        let due = u.due(Instant::now());
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.uuid.as_deref(), Some("a"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn backoff_doubles_to_a_cap() {
        let dir = temp_dir("backoff");
        let mut u = StatusUpdates::recover(&dir).unwrap();
        u.enqueue(&Id::new("fw"), status("t", TaskState::TASK_RUNNING, "a"));
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
