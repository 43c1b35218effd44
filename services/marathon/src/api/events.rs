//! `GET /v2/events`: the Server-Sent Events stream of Marathon events, filtered by `event_type`.

use super::{message, Node};
use crate::core::event;
use common::http::Request;
use futures::StreamExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::wrappers::{errors::BroadcastStreamRecvError, BroadcastStream, IntervalStream};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

/// Keep-alive period (Marathon sends a bare CRLF every 10 s; marathon-lb aborts silent streams).
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Opens an event stream for this client.
pub fn stream(node: &Arc<Node>, request: &Request) -> Response {
    if request.header("accept") != Some("text/event-stream") {
        return message(405, "Method Not Allowed");
    }
    let wanted: Vec<String> = request.query.iter().filter(|(k, _)| k == "event_type").map(|(_, v)| v.clone()).collect();
    let remote = request.header("x-forwarded-for").unwrap_or("unknown").to_string();
    let events = node.scheduler.events.clone();
    let receiver = events.subscribe();
    let _ = events.send(event("event_stream_attached", json!({"remoteAddress": remote})));
    let detach = Detach { events: events.clone(), remote };
    let frames = BroadcastStream::new(receiver).filter_map(move |item| {
        let _keep = &detach;
        let frame = match item {
            Ok(value) => frame(&value, &wanted),
            // A slow client loses events, as upstream's bounded buffer does.
            Err(BroadcastStreamRecvError::Lagged(_)) => None,
        };
        futures::future::ready(frame.map(Ok::<_, std::io::Error>))
    });
    let keep_alive = IntervalStream::new(tokio::time::interval(KEEP_ALIVE)).map(|_| Ok("\r\n".to_string()));
    let body = futures::stream::select(frames, keep_alive);
    let mut response = warp::http::Response::new(warp::hyper::Body::wrap_stream(body));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream;charset=UTF-8"));
    response
}

fn frame(value: &Value, wanted: &[String]) -> Option<String> {
    let kind = value.get("eventType")?.as_str()?;
    if !wanted.is_empty() && !wanted.iter().any(|w| w == kind) {
        return None;
    }
    Some(format!("event: {kind}\r\ndata: {value}\r\n\r\n"))
}

/// Publishes `event_stream_detached` when the client goes away.
struct Detach {
    events: tokio::sync::broadcast::Sender<Value>,
    remote: String,
}

impl Drop for Detach {
    fn drop(&mut self) {
        let _ = self.events.send(event("event_stream_detached", json!({"remoteAddress": self.remote})));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_the_sse_format_and_filter() {
        let e = json!({"eventType": "status_update_event", "taskId": "t"});
        let f = frame(&e, &[]).unwrap();
        assert!(f.starts_with("event: status_update_event\r\ndata: {"));
        assert!(f.ends_with("\r\n\r\n"));
        assert!(frame(&e, &["deployment_info".to_string()]).is_none());
    }
}
