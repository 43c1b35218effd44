//! The agent's side of the master link: find the leading master (fixed address or ZooKeeper), register (or
//! re-register with the saved id and running tasks) with randomised exponential backoff, then consume the
//! RecordIO event stream until it breaks or goes silent, and start over.
//!
//! The link is the only way commands reach the agent: the agent dials the master it detected as leader (fixed
//! address, or the lowest `json.info_` znode) and the master answers on that stream; the master never dials
//! the agent, and the agent's own HTTP endpoints only read. So an agent obeys only the master it registered
//! with. With `--credential`, every call carries HTTP Basic credentials, which a master run with
//! `--authenticate_agents` requires.

use common::agent_link::{AgentCall, AgentEvent, PATH};
use common::config::MasterAddress;
use common::mesos::Id;
use common::recordio::{SubscribeError, Subscription};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

/// Error prefix for a master that answered 503 (elected, still recovering).
const RECOVERING: &str = "master not ready";

/// Upper bound of the registration backoff (upstream: 1 min).
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Largest event accepted on the stream.
const MAX_EVENT: usize = 64 * 1024 * 1024;

/// What the link needs from the agent.
pub trait Handler: Send + Sync + 'static {
    /// The REGISTER call to send (with the saved id and running tasks, if any).
    fn registration(&self) -> AgentCall;
    /// Called for every event received on the current stream.
    fn on_event(&self, event: AgentEvent);
    /// Called when the stream ends.
    fn on_disconnected(&self);
}

/// The current connection, used to send calls on the registered stream.
pub struct Link {
    current: Mutex<Option<Connection>>,
    client: reqwest::Client,
}

impl Link {
    /// A link presenting `credential` (HTTP Basic) on every call to the master, if given.
    pub fn new(credential: Option<common::auth::Credential>) -> Link {
        // Only connecting is bounded: the registration response is the long-lived event stream.
        let mut builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(10));
        if let Some(credential) = credential {
            let mut headers = reqwest::header::HeaderMap::new();
            if let Ok(mut value) = reqwest::header::HeaderValue::from_str(&credential.basic_header()) {
                value.set_sensitive(true);
                headers.insert(reqwest::header::AUTHORIZATION, value);
            }
            builder = builder.default_headers(headers);
        }
        Link { current: Mutex::new(None), client: builder.build().unwrap_or_default() }
    }
}

/// A registered stream to a master.
#[derive(Clone, Debug)]
pub struct Connection {
    /// `http://host:port` of the master.
    pub base_url: String,
    /// The stream id to present on calls.
    pub stream_id: String,
    /// The id the master gave this agent.
    pub agent_id: Id,
}

impl Link {
    /// The current connection, if registered.
    pub fn connection(&self) -> Option<Connection> {
        self.current.lock().expect("link lock").clone()
    }

    /// Sends a call on the current stream; returns whether the master accepted it.
    pub async fn send(&self, call: &AgentCall) -> bool {
        let Some(connection) = self.connection() else { return false };
        post(&self.client, &connection, call).await
    }

    /// Answers a ping with a PONG in the background, so the event stream keeps flowing meanwhile.
    fn pong(&self) {
        let Some(connection) = self.connection() else { return };
        let client = self.client.clone();
        let pong = AgentCall::Pong { agent_id: connection.agent_id.clone() };
        tokio::spawn(async move { post(&client, &connection, &pong).await });
    }

    /// Runs forever: detect, register, consume events, repeat.
    pub async fn run(
        &self,
        master: MasterAddress,
        session_timeout: Duration,
        backoff_factor: Duration,
        handler: &dyn Handler,
    ) {
        let mut leader = common::zk::leading_master(master, session_timeout);
        let initial = backoff_factor.max(Duration::from_millis(100));
        let mut backoff = initial;
        let mut last_leader: Option<String> = None;
        loop {
            let Some(address) = wait_for_leader(&mut leader).await else { return };
            if last_leader.as_deref() != Some(address.as_str()) {
                // A new leader starts a fresh backoff: failures against the old one say nothing about it.
                backoff = initial;
                last_leader = Some(address.clone());
            }
            // Upstream waits a random delay in [0, backoff] before (re)registering; a leader change ends the
            // wait early.
            let delay = backoff.mul_f64(rand_unit());
            let changed = tokio::select! {
                _ = tokio::time::sleep(delay) => false,
                Ok(()) = leader.changed() => true,
            };
            if changed {
                continue;
            }
            let outcome = tokio::select! {
                outcome = self.session(&address, handler) => outcome,
                Ok(()) = leader.changed() => Err(format!("leading master changed from {address}")),
            };
            *self.current.lock().expect("link lock") = None;
            handler.on_disconnected();
            match outcome {
                Ok(()) => {
                    backoff = initial;
                    tracing::warn!(master = %address, "master link closed; re-registering");
                }
                Err(e) if e.starts_with(RECOVERING) => {
                    tracing::info!(master = %address, "master is recovering; registering again shortly");
                    backoff = initial;
                }
                Err(e) => {
                    tracing::warn!(master = %address, error = %e, "master link failed; retrying");
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// One registration and event stream. `Ok` means the stream was established and later ended.
    async fn session(&self, address: &str, handler: &dyn Handler) -> Result<(), String> {
        let opened =
            Subscription::open(&self.client, &format!("http://{address}"), PATH, &handler.registration(), MAX_EVENT)
                .await;
        let mut subscription = match opened {
            Ok(s) => s,
            // A freshly elected master still recovering its registry: worth retrying soon, not backing off.
            Err(SubscribeError::Refused(reqwest::StatusCode::SERVICE_UNAVAILABLE, body)) => {
                return Err(format!("{RECOVERING}: {body}"))
            }
            Err(e) => return Err(format!("registration {e}")),
        };
        let mut silence = Duration::from_secs(75);
        while let Some(records) = subscription.next_records(silence).await? {
            for record in records {
                let event: AgentEvent = match serde_json::from_slice(&record) {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(error = %e, "ignoring an event the agent does not understand");
                        continue;
                    }
                };
                if let AgentEvent::Registered { ping_interval_seconds, ref agent_id, .. } = event {
                    // The link is dead after five silent ping intervals, as upstream counts missed pings.
                    silence = Duration::from_secs_f64((ping_interval_seconds * 5.0).max(1.0));
                    *self.current.lock().expect("link lock") = Some(Connection {
                        base_url: subscription.base_url.clone(),
                        stream_id: subscription.stream_id.clone(),
                        agent_id: agent_id.clone(),
                    });
                    tracing::info!(agent = %agent_id, master = %subscription.base_url, "registered with the master");
                }
                if event == AgentEvent::Ping {
                    self.pong();
                }
                handler.on_event(event);
            }
        }
        Ok(())
    }
}

/// POSTs a call on a registered stream; returns whether the master accepted it.
async fn post(client: &reqwest::Client, connection: &Connection, call: &AgentCall) -> bool {
    let result = client
        .post(format!("{}{PATH}", connection.base_url))
        .header("Mesos-Stream-Id", &connection.stream_id)
        .json(call)
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match result {
        Ok(response) if response.status().is_success() => true,
        Ok(response) => {
            tracing::debug!(status = %response.status(), "master refused a call");
            false
        }
        Err(e) => {
            tracing::debug!(error = %e, "cannot reach the master");
            false
        }
    }
}

/// The current leader's address, waiting for one to be elected; `None` if detection stopped.
async fn wait_for_leader(leader: &mut watch::Receiver<Option<String>>) -> Option<String> {
    loop {
        if let Some(address) = leader.borrow_and_update().clone() {
            return Some(address);
        }
        leader.changed().await.ok()?;
    }
}

/// A number in [0, 1) from the clock, enough to spread registrations.
fn rand_unit() -> f64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    (nanos % 1000) as f64 / 1000.0
}
