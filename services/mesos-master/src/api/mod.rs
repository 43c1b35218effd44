//! The master's HTTP surface: one warp filter that routes by path the way libprocess does (`/master/x` ≡ `/x`,
//! trailing `/` ignored), redirects leader-only endpoints from standbys, and hands off to the scheduler API,
//! the agent link and the operator endpoints. With `--authenticate_*`, every request is first checked against
//! `--credentials` for the realm its path belongs to (before any redirect, as libprocess authenticates before
//! routing).

mod agent;
mod operator;
mod scheduler;

use crate::flags::Config;
use crate::leadership::Leadership;
use crate::metrics::Metrics;
use crate::registry::Registrar;
use crate::state::Master;
use common::auth::Credential;
use common::http::{json_reply, respond, text_reply, Request, RequestError};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;
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
    /// Which endpoints need credentials, and the credentials that pass.
    pub authentication: Arc<Authentication>,
}

/// An authentication realm: a set of endpoints switched on by one `--authenticate_*` flag. The names are
/// upstream's realm names, sent in `WWW-Authenticate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Realm {
    /// `/api/v1/scheduler` (`--authenticate_frameworks` / `--authenticate_http_frameworks`).
    Frameworks,
    /// The agent link (`--authenticate_agents`).
    Agents,
    /// Read-only operator endpoints (`--authenticate_http_readonly`).
    ReadOnly,
    /// Operator endpoints that can change state (`--authenticate_http_readwrite`).
    ReadWrite,
}

impl Realm {
    /// The realm of a normalised path, or `None` for endpoints that are never authenticated (`/health`,
    /// `/version`, `/redirect`, the web UI page, unknown paths).
    pub fn of(path: &str, method: &warp::http::Method) -> Option<Realm> {
        match path {
            "/api/v1/scheduler" => Some(Realm::Frameworks),
            common::agent_link::PATH => Some(Realm::Agents),
            "/maintenance/schedule" if method == warp::http::Method::POST => Some(Realm::ReadWrite),
            "/state"
            | "/state.json"
            | "/state-summary"
            | "/slaves"
            | "/frameworks"
            | "/tasks"
            | "/tasks.json"
            | "/roles"
            | "/roles.json"
            | "/flags"
            | "/metrics"
            | "/metrics/snapshot"
            | "/maintenance/schedule"
            | "/maintenance/status" => Some(Realm::ReadOnly),
            "/teardown" | "/machine/up" | "/machine/down" | "/quota" | "/reserve" | "/unreserve" | "/weights"
            | "/create-volumes" | "/destroy-volumes" => Some(Realm::ReadWrite),
            path if path.starts_with("/api/v1") => Some(Realm::ReadWrite),
            _ => None,
        }
    }

    /// Upstream's realm name.
    pub fn name(self) -> &'static str {
        match self {
            Realm::Frameworks => "mesos-master-scheduler",
            Realm::Agents => "mesos-master-agent",
            Realm::ReadOnly => "mesos-master-readonly",
            Realm::ReadWrite => "mesos-master-readwrite",
        }
    }
}

/// The master's authentication settings (all off by default, as upstream).
#[derive(Debug, Default)]
pub struct Authentication {
    /// `--credentials`, read at start-up.
    pub credentials: Vec<Credential>,
    /// Realms that need credentials.
    pub realms: Vec<Realm>,
}

/// The outcome of checking a request's credentials.
#[derive(Debug, PartialEq, Eq)]
pub enum Authenticated {
    /// Its realm is not authenticated (or it has none).
    NotRequired,
    /// It presented the credentials of this principal.
    Principal(String),
    /// It needed credentials and had none or wrong ones: 401 with this realm.
    Refused(Realm),
}

impl Authentication {
    /// Reads `--credentials` when any `--authenticate_*` flag is on; the error is one line for start-up.
    pub fn from_config(config: &Config) -> Result<Authentication, String> {
        let flags = [
            (config.authenticate_frameworks || config.authenticate_http_frameworks, Realm::Frameworks),
            (config.authenticate_agents, Realm::Agents),
            (config.authenticate_http_readonly, Realm::ReadOnly),
            (config.authenticate_http_readwrite, Realm::ReadWrite),
        ];
        let realms: Vec<Realm> = flags.iter().filter(|(on, _)| *on).map(|(_, realm)| *realm).collect();
        let credentials = match (&config.credentials, realms.is_empty()) {
            (Some(path), false) => {
                let text = common::auth::read_credentials_file(path)?;
                common::auth::parse_credentials(&text).map_err(|e| format!("invalid --credentials file: {e}"))?
            }
            _ => Vec::new(),
        };
        Ok(Authentication { credentials, realms })
    }

    /// Checks a request for `path` with its `Authorization` header.
    pub fn check(&self, path: &str, method: &warp::http::Method, authorization: Option<&str>) -> Authenticated {
        let Some(realm) = Realm::of(path, method).filter(|r| self.realms.contains(r)) else {
            return Authenticated::NotRequired;
        };
        match common::auth::authenticate(&self.credentials, authorization) {
            Some(principal) => Authenticated::Principal(principal),
            None => Authenticated::Refused(realm),
        }
    }
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
            let (route, method, started) = (route_label(&request.path), request.method.clone(), Instant::now());
            let response = handle(&ctx, request).await;
            ctx.metrics.http.observe(route, &method, response.status(), started.elapsed());
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
    let principal = match ctx.authentication.check(&request.path, &request.method, request.header("authorization")) {
        Authenticated::NotRequired => None,
        Authenticated::Principal(principal) => Some(principal),
        Authenticated::Refused(realm) => {
            tracing::debug!(path = %request.path, realm = realm.name(), "refused a request without valid credentials");
            return common::auth::unauthorized(realm.name(), "text/plain; charset=utf-8", "");
        }
    };
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
                "/api/v1/scheduler" => scheduler::handle(ctx, request, principal.as_deref()).await,
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
    use warp::http::Method;

    fn auth(realms: &[Realm]) -> Authentication {
        Authentication {
            credentials: vec![Credential { principal: "ops".into(), secret: "pw".into() }],
            realms: realms.to_vec(),
        }
    }

    #[test]
    fn realms_cover_upstream_endpoints() {
        assert_eq!(Realm::of("/api/v1/scheduler", &Method::POST), Some(Realm::Frameworks));
        assert_eq!(Realm::of(common::agent_link::PATH, &Method::POST), Some(Realm::Agents));
        for path in ["/state", "/slaves", "/frameworks", "/tasks", "/flags", "/metrics/snapshot", "/roles"] {
            assert_eq!(Realm::of(path, &Method::GET), Some(Realm::ReadOnly), "{path}");
        }
        for path in ["/api/v1", "/teardown", "/quota"] {
            assert_eq!(Realm::of(path, &Method::POST), Some(Realm::ReadWrite), "{path}");
        }
        assert_eq!(Realm::of("/maintenance/schedule", &Method::POST), Some(Realm::ReadWrite));
        assert_eq!(Realm::of("/maintenance/schedule", &Method::GET), Some(Realm::ReadOnly));
        for path in ["/health", "/version", "/redirect", "/", "/nope"] {
            assert_eq!(Realm::of(path, &Method::GET), None, "{path}");
        }
    }

    #[test]
    fn only_enabled_realms_need_credentials() {
        let good = Credential { principal: "ops".into(), secret: "pw".into() }.basic_header();
        let bad = Credential { principal: "ops".into(), secret: "no".into() }.basic_header();
        let readonly = auth(&[Realm::ReadOnly]);
        assert_eq!(readonly.check("/state", &Method::GET, None), Authenticated::Refused(Realm::ReadOnly));
        assert_eq!(readonly.check("/state", &Method::GET, Some(&bad)), Authenticated::Refused(Realm::ReadOnly));
        assert_eq!(readonly.check("/state", &Method::GET, Some(&good)), Authenticated::Principal("ops".into()));
        assert_eq!(readonly.check("/api/v1", &Method::POST, None), Authenticated::NotRequired);
        assert_eq!(readonly.check("/health", &Method::GET, None), Authenticated::NotRequired);
        assert_eq!(
            Authentication::default().check("/api/v1/scheduler", &Method::POST, None),
            Authenticated::NotRequired
        );
    }

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
