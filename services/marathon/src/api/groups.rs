//! `POST`, `PUT` and `DELETE` on `/v2/groups[/{id}]`: groups are the folders of app ids; changing one
//! creates, updates, scales or removes the apps under it in a single deployment.

use super::{error_response, flag, json_response, message, Node};
use crate::app::{self, ApiError, AppDefinition, PathId};
use common::http::Request;
use serde_json::{json, Value};
use std::sync::Arc;
use warp::http::{HeaderValue, Method};
use warp::reply::Response;

/// Routes a group change.
pub async fn change(node: &Arc<Node>, request: &Request, rest: &[&str]) -> Response {
    let group = PathId::parse(&format!("/{}", rest.join("/")));
    let result = match request.method {
        Method::DELETE => delete(node, request, &group),
        Method::POST | Method::PUT => update(node, request, &group),
        _ => return message(405, "Method Not Allowed"),
    };
    let result = match result {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    if let Err(e) = node.scheduler.commit().await {
        return message(503, &format!("Could not persist the change: {e}"));
    }
    let status = if request.method == Method::POST { 201 } else { 200 };
    let mut response = json_response(status, &result.json());
    if let Ok(v) = HeaderValue::from_str(&result.deployment_id) {
        response.headers_mut().insert("Marathon-Deployment-Id", v);
    }
    response
}

fn apps_under(node: &Node, group: &PathId) -> Vec<AppDefinition> {
    node.scheduler.core.lock().expect("core lock").apps.values().filter(|a| a.id.is_under(group)).cloned().collect()
}

fn delete(node: &Node, request: &Request, group: &PathId) -> Result<crate::core::DeploymentResult, ApiError> {
    let existing: Vec<PathId> = apps_under(node, group).into_iter().map(|a| a.id).collect();
    if existing.is_empty() && !group.is_root() {
        return Err(ApiError::message(404, format!("Group '{group}' does not exist")));
    }
    node.scheduler.core.lock().expect("core lock").change_group(Vec::new(), existing, flag(request, "force", false))
}

/// Collects the apps of a group body (nested `groups` included), ids resolved against their group.
fn collect_apps(body: &Value, group: &PathId, out: &mut Vec<AppDefinition>) -> Result<(), ApiError> {
    let group = match body.get("id").and_then(Value::as_str) {
        Some(id) => PathId::resolve(id, group),
        None => group.clone(),
    };
    for app_json in body.get("apps").and_then(Value::as_array).into_iter().flatten() {
        let app = app::app_from_json(app_json, &group)?;
        app::validate_app(&app)?;
        out.push(app);
    }
    for sub in body.get("groups").and_then(Value::as_array).into_iter().flatten() {
        collect_apps(sub, &group, out)?;
    }
    Ok(())
}

fn update(node: &Node, request: &Request, group: &PathId) -> Result<crate::core::DeploymentResult, ApiError> {
    let body = app::parse_json_body(&request.body)?;
    let force = flag(request, "force", false);
    let existing = apps_under(node, group);
    if request.method == Method::POST && !existing.is_empty() {
        return Err(ApiError::message(409, format!("Group {group} is already created. Use PUT to change this group.")));
    }
    if let Some(factor) = body.get("scaleBy").and_then(Value::as_f64) {
        let scaled: Vec<AppDefinition> = existing
            .into_iter()
            .map(|mut a| {
                a.instances = (a.instances as f64 * factor).ceil() as i32;
                a
            })
            .collect();
        return node.scheduler.core.lock().expect("core lock").change_group(scaled, Vec::new(), force);
    }
    let mut apps = Vec::new();
    collect_apps(&body, group, &mut apps)?;
    // PUT replaces the group: apps under it that the body no longer lists are removed.
    let removed: Vec<PathId> = if request.method == Method::PUT {
        existing.into_iter().map(|a| a.id).filter(|id| !apps.iter().any(|a| a.id == *id)).collect()
    } else {
        Vec::new()
    };
    if apps.is_empty() && removed.is_empty() {
        return Err(ApiError::with_body(
            422,
            json!({"message": "Object is not valid", "details": [{"path": "/", "errors": ["A group needs apps or a scaleBy factor"]}]}),
        ));
    }
    node.scheduler.core.lock().expect("core lock").change_group(apps, removed, force)
}
