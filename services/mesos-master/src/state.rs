//! The leading master's in-memory state: agents, frameworks, tasks and offers, and the transitions between them.
//!
//! Every operation is a plain method on [`Master`] that updates the maps and pushes events onto the affected
//! framework or agent streams (in-memory channels), so the whole life cycle is testable without sockets. The HTTP
//! layer (`api/`) only parses requests and calls these methods under one lock. Allocation decisions come from
//! the pure [`allocator`], whose [`AllocatorState`] the master keeps up to date as things happen (agents come
//! and go, offers are made, declined and used, tasks end). Changes to what the durable registry holds are
//! recorded as [`registry::Key`]s and drained by [`Master::registry_changes`].

use crate::registry::{self, AgentEntry, Change, FrameworkEntry, Key, Kind, Registry, UnreachableEntry};
use common::agent_link::{AgentEvent, AgentInfo, RunningTask};
use common::mesos::scheduler::Event;
use common::mesos::{
    Address, AllocationInfo, ContainerStatus, FrameworkInfo, Id, KillPolicy, MasterInfo, Offer, Operation, TaskInfo,
    TaskState, TaskStatus, TimeInfo, Url,
};
use common::resources::{ReservationFormat, Resources};
use mesos_master::allocator::{self, AllocatorError, AllocatorState};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// Seconds since the epoch, as Mesos reports times.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Milliseconds since the epoch: the allocator's clock.
fn millis(secs: f64) -> u64 {
    (secs.max(0.0) * 1000.0) as u64
}

/// An open event stream to a framework or agent, identified so a stale stream cannot close a newer one.
/// Events travel boxed: an unbounded channel allocates its slots 32 at a time, and a launch event is close
/// to a kilobyte, so 10,000 agent links of unboxed events held ~280 MB of empty slots.
#[derive(Debug, Clone)]
pub struct Stream<E> {
    /// The `Mesos-Stream-Id` given to the client.
    pub id: String,
    /// Where events go.
    pub tx: UnboundedSender<Box<E>>,
}

impl<E> Stream<E> {
    /// A new stream with a fresh `Mesos-Stream-Id`, and the receiving end its response body reads.
    pub fn open() -> (Stream<E>, UnboundedReceiver<Box<E>>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Stream { id: uuid::Uuid::new_v4().to_string(), tx }, rx)
    }

    /// Queues an event; false once the client has gone.
    pub fn send(&self, event: E) -> bool {
        self.tx.send(Box::new(event)).is_ok()
    }
}

/// One recorded status of a task: what `/state`'s `statuses` show of it (as upstream's), not the whole
/// update. Tens of thousands of tasks each keep several, so the message, source, reason and uuid are not kept.
#[derive(Debug, Clone)]
pub struct StatusRecord {
    /// The state.
    pub state: TaskState,
    /// When, in seconds since the epoch.
    pub timestamp: f64,
    /// The health-check result it carried.
    pub healthy: Option<bool>,
    /// The container's addresses it carried.
    pub container_status: Option<ContainerStatus>,
}

/// A task the master knows.
#[derive(Debug, Clone)]
pub struct Task {
    /// The task as launched, less what only its agent needs ([`Task::kept`]).
    pub info: TaskInfo,
    /// Its framework.
    pub framework_id: Id,
    /// Role its resources are allocated to.
    pub role: String,
    /// Current state.
    pub state: TaskState,
    /// State history.
    pub statuses: Vec<StatusRecord>,
    /// The uuid of the last reliable update recorded: its resends are forwarded but not recorded again.
    pub last_uuid: Option<String>,
    /// Its resources.
    pub resources: Resources,
}

/// A registered agent.
#[derive(Debug)]
pub struct Agent {
    /// Assigned id.
    pub id: Id,
    /// What the agent said about itself.
    pub info: AgentInfo,
    /// Total resources.
    pub total: Resources,
    /// Resources used by tasks.
    pub used: Resources,
    /// Resources in outstanding offers.
    pub offered: Resources,
    /// When this master admitted it.
    pub registered_time: f64,
    /// Last re-registration time.
    pub reregistered_time: Option<f64>,
    /// The open link, if connected.
    pub link: Option<Stream<AgentEvent>>,
    /// Consecutive ping intervals in which the link was down or the last ping went unanswered.
    pub missed_pings: u32,
    /// A ping went down the link and its PONG has not come back yet.
    pub awaiting_pong: bool,
    /// Tasks on this agent: (framework id, task id).
    pub tasks: BTreeSet<(Id, Id)>,
}

impl Agent {
    /// The agent's libprocess-style pid, `slave(1)@ip:port`, which the web UI uses to reach it.
    pub fn pid(&self) -> String {
        format!("slave(1)@{}:{}", self.info.ip, self.info.port)
    }
}

/// A framework known to the master.
#[derive(Debug)]
pub struct Framework {
    /// Assigned id.
    pub id: Id,
    /// FrameworkInfo as last subscribed.
    pub info: FrameworkInfo,
    /// The open subscription, if connected.
    pub stream: Option<Stream<Event>>,
    /// Whether offers may be sent.
    pub active: bool,
    /// Known only from the registry or from agents' tasks since this master was elected: it has not
    /// re-subscribed yet (no failover timer runs until it has).
    pub recovered: bool,
    /// Registration time.
    pub registered_time: f64,
    /// Last re-registration time.
    pub reregistered_time: Option<f64>,
    /// When it disconnected (failover timer start).
    pub unregistered_time: Option<f64>,
    /// Active tasks by id.
    pub tasks: BTreeMap<Id, Task>,
    /// Tasks on agents marked unreachable, by id.
    pub unreachable_tasks: BTreeMap<Id, Task>,
    /// Completed tasks, oldest first.
    pub completed_tasks: VecDeque<Task>,
    /// Outstanding offers.
    pub offers: Vec<Id>,
}

impl Framework {
    /// A framework with no tasks, connected on `stream` or (without one) recovered.
    fn new(id: Id, info: FrameworkInfo, stream: Option<Stream<Event>>, now: f64) -> Framework {
        let connected = stream.is_some();
        Framework {
            id,
            info,
            stream,
            active: connected,
            recovered: !connected,
            registered_time: now,
            reregistered_time: None,
            unregistered_time: None,
            tasks: BTreeMap::new(),
            unreachable_tasks: BTreeMap::new(),
            completed_tasks: VecDeque::new(),
            offers: Vec::new(),
        }
    }

    /// Resources used by its tasks.
    pub fn used(&self) -> Resources {
        let mut total = Resources::default();
        for task in self.tasks.values() {
            total.add(&task.resources);
        }
        total
    }

    fn partition_aware(&self) -> bool {
        self.info.has_capability("PARTITION_AWARE")
    }

    fn send(&mut self, event: Event) {
        if let Some(stream) = &self.stream {
            if !stream.send(event) {
                self.stream = None;
            }
        }
    }
}

/// An outstanding offer.
#[derive(Debug, Clone)]
pub struct OfferRecord {
    /// The offer as sent.
    pub offer: Offer,
    /// Role the resources are allocated to.
    pub role: String,
    /// Its resources.
    pub resources: Resources,
    /// When it was made.
    pub created: f64,
}

/// Why a scheduler call was refused; the HTTP layer maps these to status codes.
#[derive(Debug, PartialEq)]
pub enum CallError {
    /// 400 with this message.
    BadRequest(String),
    /// 403 with this message.
    Forbidden(String),
}

/// The master's state.
#[derive(Debug)]
pub struct Master {
    /// This master.
    pub info: MasterInfo,
    /// Process start time.
    pub start_time: f64,
    /// When this master was elected.
    pub elected_time: Option<f64>,
    /// Cluster name.
    pub cluster: Option<String>,
    /// Agents admitted by this master, connected or not, by id.
    pub agents: BTreeMap<Id, Agent>,
    /// Agents from the recovered registry that have not re-registered yet.
    pub recovered_agents: BTreeMap<Id, AgentInfo>,
    /// Agents marked unreachable, with when.
    pub unreachable_agents: BTreeMap<Id, f64>,
    /// Frameworks by id.
    pub frameworks: BTreeMap<Id, Framework>,
    /// Removed frameworks, oldest first.
    pub completed_frameworks: VecDeque<Framework>,
    /// Outstanding offers by id.
    pub offers: HashMap<Id, OfferRecord>,
    /// Limits on completed history.
    pub max_completed_frameworks: usize,
    /// Completed tasks kept per framework.
    pub max_completed_tasks_per_framework: usize,
    /// The allocator's view, kept in step with the maps above.
    pub allocator: AllocatorState,
    /// Open operator API event streams (`SUBSCRIBE` on `/api/v1`).
    pub operator_streams: Vec<Stream<serde_json::Value>>,
    recovered: bool,
    reregister_deadline: Option<f64>,
    dirty: BTreeSet<Key>,
    next_framework: u64,
    next_agent: u64,
    next_offer: u64,
}

/// Logs allocator bookkeeping that does not match the master's (a bug, never outside input).
fn checked(what: &str, result: Result<(), AllocatorError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "allocator bookkeeping out of step on {what}");
    }
}

impl Master {
    /// An empty master that has not recovered yet, with the allocator given.
    pub fn new(info: MasterInfo, cluster: Option<String>, allocator: AllocatorState) -> Master {
        Master {
            info,
            start_time: now_secs(),
            elected_time: None,
            cluster,
            agents: BTreeMap::new(),
            recovered_agents: BTreeMap::new(),
            unreachable_agents: BTreeMap::new(),
            frameworks: BTreeMap::new(),
            completed_frameworks: VecDeque::new(),
            offers: HashMap::new(),
            max_completed_frameworks: 50,
            max_completed_tasks_per_framework: 1000,
            allocator,
            operator_streams: Vec::new(),
            recovered: false,
            reregister_deadline: None,
            dirty: BTreeSet::new(),
            next_framework: 0,
            next_agent: 0,
            next_offer: 0,
        }
    }

    // ----- recovery and the registry ------------------------------------------------------------------------

    /// Whether the registry has been recovered: until then scheduler and agent calls are refused.
    pub fn is_recovered(&self) -> bool {
        self.recovered
    }

    /// Takes in the recovered registry: its agents wait `reregister_timeout` seconds to re-register, its
    /// unreachable agents stay unreachable, its frameworks are known (recovered) until they re-subscribe.
    pub fn recover(&mut self, registry: Registry, now: f64, reregister_timeout: f64) {
        for AgentEntry { id, info } in registry.agents {
            if !self.agents.contains_key(&id) {
                self.recovered_agents.insert(id, info);
            }
        }
        for UnreachableEntry { id, timestamp } in registry.unreachable {
            if !self.agents.contains_key(&id) && !self.recovered_agents.contains_key(&id) {
                self.unreachable_agents.insert(id, timestamp);
            }
        }
        for FrameworkEntry { id, info } in registry.frameworks {
            if !self.frameworks.contains_key(&id) {
                self.add_recovered_framework(id, info, now);
            }
        }
        self.recovered = true;
        self.reregister_deadline = (!self.recovered_agents.is_empty()).then_some(now + reregister_timeout);
        tracing::info!(
            agents = self.recovered_agents.len(),
            unreachable = self.unreachable_agents.len(),
            frameworks = self.frameworks.len(),
            "recovered the registry"
        );
    }

    /// After the re-registration timeout, marks recovered agents that did not re-register unreachable and
    /// returns them.
    pub fn expire_recovered_agents(&mut self, now: f64) -> Vec<Id> {
        if self.reregister_deadline.is_none_or(|deadline| now < deadline) {
            return Vec::new();
        }
        self.reregister_deadline = None;
        let expired: Vec<Id> = std::mem::take(&mut self.recovered_agents).into_keys().collect();
        for id in &expired {
            tracing::warn!(agent = %id, "agent did not re-register within the timeout; marking it unreachable");
            self.unreachable_agents.insert(id.clone(), now);
            self.touch(Kind::Agents, id);
            self.touch(Kind::Unreachable, id);
        }
        expired
    }

    /// The registry entries changed since the last call, with their current values.
    pub fn registry_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.dirty)
            .into_iter()
            .map(|key| {
                let value = match key.kind {
                    Kind::Agents => self
                        .agents
                        .get(&key.id)
                        .map(|a| &a.info)
                        .or_else(|| self.recovered_agents.get(&key.id))
                        .and_then(|info| {
                            serde_json::to_value(AgentEntry { id: key.id.clone(), info: info.clone() }).ok()
                        }),
                    Kind::Unreachable => self.unreachable_agents.get(&key.id).and_then(|t| {
                        serde_json::to_value(UnreachableEntry { id: key.id.clone(), timestamp: *t }).ok()
                    }),
                    Kind::Frameworks => self.frameworks.get(&key.id).and_then(|f| {
                        serde_json::to_value(FrameworkEntry { id: key.id.clone(), info: f.info.clone() }).ok()
                    }),
                };
                Change { key, value }
            })
            .collect()
    }

    /// Records that a registry entry changed.
    fn touch(&mut self, kind: Kind, id: &Id) {
        self.dirty.insert(registry::Key::new(kind, id));
    }

    fn add_recovered_framework(&mut self, id: Id, mut info: FrameworkInfo, now: f64) {
        info.id = Some(id.clone());
        self.allocator.add_framework(&id.value, info.effective_roles());
        checked("recovering a framework", self.allocator.set_framework_active(&id.value, false));
        self.frameworks.insert(id.clone(), Framework::new(id, info, None, now));
    }

    // ----- agents -------------------------------------------------------------------------------------------

    /// Admits an agent, or re-admits one that names its previous id (after a link failure, a master failover,
    /// or being marked unreachable), and returns its id. Tasks it reports are adopted; tasks of frameworks
    /// that were torn down are shut down on it.
    pub fn register_agent(
        &mut self,
        info: AgentInfo,
        previous_id: Option<Id>,
        running: Vec<RunningTask>,
        link: Stream<AgentEvent>,
    ) -> Result<Id, String> {
        let total = Resources::from_v1(&info.resources).map_err(|e| format!("invalid agent resources: {e}"))?;
        let now = now_secs();
        let reregistering = previous_id.is_some();
        let id = previous_id.unwrap_or_else(|| {
            let id = Id::new(format!("{}-S{}", self.info.id, self.next_agent));
            self.next_agent += 1;
            id
        });
        let known = self.agents.contains_key(&id);
        let was_recovered = self.recovered_agents.remove(&id).is_some();
        let was_unreachable = self.unreachable_agents.remove(&id).is_some();
        if was_unreachable {
            self.touch(Kind::Unreachable, &id);
        }
        // Upstream tells frameworks about the tasks of agents it did not expect (unreachable or unknown ones).
        let announce = reregistering && !known && !was_recovered;
        let reason = if was_unreachable { "Unreachable agent re-registered" } else { "Unknown agent re-registered" };
        match self.agents.get_mut(&id) {
            Some(agent) => {
                agent.info = info;
                agent.total = total.clone();
                agent.link = Some(link.clone());
                agent.missed_pings = 0;
                agent.awaiting_pong = false;
                agent.reregistered_time = Some(now);
            }
            None => {
                self.agents.insert(
                    id.clone(),
                    Agent {
                        id: id.clone(),
                        info,
                        total: total.clone(),
                        used: Resources::default(),
                        offered: Resources::default(),
                        registered_time: now,
                        reregistered_time: reregistering.then_some(now),
                        link: Some(link.clone()),
                        missed_pings: 0,
                        awaiting_pong: false,
                        tasks: BTreeSet::new(),
                    },
                );
            }
        }
        self.touch(Kind::Agents, &id);
        self.allocator.add_agent(&id.value, total);

        let reported: BTreeSet<(Id, Id)> =
            running.iter().filter_map(|r| Some((r.framework.id.clone()?, r.task.task_id.clone()))).collect();
        if known {
            self.drop_unlaunched_tasks(&id, &reported);
        }
        let mut shutdown = BTreeSet::new();
        for task in running {
            let Some(framework_id) = task.framework.id.clone() else { continue };
            if self.completed_frameworks.iter().any(|f| f.id == framework_id) {
                shutdown.insert(framework_id);
                continue;
            }
            self.adopt_task(&id, task, announce.then_some(reason));
        }
        for framework_id in shutdown {
            tracing::info!(agent = %id, framework = %framework_id, "shutting down a removed framework's tasks on the agent");
            link.send(AgentEvent::ShutdownFramework { framework_id });
        }
        tracing::info!(agent = %id, reregistering, was_recovered, was_unreachable, "agent registered");
        if !known {
            let agent = self.agents.get(&id).map(operator_agent).unwrap_or_default();
            self.publish("AGENT_ADDED", || serde_json::json!({ "agent": agent }));
        }
        Ok(id)
    }

    /// Tasks still STAGING at the master that a re-registering agent does not report never reached it (the
    /// launch was lost with the old link): they are reported lost (dropped, when partition-aware).
    fn drop_unlaunched_tasks(&mut self, agent_id: &Id, reported: &BTreeSet<(Id, Id)>) {
        let Some(agent) = self.agents.get(agent_id) else { return };
        let missing: Vec<(Id, Id)> = agent.tasks.iter().filter(|key| !reported.contains(key)).cloned().collect();
        for (framework_id, task_id) in missing {
            let Some(framework) = self.frameworks.get_mut(&framework_id) else { continue };
            if framework.tasks.get(&task_id).is_none_or(|t| t.state != TaskState::TASK_STAGING) {
                continue;
            }
            let state = if framework.partition_aware() { TaskState::TASK_DROPPED } else { TaskState::TASK_LOST };
            let status = master_status(
                &task_id,
                Some(agent_id),
                state,
                "Task was not received by the agent",
                "REASON_RECONCILIATION",
            );
            self.finish_task(agent_id, &framework_id, &task_id, status);
        }
    }

    /// Adds a task an agent reports, unless already known; `announce` sends its state to the framework.
    fn adopt_task(&mut self, agent_id: &Id, running: RunningTask, announce: Option<&str>) {
        let Some(framework_id) = running.framework.id.clone() else { return };
        if !self.frameworks.contains_key(&framework_id) {
            self.add_recovered_framework(framework_id.clone(), running.framework.clone(), now_secs());
            self.touch(Kind::Frameworks, &framework_id);
        }
        let Some(framework) = self.frameworks.get_mut(&framework_id) else { return };
        let task_id = running.task.task_id.clone();
        if framework.tasks.contains_key(&task_id) {
            return;
        }
        framework.unreachable_tasks.remove(&task_id);
        framework.completed_tasks.retain(|t| t.info.task_id != task_id);
        let resources = Resources::from_v1(&running.task.resources).unwrap_or_default();
        let role = running
            .task
            .resources
            .iter()
            .find_map(|r| r.allocation_info.as_ref().map(|a| a.role.clone()))
            .unwrap_or_else(|| framework.info.effective_roles()[0].clone());
        let mut task = Task {
            info: Task::kept(running.task),
            framework_id: framework_id.clone(),
            role: role.clone(),
            state: running.state,
            statuses: Vec::new(),
            last_uuid: None,
            resources: resources.clone(),
        };
        let status = master_status(
            &task_id,
            Some(agent_id),
            running.state,
            announce.unwrap_or(""),
            if announce.is_some() { "REASON_AGENT_REREGISTERED" } else { "" },
        );
        task.record(&status);
        if announce.is_some() {
            framework.send(Event::update(status));
        }
        framework.tasks.insert(task_id.clone(), task);
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.used.add(&resources);
            agent.tasks.insert((framework_id.clone(), task_id));
        }
        checked(
            "adopting a task",
            self.allocator.add_allocation(&framework_id.value, &role, &agent_id.value, &resources),
        );
    }

    /// The agent's link closed (if it is still the one given): its offers are rescinded and it gets no more
    /// until it re-registers; missed pings count from now.
    pub fn agent_disconnected(&mut self, agent_id: &Id, stream_id: &str) {
        let Some(agent) = self.agents.get_mut(agent_id) else { return };
        if agent.link.as_ref().is_none_or(|l| l.id != stream_id) {
            return;
        }
        agent.link = None;
        tracing::info!(agent = %agent_id, "agent disconnected");
        checked("deactivating an agent", self.allocator.set_agent_active(&agent_id.value, false));
        self.rescind_agent_offers(agent_id);
    }

    /// Pings every connected agent and counts, per agent, consecutive intervals in which its link was down or
    /// its previous ping went unanswered (a partitioned agent's link stays open until TCP gives up, so only the
    /// missing PONG shows it); returns agents whose count reached `max_missed`.
    pub fn ping_agents(&mut self, max_missed: u32) -> Vec<Id> {
        let mut lost = Vec::new();
        let mut dead_links = Vec::new();
        for agent in self.agents.values_mut() {
            let sent = agent.link.as_ref().is_some_and(|l| l.send(AgentEvent::Ping));
            if sent && !agent.awaiting_pong {
                agent.missed_pings = 0;
            } else {
                agent.missed_pings += 1;
                if agent.missed_pings >= max_missed {
                    lost.push(agent.id.clone());
                }
            }
            if sent {
                agent.awaiting_pong = true;
            } else if let Some(link) = &agent.link {
                dead_links.push((agent.id.clone(), link.id.clone()));
            }
        }
        for (agent_id, stream_id) in dead_links {
            self.agent_disconnected(&agent_id, &stream_id);
        }
        lost
    }

    /// A PONG from an agent on the stream `stream_id`; returns false unless that is the agent's current link.
    pub fn agent_ponged(&mut self, agent_id: &Id, stream_id: &str) -> bool {
        match self.agents.get_mut(agent_id) {
            Some(agent) if agent.link.as_ref().is_some_and(|l| l.id == stream_id) => {
                agent.awaiting_pong = false;
                true
            }
            _ => false,
        }
    }

    /// Marks an agent unreachable: its offers are rescinded, its tasks reported TASK_UNREACHABLE
    /// (TASK_LOST to frameworks that are not partition-aware) and kept as unreachable tasks, and every
    /// framework gets a FAILURE event. It is re-admitted if it re-registers.
    pub fn mark_agent_unreachable(&mut self, agent_id: &Id, now: f64) {
        self.rescind_agent_offers(agent_id);
        let Some(agent) = self.agents.remove(agent_id) else { return };
        tracing::warn!(agent = %agent_id, "agent unreachable; removing it");
        self.publish("AGENT_REMOVED", || serde_json::json!({ "agent_id": agent_id }));
        self.allocator.remove_agent(&agent_id.value);
        self.unreachable_agents.insert(agent_id.clone(), now);
        self.touch(Kind::Agents, agent_id);
        self.touch(Kind::Unreachable, agent_id);
        let unreachable_time = TimeInfo { nanoseconds: (now * 1e9) as i64 };
        for (framework_id, task_id) in &agent.tasks {
            let Some(framework) = self.frameworks.get_mut(framework_id) else { continue };
            let state = if framework.partition_aware() { TaskState::TASK_UNREACHABLE } else { TaskState::TASK_LOST };
            let Some(mut task) = framework.tasks.remove(task_id) else { continue };
            let status = TaskStatus {
                unreachable_time: Some(unreachable_time.clone()),
                ..master_status(task_id, Some(agent_id), state, "Agent is unreachable", "REASON_AGENT_REMOVED")
            };
            task.record(&status);
            framework.send(Event::update(status));
            framework.unreachable_tasks.insert(task_id.clone(), task);
            while framework.unreachable_tasks.len() > self.max_completed_tasks_per_framework {
                framework.unreachable_tasks.pop_first();
            }
        }
        for framework in self.frameworks.values_mut() {
            framework.send(Event::agent_failure(agent_id.clone()));
        }
    }

    /// A status update from an agent: records it, frees resources on terminal states and forwards it.
    pub fn status_update(&mut self, agent_id: &Id, framework_id: &Id, status: TaskStatus) {
        if !self.frameworks.contains_key(framework_id) {
            // The framework is gone: acknowledge on its behalf so the agent stops retrying.
            if let (Some(uuid), Some(link)) = (&status.uuid, self.agents.get(agent_id).and_then(|a| a.link.as_ref())) {
                link.send(AgentEvent::Acknowledge {
                    framework_id: framework_id.clone(),
                    task_id: status.task_id.clone(),
                    uuid: uuid.clone(),
                });
            }
            return;
        }
        self.publish(
            "TASK_UPDATED",
            || serde_json::json!({ "framework_id": framework_id, "status": status, "state": status.state }),
        );
        let Some(framework) = self.frameworks.get(framework_id) else { return };
        if status.state.is_terminal() && framework.tasks.contains_key(&status.task_id) {
            let task_id = status.task_id.clone();
            self.finish_task(agent_id, framework_id, &task_id, status);
            return;
        }
        let Some(framework) = self.frameworks.get_mut(framework_id) else { return };
        if let Some(task) = framework.tasks.get_mut(&status.task_id) {
            // A retried update (same uuid) is forwarded again but recorded once.
            let retry = status.uuid.is_some() && task.last_uuid == status.uuid;
            if !retry {
                task.record(&status);
            }
        }
        framework.send(Event::update(status));
    }

    /// Ends a task with a terminal status: records and forwards it, frees its resources, keeps it completed.
    fn finish_task(&mut self, agent_id: &Id, framework_id: &Id, task_id: &Id, status: TaskStatus) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else { return };
        let Some(mut task) = framework.tasks.remove(task_id) else { return };
        task.record(&status);
        framework.send(Event::update(status));
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.used.subtract_saturating(&task.resources);
            agent.tasks.remove(&(framework_id.clone(), task_id.clone()));
        }
        checked(
            "recovering a task's resources",
            self.allocator.recover(&framework_id.value, &task.role, &agent_id.value, &task.resources),
        );
        push_bounded(&mut framework.completed_tasks, task, self.max_completed_tasks_per_framework);
    }

    // ----- frameworks ---------------------------------------------------------------------------------------

    /// Subscribes (or re-subscribes) a framework on a new stream; returns its id.
    pub fn subscribe(
        &mut self,
        mut info: FrameworkInfo,
        suppressed_roles: Vec<String>,
        stream: Stream<Event>,
    ) -> Result<Id, CallError> {
        let now = now_secs();
        if let Some(id) = info.id.clone() {
            if self.completed_frameworks.iter().any(|f| f.id == id) {
                return Err(CallError::Forbidden("Framework has been removed".into()));
            }
        }
        let id = match info.id.clone().filter(|id| self.frameworks.contains_key(id)) {
            Some(id) => {
                // Offers made to the previous connection are void.
                self.rescind_framework_offers(&id);
                let Some(framework) = self.frameworks.get_mut(&id) else {
                    return Err(CallError::BadRequest("Framework cannot be found".into()));
                };
                if let Some(old) = framework.stream.take() {
                    // Only one subscription per framework: the old stream gets an error and closes.
                    old.send(Event::error("Framework failed over"));
                }
                framework.info = info;
                framework.stream = Some(stream);
                framework.active = true;
                framework.recovered = false;
                framework.reregistered_time = Some(now);
                framework.unregistered_time = None;
                tracing::info!(framework = %id, "framework re-subscribed");
                id
            }
            None => {
                let id = info.id.clone().unwrap_or_else(|| {
                    let id = Id::new(format!("{}-{:04}", self.info.id, self.next_framework));
                    self.next_framework += 1;
                    id
                });
                info.id = Some(id.clone());
                tracing::info!(framework = %id, name = %info.name, "framework subscribed");
                self.frameworks.insert(id.clone(), Framework::new(id.clone(), info, Some(stream), now));
                id
            }
        };
        let roles = self.frameworks.get(&id).map(|f| f.info.effective_roles()).unwrap_or_default();
        self.allocator.add_framework(&id.value, roles);
        checked("subscribing", self.allocator.revive_all(&id.value));
        checked("subscribing", self.allocator.suppress(&id.value, &suppressed_roles));
        self.touch(Kind::Frameworks, &id);
        if let Some(framework) = self.frameworks.get(&id) {
            let kind = if framework.reregistered_time.is_some() { "FRAMEWORK_UPDATED" } else { "FRAMEWORK_ADDED" };
            let payload = serde_json::json!({ "framework": operator_framework(framework) });
            self.publish(kind, || payload);
        }
        Ok(id)
    }

    /// The framework's stream closed (if it is still the current one): it stops getting offers and its
    /// failover timer starts.
    pub fn framework_disconnected(&mut self, framework_id: &Id, stream_id: &str) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else { return };
        if framework.stream.as_ref().is_none_or(|s| s.id != stream_id) {
            return;
        }
        framework.stream = None;
        framework.active = false;
        framework.unregistered_time = Some(now_secs());
        tracing::info!(framework = %framework_id, "framework disconnected");
        checked("deactivating a framework", self.allocator.set_framework_active(&framework_id.value, false));
        self.rescind_framework_offers(framework_id);
    }

    /// Removes frameworks that disconnected more than their `failover_timeout` ago; returns their ids.
    /// Recovered frameworks that never re-subscribed have no timer, as upstream.
    pub fn expire_frameworks(&mut self, now: f64) -> Vec<Id> {
        let expired: Vec<Id> = self
            .frameworks
            .values()
            .filter(|f| f.stream.is_none())
            .filter(|f| f.unregistered_time.is_some_and(|t| now - t >= f.info.failover_timeout.unwrap_or(0.0)))
            .map(|f| f.id.clone())
            .collect();
        for id in &expired {
            tracing::info!(framework = %id, "framework failover timeout passed; removing it");
            self.remove_framework(id);
        }
        expired
    }

    /// Checks that a non-SUBSCRIBE call comes from a subscribed framework on its current stream.
    pub fn check_caller(&self, framework_id: &Id, stream_id: Option<&str>) -> Result<(), CallError> {
        let framework = self
            .frameworks
            .get(framework_id)
            .ok_or_else(|| CallError::BadRequest("Framework cannot be found".into()))?;
        let stream =
            framework.stream.as_ref().ok_or_else(|| CallError::Forbidden("Framework is not subscribed".into()))?;
        match stream_id {
            None => Err(CallError::BadRequest("All non-subscribe calls should include the 'Mesos-Stream-Id' header".into())),
            Some(id) if id != stream.id => Err(CallError::BadRequest(format!(
                "The stream ID '{id}' included in this request didn't match the stream ID currently associated with framework ID {framework_id}"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// TEARDOWN (or failover timeout): its tasks are killed on every agent (ShutdownFramework), the framework
    /// is removed and its stream closed.
    pub fn remove_framework(&mut self, framework_id: &Id) {
        self.rescind_framework_offers(framework_id);
        let Some(mut framework) = self.frameworks.remove(framework_id) else { return };
        self.allocator.remove_framework(&framework_id.value);
        self.touch(Kind::Frameworks, framework_id);
        for (task_id, mut task) in std::mem::take(&mut framework.tasks) {
            if let Some(agent) = self.agents.get_mut(&task.info.agent_id) {
                agent.used.subtract_saturating(&task.resources);
                agent.tasks.remove(&(framework_id.clone(), task_id.clone()));
            }
            task.record(&master_status(
                &task_id,
                Some(&task.info.agent_id),
                TaskState::TASK_KILLED,
                "Framework removed",
                "REASON_FRAMEWORK_REMOVED",
            ));
            push_bounded(&mut framework.completed_tasks, task, self.max_completed_tasks_per_framework);
        }
        for (_, task) in std::mem::take(&mut framework.unreachable_tasks) {
            push_bounded(&mut framework.completed_tasks, task, self.max_completed_tasks_per_framework);
        }
        for agent in self.agents.values() {
            if let Some(link) = &agent.link {
                link.send(AgentEvent::ShutdownFramework { framework_id: framework_id.clone() });
            }
        }
        tracing::info!(framework = %framework_id, "framework removed");
        self.publish("FRAMEWORK_REMOVED", || serde_json::json!({ "framework_info": framework.info }));
        framework.stream = None;
        framework.active = false;
        framework.unregistered_time = Some(now_secs());
        push_bounded(&mut self.completed_frameworks, framework, self.max_completed_frameworks);
    }

    /// ACCEPT: launches the operations' tasks on the offers' agent; unused resources are declined with the filter.
    pub fn accept(
        &mut self,
        framework_id: &Id,
        offer_ids: &[Id],
        operations: Vec<Operation>,
        refuse_seconds: Option<f64>,
    ) -> Result<(), CallError> {
        let framework_info = match self.frameworks.get(framework_id) {
            Some(f) => f.info.clone(),
            None => return Err(CallError::BadRequest("Framework cannot be found".into())),
        };
        let launches: Vec<TaskInfo> = operations
            .into_iter()
            .filter(|op| op.kind == "LAUNCH")
            .flat_map(|op| op.launch.map(|l| l.task_infos).unwrap_or_default())
            .collect();
        // Offers must all be this framework's, on one agent, for one role.
        let mine: Vec<&OfferRecord> = offer_ids
            .iter()
            .filter_map(|id| self.offers.get(id))
            .filter(|r| r.offer.framework_id == *framework_id)
            .collect();
        let first = mine.first().map(|r| (r.offer.agent_id.clone(), r.role.clone()));
        let valid = !offer_ids.is_empty()
            && mine.len() == offer_ids.len()
            && mine.iter().all(|r| Some((&r.offer.agent_id, &r.role)) == first.as_ref().map(|(a, r)| (a, r)));
        let mut taken = Vec::new();
        for offer_id in offer_ids {
            if self.offers.get(offer_id).is_some_and(|r| r.offer.framework_id == *framework_id) {
                taken.extend(self.take_offer(offer_id));
            }
        }
        let Some((agent_id, role)) = first.filter(|_| valid) else {
            // Invalid offers: the valid ones are returned, every task is answered TASK_LOST (TASK_DROPPED when
            // partition-aware).
            for record in taken {
                self.recover_offer(&record);
            }
            self.drop_tasks(framework_id, &launches, "Task launched with invalid offers", "REASON_INVALID_OFFERS");
            return Ok(());
        };
        let mut remaining = Resources::default();
        for record in &taken {
            remaining.add(&record.resources);
        }
        for task in launches {
            let wanted = match Resources::from_v1(&task.resources) {
                Ok(r) => r,
                Err(e) => {
                    self.drop_tasks(
                        framework_id,
                        &[task],
                        &format!("Task uses invalid resources: {e}"),
                        "REASON_TASK_INVALID",
                    );
                    continue;
                }
            };
            let why = if task.agent_id != agent_id {
                Some("Task uses an agent different from the offer's")
            } else if !remaining.contains(&wanted) {
                Some("Task uses more resources than offered")
            } else if task.command.is_none() && task.executor.is_none() {
                Some("Task has neither a command nor an executor")
            } else if self.frameworks.get(framework_id).is_some_and(|f| f.tasks.contains_key(&task.task_id)) {
                Some("Task has duplicate ID")
            } else {
                None
            };
            if let Some(why) = why {
                self.drop_tasks(framework_id, &[task], why, "REASON_TASK_INVALID");
                continue;
            }
            remaining.subtract_saturating(&wanted);
            let Some(agent) = self.agents.get_mut(&agent_id) else { continue };
            agent.used.add(&wanted);
            agent.tasks.insert((framework_id.clone(), task.task_id.clone()));
            let staging = master_status(&task.task_id, Some(&agent_id), TaskState::TASK_STAGING, "", "");
            let kept = Task::kept(task.clone());
            if let Some(link) = &agent.link {
                link.send(AgentEvent::Launch { framework: framework_info.clone(), task });
            }
            let mut record = Task {
                info: kept,
                framework_id: framework_id.clone(),
                role: role.clone(),
                state: TaskState::TASK_STAGING,
                statuses: Vec::new(),
                last_uuid: None,
                resources: wanted,
            };
            record.record(&staging);
            self.publish("TASK_ADDED", || serde_json::json!({ "task": operator_task(&record) }));
            if let Some(framework) = self.frameworks.get_mut(framework_id) {
                framework.tasks.insert(record.info.task_id.clone(), record);
            }
        }
        if !remaining.is_empty() {
            let unused = allocator::Allocation {
                framework_id: framework_id.value.clone(),
                role,
                agent_id: agent_id.value.clone(),
                resources: remaining,
            };
            checked("declining unused resources", self.allocator.decline(&unused, refuse_seconds, millis(now_secs())));
        }
        Ok(())
    }

    fn drop_tasks(&mut self, framework_id: &Id, tasks: &[TaskInfo], message: &str, reason: &str) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else { return };
        let state = if framework.partition_aware() { TaskState::TASK_DROPPED } else { TaskState::TASK_LOST };
        for task in tasks {
            framework.send(Event::update(master_status(&task.task_id, Some(&task.agent_id), state, message, reason)));
        }
    }

    /// DECLINE: returns the offers' resources and filters them for `refuse_seconds`.
    pub fn decline(&mut self, framework_id: &Id, offer_ids: &[Id], refuse_seconds: Option<f64>) {
        let now_ms = millis(now_secs());
        for offer_id in offer_ids {
            if self.offers.get(offer_id).is_none_or(|r| r.offer.framework_id != *framework_id) {
                continue;
            }
            let Some(record) = self.take_offer(offer_id) else { continue };
            checked("declining an offer", self.allocator.decline(&allocation_of(&record), refuse_seconds, now_ms));
        }
    }

    /// REVIVE: clears filters and un-suppresses the roles (all when empty).
    pub fn revive(&mut self, framework_id: &Id, roles: &[String]) {
        let result = if roles.is_empty() {
            self.allocator.revive_all(&framework_id.value)
        } else {
            self.allocator.revive(&framework_id.value, roles)
        };
        checked("reviving", result);
    }

    /// SUPPRESS: stops offers for the roles (all when empty). Outstanding offers stay, as upstream.
    pub fn suppress(&mut self, framework_id: &Id, roles: &[String]) {
        let result = if roles.is_empty() {
            self.allocator.suppress_all(&framework_id.value)
        } else {
            self.allocator.suppress(&framework_id.value, roles)
        };
        checked("suppressing", result);
    }

    /// KILL: asks the task's agent to kill it; an unknown task gets TASK_LOST (TASK_UNKNOWN when
    /// partition-aware) from the master.
    pub fn kill(&mut self, framework_id: &Id, task_id: &Id, kill_policy: Option<KillPolicy>) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else { return };
        match framework.tasks.get(task_id) {
            Some(task) => {
                if let Some(link) = self.agents.get(&task.info.agent_id).and_then(|a| a.link.as_ref()) {
                    link.send(AgentEvent::Kill {
                        framework_id: framework_id.clone(),
                        task_id: task_id.clone(),
                        kill_policy,
                    });
                }
            }
            None => {
                let state = if framework.partition_aware() { TaskState::TASK_UNKNOWN } else { TaskState::TASK_LOST };
                framework.send(Event::update(master_status(
                    task_id,
                    None,
                    state,
                    "Attempted to kill an unknown task",
                    "REASON_RECONCILIATION",
                )));
            }
        }
    }

    /// ACKNOWLEDGE: relays the acknowledgement to the agent so it sends the task's next update.
    pub fn acknowledge(&mut self, framework_id: &Id, agent_id: &Id, task_id: &Id, uuid: String) {
        if let Some(link) = self.agents.get(agent_id).and_then(|a| a.link.as_ref()) {
            link.send(AgentEvent::Acknowledge { framework_id: framework_id.clone(), task_id: task_id.clone(), uuid });
        }
    }

    /// RECONCILE: answers with the latest known state of the named tasks, or of every task when none are named.
    /// Tasks on agents still expected to re-register after a failover get no answer yet, as upstream.
    pub fn reconcile(&mut self, framework_id: &Id, tasks: &[(Id, Option<Id>)]) {
        let Some(framework) = self.frameworks.get(framework_id) else { return };
        let partition_aware = framework.partition_aware();
        let mut answers = Vec::new();
        if tasks.is_empty() {
            answers.extend(framework.tasks.values().chain(framework.unreachable_tasks.values()).map(reconciled));
        } else {
            for (task_id, agent_id) in tasks {
                if let Some(task) = framework.tasks.get(task_id).or_else(|| framework.unreachable_tasks.get(task_id)) {
                    answers.push(reconciled(task));
                    continue;
                }
                if agent_id.as_ref().is_some_and(|a| self.recovered_agents.contains_key(a)) {
                    continue;
                }
                let state = if !partition_aware {
                    TaskState::TASK_LOST
                } else if agent_id.as_ref().is_some_and(|a| self.agents.contains_key(a)) {
                    TaskState::TASK_GONE
                } else if agent_id.as_ref().is_some_and(|a| self.unreachable_agents.contains_key(a)) {
                    TaskState::TASK_UNREACHABLE
                } else {
                    TaskState::TASK_UNKNOWN
                };
                answers.push(master_status(
                    task_id,
                    agent_id.as_ref(),
                    state,
                    "Reconciliation: Task is unknown",
                    "REASON_RECONCILIATION",
                ));
            }
        }
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            for status in answers {
                framework.send(Event::update(status));
            }
        }
    }

    // ----- offers -------------------------------------------------------------------------------------------

    /// Removes an offer from the books (its resources stay allocated in the allocator).
    fn take_offer(&mut self, offer_id: &Id) -> Option<OfferRecord> {
        let record = self.offers.remove(offer_id)?;
        if let Some(agent) = self.agents.get_mut(&record.offer.agent_id) {
            agent.offered.subtract_saturating(&record.resources);
        }
        if let Some(framework) = self.frameworks.get_mut(&record.offer.framework_id) {
            framework.offers.retain(|o| o != offer_id);
        }
        Some(record)
    }

    /// Gives a taken offer's resources back to the allocator, unfiltered.
    fn recover_offer(&mut self, record: &OfferRecord) {
        let a = allocation_of(record);
        checked("recovering an offer", self.allocator.recover(&a.framework_id, &a.role, &a.agent_id, &a.resources));
    }

    fn rescind(&mut self, offer_id: &Id) {
        if let Some(record) = self.take_offer(offer_id) {
            self.recover_offer(&record);
            if let Some(framework) = self.frameworks.get_mut(&record.offer.framework_id) {
                framework.send(Event::rescind(offer_id.clone()));
            }
        }
    }

    fn rescind_agent_offers(&mut self, agent_id: &Id) {
        let ids: Vec<Id> =
            self.offers.values().filter(|r| r.offer.agent_id == *agent_id).map(|r| r.offer.id.clone()).collect();
        for id in ids {
            self.rescind(&id);
        }
    }

    fn rescind_framework_offers(&mut self, framework_id: &Id) {
        let ids = self.frameworks.get(framework_id).map(|f| f.offers.clone()).unwrap_or_default();
        for id in ids {
            self.rescind(&id);
        }
    }

    /// Rescinds offers older than `timeout` seconds (their resources are offered again, unfiltered).
    pub fn expire_offers(&mut self, now: f64, timeout: f64) {
        let ids: Vec<Id> =
            self.offers.values().filter(|r| now - r.created >= timeout).map(|r| r.offer.id.clone()).collect();
        for id in ids {
            self.rescind(&id);
        }
    }

    /// Runs one allocation cycle and sends the resulting offers. Returns how many offers were made.
    pub fn allocate(&mut self, now: f64) -> usize {
        let now_ms = millis(now);
        self.allocator.expire_filters(now_ms);
        let decisions = allocator::allocate(&self.allocator, now_ms, self.next_offer);
        checked("recording offers", self.allocator.apply(&decisions));
        let mut by_framework: HashMap<Id, Vec<Offer>> = HashMap::new();
        let mut count = 0;
        for decision in decisions {
            let agent_id = Id::new(decision.agent_id.clone());
            let framework_id = Id::new(decision.framework_id.clone());
            let (Some(agent), Some(framework)) =
                (self.agents.get_mut(&agent_id), self.frameworks.get_mut(&framework_id))
            else {
                checked(
                    "an offer with no taker",
                    self.allocator.recover(
                        &decision.framework_id,
                        &decision.role,
                        &decision.agent_id,
                        &decision.resources,
                    ),
                );
                continue;
            };
            let offer_id = Id::new(format!("{}-O{}", self.info.id, self.next_offer));
            self.next_offer += 1;
            agent.offered.add(&decision.resources);
            let offer = Offer {
                id: offer_id.clone(),
                framework_id: framework_id.clone(),
                agent_id: agent_id.clone(),
                hostname: agent.info.hostname.clone(),
                url: Some(Url {
                    scheme: "http".into(),
                    address: Address {
                        hostname: Some(agent.info.hostname.clone()),
                        ip: Some(agent.info.ip.clone()),
                        port: agent.info.port,
                    },
                    path: Some("/slave(1)".into()),
                }),
                resources: decision.resources.to_v1_allocated(ReservationFormat::PreRefinement, &decision.role),
                attributes: agent.info.attributes.clone(),
                executor_ids: Vec::new(),
                allocation_info: Some(AllocationInfo { role: decision.role.clone() }),
            };
            framework.offers.push(offer_id.clone());
            self.offers.insert(
                offer_id,
                OfferRecord { offer: offer.clone(), role: decision.role, resources: decision.resources, created: now },
            );
            by_framework.entry(framework_id).or_default().push(offer);
            count += 1;
        }
        for (framework_id, offers) in by_framework {
            if let Some(framework) = self.frameworks.get_mut(&framework_id) {
                framework.send(Event::offers(offers));
            }
        }
        count
    }

    /// Sends a heartbeat to every subscribed framework and operator stream.
    pub fn heartbeat_frameworks(&mut self) {
        for framework in self.frameworks.values_mut() {
            framework.send(Event::heartbeat());
        }
        self.operator_streams.retain(|s| s.send(serde_json::json!({"type": "HEARTBEAT"})));
    }

    /// Publishes an operator API event (`{"type": kind, "<kind lower-cased>": payload}`) to every operator
    /// stream, dropping the closed ones. The payload is only built when someone subscribes: status updates
    /// arrive thousands per second under load and nobody may be listening.
    fn publish(&mut self, kind: &str, payload: impl FnOnce() -> serde_json::Value) {
        if self.operator_streams.is_empty() {
            return;
        }
        let event = serde_json::json!({ "type": kind, kind.to_ascii_lowercase(): payload() });
        self.operator_streams.retain(|s| s.send(event.clone()));
    }
}

/// An agent as the v1 operator API describes it (`GET_AGENTS`, `AGENT_ADDED`).
pub fn operator_agent(a: &Agent) -> serde_json::Value {
    serde_json::json!({
        "agent_info": {"id": a.id, "hostname": a.info.hostname, "port": a.info.port,
                       "resources": a.total.to_v1(ReservationFormat::PreRefinement), "attributes": a.info.attributes},
        "active": a.link.is_some(),
        "deactivated": false,
        "version": a.info.version,
        "pid": a.pid(),
        "registered_time": {"nanoseconds": (a.registered_time * 1e9) as i64},
        "total_resources": a.total.to_v1(ReservationFormat::PreRefinement),
        "allocated_resources": a.used.to_v1(ReservationFormat::PreRefinement),
        "offered_resources": a.offered.to_v1(ReservationFormat::PreRefinement),
    })
}

/// A framework as the v1 operator API describes it (`GET_FRAMEWORKS`, `FRAMEWORK_ADDED`).
pub fn operator_framework(f: &Framework) -> serde_json::Value {
    serde_json::json!({
        "framework_info": f.info,
        "active": f.active,
        "connected": f.stream.is_some(),
        "recovered": f.recovered,
        "registered_time": {"nanoseconds": (f.registered_time * 1e9) as i64},
    })
}

/// A task as the v1 operator API describes it (`GET_TASKS`, `TASK_ADDED`).
pub fn operator_task(t: &Task) -> serde_json::Value {
    serde_json::json!({
        "name": t.info.name, "task_id": t.info.task_id, "framework_id": t.framework_id, "agent_id": t.info.agent_id,
        "state": t.state, "resources": t.resources.to_v1_allocated(ReservationFormat::PreRefinement, &t.role),
        "statuses": t.statuses.iter().map(|s| s.to_status(t)).collect::<Vec<_>>(),
    })
}

/// The allocator's name for an offer's resources.
fn allocation_of(record: &OfferRecord) -> allocator::Allocation {
    allocator::Allocation {
        framework_id: record.offer.framework_id.value.clone(),
        role: record.role.clone(),
        agent_id: record.offer.agent_id.value.clone(),
        resources: record.resources.clone(),
    }
}

impl Task {
    fn record(&mut self, status: &TaskStatus) {
        self.state = status.state;
        self.last_uuid = status.uuid.clone();
        self.statuses.push(StatusRecord {
            state: status.state,
            timestamp: status.timestamp.unwrap_or_else(now_secs),
            healthy: status.healthy,
            container_status: status.container_status.clone(),
        });
    }
}

impl Task {
    /// What the master keeps of a launched task's TaskInfo: what its endpoints show, as upstream's `Task`
    /// does. The command (with its environment), executor, check and data only matter to the agent, and the
    /// resources are kept once, in [`Task::resources`]: tens of thousands of tasks are held at once.
    pub fn kept(info: TaskInfo) -> TaskInfo {
        TaskInfo { resources: Vec::new(), executor: None, command: None, check: None, data: None, ..info }
    }
}

impl StatusRecord {
    /// The record as a TaskStatus of `task` from the master (the v1 operator API's `statuses`).
    fn to_status(&self, task: &Task) -> TaskStatus {
        TaskStatus {
            timestamp: Some(self.timestamp),
            healthy: self.healthy,
            container_status: self.container_status.clone(),
            ..master_status(&task.info.task_id, Some(&task.info.agent_id), self.state, "", "")
        }
    }
}

/// The answer to reconciling a known task: its latest recorded status.
fn reconciled(task: &Task) -> TaskStatus {
    let latest = match task.statuses.last() {
        Some(record) => record.to_status(task),
        None => master_status(&task.info.task_id, Some(&task.info.agent_id), task.state, "", ""),
    };
    TaskStatus {
        reason: Some("REASON_RECONCILIATION".into()),
        message: Some("Reconciliation: Latest task state".into()),
        ..latest
    }
}

/// A status generated by the master (no uuid: never acknowledged).
pub fn master_status(task_id: &Id, agent_id: Option<&Id>, state: TaskState, message: &str, reason: &str) -> TaskStatus {
    TaskStatus {
        task_id: task_id.clone(),
        state,
        message: (!message.is_empty()).then(|| message.to_string()),
        source: Some("SOURCE_MASTER".into()),
        reason: (!reason.is_empty()).then(|| reason.to_string()),
        data: None,
        agent_id: agent_id.cloned(),
        executor_id: None,
        timestamp: Some(now_secs()),
        uuid: None,
        healthy: None,
        labels: None,
        container_status: None,
        unreachable_time: None,
    }
}

fn push_bounded<T>(queue: &mut VecDeque<T>, item: T, max: usize) {
    queue.push_back(item);
    while queue.len() > max {
        queue.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::mesos::scheduler::EventType;
    use common::mesos::{Capability, CommandInfo, Launch};

    fn master() -> Master {
        let info = MasterInfo {
            id: "m".into(),
            ip: 0,
            port: 5050,
            pid: None,
            hostname: None,
            version: None,
            address: None,
            capabilities: vec![],
        };
        let mut master = Master::new(info, None, AllocatorState::new(allocator::MinAllocatable::default()));
        master.recover(Registry::default(), 0.0, 600.0);
        master
    }

    fn agent_info(resources: &str) -> AgentInfo {
        AgentInfo {
            hostname: "h".into(),
            ip: "127.0.0.1".into(),
            port: 5051,
            resources: Resources::parse_text(resources).unwrap().to_v1(ReservationFormat::PreRefinement),
            attributes: vec![],
            version: "1.11.0".into(),
        }
    }

    fn framework_info(partition_aware: bool) -> FrameworkInfo {
        FrameworkInfo {
            user: "u".into(),
            name: "f".into(),
            capabilities: if partition_aware { vec![Capability { kind: "PARTITION_AWARE".into() }] } else { vec![] },
            ..FrameworkInfo::default()
        }
    }

    fn stream<E>(id: &str) -> (Stream<E>, UnboundedReceiver<Box<E>>) {
        let (stream, rx) = Stream::open();
        (Stream { id: id.into(), ..stream }, rx)
    }

    fn drain<E>(rx: &mut UnboundedReceiver<Box<E>>) -> Vec<E> {
        let mut out = Vec::new();
        while let Ok(e) = rx.try_recv() {
            out.push(*e);
        }
        out
    }

    fn offers(events: &[Event]) -> Vec<Offer> {
        events.iter().filter_map(|e| e.offers.as_ref()).flat_map(|o| o.offers.clone()).collect()
    }

    fn updates(events: &[Event]) -> Vec<TaskStatus> {
        events.iter().filter_map(|e| e.update.as_ref()).map(|u| u.status.clone()).collect()
    }

    fn launch(offer: &Offer, task_id: &str, resources: &str) -> Operation {
        let task = TaskInfo {
            name: task_id.into(),
            task_id: Id::new(task_id),
            agent_id: offer.agent_id.clone(),
            resources: Resources::parse_text(resources).unwrap().to_v1_allocated(ReservationFormat::PreRefinement, "*"),
            executor: None,
            command: Some(CommandInfo {
                uris: vec![],
                environment: None,
                shell: true,
                value: Some("sleep 100".into()),
                arguments: vec![],
                user: None,
            }),
            container: None,
            health_check: None,
            check: None,
            kill_policy: None,
            data: None,
            labels: None,
            discovery: None,
        };
        Operation { kind: "LAUNCH".into(), launch: Some(Launch { task_infos: vec![task] }) }
    }

    /// The allocator's books match the master's: on every agent, allocated = used + offered.
    fn check_books(master: &Master) {
        for agent in master.agents.values() {
            let mut expected = agent.used.clone();
            expected.add(&agent.offered);
            let books = &master.allocator.agents[&agent.id.value].allocated;
            assert!(
                books.contains(&expected) && expected.contains(books),
                "{}: allocator {books} vs master {expected}",
                agent.id
            );
        }
    }

    fn running(agent_id: &Id, status_of: &str, state: TaskState) -> TaskStatus {
        TaskStatus {
            uuid: Some(format!("u-{status_of}-{state:?}")),
            ..master_status(&Id::new(status_of), Some(agent_id), state, "", "")
        }
    }

    #[test]
    fn offers_launches_and_frees_resources_in_step_with_the_allocator() {
        let mut m = master();
        let (link, mut agent_rx) = stream("a");
        let agent = m.register_agent(agent_info("cpus:4;mem:1024"), None, vec![], link).unwrap();
        let (s, mut rx) = stream("f");
        let fw = m.subscribe(framework_info(false), vec![], s).unwrap();
        assert_eq!(m.allocate(1.0), 1);
        let offer = offers(&drain(&mut rx)).remove(0);
        check_books(&m);

        m.accept(&fw, std::slice::from_ref(&offer.id), vec![launch(&offer, "t1", "cpus:1;mem:128")], Some(0.0))
            .unwrap();
        check_books(&m);
        assert!(matches!(drain(&mut agent_rx).last(), Some(AgentEvent::Launch { .. })));
        // The unused part is offered again at once (refuse_seconds 0).
        assert_eq!(m.allocate(2.0), 1);
        let again = offers(&drain(&mut rx)).remove(0);
        assert_eq!(Resources::from_v1(&again.resources).unwrap().scalar("cpus"), 3.0);
        m.decline(&fw, &[again.id], Some(100.0));
        assert_eq!(m.allocate(3.0), 0, "declined resources are filtered");
        check_books(&m);

        m.status_update(&agent, &fw, running(&agent, "t1", TaskState::TASK_RUNNING));
        m.status_update(&agent, &fw, running(&agent, "t1", TaskState::TASK_RUNNING));
        assert_eq!(m.frameworks[&fw].tasks[&Id::new("t1")].statuses.len(), 2, "a retried update is recorded once");
        m.status_update(&agent, &fw, running(&agent, "t1", TaskState::TASK_FINISHED));
        check_books(&m);
        assert_eq!(
            updates(&drain(&mut rx)).iter().map(|s| s.state).collect::<Vec<_>>(),
            [TaskState::TASK_RUNNING, TaskState::TASK_RUNNING, TaskState::TASK_FINISHED]
        );
        // The filter covers the 3 refused cpus only: with the freed one, all 4 are offered.
        assert_eq!(m.allocate(4.0), 1);
        let freed = offers(&drain(&mut rx)).remove(0);
        assert_eq!(Resources::from_v1(&freed.resources).unwrap().scalar("cpus"), 4.0);
        m.decline(&fw, &[freed.id], Some(100.0));
        assert_eq!(m.allocate(5.0), 0);
        m.revive(&fw, &[]);
        assert_eq!(m.allocate(6.0), 1, "revive clears the filters");
        check_books(&m);
    }

    #[test]
    fn operator_events_are_built_only_for_subscribers() {
        let mut m = master();
        let mut built = false;
        m.publish("TASK_UPDATED", || {
            built = true;
            serde_json::json!({})
        });
        assert!(!built, "no operator stream: no payload");
        let (operator, mut operator_rx) = stream("op");
        m.operator_streams.push(operator);
        m.publish("TASK_UPDATED", || serde_json::json!({"state": "TASK_RUNNING"}));
        let event = operator_rx.try_recv().expect("published");
        assert_eq!(event["type"], "TASK_UPDATED");
        assert_eq!(event["task_updated"]["state"], "TASK_RUNNING");
    }

    #[test]
    fn suppress_stops_offers_and_teardown_shuts_the_framework_down() {
        let mut m = master();
        let (link, mut agent_rx) = stream("a");
        m.register_agent(agent_info("cpus:4;mem:1024"), None, vec![], link).unwrap();
        let (s, mut rx) = stream("f");
        let fw = m.subscribe(framework_info(false), vec![], s).unwrap();
        m.suppress(&fw, &[]);
        assert_eq!(m.allocate(1.0), 0);
        m.revive(&fw, &[]);
        assert_eq!(m.allocate(2.0), 1);
        let offer = offers(&drain(&mut rx)).remove(0);
        m.accept(&fw, std::slice::from_ref(&offer.id), vec![launch(&offer, "t1", "cpus:1;mem:128")], None).unwrap();
        m.registry_changes();
        m.remove_framework(&fw);
        check_books(&m);
        assert!(drain(&mut agent_rx)
            .iter()
            .any(|e| matches!(e, AgentEvent::ShutdownFramework { framework_id } if *framework_id == fw)));
        assert!(rx.try_recv().is_err() && m.completed_frameworks.len() == 1);
        assert_eq!(m.registry_changes(), vec![Change { key: Key::new(Kind::Frameworks, &fw), value: None }]);
        assert!(m.agents.values().all(|a| a.tasks.is_empty() && a.used.is_empty()));
        // A removed framework cannot come back; its tasks reported by an agent are shut down there.
        let info = FrameworkInfo { id: Some(fw.clone()), ..framework_info(false) };
        assert!(matches!(m.subscribe(info, vec![], stream("g").0), Err(CallError::Forbidden(_))));
    }

    #[test]
    fn an_agent_that_stops_answering_pings_is_lost_though_its_link_stays_open() {
        let mut m = master();
        let (quiet_link, _quiet_rx) = stream("quiet");
        let quiet = m.register_agent(agent_info("cpus:1;mem:128"), None, vec![], quiet_link).unwrap();
        let (answering_link, _answering_rx) = stream("answering");
        let answering = m.register_agent(agent_info("cpus:1;mem:128"), None, vec![], answering_link).unwrap();
        for interval in 0..3 {
            assert!(m.ping_agents(3).is_empty(), "nobody lost in interval {interval}");
            assert!(m.agent_ponged(&answering, "answering"));
        }
        assert_eq!(m.ping_agents(3), vec![quiet.clone()], "three unanswered pings");
        m.mark_agent_unreachable(&quiet, 4.0);
        assert!(!m.agent_ponged(&quiet, "quiet"), "a removed agent's pong is refused");
        assert!(!m.agent_ponged(&answering, "quiet"), "a pong on another agent's stream is refused");
        assert!(m.agent_ponged(&answering, "answering"));
        assert!(m.ping_agents(3).is_empty());
        assert_eq!(m.agents[&answering].missed_pings, 0);
    }

    #[test]
    fn unreachable_agents_lose_their_tasks_and_get_them_back_when_they_return() {
        let mut m = master();
        let (link, agent_rx) = stream("a");
        let agent = m.register_agent(agent_info("cpus:4;mem:1024"), None, vec![], link).unwrap();
        let (aware, mut aware_rx) = stream("pa");
        let aware = m.subscribe(framework_info(true), vec![], aware).unwrap();
        let (plain, mut plain_rx) = stream("np");
        let plain = m.subscribe(framework_info(false), vec![], plain).unwrap();
        // Each framework in turn gets the agent (DRF) and launches a task on it.
        for cycle in 0..2 {
            m.allocate(1.0 + cycle as f64);
            for (fw, rx, task) in [(&aware, &mut aware_rx, "ta"), (&plain, &mut plain_rx, "tp")] {
                if let Some(offer) = offers(&drain(rx)).first() {
                    m.accept(
                        fw,
                        std::slice::from_ref(&offer.id),
                        vec![launch(offer, task, "cpus:1;mem:128")],
                        Some(0.0),
                    )
                    .unwrap();
                    m.status_update(&agent, fw, running(&agent, task, TaskState::TASK_RUNNING));
                }
            }
        }
        assert_eq!(m.agents[&agent].tasks.len(), 2);
        drain(&mut aware_rx);
        drain(&mut plain_rx);
        m.allocate(3.0);
        assert_eq!(m.offers.len(), 1);
        m.registry_changes();

        drop(agent_rx);
        assert!(m.ping_agents(3).is_empty());
        assert!(m.offers.is_empty(), "offers on an agent whose link died are rescinded");
        assert!(drain(&mut aware_rx).iter().chain(drain(&mut plain_rx).iter()).any(|e| e.kind == EventType::Rescind));
        assert!(m.ping_agents(3).is_empty());
        let lost = m.ping_agents(3);
        assert_eq!(lost, vec![agent.clone()]);
        m.mark_agent_unreachable(&agent, 10.0);
        assert!(m.offers.is_empty() && m.agents.is_empty() && m.allocator.agents.is_empty());
        let aware_events = drain(&mut aware_rx);
        assert_eq!(updates(&aware_events)[0].state, TaskState::TASK_UNREACHABLE);
        assert!(updates(&aware_events)[0].unreachable_time.is_some());
        assert!(aware_events.iter().any(|e| e.kind == EventType::Failure));
        assert_eq!(updates(&drain(&mut plain_rx))[0].state, TaskState::TASK_LOST);
        assert_eq!(m.frameworks[&plain].unreachable_tasks.len(), 1);
        let changes = m.registry_changes();
        assert_eq!(changes.len(), 2);
        assert!(changes.iter().any(|c| c.key.kind == Kind::Agents && c.value.is_none()));
        assert!(changes.iter().any(|c| c.key.kind == Kind::Unreachable && c.value.is_some()));

        // It comes back with its tasks: re-admitted, and both frameworks hear the tasks' current state.
        let tasks: Vec<RunningTask> = [(&aware, "ta"), (&plain, "tp")]
            .iter()
            .map(|(fw, task)| {
                let record = &m.frameworks[*fw].unreachable_tasks[&Id::new(*task)];
                RunningTask {
                    framework: m.frameworks[*fw].info.clone(),
                    task: record.info.clone(),
                    state: TaskState::TASK_RUNNING,
                }
            })
            .collect();
        let (link, _agent_rx) = stream("a2");
        m.register_agent(agent_info("cpus:4;mem:1024"), Some(agent.clone()), tasks, link).unwrap();
        for rx in [&mut aware_rx, &mut plain_rx] {
            let status = updates(&drain(rx)).remove(0);
            assert_eq!(
                (status.state, status.reason.as_deref()),
                (TaskState::TASK_RUNNING, Some("REASON_AGENT_REREGISTERED"))
            );
        }
        assert!(m.unreachable_agents.is_empty() && m.frameworks[&plain].unreachable_tasks.is_empty());
        assert_eq!(m.agents[&agent].tasks.len(), 2);
        check_books(&m);
    }

    #[test]
    fn recovery_waits_for_agents_then_marks_the_missing_unreachable() {
        let mut m = master();
        m.recovered = false;
        let info = agent_info("cpus:1;mem:128");
        let registry = Registry {
            agents: vec![
                AgentEntry { id: Id::new("back"), info: info.clone() },
                AgentEntry { id: Id::new("gone"), info: info.clone() },
            ],
            unreachable: vec![UnreachableEntry { id: Id::new("old"), timestamp: 1.0 }],
            frameworks: vec![FrameworkEntry { id: Id::new("fw"), info: framework_info(false) }],
        };
        m.recover(registry, 100.0, 60.0);
        assert!(m.is_recovered());
        assert!(m.frameworks[&Id::new("fw")].recovered);
        m.register_agent(info, Some(Id::new("back")), vec![], stream("a").0).unwrap();
        assert_eq!(m.recovered_agents.keys().collect::<Vec<_>>(), [&Id::new("gone")]);
        assert!(m.expire_recovered_agents(159.0).is_empty());
        assert_eq!(m.expire_recovered_agents(160.0), vec![Id::new("gone")]);
        assert_eq!(m.unreachable_agents.len(), 2);
        // The recovered framework has no failover timer; re-subscribing resumes it.
        assert!(m.expire_frameworks(1e12).is_empty());
        let resumed = FrameworkInfo { id: Some(Id::new("fw")), ..framework_info(false) };
        assert_eq!(m.subscribe(resumed, vec![], stream("f").0), Ok(Id::new("fw")));
        assert!(!m.frameworks[&Id::new("fw")].recovered);
    }

    #[test]
    fn a_reregistering_agent_that_never_got_a_launch_drops_the_task() {
        let mut m = master();
        let (link, _agent_rx) = stream("a");
        let agent = m.register_agent(agent_info("cpus:4;mem:1024"), None, vec![], link).unwrap();
        let (s, mut rx) = stream("f");
        let fw = m.subscribe(framework_info(false), vec![], s).unwrap();
        m.allocate(1.0);
        let offer = offers(&drain(&mut rx)).remove(0);
        m.accept(&fw, std::slice::from_ref(&offer.id), vec![launch(&offer, "t1", "cpus:1;mem:128")], None).unwrap();
        m.agent_disconnected(&agent, "a");
        m.register_agent(agent_info("cpus:4;mem:1024"), Some(agent.clone()), vec![], stream("a2").0).unwrap();
        let status = updates(&drain(&mut rx)).remove(0);
        assert_eq!((status.state, status.reason.as_deref()), (TaskState::TASK_LOST, Some("REASON_RECONCILIATION")));
        assert!(m.agents[&agent].tasks.is_empty());
        check_books(&m);
    }

    #[test]
    fn reconcile_answers_known_unreachable_and_unknown_tasks() {
        let mut m = master();
        let (s, mut rx) = stream("f");
        let fw = m.subscribe(framework_info(true), vec![], s).unwrap();
        m.unreachable_agents.insert(Id::new("u"), 1.0);
        m.recovered_agents.insert(Id::new("r"), agent_info("cpus:1"));
        drain(&mut rx);
        let ask = |task: &str, agent: Option<&str>| (Id::new(task), agent.map(Id::new));
        m.reconcile(&fw, &[ask("x", Some("u")), ask("y", Some("r")), ask("z", None)]);
        let states: Vec<TaskState> = updates(&drain(&mut rx)).iter().map(|s| s.state).collect();
        assert_eq!(states, [TaskState::TASK_UNREACHABLE, TaskState::TASK_UNKNOWN]);
        m.reconcile(&fw, &[]);
        assert!(drain(&mut rx).is_empty());
    }
}
