//! Marathon's HTTP surface (REST API v2, `/ping`, `/metrics`, the UI). The leader answers; a standby proxies
//! every request to the leader unchanged. Every response carries Marathon's no-cache headers.

mod apps;
mod events;
mod groups;
mod misc;

use crate::scheduler::Scheduler;
use common::http::{respond, Request, RequestError};
use common::zk::Election;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use warp::http::{header, HeaderValue, Method, StatusCode};
use warp::reply::Response;
use warp::Filter;

/// Largest request body accepted.
const MAX_BODY: u64 = 8 * 1024 * 1024;

/// What handlers can reach.
pub struct Node {
    /// The scheduler (state, driver, store).
    pub scheduler: Arc<Scheduler>,
    /// Leader election among Marathon instances.
    pub election: watch::Receiver<Election>,
    /// Set once the leader has recovered its state and may serve.
    pub ready: AtomicBool,
    /// This instance's `host:port`.
    pub address: String,
    /// HTTP client for proxying to the leader.
    pub client: reqwest::Client,
    /// Request metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Node {
    /// Whether this instance leads.
    pub fn is_leader(&self) -> bool {
        self.election.borrow().is_leading()
    }

    /// The leader's `host:port`, if known.
    pub fn leader(&self) -> Option<String> {
        match &*self.election.borrow() {
            Election::Leading => Some(self.address.clone()),
            Election::Following(data) => data.as_deref().map(|d| String::from_utf8_lossy(d).into_owned()),
        }
    }
}

/// A JSON response with Marathon's headers added later.
pub fn json_response(status: u16, value: &Value) -> Response {
    respond(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        "application/json",
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

/// `{"message": ...}` with a status.
pub fn message(status: u16, text: &str) -> Response {
    json_response(status, &json!({ "message": text }))
}

/// An [`crate::app::ApiError`] as a response.
pub fn error_response(e: &crate::app::ApiError) -> Response {
    json_response(e.status(), e.body())
}

/// Case-insensitive boolean query parameter (`true`/`True`); anything else is false.
pub fn flag(request: &Request, name: &str, default: bool) -> bool {
    match request.param(name) {
        Some(v) => v.eq_ignore_ascii_case("true"),
        None => default,
    }
}

/// The warp filter for everything.
pub fn routes(node: Arc<Node>) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    common::http::requests(MAX_BODY).and_then(move |request: Result<Request, RequestError>| {
        let node = node.clone();
        async move {
            let request = match request {
                Ok(request) => request,
                Err(e) => return Ok::<_, Infallible>(message(e.status().as_u16(), &e.to_string())),
            };
            let route = route_label(&request.path);
            let timer = node.metrics.http_latency.with_label_values(&[route]).start_timer();
            let mut response = dispatch(&node, request).await;
            timer.observe_duration();
            node.metrics.http_requests.with_label_values(&[route, response.status().as_str()]).inc();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store, must-revalidate"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            headers.insert(header::EXPIRES, HeaderValue::from_static("0"));
            if node.is_leader() {
                if let Ok(v) = HeaderValue::from_str(&format!("http://{}", node.address)) {
                    headers.insert("X-Marathon-Leader", v);
                }
            }
            Ok::<_, Infallible>(response)
        }
    })
}

/// A bounded metrics label per route family.
fn route_label(path: &str) -> &'static str {
    let p = path.trim_end_matches('/');
    if p.starts_with("/v2/apps") {
        if p.contains("/tasks") {
            "/v2/apps/{id}/tasks"
        } else {
            "/v2/apps"
        }
    } else if p.starts_with("/v2/tasks") {
        "/v2/tasks"
    } else if p.starts_with("/v2/deployments") {
        "/v2/deployments"
    } else if p.starts_with("/v2/groups") {
        "/v2/groups"
    } else if p.starts_with("/v2/queue") {
        "/v2/queue"
    } else if p.starts_with("/v2/events") {
        "/v2/events"
    } else if p.starts_with("/v2/info") {
        "/v2/info"
    } else if p.starts_with("/v2/leader") {
        "/v2/leader"
    } else if p == "/ping" {
        "/ping"
    } else if p.starts_with("/metrics") {
        "/metrics"
    } else {
        "other"
    }
}

async fn dispatch(node: &Arc<Node>, request: Request) -> Response {
    let path = request.path.trim_end_matches('/').to_string();
    // Served by every instance.
    match (&request.method, path.as_str()) {
        (&Method::GET, "/ping") => return misc::ping(&request),
        (&Method::GET, "/metrics") => return misc::metrics_json(node),
        (&Method::GET, "/metrics/prometheus") => return misc::metrics_prometheus(node),
        (&Method::GET, "" | "/ui" | "/ui/index.html") => {
            return respond(StatusCode::OK, "text/html; charset=utf-8", crate::ui::INDEX_HTML)
        }
        _ => {}
    }
    if !node.is_leader() {
        return proxy(node, request).await;
    }
    if !node.ready.load(Ordering::SeqCst) {
        return message(503, "Leader is still recovering its state");
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["v2", "apps", ..] => apps::handle(node, &request, &segments[2..]).await,
        ["v2", "tasks"] if request.method == Method::GET => apps::list_tasks(node, &request),
        ["v2", "tasks", "delete"] if request.method == Method::POST => apps::delete_tasks(node, &request).await,
        ["v2", "deployments"] if request.method == Method::GET => misc::deployments(node),
        ["v2", "deployments", id] if request.method == Method::DELETE => misc::cancel_deployment(node, &request, id).await,
        ["v2", "groups", rest @ ..] if request.method == Method::GET => misc::groups(node, &request, rest),
        ["v2", "groups", rest @ ..] => groups::change(node, &request, rest).await,
        ["v2", "queue"] if request.method == Method::GET => misc::queue(node),
        ["v2", "queue", rest @ .., "delay"] if request.method == Method::DELETE => misc::reset_delay(node, rest),
        ["v2", "info"] if request.method == Method::GET => misc::info(node),
        ["v2", "leader"] if request.method == Method::GET => misc::leader(node),
        ["v2", "leader"] if request.method == Method::DELETE => misc::abdicate(),
        ["v2", "events"] if request.method == Method::GET => events::stream(node, &request),
        ["v2", "eventSubscriptions"] => message(
            400,
            "http event callback system is not running on this Marathon instance. Please re-start this instance with \"--event_subscriber http_callback\".",
        ),
        ["v2", "tasks" | "deployments" | "queue" | "info" | "leader" | "events", ..] => message(405, "Method Not Allowed"),
        _ => message(404, &format!("URI not found: {}", request.path)),
    }
}

/// Forwards a request to the leader (path, query, headers and body kept).
async fn proxy(node: &Node, request: Request) -> Response {
    let mut leader = node.leader();
    for _ in 0..10 {
        if leader.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        leader = node.leader();
    }
    let Some(leader) = leader else {
        return message(503, "Could not determine the current leader");
    };
    let url = format!("http://{leader}{}", request.original);
    let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut outgoing = node.client.request(method, url).body(request.body.to_vec());
    for (name, value) in &request.headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
    }
    outgoing = outgoing.header("X-Marathon-Via", format!("1.1 {}", node.address));
    match outgoing.send().await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let content_type = answer
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_string();
            let mut extra = Vec::new();
            for name in ["location", "marathon-deployment-id", "x-marathon-leader"] {
                if let Some(v) = answer.headers().get(name).and_then(|v| v.to_str().ok()) {
                    extra.push((name, v.to_string()));
                }
            }
            let stream = answer.bytes_stream();
            let mut response = warp::http::Response::new(warp::hyper::Body::wrap_stream(stream));
            *response.status_mut() = status;
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            for (name, value) in extra {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, v);
                }
            }
            response
        }
        Err(e) => message(503, &format!("Could not reach the leader at {leader}: {e}")),
    }
}
