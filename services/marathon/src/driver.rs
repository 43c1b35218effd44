//! The Mesos v1 scheduler API client: follows the leading master (fixed or through ZooKeeper), SUBSCRIBEs with
//! the stored framework id, turns the RecordIO stream into [`DriverEvent`]s and sends calls on the current stream.

use common::config::MasterAddress;
use common::mesos::scheduler::{Call, CallType, Event, Subscribe};
use common::mesos::{FrameworkInfo, Id, MasterInfo};
use common::recordio::Subscription;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;

/// Largest event accepted (a big OFFERS event stays far below this).
const MAX_EVENT: usize = 64 * 1024 * 1024;
/// First delay before re-subscribing after a failure or a closed subscription.
const INITIAL_RESUBSCRIBE_BACKOFF: Duration = Duration::from_millis(250);
/// Longest delay between subscription attempts to the same leading master.
const MAX_RESUBSCRIBE_BACKOFF: Duration = Duration::from_secs(2);

/// What the scheduler hears from the driver.
#[derive(Debug, Clone)]
pub enum DriverEvent {
    /// Subscribed (or re-subscribed) with this id to this master.
    Subscribed {
        /// Framework id.
        framework_id: Id,
        /// The leading master.
        master: Box<MasterInfo>,
    },
    /// Any other event from the stream.
    Event(Box<Event>),
    /// The subscription ended.
    Disconnected,
}

/// A live subscription.
#[derive(Clone, Debug)]
struct Session {
    base_url: String,
    stream_id: String,
    framework_id: Id,
}

/// The scheduler driver.
pub struct Driver {
    client: reqwest::Client,
    session: Mutex<Option<Session>>,
    principal: Option<String>,
}

impl Driver {
    /// A driver that, given a credential (`--mesos_authentication`), presents it as HTTP Basic on every call
    /// (SUBSCRIBE included, also after a standby master's redirect) and subscribes with its principal.
    pub fn new(credential: Option<common::auth::Credential>) -> Driver {
        let mut builder = reqwest::Client::builder();
        if let Some(credential) = &credential {
            let mut headers = reqwest::header::HeaderMap::new();
            if let Ok(mut value) = reqwest::header::HeaderValue::from_str(&credential.basic_header()) {
                value.set_sensitive(true);
                headers.insert(reqwest::header::AUTHORIZATION, value);
            }
            builder = builder.default_headers(headers);
        }
        Driver {
            client: builder.build().unwrap_or_default(),
            session: Mutex::new(None),
            principal: credential.map(|c| c.principal),
        }
    }

    /// Whether a subscription is live.
    pub fn is_subscribed(&self) -> bool {
        self.session.lock().expect("driver lock").is_some()
    }

    /// The leading master's `http://host:port` while subscribed.
    pub fn master_url(&self) -> Option<String> {
        self.session.lock().expect("driver lock").as_ref().map(|s| s.base_url.clone())
    }

    /// Sends a call on the current subscription (fills in the framework id). Errors when not subscribed or
    /// refused.
    pub async fn call(&self, mut call: Call) -> Result<(), String> {
        let session = self.session.lock().expect("driver lock").clone().ok_or("not subscribed to a Mesos master")?;
        call.framework_id = Some(session.framework_id.clone());
        let response = self
            .client
            .post(format!("{}/api/v1/scheduler", session.base_url))
            .header("Content-Type", "application/json")
            .header("Mesos-Stream-Id", &session.stream_id)
            .json(&call)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            let status = response.status();
            Err(format!("{:?} refused: {status} {}", call.kind, response.text().await.unwrap_or_default()))
        }
    }

    /// Runs forever: find the leader, subscribe with `framework()` (called anew each time so it carries the
    /// latest stored id), forward events, and retry with backoff when anything breaks.
    pub async fn run(
        &self,
        master: MasterAddress,
        zk_session_timeout: Duration,
        framework: impl Fn() -> FrameworkInfo,
        events: mpsc::UnboundedSender<DriverEvent>,
    ) {
        let mut leader = common::zk::leading_master(master, zk_session_timeout);
        let mut backoff = INITIAL_RESUBSCRIBE_BACKOFF;
        loop {
            let address = loop {
                if let Some(a) = leader.borrow_and_update().clone() {
                    break a;
                }
                if leader.changed().await.is_err() {
                    return;
                }
            };
            let outcome = tokio::select! {
                outcome = self.subscription(&address, framework(), &events) => outcome,
                _ = leader.changed() => Err(format!("leading master changed from {address}")),
            };
            let was_subscribed = self.session.lock().expect("driver lock").take().is_some();
            if was_subscribed {
                let _ = events.send(DriverEvent::Disconnected);
                backoff = INITIAL_RESUBSCRIBE_BACKOFF;
            }
            match outcome {
                Ok(()) => tracing::warn!(master = %address, "subscription closed; re-subscribing"),
                Err(e) => tracing::warn!(master = %address, error = %e, "subscription failed; retrying"),
            }
            // A new leader is tried at once; the same one again after a doubling delay, capped low because a
            // master that just won the election answers 503 only until it has recovered its registry.
            tokio::select! {
                _ = tokio::time::sleep(backoff) => backoff = (backoff * 2).min(MAX_RESUBSCRIBE_BACKOFF),
                changed = leader.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    backoff = INITIAL_RESUBSCRIBE_BACKOFF;
                }
            }
        }
    }

    async fn subscription(
        &self,
        address: &str,
        mut info: FrameworkInfo,
        events: &mpsc::UnboundedSender<DriverEvent>,
    ) -> Result<(), String> {
        if info.principal.is_none() {
            info.principal = self.principal.clone();
        }
        let mut call = Call::new(CallType::Subscribe, info.id.clone());
        call.subscribe = Some(Subscribe { framework_info: info, suppressed_roles: Vec::new() });
        let mut subscription =
            Subscription::open(&self.client, &format!("http://{address}"), "/api/v1/scheduler", &call, MAX_EVENT)
                .await
                .map_err(|e| format!("SUBSCRIBE {e}"))?;
        let target = subscription.base_url.clone();
        let stream_id = subscription.stream_id.clone();
        // Upstream's heartbeat is every 15 s; a stream silent for much longer is dead.
        let mut silence = Duration::from_secs(60);
        while let Some(records) = subscription.next_records(silence).await? {
            for record in records {
                let event: Event = match serde_json::from_slice(&record) {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(error = %e, "ignoring an event that does not parse");
                        continue;
                    }
                };
                if let Some(subscribed) = &event.subscribed {
                    silence = Duration::from_secs_f64((subscribed.heartbeat_interval_seconds * 4.0).max(5.0));
                    *self.session.lock().expect("driver lock") = Some(Session {
                        base_url: target.clone(),
                        stream_id: stream_id.clone(),
                        framework_id: subscribed.framework_id.clone(),
                    });
                    let master = subscribed.master_info.clone().ok_or("SUBSCRIBED without master_info")?;
                    let _ = events.send(DriverEvent::Subscribed {
                        framework_id: subscribed.framework_id.clone(),
                        master: Box::new(master),
                    });
                    continue;
                }
                if let Some(error) = &event.error {
                    return Err(format!("master sent ERROR: {}", error.message));
                }
                let _ = events.send(DriverEvent::Event(Box::new(event)));
            }
        }
        Ok(())
    }
}
