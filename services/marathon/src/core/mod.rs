//! Marathon's state and its transitions: apps (with versions), tasks, deployments, launch delays.
//!
//! [`Core`] is plain data changed by plain methods: API calls (create, update, delete, restart, kill), Mesos
//! status updates and deployment progress. Each change records the [`Write`]s that must reach ZooKeeper and
//! the events for `/v2/events`; the caller persists the writes before answering, so nothing acknowledged is
//! lost. What to launch and kill comes from the pure [`converge`] module; deployment plans from
//! [`deployment`].

pub mod converge;
pub mod deployment;
pub mod instance;
pub mod text;

use crate::app::{
    app_json, with_app_info, ApiError, AppDefinition, AppInfoExtras, PathId, TaskCounts, Timestamp, UnreachableStrategy,
};
use common::mesos::{TaskState, TaskStatus};
use deployment::{ActionKind, Deployment};
use instance::{Instance, Unreachable};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A change to persist.
#[derive(Debug, Clone)]
pub enum Write {
    /// Store an app (latest, plus this version), dropping the versions beyond `--zk_max_versions`.
    App(Box<AppDefinition>, Vec<Timestamp>),
    /// Remove an app and its versions.
    DeleteApp(PathId),
    /// Store a task record.
    Instance(Box<Instance>),
    /// Remove a task record.
    DeleteInstance(String),
    /// Store a deployment.
    Deployment(Box<Deployment>),
    /// Remove a deployment.
    DeleteDeployment(String),
    /// Store an app's last task failure.
    TaskFailure(PathId, Value),
}

/// A launch delay after failures (backoff).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delay {
    /// Current delay in seconds.
    pub seconds: f64,
    /// No launches before this time (ms since the epoch).
    pub until_ms: i64,
}

/// Result of a mutation that starts a deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentResult {
    /// The deployment id.
    pub deployment_id: String,
    /// The version of the change.
    pub version: Timestamp,
}

impl DeploymentResult {
    /// `{"version": ..., "deploymentId": ...}`.
    pub fn json(&self) -> Value {
        json!({"version": self.version.to_string(), "deploymentId": self.deployment_id})
    }
}

/// How offers went for an app while it waited (`processedOffersSummary` of `/v2/queue`).
#[derive(Debug, Clone, Default)]
pub struct OfferStats {
    /// Offers looked at for the app.
    pub processed: u64,
    /// Offers not used for the app.
    pub unused: u64,
    /// Last time an offer was used.
    pub last_used_at: Option<Timestamp>,
    /// Last time an offer was not used.
    pub last_unused_at: Option<Timestamp>,
    /// Why offers were declined, by reason name.
    pub rejects: BTreeMap<&'static str, u64>,
}

impl OfferStats {
    /// `processedOffersSummary`.
    pub fn json(&self) -> Value {
        let reasons: Vec<Value> = crate::scheduling::NoMatchReason::ALL
            .iter()
            .map(|r| json!({"reason": r.as_str(), "declined": self.rejects.get(r.as_str()).copied().unwrap_or(0), "processed": self.processed}))
            .collect();
        json!({
            "processedOffersCount": self.processed,
            "unusedOffersCount": self.unused,
            "lastUnusedOfferAt": self.last_unused_at.map(|t| t.to_string()),
            "lastUsedOfferAt": self.last_used_at.map(|t| t.to_string()),
            "rejectSummaryLastOffers": reasons,
            "rejectSummaryLaunchAttempt": reasons,
        })
    }
}

/// Marathon's state.
#[derive(Debug, Default)]
pub struct Core {
    /// Apps by id (latest version).
    pub apps: BTreeMap<PathId, AppDefinition>,
    /// Stored versions' timestamps per app (newest last, at most `max_versions`), including the current one.
    pub versions: BTreeMap<PathId, Vec<Timestamp>>,
    /// Tasks by task id. Add and remove them only through [`Core::insert_instance`] and
    /// [`Core::remove_instance`], which keep the indexes below in step.
    pub instances: BTreeMap<String, Instance>,
    /// Task ids per app: what [`Core::tasks_of`] reads, so per-app questions cost that app's tasks only.
    tasks_by_app: HashMap<PathId, BTreeSet<String>>,
    /// Ids of the tasks currently unreachable, the only ones [`Core::expire_unreachable`] looks at.
    unreachable_ids: BTreeSet<String>,
    /// The uuid of the last update applied per task: an agent resends an update until its acknowledgement
    /// arrives, and a resent one is only acknowledged again, not applied, persisted and published again.
    applied_uuids: HashMap<String, String>,
    /// Deployments by id.
    pub deployments: BTreeMap<String, Deployment>,
    /// Launch delays per app.
    pub delays: HashMap<PathId, Delay>,
    /// Last task failure per app (JSON as served).
    pub last_failures: HashMap<PathId, Value>,
    /// Writes not yet persisted.
    pub writes: Vec<Write>,
    /// Events not yet published.
    pub events: Vec<Value>,
    /// Kills to send to Mesos: (task id, agent id).
    pub kills: Vec<(String, String)>,
    /// Offer outcomes per waiting app.
    pub offer_stats: HashMap<PathId, OfferStats>,
    /// A change may need offers that Mesos currently filters: revive (upstream `revive_offers_for_new_apps`).
    pub revive: bool,
    /// Service-port range `[min, max)`.
    pub service_port_range: (u32, u32),
    /// Versions kept per app (`--zk_max_versions`), as the store keeps them.
    pub max_versions: usize,
}

/// Current time as a Timestamp.
pub fn now() -> Timestamp {
    Timestamp::now()
}

impl Core {
    /// An empty state with the service-port range and the number of versions kept per app.
    pub fn new(service_port_range: (u32, u32), max_versions: usize) -> Core {
        Core { service_port_range, max_versions: max_versions.max(1), ..Core::default() }
    }

    // ----- queries ------------------------------------------------------------------------------------------

    /// The app's tasks, in task id order.
    pub fn tasks_of(&self, app: &PathId) -> Vec<&Instance> {
        let Some(ids) = self.tasks_by_app.get(app) else { return Vec::new() };
        ids.iter().filter_map(|id| self.instances.get(id)).collect()
    }

    /// Adds (or replaces) a task and indexes it.
    pub fn insert_instance(&mut self, instance: Instance) {
        let task_id = instance.task_id.clone();
        self.remove_instance(&task_id);
        self.tasks_by_app.entry(instance.app_id.clone()).or_default().insert(task_id.clone());
        if instance.unreachable.is_some() {
            self.unreachable_ids.insert(task_id.clone());
        }
        self.instances.insert(task_id, instance);
    }

    /// Removes a task and its index entries.
    pub fn remove_instance(&mut self, task_id: &str) -> Option<Instance> {
        let instance = self.instances.remove(task_id)?;
        if let Some(ids) = self.tasks_by_app.get_mut(&instance.app_id) {
            ids.remove(task_id);
            if ids.is_empty() {
                self.tasks_by_app.remove(&instance.app_id);
            }
        }
        self.unreachable_ids.remove(task_id);
        self.applied_uuids.remove(task_id);
        Some(instance)
    }

    /// Deployments touching an app.
    pub fn deployments_of(&self, app: &PathId) -> Vec<&Deployment> {
        self.deployments.values().filter(|d| d.affects(app)).collect()
    }

    /// Whether an app is currently backed off.
    pub fn is_delayed(&self, app: &PathId, now_ms: i64) -> bool {
        self.delays.get(app).is_some_and(|d| d.until_ms > now_ms)
    }

    /// Service ports in use by any app.
    fn used_service_ports(&self, except: &PathId) -> BTreeSet<u32> {
        self.apps
            .values()
            .filter(|a| a.id != *except)
            .flat_map(|a| a.service_ports())
            .filter(|p| *p > 0)
            .map(|p| p as u32)
            .collect()
    }

    // ----- mutations from the API ---------------------------------------------------------------------------

    fn check_not_locked(&self, apps: &[&PathId], force: bool) -> Result<Vec<String>, ApiError> {
        let locking: Vec<String> =
            self.deployments.values().filter(|d| apps.iter().any(|a| d.affects(a))).map(|d| d.id.clone()).collect();
        if locking.is_empty() || force {
            return Ok(locking);
        }
        let first = locking[0].clone();
        Err(ApiError::with_body(
            409,
            json!({
                "message": format!("App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/{first}'."),
                "deployments": locking.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            }),
        ))
    }

    /// Cancels deployments (without rollback) so a forced change can take over.
    fn cancel_deployments(&mut self, ids: &[String]) {
        for id in ids {
            if let Some(d) = self.deployments.remove(id) {
                self.writes.push(Write::DeleteDeployment(d.id.clone()));
                self.events.push(event("deployment_failed", json!({"id": d.id, "plan": d.plan_json()})));
            }
        }
    }

    fn start_deployment(
        &mut self,
        version: Timestamp,
        changes: &[(Option<&AppDefinition>, Option<&AppDefinition>)],
        restart: bool,
    ) -> DeploymentResult {
        self.revive = true;
        let deployment = Deployment::new(version, changes, restart);
        let result = DeploymentResult { deployment_id: deployment.id.clone(), version };
        self.events.push(event("group_change_success", json!({"groupId": "/", "version": version.to_string()})));
        self.events.push(event(
            "deployment_info",
            json!({"plan": deployment.plan_json(), "currentStep": {"actions": deployment.json()["currentActions"].clone()}}),
        ));
        self.writes.push(Write::Deployment(Box::new(deployment.clone())));
        self.deployments.insert(deployment.id.clone(), deployment);
        result
    }

    fn store_app(&mut self, app: AppDefinition) {
        let versions = self.versions.entry(app.id.clone()).or_default();
        versions.push(app.version);
        let surplus = versions.len().saturating_sub(self.max_versions);
        let dropped: Vec<Timestamp> = versions.drain(..surplus).filter(|v| *v != app.version).collect();
        self.writes.push(Write::App(Box::new(app.clone()), dropped));
        self.apps.insert(app.id.clone(), app);
    }

    /// POST /v2/apps: creates an app (validated by the caller) and its deployment.
    pub fn create_app(
        &mut self,
        mut app: AppDefinition,
        force: bool,
    ) -> Result<(AppDefinition, DeploymentResult), ApiError> {
        if self.apps.contains_key(&app.id) {
            return Err(ApiError::message(409, format!("An app with id [{}] already exists.", app.id)));
        }
        let locking = self.check_not_locked(&[&app.id], force)?;
        self.cancel_deployments(&locking);
        let echo = app.clone();
        let version = now();
        crate::app::assign_version(&mut app, None, version, false);
        let used = self.used_service_ports(&app.id);
        crate::app::assign_service_ports(&mut app, &used, None, self.service_port_range)?;
        self.store_app(app.clone());
        self.delays.remove(&app.id);
        let result = self.start_deployment(version, &[(None, Some(&app))], false);
        let mut echo = echo;
        echo.version = version;
        Ok((echo, result))
    }

    /// PUT/PATCH /v2/apps/{id}: replaces an app with `updated` (already merged and validated), or creates it.
    /// Returns whether it was created.
    pub fn update_app(
        &mut self,
        mut updated: AppDefinition,
        force: bool,
    ) -> Result<(bool, DeploymentResult), ApiError> {
        let locking = self.check_not_locked(&[&updated.id], force)?;
        self.cancel_deployments(&locking);
        let version = now();
        let previous = self.apps.get(&updated.id).cloned();
        let config_changed = previous.as_ref().is_none_or(|p| crate::app::is_config_change(p, &updated));
        crate::app::assign_version(&mut updated, previous.as_ref(), version, false);
        let used = self.used_service_ports(&updated.id);
        crate::app::assign_service_ports(&mut updated, &used, previous.as_ref(), self.service_port_range)?;
        if config_changed {
            self.delays.remove(&updated.id);
        }
        self.store_app(updated.clone());
        let result = self.start_deployment(version, &[(previous.as_ref(), Some(&updated))], false);
        Ok((previous.is_none(), result))
    }

    /// A group change (`/v2/groups`): creates or updates `apps` and removes `removed`, as one deployment.
    /// Apps must be validated by the caller.
    pub fn change_group(
        &mut self,
        apps: Vec<AppDefinition>,
        removed: Vec<PathId>,
        force: bool,
    ) -> Result<DeploymentResult, ApiError> {
        let ids: Vec<&PathId> = apps.iter().map(|a| &a.id).chain(removed.iter()).collect();
        let locking = self.check_not_locked(&ids, force)?;
        self.cancel_deployments(&locking);
        let version = now();
        let mut changes: Vec<(Option<AppDefinition>, Option<AppDefinition>)> = Vec::new();
        for mut app in apps {
            let previous = self.apps.get(&app.id).cloned();
            if previous.as_ref().is_none_or(|p| crate::app::is_config_change(p, &app)) {
                self.delays.remove(&app.id);
            }
            crate::app::assign_version(&mut app, previous.as_ref(), version, false);
            let used = self.used_service_ports(&app.id);
            crate::app::assign_service_ports(&mut app, &used, previous.as_ref(), self.service_port_range)?;
            self.store_app(app.clone());
            changes.push((previous, Some(app)));
        }
        for id in removed {
            if let Some(previous) = self.apps.remove(&id) {
                self.versions.remove(&id);
                self.delays.remove(&id);
                self.writes.push(Write::DeleteApp(id.clone()));
                self.events.push(event("app_terminated_event", json!({"appId": id.to_string()})));
                changes.push((Some(previous), None));
            }
        }
        let pairs: Vec<(Option<&AppDefinition>, Option<&AppDefinition>)> =
            changes.iter().map(|(a, b)| (a.as_ref(), b.as_ref())).collect();
        Ok(self.start_deployment(version, &pairs, false))
    }

    /// POST /v2/apps/{id}/restart: a new config version with the same definition, so every task is replaced.
    pub fn restart_app(&mut self, id: &PathId, force: bool) -> Result<DeploymentResult, ApiError> {
        let previous = self.apps.get(id).cloned().ok_or_else(|| app_not_found(id))?;
        let locking = self.check_not_locked(&[id], force)?;
        self.cancel_deployments(&locking);
        let version = now();
        let mut restarted = previous.clone();
        // Tasks older than the last configuration change are replaced, so a restart counts as a configuration
        // change (upstream keeps `lastConfigChangeAt` and replaces by full version instead).
        crate::app::assign_version(&mut restarted, None, version, true);
        self.store_app(restarted.clone());
        Ok(self.start_deployment(version, &[(Some(&previous), Some(&restarted))], true))
    }

    /// DELETE /v2/apps/{id}: removes the app; its tasks are killed by convergence.
    pub fn delete_app(&mut self, id: &PathId, force: bool) -> Result<DeploymentResult, ApiError> {
        let previous = self.apps.get(id).cloned().ok_or_else(|| app_not_found(id))?;
        let locking = self.check_not_locked(&[id], force)?;
        self.cancel_deployments(&locking);
        self.apps.remove(id);
        self.versions.remove(id);
        self.delays.remove(id);
        self.writes.push(Write::DeleteApp(id.clone()));
        self.events.push(event("app_terminated_event", json!({"appId": id.to_string()})));
        Ok(self.start_deployment(now(), &[(Some(&previous), None)], false))
    }

    /// Kills tasks. With `scale`, the app's instance count drops by the number killed (a new version and a
    /// deployment); with `wipe`, the records are forgotten at once. Returns the killed tasks' JSON and the
    /// deployment, if any.
    pub fn kill_tasks(
        &mut self,
        task_ids: &[String],
        scale: bool,
        wipe: bool,
        force: bool,
    ) -> Result<(Vec<Value>, Option<DeploymentResult>), ApiError> {
        if scale && wipe {
            return Err(ApiError::message(400, "You cannot use scale and wipe at the same time."));
        }
        let mut killed = Vec::new();
        let mut per_app: BTreeMap<PathId, i32> = BTreeMap::new();
        for id in task_ids {
            let Some(task) = self.instances.get_mut(id) else { continue };
            killed.push(task.task_json(false));
            *per_app.entry(task.app_id.clone()).or_default() += 1;
            if wipe {
                let task = self.remove_instance(id).expect("present");
                self.writes.push(Write::DeleteInstance(task.task_id.clone()));
                self.kills.push((task.task_id, task.agent_id));
            } else {
                task.killing = true;
                self.kills.push((task.task_id.clone(), task.agent_id.clone()));
                self.writes.push(Write::Instance(Box::new(task.clone())));
            }
        }
        if !scale || per_app.is_empty() {
            return Ok((killed, None));
        }
        let apps: Vec<&PathId> = per_app.keys().collect();
        let locking = self.check_not_locked(&apps, force)?;
        self.cancel_deployments(&locking);
        let version = now();
        let mut changes = Vec::new();
        for (app_id, count) in &per_app {
            let Some(previous) = self.apps.get(app_id).cloned() else { continue };
            let mut scaled = previous.clone();
            scaled.instances = (scaled.instances - count).max(0);
            crate::app::assign_version(&mut scaled, Some(&previous), version, false);
            self.store_app(scaled.clone());
            changes.push((previous, scaled));
        }
        let pairs: Vec<(Option<&AppDefinition>, Option<&AppDefinition>)> =
            changes.iter().map(|(a, b)| (Some(a), Some(b))).collect();
        let result = self.start_deployment(version, &pairs, false);
        Ok((killed, Some(result)))
    }

    /// DELETE /v2/deployments/{id}: rolls back (a new deployment to the original apps), or with `force`
    /// just forgets the deployment.
    pub fn cancel_deployment(&mut self, id: &str, force: bool) -> Result<Option<DeploymentResult>, ApiError> {
        let deployment = self
            .deployments
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::message(404, format!("DeploymentPlan {id} does not exist")))?;
        self.cancel_deployments(std::slice::from_ref(&deployment.id));
        if force {
            return Ok(None);
        }
        let version = now();
        let originals: Vec<AppDefinition> =
            deployment.original.iter().filter_map(|v| crate::app::app_from_json(v, &PathId::root()).ok()).collect();
        let mut changes: Vec<(Option<AppDefinition>, Option<AppDefinition>)> = Vec::new();
        for app_id in deployment.affected_apps() {
            let current = self.apps.get(&app_id).cloned();
            let original = originals.iter().find(|a| a.id == app_id).cloned();
            match original {
                Some(mut original) => {
                    original.version = version;
                    self.store_app(original.clone());
                    changes.push((current, Some(original)));
                }
                None => {
                    if current.is_some() {
                        self.apps.remove(&app_id);
                        self.versions.remove(&app_id);
                        self.writes.push(Write::DeleteApp(app_id.clone()));
                    }
                    changes.push((current, None));
                }
            }
        }
        let pairs: Vec<(Option<&AppDefinition>, Option<&AppDefinition>)> =
            changes.iter().map(|(a, b)| (a.as_ref(), b.as_ref())).collect();
        Ok(Some(self.start_deployment(version, &pairs, false)))
    }

    /// DELETE /v2/queue/{id}/delay.
    pub fn reset_delay(&mut self, id: &PathId) -> Result<(), ApiError> {
        if !self.apps.contains_key(id) || self.delays.remove(id).is_none() && self.queue_count(id) == 0 {
            return Err(ApiError::message(404, format!("Application {id} not found in tasks queue.")));
        }
        Ok(())
    }

    /// Instances an app is still waiting for (launch queue).
    pub fn queue_count(&self, id: &PathId) -> usize {
        let Some(app) = self.apps.get(id) else { return 0 };
        let active = self
            .tasks_of(id)
            .into_iter()
            .filter(|t| t.is_active() && !t.killing && t.version >= app.last_config_change_at())
            .count();
        (app.instances.max(0) as usize).saturating_sub(active)
    }

    // ----- Mesos ---------------------------------------------------------------------------------------------

    /// A task status from Mesos. Unknown tasks that are alive are killed (they are not ours any more).
    pub fn on_status(&mut self, status: &TaskStatus, now_ms: i64) {
        let task_id = status.task_id.value.clone();
        if status.uuid.is_some() && self.applied_uuids.get(&task_id) == status.uuid.as_ref() {
            return;
        }
        let Some(task) = self.instances.get_mut(&task_id) else {
            if !status.state.is_terminal() && status.state != TaskState::TASK_UNREACHABLE {
                if let Some(agent) = &status.agent_id {
                    self.kills.push((task_id, agent.value.clone()));
                }
            }
            return;
        };
        let ts = now();
        if let Some(uuid) = &status.uuid {
            self.applied_uuids.insert(task_id.clone(), uuid.clone());
        }
        let was_unreachable = task.state == Some(TaskState::TASK_UNREACHABLE);
        task.apply(status, ts);
        if status.state != TaskState::TASK_UNREACHABLE {
            task.unreachable = None;
            self.unreachable_ids.remove(&task_id);
        } else if !was_unreachable {
            task.unreachable = Some(Unreachable { since_ms: now_ms, inactive: false });
            self.unreachable_ids.insert(task_id.clone());
        }
        let app_id = task.app_id.clone();
        let snapshot = task.clone();
        self.events.push(event(
            "status_update_event",
            json!({
                "slaveId": snapshot.agent_id, "taskId": snapshot.task_id, "taskStatus": format!("{:?}", status.state),
                "message": status.message.clone().unwrap_or_default(), "appId": app_id.to_string(), "host": snapshot.host,
                "ipAddresses": snapshot.ip_addresses.iter().map(|ip| json!({"ipAddress": ip, "protocol": "IPv4"})).collect::<Vec<_>>(),
                "ports": snapshot.ports, "version": snapshot.version.to_string(),
            }),
        ));
        self.events.push(event(
            "instance_changed_event",
            json!({
                "instanceId": snapshot.instance_id(), "condition": condition(status.state), "runSpecId": app_id.to_string(),
                "agentId": snapshot.agent_id, "host": snapshot.host, "runSpecVersion": snapshot.version.to_string(),
            }),
        ));
        let failed = matches!(
            status.state,
            TaskState::TASK_FAILED
                | TaskState::TASK_FINISHED
                | TaskState::TASK_ERROR
                | TaskState::TASK_DROPPED
                | TaskState::TASK_GONE
        );
        if failed && !snapshot.killing {
            self.back_off(&app_id, now_ms);
            let failure = json!({
                "appId": app_id.to_string(), "host": snapshot.host, "message": status.message.clone().unwrap_or_default(),
                "state": format!("{:?}", status.state), "taskId": snapshot.task_id, "timestamp": ts.to_string(),
                "version": snapshot.version.to_string(), "slaveId": snapshot.agent_id,
            });
            self.writes.push(Write::TaskFailure(app_id.clone(), failure.clone()));
            self.last_failures.insert(app_id.clone(), failure);
        }
        if was_unreachable && !status.state.is_terminal() {
            // A task back from an unreachable agent has been replaced already: it is surplus.
            let replaced = self.apps.get(&app_id).is_some_and(|app| {
                let others = self
                    .tasks_of(&app_id)
                    .iter()
                    .filter(|t| t.task_id != task_id && t.is_active() && !t.killing)
                    .count();
                others >= app.instances.max(0) as usize
            });
            if replaced {
                if let Some(task) = self.instances.get_mut(&task_id) {
                    task.killing = true;
                    self.kills.push((task_id.clone(), task.agent_id.clone()));
                }
            }
        }
        if status.state == TaskState::TASK_RUNNING {
            // A task that comes up clears an expired delay: the backoff starts over.
            if self.delays.get(&app_id).is_some_and(|d| d.until_ms <= now_ms) {
                self.delays.remove(&app_id);
            }
        }
        if status.state.is_terminal() || status.state == TaskState::TASK_UNREACHABLE && !self.apps.contains_key(&app_id)
        {
            self.remove_instance(&task_id);
            self.writes.push(Write::DeleteInstance(task_id));
        } else if let Some(task) = self.instances.get(&task_id) {
            self.writes.push(Write::Instance(Box::new(task.clone())));
        }
        self.expire_unreachable(now_ms);
    }

    /// Applies each app's `unreachableStrategy` to its unreachable tasks: unreachable for
    /// `inactiveAfterSeconds`, a task stops counting (a replacement is launched); for `expungeAfterSeconds`,
    /// it is forgotten (and killed as unknown if it comes back). Run on status updates and scheduler ticks.
    pub fn expire_unreachable(&mut self, now_ms: i64) {
        let mut expunged = Vec::new();
        for task_id in &self.unreachable_ids {
            let Some(task) = self.instances.get_mut(task_id) else { continue };
            let (Some(unreachable), Some(app)) = (task.unreachable.as_mut(), self.apps.get(&task.app_id)) else {
                continue;
            };
            let UnreachableStrategy::Enabled { inactive_after_seconds, expunge_after_seconds } =
                app.unreachable_strategy
            else {
                continue;
            };
            let elapsed_ms = now_ms - unreachable.since_ms;
            if elapsed_ms >= expunge_after_seconds.saturating_mul(1000) {
                expunged.push(task.task_id.clone());
            } else if !unreachable.inactive && elapsed_ms >= inactive_after_seconds.saturating_mul(1000) {
                unreachable.inactive = true;
                self.writes.push(Write::Instance(Box::new(task.clone())));
            }
        }
        for task_id in expunged {
            tracing::info!(task = %task_id, "expunging a task unreachable for longer than expungeAfterSeconds");
            self.remove_instance(&task_id);
            self.writes.push(Write::DeleteInstance(task_id));
        }
    }

    fn back_off(&mut self, app_id: &PathId, now_ms: i64) {
        let Some(app) = self.apps.get(app_id) else { return };
        let seconds = match self.delays.get(app_id) {
            Some(d) => (d.seconds * app.backoff_factor).min(app.max_launch_delay_seconds as f64),
            None => (app.backoff_seconds as f64).min(app.max_launch_delay_seconds as f64),
        };
        self.delays.insert(app_id.clone(), Delay { seconds, until_ms: now_ms + (seconds * 1000.0) as i64 });
    }

    /// Applies a Marathon health-check result to a task: updates its results and `healthy` flag, emits the
    /// health events, and schedules a kill after too many consecutive failures.
    pub fn record_health(
        &mut self,
        task_id: &str,
        index: usize,
        check: &crate::app::HealthCheck,
        outcome: Result<(), String>,
        now: Timestamp,
    ) {
        let Some(task) = self.instances.get_mut(task_id) else { return };
        let started_ms = task.started_at.map(|t| t.millis()).unwrap_or(now.millis());
        let failed = outcome.is_err();
        let Some(result) = task.health.get_mut(index) else { return };
        let verdict = result.record(check, outcome, now, started_ms);
        task.healthy = Some(task.health.iter().all(|h| h.alive == Some(true)));
        let (app_id, version, instance_id) = (task.app_id.to_string(), task.version.to_string(), task.instance_id());
        if failed {
            self.events.push(event("failed_health_check_event", json!({"appId": app_id, "instanceId": instance_id, "healthCheck": crate::app::health_check_json(check)})));
        }
        if verdict.changed {
            let alive = task.healthy == Some(true);
            self.events.push(event(
                "health_status_changed_event",
                json!({"appId": app_id, "instanceId": instance_id, "version": version, "alive": alive}),
            ));
            self.events.push(event(
                "instance_health_changed_event",
                json!({"instanceId": instance_id, "runSpecId": app_id, "runSpecVersion": version, "healthy": alive}),
            ));
        }
        if verdict.kill && !task.killing {
            task.killing = true;
            let (host, agent) = (task.host.clone(), task.agent_id.clone());
            self.kills.push((task_id.to_string(), agent.clone()));
            self.events.push(event(
                "unhealthy_instance_kill_event",
                json!({"appId": app_id, "taskId": task_id, "instanceId": instance_id, "version": version, "reason": "Health check failed", "host": host, "slaveId": agent}),
            ));
        }
        let snapshot = task.clone();
        self.writes.push(Write::Instance(Box::new(snapshot)));
    }

    /// Records a launched task.
    pub fn add_instance(&mut self, instance: Instance) {
        self.writes.push(Write::Instance(Box::new(instance.clone())));
        self.insert_instance(instance);
    }

    /// Advances deployments whose current step is done; returns true if any finished.
    pub fn advance_deployments(&mut self) {
        let ids: Vec<String> = self.deployments.keys().cloned().collect();
        for id in ids {
            while let Some(d) = self.deployments.get(&id) {
                let Some(step) = d.steps.get(d.current_step) else { break };
                if !step.iter().all(|action| self.action_done(action)) {
                    break;
                }
                let d = self.deployments.get_mut(&id).expect("present");
                let finished_step = d.steps[d.current_step].clone();
                d.current_step += 1;
                let plan = d.plan_json();
                let step_json = json!({"actions": finished_step.iter().map(|a| json!({"action": format!("{:?}", a.kind), "app": a.app.to_string()})).collect::<Vec<_>>()});
                self.events.push(event("deployment_step_success", json!({"plan": plan, "currentStep": step_json})));
                if d.current_step >= d.steps.len() {
                    let d = self.deployments.remove(&id).expect("present");
                    self.writes.push(Write::DeleteDeployment(d.id.clone()));
                    self.events.push(event("deployment_success", json!({"id": d.id, "plan": d.plan_json()})));
                    break;
                }
                let d = d.clone();
                self.writes.push(Write::Deployment(Box::new(d)));
            }
        }
    }

    fn action_done(&self, action: &deployment::Action) -> bool {
        match action.kind {
            ActionKind::StartApplication => true,
            ActionKind::StopApplication => self.tasks_of(&action.app).iter().all(|t| !t.is_active()),
            ActionKind::ScaleApplication | ActionKind::RestartApplication => match self.apps.get(&action.app) {
                Some(app) => {
                    converge::progress(app, &self.tasks_of(&action.app)).is_done(app.instances.max(0) as usize)
                }
                None => true,
            },
        }
    }
}

/// `App '/x' does not exist`.
pub fn app_not_found(id: &PathId) -> ApiError {
    ApiError::message(404, format!("App '{id}' does not exist"))
}

/// An event object with `eventType` and `timestamp`.
pub fn event(kind: &str, mut fields: Value) -> Value {
    if let Some(o) = fields.as_object_mut() {
        o.insert("eventType".into(), json!(kind));
        o.insert("timestamp".into(), json!(now().to_string()));
    }
    fields
}

/// Marathon 1.4's instance condition name for a Mesos state.
pub fn condition(state: TaskState) -> &'static str {
    match state {
        TaskState::TASK_STAGING => "Staging",
        TaskState::TASK_STARTING => "Starting",
        TaskState::TASK_RUNNING => "Running",
        TaskState::TASK_KILLING => "Killing",
        TaskState::TASK_FINISHED => "Finished",
        TaskState::TASK_FAILED => "Failed",
        TaskState::TASK_KILLED => "Killed",
        TaskState::TASK_ERROR => "Error",
        TaskState::TASK_LOST => "Gone",
        TaskState::TASK_DROPPED => "Dropped",
        TaskState::TASK_UNREACHABLE => "Unreachable",
        TaskState::TASK_GONE | TaskState::TASK_GONE_BY_OPERATOR => "Gone",
        TaskState::TASK_UNKNOWN => "Unknown",
    }
}

/// The app JSON served by GET endpoints: definition plus counts and deployments, and tasks and the last
/// failure when asked for.
pub fn app_info(core: &Core, app: &AppDefinition, with_tasks: bool, with_failure: bool) -> Value {
    app_info_of(core, app, &core.tasks_of(&app.id), with_tasks, with_failure)
}

/// [`app_info`] given the app's tasks.
fn app_info_of(core: &Core, app: &AppDefinition, tasks: &[&Instance], with_tasks: bool, with_failure: bool) -> Value {
    let count = |f: &dyn Fn(&&Instance) -> bool| tasks.iter().filter(|t| f(t)).count() as u32;
    let extras = AppInfoExtras {
        counts: Some(TaskCounts {
            staged: count(&|t| t.is_active() && t.is_staged()),
            running: count(&|t| t.is_running()),
            healthy: count(&|t| t.is_running() && t.healthy == Some(true)),
            unhealthy: count(&|t| t.healthy == Some(false)),
        }),
        deployment_ids: Some(core.deployments_of(&app.id).iter().map(|d| d.id.clone()).collect()),
        tasks: with_tasks.then(|| tasks.iter().filter(|t| t.is_active()).map(|t| t.task_json(false)).collect()),
        last_task_failure: if with_failure { core.last_failures.get(&app.id).cloned() } else { None },
        ..AppInfoExtras::default()
    };
    with_app_info(app_json(app, false), extras)
}

/// Writes [`app_info`] as JSON to `out`, with the active tasks serialized straight from their records
/// ([`Instance::task_view`]): `/v2/apps?embed=apps.tasks` writes every task of every app.
pub fn write_app_info(out: &mut Vec<u8>, core: &Core, app: &AppDefinition, with_tasks: bool, with_failure: bool) {
    let start = out.len();
    let tasks = core.tasks_of(&app.id);
    serde_json::to_writer(&mut *out, &app_info_of(core, app, &tasks, false, with_failure))
        .expect("plain data serializes");
    if with_tasks && out.len() > start {
        out.pop(); // the object's closing brace
        out.extend_from_slice(b",\"tasks\":");
        let views: Vec<_> = tasks.iter().filter(|t| t.is_active()).map(|t| t.task_view(false)).collect();
        serde_json::to_writer(&mut *out, &views).expect("plain data serializes");
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::parse_app;

    fn status(task_id: &str, state: TaskState) -> TaskStatus {
        serde_json::from_value(json!({"task_id": {"value": task_id}, "state": state, "agent_id": {"value": "a1"}}))
            .unwrap()
    }

    fn launched(core: &mut Core, app: &PathId, task_id: &str) {
        let version = core.apps[app].last_config_change_at();
        core.add_instance(Instance::launched(task_id.to_string(), app.clone(), version, "a1".into(), "h".into()));
    }

    #[test]
    fn written_app_info_is_app_info_with_its_active_tasks() {
        let mut core = Core::new((10000, 20000), 50);
        core.create_app(
            parse_app(br#"{"id": "web", "cmd": "sleep 1", "instances": 2}"#, &PathId::root()).unwrap(),
            false,
        )
        .unwrap();
        let id = PathId::parse("/web");
        launched(&mut core, &id, "web.1");
        launched(&mut core, &id, "web.2");
        core.on_status(&status("web.2", TaskState::TASK_RUNNING), 0);
        let app = core.apps[&id].clone();
        for (tasks, failure) in [(true, true), (false, false)] {
            let mut out = Vec::new();
            write_app_info(&mut out, &core, &app, tasks, failure);
            let written: Value = serde_json::from_slice(&out).expect("valid JSON");
            assert_eq!(written, app_info(&core, &app, tasks, failure));
        }
    }

    #[test]
    fn backoff_grows_by_the_factor_up_to_the_cap_and_resets_on_a_new_config() {
        let mut core = Core::new((10000, 20000), 50);
        let app = parse_app(br#"{"id": "crashy", "cmd": "exit 1", "backoffSeconds": 1, "backoffFactor": 2, "maxLaunchDelaySeconds": 5}"#, &PathId::root()).unwrap();
        let (_, _) = core.create_app(app, false).unwrap();
        let id = PathId::parse("/crashy");
        let mut delays = Vec::new();
        for i in 0..5 {
            let task = format!("crashy.{i}");
            launched(&mut core, &id, &task);
            core.on_status(&status(&task, TaskState::TASK_FAILED), 1_000_000);
            delays.push(core.delays[&id].seconds);
        }
        assert_eq!(delays, vec![1.0, 2.0, 4.0, 5.0, 5.0]);
        assert!(core.is_delayed(&id, 1_000_000 + 4_999));
        assert!(!core.is_delayed(&id, 1_000_000 + 5_000));
        assert_eq!(core.last_failures[&id]["state"], "TASK_FAILED");
        // A killed task does not back off; a new configuration clears the delay.
        let mut changed = core.apps[&id].clone();
        changed.cmd = Some("exit 2".into());
        core.update_app(changed, true).unwrap();
        assert!(!core.delays.contains_key(&id));
    }

    #[test]
    fn unreachable_tasks_follow_the_apps_unreachable_strategy() {
        let mut core = Core::new((10000, 20000), 50);
        let app = parse_app(
            br#"{"id": "patient", "cmd": "sleep 1", "unreachableStrategy": {"inactiveAfterSeconds": 10, "expungeAfterSeconds": 20}}"#,
            &PathId::root(),
        )
        .unwrap();
        core.create_app(app, false).unwrap();
        let id = PathId::parse("/patient");
        launched(&mut core, &id, "patient.1");
        core.on_status(&status("patient.1", TaskState::TASK_RUNNING), 1_000);
        core.on_status(&status("patient.1", TaskState::TASK_UNREACHABLE), 2_000);
        core.expire_unreachable(11_999);
        assert_eq!(core.queue_count(&id), 0, "still counted before inactiveAfterSeconds");
        core.expire_unreachable(12_000);
        assert_eq!(core.queue_count(&id), 1, "inactive: a replacement is wanted");
        // Back before being replaced: it counts again and is kept.
        core.on_status(&status("patient.1", TaskState::TASK_RUNNING), 13_000);
        assert_eq!((core.queue_count(&id), core.kills.len()), (0, 0));
        assert_eq!(core.instances["patient.1"].unreachable, None);
        // Unreachable again, past expungeAfterSeconds: forgotten, and killed when it comes back.
        core.on_status(&status("patient.1", TaskState::TASK_UNREACHABLE), 20_000);
        core.expire_unreachable(40_000);
        assert!(!core.instances.contains_key("patient.1"));
        core.on_status(&status("patient.1", TaskState::TASK_RUNNING), 41_000);
        assert_eq!(core.kills, vec![("patient.1".to_string(), "a1".to_string())]);
    }

    #[test]
    fn tasks_are_indexed_per_app_and_unreachable_ones_apart() {
        let mut core = Core::new((10000, 20000), 50);
        for body in [&br#"{"id": "a", "cmd": "sleep 1"}"#[..], br#"{"id": "a/b", "cmd": "sleep 1"}"#] {
            core.create_app(parse_app(body, &PathId::root()).unwrap(), false).unwrap();
        }
        let (a, b) = (PathId::parse("/a"), PathId::parse("/a/b"));
        for task in ["a.2", "a.1"] {
            launched(&mut core, &a, task);
        }
        launched(&mut core, &b, "a_b.1");
        let ids = |core: &Core, app: &PathId| core.tasks_of(app).iter().map(|t| t.task_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&core, &a), ["a.1", "a.2"]);
        assert_eq!(ids(&core, &b), ["a_b.1"]);
        core.on_status(&status("a.1", TaskState::TASK_FINISHED), 1_000);
        assert_eq!(ids(&core, &a), ["a.2"]);
        assert!(ids(&core, &PathId::parse("/c")).is_empty());
        // A task restored unreachable from the store is expired like one that became unreachable here.
        let mut restored = core.remove_instance("a_b.1").unwrap();
        assert!(ids(&core, &b).is_empty());
        restored.unreachable = Some(Unreachable { since_ms: 0, inactive: false });
        core.insert_instance(restored);
        core.expire_unreachable(1_000_000);
        assert!(ids(&core, &b).is_empty(), "expunged (default strategy)");
    }

    #[test]
    fn a_resent_update_is_applied_once() {
        let mut core = Core::new((10000, 20000), 50);
        core.create_app(parse_app(br#"{"id": "web", "cmd": "sleep 1"}"#, &PathId::root()).unwrap(), false).unwrap();
        launched(&mut core, &PathId::parse("/web"), "web.1");
        let with_uuid = |state, uuid: &str| TaskStatus { uuid: Some(uuid.into()), ..status("web.1", state) };
        core.events.clear();
        core.writes.clear();
        core.on_status(&with_uuid(TaskState::TASK_RUNNING, "u1"), 1_000);
        let (events, writes) = (core.events.len(), core.writes.len());
        assert!(events > 0 && writes > 0);
        core.on_status(&with_uuid(TaskState::TASK_RUNNING, "u1"), 2_000);
        assert_eq!((core.events.len(), core.writes.len()), (events, writes), "the resent copy changes nothing");
        core.on_status(&with_uuid(TaskState::TASK_FINISHED, "u2"), 3_000);
        assert!(!core.instances.contains_key("web.1"));
        assert!(core.applied_uuids.is_empty(), "forgotten with the task");
    }

    #[test]
    fn the_default_unreachable_strategy_replaces_at_once_and_disabled_never() {
        let mut core = Core::new((10000, 20000), 50);
        for body in [
            &br#"{"id": "eager", "cmd": "sleep 1"}"#[..],
            br#"{"id": "stays", "cmd": "sleep 1", "unreachableStrategy": "disabled"}"#,
        ] {
            core.create_app(parse_app(body, &PathId::root()).unwrap(), false).unwrap();
        }
        let (eager, stays) = (PathId::parse("/eager"), PathId::parse("/stays"));
        launched(&mut core, &eager, "eager.1");
        launched(&mut core, &stays, "stays.1");
        core.on_status(&status("eager.1", TaskState::TASK_UNREACHABLE), 1_000);
        core.on_status(&status("stays.1", TaskState::TASK_UNREACHABLE), 1_000);
        core.expire_unreachable(1_000_000);
        assert_eq!(core.queue_count(&eager), 1);
        assert!(!core.instances.contains_key("eager.1"), "expunged at once");
        assert_eq!(core.queue_count(&stays), 0);
        assert!(core.instances.contains_key("stays.1"));
    }

    #[test]
    fn locked_apps_answer_409_with_the_deployment_unless_forced() {
        let mut core = Core::new((10000, 20000), 50);
        let app = parse_app(br#"{"id": "web", "cmd": "sleep 1"}"#, &PathId::root()).unwrap();
        let (_, created) = core.create_app(app.clone(), false).unwrap();
        let err = core.restart_app(&app.id, false).unwrap_err();
        assert_eq!(err.status(), 409);
        assert_eq!(err.body()["deployments"][0]["id"], created.deployment_id);
        assert!(core.restart_app(&app.id, true).is_ok());
        assert_eq!(core.deployments.len(), 1, "the forced change replaced the old deployment");
        let err = core.create_app(app, false).unwrap_err();
        assert_eq!(err.body()["message"], "An app with id [/web] already exists.");
    }
}
