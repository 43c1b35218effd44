//! The agent ↔ master link (internal to mesos-rs; upstream uses libprocess messages instead).
//!
//! It mirrors the v1 scheduler API so the master never has to dial an agent: the agent POSTs a REGISTER
//! call to `/internal/v1/agent` and keeps the chunked RecordIO response open; the master sends [`AgentEvent`]s
//! down it (launches, kills, acknowledgements, pings). The agent sends status updates and pongs as separate
//! [`AgentCall`]s carrying the `Mesos-Stream-Id` it was given. If the stream breaks, the agent re-detects the
//! leader and re-registers with its id and running tasks.

use crate::mesos::{FrameworkInfo, Id, KillPolicy, MasterInfo, TaskInfo, TaskState, TaskStatus};
use crate::resources::{Attribute, Resource};
use serde::{Deserialize, Serialize};

/// Path of the link on the master.
pub const PATH: &str = "/internal/v1/agent";

/// How an agent describes itself.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AgentInfo {
    /// Advertised hostname.
    pub hostname: String,
    /// Advertised IP.
    pub ip: String,
    /// HTTP port of the agent.
    pub port: u32,
    /// Total resources.
    pub resources: Vec<Resource>,
    /// Attributes.
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    /// Agent version.
    pub version: String,
}

/// A task the agent is running, reported when re-registering.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RunningTask {
    /// The framework.
    pub framework: FrameworkInfo,
    /// The task as launched.
    pub task: TaskInfo,
    /// Latest state.
    pub state: TaskState,
}

/// A call from agent to master.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgentCall {
    /// Opens the event stream. `agent_id` is set when re-registering.
    Register {
        /// This agent.
        agent_info: AgentInfo,
        /// Previous id, if the agent has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_id: Option<Id>,
        /// Tasks still running here.
        #[serde(default)]
        tasks: Vec<RunningTask>,
    },
    /// The answer to a [`AgentEvent::Ping`]; without it the master counts the ping as missed.
    Pong {
        /// The answering agent.
        agent_id: Id,
    },
    /// A task status update (reliable: carries a uuid, retried until acknowledged).
    Update {
        /// Framework of the task.
        framework_id: Id,
        /// The status.
        status: TaskStatus,
    },
}

/// An event from master to agent. Events are short-lived messages, so the size of `Launch` is no concern.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgentEvent {
    /// Registration accepted.
    Registered {
        /// The agent's id.
        agent_id: Id,
        /// The master.
        master_info: MasterInfo,
        /// The master pings at least this often; silence for several intervals means the link is dead.
        ping_interval_seconds: f64,
    },
    /// Run a task.
    Launch {
        /// Framework of the task.
        framework: FrameworkInfo,
        /// The task.
        task: TaskInfo,
    },
    /// Kill a task.
    Kill {
        /// Framework of the task.
        framework_id: Id,
        /// The task.
        task_id: Id,
        /// Kill policy override.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kill_policy: Option<KillPolicy>,
    },
    /// The scheduler acknowledged an update.
    Acknowledge {
        /// Framework of the task.
        framework_id: Id,
        /// The task.
        task_id: Id,
        /// The acknowledged update's uuid (base64).
        uuid: String,
    },
    /// Kill every task of a framework and forget it.
    ShutdownFramework {
        /// The framework.
        framework_id: Id,
    },
    /// Liveness ping: the agent answers with [`AgentCall::Pong`] on its stream.
    Ping,
}
