//! The agent's HTTP endpoints: `/state` (also `/slave(1)/state`), `/health`, `/flags`, `/version`,
//! `/metrics/snapshot`, `/metrics`, `/monitor/statistics` and the sandbox file browser `/files/*` (browse, read,
//! download, debug).

use crate::records::TaskRecord;
use crate::runtime::Agent;
use common::http::{json_reply, respond, text_reply, Request, RequestError};
use common::mesos::{FrameworkInfo, TaskState, VERSION};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
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
}

/// The warp filter for every endpoint; each request is counted and timed per route.
pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    common::http::requests(1024 * 1024).and_then(move |request: Result<Request, RequestError>| {
        let ctx = ctx.clone();
        async move {
            let request = match request {
                Ok(request) => request,
                Err(e) => return Ok::<_, Infallible>(text_reply(e.status(), e.to_string())),
            };
            let (route, method, started) =
                (route_label(local_path(&request.path)), request.method.clone(), Instant::now());
            let response = handle(&ctx, request).await;
            ctx.agent.metrics.http.observe(route, &method, response.status(), started.elapsed());
            Ok::<_, Infallible>(response)
        }
    })
}

/// `/slave(1)/state/` → `/state`.
fn local_path(path: &str) -> &str {
    let path = path.trim_end_matches('/');
    path.strip_prefix("/slave(1)").or_else(|| path.strip_prefix("/slave%281%29")).unwrap_or(path)
}

/// A bounded label for metrics: known endpoints by name, everything else as `other`.
fn route_label(path: &str) -> &'static str {
    match path {
        "/health" => "/health",
        "/version" => "/version",
        "/flags" => "/flags",
        "/state" | "/state.json" => "/state",
        "/metrics" => "/metrics",
        "/metrics/snapshot" => "/metrics/snapshot",
        "/monitor/statistics" | "/monitor/statistics.json" => "/monitor/statistics",
        "/files/browse" => "/files/browse",
        "/files/read" => "/files/read",
        "/files/download" => "/files/download",
        "/files/debug" => "/files/debug",
        _ => "other",
    }
}

async fn handle(ctx: &Context, request: Request) -> Response {
    let path = local_path(&request.path);
    let jsonp = request.param("jsonp");
    match path {
        "/health" => respond(StatusCode::OK, "text/plain", ""),
        "/version" => json_reply(
            StatusCode::OK,
            &json!({"version": VERSION, "build_user": "mesos-rs", "build_date": "2026-11-25 00:00:00", "build_time": 1795564800.0}),
            jsonp,
        ),
        "/flags" => json_reply(StatusCode::OK, &json!({ "flags": ctx.flags }), jsonp),
        "/state" | "/state.json" => json_reply(StatusCode::OK, &state(ctx), jsonp),
        "/metrics/snapshot" => json_reply(StatusCode::OK, &snapshot(&ctx.agent), jsonp),
        "/metrics" => {
            ctx.agent.metrics.refresh(&ctx.agent);
            respond(StatusCode::OK, common::metrics::CONTENT_TYPE, ctx.agent.metrics.render())
        }
        "/monitor/statistics" | "/monitor/statistics.json" => {
            json_reply(StatusCode::OK, &statistics(&ctx.agent).await, jsonp)
        }
        "/files/browse" => files_browse(ctx, &request),
        "/files/read" => files_read(ctx, &request),
        "/files/download" => files_download(ctx, &request),
        "/files/debug" => files_debug(ctx, &request),
        _ => text_reply(StatusCode::NOT_FOUND, ""),
    }
}

/// A task in upstream's `/state` shape (`executor_id` is empty for command tasks, as on the master).
fn task_json(t: &TaskRecord, agent_id: &str) -> Value {
    let resources = common::resources::Resources::from_v1(&t.info.resources).unwrap_or_default();
    let statuses: Vec<Value> = t
        .statuses
        .iter()
        .map(|(s, ts)| json!({"state": s, "timestamp": ts, "container_status": {"container_id": {"value": t.container_id}}}))
        .collect();
    let mut out = json!({
        "id": t.info.task_id.value,
        "name": t.info.name,
        "framework_id": t.framework_id().value,
        "executor_id": "",
        "slave_id": agent_id,
        "state": t.state,
        "resources": resources.to_v0_json(),
        "statuses": statuses,
    });
    if let Some(role) = t.info.resources.iter().find_map(|r| r.allocation_info.as_ref().map(|a| a.role.clone())) {
        out["role"] = json!(role);
    }
    if let Some(user) = t.info.command.as_ref().and_then(|c| c.user.clone()) {
        out["user"] = json!(user);
    }
    if let Some(labels) = &t.info.labels {
        out["labels"] = json!(labels);
    }
    if let Some(discovery) = &t.info.discovery {
        out["discovery"] = discovery.clone();
    }
    if let Some(c) = &t.info.container {
        out["container"] = json!(c);
    }
    if let Some(health_check) = &t.info.health_check {
        out["health_check"] = health_check.clone();
    }
    out
}

/// The command executor of a task (upstream runs one per command task, with the task's id).
fn executor_json(t: &TaskRecord, agent_id: &str) -> Value {
    let command = t
        .info
        .command
        .as_ref()
        .map(|c| {
            if c.shell {
                format!("sh -c '{}'", c.value.clone().unwrap_or_default())
            } else {
                format!("[{}]", c.arguments.join(", "))
            }
        })
        .unwrap_or_default();
    let ended = t.state.is_terminal();
    json!({
        "id": t.info.task_id.value,
        "name": format!("Command Executor (Task: {}) (Command: {command})", t.info.task_id.value),
        "source": t.info.task_id.value,
        "container": t.container_id,
        "directory": t.sandbox.display().to_string(),
        "resources": common::resources::Resources::from_v1(&t.info.resources).unwrap_or_default().to_v0_json(),
        "type": "COMMAND",
        "tasks": if ended { vec![] } else { vec![task_json(t, agent_id)] },
        "queued_tasks": [],
        "completed_tasks": if ended { vec![task_json(t, agent_id)] } else { vec![] },
    })
}

/// A framework in upstream's `/state` shape, with its executors.
fn framework_json(info: &FrameworkInfo, executors: Vec<Value>, completed_executors: Vec<Value>) -> Value {
    let mut out = json!({
        "id": info.id.as_ref().map(|i| i.value.clone()).unwrap_or_default(),
        "name": info.name,
        "user": info.user,
        "failover_timeout": info.failover_timeout.unwrap_or(0.0),
        "checkpoint": info.checkpoint.unwrap_or(false),
        "hostname": info.hostname.clone().unwrap_or_default(),
        "executors": executors,
        "completed_executors": completed_executors,
    });
    if let Some(principal) = &info.principal {
        out["principal"] = json!(principal);
    }
    if info.has_capability("MULTI_ROLE") {
        out["roles"] = json!(info.effective_roles());
    } else {
        out["role"] = json!(info.effective_roles()[0]);
    }
    out
}

/// `GET /state`: upstream's shape. Frameworks with active tasks are `frameworks`, those with only completed
/// ones `completed_frameworks`; each executor's `directory` is its sandbox (the web UI browses it).
fn state(ctx: &Context) -> Value {
    let agent = &ctx.agent;
    let state = agent.state.lock().expect("state lock");
    let agent_id = state.id.as_ref().map(|i| i.value.clone()).unwrap_or_default();
    // Per framework: its latest info, active executors, completed executors.
    let mut frameworks: BTreeMap<String, (FrameworkInfo, Vec<Value>, Vec<Value>)> = BTreeMap::new();
    let mut allocated = common::resources::Resources::default();
    for t in state.tasks.values() {
        let entry =
            frameworks.entry(t.framework_id().value).or_insert_with(|| (t.framework.clone(), Vec::new(), Vec::new()));
        entry.0 = t.framework.clone();
        entry.1.push(executor_json(t, &agent_id));
        if !t.state.is_terminal() {
            allocated.add(&common::resources::Resources::from_v1(&t.info.resources).unwrap_or_default());
        }
    }
    for t in &state.completed {
        let entry =
            frameworks.entry(t.framework_id().value).or_insert_with(|| (t.framework.clone(), Vec::new(), Vec::new()));
        entry.2.push(executor_json(t, &agent_id));
    }
    let (mut active, mut completed) = (Vec::new(), Vec::new());
    for (info, executors, completed_executors) in frameworks.into_values() {
        let is_active = !executors.is_empty();
        let framework = framework_json(&info, executors, completed_executors);
        if is_active {
            active.push(framework);
        } else {
            completed.push(framework);
        }
    }
    let resources = common::resources::Resources::from_v1(&agent.info.resources).unwrap_or_default();
    let mut out = json!({
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
        "unreserved_resources_allocated": allocated.to_v0_json(),
        "resource_providers": [],
        "attributes": common::resources::attributes_to_v0(&agent.info.attributes),
        "flags": ctx.flags,
        "frameworks": active,
        "completed_frameworks": completed,
    });
    if let Some(hostname) = state.master.as_ref().and_then(|m| m.hostname.clone()) {
        out["master_hostname"] = json!(hostname);
    }
    if let Some(log_dir) = &agent.config.log_dir {
        out["log_dir"] = json!(log_dir);
    }
    out
}

fn snapshot(agent: &Agent) -> Value {
    let state = agent.state.lock().expect("state lock");
    let mut out = Map::new();
    out.insert("slave/registered".into(), json!(if state.master.is_some() { 1.0 } else { 0.0 }));
    let uptime =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
            - agent.start_time;
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
    out.insert(
        "slave/status_updates_pending".into(),
        json!(agent.updates.lock().expect("updates lock").pending_count() as f64),
    );
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

/// Resolves a `/files` path to a real one. Served are the sandboxes below `<work_dir>/slaves` (by real path,
/// links such as `runs/latest` resolved), upstream's virtual `/frameworks/<fid>/executors/<eid>/runs/<run>/...`
/// for this agent's sandboxes, and the log directory; anything else is 404, as upstream answers for paths
/// that are not attached.
fn resolve(ctx: &Context, request: &Request) -> Result<PathBuf, (StatusCode, &'static str)> {
    let Some(path) = request.param("path") else {
        return Err((StatusCode::BAD_REQUEST, "Expecting 'path=value' in query.\n"));
    };
    let work_dir = PathBuf::from(&ctx.agent.config.work_dir);
    let candidate = match path.strip_prefix("/frameworks/") {
        Some(rest) => {
            let agent_id = ctx.agent.state.lock().expect("state lock").id.clone();
            let Some(agent_id) = agent_id else { return Err((StatusCode::NOT_FOUND, "")) };
            work_dir.join("slaves").join(&agent_id.value).join("frameworks").join(rest)
        }
        None => PathBuf::from(path),
    };
    let real = std::fs::canonicalize(&candidate).map_err(|_| (StatusCode::NOT_FOUND, ""))?;
    let mut roots = vec![work_dir.join("slaves")];
    if let Some(log_dir) = &ctx.agent.config.log_dir {
        roots.push(PathBuf::from(log_dir));
    }
    let allowed = roots.iter().filter_map(|r| std::fs::canonicalize(r).ok()).any(|root| real.starts_with(root));
    if !allowed {
        return Err((StatusCode::NOT_FOUND, ""));
    }
    Ok(real)
}

/// `GET /files/debug`: the virtual paths of every known sandbox and their real directories.
fn files_debug(ctx: &Context, request: &Request) -> Response {
    let state = ctx.agent.state.lock().expect("state lock");
    let mut out = Map::new();
    if let Some(agent_id) = &state.id {
        for t in state.tasks.values().chain(state.completed.iter()) {
            let real = t.sandbox.display().to_string();
            let executor = format!("frameworks/{}/executors/{}/runs", t.framework_id().value, t.info.task_id.value);
            out.insert(real.clone(), json!(real));
            out.insert(format!("/{executor}/latest"), json!(real));
            out.insert(
                format!(
                    "{}/slaves/{}/{executor}/latest",
                    ctx.agent.config.work_dir.trim_end_matches('/'),
                    agent_id.value
                ),
                json!(real),
            );
        }
    }
    json_reply(StatusCode::OK, &Value::Object(out), request.param("jsonp"))
}

/// One `/files/browse` entry.
fn file_entry(path: &Path, meta: &std::fs::Metadata) -> Value {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    json!({
        "path": path.display().to_string(),
        "nlink": meta.nlink(),
        "size": meta.len(),
        "mtime": mtime,
        "mode": mode_string(meta.is_dir(), meta.permissions().mode()),
        "uid": user_name(meta.uid()),
        "gid": group_name(meta.gid()),
    })
}

/// `GET /files/browse`: the entries of a directory (sorted by path), or the entry of a file.
fn files_browse(ctx: &Context, request: &Request) -> Response {
    let real = match resolve(ctx, request) {
        Ok(d) => d,
        Err((status, body)) => return text_reply(status, body),
    };
    // Entries are shown under the path as asked (a virtual or `latest` path stays as given).
    let shown = PathBuf::from(request.param("path").unwrap_or_default().trim_end_matches('/'));
    let Ok(meta) = std::fs::metadata(&real) else { return text_reply(StatusCode::NOT_FOUND, "") };
    if !meta.is_dir() {
        return json_reply(StatusCode::OK, &json!([file_entry(&shown, &meta)]), request.param("jsonp"));
    }
    let Ok(entries) = std::fs::read_dir(&real) else { return text_reply(StatusCode::NOT_FOUND, "") };
    let mut list: Vec<(PathBuf, Value)> = entries
        .flatten()
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            let path = shown.join(entry.file_name());
            Some((path.clone(), file_entry(&path, &meta)))
        })
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    json_reply(StatusCode::OK, &Value::Array(list.into_iter().map(|(_, v)| v).collect()), request.param("jsonp"))
}

/// The name of a user id from `/etc/passwd`, else the number.
fn user_name(uid: u32) -> String {
    id_name("/etc/passwd", uid)
}

/// The name of a group id from `/etc/group`, else the number.
fn group_name(gid: u32) -> String {
    id_name("/etc/group", gid)
}

fn id_name(file: &str, id: u32) -> String {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)?.parse::<u32>().ok()? == id).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| id.to_string())
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
        Err((status, body)) => return text_reply(status, body),
    };
    let parse = |name: &str| -> Result<Option<i64>, String> {
        match request.param(name) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| format!("Failed to parse {name}: {v}\n")),
        }
    };
    let (offset, length) = match (parse("offset"), parse("length")) {
        (Ok(o), Ok(l)) => (o, l),
        (Err(message), _) | (_, Err(message)) => return text_reply(StatusCode::BAD_REQUEST, message),
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
    json_reply(
        StatusCode::OK,
        &json!({"offset": offset, "data": String::from_utf8_lossy(&data)}),
        request.param("jsonp"),
    )
}

fn files_download(ctx: &Context, request: &Request) -> Response {
    let path = match resolve(ctx, request) {
        Ok(p) => p,
        Err((status, body)) => return text_reply(status, body),
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
