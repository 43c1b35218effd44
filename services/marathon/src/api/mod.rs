//! Marathon's HTTP surface (REST API v2, `/ping`, `/metrics`, the UI, the API console). Requests are routed by
//! the table in [`routes`]; the leader answers; a standby proxies every non-local request to the leader unchanged. Every response carries Marathon's no-cache headers.

mod apps;
mod events;
mod groups;
mod misc;
pub mod openapi;
pub mod routes;

use crate::app::PathId;
use crate::scheduler::Scheduler;
use common::http::{respond, Request, RequestError};
use common::zk::Election;
use routes::{Handler, Lookup, Matched};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use warp::http::{header, HeaderValue, StatusCode};
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
    /// `--http_credentials`: every request must present them (HTTP Basic).
    pub http_credential: Option<common::auth::Credential>,
    /// `--http_realm`, named in `WWW-Authenticate`.
    pub http_realm: String,
}

impl Node {
    /// Whether this instance leads.
    pub fn is_leader(&self) -> bool {
        self.election.borrow().is_leading()
    }

    /// The leader's `host:port`, if known. A follower that sees its own address as the leader's sees a previous
    /// run of this instance whose ZooKeeper session has not expired yet: no leader is known until it does.
    pub fn leader(&self) -> Option<String> {
        match &*self.election.borrow() {
            Election::Leading => Some(self.address.clone()),
            Election::Following(data) => data
                .as_deref()
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .filter(|leader| *leader != self.address),
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
            let lookup = routes::lookup(request.method.as_str(), &request.path);
            let (route, method, started) = (route_label(&lookup), request.method.clone(), Instant::now());
            let mut response = match refusal(&node, &request) {
                Some(refused) => refused,
                None => dispatch(&node, request, lookup).await,
            };
            node.metrics.http.observe(route, &method, response.status(), started.elapsed());
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

/// With `--http_credentials`: a `401` for a request without them (every endpoint, as upstream's HTTP Basic
/// filter covers everything). A standby checks them too, then proxies the request with its `Authorization`
/// header to the leader.
fn refusal(node: &Node, request: &Request) -> Option<Response> {
    let credential = node.http_credential.as_ref()?;
    match common::auth::authenticate(std::slice::from_ref(credential), request.header("authorization")) {
        Some(_) => None,
        None => Some(common::auth::unauthorized(
            &node.http_realm,
            "application/json",
            r#"{"message":"Invalid username or password."}"#,
        )),
    }
}

/// The metrics label of a request: its route's pattern (bounded), or `other`.
fn route_label(lookup: &Lookup) -> &'static str {
    match lookup {
        Lookup::Found(m) => m.route.pattern,
        _ => "other",
    }
}

/// A path parameter holding an app or group id, as a [`PathId`].
fn path_param(matched: &Matched, name: &str) -> PathId {
    PathId::parse(&format!("/{}", matched.param(name)))
}

async fn dispatch(node: &Arc<Node>, request: Request, lookup: Lookup) -> Response {
    let matched = match lookup {
        Lookup::Found(matched) if matched.route.local => return serve(node, &request, &matched).await,
        _ if !node.is_leader() => return proxy(node, request).await,
        _ if !node.ready.load(Ordering::SeqCst) => return message(503, "Leader is still recovering its state"),
        Lookup::Found(matched) => matched,
        Lookup::MethodNotAllowed => return message(405, "Method Not Allowed"),
        Lookup::NotFound => return message(404, &format!("URI not found: {}", request.path)),
    };
    serve(node, &request, &matched).await
}

/// Runs the handler a route selected.
async fn serve(node: &Arc<Node>, request: &Request, matched: &Matched) -> Response {
    let html = |page: &'static str| respond(StatusCode::OK, "text/html; charset=utf-8", page);
    let result = match matched.route.handler {
        Handler::Ping => Ok(misc::ping(request)),
        Handler::Metrics => Ok(misc::metrics_json(node)),
        Handler::MetricsPrometheus => Ok(misc::metrics_prometheus(node)),
        Handler::Ui => Ok(html(crate::ui::INDEX_HTML)),
        Handler::ApiConsole => Ok(html(crate::ui::API_CONSOLE_HTML)),
        Handler::OpenApi => Ok(respond(StatusCode::OK, "application/json", openapi::DOCUMENT)),
        Handler::ListApps => Ok(apps::list(node, request)),
        Handler::CreateApp => apps::create(node, request).await,
        Handler::UpdateApps => apps::update_many(node, request).await,
        Handler::GroupApps => Ok(apps::group_apps(node, &path_param(matched, "groupId"))),
        Handler::RestartApp => apps::restart(node, request, &path_param(matched, "appId")).await,
        Handler::AppTasks => Ok(apps::app_tasks(node, request, &path_param(matched, "appId"))),
        Handler::KillAppTasks => apps::kill_app_tasks(node, request, &path_param(matched, "appId")).await,
        Handler::KillTask => {
            apps::kill_one(node, request, &path_param(matched, "appId"), matched.param("taskId")).await
        }
        Handler::AppVersions => Ok(apps::versions(node, &path_param(matched, "appId"))),
        Handler::AppVersion => apps::version(node, &path_param(matched, "appId"), matched.param("version")).await,
        Handler::GetApp => Ok(apps::get(node, &path_param(matched, "appId"))),
        Handler::UpdateApp => apps::update(node, request, &path_param(matched, "appId")).await,
        Handler::DeleteApp => apps::delete(node, request, &path_param(matched, "appId")).await,
        Handler::ListTasks => Ok(apps::list_tasks(node, request)),
        Handler::DeleteTasks => Ok(apps::delete_tasks(node, request).await),
        Handler::Deployments => Ok(misc::deployments(node)),
        Handler::CancelDeployment => Ok(misc::cancel_deployment(node, request, matched.param("deploymentId")).await),
        Handler::GetGroup => Ok(misc::groups(node, request, &routes::segments(matched.param("groupId")))),
        Handler::ChangeGroup => Ok(groups::change(node, request, &routes::segments(matched.param("groupId"))).await),
        Handler::Queue => Ok(misc::queue(node)),
        Handler::ResetDelay => Ok(misc::reset_delay(node, &routes::segments(matched.param("appId")))),
        Handler::Info => Ok(misc::info(node)),
        Handler::Leader => Ok(misc::leader(node)),
        Handler::Abdicate => Ok(misc::abdicate()),
        Handler::Events => Ok(events::stream(node, request)),
        Handler::EventSubscriptions => Ok(message(
            400,
            "http event callback system is not running on this Marathon instance. Please re-start this instance with \"--event_subscriber http_callback\".",
        )),
    };
    result.unwrap_or_else(|e| error_response(&e))
}

/// Forwards a request to the leader (path, query, headers and body kept).
async fn proxy(node: &Node, request: Request) -> Response {
    let via = format!("1.1 {}", node.address);
    if request.headers.get_all("x-marathon-via").iter().any(|v| v.to_str().is_ok_and(|v| v.contains(&via))) {
        return message(502, "Detected proxying loop.");
    }
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
    outgoing = outgoing.header("X-Marathon-Via", via);
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
