//! The leading master's in-memory state: agents, frameworks, tasks and offers, and the transitions between them.
//!
//! Every operation is a plain method on [`Master`] that updates the maps and pushes events onto the affected
//! framework or agent streams (in-memory channels), so the whole life cycle is testable without sockets. The HTTP
//! layer (`api/`) only parses requests and calls these methods under one lock; allocation decisions come from
//! the pure [`crate::allocator`].

use crate::allocator;
use common::agent_link::{AgentEvent, AgentInfo, RunningTask};
use common::mesos::scheduler::Event;
use common::mesos::{
    AllocationInfo, FrameworkInfo, Id, KillPolicy, MasterInfo, Offer, Operation, TaskInfo, TaskState, TaskStatus, Url,
    Address,
};
use common::resources::{ReservationFormat, Resources};
use std::collections::{BTreeMap, HashMap, VecDeque};
use tokio::sync::mpsc::UnboundedSender;

/// Seconds since the epoch, as Mesos reports times.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// An open event stream to a framework or agent, identified so a stale stream cannot close a newer one.
#[derive(Debug, Clone)]
pub struct Stream<E> {
    /// The `Mesos-Stream-Id` given to the client.
    pub id: String,
    /// Where events go.
    pub tx: UnboundedSender<E>,
}

impl<E> Stream<E> {
    fn send(&self, event: E) -> bool {
        self.tx.send(event).is_ok()
    }
}

/// One recorded status of a task (for `/state`'s `statuses`).
#[derive(Debug, Clone)]
pub struct StatusRecord {
    /// The state.
    pub state: TaskState,
    /// When, in seconds since the epoch.
    pub timestamp: f64,
    /// Container status, if the agent gave one.
    pub status: TaskStatus,
}

/// A task the master knows.
#[derive(Debug, Clone)]
pub struct Task {
    /// The task as launched.
    pub info: TaskInfo,
    /// Its framework.
    pub framework_id: Id,
    /// Role its resources are allocated to.
    pub role: String,
    /// Current state.
    pub state: TaskState,
    /// State history.
    pub statuses: Vec<StatusRecord>,
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
    /// First registration time.
    pub registered_time: f64,
    /// Last re-registration time.
    pub reregistered_time: Option<f64>,
    /// The open link, if connected.
    pub link: Option<Stream<AgentEvent>>,
    /// Pings sent without the link being seen alive since.
    pub missed_pings: u32,
    /// Tasks on this agent: (framework id, task id).
    pub tasks: Vec<(Id, Id)>,
}

impl Agent {
    /// The agent's libprocess-style pid, `slave(1)@ip:port`, which the web UI uses to reach it.
    pub fn pid(&self) -> String {
        format!("slave(1)@{}:{}", self.info.ip, self.info.port)
    }

}

/// A refusal of an agent's resources by a framework until some time.
#[derive(Debug, Clone)]
pub struct RefuseFilter {
    /// The agent.
    pub agent_id: Id,
    /// Resources refused.
    pub resources: Resources,
    /// Until when (seconds since the epoch).
    pub until: f64,
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
    /// Registration time.
    pub registered_time: f64,
    /// Last re-registration time.
    pub reregistered_time: Option<f64>,
    /// When it disconnected (failover timer start).
    pub unregistered_time: Option<f64>,
    /// Roles that want no offers.
    pub suppressed_roles: Vec<String>,
    /// Refuse filters.
    pub filters: Vec<RefuseFilter>,
    /// Active tasks by id.
    pub tasks: BTreeMap<Id, Task>,
    /// Completed tasks, oldest first.
    pub completed_tasks: VecDeque<Task>,
    /// Outstanding offers.
    pub offers: Vec<Id>,
}

impl Framework {
    /// Resources used by its tasks.
    pub fn used(&self) -> Resources {
        let mut total = Resources::default();
        for task in self.tasks.values() {
            total.add(&task.resources);
        }
        total
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
    /// Agents by id.
    pub agents: BTreeMap<Id, Agent>,
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
    next_framework: u64,
    next_agent: u64,
    next_offer: u64,
}

impl Master {
    /// An empty master.
    pub fn new(info: MasterInfo, cluster: Option<String>) -> Master {
        Master {
            info,
            start_time: now_secs(),
            elected_time: None,
            cluster,
            agents: BTreeMap::new(),
            frameworks: BTreeMap::new(),
            completed_frameworks: VecDeque::new(),
            offers: HashMap::new(),
            max_completed_frameworks: 50,
            max_completed_tasks_per_framework: 1000,
            next_framework: 0,
            next_agent: 0,
            next_offer: 0,
        }
    }

    // ----- agents -------------------------------------------------------------------------------------------

    /// Admits an agent (or re-admits one that names its previous id) and returns its id.
    pub fn register_agent(
        &mut self,
        info: AgentInfo,
        previous_id: Option<Id>,
        running: Vec<RunningTask>,
        link: Stream<AgentEvent>,
    ) -> Result<Id, String> {
        let total = Resources::from_v1(&info.resources).map_err(|e| format!("invalid agent resources: {e}"))?;
        let now = now_secs();
        let id = match previous_id {
            Some(id) => id,
            None => {
                let id = Id::new(format!("{}-S{}", self.info.id, self.next_agent));
                self.next_agent += 1;
                id
            }
        };
        let reregistering = self.agents.contains_key(&id);
        if let Some(old) = self.agents.get_mut(&id) {
            old.info = info;
            old.total = total;
            old.link = Some(link.clone());
            old.missed_pings = 0;
            old.reregistered_time = Some(now);
        } else {
            self.agents.insert(
                id.clone(),
                Agent {
                    id: id.clone(),
                    info,
                    total,
                    used: Resources::default(),
                    offered: Resources::default(),
                    registered_time: now,
                    reregistered_time: None,
                    link: Some(link.clone()),
                    missed_pings: 0,
                    tasks: Vec::new(),
                },
            );
        }
        // Tasks the agent reports are adopted (after a master failover or an agent restart).
        for running_task in running {
            self.adopt_task(&id, running_task);
        }
        tracing::info!(agent = %id, reregistering, "agent registered");
        Ok(id)
    }

    fn adopt_task(&mut self, agent_id: &Id, running: RunningTask) {
        let Some(framework_id) = running.framework.id.clone() else { return };
        let framework = self.frameworks.entry(framework_id.clone()).or_insert_with(|| Framework {
            id: framework_id.clone(),
            info: running.framework.clone(),
            stream: None,
            active: false,
            registered_time: now_secs(),
            reregistered_time: None,
            unregistered_time: Some(now_secs()),
            suppressed_roles: Vec::new(),
            filters: Vec::new(),
            tasks: BTreeMap::new(),
            completed_tasks: VecDeque::new(),
            offers: Vec::new(),
        });
        if framework.tasks.contains_key(&running.task.task_id) {
            return;
        }
        let resources = Resources::from_v1(&running.task.resources).unwrap_or_default();
        let role = running
            .task
            .resources
            .first()
            .and_then(|r| r.allocation_info.as_ref().map(|a| a.role.clone()))
            .unwrap_or_else(|| framework.info.effective_roles()[0].clone());
        let task_id = running.task.task_id.clone();
        framework.tasks.insert(
            task_id.clone(),
            Task {
                info: running.task,
                framework_id: framework_id.clone(),
                role,
                state: running.state,
                statuses: Vec::new(),
                resources: resources.clone(),
            },
        );
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.used.add(&resources);
            agent.tasks.push((framework_id, task_id));
        }
    }

    /// The agent's link closed (if it is still the one given).
    pub fn agent_disconnected(&mut self, agent_id: &Id, stream_id: &str) {
        if let Some(agent) = self.agents.get_mut(agent_id) {
            if agent.link.as_ref().is_some_and(|l| l.id == stream_id) {
                agent.link = None;
                tracing::info!(agent = %agent_id, "agent disconnected");
                self.rescind_agent_offers(agent_id);
            }
        }
    }

    /// Sends a ping on every agent link and returns agents that missed more than `max_missed` pings in a row.
    pub fn ping_agents(&mut self, max_missed: u32) -> Vec<Id> {
        let mut lost = Vec::new();
        for agent in self.agents.values_mut() {
            let alive = agent.link.as_ref().is_some_and(|l| l.send(AgentEvent::Ping));
            if alive {
                agent.missed_pings = 0;
            } else {
                agent.link = None;
                agent.missed_pings += 1;
                if agent.missed_pings == max_missed {
                    lost.push(agent.id.clone());
                }
            }
        }
        lost
    }

    /// Marks an agent unreachable: its offers are rescinded and its tasks reported TASK_UNREACHABLE
    /// (TASK_LOST to frameworks that are not partition-aware).
    pub fn mark_agent_unreachable(&mut self, agent_id: &Id) {
        self.rescind_agent_offers(agent_id);
        let Some(agent) = self.agents.remove(agent_id) else { return };
        tracing::warn!(agent = %agent_id, "agent unreachable; removing it");
        for (framework_id, task_id) in &agent.tasks {
            let Some(framework) = self.frameworks.get_mut(framework_id) else { continue };
            let partition_aware = framework.info.has_capability("PARTITION_AWARE");
            let state = if partition_aware { TaskState::TASK_UNREACHABLE } else { TaskState::TASK_LOST };
            if let Some(mut task) = framework.tasks.remove(task_id) {
                let status = master_status(&task.info.task_id, Some(agent_id), state, "Agent is unreachable", "REASON_AGENT_REMOVED");
                task.record(&status);
                framework.send(Event::update(status));
                push_bounded(&mut framework.completed_tasks, task, self.max_completed_tasks_per_framework);
            }
        }
        for framework in self.frameworks.values_mut() {
            framework.send(Event::agent_failure(agent_id.clone()));
        }
    }

    /// A status update from an agent: records it, frees resources on terminal states and forwards it.
    pub fn status_update(&mut self, agent_id: &Id, framework_id: &Id, status: TaskStatus) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            // The framework is gone: acknowledge on its behalf so the agent stops retrying.
            if let (Some(uuid), Some(agent)) = (&status.uuid, self.agents.get(agent_id)) {
                if let Some(link) = &agent.link {
                    link.send(AgentEvent::Acknowledge {
                        framework_id: framework_id.clone(),
                        task_id: status.task_id.clone(),
                        uuid: uuid.clone(),
                    });
                }
            }
            return;
        };
        if let Some(task) = framework.tasks.get_mut(&status.task_id) {
            task.record(&status);
            if status.state.is_terminal() {
                let task = framework.tasks.remove(&status.task_id).expect("task present");
                if let Some(agent) = self.agents.get_mut(agent_id) {
                    agent.used.subtract_saturating(&task.resources);
                    agent.tasks.retain(|(f, t)| !(f == framework_id && *t == status.task_id));
                }
                push_bounded(&mut framework.completed_tasks, task, self.max_completed_tasks_per_framework);
            }
        }
        framework.send(Event::update(status));
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
            if let Some(framework) = self.frameworks.get_mut(&id) {
                if let Some(old) = framework.stream.take() {
                    // Only one subscription per framework: the old stream gets an error and closes.
                    old.send(Event::error("Framework failed over"));
                }
                framework.info = info;
                framework.stream = Some(stream);
                framework.active = true;
                framework.reregistered_time = Some(now);
                framework.unregistered_time = None;
                framework.suppressed_roles = suppressed_roles;
                tracing::info!(framework = %id, "framework re-subscribed");
                return Ok(id);
            }
        }
        let id = info.id.clone().unwrap_or_else(|| {
            let id = Id::new(format!("{}-{:04}", self.info.id, self.next_framework));
            self.next_framework += 1;
            id
        });
        info.id = Some(id.clone());
        tracing::info!(framework = %id, name = %info.name, "framework subscribed");
        self.frameworks.insert(
            id.clone(),
            Framework {
                id: id.clone(),
                info,
                stream: Some(stream),
                active: true,
                registered_time: now,
                reregistered_time: None,
                unregistered_time: None,
                suppressed_roles,
                filters: Vec::new(),
                tasks: BTreeMap::new(),
                completed_tasks: VecDeque::new(),
                offers: Vec::new(),
            },
        );
        Ok(id)
    }

    /// The framework's stream closed (if it is still the current one): it stops getting offers and its
    /// failover timer starts.
    pub fn framework_disconnected(&mut self, framework_id: &Id, stream_id: &str) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else { return };
        if !framework.stream.as_ref().is_some_and(|s| s.id == stream_id) {
            return;
        }
        framework.stream = None;
        framework.active = false;
        framework.unregistered_time = Some(now_secs());
        tracing::info!(framework = %framework_id, "framework disconnected");
        self.rescind_framework_offers(framework_id);
    }

    /// Removes frameworks whose failover timeout has passed; returns their ids.
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
        let stream = framework.stream.as_ref().ok_or_else(|| CallError::Forbidden("Framework is not subscribed".into()))?;
        match stream_id {
            None => Err(CallError::BadRequest("All non-subscribe calls should include the 'Mesos-Stream-Id' header".into())),
            Some(id) if id != stream.id => Err(CallError::BadRequest(format!(
                "The stream ID '{id}' included in this request didn't match the stream ID currently associated with framework ID {framework_id}"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// TEARDOWN: kills every task, removes the framework and closes its stream.
    pub fn remove_framework(&mut self, framework_id: &Id) {
        self.rescind_framework_offers(framework_id);
        let Some(mut framework) = self.frameworks.remove(framework_id) else { return };
        for (task_id, task) in std::mem::take(&mut framework.tasks) {
            let agent_id = task.info.agent_id.clone();
            if let Some(agent) = self.agents.get_mut(&agent_id) {
                agent.used.subtract_saturating(&task.resources);
                agent.tasks.retain(|(f, t)| !(f == framework_id && *t == task_id));
            }
            push_bounded(&mut framework.completed_tasks, task, self.max_completed_tasks_per_framework);
        }
        for agent in self.agents.values() {
            if let Some(link) = &agent.link {
                link.send(AgentEvent::ShutdownFramework { framework_id: framework_id.clone() });
            }
        }
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
        let mut offered = Resources::default();
        let mut agent_id: Option<Id> = None;
        let mut valid = !offer_ids.is_empty();
        for offer_id in offer_ids {
            match self.offers.get(offer_id) {
                Some(record) if record.offer.framework_id == *framework_id => {
                    if agent_id.as_ref().is_some_and(|a| *a != record.offer.agent_id) {
                        valid = false;
                    }
                    agent_id = Some(record.offer.agent_id.clone());
                }
                _ => valid = false,
            }
        }
        // Invalid offers: every task is answered TASK_LOST (TASK_DROPPED when partition-aware).
        let launches: Vec<TaskInfo> =
            operations.into_iter().filter(|op| op.kind == "LAUNCH").flat_map(|op| op.launch.map(|l| l.task_infos).unwrap_or_default()).collect();
        let Some(agent_id) = agent_id.filter(|_| valid) else {
            for offer_id in offer_ids {
                self.remove_offer(offer_id);
            }
            self.drop_tasks(framework_id, &launches, "Task launched with invalid offers", "REASON_INVALID_OFFERS");
            return Ok(());
        };
        let role = self.offers.get(&offer_ids[0]).and_then(|r| r.offer.allocation_info.clone()).map(|a| a.role).unwrap_or_else(|| "*".into());
        for offer_id in offer_ids {
            if let Some(record) = self.remove_offer(offer_id) {
                offered.add(&record.resources);
            }
        }
        let framework_info = match self.frameworks.get(framework_id) {
            Some(f) => f.info.clone(),
            None => return Err(CallError::BadRequest("Framework cannot be found".into())),
        };
        let mut remaining = offered.clone();
        for task in launches {
            let wanted = match Resources::from_v1(&task.resources) {
                Ok(r) => r,
                Err(e) => {
                    self.drop_tasks(framework_id, &[task], &format!("Task uses invalid resources: {e}"), "REASON_TASK_INVALID");
                    continue;
                }
            };
            if task.agent_id != agent_id || !remaining.contains(&wanted) || task.command.is_none() && task.executor.is_none() {
                let why = if task.agent_id != agent_id {
                    "Task uses an agent different from the offer's"
                } else if !remaining.contains(&wanted) {
                    "Task uses more resources than offered"
                } else {
                    "Task has neither a command nor an executor"
                };
                self.drop_tasks(framework_id, &[task], why, "REASON_TASK_INVALID");
                continue;
            }
            if self.frameworks.get(framework_id).is_some_and(|f| f.tasks.contains_key(&task.task_id)) {
                self.drop_tasks(framework_id, &[task], "Task has duplicate ID", "REASON_TASK_INVALID");
                continue;
            }
            remaining.subtract_saturating(&wanted);
            let agent = self.agents.get_mut(&agent_id).expect("offer's agent exists");
            agent.used.add(&wanted);
            agent.tasks.push((framework_id.clone(), task.task_id.clone()));
            if let Some(link) = &agent.link {
                link.send(AgentEvent::Launch { framework: framework_info.clone(), task: task.clone() });
            }
            let framework = self.frameworks.get_mut(framework_id).expect("checked above");
            let staging = TaskStatus { timestamp: Some(now_secs()), ..master_status(&task.task_id, Some(&agent_id), TaskState::TASK_STAGING, "", "") };
            let mut record = Task { info: task, framework_id: framework_id.clone(), role: role.clone(), state: TaskState::TASK_STAGING, statuses: Vec::new(), resources: wanted };
            record.record(&staging);
            framework.tasks.insert(record.info.task_id.clone(), record);
        }
        self.add_filter(framework_id, &agent_id, remaining, refuse_seconds);
        Ok(())
    }

    fn drop_tasks(&mut self, framework_id: &Id, tasks: &[TaskInfo], message: &str, reason: &str) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else { return };
        let state = if framework.info.has_capability("PARTITION_AWARE") { TaskState::TASK_DROPPED } else { TaskState::TASK_LOST };
        for task in tasks {
            framework.send(Event::update(master_status(&task.task_id, Some(&task.agent_id), state, message, reason)));
        }
    }

    /// DECLINE: returns the offers' resources and filters them for `refuse_seconds`.
    pub fn decline(&mut self, framework_id: &Id, offer_ids: &[Id], refuse_seconds: Option<f64>) {
        for offer_id in offer_ids {
            let Some(record) = self.offers.get(offer_id) else { continue };
            if record.offer.framework_id != *framework_id {
                continue;
            }
            let record = self.remove_offer(offer_id).expect("present");
            self.add_filter(framework_id, &record.offer.agent_id, record.resources, refuse_seconds);
        }
    }

    fn add_filter(&mut self, framework_id: &Id, agent_id: &Id, resources: Resources, refuse_seconds: Option<f64>) {
        let Some(duration) = allocator::refuse_duration(refuse_seconds) else { return };
        if resources.is_empty() {
            return;
        }
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            framework.filters.push(RefuseFilter { agent_id: agent_id.clone(), resources, until: now_secs() + duration.as_secs_f64() });
        }
    }

    /// REVIVE: clears filters and un-suppresses the roles (all when empty).
    pub fn revive(&mut self, framework_id: &Id, roles: &[String]) {
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            framework.filters.clear();
            if roles.is_empty() {
                framework.suppressed_roles.clear();
            } else {
                framework.suppressed_roles.retain(|r| !roles.contains(r));
            }
        }
    }

    /// SUPPRESS: stops offers for the roles (all when empty).
    pub fn suppress(&mut self, framework_id: &Id, roles: &[String]) {
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            let roles = if roles.is_empty() { framework.info.effective_roles() } else { roles.to_vec() };
            for role in roles {
                if !framework.suppressed_roles.contains(&role) {
                    framework.suppressed_roles.push(role);
                }
            }
        }
        self.rescind_framework_offers(framework_id);
    }

    /// KILL: asks the task's agent to kill it; an unknown task gets TASK_LOST from the master.
    pub fn kill(&mut self, framework_id: &Id, task_id: &Id, kill_policy: Option<KillPolicy>) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else { return };
        match framework.tasks.get(task_id) {
            Some(task) => {
                if let Some(link) = self.agents.get(&task.info.agent_id).and_then(|a| a.link.as_ref()) {
                    link.send(AgentEvent::Kill { framework_id: framework_id.clone(), task_id: task_id.clone(), kill_policy });
                }
            }
            None => {
                let state = if framework.info.has_capability("PARTITION_AWARE") { TaskState::TASK_UNKNOWN } else { TaskState::TASK_LOST };
                framework.send(Event::update(master_status(task_id, None, state, "Attempted to kill an unknown task", "REASON_RECONCILIATION")));
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
    pub fn reconcile(&mut self, framework_id: &Id, tasks: &[(Id, Option<Id>)]) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else { return };
        let partition_aware = framework.info.has_capability("PARTITION_AWARE");
        let mut answers = Vec::new();
        if tasks.is_empty() {
            for task in framework.tasks.values() {
                answers.push(reconciled(task));
            }
        } else {
            for (task_id, agent_id) in tasks {
                match framework.tasks.get(task_id) {
                    Some(task) => answers.push(reconciled(task)),
                    None => {
                        let known_agent = agent_id.as_ref().is_some_and(|a| self.agents.contains_key(a));
                        let state = match (partition_aware, known_agent) {
                            (false, _) => TaskState::TASK_LOST,
                            (true, true) => TaskState::TASK_GONE,
                            (true, false) => TaskState::TASK_UNKNOWN,
                        };
                        answers.push(master_status(task_id, agent_id.as_ref(), state, "Reconciliation: Task is unknown", "REASON_RECONCILIATION"));
                    }
                }
            }
        }
        for status in answers {
            framework.send(Event::update(status));
        }
    }

    // ----- offers -------------------------------------------------------------------------------------------

    fn remove_offer(&mut self, offer_id: &Id) -> Option<OfferRecord> {
        let record = self.offers.remove(offer_id)?;
        if let Some(agent) = self.agents.get_mut(&record.offer.agent_id) {
            agent.offered.subtract_saturating(&record.resources);
        }
        if let Some(framework) = self.frameworks.get_mut(&record.offer.framework_id) {
            framework.offers.retain(|o| o != offer_id);
        }
        Some(record)
    }

    fn rescind(&mut self, offer_id: &Id) {
        if let Some(record) = self.remove_offer(offer_id) {
            if let Some(framework) = self.frameworks.get_mut(&record.offer.framework_id) {
                framework.send(Event::rescind(offer_id.clone()));
            }
        }
    }

    fn rescind_agent_offers(&mut self, agent_id: &Id) {
        let ids: Vec<Id> = self.offers.values().filter(|r| r.offer.agent_id == *agent_id).map(|r| r.offer.id.clone()).collect();
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

    /// Rescinds offers older than `timeout` seconds.
    pub fn expire_offers(&mut self, now: f64, timeout: f64) {
        let ids: Vec<Id> = self.offers.values().filter(|r| now - r.created >= timeout).map(|r| r.offer.id.clone()).collect();
        for id in ids {
            self.rescind(&id);
        }
    }

    /// Runs one allocation cycle and sends the resulting offers. Returns how many offers were made.
    pub fn allocate(&mut self, now: f64) -> usize {
        for framework in self.frameworks.values_mut() {
            framework.filters.retain(|f| f.until > now);
        }
        let decisions = allocator::allocate(&self.allocator_view(now), (now * 1000.0) as u64, self.next_offer);
        let count = decisions.len();
        let mut by_framework: HashMap<Id, Vec<Offer>> = HashMap::new();
        for decision in decisions {
            let agent_id = Id::new(decision.agent_id.clone());
            let framework_id = Id::new(decision.framework_id.clone());
            let Some(agent) = self.agents.get_mut(&agent_id) else { continue };
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
                    address: Address { hostname: Some(agent.info.hostname.clone()), ip: Some(agent.info.ip.clone()), port: agent.info.port },
                    path: Some("/slave(1)".into()),
                }),
                resources: decision.resources.to_v1_allocated(ReservationFormat::PreRefinement, &decision.role),
                attributes: agent.info.attributes.clone(),
                executor_ids: Vec::new(),
                allocation_info: Some(AllocationInfo { role: decision.role.clone() }),
            };
            if let Some(framework) = self.frameworks.get_mut(&framework_id) {
                framework.offers.push(offer_id.clone());
            }
            self.offers.insert(offer_id, OfferRecord { offer: offer.clone(), resources: decision.resources, created: now });
            by_framework.entry(framework_id).or_default().push(offer);
        }
        for (framework_id, offers) in by_framework {
            if let Some(framework) = self.frameworks.get_mut(&framework_id) {
                framework.send(Event::offers(offers));
            }
        }
        count
    }

    /// The allocator's plain-data view of the cluster: connected agents with what is used and offered on them,
    /// frameworks that may receive offers, and their refuse filters.
    fn allocator_view(&self, now: f64) -> allocator::AllocatorState {
        let mut view = allocator::AllocatorState::new(allocator::MinAllocatable::default());
        for agent in self.agents.values().filter(|a| a.link.is_some()) {
            view.add_agent(&agent.id.value, agent.total.clone());
        }
        for framework in self.frameworks.values().filter(|f| f.active && f.stream.is_some()) {
            view.add_framework(&framework.id.value, framework.info.effective_roles());
            let _ = view.suppress(&framework.id.value, &framework.suppressed_roles);
            for filter in &framework.filters {
                let remaining = std::time::Duration::from_secs_f64((filter.until - now).max(0.0));
                for role in framework.info.effective_roles() {
                    let _ = view.add_filter(
                        &framework.id.value,
                        &role,
                        &filter.agent_id.value,
                        filter.resources.clone(),
                        (now * 1000.0) as u64,
                        remaining,
                    );
                }
            }
        }
        for framework in self.frameworks.values() {
            for task in framework.tasks.values() {
                let _ = view.add_allocation(&framework.id.value, &task.role, &task.info.agent_id.value, &task.resources);
            }
        }
        for record in self.offers.values() {
            let role = record.offer.allocation_info.as_ref().map(|a| a.role.as_str()).unwrap_or("*");
            let _ = view.add_allocation(&record.offer.framework_id.value, role, &record.offer.agent_id.value, &record.resources);
        }
        view
    }

    /// Sends a heartbeat to every subscribed framework.
    pub fn heartbeat_frameworks(&mut self) {
        for framework in self.frameworks.values_mut() {
            framework.send(Event::heartbeat());
        }
    }
}

impl Task {
    fn record(&mut self, status: &TaskStatus) {
        self.state = status.state;
        self.statuses.push(StatusRecord { state: status.state, timestamp: status.timestamp.unwrap_or_else(now_secs), status: status.clone() });
    }
}

fn reconciled(task: &Task) -> TaskStatus {
    let mut status = task.statuses.last().map(|s| s.status.clone()).unwrap_or_else(|| {
        master_status(&task.info.task_id, Some(&task.info.agent_id), task.state, "", "")
    });
    status.uuid = None;
    status.source = Some("SOURCE_MASTER".into());
    status.reason = Some("REASON_RECONCILIATION".into());
    status.message = Some("Reconciliation: Latest task state".into());
    status
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
