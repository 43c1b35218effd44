//! The agent's HTTP endpoints: `/state` (also `/slave(1)/state`), `/health`, `/flags`, `/version`,
//! `/metrics/snapshot`, `/metrics`, `/monitor/statistics` and the sandbox file browser `/files/*`.

use crate::runtime::{Agent, TaskRecord};
use common::http::{json_reply, respond, text_reply, Request};
use common::mesos::{TaskState, VERSION};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// Largest file chunk `/files/read` returns (upstream: 16 pages).
const MAX_READ: u64 = 64 * 1024;

/// Everything handlers need.
pub struct Context {
    /// The agent.
    pub agent: Arc<Agent>,
    /// Effective flags for `/flags` and `/state`.
    pub flags: BTreeMap<String, String>,
    /// Prometheus registry.
    pub registry: prometheus::Registry,
}

/// The warp filter for every endpoint.
pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    common::http::requests(1024 * 1024).and_then(move |request: Request| {
        let ctx = ctx.clone();
        async move { Ok::<_, Infallible>(handle(&ctx, request).await) }
    })
}

async fn handle(ctx: &Context, request: Request) -> Response {
    let path = request.path.trim_end_matches('/');
    let path = path.strip_prefix("/slave(1)").or_else(|| path.strip_prefix("/slave%281%29")).unwrap_or(path);
    let jsonp = request.param("jsonp");
    match path {
        "/health" => respond(StatusCode::OK, "text/plain", ""),
        "/version" => json_reply(StatusCode::OK, &json!({"version": VERSION, "build_user": "mesos-rs", "build_date": "2026-11-25 00:00:00", "build_time": 1795564800.0}), jsonp),
        "/flags" => json_reply(StatusCode::OK, &json!({ "flags": ctx.flags }), jsonp),
        "/state" | "/state.json" => json_reply(StatusCode::OK, &state(ctx), jsonp),
        "/metrics/snapshot" => json_reply(StatusCode::OK, &snapshot(&ctx.agent), jsonp),
        "/metrics" => respond(StatusCode::OK, common::metrics::CONTENT_TYPE, common::metrics::render(&ctx.registry)),
        "/monitor/statistics" | "/monitor/statistics.json" => json_reply(StatusCode::OK, &statistics(&ctx.agent).await, jsonp),
        "/files/browse" => files_browse(ctx, &request),
        "/files/read" => files_read(ctx, &request),
        "/files/download" => files_download(ctx, &request),
        _ => text_reply(StatusCode::NOT_FOUND, ""),
    }
}

fn task_json(t: &TaskRecord, agent_id: &str) -> Value {
    let resources = common::resources::Resources::from_v1(&t.info.resources).unwrap_or_default();
    let mut out = json!({
        "id": t.info.task_id.value,
        "name": t.info.name,
        "framework_id": t.framework_id().value,
        "executor_id": t.info.task_id.value,
        "slave_id": agent_id,
        "state": t.state,
        "resources": resources.to_v0_json(),
        "statuses": t.statuses.iter().map(|(s, ts)| json!({"state": s, "timestamp": ts})).collect::<Vec<_>>(),
    });
    if let Some(c) = &t.info.container {
        out["container"] = json!(c);
    }
    out
}

/// `GET /state`: upstream's shape, with executors per framework whose `directory` is the sandbox.
fn state(ctx: &Context) -> Value {
    let agent = &ctx.agent;
    let state = agent.state.lock().expect("state lock");
    let agent_id = state.id.as_ref().map(|i| i.value.clone()).unwrap_or_default();
    let mut frameworks: BTreeMap<String, (Value, Vec<Value>, Vec<Value>)> = BTreeMap::new();
    for (records, completed) in [(state.tasks.values().collect::<Vec<_>>(), false), (state.completed.iter().collect(), true)] {
        for t in records {
            let fid = t.framework_id().value;
            let entry = frameworks.entry(fid.clone()).or_insert_with(|| {
                (
                    json!({"id": fid, "name": t.framework.name, "user": t.framework.user, "hostname": t.framework.hostname,
                           "failover_timeout": t.framework.failover_timeout.unwrap_or(0.0), "checkpoint": t.framework.checkpoint.unwrap_or(false),
                           "role": t.framework.effective_roles()[0]}),
                    Vec::new(),
                    Vec::new(),
                )
            });
            let executor = json!({
                "id": t.info.task_id.value,
                "name": format!("Command Executor (Task: {}) (Command: sh -c '{}')", t.info.task_id.value, t.info.command.as_ref().and_then(|c| c.value.clone()).unwrap_or_default()),
                "source": t.info.task_id.value,
                "container": t.container_id,
                "directory": t.sandbox.display().to_string(),
                "resources": common::resources::Resources::from_v1(&t.info.resources).unwrap_or_default().to_v0_json(),
                "tasks": if completed || t.state.is_terminal() { vec![] } else { vec![task_json(t, &agent_id)] },
                "queued_tasks": [],
                "completed_tasks": if completed || t.state.is_terminal() { vec![task_json(t, &agent_id)] } else { vec![] },
                "type": "COMMAND",
            });
            if completed {
                entry.2.push(executor);
            } else {
                entry.1.push(executor);
            }
        }
    }
    let frameworks: Vec<Value> = frameworks
        .into_values()
        .map(|(mut f, executors, completed_executors)| {
            f["executors"] = json!(executors);
            f["completed_executors"] = json!(completed_executors);
            f
        })
        .collect();
    let resources = common::resources::Resources::from_v1(&agent.info.resources).unwrap_or_default();
    json!({
        "version": VERSION,
        "build_date": "2026-11-25 00:00:00",
        "build_time": 1795564800.0,
        "build_user": "mesos-rs",
        "start_time": agent.start_time,
        "id": agent_id,
        "pid": format!("slave(1)@{}:{}", agent.info.ip, agent.info.port),
        "hostname": agent.info.hostname,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
        "resources": resources.to_v0_json(),
        "reserved_resources": {},
        "unreserved_resources": resources.to_v0_json(),
        "reserved_resources_full": {},
        "unreserved_resources_full": agent.info.resources,
        "reserved_resources_allocated": {},
        "unreserved_resources_allocated": [],
        "resource_providers": [],
        "attributes": common::resources::attributes_to_v0(&agent.info.attributes),
        "master_hostname": state.master.as_ref().and_then(|m| m.hostname.clone()),
        "log_dir": agent.config.log_dir,
        "flags": ctx.flags,
        "frameworks": frameworks,
        "completed_frameworks": [],
    })
}

fn snapshot(agent: &Agent) -> Value {
    let state = agent.state.lock().expect("state lock");
    let mut out = Map::new();
    out.insert("slave/registered".into(), json!(if state.master.is_some() { 1.0 } else { 0.0 }));
    let uptime = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0) - agent.start_time;
    out.insert("slave/uptime_secs".into(), json!(uptime));
    for s in TaskState::ALL {
        let n = state.tasks.values().chain(state.completed.iter()).filter(|t| t.state == s).count();
        out.insert(format!("slave/tasks_{}", s.short_name()), json!(n as f64));
    }
    let running = state.tasks.values().filter(|t| !t.state.is_terminal()).count();
    out.insert("slave/executors_running".into(), json!(running as f64));
    let total = common::resources::Resources::from_v1(&agent.info.resources).unwrap_or_default();
    let mut used = common::resources::Resources::default();
    for t in state.tasks.values().filter(|t| !t.state.is_terminal()) {
        used.add(&common::resources::Resources::from_v1(&t.info.resources).unwrap_or_default());
    }
    for name in ["cpus", "mem", "disk", "gpus"] {
        let (t, u) = (total.scalar(name), used.scalar(name));
        out.insert(format!("slave/{name}_total"), json!(t));
        out.insert(format!("slave/{name}_used"), json!(u));
        out.insert(format!("slave/{name}_percent"), json!(if t > 0.0 { u / t } else { 0.0 }));
    }
    out.insert("slave/status_updates_pending".into(), json!(agent.updates.lock().expect("updates lock").pending_count() as f64));
    Value::Object(out)
}

async fn statistics(agent: &Agent) -> Value {
    let usage = agent.containers.usage().await;
    json!(usage
        .into_iter()
        .map(|u| json!({
            "executor_id": u.container.executor_id,
            "executor_name": format!("Command Executor (Task: {})", u.container.task_id),
            "framework_id": u.container.framework_id,
            "source": u.container.task_id,
            "statistics": u.statistics,
        }))
        .collect::<Vec<_>>())
}

/// Resolves a `/files` path: only files below the work dir (sandboxes) or the log dir may be read.
fn resolve(ctx: &Context, request: &Request) -> Result<PathBuf, Response> {
    let Some(path) = request.param("path") else {
        return Err(text_reply(StatusCode::BAD_REQUEST, "Expecting 'path=value' in query.\n"));
    };
    let real = std::fs::canonicalize(path).map_err(|_| text_reply(StatusCode::NOT_FOUND, ""))?;
    let mut roots = vec![PathBuf::from(&ctx.agent.config.work_dir)];
    if let Some(log_dir) = &ctx.agent.config.log_dir {
        roots.push(PathBuf::from(log_dir));
    }
    let allowed = roots.iter().filter_map(|r| std::fs::canonicalize(r).ok()).any(|root| real.starts_with(root));
    if !allowed {
        return Err(text_reply(StatusCode::FORBIDDEN, ""));
    }
    Ok(real)
}

fn files_browse(ctx: &Context, request: &Request) -> Response {
    let dir = match resolve(ctx, request) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Ok(entries) = std::fs::read_dir(&dir) else { return text_reply(StatusCode::NOT_FOUND, "") };
    let mut list = Vec::new();
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mtime = meta.modified().ok().and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        list.push(json!({
            "path": entry.path().display().to_string(),
            "nlink": meta.nlink(),
            "size": meta.len(),
            "mtime": mtime,
            "mode": mode_string(meta.is_dir(), meta.permissions().mode()),
            "uid": meta.uid().to_string(),
            "gid": meta.gid().to_string(),
        }));
    }
    json_reply(StatusCode::OK, &Value::Array(list), request.param("jsonp"))
}

fn mode_string(dir: bool, mode: u32) -> String {
    let mut s = String::from(if dir { "d" } else { "-" });
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

fn files_read(ctx: &Context, request: &Request) -> Response {
    let path = match resolve(ctx, request) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let parse = |name: &str| -> Result<Option<i64>, Response> {
        match request.param(name) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| text_reply(StatusCode::BAD_REQUEST, format!("Failed to parse {name}: {v}\n"))),
        }
    };
    let (offset, length) = match (parse("offset"), parse("length")) {
        (Ok(o), Ok(l)) => (o, l),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let Ok(mut file) = std::fs::File::open(&path) else { return text_reply(StatusCode::NOT_FOUND, "") };
    if path.is_dir() {
        return text_reply(StatusCode::BAD_REQUEST, "Cannot read a directory.\n");
    }
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let offset = match offset {
        None => 0,
        Some(-1) => return json_reply(StatusCode::OK, &json!({"offset": size, "data": ""}), request.param("jsonp")),
        Some(o) if o < 0 => return text_reply(StatusCode::BAD_REQUEST, "Negative offset provided.\n"),
        Some(o) => o as u64,
    };
    let length = match length {
        None | Some(-1) => MAX_READ,
        Some(l) if l < 0 => return text_reply(StatusCode::BAD_REQUEST, "Negative length provided.\n"),
        Some(l) => (l as u64).min(MAX_READ),
    };
    let mut data = Vec::new();
    if offset < size {
        let _ = file.seek(SeekFrom::Start(offset));
        let _ = file.take(length).read_to_end(&mut data);
    }
    json_reply(StatusCode::OK, &json!({"offset": offset, "data": String::from_utf8_lossy(&data)}), request.param("jsonp"))
}

fn files_download(ctx: &Context, request: &Request) -> Response {
    let path = match resolve(ctx, request) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match std::fs::read(Path::new(&path)) {
        Ok(bytes) => respond(StatusCode::OK, "application/octet-stream", bytes),
        Err(_) => text_reply(StatusCode::NOT_FOUND, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_render_like_ls() {
        assert_eq!(mode_string(true, 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(false, 0o640), "-rw-r-----");
    }
}
