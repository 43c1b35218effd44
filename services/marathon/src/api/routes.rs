//! Marathon's route table: every REST route as method + path pattern → handler, in one declarative list that
//! `dispatch` selects handlers from, metrics label requests with, and the OpenAPI document is checked against.
//!
//! Patterns use OpenAPI path templates. `{name}` matches one path segment; `{name*}` matches one or more segments
//! joined by `/` (app and group ids contain slashes). A pattern has at most one `{name*}`.

/// Which handler a route selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    /// `GET /ping`.
    Ping,
    /// Metrics in Marathon 1.4's JSON.
    Metrics,
    /// Metrics in the Prometheus text format.
    MetricsPrometheus,
    /// The web UI page.
    Ui,
    /// The API console page.
    ApiConsole,
    /// The OpenAPI document.
    OpenApi,
    /// List apps.
    ListApps,
    /// Create an app.
    CreateApp,
    /// Update several apps.
    UpdateApps,
    /// Apps under a group, with tasks.
    GroupApps,
    /// Restart an app.
    RestartApp,
    /// An app's tasks.
    AppTasks,
    /// Kill an app's tasks.
    KillAppTasks,
    /// Kill one task of an app.
    KillTask,
    /// An app's version list.
    AppVersions,
    /// One stored version of an app.
    AppVersion,
    /// One app.
    GetApp,
    /// Replace or patch one app.
    UpdateApp,
    /// Destroy one app.
    DeleteApp,
    /// All tasks.
    ListTasks,
    /// Kill tasks by id.
    DeleteTasks,
    /// Running deployments.
    Deployments,
    /// Cancel (roll back) a deployment.
    CancelDeployment,
    /// A group tree.
    GetGroup,
    /// Create, update or delete a group.
    ChangeGroup,
    /// The launch queue.
    Queue,
    /// Reset an app's launch delay.
    ResetDelay,
    /// Marathon's info.
    Info,
    /// The current leader.
    Leader,
    /// Abdicate leadership.
    Abdicate,
    /// The SSE event stream.
    Events,
    /// HTTP callback subscriptions (not running here).
    EventSubscriptions,
}

/// One route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path pattern (see the module doc).
    pub pattern: &'static str,
    /// The handler it selects.
    pub handler: Handler,
    /// Served by every instance; otherwise only by the ready leader (standbys proxy).
    pub local: bool,
}

const fn local(method: &'static str, pattern: &'static str, handler: Handler) -> Route {
    Route { method, pattern, handler, local: true }
}

const fn leader(method: &'static str, pattern: &'static str, handler: Handler) -> Route {
    Route { method, pattern, handler, local: false }
}

/// Every route, first match wins.
pub const ROUTES: &[Route] = &[
    local("GET", "/ping", Handler::Ping),
    local("GET", "/metrics", Handler::Metrics),
    local("GET", "/metrics/prometheus", Handler::MetricsPrometheus),
    local("GET", "/", Handler::Ui),
    local("GET", "/ui", Handler::Ui),
    local("GET", "/ui/index.html", Handler::Ui),
    local("GET", "/api-console", Handler::ApiConsole),
    local("GET", "/api-console/index.html", Handler::ApiConsole),
    local("GET", "/api-console/openapi.json", Handler::OpenApi),
    leader("GET", "/v2/apps", Handler::ListApps),
    leader("POST", "/v2/apps", Handler::CreateApp),
    leader("PUT", "/v2/apps", Handler::UpdateApps),
    leader("PATCH", "/v2/apps", Handler::UpdateApps),
    leader("GET", "/v2/apps/*", Handler::GroupApps),
    leader("GET", "/v2/apps/{groupId*}/*", Handler::GroupApps),
    leader("POST", "/v2/apps/{appId*}/restart", Handler::RestartApp),
    leader("GET", "/v2/apps/{appId*}/tasks", Handler::AppTasks),
    leader("DELETE", "/v2/apps/{appId*}/tasks", Handler::KillAppTasks),
    leader("DELETE", "/v2/apps/{appId*}/tasks/{taskId}", Handler::KillTask),
    leader("GET", "/v2/apps/{appId*}/versions", Handler::AppVersions),
    leader("GET", "/v2/apps/{appId*}/versions/{version}", Handler::AppVersion),
    leader("GET", "/v2/apps/{appId*}", Handler::GetApp),
    leader("PUT", "/v2/apps/{appId*}", Handler::UpdateApp),
    leader("PATCH", "/v2/apps/{appId*}", Handler::UpdateApp),
    leader("DELETE", "/v2/apps/{appId*}", Handler::DeleteApp),
    leader("GET", "/v2/tasks", Handler::ListTasks),
    leader("POST", "/v2/tasks/delete", Handler::DeleteTasks),
    leader("GET", "/v2/deployments", Handler::Deployments),
    leader("DELETE", "/v2/deployments/{deploymentId}", Handler::CancelDeployment),
    leader("GET", "/v2/groups", Handler::GetGroup),
    leader("GET", "/v2/groups/{groupId*}", Handler::GetGroup),
    leader("POST", "/v2/groups", Handler::ChangeGroup),
    leader("POST", "/v2/groups/{groupId*}", Handler::ChangeGroup),
    leader("PUT", "/v2/groups", Handler::ChangeGroup),
    leader("PUT", "/v2/groups/{groupId*}", Handler::ChangeGroup),
    leader("DELETE", "/v2/groups", Handler::ChangeGroup),
    leader("DELETE", "/v2/groups/{groupId*}", Handler::ChangeGroup),
    leader("GET", "/v2/queue", Handler::Queue),
    leader("DELETE", "/v2/queue/{appId*}/delay", Handler::ResetDelay),
    leader("GET", "/v2/info", Handler::Info),
    leader("GET", "/v2/leader", Handler::Leader),
    leader("DELETE", "/v2/leader", Handler::Abdicate),
    leader("GET", "/v2/events", Handler::Events),
    leader("GET", "/v2/eventSubscriptions", Handler::EventSubscriptions),
    leader("POST", "/v2/eventSubscriptions", Handler::EventSubscriptions),
    leader("DELETE", "/v2/eventSubscriptions", Handler::EventSubscriptions),
];

/// Path prefixes whose unmatched requests answer 405 (a known resource, a method it lacks) rather than 404.
const METHOD_NOT_ALLOWED_UNDER: &[&str] =
    &["apps", "tasks", "deployments", "groups", "queue", "info", "leader", "events", "eventSubscriptions"];

/// A matched route and the values of its path parameters, in pattern order.
#[derive(Debug, PartialEq)]
pub struct Matched {
    /// The route.
    pub route: &'static Route,
    /// `(name, value)` per parameter; a `{name*}` value is its segments joined by `/`.
    pub params: Vec<(&'static str, String)>,
}

impl Matched {
    /// A parameter's value (empty if the pattern has no such parameter).
    pub fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }
}

/// The outcome of looking a request up.
#[derive(Debug, PartialEq)]
pub enum Lookup {
    /// A route serves it.
    Found(Matched),
    /// A known resource without this method.
    MethodNotAllowed,
    /// Nothing here.
    NotFound,
}

/// The segments of a path (trailing and repeated slashes ignored).
pub fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// Matches a pattern against path segments.
fn match_pattern(pattern: &'static str, path: &[&str]) -> Option<Vec<(&'static str, String)>> {
    let parts = segments(pattern);
    let mut params = Vec::new();
    let mut i = 0;
    for (k, part) in parts.iter().enumerate() {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix("*}")) {
            let after = parts.len() - k - 1;
            let take = path.len().checked_sub(i + after).filter(|n| *n >= 1)?;
            params.push((name, path[i..i + take].join("/")));
            i += take;
        } else if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            params.push((name, path.get(i)?.to_string()));
            i += 1;
        } else if path.get(i) == Some(part) {
            i += 1;
        } else {
            return None;
        }
    }
    (i == path.len()).then_some(params)
}

/// Finds the route for a method and path.
pub fn lookup(method: &str, path: &str) -> Lookup {
    let path = segments(path);
    for route in ROUTES {
        if route.method == method {
            if let Some(params) = match_pattern(route.pattern, &path) {
                return Lookup::Found(Matched { route, params });
            }
        }
    }
    match path.as_slice() {
        ["v2", family, ..] if METHOD_NOT_ALLOWED_UNDER.contains(family) => Lookup::MethodNotAllowed,
        _ => Lookup::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(method: &str, path: &str) -> (Handler, Vec<(&'static str, String)>) {
        match lookup(method, path) {
            Lookup::Found(m) => (m.route.handler, m.params),
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    #[test]
    fn app_ids_with_slashes_and_suffixes() {
        assert_eq!(found("GET", "/v2/apps/prod/web").0, Handler::GetApp);
        assert_eq!(found("GET", "/v2/apps/prod/web").1, vec![("appId", "prod/web".to_string())]);
        assert_eq!(found("GET", "/v2/apps/prod/web/tasks").0, Handler::AppTasks);
        let (h, p) = found("DELETE", "/v2/apps/prod/web/tasks/prod_web.1234");
        assert_eq!(h, Handler::KillTask);
        assert_eq!(p, vec![("appId", "prod/web".to_string()), ("taskId", "prod_web.1234".to_string())]);
        assert_eq!(found("GET", "/v2/apps/a/versions/2017-01-01T00:00:00.000Z").0, Handler::AppVersion);
        assert_eq!(found("POST", "/v2/apps/a/b/restart").0, Handler::RestartApp);
        // A bare suffix is an app named like it, as before.
        assert_eq!(found("GET", "/v2/apps/tasks").1, vec![("appId", "tasks".to_string())]);
        assert_eq!(found("GET", "/v2/apps/restart").0, Handler::GetApp);
    }

    #[test]
    fn groups_and_group_apps() {
        assert_eq!(found("GET", "/v2/apps/*").0, Handler::GroupApps);
        assert_eq!(found("GET", "/v2/apps/prod/*").1, vec![("groupId", "prod".to_string())]);
        assert_eq!(found("GET", "/v2/groups").0, Handler::GetGroup);
        assert_eq!(found("GET", "/v2/groups/").0, Handler::GetGroup);
        assert_eq!(found("PUT", "/v2/groups/a/b").1, vec![("groupId", "a/b".to_string())]);
        assert_eq!(found("DELETE", "/v2/queue/a/b/delay").1, vec![("appId", "a/b".to_string())]);
    }

    #[test]
    fn local_pages_and_fallbacks() {
        assert_eq!(found("GET", "").0, Handler::Ui);
        assert_eq!(found("GET", "/ui/").0, Handler::Ui);
        assert_eq!(found("GET", "/api-console/openapi.json").0, Handler::OpenApi);
        assert!(ROUTES.iter().filter(|r| r.local).all(|r| !r.pattern.starts_with("/v2")));
        assert_eq!(lookup("POST", "/v2/apps/x"), Lookup::MethodNotAllowed);
        assert_eq!(lookup("PUT", "/v2/tasks"), Lookup::MethodNotAllowed);
        assert_eq!(lookup("GET", "/v2/tasks/x"), Lookup::MethodNotAllowed);
        assert_eq!(lookup("PATCH", "/v2/groups"), Lookup::MethodNotAllowed);
        assert_eq!(lookup("GET", "/v2/nothing"), Lookup::NotFound);
        assert_eq!(lookup("POST", "/ping"), Lookup::NotFound);
    }

    #[test]
    fn patterns_are_well_formed() {
        for route in ROUTES {
            let parts = segments(route.pattern);
            assert!(parts.iter().filter(|p| p.ends_with("*}")).count() <= 1, "{}", route.pattern);
            assert!(route.pattern.starts_with('/'), "{}", route.pattern);
        }
    }
}
