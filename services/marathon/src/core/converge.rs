//! What an app needs right now, as a pure function of its definition and its tasks: how many instances to
//! launch and which tasks to kill. Scaling, restarts (rolling, within `upgradeStrategy`) and replacement of
//! failed tasks all fall out of comparing the desired state with the observed one, so the scheduler only has
//! to apply the result; nothing here touches the network.

use crate::app::{AppDefinition, KillSelection};
use crate::core::instance::Instance;

/// The decision for one app.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Convergence {
    /// New instances (of the current version) to launch now.
    pub launch: usize,
    /// Tasks to kill now.
    pub kill: Vec<String>,
}

/// Counts that decide whether an app has reached its target (its deployment step is done).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Progress {
    /// Active tasks of the current version.
    pub current: usize,
    /// Current-version tasks that are running and, if the app has health checks, healthy.
    pub ready: usize,
    /// Active tasks of older versions.
    pub outdated: usize,
}

impl Progress {
    /// Whether the app runs exactly `instances` ready tasks of its current version and nothing else.
    pub fn is_done(&self, instances: usize) -> bool {
        self.outdated == 0 && self.current == instances && self.ready == instances
    }
}

/// Whether a task counts as ready: running, and healthy when the app has health checks.
pub fn is_ready(app: &AppDefinition, task: &Instance) -> bool {
    task.is_running() && !task.killing && (app.health_checks.is_empty() || task.healthy == Some(true))
}

/// Measures an app's tasks against its definition.
pub fn progress(app: &AppDefinition, tasks: &[&Instance]) -> Progress {
    let version = app.last_config_change_at();
    let mut p = Progress::default();
    for task in tasks.iter().filter(|t| t.is_active() && !t.killing) {
        if task.version >= version {
            p.current += 1;
            if is_ready(app, task) {
                p.ready += 1;
            }
        } else {
            p.outdated += 1;
        }
    }
    p
}

/// Decides launches and kills for `app` given its tasks. `may_launch` is false while the app is backed off.
///
/// Without outdated tasks: launch up to `instances`, kill extras (by `killSelection`). With outdated tasks (a
/// restart or config change): the rolling restart of Marathon 1.4 — keep at least
/// `ceil(n × minimumHealthCapacity)` ready tasks, never run more than `floor(n × (1 + maximumOverCapacity))`
/// (one extra is allowed when both bounds meet, so a restart can progress), and kill outdated tasks as new
/// ones become ready.
pub fn converge(app: &AppDefinition, tasks: &[&Instance], may_launch: bool) -> Convergence {
    let n = app.instances.max(0) as usize;
    let version = app.last_config_change_at();
    // A task launched at or after the last configuration change runs the current configuration (scaling
    // changes the app version but not its configuration).
    let mut current: Vec<&Instance> =
        tasks.iter().copied().filter(|t| t.is_active() && !t.killing && t.version >= version).collect();
    let mut outdated: Vec<&Instance> =
        tasks.iter().copied().filter(|t| t.is_active() && !t.killing && t.version < version).collect();
    order_for_kill(&mut current, app.kill_selection);
    order_for_kill(&mut outdated, app.kill_selection);
    let mut out = Convergence::default();

    if outdated.is_empty() || n == 0 {
        out.kill.extend(outdated.iter().map(|t| t.task_id.clone()));
        if current.len() > n {
            out.kill.extend(current[..current.len() - n].iter().map(|t| t.task_id.clone()));
        } else if may_launch {
            out.launch = n - current.len();
        }
        return out;
    }

    let strategy = &app.upgrade_strategy;
    let min_healthy = (n as f64 * strategy.minimum_health_capacity).ceil() as usize;
    let mut max_capacity = (n as f64 * (1.0 + strategy.maximum_over_capacity)).floor() as usize;
    let ready_new = current.iter().filter(|t| is_ready(app, t)).count();
    let ready_old = outdated.iter().filter(|t| is_ready(app, t)).count();
    if min_healthy == max_capacity && max_capacity <= ready_old + ready_new {
        max_capacity += 1;
    }
    // Old tasks may go as long as enough ready tasks remain; not-ready old tasks go first (ordered last→first).
    let mut ready_total = ready_new + ready_old;
    let mut keep_old = outdated.len();
    for task in outdated.iter().rev().filter(|t| !is_ready(app, t)) {
        out.kill.push(task.task_id.clone());
        keep_old -= 1;
    }
    for task in outdated.iter().filter(|t| is_ready(app, t)) {
        if ready_total <= min_healthy || keep_old + current.len() <= n.min(min_healthy) {
            break;
        }
        out.kill.push(task.task_id.clone());
        ready_total -= 1;
        keep_old -= 1;
    }
    if current.len() > n {
        out.kill.extend(current[..current.len() - n].iter().map(|t| t.task_id.clone()));
    } else if may_launch {
        let room = max_capacity.saturating_sub(keep_old + current.len());
        out.launch = (n - current.len()).min(room);
    }
    out
}

/// Sorts so the tasks to kill first come first: youngest first (default) or oldest first.
fn order_for_kill(tasks: &mut [&Instance], selection: KillSelection) {
    tasks.sort_by_key(|t| t.staged_at);
    if selection == KillSelection::YoungestFirst {
        tasks.reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{PathId, Timestamp};
    use common::mesos::TaskState;

    fn app(instances: i32) -> AppDefinition {
        let mut app = AppDefinition::new(PathId::parse("/web"));
        app.instances = instances;
        app
    }

    fn task(id: &str, version: Timestamp, running: bool, staged_ms: i64) -> Instance {
        Instance {
            state: Some(if running { TaskState::TASK_RUNNING } else { TaskState::TASK_STAGING }),
            staged_at: Timestamp::from_millis(staged_ms).unwrap(),
            ..Instance::launched(id.to_string(), PathId::parse("/web"), version, "a".into(), "h".into())
        }
    }

    #[test]
    fn launches_missing_and_kills_youngest_extras() {
        let a = app(3);
        let v = a.last_config_change_at();
        let t1 = task("t1", v, true, 1);
        assert_eq!(converge(&a, &[&t1], true), Convergence { launch: 2, kill: vec![] });
        assert_eq!(converge(&a, &[&t1], false).launch, 0, "backed off");
        let a1 = app(1);
        let v1 = a1.last_config_change_at();
        let (x, y) = (task("old", v1, true, 1), task("young", v1, true, 2));
        assert_eq!(converge(&a1, &[&x, &y], true).kill, vec!["young".to_string()]);
    }

    #[test]
    fn rolling_restart_keeps_capacity() {
        // n = 2, minimumHealthCapacity 1, maximumOverCapacity 1: launch 2 new first, kill old only as new get ready.
        let mut a = app(2);
        let old = Timestamp::from_millis(1).unwrap();
        let (o1, o2) = (task("o1", old, true, 1), task("o2", old, true, 2));
        let c = converge(&a, &[&o1, &o2], true);
        assert_eq!(c, Convergence { launch: 2, kill: vec![] });
        let v = a.last_config_change_at();
        let n1 = task("n1", v, true, 3);
        let n2 = task("n2", v, false, 4);
        let c = converge(&a, &[&o1, &o2, &n1, &n2], true);
        assert_eq!(c.kill.len(), 1, "one new ready: one old may go");
        assert_eq!(c.launch, 0);
        // minimumHealthCapacity 0.5, maximumOverCapacity 0: kill one old, then start one new.
        a.upgrade_strategy.minimum_health_capacity = 0.5;
        a.upgrade_strategy.maximum_over_capacity = 0.0;
        let c = converge(&a, &[&o1, &o2], true);
        assert_eq!(c.kill.len(), 1);
        assert_eq!(c.launch, 1);
    }

    #[test]
    fn progress_counts_ready_current_tasks() {
        let a = app(1);
        let v = a.last_config_change_at();
        let t = task("t", v, true, 1);
        assert!(progress(&a, &[&t]).is_done(1));
        let s = task("s", v, false, 1);
        assert!(!progress(&a, &[&s]).is_done(1));
    }
}
