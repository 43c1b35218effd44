//! `POST /api/v1/scheduler`: the v1 scheduler HTTP API (JSON), with upstream's checks and status codes.

use super::{Context, Request};
use crate::metrics::Metrics;
use crate::state::{CallError, Master, Stream};
use common::http::text_reply;
use common::mesos::scheduler::{Call, CallType, Event};
use common::mesos::Id;
use common::recordio;
use futures::StreamExt;
use std::sync::{Arc, Mutex};
use warp::http::{header, Method, StatusCode};
use warp::hyper::Body;
use warp::reply::Response;

/// Handles one scheduler call; `principal` is the one its HTTP Basic credentials authenticated, if any.
pub async fn handle(ctx: &Context, request: Request, principal: Option<&str>) -> Response {
    if request.method != Method::POST {
        let mut response = text_reply(StatusCode::METHOD_NOT_ALLOWED, "Expecting a 'POST' request");
        response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return response;
    }
    let Some(content_type) = request.header("content-type") else {
        return text_reply(StatusCode::BAD_REQUEST, "Expecting 'Content-Type' to be present");
    };
    if content_type != "application/json" {
        return text_reply(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Expecting 'Content-Type' of application/json or application/x-protobuf; got '{content_type}'"),
        );
    }
    if let Err(e) = common::http::check_json_bounds(&request.body) {
        return text_reply(StatusCode::BAD_REQUEST, format!("Failed to parse body into JSON: {e}"));
    }
    let value: serde_json::Value = match serde_json::from_slice(&request.body) {
        Ok(v) => v,
        Err(e) => return text_reply(StatusCode::BAD_REQUEST, format!("Failed to parse body into JSON: {e}")),
    };
    let call: Call = match serde_json::from_value(value) {
        Ok(c) => c,
        Err(e) => {
            return text_reply(StatusCode::BAD_REQUEST, format!("Failed to convert JSON into Call protobuf: {e}"))
        }
    };
    if let Err(message) = validate(&call, principal) {
        return text_reply(StatusCode::BAD_REQUEST, format!("Failed to validate scheduler::Call: {message}"));
    }
    if call.kind == CallType::Subscribe {
        return subscribe(ctx, &request, call).await;
    }
    let framework_id = call.framework_id.clone().expect("validated");
    // Of the calls on an open stream only REVIVE asks for offers at once, as upstream's allocator: the unused
    // rest of an ACCEPT or a DECLINE comes back at the next allocation, so a framework answering a thousand
    // offers gets one new round, not a thousand small ones. A framework that wants more sooner revives.
    let allocate_now = call.kind == CallType::Revive;
    let result = {
        let mut master = ctx.master.lock().expect("master lock");
        master
            .check_caller(&framework_id, request.header("mesos-stream-id"))
            .and_then(|()| {
                let registered = master.frameworks.get(&framework_id).and_then(|f| f.info.principal.as_deref());
                match principal_mismatch(principal, registered) {
                    Some(message) => Err(CallError::Forbidden(message)),
                    None => Ok(()),
                }
            })
            .and_then(|()| apply(&mut master, &ctx.metrics, &framework_id, call))
    };
    match result {
        Ok(()) => {
            if allocate_now {
                ctx.allocate_now.notify_one();
            }
            warp::http::Response::builder().status(StatusCode::ACCEPTED).body(Body::empty()).expect("valid response")
        }
        Err(CallError::BadRequest(m)) => text_reply(StatusCode::BAD_REQUEST, m),
        Err(CallError::Forbidden(m)) => text_reply(StatusCode::FORBIDDEN, m),
    }
}

/// Why an authenticated principal may not act for a framework whose FrameworkInfo names `framework`: only
/// when both are known and differ (a FrameworkInfo without a principal is accepted, as upstream does).
fn principal_mismatch(authenticated: Option<&str>, framework: Option<&str>) -> Option<String> {
    match (authenticated, framework) {
        (Some(authenticated), Some(framework)) if authenticated != framework => Some(format!(
            "Authenticated principal '{authenticated}' does not match principal '{framework}' set in `FrameworkInfo`"
        )),
        _ => None,
    }
}

/// Upstream's semantic validation: the payload for the type must be present, non-SUBSCRIBE calls need a
/// framework id, and a SUBSCRIBE's FrameworkInfo principal must be the authenticated one.
fn validate(call: &Call, principal: Option<&str>) -> Result<(), String> {
    let missing = |name: &str| Err(format!("Expecting '{name}' to be present"));
    if let Some(subscribe) = &call.subscribe {
        if let Some(message) = principal_mismatch(principal, subscribe.framework_info.principal.as_deref()) {
            return Err(message);
        }
    }
    if call.kind != CallType::Subscribe && call.framework_id.is_none() {
        return missing("framework_id");
    }
    match call.kind {
        CallType::Subscribe => match &call.subscribe {
            None => missing("subscribe"),
            Some(s) => match (&call.framework_id, &s.framework_info.id) {
                (Some(a), Some(b)) if a != b => Err("'framework_id' differs from 'subscribe.framework_info.id'".into()),
                (Some(_), None) => Err("'framework_id' is set but 'subscribe.framework_info.id' is not".into()),
                _ => Ok(()),
            },
        },
        CallType::Accept if call.accept.is_none() => missing("accept"),
        CallType::Decline if call.decline.is_none() => missing("decline"),
        CallType::Kill if call.kill.is_none() => missing("kill"),
        CallType::Shutdown if call.shutdown.is_none() => missing("shutdown"),
        CallType::Acknowledge if call.acknowledge.is_none() => missing("acknowledge"),
        CallType::Reconcile if call.reconcile.is_none() => missing("reconcile"),
        CallType::Message if call.message.is_none() => missing("message"),
        CallType::Request if call.request.is_none() => missing("request"),
        CallType::Unknown => Err("Expecting 'type' to be present".into()),
        _ => Ok(()),
    }
}

fn apply(master: &mut Master, metrics: &Metrics, framework_id: &Id, call: Call) -> Result<(), CallError> {
    match call.kind {
        CallType::Teardown => master.remove_framework(framework_id),
        CallType::Accept => {
            let accept = call.accept.expect("validated");
            let refuse = accept.filters.and_then(|f| f.refuse_seconds);
            metrics.offers_accepted.inc_by(accept.offer_ids.len() as u64);
            master.accept(framework_id, &accept.offer_ids, accept.operations, refuse)?;
        }
        CallType::Decline => {
            let decline = call.decline.expect("validated");
            metrics.offers_declined.inc_by(decline.offer_ids.len() as u64);
            master.decline(framework_id, &decline.offer_ids, decline.filters.and_then(|f| f.refuse_seconds));
        }
        CallType::Revive => master.revive(framework_id, &call.revive.unwrap_or_default().roles),
        CallType::Suppress => master.suppress(framework_id, &call.suppress.unwrap_or_default().roles),
        CallType::Kill => {
            let kill = call.kill.expect("validated");
            master.kill(framework_id, &kill.task_id, kill.kill_policy);
        }
        CallType::Acknowledge => {
            let ack = call.acknowledge.expect("validated");
            master.acknowledge(framework_id, &ack.agent_id, &ack.task_id, ack.uuid);
        }
        CallType::Reconcile => {
            let tasks: Vec<(Id, Option<Id>)> =
                call.reconcile.expect("validated").tasks.into_iter().map(|t| (t.task_id, t.agent_id)).collect();
            master.reconcile(framework_id, &tasks);
        }
        // Custom executors are not supported, so there is nobody to deliver a MESSAGE or SHUTDOWN to; REQUEST is
        // advisory in upstream's allocator too. They are accepted and have no effect.
        CallType::Message | CallType::Shutdown | CallType::Request => {}
        CallType::AcceptInverseOffers | CallType::DeclineInverseOffers => {}
        CallType::AcknowledgeOperationStatus | CallType::ReconcileOperations | CallType::UpdateFramework => {
            return Err(CallError::BadRequest(format!("{:?} is not supported by this master", call.kind)));
        }
        CallType::Subscribe | CallType::Unknown => unreachable!("handled before"),
    }
    Ok(())
}

/// SUBSCRIBE: registers the framework and answers with an endless chunked RecordIO stream of events.
async fn subscribe(ctx: &Context, request: &Request, call: Call) -> Response {
    if request.header("mesos-stream-id").is_some() {
        return text_reply(StatusCode::BAD_REQUEST, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
    }
    if let Some(accept) = request.header("accept") {
        let ok = accept.split(',').any(|a| {
            let a = a.split(';').next().unwrap_or("").trim();
            a == "application/json" || a == "*/*" || a == "application/*" || a == "application/x-protobuf"
        });
        if !ok {
            return text_reply(StatusCode::NOT_ACCEPTABLE, "Expecting 'Accept' to allow application/json");
        }
    }
    let subscribe = call.subscribe.expect("validated");
    let (stream, rx) = Stream::open();
    let stream_id = stream.id.clone();
    let registered = {
        let mut master = ctx.master.lock().expect("master lock");
        let master_info = master.info.clone();
        let subscribed = master.subscribe(subscribe.framework_info, subscribe.suppressed_roles, stream.clone());
        // SUBSCRIBED and a first HEARTBEAT go first on the stream, before any offer.
        if let Ok(framework_id) = &subscribed {
            stream.send(Event::subscribed(framework_id.clone(), crate::HEARTBEAT_SECONDS, master_info));
            stream.send(Event::heartbeat());
        }
        subscribed
    };
    let framework_id = match registered {
        Ok(id) => id,
        Err(CallError::Forbidden(message)) | Err(CallError::BadRequest(message)) => {
            // Upstream answers 200 with a single ERROR event, then closes.
            let body = recordio::encode(&serde_json::to_vec(&Event::error(message)).unwrap_or_default());
            return stream_response(&stream_id, Body::from(body));
        }
    };
    let guard = DisconnectGuard { master: ctx.master.clone(), framework_id, stream_id: stream_id.clone() };
    // The framework is in the registry before it hears its id.
    if let Err(e) = super::persist(ctx).await {
        tracing::error!(error = %e, "cannot write the registry; the framework will be written in the background");
    }
    ctx.allocate_now.notify_one();
    let events = tokio_stream::wrappers::UnboundedReceiverStream::new(rx).map(move |event| {
        let _keep = &guard;
        let ends = event.kind == common::mesos::scheduler::EventType::Error;
        (recordio::encode(&serde_json::to_vec(&event).unwrap_or_default()), ends)
    });
    // Close the stream after an ERROR event, as upstream does.
    let events = events.scan(false, |ended, (bytes, ends)| {
        let out = if *ended { None } else { Some(Ok::<_, std::io::Error>(bytes)) };
        *ended |= ends;
        futures::future::ready(out)
    });
    stream_response(&stream_id, Body::wrap_stream(events))
}

fn stream_response(stream_id: &str, body: Body) -> Response {
    warp::http::Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header("Mesos-Stream-Id", stream_id)
        .body(body)
        .expect("valid response")
}

/// Marks the framework disconnected when its subscription stream is dropped (client went away).
struct DisconnectGuard {
    master: Arc<Mutex<Master>>,
    framework_id: Id,
    stream_id: String,
}

impl Drop for DisconnectGuard {
    fn drop(&mut self) {
        if let Ok(mut master) = self.master.lock() {
            master.framework_disconnected(&self.framework_id, &self.stream_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_must_match_when_both_are_known() {
        assert_eq!(principal_mismatch(None, Some("marathon")), None);
        assert_eq!(principal_mismatch(Some("marathon"), None), None);
        assert_eq!(principal_mismatch(Some("marathon"), Some("marathon")), None);
        let message = principal_mismatch(Some("ops"), Some("marathon")).unwrap();
        assert!(message.contains("'ops' does not match principal 'marathon'"), "{message}");
    }
}
