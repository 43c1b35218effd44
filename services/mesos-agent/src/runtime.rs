//! The agent's core: which tasks it runs, how master commands become container launches and kills, and how
//! container events become reliable status updates. Task records and the agent id are checkpointed under
//! `<work_dir>/meta` so a restarted agent re-registers with the same id and re-attaches to its tasks.

use crate::containerizer::{self, Containerizers, ContainerEvent, LaunchSpec};
use crate::flags::Config;
use crate::link::{Handler, Link};
use crate::updates::StatusUpdates;
use base64::Engine;
use common::agent_link::{AgentCall, AgentEvent, AgentInfo, RunningTask};
use common::mesos::{ContainerStatus, FrameworkInfo, Id, IpAddress, MasterInfo, NetworkInfo, TaskInfo, TaskState, TaskStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Completed tasks kept for `/state`.
const MAX_COMPLETED_TASKS: usize = 1000;

/// A task this agent runs (checkpointed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Its framework.
    pub framework: FrameworkInfo,
    /// The task as launched.
    pub info: TaskInfo,
    /// Latest state.
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
}

impl TaskRecord {
    /// The framework id.
    pub fn framework_id(&self) -> Id {
        self.framework.id.clone().unwrap_or_default()
    }
}

/// Mutable agent state.
#[derive(Debug, Default)]
pub struct State {
    /// Assigned id (persisted in `meta/slaves/latest`).
    pub id: Option<Id>,
    /// Current master, once registered.
    pub master: Option<MasterInfo>,
    /// Tasks by id.
    pub tasks: BTreeMap<Id, TaskRecord>,
    /// Finished tasks, oldest first.
    pub completed: VecDeque<TaskRecord>,
}

/// The running agent.
pub struct Agent {
    /// Configuration.
    pub config: Config,
    /// What the agent reports about itself.
    pub info: AgentInfo,
    /// Process start time.
    pub start_time: f64,
    /// Tasks and ids.
    pub state: Mutex<State>,
    /// Task runners.
    pub containers: Containerizers,
    /// Reliable status updates.
    pub updates: Mutex<StatusUpdates>,
    /// The master link.
    pub link: Link,
    wake_updates: Notify,
}

fn meta_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("meta")
}

fn seconds_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl Agent {
    /// Builds the agent, recovering its id, task records and queued updates from the work dir.
    pub fn recover(config: Config, info: AgentInfo, containers: Containerizers) -> std::io::Result<Agent> {
        let work_dir = PathBuf::from(&config.work_dir);
        let meta = meta_dir(&work_dir);
        std::fs::create_dir_all(meta.join("tasks"))?;
        let id = std::fs::read_to_string(meta.join("slaves/latest")).ok().map(|s| Id::new(s.trim())).filter(|i| !i.value.is_empty());
        let mut tasks = BTreeMap::new();
        for entry in std::fs::read_dir(meta.join("tasks"))?.flatten() {
            if let Some(record) = std::fs::read(entry.path()).ok().and_then(|b| serde_json::from_slice::<TaskRecord>(&b).ok()) {
                tasks.insert(record.info.task_id.clone(), record);
            }
        }
        let updates = StatusUpdates::recover(&meta.join("updates"))?;
        Ok(Agent {
            config,
            info,
            start_time: seconds_now(),
            state: Mutex::new(State { id, master: None, tasks, completed: VecDeque::new() }),
            containers,
            updates: Mutex::new(updates),
            link: Link::default(),
            wake_updates: Notify::new(),
        })
    }

    fn work_dir(&self) -> PathBuf {
        PathBuf::from(&self.config.work_dir)
    }

    fn checkpoint_task(&self, record: &TaskRecord) {
        let path = meta_dir(&self.work_dir()).join("tasks").join(safe_name(&record.info.task_id.value));
        let tmp = path.with_extension("tmp");
        let result = serde_json::to_vec(record)
            .map_err(std::io::Error::other)
            .and_then(|b| std::fs::write(&tmp, b))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = result {
            tracing::error!(task = %record.info.task_id, error = %e, "cannot checkpoint task");
        }
    }

    fn forget_task_checkpoint(&self, task_id: &Id) {
        let _ = std::fs::remove_file(meta_dir(&self.work_dir()).join("tasks").join(safe_name(&task_id.value)));
    }

    fn save_id(&self, id: &Id) {
        let dir = meta_dir(&self.work_dir()).join("slaves");
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join("latest"), &id.value)) {
            tracing::error!(error = %e, "cannot checkpoint the agent id");
        }
    }

    /// Re-attaches to (or, with `--recover=cleanup`, kills) tasks that outlived a previous agent process.
    pub async fn recover_containers(&self) {
        let Some(agent_id) = self.state.lock().expect("state lock").id.clone() else { return };
        let mode = if self.config.recover == "cleanup" { containerizer::RecoverMode::Cleanup } else { containerizer::RecoverMode::Reconnect };
        let checkpoints = containerizer::scan_checkpoints(&self.work_dir(), &agent_id.value);
        let known: std::collections::HashSet<String> = checkpoints.iter().map(|c| c.container_id.clone()).collect();
        for outcome in self.containers.recover(checkpoints, mode).await {
            tracing::info!(task = %outcome.task_id, result = ?outcome.result, "recovered container");
        }
        if self.config.containerizers.contains("docker") && self.config.docker_kill_orphans {
            match self.containers.kill_orphans(Some(&agent_id.value), &known).await {
                Ok(killed) if !killed.is_empty() => tracing::warn!(?killed, "killed orphan containers"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot look for orphan containers"),
            }
        }
        // Records whose container is gone for good and has nothing left to report are dropped.
        let running: std::collections::HashSet<String> = self.containers.running().into_iter().map(|c| c.task_id).collect();
        let mut state = self.state.lock().expect("state lock");
        let updates = self.updates.lock().expect("updates lock");
        let stale: Vec<Id> = state
            .tasks
            .values()
            .filter(|t| !running.contains(&t.info.task_id.value) && t.state.is_terminal() && !updates.has_pending(&t.info.task_id))
            .map(|t| t.info.task_id.clone())
            .collect();
        for id in stale {
            state.tasks.remove(&id);
            self.forget_task_checkpoint(&id);
        }
    }

    /// Turns container events into status updates, forever.
    pub async fn consume_events(&self, mut events: containerizer::EventReceiver) {
        while let Some(event) = events.recv().await {
            self.on_container_event(event);
        }
    }

    fn on_container_event(&self, event: ContainerEvent) {
        let state_now = match event.state {
            containerizer::TaskState::Starting => TaskState::TASK_STARTING,
            containerizer::TaskState::Running => TaskState::TASK_RUNNING,
            containerizer::TaskState::Finished => TaskState::TASK_FINISHED,
            containerizer::TaskState::Failed => TaskState::TASK_FAILED,
            containerizer::TaskState::Killed => TaskState::TASK_KILLED,
            containerizer::TaskState::Error => TaskState::TASK_ERROR,
        };
        let task_id = Id::new(event.task_id.clone());
        let mut state = self.state.lock().expect("state lock");
        let agent_id = state.id.clone();
        let Some(record) = state.tasks.get_mut(&task_id) else {
            tracing::debug!(task = %task_id, "event for an unknown task");
            return;
        };
        record.state = state_now;
        record.statuses.push((state_now, event.timestamp));
        let record_snapshot = record.clone();
        self.checkpoint_task(&record_snapshot);
        let status = TaskStatus {
            task_id: task_id.clone(),
            state: state_now,
            message: event.message.clone(),
            source: Some(match event.source {
                containerizer::EventSource::Executor => "SOURCE_EXECUTOR".to_string(),
                containerizer::EventSource::Agent => "SOURCE_AGENT".to_string(),
            }),
            reason: event.reason.map(str::to_string),
            data: None,
            agent_id,
            executor_id: Some(task_id.clone()),
            timestamp: Some(event.timestamp),
            uuid: Some(base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes())),
            healthy: None,
            labels: None,
            container_status: Some(ContainerStatus {
                container_id: Some(Id::new(event.container_id.clone())),
                network_infos: event
                    .container_ip
                    .iter()
                    .map(|ip| NetworkInfo { ip_addresses: vec![IpAddress { ip_address: Some(ip.clone()), protocol: Some("IPv4".into()) }] })
                    .collect(),
                executor_pid: None,
            }),
            unreachable_time: None,
        };
        drop(state);
        self.updates.lock().expect("updates lock").enqueue(&record_snapshot.framework_id(), status);
        self.wake_updates.notify_one();
    }

    /// Sends due status updates to the master, forever.
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
            for (framework_id, status) in due {
                self.link.send(&AgentCall::Update { framework_id, status }).await;
            }
        }
    }

    fn launch(&self, framework: FrameworkInfo, task: TaskInfo) {
        let mut state = self.state.lock().expect("state lock");
        let Some(agent_id) = state.id.clone() else { return };
        if state.tasks.contains_key(&task.task_id) {
            return;
        }
        let framework_id = framework.id.clone().unwrap_or_default();
        let container_id = uuid::Uuid::new_v4().to_string();
        let spec = launch_spec(&self.config, &self.info, &agent_id, &framework_id, &task, &container_id);
        let sandbox = self.containers.sandbox_dir(&spec);
        let record = TaskRecord {
            framework,
            info: task.clone(),
            state: TaskState::TASK_STAGING,
            container_id,
            sandbox,
            launched_at: seconds_now(),
            statuses: Vec::new(),
        };
        self.checkpoint_task(&record);
        state.tasks.insert(task.task_id.clone(), record);
        drop(state);
        if let Err(e) = self.containers.launch(spec.clone()) {
            tracing::warn!(task = %task.task_id, error = %e, "launch refused");
            self.on_container_event(e.to_event(&spec));
        }
    }

    fn kill(&self, task_id: &Id, grace: Option<Duration>) {
        let known = self.state.lock().expect("state lock").tasks.get(task_id).map(|t| t.state.is_terminal());
        match known {
            Some(false) => {
                let grace = grace.or(Some(self.config.executor_shutdown_grace_period.0));
                if let Err(e) = self.containers.kill(&task_id.value, grace) {
                    tracing::debug!(task = %task_id, error = %e, "kill of a task that is not running");
                }
            }
            Some(true) => {}
            None => tracing::debug!(task = %task_id, "kill for an unknown task"),
        }
    }

    fn acknowledge(&self, task_id: &Id, uuid: &str) {
        self.updates.lock().expect("updates lock").acknowledge(task_id, uuid);
        self.wake_updates.notify_one();
        let pending = self.updates.lock().expect("updates lock").has_pending(task_id);
        let mut state = self.state.lock().expect("state lock");
        if !pending && state.tasks.get(task_id).is_some_and(|t| t.state.is_terminal()) {
            if let Some(record) = state.tasks.remove(task_id) {
                state.completed.push_back(record);
                while state.completed.len() > MAX_COMPLETED_TASKS {
                    state.completed.pop_front();
                }
            }
            drop(state);
            self.forget_task_checkpoint(task_id);
        }
    }
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
                .filter(|t| !t.state.is_terminal())
                .map(|t| RunningTask { framework: t.framework.clone(), task: t.info.clone(), state: t.state })
                .collect(),
        }
    }

    fn on_event(&self, event: AgentEvent) {
        match event {
            AgentEvent::Registered { agent_id, master_info, .. } => {
                self.save_id(&agent_id);
                let mut state = self.state.lock().expect("state lock");
                state.id = Some(agent_id);
                state.master = Some(master_info);
                drop(state);
                self.updates.lock().expect("updates lock").resend_all();
                self.wake_updates.notify_one();
            }
            AgentEvent::Launch { framework, task } => self.launch(framework, task),
            AgentEvent::Kill { task_id, kill_policy, .. } => {
                let grace = kill_policy
                    .and_then(|p| p.grace_period)
                    .map(|g| Duration::from_nanos(g.nanoseconds.max(0) as u64));
                self.kill(&task_id, grace);
            }
            AgentEvent::Acknowledge { task_id, uuid, .. } => self.acknowledge(&task_id, &uuid),
            AgentEvent::ShutdownFramework { framework_id } => {
                let tasks: Vec<Id> = self
                    .state
                    .lock()
                    .expect("state lock")
                    .tasks
                    .values()
                    .filter(|t| t.framework_id() == framework_id)
                    .map(|t| t.info.task_id.clone())
                    .collect();
                for task in tasks {
                    self.kill(&task, None);
                }
                self.updates.lock().expect("updates lock").forget_framework(&framework_id);
            }
            AgentEvent::Ping => {}
        }
    }

    fn on_disconnected(&self) {
        self.state.lock().expect("state lock").master = None;
    }
}

/// Builds the containerizer's launch spec from a TaskInfo: the command, the Docker settings, resources and
/// the executor environment Mesos gives (MESOS_* variables, then the task's own environment).
pub fn launch_spec(config: &Config, info: &AgentInfo, agent_id: &Id, framework_id: &Id, task: &TaskInfo, container_id: &str) -> LaunchSpec {
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
    let mut env = vec![
        ("MESOS_FRAMEWORK_ID".to_string(), framework_id.value.clone()),
        ("MESOS_EXECUTOR_ID".to_string(), task.task_id.value.clone()),
        ("MESOS_SLAVE_ID".to_string(), agent_id.value.clone()),
        ("MESOS_AGENT_ENDPOINT".to_string(), advertise.clone()),
        ("MESOS_SLAVE_PID".to_string(), format!("slave(1)@{advertise}")),
        ("MESOS_CHECKPOINT".to_string(), "1".to_string()),
        ("MESOS_HTTP_COMMAND_EXECUTOR".to_string(), "0".to_string()),
        ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD".to_string(), format!("{}secs", config.executor_shutdown_grace_period.0.as_secs())),
    ];
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
                    c.network_infos.first().and_then(|n| n.get("name")).and_then(|n| n.as_str()).unwrap_or("bridge").to_string(),
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
                        mode: if v.mode == "RO" { containerizer::VolumeMode::Ro } else { containerizer::VolumeMode::Rw },
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
            user: command.user.clone(),
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
    }
}

fn safe_name(id: &str) -> String {
    let safe: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    format!("{safe}.json")
}
