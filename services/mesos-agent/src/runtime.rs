//! The agent's core: which tasks it runs, how master commands become container launches and kills, and how
//! container events become reliable status updates.
//!
//! Every task is a [`TaskRecord`] keyed by framework and task id, checkpointed (see `records.rs`) before its
//! container is launched. A task is *active* until the scheduler acknowledged its terminal update; then it is
//! *completed* and its sandbox is handed to the garbage collector. Updates are queued per task before the
//! record is rewritten, so a crash in between yields at most a duplicate, never a lost update; re-emitted
//! terminal events of recovered containers are dropped when the task already has its terminal update.
//! Re-registration reports every active task (terminal ones too, until acknowledged) so a new master re-adopts
//! them and still accepts their pending updates.

use crate::containerizer::{self, Checkpoint, ContainerEvent, Containerizers, LaunchSpec, RecoverMode, RecoverResult};
use crate::flags::Config;
use crate::gc::Gc;
use crate::link::{Handler, Link};
use crate::records::{RecordStore, TaskKey, TaskRecord};
use crate::updates::StatusUpdates;
use base64::Engine;
use common::agent_link::{AgentCall, AgentEvent, AgentInfo, RunningTask};
use common::mesos::{
    ContainerStatus, FrameworkInfo, Id, IpAddress, MasterInfo, NetworkInfo, TaskInfo, TaskState, TaskStatus,
};
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Completed tasks kept in memory for `/state`.
const MAX_COMPLETED_TASKS: usize = 1000;

/// Mutable agent state.
#[derive(Debug, Default)]
pub struct State {
    /// Assigned id (checkpointed as `meta/slaves/latest`).
    pub id: Option<Id>,
    /// Current master, once registered.
    pub master: Option<MasterInfo>,
    /// Active tasks: running, or ended with updates not yet acknowledged.
    pub tasks: BTreeMap<TaskKey, TaskRecord>,
    /// Completed tasks, oldest first.
    pub completed: VecDeque<TaskRecord>,
    /// Frameworks the master shut down: their tasks are being killed and their updates are not sent.
    shutting_down: BTreeSet<Id>,
    /// Where task records are checkpointed (known with the id).
    records: Option<RecordStore>,
}

impl State {
    /// The active task running a container.
    fn key_of_container(&self, container_id: &str) -> Option<TaskKey> {
        self.tasks.values().find(|t| t.container_id == container_id).map(TaskRecord::key)
    }

    /// The FrameworkInfo last seen with a task of the framework.
    fn framework(&self, framework_id: &Id) -> Option<&FrameworkInfo> {
        self.tasks
            .values()
            .chain(self.completed.iter().rev())
            .find(|t| t.framework_id() == *framework_id)
            .map(|t| &t.framework)
    }

    fn save(&self, record: &TaskRecord) {
        if let Some(store) = &self.records {
            store.save(record);
        }
    }
}

/// The running agent.
pub struct Agent {
    /// Configuration.
    pub config: Config,
    /// What the agent reports about itself.
    pub info: AgentInfo,
    /// Process start time.
    pub start_time: f64,
    /// Tasks and ids. Lock order: `state`, then `updates`.
    pub state: Mutex<State>,
    /// Task runners.
    pub containers: Containerizers,
    /// Reliable status updates.
    pub updates: Mutex<StatusUpdates>,
    /// The master link.
    pub link: Link,
    /// Sandbox garbage collection.
    pub gc: Gc,
    /// Prometheus metrics.
    pub metrics: crate::metrics::Metrics,
    wake_updates: Notify,
}

fn seconds_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// `meta/slaves/latest`: a link to the current agent's meta directory (upstream's layout).
fn latest_path(work_dir: &Path) -> PathBuf {
    work_dir.join("meta").join("slaves").join("latest")
}

/// The checkpointed agent id: the `latest` link's target (or, from older mesos-rs versions, its contents).
fn read_agent_id(work_dir: &Path) -> Option<Id> {
    let latest = latest_path(work_dir);
    let text = match std::fs::read_link(&latest) {
        Ok(target) => target.file_name()?.to_string_lossy().into_owned(),
        Err(_) => std::fs::read_to_string(&latest).ok()?.trim().to_string(),
    };
    (!text.is_empty()).then(|| Id::new(text))
}

fn base64_uuid() -> String {
    base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes())
}

fn map_state(state: containerizer::TaskState) -> TaskState {
    match state {
        containerizer::TaskState::Starting => TaskState::TASK_STARTING,
        containerizer::TaskState::Running => TaskState::TASK_RUNNING,
        containerizer::TaskState::Killing => TaskState::TASK_KILLING,
        containerizer::TaskState::Finished => TaskState::TASK_FINISHED,
        containerizer::TaskState::Failed => TaskState::TASK_FAILED,
        containerizer::TaskState::Killed => TaskState::TASK_KILLED,
    }
}

impl Agent {
    /// Builds the agent, recovering its id, task records and queued updates from the work dir, and schedules
    /// the garbage collection of completed tasks and of earlier agents' directories.
    pub fn recover(config: Config, info: AgentInfo, containers: Containerizers) -> std::io::Result<Agent> {
        let work_dir = PathBuf::from(&config.work_dir);
        std::fs::create_dir_all(work_dir.join("meta").join("slaves"))?;
        let id = read_agent_id(&work_dir);
        let gc = Gc::new(config.gc_delay.0);
        let mut state = State { id: id.clone(), ..State::default() };
        let mut updates = StatusUpdates::default();
        if let Some(id) = &id {
            let store = RecordStore::new(&work_dir, id);
            updates = StatusUpdates::recover(&StatusUpdates::dir_of(&work_dir, id))?;
            let mut completed = Vec::new();
            for record in store.load() {
                if record.completed_at.is_some() {
                    completed.push(record);
                } else {
                    state.tasks.insert(record.key(), record);
                }
            }
            completed.sort_by(|a, b| a.completed_at.unwrap_or(0.0).total_cmp(&b.completed_at.unwrap_or(0.0)));
            for record in &completed {
                gc.schedule_run(
                    record.completed_at.unwrap_or(0.0),
                    record.sandbox.clone(),
                    meta_run_dir(&work_dir, id, record),
                    Some(store.path(&record.key())),
                    record.container_id.clone(),
                );
            }
            let skip = completed.len().saturating_sub(MAX_COMPLETED_TASKS);
            state.completed = completed.into_iter().skip(skip).collect();
            state.records = Some(store);
        }
        for parent in [work_dir.join("slaves"), work_dir.join("meta").join("slaves")] {
            for entry in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
                let name = entry.file_name();
                if name != "latest" && id.as_ref().is_none_or(|id| name.to_string_lossy() != id.value) {
                    gc.schedule_dir(entry.path());
                }
            }
        }
        let link = Link::new(config.read_credential().map_err(std::io::Error::other)?);
        let agent = Agent {
            config,
            info,
            start_time: seconds_now(),
            state: Mutex::new(state),
            containers,
            updates: Mutex::new(updates),
            link,
            gc,
            wake_updates: Notify::new(),
            metrics: crate::metrics::Metrics::new(),
        };
        // A crash between the acknowledgement of a terminal update and the record's rewrite leaves an active
        // terminal task with nothing to send: it is completed now.
        let mut state = agent.state.lock().expect("state lock");
        let done: Vec<TaskKey> = {
            let updates = agent.updates.lock().expect("updates lock");
            state
                .tasks
                .values()
                .filter(|t| t.state.is_terminal() && !updates.has_pending(&t.key()))
                .map(TaskRecord::key)
                .collect()
        };
        for key in done {
            agent.complete(&mut state, &key);
        }
        drop(state);
        Ok(agent)
    }

    fn work_dir(&self) -> PathBuf {
        PathBuf::from(&self.config.work_dir)
    }

    /// Moves an active task to the completed ones and schedules its sandbox for garbage collection.
    fn complete(&self, state: &mut State, key: &TaskKey) {
        let Some(mut record) = state.tasks.remove(key) else { return };
        let now = seconds_now();
        record.completed_at = Some(now);
        state.save(&record);
        if let (Some(id), Some(store)) = (&state.id, &state.records) {
            self.gc.schedule_run(
                now,
                record.sandbox.clone(),
                meta_run_dir(&self.work_dir(), id, &record),
                Some(store.path(key)),
                record.container_id.clone(),
            );
        }
        state.completed.push_back(record);
        while state.completed.len() > MAX_COMPLETED_TASKS {
            state.completed.pop_front();
        }
    }

    /// Re-attaches to the containers of active tasks that outlived a previous agent process (or kills them:
    /// with `--recover=cleanup`, and for frameworks without checkpointing), kills containers no active task
    /// owns, and reports tasks whose container is gone. Fails when a task's container cannot be recovered and
    /// `--strict` is set.
    pub async fn recover_containers(&self) -> Result<(), String> {
        let Some(agent_id) = self.state.lock().expect("state lock").id.clone() else { return Ok(()) };
        let cleanup_all = self.config.recover == "cleanup";
        let checkpoints = containerizer::scan_checkpoints(&self.work_dir(), &agent_id.value);
        let names: HashSet<String> = checkpoints.iter().filter_map(|c| c.container_name.clone()).collect();
        let (mut reconnect, mut cleanup, mut orphans) = (Vec::<Checkpoint>::new(), Vec::new(), Vec::new());
        let mut found = HashSet::new();
        {
            let state = self.state.lock().expect("state lock");
            for cp in checkpoints {
                let key = TaskKey::new(&Id::new(&cp.framework_id), &Id::new(&cp.task_id));
                match state.tasks.get(&key).filter(|t| t.container_id == cp.container_id) {
                    Some(record) => {
                        found.insert(key);
                        if record.state.is_terminal() {
                            // Its terminal update is already queued.
                        } else if cleanup_all || record.framework.checkpoint != Some(true) {
                            cleanup.push(cp);
                        } else {
                            reconnect.push(cp);
                        }
                    }
                    None if state.completed.iter().any(|t| t.container_id == cp.container_id) => {}
                    None => orphans.push(cp),
                }
            }
        }
        for cp in &orphans {
            tracing::warn!(task = %cp.task_id, container = %cp.container_id, "cleaning up a container no task owns");
            let meta = containerizer::checkpoint::meta_run_dir(
                &self.work_dir(),
                &agent_id.value,
                &cp.framework_id,
                &cp.executor_id,
                &cp.container_id,
            );
            self.gc.schedule_run(seconds_now(), cp.sandbox_dir.clone(), meta, None, cp.container_id.clone());
        }
        let mut outcomes = self.containers.recover(reconnect, RecoverMode::Reconnect).await;
        outcomes.extend(self.containers.recover(cleanup, RecoverMode::Cleanup).await);
        for outcome in self.containers.recover(orphans, RecoverMode::Cleanup).await {
            if let RecoverResult::Error(e) = outcome.result {
                tracing::warn!(container = %outcome.container_id, error = %e, "cannot clean up an orphaned container");
            }
        }
        for outcome in outcomes {
            tracing::info!(task = %outcome.task_id, container = %outcome.container_id, result = ?outcome.result, "recovered container");
            let record_state = self
                .state
                .lock()
                .expect("state lock")
                .tasks
                .values()
                .find(|t| t.container_id == outcome.container_id)
                .map(|t| t.state);
            match outcome.result {
                // The RUNNING event may have been lost with the previous process.
                RecoverResult::Reattached
                    if matches!(record_state, Some(TaskState::TASK_STAGING | TaskState::TASK_STARTING)) =>
                {
                    self.on_container_event(ContainerEvent::new(
                        &outcome.task_id,
                        &outcome.container_id,
                        containerizer::TaskState::Running,
                        containerizer::EventSource::Executor,
                    ));
                }
                RecoverResult::Error(e) if self.config.strict => {
                    return Err(format!("Failed to recover the container of task '{}': {e}", outcome.task_id));
                }
                RecoverResult::Error(e) => self.on_container_event(
                    ContainerEvent::new(
                        &outcome.task_id,
                        &outcome.container_id,
                        containerizer::TaskState::Failed,
                        containerizer::EventSource::Agent,
                    )
                    .message(format!("Failed to recover the container: {e}"))
                    .reason(containerizer::reasons::EXECUTOR_TERMINATED),
                ),
                _ => {}
            }
        }
        // Active tasks without any container checkpoint (the previous process died while launching them).
        let lost: Vec<(String, String)> = {
            let state = self.state.lock().expect("state lock");
            state
                .tasks
                .iter()
                .filter(|(key, t)| !t.state.is_terminal() && !found.contains(*key))
                .map(|(_, t)| (t.info.task_id.value.clone(), t.container_id.clone()))
                .collect()
        };
        for (task_id, container_id) in lost {
            self.on_container_event(
                ContainerEvent::new(
                    &task_id,
                    &container_id,
                    containerizer::TaskState::Failed,
                    containerizer::EventSource::Agent,
                )
                .message("Abnormal executor termination: no container was found for the task after the agent restarted")
                .reason(containerizer::reasons::EXECUTOR_TERMINATED),
            );
        }
        if self.config.containerizers.contains("docker") && self.config.docker_kill_orphans {
            match self.containers.kill_orphans(Some(&agent_id.value), &names).await {
                Ok(killed) if !killed.is_empty() => tracing::warn!(?killed, "killed orphan containers"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot look for orphan containers"),
            }
        }
        Ok(())
    }

    /// `--recover=cleanup`: once every recovered container is gone, forgets the agent id (the next start
    /// registers as a new agent, as upstream) and returns.
    pub async fn finish_cleanup(&self) {
        while !self.containers.running().is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        match std::fs::remove_file(latest_path(&self.work_dir())) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::error!(error = %e, "cannot remove meta/slaves/latest")
            }
            _ => {}
        }
    }

    /// Turns container events into status updates, forever.
    pub async fn consume_events(&self, mut events: containerizer::EventReceiver) {
        while let Some(event) = events.recv().await {
            self.on_container_event(event);
        }
    }

    fn on_container_event(&self, event: ContainerEvent) {
        let new_state = map_state(event.state);
        let mut state = self.state.lock().expect("state lock");
        let Some(key) = state.key_of_container(&event.container_id) else {
            tracing::debug!(task = %event.task_id, container = %event.container_id, "ignoring an event of a task that is not active");
            return;
        };
        let agent_id = state.id.clone();
        let shutting_down = state.shutting_down.contains(&key.framework_id);
        let Some(record) = state.tasks.get_mut(&key) else { return };
        if record.state.is_terminal() || record.state == new_state {
            // A recovered container re-reports how it ended; the task already has that update.
            tracing::debug!(task = %key, state = ?new_state, "ignoring a repeated container event");
            return;
        }
        record.state = new_state;
        record.statuses.push((new_state, event.timestamp));
        let record = record.clone();
        let mut updates = self.updates.lock().expect("updates lock");
        // After a crash between queueing a terminal update and rewriting the record, the recovered container
        // reports its end again: the queued update stands.
        let repeated_end = new_state.is_terminal() && updates.has_terminal(&key);
        if !shutting_down && !repeated_end {
            let status = TaskStatus {
                task_id: key.task_id.clone(),
                state: new_state,
                message: event.message.clone(),
                source: Some(
                    match event.source {
                        containerizer::EventSource::Executor => "SOURCE_EXECUTOR",
                        containerizer::EventSource::Agent => "SOURCE_AGENT",
                    }
                    .to_string(),
                ),
                reason: event.reason.map(str::to_string),
                data: None,
                agent_id,
                executor_id: Some(key.task_id.clone()),
                timestamp: Some(event.timestamp),
                uuid: Some(base64_uuid()),
                healthy: None,
                labels: None,
                container_status: Some(ContainerStatus {
                    container_id: Some(Id::new(event.container_id.clone())),
                    network_infos: event
                        .container_ip
                        .iter()
                        .map(|ip| NetworkInfo {
                            ip_addresses: vec![IpAddress {
                                ip_address: Some(ip.clone()),
                                protocol: Some("IPv4".into()),
                            }],
                        })
                        .collect(),
                    executor_pid: None,
                }),
                unreachable_time: None,
            };
            // Queued before the record is rewritten: a crash in between repeats the update, never loses it.
            updates.enqueue(&key, status);
        }
        let pending = updates.has_pending(&key);
        drop(updates);
        state.save(&record);
        if new_state.is_terminal() && !pending {
            self.complete(&mut state, &key);
        }
        drop(state);
        self.wake_updates.notify_one();
    }

    /// Sends due status updates to the master, forever (at most one in flight per task).
    pub async fn send_updates(&self) {
        loop {
            tokio::select! {
                _ = self.wake_updates.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if self.link.connection().is_none() {
                continue;
            }
            let due = self.updates.lock().expect("updates lock").due(Instant::now());
            let sends = due.into_iter().map(|(framework_id, status)| async move {
                let task = status.task_id.clone();
                if !self.link.send(&AgentCall::Update { framework_id, status }).await {
                    tracing::debug!(%task, "status update not delivered; it will be retried");
                }
            });
            futures::future::join_all(sends).await;
        }
    }

    fn launch(&self, framework: FrameworkInfo, task: TaskInfo) {
        let mut state = self.state.lock().expect("state lock");
        let Some(agent_id) = state.id.clone() else {
            tracing::warn!(task = %task.task_id, "ignoring a launch before registration");
            return;
        };
        let framework_id = framework.id.clone().unwrap_or_default();
        let key = TaskKey::new(&framework_id, &task.task_id);
        if state.tasks.contains_key(&key) {
            tracing::warn!(task = %key, "ignoring a second launch of an active task");
            return;
        }
        if state.shutting_down.contains(&framework_id) {
            tracing::warn!(task = %key, "ignoring a launch for a framework being shut down");
            return;
        }
        let container_id = uuid::Uuid::new_v4().to_string();
        let spec = launch_spec(&self.config, &self.info, &agent_id, &framework, &task, &container_id);
        let record = TaskRecord {
            framework,
            info: task.clone(),
            state: TaskState::TASK_STAGING,
            container_id,
            sandbox: self.containers.sandbox_dir(&spec),
            launched_at: seconds_now(),
            statuses: Vec::new(),
            completed_at: None,
        };
        state.save(&record);
        state.tasks.insert(key.clone(), record);
        drop(state);
        tracing::info!(task = %key, container = %spec.container_id, docker = spec.docker.is_some(), "launching task");
        let refused = if task.command.is_none() {
            Some(
                ContainerEvent::new(&spec.task_id, &spec.container_id, containerizer::TaskState::Failed, containerizer::EventSource::Agent)
                    .message("Failed to launch container: mesos-rs runs command tasks only (TaskInfo.command); custom executors are not supported")
                    .reason(containerizer::reasons::CONTAINER_LAUNCH_FAILED),
            )
        } else {
            self.containers.launch(spec.clone()).err().map(|e| {
                tracing::warn!(task = %key, error = %e, "launch refused");
                e.to_event(&spec)
            })
        };
        if let Some(event) = refused {
            self.on_container_event(event);
        }
    }

    /// KILL from the master. `grace` overrides the task's kill policy. A task the agent does not know gets
    /// TASK_LOST (TASK_DROPPED for partition-aware frameworks) from the agent, as upstream.
    fn kill(&self, key: &TaskKey, grace: Option<Duration>) {
        let state = self.state.lock().expect("state lock");
        match state.tasks.get(key) {
            Some(record) if !record.state.is_terminal() => {
                let container_id = record.container_id.clone();
                drop(state);
                let ours = self
                    .containers
                    .running()
                    .iter()
                    .any(|c| c.task_id == key.task_id.value && c.container_id == container_id);
                if !ours {
                    tracing::info!(task = %key, "kill of a task whose container is not running; its terminal update follows");
                    return;
                }
                tracing::info!(task = %key, ?grace, "killing task");
                if let Err(e) = self.containers.kill(&key.task_id.value, grace) {
                    tracing::info!(task = %key, error = %e, "kill of a task that just ended");
                }
            }
            Some(_) => tracing::debug!(task = %key, "kill of a task that already ended"),
            None => {
                let partition_aware =
                    state.framework(&key.framework_id).is_some_and(|f| f.has_capability("PARTITION_AWARE"));
                let agent_id = state.id.clone();
                drop(state);
                tracing::warn!(task = %key, "cannot kill a task this agent does not run");
                let status = TaskStatus {
                    task_id: key.task_id.clone(),
                    state: if partition_aware { TaskState::TASK_DROPPED } else { TaskState::TASK_LOST },
                    message: Some("Cannot find executor".into()),
                    source: Some("SOURCE_AGENT".into()),
                    reason: Some("REASON_EXECUTOR_TERMINATED".into()),
                    data: None,
                    agent_id,
                    executor_id: None,
                    timestamp: Some(seconds_now()),
                    uuid: Some(base64_uuid()),
                    healthy: None,
                    labels: None,
                    container_status: None,
                    unreachable_time: None,
                };
                self.updates.lock().expect("updates lock").enqueue(key, status);
                self.wake_updates.notify_one();
            }
        }
    }

    fn acknowledge(&self, key: &TaskKey, uuid: &str) {
        let mut state = self.state.lock().expect("state lock");
        let mut updates = self.updates.lock().expect("updates lock");
        match updates.acknowledge(key, uuid) {
            Some(status) => self.metrics.acknowledged(&status, seconds_now()),
            None => {
                tracing::debug!(task = %key, uuid, "ignoring an acknowledgement that does not match the pending update")
            }
        }
        let pending = updates.has_pending(key);
        drop(updates);
        if !pending && state.tasks.get(key).is_some_and(|t| t.state.is_terminal()) {
            self.complete(&mut state, key);
        }
        drop(state);
        self.wake_updates.notify_one();
    }

    fn shutdown_framework(&self, framework_id: &Id) {
        tracing::info!(framework = %framework_id, "shutting down the framework's tasks");
        let mut state = self.state.lock().expect("state lock");
        state.shutting_down.insert(framework_id.clone());
        self.updates.lock().expect("updates lock").forget_framework(framework_id);
        let keys: Vec<(TaskKey, bool)> = state
            .tasks
            .values()
            .filter(|t| t.framework_id() == *framework_id)
            .map(|t| (t.key(), t.state.is_terminal()))
            .collect();
        let mut kill = Vec::new();
        for (key, terminal) in keys {
            if terminal {
                self.complete(&mut state, &key);
            } else {
                kill.push(key);
            }
        }
        drop(state);
        for key in kill {
            self.kill(&key, Some(self.config.executor_shutdown_grace_period.0));
        }
    }

    fn registered(&self, agent_id: Id, master_info: MasterInfo) {
        let mut state = self.state.lock().expect("state lock");
        if state.id.as_ref() != Some(&agent_id) {
            if let Some(previous) = &state.id {
                tracing::error!(%previous, new = %agent_id, "the master assigned a different agent id");
            }
            let work_dir = self.work_dir();
            if let Err(e) = save_agent_id(&work_dir, &agent_id) {
                tracing::error!(error = %e, "cannot checkpoint the agent id");
            }
            let store = RecordStore::new(&work_dir, &agent_id);
            for record in state.tasks.values() {
                store.save(record);
            }
            state.records = Some(store);
            state.id = Some(agent_id.clone());
            self.updates.lock().expect("updates lock").attach(StatusUpdates::dir_of(&work_dir, &agent_id));
        }
        state.master = Some(master_info);
        drop(state);
        self.updates.lock().expect("updates lock").resend_all();
        self.wake_updates.notify_one();
    }
}

/// Points `meta/slaves/latest` at the agent's meta directory.
fn save_agent_id(work_dir: &Path, agent_id: &Id) -> std::io::Result<()> {
    let slaves = work_dir.join("meta").join("slaves");
    std::fs::create_dir_all(slaves.join(&agent_id.value))?;
    let tmp = slaves.join(".latest.tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&agent_id.value, &tmp)?;
    std::fs::rename(&tmp, latest_path(work_dir))
}

/// The containerizer's meta run directory of a task (command and Docker tasks use the task id as executor id).
fn meta_run_dir(work_dir: &Path, agent_id: &Id, record: &TaskRecord) -> PathBuf {
    containerizer::checkpoint::meta_run_dir(
        work_dir,
        &agent_id.value,
        &record.framework_id().value,
        &record.info.task_id.value,
        &record.container_id,
    )
}

impl Handler for Agent {
    fn registration(&self) -> AgentCall {
        let state = self.state.lock().expect("state lock");
        AgentCall::Register {
            agent_info: self.info.clone(),
            agent_id: state.id.clone(),
            tasks: state
                .tasks
                .values()
                .filter(|t| !state.shutting_down.contains(&t.framework_id()))
                .map(|t| RunningTask { framework: t.framework.clone(), task: t.info.clone(), state: t.state })
                .collect(),
        }
    }

    fn on_event(&self, event: AgentEvent) {
        match event {
            AgentEvent::Registered { agent_id, master_info, .. } => self.registered(agent_id, master_info),
            AgentEvent::Launch { framework, task } => self.launch(framework, task),
            AgentEvent::Kill { framework_id, task_id, kill_policy } => {
                let grace =
                    kill_policy.and_then(|p| p.grace_period).map(|g| Duration::from_nanos(g.nanoseconds.max(0) as u64));
                self.kill(&TaskKey::new(&framework_id, &task_id), grace);
            }
            AgentEvent::Acknowledge { framework_id, task_id, uuid } => {
                self.acknowledge(&TaskKey::new(&framework_id, &task_id), &uuid)
            }
            AgentEvent::ShutdownFramework { framework_id } => self.shutdown_framework(&framework_id),
            // The link answers pings itself.
            AgentEvent::Ping => {}
        }
    }

    fn on_disconnected(&self) {
        self.state.lock().expect("state lock").master = None;
    }
}

/// Formats a duration the way Mesos prints flags (`5secs`, `500ms`).
fn mesos_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}secs", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Builds the containerizer's launch spec from a TaskInfo: the command (run as `CommandInfo.user`, else the
/// framework's user), the Docker settings, resources and the executor environment Mesos gives (MESOS_*
/// variables, then the task's own environment).
pub fn launch_spec(
    config: &Config,
    info: &AgentInfo,
    agent_id: &Id,
    framework: &FrameworkInfo,
    task: &TaskInfo,
    container_id: &str,
) -> LaunchSpec {
    let framework_id = framework.id.clone().unwrap_or_default();
    let command = task.command.clone().unwrap_or(common::mesos::CommandInfo {
        uris: Vec::new(),
        environment: None,
        shell: true,
        value: None,
        arguments: Vec::new(),
        user: None,
    });
    let resources = common::resources::Resources::from_v1(&task.resources).unwrap_or_default();
    let advertise = format!("{}:{}", info.ip, info.port);
    let checkpoint = framework.checkpoint == Some(true);
    let mut env = vec![
        ("MESOS_FRAMEWORK_ID".to_string(), framework_id.value.clone()),
        ("MESOS_EXECUTOR_ID".to_string(), task.task_id.value.clone()),
        ("MESOS_SLAVE_ID".to_string(), agent_id.value.clone()),
        ("MESOS_AGENT_ENDPOINT".to_string(), advertise.clone()),
        ("MESOS_SLAVE_PID".to_string(), format!("slave(1)@{advertise}")),
        ("MESOS_CHECKPOINT".to_string(), if checkpoint { "1" } else { "0" }.to_string()),
        ("MESOS_HTTP_COMMAND_EXECUTOR".to_string(), "0".to_string()),
        ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD".to_string(), mesos_duration(config.executor_shutdown_grace_period.0)),
        ("LIBPROCESS_PORT".to_string(), "0".to_string()),
    ];
    if let Some(ip) = &config.ip {
        env.push(("LIBPROCESS_IP".to_string(), ip.clone()));
    }
    if let Some(environment) = &command.environment {
        env.extend(environment.variables.iter().map(|v| (v.name.clone(), v.value.clone())));
    }
    let docker = task.container.as_ref().filter(|c| c.kind == "DOCKER").and_then(|c| {
        let d = c.docker.as_ref()?;
        Some(containerizer::DockerSpec {
            image: d.image.clone(),
            network: match d.network.as_str() {
                "BRIDGE" => containerizer::DockerNetwork::Bridge,
                "NONE" => containerizer::DockerNetwork::None,
                "USER" => containerizer::DockerNetwork::User(
                    c.network_infos
                        .first()
                        .and_then(|n| n.get("name"))
                        .and_then(|n| n.as_str())
                        .unwrap_or("bridge")
                        .to_string(),
                ),
                _ => containerizer::DockerNetwork::Host,
            },
            port_mappings: d
                .port_mappings
                .iter()
                .map(|p| containerizer::PortMapping {
                    host_port: p.host_port as u16,
                    container_port: p.container_port as u16,
                    protocol: p.protocol.clone(),
                })
                .collect(),
            volumes: c
                .volumes
                .iter()
                .filter_map(|v| {
                    Some(containerizer::Volume {
                        container_path: v.container_path.clone(),
                        host_path: v.host_path.clone()?,
                        mode: if v.mode == "RO" {
                            containerizer::VolumeMode::Ro
                        } else {
                            containerizer::VolumeMode::Rw
                        },
                    })
                })
                .collect(),
            privileged: d.privileged.unwrap_or(false),
            parameters: d.parameters.iter().map(|p| (p.key.clone(), p.value.clone())).collect(),
            force_pull: d.force_pull_image.unwrap_or(false),
            hostname: c.hostname.clone(),
        })
    });
    let kill_grace = task
        .kill_policy
        .as_ref()
        .and_then(|p| p.grace_period.as_ref())
        .map(|g| Duration::from_nanos(g.nanoseconds.max(0) as u64))
        .unwrap_or(config.executor_shutdown_grace_period.0);
    let user = command
        .user
        .clone()
        .filter(|u| !u.is_empty())
        .or_else(|| Some(framework.user.clone()).filter(|u| !u.is_empty()));
    LaunchSpec {
        task_id: task.task_id.value.clone(),
        framework_id: framework_id.value.clone(),
        executor_id: task.task_id.value.clone(),
        container_id: container_id.to_string(),
        agent_id: agent_id.value.clone(),
        sandbox_dir: None,
        command: containerizer::CommandSpec {
            shell: command.shell,
            value: command.value.clone(),
            arguments: command.arguments.clone(),
            env,
            user,
        },
        docker,
        cpus: resources.scalar("cpus"),
        mem_mb: resources.scalar("mem"),
        kill_grace,
        labels: task
            .labels
            .iter()
            .flat_map(|l| l.labels.iter())
            .map(|l| (l.key.clone(), l.value.clone().unwrap_or_default()))
            .collect(),
        killing_state: framework.has_capability("TASK_KILLING_STATE"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::config::MesosDuration;
    use std::sync::Arc;

    fn config(work_dir: &Path, gc_delay: Duration) -> Config {
        Config {
            master: None,
            work_dir: work_dir.display().to_string(),
            ip: None,
            port: 5051,
            hostname: None,
            hostname_lookup: false,
            advertise_ip: None,
            advertise_port: None,
            resources: None,
            attributes: None,
            containerizers: "mesos".into(),
            docker_socket: "/var/run/docker.sock".into(),
            docker_kill_orphans: false,
            executor_shutdown_grace_period: MesosDuration(Duration::from_secs(1)),
            recover: "reconnect".into(),
            strict: true,
            gc_delay: MesosDuration(gc_delay),
            registration_backoff_factor: MesosDuration(Duration::from_secs(1)),
            zk_session_timeout: MesosDuration(Duration::from_secs(10)),
            switch_user: false,
            cgroups_root: None,
            log_dir: None,
            logging_level: "INFO".into(),
            credential: None,
            log_format: "text".into(),
        }
    }

    /// An agent on a work dir, registered as `A-S0`, consuming its container events.
    struct TestAgent {
        agent: Arc<Agent>,
        consumer: tokio::task::JoinHandle<()>,
    }

    impl TestAgent {
        fn start(config: Config) -> TestAgent {
            let (containers, events) = Containerizers::new(containerizer::Config::new(&config.work_dir));
            let info = AgentInfo {
                hostname: "h".into(),
                ip: "127.0.0.1".into(),
                port: 5051,
                resources: Vec::new(),
                attributes: Vec::new(),
                version: "1.11.0".into(),
            };
            let agent = Arc::new(Agent::recover(config, info, containers).expect("recover"));
            let a = agent.clone();
            let consumer = tokio::spawn(async move { a.consume_events(events).await });
            agent.on_event(AgentEvent::Registered {
                agent_id: Id::new("A-S0"),
                master_info: serde_json::from_value(serde_json::json!({"id": "m", "ip": 0, "port": 5050}))
                    .expect("master info"),
                ping_interval_seconds: 15.0,
            });
            TestAgent { agent, consumer }
        }

        /// Stops watching, like an agent process exiting (tasks keep running).
        fn stop(self) {
            self.consumer.abort();
        }

        fn launch(&self, framework: &FrameworkInfo, task_id: &str, command: &str) {
            let task: TaskInfo = serde_json::from_value(serde_json::json!({
                "name": task_id, "task_id": {"value": task_id}, "agent_id": {"value": "A-S0"},
                "command": {"value": command},
            }))
            .expect("task");
            self.agent.on_event(AgentEvent::Launch { framework: framework.clone(), task });
        }

        /// Pending updates of a task, oldest first.
        fn pending(&self, framework: &FrameworkInfo, task_id: &str) -> Vec<TaskStatus> {
            let dir = StatusUpdates::dir_of(&self.agent.work_dir(), &Id::new("A-S0"));
            let key = TaskKey::new(framework.id.as_ref().expect("id"), &Id::new(task_id));
            std::fs::read(dir.join(key.file_name()))
                .ok()
                .and_then(|b| serde_json::from_slice::<crate::updates::TaskStream>(&b).ok())
                .map(|s| s.pending.into_iter().collect())
                .unwrap_or_default()
        }

        fn states(&self, framework: &FrameworkInfo, task_id: &str) -> Vec<TaskState> {
            self.pending(framework, task_id).iter().map(|s| s.state).collect()
        }

        /// Acknowledges the task's pending updates one by one; returns their states.
        fn ack_all(&self, framework: &FrameworkInfo, task_id: &str) -> Vec<TaskState> {
            let mut seen = Vec::new();
            while let Some(head) = self.pending(framework, task_id).first().cloned() {
                seen.push(head.state);
                self.agent.on_event(AgentEvent::Acknowledge {
                    framework_id: framework.id.clone().expect("id"),
                    task_id: Id::new(task_id),
                    uuid: head.uuid.clone().expect("uuid"),
                });
            }
            seen
        }

        fn registered_tasks(&self) -> Vec<(String, TaskState)> {
            match self.agent.registration() {
                AgentCall::Register { tasks, .. } => {
                    tasks.into_iter().map(|t| (t.task.task_id.value, t.state)).collect()
                }
                AgentCall::Update { .. } | AgentCall::Pong { .. } => Vec::new(),
            }
        }
    }

    fn framework(id: &str, capabilities: &[&str]) -> FrameworkInfo {
        serde_json::from_value(serde_json::json!({
            "user": "root", "name": "test", "id": {"value": id}, "checkpoint": true,
            "capabilities": capabilities.iter().map(|c| serde_json::json!({"type": c})).collect::<Vec<_>>(),
        }))
        .expect("framework")
    }

    fn work_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("agent-rt-{tag}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("work dir");
        dir
    }

    async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn updates_are_ordered_and_the_task_completes_after_the_last_ack() {
        let dir = work_dir("order");
        let t = TestAgent::start(config(&dir, Duration::from_secs(3600)));
        let fw = framework("F-0000", &[]);
        t.launch(&fw, "t1", "echo hi");
        eventually("the terminal update", || t.states(&fw, "t1").len() == 3).await;
        assert_eq!(
            t.states(&fw, "t1"),
            vec![TaskState::TASK_STARTING, TaskState::TASK_RUNNING, TaskState::TASK_FINISHED]
        );
        let finished = t.pending(&fw, "t1")[2].clone();
        assert_eq!(finished.message.as_deref(), Some("Command exited with status 0"));
        assert_eq!(finished.source.as_deref(), Some("SOURCE_EXECUTOR"));
        assert_eq!(finished.agent_id, Some(Id::new("A-S0")));
        // Until acknowledged, the ended task is reported when (re)registering.
        assert_eq!(t.registered_tasks(), vec![("t1".to_string(), TaskState::TASK_FINISHED)]);
        // The same task id in another framework is another task.
        let other = framework("F-0001", &[]);
        t.launch(&other, "t1", "true");
        eventually("the other framework's task", || t.states(&other, "t1").len() == 3).await;
        assert_eq!(t.ack_all(&fw, "t1").len(), 3);
        assert_eq!(
            t.registered_tasks(),
            vec![("t1".to_string(), TaskState::TASK_FINISHED)],
            "only the other one is left"
        );
        let state = t.agent.state.lock().unwrap();
        assert_eq!(state.completed.len(), 1);
        assert!(state.completed[0].completed_at.is_some());
        drop(state);
        t.stop();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_launch_of_an_active_task_is_ignored() {
        let dir = work_dir("dup");
        let t = TestAgent::start(config(&dir, Duration::from_secs(3600)));
        let fw = framework("F-0000", &[]);
        t.launch(&fw, "t1", "sleep 30");
        t.launch(&fw, "t1", "sleep 30");
        eventually("RUNNING", || t.states(&fw, "t1").len() == 2).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(t.states(&fw, "t1"), vec![TaskState::TASK_STARTING, TaskState::TASK_RUNNING]);
        assert_eq!(t.agent.containers.running().len(), 1);
        t.agent.on_event(AgentEvent::Kill {
            framework_id: Id::new("F-0000"),
            task_id: Id::new("t1"),
            kill_policy: None,
        });
        eventually("KILLED", || t.states(&fw, "t1").contains(&TaskState::TASK_KILLED)).await;
        t.stop();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kills_announce_killing_and_unknown_tasks_are_lost_or_dropped() {
        let dir = work_dir("kill");
        let t = TestAgent::start(config(&dir, Duration::from_secs(3600)));
        let fw = framework("F-0000", &["TASK_KILLING_STATE", "PARTITION_AWARE"]);
        t.launch(&fw, "t1", "sleep 30");
        eventually("RUNNING", || t.states(&fw, "t1").len() == 2).await;
        t.agent.on_event(AgentEvent::Kill {
            framework_id: Id::new("F-0000"),
            task_id: Id::new("t1"),
            kill_policy: None,
        });
        eventually("KILLED", || t.states(&fw, "t1").len() == 4).await;
        assert_eq!(
            t.states(&fw, "t1"),
            vec![TaskState::TASK_STARTING, TaskState::TASK_RUNNING, TaskState::TASK_KILLING, TaskState::TASK_KILLED]
        );
        // Unknown task of a known, partition-aware framework: TASK_DROPPED; of an unknown framework: TASK_LOST.
        t.agent.on_event(AgentEvent::Kill {
            framework_id: Id::new("F-0000"),
            task_id: Id::new("nope"),
            kill_policy: None,
        });
        let dropped = t.pending(&fw, "nope");
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].state, TaskState::TASK_DROPPED);
        assert_eq!(dropped[0].message.as_deref(), Some("Cannot find executor"));
        assert_eq!(dropped[0].reason.as_deref(), Some("REASON_EXECUTOR_TERMINATED"));
        assert_eq!(dropped[0].source.as_deref(), Some("SOURCE_AGENT"));
        let stranger = framework("F-0009", &[]);
        t.agent.on_event(AgentEvent::Kill {
            framework_id: Id::new("F-0009"),
            task_id: Id::new("x"),
            kill_policy: None,
        });
        assert_eq!(t.states(&stranger, "x"), vec![TaskState::TASK_LOST]);
        assert_eq!(t.ack_all(&stranger, "x"), vec![TaskState::TASK_LOST]);
        t.stop();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restart_keeps_order_reports_exits_and_skips_completed_tasks() {
        let dir = work_dir("restart");
        let fw = framework("F-0000", &[]);
        let first = TestAgent::start(config(&dir, Duration::from_secs(3600)));
        first.launch(&fw, "done", "true");
        eventually("done's terminal update", || first.states(&fw, "done").len() == 3).await;
        first.ack_all(&fw, "done");
        first.launch(&fw, "exits", "sleep 1");
        first.launch(&fw, "runs", "sleep 30");
        eventually("RUNNING", || first.states(&fw, "exits").len() == 2 && first.states(&fw, "runs").len() == 2).await;
        let before = first.pending(&fw, "exits");
        first.stop();

        tokio::time::sleep(Duration::from_millis(1500)).await;
        let second = TestAgent::start(config(&dir, Duration::from_secs(3600)));
        second.agent.recover_containers().await.expect("recovery");
        eventually("the exit seen after the restart", || second.states(&fw, "exits").len() == 3).await;
        let after = second.pending(&fw, "exits");
        assert_eq!(after[..2], before[..], "unacknowledged updates survive unchanged");
        assert_eq!(after[2].state, TaskState::TASK_FINISHED);
        assert_eq!(second.states(&fw, "runs"), vec![TaskState::TASK_STARTING, TaskState::TASK_RUNNING]);
        assert!(second.states(&fw, "done").is_empty(), "a completed task is not reported again");
        assert_eq!(second.agent.state.lock().unwrap().completed.len(), 1);
        let mut registered = second.registered_tasks();
        registered.sort();
        assert_eq!(
            registered,
            vec![("exits".to_string(), TaskState::TASK_FINISHED), ("runs".to_string(), TaskState::TASK_RUNNING)]
        );
        second.agent.on_event(AgentEvent::Kill {
            framework_id: Id::new("F-0000"),
            task_id: Id::new("runs"),
            kill_policy: None,
        });
        eventually("KILLED", || second.states(&fw, "runs").contains(&TaskState::TASK_KILLED)).await;
        second.stop();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cleanup_mode_kills_recovered_tasks_and_forgets_the_id() {
        let dir = work_dir("cleanup");
        let fw = framework("F-0000", &[]);
        let first = TestAgent::start(config(&dir, Duration::from_secs(3600)));
        first.launch(&fw, "runs", "sleep 30");
        eventually("RUNNING", || first.states(&fw, "runs").len() == 2).await;
        let pid = first.agent.containers.running()[0].pid.expect("pid");
        first.stop();

        let mut cleanup = config(&dir, Duration::from_secs(3600));
        cleanup.recover = "cleanup".into();
        let (containers, _events) = Containerizers::new(containerizer::Config::new(&cleanup.work_dir));
        let info = AgentInfo {
            hostname: "h".into(),
            ip: "127.0.0.1".into(),
            port: 5051,
            resources: Vec::new(),
            attributes: Vec::new(),
            version: "1.11.0".into(),
        };
        let agent = Agent::recover(cleanup, info, containers).expect("recover");
        agent.recover_containers().await.expect("recovery");
        tokio::time::timeout(Duration::from_secs(20), agent.finish_cleanup()).await.expect("cleanup finishes");
        assert!(read_agent_id(&dir).is_none(), "the next start registers as a new agent");
        // SAFETY: signal 0 only checks whether the process exists.
        assert!(unsafe { libc::kill(pid, 0) } != 0, "the task was killed");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finished_sandboxes_are_collected_after_the_gc_delay() {
        let dir = work_dir("gc");
        let t = TestAgent::start(config(&dir, Duration::from_millis(500)));
        let a = t.agent.clone();
        let gc = tokio::spawn(async move { a.gc.run().await });
        let fw = framework("F-0000", &[]);
        t.launch(&fw, "t1", "echo hi");
        eventually("the terminal update", || t.states(&fw, "t1").len() == 3).await;
        let sandbox = t.agent.state.lock().unwrap().tasks.values().next().expect("task").sandbox.clone();
        let framework_dir = sandbox.ancestors().nth(4).expect("framework dir").to_path_buf();
        assert!(framework_dir.ends_with("frameworks/F-0000"), "{}", framework_dir.display());
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert!(sandbox.join("stdout").exists(), "kept until the terminal update is acknowledged");
        t.ack_all(&fw, "t1");
        eventually("the sandbox to be collected", || !framework_dir.exists()).await;
        let meta = dir.join("meta/slaves/A-S0/frameworks/F-0000");
        eventually("the checkpoints to be collected", || !meta.exists()).await;
        let records = dir.join("meta/slaves/A-S0/tasks");
        eventually("the record to be collected", || {
            std::fs::read_dir(&records).map(|mut d| d.next().is_none()).unwrap_or(true)
        })
        .await;
        gc.abort();
        t.stop();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_shut_down_framework_is_killed_without_updates() {
        let dir = work_dir("shutdown");
        let t = TestAgent::start(config(&dir, Duration::from_secs(3600)));
        let fw = framework("F-0000", &[]);
        t.launch(&fw, "t1", "sleep 30");
        eventually("RUNNING", || t.states(&fw, "t1").len() == 2).await;
        t.agent.on_event(AgentEvent::ShutdownFramework { framework_id: Id::new("F-0000") });
        assert!(t.states(&fw, "t1").is_empty());
        eventually("the task to be gone", || t.agent.state.lock().unwrap().tasks.is_empty()).await;
        assert!(t.registered_tasks().is_empty());
        assert!(t.states(&fw, "t1").is_empty());
        t.stop();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
