//! Marathon's record of one task (1.4 keeps one task per instance) and its JSON forms.

use crate::app::{PathId, Timestamp};
use common::mesos::{TaskState, TaskStatus};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A task Marathon launched (or adopted), as persisted in ZooKeeper.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Instance {
    /// Mesos task id, `<safe app id>.<uuid>`.
    pub task_id: String,
    /// App the task belongs to.
    #[serde(with = "super::text::path_id")]
    pub app_id: PathId,
    /// App version (config version) the task was launched with.
    #[serde(with = "super::text::timestamp")]
    pub version: Timestamp,
    /// Agent it runs on.
    pub agent_id: String,
    /// Agent hostname.
    pub host: String,
    /// Host ports, in port-definition order.
    pub ports: Vec<u32>,
    /// Service ports of the app version.
    pub service_ports: Vec<u32>,
    /// Latest Mesos state (`None` until the first update: staged).
    pub state: Option<TaskState>,
    /// When the launch was sent.
    #[serde(with = "super::text::timestamp")]
    pub staged_at: Timestamp,
    /// When it became running.
    #[serde(with = "super::text::opt_timestamp")]
    pub started_at: Option<Timestamp>,
    /// Container IP addresses reported by Mesos.
    pub ip_addresses: Vec<String>,
    /// Mesos health-check verdict, if any.
    pub healthy: Option<bool>,
    /// A kill has been sent.
    pub killing: bool,
    /// Results of Marathon-run health checks, one per check of the app.
    #[serde(default)]
    pub health: Vec<crate::health::HealthResult>,
    /// Since when the task is TASK_UNREACHABLE, and whether the app's `unreachableStrategy` has made it
    /// inactive yet (`None` while reachable).
    #[serde(default)]
    pub unreachable: Option<Unreachable>,
}

/// An unreachable task's progress through the app's `unreachableStrategy`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Unreachable {
    /// When the task was first reported TASK_UNREACHABLE (epoch milliseconds).
    pub since_ms: i64,
    /// Unreachable for `inactiveAfterSeconds`: no longer counted, a replacement is launched.
    pub inactive: bool,
}

impl Instance {
    /// A task just launched on `agent_id` (`host`): staged now, nothing heard from Mesos yet, no ports.
    pub fn launched(task_id: String, app_id: PathId, version: Timestamp, agent_id: String, host: String) -> Instance {
        Instance {
            task_id,
            app_id,
            version,
            agent_id,
            host,
            ports: Vec::new(),
            service_ports: Vec::new(),
            state: None,
            staged_at: super::now(),
            started_at: None,
            ip_addresses: Vec::new(),
            healthy: None,
            killing: false,
            health: Vec::new(),
            unreachable: None,
        }
    }

    /// Still counts towards the app's instances: not terminal, and not unreachable for longer than the app's
    /// `unreachableStrategy.inactiveAfterSeconds` (see [`crate::core::Core::expire_unreachable`]); an
    /// inactive task is replaced, and killed as surplus if it comes back.
    pub fn is_active(&self) -> bool {
        match self.state {
            Some(s) if s.is_terminal() => false,
            // Recorded before the strategy was tracked: inactive, as all unreachable tasks were then.
            Some(TaskState::TASK_UNREACHABLE) => !self.unreachable.is_none_or(|u| u.inactive),
            _ => true,
        }
    }

    /// Running per Mesos.
    pub fn is_running(&self) -> bool {
        self.state == Some(TaskState::TASK_RUNNING)
    }

    /// Staged: no Mesos status yet, or TASK_STAGING/STARTING.
    pub fn is_staged(&self) -> bool {
        matches!(self.state, None | Some(TaskState::TASK_STAGING) | Some(TaskState::TASK_STARTING))
    }

    /// Applies a Mesos status update.
    pub fn apply(&mut self, status: &TaskStatus, now: Timestamp) {
        self.state = Some(status.state);
        if status.state == TaskState::TASK_RUNNING && self.started_at.is_none() {
            self.started_at = Some(now);
        }
        if status.healthy.is_some() {
            self.healthy = status.healthy;
        }
        let ips: Vec<String> = status
            .container_status
            .iter()
            .flat_map(|c| c.network_infos.iter())
            .flat_map(|n| n.ip_addresses.iter())
            .filter_map(|ip| ip.ip_address.clone())
            .collect();
        if !ips.is_empty() {
            self.ip_addresses = ips;
        }
    }

    /// The Task JSON of `/v2/tasks` and app `tasks` (Marathon 1.4 shape) as a value.
    pub fn task_json(&self, with_service_ports: bool) -> Value {
        serde_json::to_value(self.task_view(with_service_ports)).expect("plain data serializes")
    }

    /// The Task JSON, serialized straight from the record: big reads write ten thousand of these, and
    /// building each as a `Value` first cost more than the writing.
    pub fn task_view(&self, with_service_ports: bool) -> TaskView<'_> {
        TaskView { task: self, with_service_ports }
    }

    /// The 1.4 instance id `<safe app id>.marathon-<uuid>`.
    pub fn instance_id(&self) -> String {
        match self.task_id.rsplit_once('.') {
            Some((safe, uuid)) => format!("{safe}.marathon-{uuid}"),
            None => self.task_id.clone(),
        }
    }
}

/// An [`Instance`] as Marathon 1.4's Task JSON ([`Instance::task_view`]).
pub struct TaskView<'a> {
    task: &'a Instance,
    with_service_ports: bool,
}

impl Serialize for TaskView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let t = self.task;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &t.task_id)?;
        map.serialize_entry("appId", &format_args!("{}", t.app_id))?;
        map.serialize_entry("host", &t.host)?;
        map.serialize_entry("slaveId", &t.agent_id)?;
        map.serialize_entry("state", &format_args!("{:?}", t.state.unwrap_or(TaskState::TASK_STAGING)))?;
        map.serialize_entry("stagedAt", &format_args!("{}", t.staged_at))?;
        map.serialize_entry("startedAt", &t.started_at.map(|at| at.to_string()))?;
        map.serialize_entry("version", &format_args!("{}", t.version))?;
        map.serialize_entry("ports", &t.ports)?;
        if !t.ip_addresses.is_empty() {
            let ips: Vec<Value> = t
                .ip_addresses
                .iter()
                .map(|ip| json!({"ipAddress": ip, "protocol": if ip.contains(':') { "IPv6" } else { "IPv4" }}))
                .collect();
            map.serialize_entry("ipAddresses", &ips)?;
        }
        if self.with_service_ports && !t.service_ports.is_empty() {
            map.serialize_entry("servicePorts", &t.service_ports)?;
        }
        if !t.health.is_empty() {
            let results: Vec<Value> = t.health.iter().map(|h| h.json(&t.instance_id())).collect();
            map.serialize_entry("healthCheckResults", &results)?;
        } else if let Some(healthy) = t.healthy {
            let result = json!([{
                "alive": healthy,
                "consecutiveFailures": if healthy { 0 } else { 1 },
                "firstSuccess": null,
                "lastSuccess": null,
                "lastFailure": null,
                "lastFailureCause": null,
                "instanceId": t.instance_id(),
            }]);
            map.serialize_entry("healthCheckResults", &result)?;
        }
        map.end()
    }
}
