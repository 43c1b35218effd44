//! The master's HTTP surface: one warp filter that routes by path the way libprocess does (`/master/x` ≡ `/x`,
//! trailing `/` ignored), redirects leader-only endpoints from standbys, and hands off to the scheduler API,
//! the agent link and the operator endpoints.

mod agent;
mod operator;
mod scheduler;

use crate::flags::Config;
use crate::leadership::Leadership;
use crate::metrics::Metrics;
use crate::registry::Registrar;
use crate::state::Master;
use common::http::{json_reply, respond, text_reply, Request, RequestError};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Notify};
use warp::http::{header, StatusCode};
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::Filter;

/// Largest request body accepted (scheduler calls with many tasks stay far below it).
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// Everything a request handler can reach.
#[derive(Clone)]
pub struct Context {
    /// The master's state.
    pub master: Arc<Mutex<Master>>,
    /// Who leads.
    pub leadership: watch::Receiver<Leadership>,
    /// Effective flags for `/flags` and `/state`.
    pub flags: Arc<BTreeMap<String, String>>,
    /// Typed configuration.
    pub config: Arc<Config>,
    /// Wakes the allocator when resources free up or demand appears.
    pub allocate_now: Arc<Notify>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The durable registry.
    pub registrar: Arc<Registrar>,
}

/// Writes the registry changes the master has recorded; when it returns `Ok`, every change made before the
/// call is durable.
pub async fn persist(ctx: &Context) -> Result<(), String> {
    ctx.registrar.sync(|| ctx.master.lock().map(|mut m| m.registry_changes()).unwrap_or_default()).await
}

/// The warp filter serving every master endpoint.
pub fn routes(ctx: Context) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    common::http::requests(MAX_BODY).and_then(move |request: Result<Request, RequestError>| {
        let ctx = ctx.clone();
        async move {
            let mut request = match request {
                Ok(request) => request,
                Err(e) => return Ok::<_, Infallible>(text_reply(e.status(), e.to_string())),
            };
            request.path = normalise(&request.path);
            let route = request.path.clone();
            let timer = ctx.metrics.http_latency.with_label_values(&[route_label(&route)]).start_timer();
            let response = handle(&ctx, request).await;
            timer.observe_duration();
            Ok::<_, Infallible>(response)
        }
    })
}

/// `/master/state/` → `/state`.
fn normalise(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    let stripped =
        trimmed.strip_prefix("/master").filter(|rest| rest.is_empty() || rest.starts_with('/')).unwrap_or(trimmed);
    if stripped.is_empty() {
        "/".to_string()
    } else {
        stripped.to_string()
    }
}

/// A bounded label for metrics: known endpoints by name, everything else as `other`.
fn route_label(path: &str) -> &'static str {
    match path {
        "/api/v1/scheduler" => "/api/v1/scheduler",
        "/api/v1" => "/api/v1",
        common::agent_link::PATH => common::agent_link::PATH,
        "/state" | "/state.json" => "/state",
        "/state-summary" => "/state-summary",
        "/slaves" => "/slaves",
        "/frameworks" => "/frameworks",
        "/tasks" | "/tasks.json" => "/tasks",
        "/health" => "/health",
        "/metrics" => "/metrics",
        "/metrics/snapshot" => "/metrics/snapshot",
        _ => "other",
    }
}

async fn handle(ctx: &Context, request: Request) -> Response {
    let jsonp = request.param("jsonp").map(str::to_string);
    let jsonp = jsonp.as_deref();
    match request.path.as_str() {
        "/health" => respond(StatusCode::OK, "text/plain", Bytes::new()),
        "/version" => json_reply(StatusCode::OK, &operator::version(), jsonp),
        "/flags" => json_reply(StatusCode::OK, &serde_json::json!({ "flags": *ctx.flags }), jsonp),
        "/metrics/snapshot" => json_reply(StatusCode::OK, &operator::metrics_snapshot(ctx), jsonp),
        "/metrics" => {
            ctx.metrics.refresh(&ctx.master.lock().expect("master lock"), ctx.leadership.borrow().is_leading());
            respond(StatusCode::OK, common::metrics::CONTENT_TYPE, ctx.metrics.render())
        }
        "/redirect" => match ctx.leadership.borrow().leader_address() {
            Some(address) => redirect(&format!("//{address}")),
            None => text_reply(StatusCode::SERVICE_UNAVAILABLE, "No leader elected"),
        },
        "/" => respond(StatusCode::OK, "text/html; charset=utf-8", crate::ui::INDEX_HTML),
        path if is_leader_only(path) => {
            if let Some(response) = leader_redirect(ctx, &request) {
                return response;
            }
            let calls = path == "/api/v1/scheduler" || path == common::agent_link::PATH;
            if calls && !ctx.master.lock().expect("master lock").is_recovered() {
                return text_reply(StatusCode::SERVICE_UNAVAILABLE, "Master has not finished recovery");
            }
            match path {
                "/api/v1/scheduler" => scheduler::handle(ctx, request).await,
                common::agent_link::PATH => agent::handle(ctx, request).await,
                _ => operator::handle(ctx, &request, jsonp),
            }
        }
        _ => respond(StatusCode::NOT_FOUND, "text/plain", Bytes::new()),
    }
}

fn is_leader_only(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/scheduler"
            | common::agent_link::PATH
            | "/state"
            | "/state.json"
            | "/state-summary"
            | "/slaves"
            | "/frameworks"
            | "/tasks"
            | "/tasks.json"
            | "/roles"
            | "/roles.json"
            | "/maintenance/schedule"
    ) || path.starts_with("/api/v1")
}

/// For a standby: 307 to the leader (same path and query), or 503 when no leader is known.
fn leader_redirect(ctx: &Context, request: &Request) -> Option<Response> {
    let leadership = ctx.leadership.borrow();
    if leadership.is_leading() {
        return None;
    }
    Some(match leadership.leader_address() {
        Some(address) => redirect(&format!("//{address}{}", request.original)),
        None => text_reply(StatusCode::SERVICE_UNAVAILABLE, "No leader elected"),
    })
}

fn redirect(location: &str) -> Response {
    let mut response = respond(StatusCode::TEMPORARY_REDIRECT, "text/plain", Bytes::new());
    if let Ok(value) = header::HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_like_libprocess() {
        assert_eq!(normalise("/master/state/"), "/state");
        assert_eq!(normalise("/master/slaves"), "/slaves");
        assert_eq!(normalise("/state"), "/state");
        assert_eq!(normalise("/masterx"), "/masterx");
        assert_eq!(normalise("/"), "/");
        assert_eq!(normalise("/master"), "/");
    }
}
