//! The smaller endpoints: `/ping`, `/metrics`, `/v2/info`, `/v2/leader`, `/v2/deployments`, `/v2/groups`,
//! `/v2/queue`.

use super::{error_response, flag, json_response, message, Node};
use crate::app::{app_json, PathId};
use crate::core::app_info;
use common::http::{respond, Request};
use serde_json::{json, Value};
use std::sync::Arc;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

/// `GET /ping`: `pong` as text, or JSON when the client prefers it.
pub fn ping(request: &Request) -> Response {
    let accept = request.header("accept").unwrap_or("*/*");
    if accept.contains("application/json") && !accept.contains("text/plain") {
        return json_response(200, &json!("pong"));
    }
    respond(StatusCode::OK, "text/plain", "pong")
}

/// `GET /metrics`: Dropwizard-style JSON (as Marathon 1.4).
pub fn metrics_json(node: &Node) -> Response {
    json_response(200, &node.metrics.dropwizard(&node.scheduler))
}

/// `GET /metrics/prometheus`.
pub fn metrics_prometheus(node: &Node) -> Response {
    node.metrics.refresh(&node.scheduler, node.is_leader());
    respond(StatusCode::OK, common::metrics::CONTENT_TYPE, node.metrics.render())
}

/// `GET /v2/info`.
pub fn info(node: &Node) -> Response {
    let c = &node.scheduler.config;
    let framework_id = node.scheduler.framework_id.lock().expect("lock").clone();
    let zk = common::zk::ZkUrl::parse(&c.zk).map(|u| u.to_string()).unwrap_or_default();
    json_response(
        200,
        &json!({
            "name": "marathon",
            "version": crate::VERSION,
            "buildref": env!("CARGO_PKG_VERSION"),
            "elected": node.is_leader(),
            "leader": node.leader(),
            "frameworkId": framework_id,
            "marathon_config": {
                "access_control_allow_origin": null,
                "checkpoint": c.checkpoint,
                "decline_offer_duration": c.decline_offer_duration,
                "default_network_name": null,
                "env_vars_prefix": c.env_vars_prefix,
                "executor": "//cmd",
                "failover_timeout": c.failover_timeout,
                "features": [],
                "framework_name": c.framework_name,
                "ha": c.ha,
                "hostname": node.address.split(':').next(),
                "launch_token": 100,
                "launch_token_refresh_interval": 30000,
                "leader_proxy_connection_timeout_ms": c.leader_proxy_connection_timeout,
                "leader_proxy_read_timeout_ms": c.leader_proxy_read_timeout,
                "local_port_max": c.local_port_max,
                "local_port_min": c.local_port_min,
                "master": c.master.as_ref().map(|m| match m {
                    common::config::MasterAddress::Zk(url) => url.to_string(),
                    common::config::MasterAddress::Fixed { host, port } => format!("{host}:{port}"),
                }),
                "max_instances_per_offer": c.max_instances_per_offer,
                "mesos_heartbeat_failure_threshold": 5,
                "mesos_heartbeat_interval": 15000,
                "mesos_leader_ui_url": node.scheduler.driver.master_url().map(|u| format!("{u}/")),
                "mesos_role": c.mesos_role,
                "mesos_user": c.mesos_user,
                "min_revive_offers_interval": c.min_revive_offers_interval,
                "offer_matching_timeout": 1000,
                "on_elected_prepare_timeout": 180000,
                "reconciliation_initial_delay": c.reconciliation_initial_delay,
                "reconciliation_interval": c.reconciliation_interval,
                "revive_offers_for_new_apps": true,
                "revive_offers_repetitions": 3,
                "scale_apps_initial_delay": c.scale_apps_initial_delay,
                "scale_apps_interval": c.scale_apps_interval,
                "store_cache": true,
                "task_launch_confirm_timeout": 300000,
                "task_launch_timeout": c.task_launch_timeout,
                "task_lost_expunge_initial_delay": 300000,
                "task_lost_expunge_interval": 30000,
                "task_reservation_timeout": 20000,
                "webui_url": c.webui_url,
            },
            "zookeeper_config": {
                "zk": zk,
                "zk_compression": false,
                "zk_compression_threshold": 65536,
                "zk_connection_timeout": c.zk_session_timeout,
                "zk_max_node_size": 1024000,
                "zk_max_versions": c.zk_max_versions,
                "zk_session_timeout": c.zk_session_timeout,
                "zk_timeout": c.zk_timeout,
            },
            "event_subscriber": null,
            "http_config": {"http_port": c.http_port, "https_port": 8443},
        }),
    )
}

/// `GET /v2/leader`.
pub fn leader(node: &Node) -> Response {
    match node.leader() {
        Some(leader) => json_response(200, &json!({ "leader": leader })),
        None => message(404, "There is no leader"),
    }
}

/// `DELETE /v2/leader`: answer, then leave; the supervisor restarts this instance as a standby.
pub fn abdicate() -> Response {
    tokio::spawn(async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        tracing::warn!("leadership abdicated; exiting");
        std::process::exit(0);
    });
    json_response(200, &json!({"message": "Leadership abdicated"}))
}

/// `GET /v2/deployments`: a bare array.
pub fn deployments(node: &Node) -> Response {
    let core = node.scheduler.core.lock().expect("core lock");
    let list: Vec<Value> = core.deployments.values().map(|d| d.json()).collect();
    json_response(200, &Value::Array(list))
}

/// `DELETE /v2/deployments/{id}`: roll back, or with `force=true` just stop tracking it (202).
pub async fn cancel_deployment(node: &Arc<Node>, request: &Request, id: &str) -> Response {
    let force = flag(request, "force", false);
    let result = node.scheduler.core.lock().expect("core lock").cancel_deployment(id, force);
    match result {
        Err(e) => error_response(&e),
        Ok(rollback) => {
            if let Err(e) = node.scheduler.commit().await {
                return message(503, &format!("Could not persist the change: {e}"));
            }
            match rollback {
                None => respond(StatusCode::ACCEPTED, "application/json", ""),
                Some(result) => {
                    let mut response = json_response(200, &result.json());
                    if let Ok(v) = HeaderValue::from_str(&result.deployment_id) {
                        response.headers_mut().insert("Marathon-Deployment-Id", v);
                    }
                    response
                }
            }
        }
    }
}

/// `GET /v2/groups[/{id}]`: the group tree built from the apps' ids.
pub fn groups(node: &Node, _request: &Request, rest: &[&str]) -> Response {
    let group = PathId::parse(&format!("/{}", rest.join("/")));
    let core = node.scheduler.core.lock().expect("core lock");
    let apps: Vec<&crate::app::AppDefinition> = core.apps.values().filter(|a| a.id.is_under(&group)).collect();
    if apps.is_empty() && !group.is_root() {
        return message(404, &format!("Group '{group}' does not exist"));
    }
    let version = apps.iter().map(|a| a.version).max().unwrap_or_else(crate::core::now);
    json_response(200, &group_json(&core, &group, &apps, &version.to_string()))
}

fn group_json(core: &crate::core::Core, group: &PathId, apps: &[&crate::app::AppDefinition], version: &str) -> Value {
    let direct: Vec<Value> =
        apps.iter().filter(|a| a.id.parent() == *group).map(|a| app_info(core, a, false, false)).collect();
    let mut children: Vec<PathId> = apps
        .iter()
        .map(|a| a.id.parent())
        .filter(|p| *p != *group && p.is_under(group))
        .map(|p| {
            let depth = group.segments().len() + 1;
            PathId::from_segments(p.segments()[..depth].to_vec())
        })
        .collect();
    children.sort();
    children.dedup();
    let groups: Vec<Value> = children
        .iter()
        .map(|child| {
            let sub: Vec<&crate::app::AppDefinition> = apps.iter().copied().filter(|a| a.id.is_under(child)).collect();
            group_json(core, child, &sub, version)
        })
        .collect();
    json!({"id": group.to_string(), "apps": direct, "groups": groups, "pods": [], "dependencies": [], "version": version})
}

/// `GET /v2/queue`: apps waiting for instances, with their launch delay.
pub fn queue(node: &Node) -> Response {
    let core = node.scheduler.core.lock().expect("core lock");
    let now_ms = chrono::Utc::now().timestamp_millis();
    let items: Vec<Value> = core
        .apps
        .values()
        .filter_map(|app| {
            let count = core.queue_count(&app.id);
            let delay = core.delays.get(&app.id);
            if count == 0 && delay.is_none() {
                return None;
            }
            let left = delay.map(|d| ((d.until_ms - now_ms).max(0) as f64) / 1000.0).unwrap_or(0.0);
            Some(json!({
                "app": app_json(app, false),
                "count": count,
                "delay": {"timeLeftSeconds": left.ceil() as i64, "overdue": left <= 0.0},
                "since": app.version.to_string(),
                "processedOffersSummary": core.offer_stats.get(&app.id).cloned().unwrap_or_default().json(),
            }))
        })
        .collect();
    json_response(200, &json!({ "queue": items }))
}

/// `DELETE /v2/queue/{id}/delay`.
pub fn reset_delay(node: &Node, id: &[&str]) -> Response {
    let id = PathId::parse(&format!("/{}", id.join("/")));
    match node.scheduler.core.lock().expect("core lock").reset_delay(&id) {
        Ok(()) => {
            node.scheduler.wake.notify_one();
            respond(StatusCode::NO_CONTENT, "application/json", "")
        }
        Err(e) => error_response(&e),
    }
}
