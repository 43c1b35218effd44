//! Mesos v1 wire types in their JSON form, as the scheduler HTTP API and `/master/state` use them.
//!
//! Field names follow the protobuf definitions (`include/mesos/v1/*.proto`); optional fields are skipped when
//! absent and unknown input fields are ignored, as upstream's JSON ↔ protobuf conversion does. Nested values
//! that mesos-rs only passes through untouched (executor info, checks, discovery) stay as `serde_json::Value`.

use crate::resources::{Attribute, Resource};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The Mesos version this implementation speaks; `/version` and MasterInfo report it.
pub const VERSION: &str = "1.11.0";

/// Any Mesos identifier (`FrameworkID`, `AgentID`, `OfferID`, `TaskID`, `ExecutorID`, `ContainerID`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    /// The identifier text.
    pub value: String,
}

impl Id {
    /// Wraps a string.
    pub fn new(value: impl Into<String>) -> Id {
        Id { value: value.into() }
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.value)
    }
}

/// A network address (`hostname`, `ip`, `port`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Address {
    /// Hostname, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// IP address as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Port.
    pub port: u32,
}

/// A capability entry `{"type": "..."}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Capability {
    /// Capability name such as `PARTITION_AWARE`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// MasterInfo, as stored in ZooKeeper `json.info_*` znodes and sent in SUBSCRIBED.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MasterInfo {
    /// Random UUID per master process.
    pub id: String,
    /// IPv4 address in network byte order read as a host integer (127.0.0.1 → 16777343).
    pub ip: u32,
    /// Listening port.
    pub port: u32,
    /// `master@ip:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Advertised hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Mesos version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Address triple.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Master capabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<Capability>,
}

impl MasterInfo {
    /// The `host:port` to reach this master over HTTP (hostname preferred, as upstream's redirects use).
    pub fn http_address(&self) -> String {
        let host = self
            .address
            .as_ref()
            .and_then(|a| a.hostname.clone().or_else(|| a.ip.clone()))
            .or_else(|| self.hostname.clone())
            .unwrap_or_else(|| ip_from_u32(self.ip).to_string());
        format!("{host}:{}", self.port)
    }
}

/// Encodes an IPv4 address the way MasterInfo.ip does (network byte order read as a little-endian integer).
pub fn ip_to_u32(ip: std::net::Ipv4Addr) -> u32 {
    u32::from_le_bytes(ip.octets())
}

/// Decodes MasterInfo.ip.
pub fn ip_from_u32(ip: u32) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(ip.to_le_bytes())
}

/// Key/value labels.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Labels {
    /// The labels.
    #[serde(default)]
    pub labels: Vec<Label>,
}

/// One label.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Label {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// FrameworkInfo.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct FrameworkInfo {
    /// User tasks run as.
    pub user: String,
    /// Framework name.
    pub name: String,
    /// Assigned id (set when re-subscribing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    /// Seconds the master keeps the framework's tasks after it disconnects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_timeout: Option<f64>,
    /// Whether agents checkpoint its tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<bool>,
    /// Deprecated single role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Roles (with MULTI_ROLE).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Scheduler hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Principal for authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Framework web UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webui_url: Option<String>,
    /// Capabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<Capability>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
}

impl FrameworkInfo {
    /// The roles the framework subscribes with (`roles` with MULTI_ROLE, else `role`, else `*`).
    pub fn effective_roles(&self) -> Vec<String> {
        if self.has_capability("MULTI_ROLE") && !self.roles.is_empty() {
            self.roles.clone()
        } else {
            vec![self.role.clone().unwrap_or_else(|| "*".to_string())]
        }
    }

    /// Whether the framework declared a capability.
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities.iter().any(|c| c.kind == name)
    }
}

/// One environment variable.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Variable {
    /// Name.
    pub name: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// An environment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Environment {
    /// Variables.
    #[serde(default)]
    pub variables: Vec<Variable>,
}

/// A URI to fetch into the sandbox.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CommandUri {
    /// The URI.
    pub value: String,
    /// Make it executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<bool>,
    /// Extract archives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<bool>,
    /// Use the fetcher cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<bool>,
    /// Name of the fetched file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
}

fn default_true() -> bool {
    true
}

/// CommandInfo: what a command task runs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CommandInfo {
    /// URIs to fetch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<CommandUri>,
    /// Environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// `true`: run `value` with `/bin/sh -c`; `false`: exec `value` with `arguments`.
    #[serde(default = "default_true")]
    pub shell: bool,
    /// The command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Arguments (argv, including argv\[0\]) when `shell` is false.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<String>,
    /// User to run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A container volume.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Volume {
    /// Path inside the container.
    pub container_path: String,
    /// Path on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    /// `RW` or `RO`.
    #[serde(default = "default_rw")]
    pub mode: String,
}

fn default_rw() -> String {
    "RW".to_string()
}

/// A Docker port mapping.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PortMapping {
    /// Port on the host.
    pub host_port: u32,
    /// Port in the container.
    pub container_port: u32,
    /// `tcp` or `udp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// A `docker run` parameter `--key=value`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Parameter {
    /// Option name without dashes.
    pub key: String,
    /// Value.
    pub value: String,
}

/// ContainerInfo.DockerInfo.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DockerInfo {
    /// Image reference.
    pub image: String,
    /// `HOST` (default), `BRIDGE`, `NONE` or `USER`.
    #[serde(default = "default_host_network")]
    pub network: String,
    /// Port mappings (BRIDGE).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_mappings: Vec<PortMapping>,
    /// Privileged mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Extra `docker run` parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// Pull even when the image is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_pull_image: Option<bool>,
}

fn default_host_network() -> String {
    "HOST".to_string()
}

/// ContainerInfo.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ContainerInfo {
    /// `DOCKER` or `MESOS`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// Container hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Docker settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerInfo>,
    /// Network infos (passed through).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_infos: Vec<Value>,
}

/// A protobuf DurationInfo.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DurationInfo {
    /// Nanoseconds.
    pub nanoseconds: i64,
}

/// KillPolicy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct KillPolicy {
    /// Time between SIGTERM and SIGKILL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<DurationInfo>,
}

/// TaskInfo, as a framework sends it in a LAUNCH operation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TaskInfo {
    /// Task name.
    pub name: String,
    /// Task id.
    pub task_id: Id,
    /// Agent to run on.
    pub agent_id: Id,
    /// Resources for the task.
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// Custom executor (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<Value>,
    /// Command for the command executor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandInfo>,
    /// Container settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerInfo>,
    /// Health check (passed through to the agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Value>,
    /// Generic check (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Value>,
    /// Kill policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_policy: Option<KillPolicy>,
    /// Opaque data (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    /// Discovery info (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<Value>,
}

/// Task states, serialized with their `TASK_` names.
#[allow(non_camel_case_types, missing_docs)]
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskState {
    TASK_STAGING,
    TASK_STARTING,
    TASK_RUNNING,
    TASK_KILLING,
    TASK_FINISHED,
    TASK_FAILED,
    TASK_KILLED,
    TASK_ERROR,
    TASK_LOST,
    TASK_DROPPED,
    TASK_UNREACHABLE,
    TASK_GONE,
    TASK_GONE_BY_OPERATOR,
    TASK_UNKNOWN,
}

impl TaskState {
    /// Every state, in a stable order.
    pub const ALL: [TaskState; 14] = [
        TaskState::TASK_STAGING,
        TaskState::TASK_STARTING,
        TaskState::TASK_RUNNING,
        TaskState::TASK_KILLING,
        TaskState::TASK_FINISHED,
        TaskState::TASK_FAILED,
        TaskState::TASK_KILLED,
        TaskState::TASK_ERROR,
        TaskState::TASK_LOST,
        TaskState::TASK_DROPPED,
        TaskState::TASK_UNREACHABLE,
        TaskState::TASK_GONE,
        TaskState::TASK_GONE_BY_OPERATOR,
        TaskState::TASK_UNKNOWN,
    ];

    /// Whether the task has ended for good.
    pub fn is_terminal(self) -> bool {
        use TaskState::*;
        matches!(
            self,
            TASK_FINISHED
                | TASK_FAILED
                | TASK_KILLED
                | TASK_ERROR
                | TASK_LOST
                | TASK_DROPPED
                | TASK_GONE
                | TASK_GONE_BY_OPERATOR
        )
    }

    /// The lower-case name without `TASK_` (as in metric keys `master/tasks_running`).
    pub fn short_name(self) -> String {
        format!("{self:?}").trim_start_matches("TASK_").to_ascii_lowercase()
    }
}

/// Container status reported with task updates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ContainerStatus {
    /// Container id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<Id>,
    /// Network infos with IP addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_infos: Vec<NetworkInfo>,
    /// Executor pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_pid: Option<u32>,
}

/// A network's addresses.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct NetworkInfo {
    /// IP addresses.
    #[serde(default)]
    pub ip_addresses: Vec<IpAddress>,
}

/// One IP address.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct IpAddress {
    /// Address text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// `IPv4` or `IPv6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// A TaskStatus update.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TaskStatus {
    /// Task id.
    pub task_id: Id,
    /// New state.
    pub state: TaskState,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `SOURCE_MASTER`, `SOURCE_AGENT` or `SOURCE_EXECUTOR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `REASON_*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Opaque data (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Agent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<Id>,
    /// Executor id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_id: Option<Id>,
    /// Seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    /// Base64 UUID; present means the update is reliable and must be acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Health-check result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    /// Container status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_status: Option<ContainerStatus>,
    /// When the agent became unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_time: Option<TimeInfo>,
}

/// A protobuf TimeInfo.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TimeInfo {
    /// Nanoseconds since the epoch.
    pub nanoseconds: i64,
}

/// Offer.URL (where the agent is).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Url {
    /// `http`.
    pub scheme: String,
    /// Agent address.
    pub address: Address,
    /// `/slave(1)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Resource allocation info.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AllocationInfo {
    /// Role the resources are allocated to.
    pub role: String,
}

/// An offer of an agent's resources to a framework.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Offer {
    /// Offer id.
    pub id: Id,
    /// Framework offered to.
    pub framework_id: Id,
    /// Agent offered.
    pub agent_id: Id,
    /// Agent hostname.
    pub hostname: String,
    /// Agent URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    /// Offered resources.
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// Agent attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// Executors of this framework running on the agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub executor_ids: Vec<Id>,
    /// Role of the allocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_info: Option<AllocationInfo>,
}

/// Offer filters.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Filters {
    /// Seconds to refuse the declined resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refuse_seconds: Option<f64>,
}

/// An offer operation (LAUNCH is what frameworks use; others are passed through unsupported).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Operation {
    /// `LAUNCH`, `LAUNCH_GROUP`, `RESERVE`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// LAUNCH payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<Launch>,
}

/// LAUNCH payload.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Launch {
    /// Tasks to launch.
    #[serde(default)]
    pub task_infos: Vec<TaskInfo>,
}

pub mod scheduler {
    //! The v1 scheduler API: calls (framework → master) and events (master → framework).

    use super::*;

    /// A scheduler call. Exactly one payload matching `type` is expected.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Call {
        /// Framework making the call (absent only on a first SUBSCRIBE).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub framework_id: Option<Id>,
        /// Call type.
        #[serde(rename = "type")]
        pub kind: CallType,
        /// SUBSCRIBE payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub subscribe: Option<Subscribe>,
        /// ACCEPT payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub accept: Option<Accept>,
        /// DECLINE payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub decline: Option<Decline>,
        /// REVIVE payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub revive: Option<Roles>,
        /// SUPPRESS payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub suppress: Option<Roles>,
        /// KILL payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub kill: Option<Kill>,
        /// SHUTDOWN payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub shutdown: Option<Shutdown>,
        /// ACKNOWLEDGE payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub acknowledge: Option<Acknowledge>,
        /// RECONCILE payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reconcile: Option<Reconcile>,
        /// MESSAGE payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<Message>,
        /// REQUEST payload (passed through).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub request: Option<Value>,
    }

    impl Call {
        /// A call of the given type with no payload.
        pub fn new(kind: CallType, framework_id: Option<Id>) -> Call {
            Call {
                framework_id,
                kind,
                subscribe: None,
                accept: None,
                decline: None,
                revive: None,
                suppress: None,
                kill: None,
                shutdown: None,
                acknowledge: None,
                reconcile: None,
                message: None,
                request: None,
            }
        }
    }

    /// Scheduler call types.
    #[allow(missing_docs)]
    #[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum CallType {
        Subscribe,
        Teardown,
        Accept,
        Decline,
        AcceptInverseOffers,
        DeclineInverseOffers,
        Revive,
        Kill,
        Shutdown,
        Acknowledge,
        AcknowledgeOperationStatus,
        Reconcile,
        ReconcileOperations,
        Message,
        Request,
        Suppress,
        UpdateFramework,
        Unknown,
    }

    /// SUBSCRIBE payload.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Subscribe {
        /// The framework.
        pub framework_info: FrameworkInfo,
        /// Roles to start suppressed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub suppressed_roles: Vec<String>,
    }

    /// ACCEPT payload.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Accept {
        /// Offers being accepted.
        pub offer_ids: Vec<Id>,
        /// Operations to apply.
        #[serde(default)]
        pub operations: Vec<Operation>,
        /// Filter for the unused resources.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub filters: Option<Filters>,
    }

    /// DECLINE payload.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Decline {
        /// Offers declined.
        pub offer_ids: Vec<Id>,
        /// Filter.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub filters: Option<Filters>,
    }

    /// REVIVE / SUPPRESS payload.
    #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
    pub struct Roles {
        /// Roles (empty = all).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub roles: Vec<String>,
    }

    /// KILL payload.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Kill {
        /// Task to kill.
        pub task_id: Id,
        /// Its agent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub agent_id: Option<Id>,
        /// Kill policy override.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub kill_policy: Option<KillPolicy>,
    }

    /// SHUTDOWN payload.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Shutdown {
        /// Executor to shut down.
        pub executor_id: Id,
        /// Its agent.
        pub agent_id: Id,
    }

    /// ACKNOWLEDGE payload.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Acknowledge {
        /// Agent of the update.
        pub agent_id: Id,
        /// Task of the update.
        pub task_id: Id,
        /// The update's uuid (base64).
        pub uuid: String,
    }

    /// RECONCILE payload.
    #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
    pub struct Reconcile {
        /// Tasks to reconcile; empty = implicit reconciliation.
        #[serde(default)]
        pub tasks: Vec<ReconcileTask>,
    }

    /// A task named in RECONCILE.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct ReconcileTask {
        /// Task id.
        pub task_id: Id,
        /// Agent id, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub agent_id: Option<Id>,
    }

    /// MESSAGE payload (call and event).
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Message {
        /// Agent.
        pub agent_id: Id,
        /// Executor.
        pub executor_id: Id,
        /// Base64 data.
        pub data: String,
    }

    /// An event on the subscription stream.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Event {
        /// Event type.
        #[serde(rename = "type")]
        pub kind: EventType,
        /// SUBSCRIBED payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub subscribed: Option<Subscribed>,
        /// OFFERS payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub offers: Option<Offers>,
        /// RESCIND payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rescind: Option<Rescind>,
        /// UPDATE payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub update: Option<Update>,
        /// MESSAGE payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<Message>,
        /// FAILURE payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub failure: Option<Failure>,
        /// ERROR payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error: Option<ErrorMessage>,
    }

    impl Event {
        fn bare(kind: EventType) -> Event {
            Event {
                kind,
                subscribed: None,
                offers: None,
                rescind: None,
                update: None,
                message: None,
                failure: None,
                error: None,
            }
        }

        /// SUBSCRIBED.
        pub fn subscribed(framework_id: Id, heartbeat_interval_seconds: f64, master_info: MasterInfo) -> Event {
            Event {
                subscribed: Some(Subscribed {
                    framework_id,
                    heartbeat_interval_seconds,
                    master_info: Some(master_info),
                }),
                ..Event::bare(EventType::Subscribed)
            }
        }

        /// OFFERS.
        pub fn offers(offers: Vec<Offer>) -> Event {
            Event { offers: Some(Offers { offers }), ..Event::bare(EventType::Offers) }
        }

        /// RESCIND.
        pub fn rescind(offer_id: Id) -> Event {
            Event { rescind: Some(Rescind { offer_id }), ..Event::bare(EventType::Rescind) }
        }

        /// UPDATE.
        pub fn update(status: TaskStatus) -> Event {
            Event { update: Some(Update { status }), ..Event::bare(EventType::Update) }
        }

        /// MESSAGE.
        pub fn message(message: Message) -> Event {
            Event { message: Some(message), ..Event::bare(EventType::Message) }
        }

        /// FAILURE (agent lost).
        pub fn agent_failure(agent_id: Id) -> Event {
            Event {
                failure: Some(Failure { agent_id: Some(agent_id), executor_id: None, status: None }),
                ..Event::bare(EventType::Failure)
            }
        }

        /// ERROR.
        pub fn error(message: impl Into<String>) -> Event {
            Event { error: Some(ErrorMessage { message: message.into() }), ..Event::bare(EventType::Error) }
        }

        /// HEARTBEAT.
        pub fn heartbeat() -> Event {
            Event::bare(EventType::Heartbeat)
        }
    }

    /// Scheduler event types.
    #[allow(missing_docs)]
    #[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum EventType {
        Subscribed,
        Offers,
        InverseOffers,
        Rescind,
        RescindInverseOffer,
        Update,
        UpdateOperationStatus,
        Message,
        Failure,
        Error,
        Heartbeat,
        Unknown,
    }

    /// SUBSCRIBED payload.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Subscribed {
        /// Assigned framework id.
        pub framework_id: Id,
        /// Heartbeat period.
        #[serde(default)]
        pub heartbeat_interval_seconds: f64,
        /// The leading master.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub master_info: Option<MasterInfo>,
    }

    /// OFFERS payload.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Offers {
        /// Offers.
        #[serde(default)]
        pub offers: Vec<Offer>,
    }

    /// RESCIND payload.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Rescind {
        /// Rescinded offer.
        pub offer_id: Id,
    }

    /// UPDATE payload.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Update {
        /// The status.
        pub status: TaskStatus,
    }

    /// FAILURE payload.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Failure {
        /// Lost agent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub agent_id: Option<Id>,
        /// Terminated executor.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub executor_id: Option<Id>,
        /// Executor exit status.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<i32>,
    }

    /// ERROR payload.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct ErrorMessage {
        /// What went wrong.
        pub message: String,
    }
}

#[cfg(test)]
mod tests {
    use super::scheduler::*;
    use super::*;

    #[test]
    fn master_info_ip_encoding() {
        assert_eq!(ip_to_u32("127.0.0.1".parse().unwrap()), 16777343);
        assert_eq!(ip_from_u32(16777343).to_string(), "127.0.0.1");
    }

    #[test]
    fn subscribe_call_parses_like_pymesos_sends_it() {
        let body = r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"test",
            "failover_timeout":100,"capabilities":[{"type":"GPU_RESOURCES"}],"hostname":"h"}},"extra":1}"#;
        let call: Call = serde_json::from_str(body).unwrap();
        assert_eq!(call.kind, CallType::Subscribe);
        assert_eq!(call.subscribe.unwrap().framework_info.name, "test");
    }

    #[test]
    fn events_have_upstream_shape() {
        let json = serde_json::to_value(Event::offers(vec![])).unwrap();
        assert_eq!(json, serde_json::json!({"type":"OFFERS","offers":{"offers":[]}}));
        let json = serde_json::to_value(Event::heartbeat()).unwrap();
        assert_eq!(json, serde_json::json!({"type":"HEARTBEAT"}));
    }

    #[test]
    fn command_defaults_to_shell() {
        let c: CommandInfo = serde_json::from_str(r#"{"value":"echo hi"}"#).unwrap();
        assert!(c.shell);
        assert_eq!(TaskState::TASK_RUNNING.short_name(), "running");
    }
}
