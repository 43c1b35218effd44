//! Garbage collection (`--gc_delay`): a completed task's sandbox, its containerizer checkpoint and its task
//! record are removed `gc_delay` after the scheduler acknowledged its terminal update; work and meta
//! directories of earlier agent ids are removed `gc_delay` after they were last modified. Executor and framework
//! directories left empty are removed with their last run, so nothing of a finished task remains.

use crate::records::TaskRecord;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// Longest sleep between looks at the schedule.
const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// Something to remove at a time.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    /// A finished container: its sandbox and meta run directories (`.../executors/<eid>/runs/<cid>`) and its
    /// task record file, removed only if it still names that container (a task id may be reused).
    Run { sandbox: PathBuf, meta: PathBuf, record: Option<PathBuf>, container_id: String },
    /// A whole directory (an earlier agent id's).
    Dir(PathBuf),
}

/// The garbage collector's schedule.
pub struct Gc {
    delay: Duration,
    schedule: Mutex<Vec<(f64, Item)>>,
    wake: Notify,
}

impl Gc {
    /// A collector that keeps things `delay` long.
    pub fn new(delay: Duration) -> Gc {
        Gc { delay, schedule: Mutex::new(Vec::new()), wake: Notify::new() }
    }

    /// Schedules a finished container's directories (and its task record, if any), `delay` after `completed_at`
    /// (epoch seconds).
    pub fn schedule_run(
        &self,
        completed_at: f64,
        sandbox: PathBuf,
        meta: PathBuf,
        record: Option<PathBuf>,
        container_id: String,
    ) {
        self.add(completed_at + self.delay.as_secs_f64(), Item::Run { sandbox, meta, record, container_id });
    }

    /// Schedules a directory, `delay` after its last modification.
    pub fn schedule_dir(&self, dir: PathBuf) {
        let modified = std::fs::metadata(&dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        tracing::info!(dir = %dir.display(), "scheduling the directory of an earlier agent for garbage collection");
        self.add(modified + self.delay.as_secs_f64(), Item::Dir(dir));
    }

    fn add(&self, due: f64, item: Item) {
        self.schedule.lock().expect("gc lock").push((due, item));
        self.wake.notify_one();
    }

    /// Removes what is due, forever.
    pub async fn run(&self) {
        loop {
            let now = seconds_now();
            let next = self.schedule.lock().expect("gc lock").iter().map(|(due, _)| *due).fold(f64::INFINITY, f64::min);
            let wait = if next.is_finite() {
                Duration::from_secs_f64((next - now).max(0.0)).min(MAX_SLEEP)
            } else {
                MAX_SLEEP
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => continue,
            }
            let due = self.take_due(seconds_now());
            if !due.is_empty() {
                let _ = tokio::task::spawn_blocking(move || due.iter().for_each(collect)).await;
            }
        }
    }

    fn take_due(&self, now: f64) -> Vec<Item> {
        let mut schedule = self.schedule.lock().expect("gc lock");
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut *schedule).into_iter().partition(|(at, _)| *at <= now);
        *schedule = later;
        due.into_iter().map(|(_, item)| item).collect()
    }
}

fn seconds_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Removes one item (blocking).
fn collect(item: &Item) {
    match item {
        Item::Run { sandbox, meta, record, container_id } => {
            tracing::info!(sandbox = %sandbox.display(), "garbage collecting a finished sandbox");
            remove_run(sandbox);
            remove_run(meta);
            if let Some(record) = record {
                let current = std::fs::read(record).ok().and_then(|b| serde_json::from_slice::<TaskRecord>(&b).ok());
                if current.is_some_and(|r| r.container_id == *container_id) {
                    let _ = std::fs::remove_file(record);
                }
            }
        }
        Item::Dir(dir) => {
            tracing::info!(dir = %dir.display(), "garbage collecting an earlier agent's directory");
            remove_tree(dir);
        }
    }
}

fn remove_tree(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            tracing::warn!(dir = %dir.display(), error = %e, "garbage collection failed")
        }
        _ => {}
    }
}

/// Removes `.../frameworks/<fid>/executors/<eid>/runs/<cid>`, then the executor directory if no other run is
/// left (only a `latest` link), then the framework directory if it has no executor left.
fn remove_run(run: &Path) {
    remove_tree(run);
    let Some(runs) = run.parent() else { return };
    let others =
        std::fs::read_dir(runs).map(|entries| entries.flatten().any(|e| e.file_name() != "latest")).unwrap_or(false);
    if others {
        return;
    }
    let Some(executor) = runs.parent() else { return };
    remove_tree(executor);
    let Some(executors) = executor.parent() else { return };
    if std::fs::read_dir(executors).map(|mut entries| entries.next().is_none()).unwrap_or(false) {
        if let Some(framework) = executors.parent() {
            remove_tree(framework);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_runs_then_empty_parents_but_keeps_other_runs() {
        let root = std::env::temp_dir().join(format!("gc-{}", uuid::Uuid::new_v4().simple()));
        let runs = root.join("frameworks/f/executors/e/runs");
        std::fs::create_dir_all(runs.join("c1")).unwrap();
        std::fs::create_dir_all(runs.join("c2")).unwrap();
        std::os::unix::fs::symlink("c2", runs.join("latest")).unwrap();
        remove_run(&runs.join("c1"));
        assert!(!runs.join("c1").exists());
        assert!(runs.join("c2").exists(), "another run of the executor stays");
        remove_run(&runs.join("c2"));
        assert!(!root.join("frameworks/f").exists(), "the executor and the framework directory go with the last run");
        assert!(root.join("frameworks").exists());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn only_due_items_are_taken() {
        let gc = Gc::new(Duration::from_secs(10));
        gc.schedule_run(100.0, "/s".into(), "/m".into(), Some("/r".into()), "c".into());
        gc.schedule_run(200.0, "/s2".into(), "/m2".into(), None, "c2".into());
        assert!(gc.take_due(109.0).is_empty());
        assert_eq!(gc.take_due(110.0).len(), 1);
        assert_eq!(gc.take_due(1000.0).len(), 1);
        assert!(gc.take_due(1000.0).is_empty());
    }
}
