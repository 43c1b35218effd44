//! Deployment plans: which actions (start, stop, scale, restart an app) a change needs, in which steps, and
//! their JSON in `/v2/deployments` and events. Planning is a pure function of the apps before and after.

use crate::app::{app_json, AppDefinition, PathId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// An action on one app (variant names are Marathon's, as they appear in deployment JSON).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionKind {
    /// A new app is created (at 0 instances).
    StartApplication,
    /// An app is removed: all its tasks are killed.
    StopApplication,
    /// Only the instance count changes (or a new app scales up).
    ScaleApplication,
    /// The configuration changed or a restart was asked for: tasks are replaced.
    RestartApplication,
}

/// One action of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// What happens.
    pub kind: ActionKind,
    /// To which app.
    #[serde(with = "super::text::path_id")]
    pub app: PathId,
}

/// A running deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// UUID.
    pub id: String,
    /// Version of the change.
    #[serde(with = "super::text::timestamp")]
    pub version: Timestamp,
    /// Steps; the actions of a step run together.
    pub steps: Vec<Vec<Action>>,
    /// Index of the step in progress.
    pub current_step: usize,
    /// The affected apps before the change (JSON, for rollback and events).
    pub original: Vec<Value>,
    /// The affected apps after the change (JSON).
    pub target: Vec<Value>,
}

impl Deployment {
    /// A new deployment from before/after pairs of the affected apps.
    pub fn new(
        version: Timestamp,
        changes: &[(Option<&AppDefinition>, Option<&AppDefinition>)],
        restart: bool,
    ) -> Deployment {
        Deployment {
            id: uuid::Uuid::new_v4().to_string(),
            version,
            steps: plan(changes, restart),
            current_step: 0,
            original: changes.iter().filter_map(|(a, _)| a.map(|a| app_json(a, false))).collect(),
            target: changes.iter().filter_map(|(_, b)| b.map(|b| app_json(b, false))).collect(),
        }
    }

    /// Apps this deployment touches.
    pub fn affected_apps(&self) -> Vec<PathId> {
        let mut apps: Vec<PathId> = self.steps.iter().flatten().map(|a| a.app.clone()).collect();
        apps.sort();
        apps.dedup();
        apps
    }

    /// Whether it touches `app`.
    pub fn affects(&self, app: &PathId) -> bool {
        self.steps.iter().flatten().any(|a| a.app == *app)
    }

    /// The `/v2/deployments` JSON.
    pub fn json(&self) -> Value {
        let actions = |step: &[Action]| {
            step.iter()
                .map(|a| json!({"action": format!("{:?}", a.kind), "app": a.app.to_string()}))
                .collect::<Vec<_>>()
        };
        json!({
            "id": self.id,
            "version": self.version.to_string(),
            "affectedApps": self.affected_apps().iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "affectedPods": [],
            "steps": self.steps.iter().map(|s| json!({"actions": actions(s)})).collect::<Vec<_>>(),
            "currentActions": self.steps.get(self.current_step).map(|s| {
                s.iter().map(|a| json!({"action": format!("{:?}", a.kind), "app": a.app.to_string(), "readinessCheckResults": []})).collect::<Vec<_>>()
            }).unwrap_or_default(),
            "currentStep": (self.current_step + 1).min(self.steps.len()),
            "totalSteps": self.steps.len(),
        })
    }

    /// The `plan` object of deployment events: `{id, original, target, steps, version}` with groups.
    pub fn plan_json(&self) -> Value {
        let group = |apps: &[Value]| json!({"id": "/", "apps": apps, "groups": [], "pods": [], "dependencies": [], "version": self.version.to_string()});
        json!({
            "id": self.id,
            "original": group(&self.original),
            "target": group(&self.target),
            "steps": self.json()["steps"].clone(),
            "version": self.version.to_string(),
        })
    }
}

/// Plans the steps for a set of app changes, as Marathon 1.4 does: stops first, then starts (new apps at 0),
/// then scale/restart actions ordered by dependency depth (an app after the apps it depends on). Empty
/// steps are dropped.
pub fn plan(changes: &[(Option<&AppDefinition>, Option<&AppDefinition>)], restart: bool) -> Vec<Vec<Action>> {
    let mut stops = Vec::new();
    let mut starts = Vec::new();
    let mut updates: Vec<(usize, Action)> = Vec::new();
    let targets: Vec<&AppDefinition> = changes.iter().filter_map(|(_, b)| *b).collect();
    for (before, after) in changes {
        match (before, after) {
            (Some(a), None) => stops.push(Action { kind: ActionKind::StopApplication, app: a.id.clone() }),
            (None, Some(b)) => {
                starts.push(Action { kind: ActionKind::StartApplication, app: b.id.clone() });
                updates.push((depth(b, &targets, 0), Action { kind: ActionKind::ScaleApplication, app: b.id.clone() }));
            }
            (Some(a), Some(b)) => {
                let kind = if restart || a.last_config_change_at() != b.last_config_change_at() {
                    ActionKind::RestartApplication
                } else {
                    ActionKind::ScaleApplication
                };
                updates.push((depth(b, &targets, 0), Action { kind, app: b.id.clone() }));
            }
            (None, None) => {}
        }
    }
    let mut steps = vec![stops, starts];
    updates.sort_by_key(|(d, _)| *d);
    let mut current_depth = None;
    for (d, action) in updates {
        if current_depth != Some(d) {
            steps.push(Vec::new());
            current_depth = Some(d);
        }
        steps.last_mut().expect("pushed").push(action);
    }
    steps.retain(|s| !s.is_empty());
    steps
}

/// How many dependency levels are below `app` among `apps` (cycles are cut at 16 levels).
fn depth(app: &AppDefinition, apps: &[&AppDefinition], level: usize) -> usize {
    if level > 16 {
        return level;
    }
    app.dependencies
        .iter()
        .filter_map(|dep| apps.iter().find(|a| a.id == *dep || a.id.is_under(dep)))
        .map(|dep| 1 + depth(dep, apps, level + 1))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(id: &str) -> AppDefinition {
        AppDefinition::new(PathId::parse(id))
    }

    #[test]
    fn a_new_app_has_two_steps() {
        let b = app("/web");
        let steps = plan(&[(None, Some(&b))], false);
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0][0].kind, ActionKind::StartApplication);
        assert_eq!(steps[1][0].kind, ActionKind::ScaleApplication);
    }

    #[test]
    fn scale_restart_and_stop() {
        let a = app("/web");
        let mut scaled = a.clone();
        scaled.instances = 5;
        assert_eq!(plan(&[(Some(&a), Some(&scaled))], false)[0][0].kind, ActionKind::ScaleApplication);
        assert_eq!(plan(&[(Some(&a), Some(&scaled))], true)[0][0].kind, ActionKind::RestartApplication);
        assert_eq!(
            plan(&[(Some(&a), None)], false),
            vec![vec![Action { kind: ActionKind::StopApplication, app: a.id.clone() }]]
        );
    }

    #[test]
    fn dependencies_order_the_steps() {
        let db = app("/db");
        let mut web = app("/web");
        web.dependencies = vec![PathId::parse("/db")];
        let steps = plan(&[(None, Some(&web)), (None, Some(&db))], false);
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[1][0].app, db.id);
        assert_eq!(steps[2][0].app, web.id);
    }
}
