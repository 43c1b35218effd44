//! `POST /internal/v1/agent`: the agent link (see `common::agent_link`). REGISTER opens the event stream;
//! UPDATE delivers a status update on the agent's current stream.

use super::{Context, Request};
use crate::state::{Master, Stream};
use common::agent_link::{AgentCall, AgentEvent};
use common::http::text_reply;
use common::mesos::Id;
use common::recordio;
use futures::StreamExt;
use std::sync::{Arc, Mutex};
use warp::http::{header, Method, StatusCode};
use warp::hyper::Body;
use warp::reply::Response;

/// Handles one agent call.
pub async fn handle(ctx: &Context, request: Request) -> Response {
    if request.method != Method::POST {
        return text_reply(StatusCode::METHOD_NOT_ALLOWED, "Expecting a 'POST' request");
    }
    if let Err(e) = common::http::check_json_bounds(&request.body) {
        return text_reply(StatusCode::BAD_REQUEST, format!("Failed to parse agent call: {e}"));
    }
    let call: AgentCall = match serde_json::from_slice(&request.body) {
        Ok(c) => c,
        Err(e) => return text_reply(StatusCode::BAD_REQUEST, format!("Failed to parse agent call: {e}")),
    };
    match call {
        AgentCall::Register { agent_info, agent_id, tasks } => {
            let (stream, rx) = Stream::open();
            let stream_id = stream.id.clone();
            let ping_interval_seconds = ctx.config.agent_ping_timeout.0.as_secs_f64();
            let registered = {
                let mut master = ctx.master.lock().expect("master lock");
                let master_info = master.info.clone();
                let registered = master.register_agent(agent_info, agent_id, tasks, stream.clone());
                // REGISTERED goes first on the stream, before anything the master sends the agent later.
                if let Ok(agent_id) = &registered {
                    stream.send(AgentEvent::Registered {
                        agent_id: agent_id.clone(),
                        master_info,
                        ping_interval_seconds,
                    });
                }
                registered
            };
            let agent_id = match registered {
                Ok(id) => id,
                Err(message) => return text_reply(StatusCode::BAD_REQUEST, message),
            };
            let guard = Guard { master: ctx.master.clone(), agent_id, stream_id: stream_id.clone() };
            // The admission is durable before the agent hears of it.
            if let Err(e) = super::persist(ctx).await {
                tracing::error!(error = %e, "cannot write the registry; the admission will be retried in the background");
            }
            ctx.allocate_now.notify_one();
            let events = tokio_stream::wrappers::UnboundedReceiverStream::new(rx).map(move |event| {
                let _keep = &guard;
                Ok::<_, std::io::Error>(recordio::encode(&serde_json::to_vec(&event).unwrap_or_default()))
            });
            warp::http::Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .header("Mesos-Stream-Id", stream_id)
                .body(Body::wrap_stream(events))
                .expect("valid response")
        }
        AgentCall::Pong { agent_id } => {
            let mut master = ctx.master.lock().expect("master lock");
            if !request.header("mesos-stream-id").is_some_and(|stream| master.agent_ponged(&agent_id, stream)) {
                return text_reply(StatusCode::FORBIDDEN, "Agent is not registered on this stream");
            }
            warp::http::Response::builder().status(StatusCode::ACCEPTED).body(Body::empty()).expect("valid response")
        }
        AgentCall::Update { framework_id, status } => {
            let Some(agent_id) = status.agent_id.clone() else {
                return text_reply(StatusCode::BAD_REQUEST, "Status update without agent_id");
            };
            {
                let mut master = ctx.master.lock().expect("master lock");
                let current = master.agents.get(&agent_id).and_then(|a| a.link.as_ref()).map(|l| l.id.clone());
                if current.as_deref() != request.header("mesos-stream-id") || current.is_none() {
                    return text_reply(StatusCode::FORBIDDEN, "Agent is not registered on this stream");
                }
                let terminal = status.state.is_terminal();
                ctx.metrics.status_updates.with_label_values(&[&status.state.short_name()]).inc();
                master.status_update(&agent_id, &framework_id, status);
                if terminal {
                    ctx.allocate_now.notify_one();
                }
            }
            warp::http::Response::builder().status(StatusCode::ACCEPTED).body(Body::empty()).expect("valid response")
        }
    }
}

/// Marks the agent disconnected when its stream is dropped.
struct Guard {
    master: Arc<Mutex<Master>>,
    agent_id: Id,
    stream_id: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(mut master) = self.master.lock() {
            master.agent_disconnected(&self.agent_id, &self.stream_id);
        }
    }
}
