//! The leading Marathon's control loop: turns Mesos events into [`Core`] changes, fills offers with the
//! launches [`converge`](crate::core::converge) asks for (matched by [`crate::scheduling`]), sends kills,
//! acknowledges updates, reconciles, suppresses offers when nothing is needed and revives when something is,
//! and persists every change (in order) before it is acknowledged to anyone.

use crate::app::{AppDefinition, PathId, Timestamp};
use crate::core::instance::Instance;
use crate::core::{converge, Core, Write};
use crate::driver::{Driver, DriverEvent};
use crate::flags::Config;
use crate::scheduling::{self, LaunchRequest, MatchConfig, PlacementIndex};
use crate::store::{Category, Store};
use common::mesos::scheduler::{Acknowledge, Call, CallType, Decline, Kill, Reconcile, ReconcileTask, Roles};
use common::mesos::{Filters, Id, Offer, Operation, TaskStatus};
use futures::StreamExt;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, Notify};

/// Calls in flight to the master at once when many go together (acknowledgements, kills).
const CALL_CONCURRENCY: usize = 32;

/// Everything the leader's loop and the API share.
pub struct Scheduler {
    /// The state.
    pub core: Mutex<Core>,
    /// The Mesos driver.
    pub driver: Driver,
    /// The store.
    pub store: Arc<Store>,
    /// Ordered persistence.
    pub persister: crate::persister::Persister,
    /// Published events (`/v2/events`).
    pub events: broadcast::Sender<Value>,
    /// Configuration.
    pub config: Arc<Config>,
    /// Wakes the loop after API changes.
    pub wake: Notify,
    /// The framework id, once known.
    pub framework_id: Mutex<Option<String>>,
    /// Attributes of the agents seen in offers, for constraints on tasks running there.
    pub agent_attributes: Mutex<std::collections::HashMap<String, Vec<common::resources::Attribute>>>,
    /// Prometheus metrics (shared with the API).
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Scheduler {
    /// Takes the pending writes and events out of the core, persists the writes, then publishes the events.
    /// A commit that carried something (or left kills or a revive pending) wakes the leader's loop to converge
    /// again; an empty one does not, or the loop, which commits on every pass, would wake itself forever.
    pub async fn commit(&self) -> Result<(), String> {
        let (writes, events, changed) = {
            let mut core = self.core.lock().expect("core lock");
            let (writes, events) = (std::mem::take(&mut core.writes), std::mem::take(&mut core.events));
            let changed = !writes.is_empty() || !events.is_empty() || !core.kills.is_empty() || core.revive;
            (writes, events, changed)
        };
        let result = self.persister.persist(writes).await;
        for event in events {
            let _ = self.events.send(event);
        }
        if changed {
            self.wake.notify_one();
        }
        result
    }

    /// Loads the persisted state into the core (on election).
    pub async fn recover(&self) -> Result<(), String> {
        let apps: Vec<Value> = self.store.list(Category::Apps).await.map_err(|e| e.to_string())?;
        let instances: Vec<Instance> = self.store.list(Category::Instances).await.map_err(|e| e.to_string())?;
        let deployments: Vec<crate::core::deployment::Deployment> =
            self.store.list(Category::Deployments).await.map_err(|e| e.to_string())?;
        let failures: Vec<Value> = self.store.list(Category::TaskFailures).await.map_err(|e| e.to_string())?;
        let framework_id = self.store.framework_id().await.map_err(|e| e.to_string())?;
        let apps: Vec<AppDefinition> = apps
            .iter()
            .filter_map(|json| {
                crate::app::app_from_json(json, &PathId::root())
                    .map_err(|e| tracing::error!(error = ?e, "skipping a stored app that does not parse"))
                    .ok()
            })
            .collect();
        let ids: Vec<String> = apps.iter().map(|app| app.id.to_string()).collect();
        let names: Vec<Vec<String>> =
            futures::future::join_all(ids.iter().map(|id| self.store.version_names(Category::Apps, id)))
                .await
                .into_iter()
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
        let mut core = self.core.lock().expect("core lock");
        for (app, names) in apps.into_iter().zip(names) {
            let mut versions: Vec<Timestamp> = names.iter().filter_map(|n| Timestamp::parse(n)).collect();
            if !versions.contains(&app.version) {
                versions.push(app.version);
            }
            versions.sort();
            core.versions.insert(app.id.clone(), versions);
            core.apps.insert(app.id.clone(), app);
        }
        for instance in instances {
            core.insert_instance(instance);
        }
        for d in deployments {
            core.deployments.insert(d.id.clone(), d);
        }
        for failure in failures {
            if let Some(app) = failure.get("appId").and_then(Value::as_str) {
                core.last_failures.insert(PathId::parse(app), failure);
            }
        }
        tracing::info!(
            apps = core.apps.len(),
            tasks = core.instances.len(),
            deployments = core.deployments.len(),
            "state recovered"
        );
        *self.framework_id.lock().expect("lock") = framework_id;
        Ok(())
    }

    /// The FrameworkInfo to subscribe with (carries the stored id).
    pub fn framework_info(&self) -> common::mesos::FrameworkInfo {
        let hostname = self.config.hostname.clone().unwrap_or_else(common::net::hostname);
        common::mesos::FrameworkInfo {
            user: self.config.mesos_user.clone().unwrap_or_else(|| "root".to_string()),
            name: self.config.framework_name.clone(),
            id: self.framework_id.lock().expect("lock").clone().map(Id::new),
            failover_timeout: Some(self.config.failover_timeout as f64),
            checkpoint: Some(self.config.checkpoint),
            role: self.config.mesos_role.clone(),
            hostname: Some(hostname.clone()),
            webui_url: Some(
                self.config.webui_url.clone().unwrap_or_else(|| format!("http://{hostname}:{}", self.config.http_port)),
            ),
            capabilities: vec![common::mesos::Capability { kind: "PARTITION_AWARE".into() }],
            ..Default::default()
        }
    }

    /// Runs the leader's loop forever.
    pub async fn run(self: Arc<Self>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let me = self.clone();
        let master = self.config.master.clone().expect("validated");
        let zk_timeout = Duration::from_millis(self.config.zk_session_timeout);
        tokio::spawn(async move {
            let driver_owner = me.clone();
            driver_owner.driver.run(master, zk_timeout, || me.framework_info(), tx).await;
        });
        let health = self.clone();
        tokio::spawn(async move { health.run_health_checks().await });
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut reconcile_at =
            tokio::time::Instant::now() + Duration::from_millis(self.config.reconciliation_initial_delay);
        let mut suppressed = false;
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => {
                        // Everything already queued is handled together: task updates in one batch.
                        let mut events = vec![event];
                        while let Ok(more) = rx.try_recv() {
                            events.push(more);
                        }
                        self.on_driver_events(events, &mut suppressed).await;
                    }
                    None => return,
                },
                _ = tick.tick() => {}
                _ = self.wake.notified() => {}
            }
            if tokio::time::Instant::now() >= reconcile_at && self.driver.is_subscribed() {
                self.reconcile().await;
                reconcile_at = tokio::time::Instant::now() + Duration::from_millis(self.config.reconciliation_interval);
            }
            self.converge_all(&mut suppressed).await;
        }
    }

    /// Handles events in order; runs of task status updates go through [`Scheduler::on_updates`] together.
    async fn on_driver_events(&self, events: Vec<DriverEvent>, suppressed: &mut bool) {
        let mut updates = Vec::new();
        for event in events {
            match event {
                DriverEvent::Event(event) if event.offers.is_none() && event.update.is_some() => {
                    updates.extend(event.update.map(|u| u.status))
                }
                other => {
                    self.on_updates(std::mem::take(&mut updates)).await;
                    self.on_driver_event(other, suppressed).await;
                }
            }
        }
        self.on_updates(updates).await;
    }

    async fn on_driver_event(&self, event: DriverEvent, suppressed: &mut bool) {
        match event {
            DriverEvent::Subscribed { framework_id, master } => {
                tracing::info!(framework = %framework_id, master = %master.http_address(), "registered with Mesos");
                let known = self.framework_id.lock().expect("lock").replace(framework_id.value.clone());
                if known.as_deref() != Some(framework_id.value.as_str()) {
                    if let Err(e) = self.store.set_framework_id(&framework_id.value).await {
                        tracing::error!(error = %e, "cannot store the framework id");
                    }
                }
                let _ = self.events.send(crate::core::event(
                    "scheduler_registered_event",
                    serde_json::json!({"frameworkId": framework_id.value, "master": master.http_address()}),
                ));
                *suppressed = false;
                self.reconcile().await;
            }
            DriverEvent::Disconnected => {
                let _ = self.events.send(crate::core::event("scheduler_disconnected_event", serde_json::json!({})));
            }
            DriverEvent::Event(event) => {
                if let Some(offers) = event.offers {
                    self.on_offers(offers.offers).await;
                } else if let Some(update) = event.update {
                    self.on_updates(vec![update.status]).await;
                }
            }
        }
    }

    /// Applies task status updates, persists them (one commit), then acknowledges them (concurrently).
    async fn on_updates(&self, statuses: Vec<TaskStatus>) {
        let statuses = distinct_updates(statuses);
        if statuses.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let count = statuses.len();
        {
            let mut core = self.core.lock().expect("core lock");
            let now_ms = chrono::Utc::now().timestamp_millis();
            for status in &statuses {
                self.metrics.on_status(&core, status, crate::app::Timestamp::now());
                core.on_status(status, now_ms);
            }
            core.advance_deployments();
        }
        let applied = started.elapsed();
        if let Err(e) = self.commit().await {
            // Not acknowledged: Mesos will resend the updates.
            tracing::error!(error = %e, "status updates not persisted; not acknowledging them");
            return;
        }
        let acks = statuses.into_iter().filter_map(|status| {
            let (uuid, agent_id) = (status.uuid?, status.agent_id?);
            let mut call = Call::new(CallType::Acknowledge, None);
            call.acknowledge = Some(Acknowledge { agent_id, task_id: status.task_id, uuid });
            Some(call)
        });
        let persisted = started.elapsed();
        let failed = self.call_all(acks).await;
        if failed > 0 {
            tracing::warn!(failed, "acknowledgements failed; the agents will resend those updates");
        }
        tracing::info!(
            updates = count,
            applied_ms = applied.as_millis(),
            persisted_ms = persisted.as_millis(),
            acknowledged_ms = started.elapsed().as_millis(),
            "status update batch"
        );
    }

    /// Sends calls to the master, [`CALL_CONCURRENCY`] at a time over reused connections; returns how many
    /// failed. Thousands at once (one connection each) ran the master out of file descriptors and into
    /// timeouts, and every unacknowledged update comes back from its agent, which fed the storm.
    async fn call_all(&self, calls: impl IntoIterator<Item = Call>) -> usize {
        futures::stream::iter(calls)
            .map(|call| self.driver.call(call))
            .buffer_unordered(CALL_CONCURRENCY)
            .filter(|result| std::future::ready(result.is_err()))
            .count()
            .await
    }

    /// Explicit reconciliation of every known task, then implicit.
    async fn reconcile(&self) {
        let tasks: Vec<ReconcileTask> = {
            let core = self.core.lock().expect("core lock");
            core.instances
                .values()
                .map(|i| ReconcileTask {
                    task_id: Id::new(i.task_id.clone()),
                    agent_id: Some(Id::new(i.agent_id.clone())),
                })
                .collect()
        };
        for batch in [tasks, Vec::new()] {
            let mut call = Call::new(CallType::Reconcile, None);
            call.reconcile = Some(Reconcile { tasks: batch });
            if let Err(e) = self.driver.call(call).await {
                tracing::debug!(error = %e, "reconcile failed");
            }
        }
    }

    /// Applies convergence to every app: kills what must go; revives offers if launches are wanted.
    async fn converge_all(&self, suppressed: &mut bool) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let (kills, wants_offers, revive) = {
            let mut core = self.core.lock().expect("core lock");
            core.expire_unreachable(now_ms);
            let revive = std::mem::take(&mut core.revive);
            let mut kills = std::mem::take(&mut core.kills);
            let mut wants = false;
            let mut doomed = Vec::new();
            for app in core.apps.values() {
                let delayed = core.is_delayed(&app.id, now_ms);
                let decision = converge::converge(app, &core.tasks_of(&app.id), !delayed);
                wants |= decision.launch > 0;
                doomed.extend(decision.kill);
            }
            for task_id in doomed {
                if let Some(task) = core.instances.get_mut(&task_id) {
                    task.killing = true;
                    kills.push((task.task_id.clone(), task.agent_id.clone()));
                    let snapshot = task.clone();
                    core.writes.push(Write::Instance(Box::new(snapshot)));
                }
            }
            // Tasks of deleted apps go.
            let orphans: Vec<String> = core
                .instances
                .values()
                .filter(|t| !t.killing && t.is_active() && !core.apps.contains_key(&t.app_id))
                .map(|t| t.task_id.clone())
                .collect();
            for task_id in orphans {
                if let Some(task) = core.instances.get_mut(&task_id) {
                    task.killing = true;
                    kills.push((task.task_id.clone(), task.agent_id.clone()));
                }
            }
            core.advance_deployments();
            (kills, wants, revive)
        };
        let _ = self.commit_quietly().await;
        let kills = kills.into_iter().map(|(task_id, agent_id)| {
            let mut call = Call::new(CallType::Kill, None);
            call.kill = Some(Kill { task_id: Id::new(task_id), agent_id: Some(Id::new(agent_id)), kill_policy: None });
            call
        });
        let failed = self.call_all(kills).await;
        if failed > 0 {
            tracing::debug!(failed, "kills failed; will retry on the next pass");
        }
        if wants_offers && (*suppressed || revive) {
            if self
                .driver
                .call(Call { revive: Some(Roles::default()), ..Call::new(CallType::Revive, None) })
                .await
                .is_ok()
            {
                *suppressed = false;
            }
        } else if !wants_offers
            && !*suppressed
            && self.driver.is_subscribed()
            && self
                .driver
                .call(Call { suppress: Some(Roles::default()), ..Call::new(CallType::Suppress, None) })
                .await
                .is_ok()
        {
            *suppressed = true;
        }
    }

    async fn commit_quietly(&self) -> Result<(), String> {
        let result = self.commit().await;
        if let Err(e) = &result {
            tracing::error!(error = %e, "state not persisted");
        }
        result
    }

    /// Probes due Marathon-run health checks every second and applies the verdicts: `healthy` flags, health
    /// events, and kills of tasks that failed `maxConsecutiveFailures` times in a row.
    async fn run_health_checks(&self) {
        let client = reqwest::Client::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now_ms = chrono::Utc::now().timestamp_millis();
            let due: Vec<(String, usize, crate::app::HealthCheck, String, u32)> = {
                let mut core = self.core.lock().expect("core lock");
                let mut due = Vec::new();
                let apps: Vec<AppDefinition> = core.apps.values().cloned().collect();
                for app in &apps {
                    let checks: Vec<(usize, &crate::app::HealthCheck)> = app
                        .health_checks
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| crate::health::is_marathon_check(c))
                        .collect();
                    if checks.is_empty() {
                        continue;
                    }
                    for task in
                        core.instances.values_mut().filter(|t| t.app_id == app.id && t.is_running() && !t.killing)
                    {
                        task.health.resize(app.health_checks.len(), crate::health::HealthResult::default());
                        for (i, check) in &checks {
                            if task.health[*i].is_due(check, now_ms) {
                                task.health[*i].last_check_ms = now_ms;
                                if let Some(port) = crate::health::target_port(app, check, task) {
                                    due.push((task.task_id.clone(), *i, (*check).clone(), task.host.clone(), port));
                                }
                            }
                        }
                    }
                }
                due
            };
            if due.is_empty() {
                continue;
            }
            let outcomes = futures::future::join_all(
                due.iter().map(|(_, _, check, host, port)| crate::health::probe(&client, check, host, *port)),
            )
            .await;
            {
                let mut core = self.core.lock().expect("core lock");
                let now = crate::core::now();
                for ((task_id, index, check, _, _), outcome) in due.into_iter().zip(outcomes) {
                    core.record_health(&task_id, index, &check, outcome, now);
                }
            }
            let _ = self.commit_quietly().await;
        }
    }

    /// Fills offers with launches; declines what is not used.
    async fn on_offers(&self, offers: Vec<Offer>) {
        let started = std::time::Instant::now();
        let offered = offers.len();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let match_config = MatchConfig {
            mesos_role: self.config.mesos_role.clone(),
            mesos_user: self.config.mesos_user.clone(),
            env_vars_prefix: self.config.env_vars_prefix.clone(),
            max_instances_per_offer: self.config.max_instances_per_offer,
            ..MatchConfig::default()
        };
        let mut accepts: Vec<(Offer, Vec<Operation>)> = Vec::new();
        let mut declines: Vec<Id> = Vec::new();
        {
            let mut core = self.core.lock().expect("core lock");
            let mut queue: Vec<(AppDefinition, usize)> = Vec::new();
            for app in core.apps.values() {
                if core.is_delayed(&app.id, now_ms) {
                    continue;
                }
                let decision = converge::converge(app, &core.tasks_of(&app.id), true);
                if decision.launch > 0 {
                    queue.push((app.clone(), decision.launch));
                }
            }
            let mut known = self.agent_attributes.lock().expect("lock");
            for offer in &offers {
                known.insert(offer.agent_id.value.clone(), offer.attributes.clone());
            }
            // Only constraints look at where an app already runs and on which agents' attributes: index the
            // instances of the queued apps that have any.
            let constrained: Vec<&AppDefinition> =
                queue.iter().map(|(app, _)| app).filter(|app| !app.constraints.is_empty()).collect();
            let mut placements = if constrained.is_empty() {
                PlacementIndex::new()
            } else {
                let placed = constrained.iter().flat_map(|app| core.tasks_of(&app.id)).filter(|i| i.is_active());
                PlacementIndex::from_instances(placed)
                    .with_agent_attributes(known.iter().map(|(id, attrs)| (id.as_str(), attrs.as_slice())))
            };
            drop(known);
            for offer in offers {
                let requests: Vec<LaunchRequest> =
                    queue.iter().filter(|(_, n)| *n > 0).map(|(app, n)| LaunchRequest { app, count: *n }).collect();
                if requests.is_empty() {
                    declines.push(offer.id.clone());
                    continue;
                }
                let (planned, rejections) = scheduling::plan_launches(&offer, &requests, &placements, &match_config);
                let now = crate::core::now();
                for request in &requests {
                    let stats = core.offer_stats.entry(request.app.id.clone()).or_default();
                    stats.processed += 1;
                    if planned.iter().any(|p| p.app_id == request.app.id) {
                        stats.last_used_at = Some(now);
                    } else {
                        stats.unused += 1;
                        stats.last_unused_at = Some(now);
                    }
                }
                for (app_id, no_match) in &rejections {
                    let stats = core.offer_stats.entry(app_id.clone()).or_default();
                    *stats.rejects.entry(no_match.reason().as_str()).or_default() += 1;
                }
                if planned.is_empty() {
                    declines.push(offer.id.clone());
                    continue;
                }
                let mut tasks = Vec::new();
                for launch in planned {
                    if let Some(entry) = queue.iter_mut().find(|(app, _)| app.id == launch.app_id) {
                        entry.1 = entry.1.saturating_sub(1);
                    }
                    let instance = Instance {
                        ports: launch.host_ports.clone(),
                        service_ports: launch.service_ports.clone(),
                        ..Instance::launched(
                            launch.task.task_id.value.clone(),
                            launch.app_id.clone(),
                            launch.version,
                            offer.agent_id.value.clone(),
                            offer.hostname.clone(),
                        )
                    };
                    placements.add(&instance, &offer);
                    core.add_instance(instance);
                    tasks.push(launch.task);
                }
                accepts.push((
                    offer,
                    vec![Operation {
                        kind: "LAUNCH".into(),
                        launch: Some(common::mesos::Launch { task_infos: tasks }),
                    }],
                ));
            }
            // Progress with more still to launch: ask for the next round at once (the loop revives after these
            // accepts land) rather than wait for the master's next allocation. A round that launched nothing
            // does not revive, so offers that fit nothing are not bounced back and forth.
            core.revive |= !accepts.is_empty() && queue.iter().any(|(_, n)| *n > 0);
        }
        let planned = started.elapsed();
        let launched: usize = accepts
            .iter()
            .flat_map(|(_, ops)| ops)
            .filter_map(|op| op.launch.as_ref())
            .map(|l| l.task_infos.len())
            .sum();
        // Task records are persisted before the launch goes out, so a crash cannot orphan a task.
        if self.commit_quietly().await.is_err() {
            declines.extend(accepts.drain(..).map(|(offer, _)| offer.id));
        }
        let persisted = started.elapsed();
        // As upstream: the unused rest of an accepted offer is not filtered (refuse 0 s), so it comes back in the
        // next allocation cycle for the instances still waiting; only plain declines use decline_offer_duration.
        let no_filter = Some(Filters { refuse_seconds: Some(0.0) });
        let accepts = accepts.into_iter().map(|(offer, operations)| {
            let mut call = Call::new(CallType::Accept, None);
            call.accept = Some(common::mesos::scheduler::Accept {
                offer_ids: vec![offer.id],
                operations,
                filters: no_filter.clone(),
            });
            call
        });
        let failed = self.call_all(accepts).await;
        if failed > 0 {
            tracing::warn!(failed, "accepts failed; reconciliation will sort the tasks out");
        }
        if !declines.is_empty() {
            let refuse = Some(Filters { refuse_seconds: Some(self.config.decline_offer_duration as f64 / 1000.0) });
            let mut call = Call::new(CallType::Decline, None);
            call.decline = Some(Decline { offer_ids: declines, filters: refuse });
            if let Err(e) = self.driver.call(call).await {
                tracing::debug!(error = %e, "decline failed");
            }
        }
        tracing::info!(
            offers = offered,
            launched,
            planned_ms = planned.as_millis(),
            persisted_ms = persisted.as_millis(),
            answered_ms = started.elapsed().as_millis(),
            "offers handled"
        );
    }
}

/// The updates of a batch without repeats: an agent resends an update until it is acknowledged, so a busy
/// batch can hold the same (task, uuid) many times. The first of each is kept (applied, persisted and
/// acknowledged once); updates without a uuid (the master's own, e.g. reconciliation answers) are all kept.
fn distinct_updates(statuses: Vec<TaskStatus>) -> Vec<TaskStatus> {
    let mut seen = std::collections::HashSet::new();
    statuses
        .into_iter()
        .filter(|status| match &status.uuid {
            Some(uuid) => seen.insert((status.task_id.value.clone(), uuid.clone())),
            None => true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resent_updates_count_once_per_batch() {
        let update = |task: &str, uuid: Option<&str>, state: &str| -> TaskStatus {
            serde_json::from_value(serde_json::json!({"task_id": {"value": task}, "state": state, "uuid": uuid}))
                .unwrap()
        };
        let batch = vec![
            update("t1", Some("u1"), "TASK_STARTING"),
            update("t2", Some("u1"), "TASK_STARTING"),
            update("t1", Some("u1"), "TASK_STARTING"),
            update("t1", Some("u2"), "TASK_RUNNING"),
            update("t1", None, "TASK_RUNNING"),
            update("t1", None, "TASK_RUNNING"),
        ];
        let kept: Vec<(String, Option<String>)> =
            distinct_updates(batch).into_iter().map(|s| (s.task_id.value, s.uuid)).collect();
        let expected = [("t1", Some("u1")), ("t2", Some("u1")), ("t1", Some("u2")), ("t1", None), ("t1", None)];
        assert_eq!(kept, expected.map(|(t, u)| (t.to_string(), u.map(str::to_string))));
    }
}
