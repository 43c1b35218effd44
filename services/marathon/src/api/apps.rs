//! `/v2/apps…` and `/v2/tasks…`: create, read, update, delete and restart apps; list and kill tasks.

use super::{error_response, flag, json_response, Node};
use crate::app::{self, ApiError, AppDefinition, PathId};
use crate::core::{app_info, app_not_found, event, write_app_info, DeploymentResult};
use crate::store::Category;
use common::http::{respond, Request};
use serde_json::{json, Value};
use std::sync::Arc;
use warp::http::{header, HeaderValue, Method, StatusCode};
use warp::reply::Response;

fn require_json(request: &Request) -> Result<(), ApiError> {
    match request.header("content-type") {
        Some(ct) if ct.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")) => Ok(()),
        _ => Err(ApiError::message(415, "Unsupported Media Type")),
    }
}

/// Persists the core's pending changes; a failure is a 503 and the change may not be assumed.
async fn commit(node: &Node) -> Result<(), ApiError> {
    node.scheduler.commit().await.map_err(|e| ApiError::message(503, format!("Could not persist the change: {e}")))
}

fn deployment_response(status: u16, result: &DeploymentResult) -> Response {
    let mut response = json_response(status, &result.json());
    if let Ok(v) = HeaderValue::from_str(&result.deployment_id) {
        response.headers_mut().insert("Marathon-Deployment-Id", v);
    }
    response
}

/// Which parts of AppInfo were asked for with `embed` (any of the `apps.`, `app.`, `group.apps.` prefixes).
struct Embed {
    tasks: bool,
    failure: bool,
}

fn embed(request: &Request) -> Embed {
    let names: Vec<&str> = request
        .query
        .iter()
        .filter(|(k, _)| k == "embed")
        .map(|(_, v)| v.trim_start_matches("group.").trim_start_matches("apps.").trim_start_matches("app."))
        .collect();
    Embed {
        tasks: names.iter().any(|n| *n == "tasks" || *n == "failures"),
        failure: names.iter().any(|n| *n == "lastTaskFailure" || *n == "failures"),
    }
}

/// `GET /v2/apps` with `cmd`, `id`, `label` filters and `embed`.
pub(super) fn list(node: &Node, request: &Request) -> Response {
    let embed = embed(request);
    let core = node.scheduler.core.lock().expect("core lock");
    let cmd = request.param("cmd");
    let id = request.param("id").map(str::to_ascii_lowercase);
    let selector = request.param("label").map(LabelSelector::parse);
    let apps = core
        .apps
        .values()
        .filter(|a| cmd.is_none_or(|c| a.cmd.as_deref().is_some_and(|x| x.contains(c))))
        .filter(|a| id.as_deref().is_none_or(|i| a.id.to_string().to_ascii_lowercase().contains(i)))
        .filter(|a| selector.as_ref().is_none_or(|s| s.matches(&a.labels)));
    let mut body = b"{\"apps\":[".to_vec();
    for (i, app) in apps.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        write_app_info(&mut body, &core, app, embed.tasks, embed.failure);
    }
    drop(core);
    body.extend_from_slice(b"]}");
    respond(StatusCode::OK, "application/json", body)
}

/// `GET /v2/apps/{group}/*`: the apps under a group, with tasks and failures.
pub(super) fn group_apps(node: &Node, group: &PathId) -> Response {
    let core = node.scheduler.core.lock().expect("core lock");
    let apps: Vec<Value> =
        core.apps.values().filter(|a| a.id.is_under(group)).map(|a| app_info(&core, a, true, true)).collect();
    json_response(200, &json!({ "*": apps }))
}

/// `GET /v2/apps/{id}`.
pub(super) fn get(node: &Node, id: &PathId) -> Response {
    let core = node.scheduler.core.lock().expect("core lock");
    match core.apps.get(id) {
        Some(app) => json_response(200, &json!({ "app": app_info(&core, app, true, true) })),
        None => error_response(&app_not_found(id)),
    }
}

/// `POST /v2/apps`.
pub(super) async fn create(node: &Node, request: &Request) -> Result<Response, ApiError> {
    require_json(request)?;
    let app = app::parse_app(&request.body, &PathId::root())?;
    app::validate_app(&app)?;
    let (echo, result) = {
        let mut core = node.scheduler.core.lock().expect("core lock");
        let (echo, result) = core.create_app(app, flag(request, "force", false))?;
        core.events.push(event(
            "api_post_event",
            json!({"clientIp": null, "uri": "/v2/apps", "appDefinition": app::app_json(&echo, false)}),
        ));
        (echo, result)
    };
    commit(node).await?;
    let extras = app::AppInfoExtras {
        counts: Some(app::TaskCounts::default()),
        deployment_ids: Some(vec![result.deployment_id.clone()]),
        tasks: Some(Vec::new()),
        ..Default::default()
    };
    let body = app::with_app_info(app::app_json(&echo, true), extras);
    let mut response = json_response(201, &body);
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/apps{}", echo.id)) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&result.deployment_id) {
        response.headers_mut().insert("Marathon-Deployment-Id", v);
    }
    Ok(response)
}

/// The new definition a PUT/PATCH body asks for (rollback, partial update or full replacement).
async fn updated_definition(
    node: &Node,
    request: &Request,
    id: &PathId,
    current: Option<AppDefinition>,
) -> Result<AppDefinition, ApiError> {
    let patch = app::parse_json_body(&request.body)?;
    if let Some(version) = app::rollback_version(&patch)? {
        let stored: Vec<Value> =
            node.scheduler.store.versions(Category::Apps, &id.to_string()).await.unwrap_or_default();
        let wanted = version.to_string();
        let json = stored
            .into_iter()
            .find(|v| v.get("version").and_then(Value::as_str) == Some(wanted.as_str()))
            .ok_or_else(|| ApiError::message(404, format!("App '{id}' does not exist in version {wanted}")))?;
        return app::app_from_json(&json, &PathId::root());
    }
    let partial = request.method == Method::PATCH || flag(request, "partialUpdate", true);
    let app = match current {
        Some(current) if partial => app::apply_update(&current, &patch)?,
        _ => app::parse_app_replacement(&request.body, id)?,
    };
    if app.id != *id {
        return Err(ApiError::message(
            400,
            format!("The application id from the path ({id}) and the body ({}) do not match", app.id),
        ));
    }
    Ok(app)
}

/// `PUT`/`PATCH /v2/apps/{id}`: update, replace, roll back or create.
pub(super) async fn update(node: &Node, request: &Request, id: &PathId) -> Result<Response, ApiError> {
    require_json(request)?;
    let current = node.scheduler.core.lock().expect("core lock").apps.get(id).cloned();
    if current.is_none() && request.method == Method::PATCH {
        return Err(app_not_found(id));
    }
    let app = updated_definition(node, request, id, current).await?;
    app::validate_app(&app)?;
    let (created, result) =
        node.scheduler.core.lock().expect("core lock").update_app(app, flag(request, "force", false))?;
    commit(node).await?;
    Ok(deployment_response(if created { 201 } else { 200 }, &result))
}

/// `PUT`/`PATCH /v2/apps`: update several apps in one deployment.
pub(super) async fn update_many(node: &Node, request: &Request) -> Result<Response, ApiError> {
    require_json(request)?;
    let body = app::parse_json_body(&request.body)?;
    let Some(items) = body.as_array() else {
        return Err(ApiError::message(400, "Invalid JSON: expected an array of apps"));
    };
    let force = flag(request, "force", false);
    let mut updated = Vec::new();
    {
        let core = node.scheduler.core.lock().expect("core lock");
        for item in items {
            let id = item
                .get("id")
                .and_then(Value::as_str)
                .map(PathId::parse)
                .ok_or_else(|| ApiError::message(422, "App id is missing"))?;
            let app = match core.apps.get(&id) {
                Some(current) => app::apply_update(current, item)?,
                None => app::app_from_json(item, &PathId::root())?,
            };
            app::validate_app(&app)?;
            updated.push(app);
        }
    }
    let mut last = None;
    for app in updated {
        let (_, result) = node.scheduler.core.lock().expect("core lock").update_app(app, force)?;
        last = Some(result);
    }
    commit(node).await?;
    match last {
        Some(result) => Ok(deployment_response(200, &result)),
        None => Err(ApiError::message(400, "No apps given")),
    }
}

/// `DELETE /v2/apps/{id}`.
pub(super) async fn delete(node: &Node, request: &Request, id: &PathId) -> Result<Response, ApiError> {
    let result = node.scheduler.core.lock().expect("core lock").delete_app(id, flag(request, "force", true))?;
    commit(node).await?;
    Ok(deployment_response(200, &result))
}

/// `POST /v2/apps/{id}/restart`.
pub(super) async fn restart(node: &Node, request: &Request, id: &PathId) -> Result<Response, ApiError> {
    let result = node.scheduler.core.lock().expect("core lock").restart_app(id, flag(request, "force", false))?;
    commit(node).await?;
    Ok(deployment_response(200, &result))
}

/// `{key: value}` without the deep copy `json!` makes of a value it is given.
fn wants_text(request: &Request) -> bool {
    request.header("accept").is_some_and(|a| a.contains("text/plain") && !a.contains("application/json"))
}

/// `GET /v2/apps/{id}/tasks`, JSON or text.
pub(super) fn app_tasks(node: &Node, request: &Request, id: &PathId) -> Response {
    let core = node.scheduler.core.lock().expect("core lock");
    let Some(app) = core.apps.get(id) else { return error_response(&app_not_found(id)) };
    if wants_text(request) {
        return respond(StatusCode::OK, "text/plain", tasks_text(&[app], &core));
    }
    let tasks: Vec<Value> = core.tasks_of(id).iter().filter(|t| t.is_active()).map(|t| t.task_json(false)).collect();
    json_response(200, &json!({ "tasks": tasks }))
}

/// `GET /v2/tasks`, JSON or the 1.4 text format.
pub fn list_tasks(node: &Node, request: &Request) -> Response {
    let core = node.scheduler.core.lock().expect("core lock");
    if wants_text(request) {
        let apps: Vec<&AppDefinition> = core.apps.values().collect();
        return respond(StatusCode::OK, "text/plain", tasks_text(&apps, &core));
    }
    let wanted: Vec<String> = request
        .query
        .iter()
        .filter(|(k, _)| k == "status" || k == "status[]")
        .map(|(_, v)| v.to_ascii_lowercase())
        .collect();
    let tasks: Vec<_> = core
        .instances
        .values()
        .filter(|t| t.is_active())
        .filter(|t| {
            wanted.is_empty()
                || wanted.iter().any(|w| (w == "running" && t.is_running()) || (w == "staging" && t.is_staged()))
        })
        .map(|t| t.task_view(true))
        .collect();
    let mut body = b"{\"tasks\":".to_vec();
    serde_json::to_writer(&mut body, &tasks).expect("plain data serializes");
    drop(core);
    body.push(b'}');
    respond(StatusCode::OK, "application/json", body)
}

/// The 1.4 text format: per app and service port, `<safe id>\t<servicePort>\t<host>:<port>\t…\n`.
fn tasks_text(apps: &[&AppDefinition], core: &crate::core::Core) -> String {
    let mut out = String::new();
    for app in apps {
        let running: Vec<_> = core.tasks_of(&app.id).into_iter().filter(|t| t.is_running()).collect();
        let service_ports = app.service_ports();
        if service_ports.is_empty() {
            out.push_str(&format!("{}\t \t", app.id.safe_id()));
            for t in &running {
                out.push_str(&format!("{} ", t.host));
            }
            out.push('\n');
            continue;
        }
        for (i, port) in service_ports.iter().enumerate() {
            out.push_str(&format!("{}\t{}\t", app.id.safe_id(), port));
            for t in &running {
                if let Some(p) = t.ports.get(i) {
                    out.push_str(&format!("{}:{}\t", t.host, p));
                }
            }
            out.push('\n');
        }
    }
    out
}

async fn kill(node: &Node, request: &Request, ids: Vec<String>, single: bool) -> Result<Response, ApiError> {
    let scale = flag(request, "scale", false);
    let wipe = flag(request, "wipe", false);
    let force = flag(request, "force", false);
    let (killed, deployment) = node.scheduler.core.lock().expect("core lock").kill_tasks(&ids, scale, wipe, force)?;
    commit(node).await?;
    Ok(match deployment {
        Some(result) => deployment_response(200, &result),
        None if single => json_response(200, &json!({ "task": killed.into_iter().next() })),
        None => json_response(200, &json!({ "tasks": killed })),
    })
}

/// `DELETE /v2/apps/{id}/tasks` (optionally on one `host`).
pub(super) async fn kill_app_tasks(node: &Node, request: &Request, id: &PathId) -> Result<Response, ApiError> {
    let ids: Vec<String> = {
        let core = node.scheduler.core.lock().expect("core lock");
        if !core.apps.contains_key(id) {
            return Err(app_not_found(id));
        }
        let host = request.param("host").filter(|h| *h != "*");
        core.tasks_of(id)
            .iter()
            .filter(|t| t.is_active() && host.is_none_or(|h| t.host == h))
            .map(|t| t.task_id.clone())
            .collect()
    };
    kill(node, request, ids, false).await
}

/// `DELETE /v2/apps/{id}/tasks/{taskId}`.
pub(super) async fn kill_one(node: &Node, request: &Request, id: &PathId, task: &str) -> Result<Response, ApiError> {
    {
        let core = node.scheduler.core.lock().expect("core lock");
        if !core.apps.contains_key(id) {
            return Err(app_not_found(id));
        }
        if core.instances.get(task).is_none_or(|t| t.app_id != *id) {
            return Err(ApiError::message(404, format!("Task '{task}' does not exist")));
        }
    }
    kill(node, request, vec![task.to_string()], true).await
}

/// `POST /v2/tasks/delete` with `{"ids": [...]}`.
pub async fn delete_tasks(node: &Arc<Node>, request: &Request) -> Response {
    let result = async {
        require_json(request)?;
        let body = app::parse_json_body(&request.body)?;
        let ids: Vec<String> = body
            .get("ids")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::message(400, "Invalid JSON: expected {\"ids\": [...]}"))?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        for id in &ids {
            if app::app_id_from_task_id(id).is_none() {
                return Err(ApiError::message(400, format!("Invalid task id '{id}'. [{id}]")));
            }
        }
        kill(node, request, ids, false).await
    }
    .await;
    result.unwrap_or_else(|e| error_response(&e))
}

/// `GET /v2/apps/{id}/versions`, newest first.
pub(super) fn versions(node: &Node, id: &PathId) -> Response {
    let core = node.scheduler.core.lock().expect("core lock");
    match core.versions.get(id) {
        Some(versions) if core.apps.contains_key(id) => {
            let mut list: Vec<String> = versions.iter().map(|v| v.to_string()).collect();
            list.reverse();
            json_response(200, &json!({ "versions": list }))
        }
        _ => error_response(&app_not_found(id)),
    }
}

/// `GET /v2/apps/{id}/versions/{version}`.
pub(super) async fn version(node: &Node, id: &PathId, version: &str) -> Result<Response, ApiError> {
    if !node.scheduler.core.lock().expect("core lock").apps.contains_key(id) {
        return Err(app_not_found(id));
    }
    let wanted = app::Timestamp::parse(version).map(|t| t.to_string()).unwrap_or_else(|| version.to_string());
    let stored: Vec<Value> = node.scheduler.store.versions(Category::Apps, &id.to_string()).await.unwrap_or_default();
    stored
        .into_iter()
        .find(|v| v.get("version").and_then(Value::as_str) == Some(wanted.as_str()))
        .map(|v| json_response(200, &v))
        .ok_or_else(|| ApiError::message(404, format!("App '{id}' does not exist in version {version}")))
}

/// A label selector: `k`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, comma = AND.
struct LabelSelector(Vec<(String, String, Vec<String>)>);

impl LabelSelector {
    fn parse(text: &str) -> LabelSelector {
        let mut terms = Vec::new();
        let mut depth = 0;
        let mut current = String::new();
        for c in text.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    terms.push(std::mem::take(&mut current));
                    continue;
                }
                _ => {}
            }
            current.push(c);
        }
        terms.push(current);
        LabelSelector(terms.iter().filter(|t| !t.trim().is_empty()).map(|t| Self::term(t.trim())).collect())
    }

    fn term(t: &str) -> (String, String, Vec<String>) {
        let list = |s: &str| {
            s.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .map(|x| x.trim().to_string())
                .collect::<Vec<_>>()
        };
        if let Some((k, v)) = t.split_once("==") {
            (k.trim().into(), "==".into(), vec![v.trim().into()])
        } else if let Some((k, v)) = t.split_once("!=") {
            (k.trim().into(), "!=".into(), vec![v.trim().into()])
        } else if let Some((k, v)) = t.split_once(" notin ") {
            (k.trim().into(), "notin".into(), list(v))
        } else if let Some((k, v)) = t.split_once(" in ") {
            (k.trim().into(), "in".into(), list(v))
        } else {
            (t.into(), "exists".into(), vec![])
        }
    }

    fn matches(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        self.0.iter().all(|(k, op, values)| {
            let v = labels.get(k);
            match op.as_str() {
                "==" | "in" => v.is_some_and(|v| values.contains(v)),
                "!=" | "notin" => v.is_none_or(|v| !values.contains(v)),
                _ => v.is_some(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors() {
        let labels: std::collections::BTreeMap<String, String> = [("env".to_string(), "prod".to_string())].into();
        assert!(LabelSelector::parse("env").matches(&labels));
        assert!(LabelSelector::parse("env==prod").matches(&labels));
        assert!(!LabelSelector::parse("env!=prod").matches(&labels));
        assert!(LabelSelector::parse("env in (dev, prod)").matches(&labels));
        assert!(!LabelSelector::parse("env notin (dev,prod)").matches(&labels));
        assert!(!LabelSelector::parse("env==prod,team").matches(&labels));
    }
}
