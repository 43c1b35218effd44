//! Operator endpoints: `/state`, `/state-summary`, `/slaves`, `/frameworks`, `/tasks`, `/roles`, `/version`,
//! `/metrics/snapshot` and the v1 operator API, in upstream's JSON shapes.

use super::{Context, Request};
use crate::state::{Agent, Framework, Master, OfferRecord, Task};
use common::http::{json_reply, text_reply};
use common::mesos::{TaskState, VERSION};
use common::resources::{ReservationFormat, Resources};
use serde_json::{json, Map, Value};
use warp::http::{Method, StatusCode};
use warp::reply::Response;

/// Build facts reported by `/version` and `/state`.
pub fn version() -> Value {
    json!({
        "version": VERSION,
        "build_date": "2026-11-25 00:00:00",
        "build_time": 1795564800.0,
        "build_user": "mesos-rs",
        "git_sha": env!("CARGO_PKG_VERSION"),
    })
}

/// Routes a leader-only operator endpoint.
pub fn handle(ctx: &Context, request: &Request, jsonp: Option<&str>) -> Response {
    if request.path.starts_with("/api/v1") {
        return operator_api(ctx, request);
    }
    let master = ctx.master.lock().expect("master lock");
    let body = match request.path.as_str() {
        "/state" | "/state.json" => state(&master, ctx),
        "/state-summary" => state_summary(&master),
        "/slaves" => json!({
            "slaves": master.agents.values().filter(|a| request.param("slave_id").is_none_or(|id| a.id.value == id)).map(agent_json).collect::<Vec<_>>(),
            "recovered_slaves": recovered_agents(&master),
        }),
        "/frameworks" => json!({
            "frameworks": master.frameworks.values().filter(|f| request.param("framework_id").is_none_or(|id| f.id.value == id)).map(|f| framework_json(&master, f, true)).collect::<Vec<_>>(),
            "completed_frameworks": master.completed_frameworks.iter().map(|f| framework_json(&master, f, false)).collect::<Vec<_>>(),
            "unregistered_frameworks": [],
        }),
        "/tasks" | "/tasks.json" => tasks(&master, request),
        "/roles" | "/roles.json" => roles(&master),
        "/maintenance/schedule" => json!({}),
        _ => return text_reply(StatusCode::NOT_FOUND, ""),
    };
    json_reply(StatusCode::OK, &body, jsonp)
}

/// `GET /master/state`.
pub fn state(master: &Master, ctx: &Context) -> Value {
    let mut out = version();
    let leader = ctx.leadership.borrow().leader();
    let o = out.as_object_mut().expect("object");
    o.insert("start_time".into(), json!(master.start_time));
    if let Some(t) = master.elected_time {
        o.insert("elected_time".into(), json!(t));
    }
    o.insert("id".into(), json!(master.info.id));
    o.insert("pid".into(), json!(master.info.pid));
    o.insert("hostname".into(), json!(master.info.hostname));
    o.insert("capabilities".into(), json!(master.info.capabilities.iter().map(|c| &c.kind).collect::<Vec<_>>()));
    o.insert("activated_slaves".into(), json!(master.agents.values().filter(|a| a.link.is_some()).count()));
    // As upstream: admitted agents that are not active (here: whose link is down).
    o.insert("deactivated_slaves".into(), json!(master.agents.values().filter(|a| a.link.is_none()).count()));
    o.insert("unreachable_slaves".into(), json!(master.unreachable_agents.len()));
    if let Some(leader) = leader {
        o.insert("leader".into(), json!(leader.pid));
        o.insert(
            "leader_info".into(),
            json!({"id": leader.id, "pid": leader.pid, "port": leader.port, "hostname": leader.hostname, "ip": leader.ip, "address": leader.address}),
        );
    }
    if let Some(cluster) = &master.cluster {
        o.insert("cluster".into(), json!(cluster));
    }
    if let Some(dir) = &ctx.config.log_dir {
        o.insert("log_dir".into(), json!(dir));
    }
    o.insert("flags".into(), json!(*ctx.flags));
    // Built as `Value::Array`s, not through `json!`, which would deep-copy every task's JSON once more.
    o.insert("slaves".into(), Value::Array(master.agents.values().map(agent_json).collect()));
    o.insert("recovered_slaves".into(), recovered_agents(master));
    o.insert(
        "frameworks".into(),
        Value::Array(master.frameworks.values().map(|f| framework_json(master, f, true)).collect()),
    );
    o.insert(
        "completed_frameworks".into(),
        Value::Array(master.completed_frameworks.iter().map(|f| framework_json(master, f, false)).collect()),
    );
    o.insert("orphan_tasks".into(), json!([]));
    o.insert("unregistered_frameworks".into(), json!([]));
    out
}

fn agent_json(agent: &Agent) -> Value {
    json!({
        "id": agent.id.value,
        "pid": agent.pid(),
        "hostname": agent.info.hostname,
        "port": agent.info.port,
        "registered_time": agent.registered_time,
        "reregistered_time": agent.reregistered_time,
        "resources": agent.total.to_v0_json(),
        "used_resources": agent.used.to_v0_json(),
        "offered_resources": agent.offered.to_v0_json(),
        "reserved_resources": {},
        "unreserved_resources": agent.total.to_v0_json(),
        "attributes": common::resources::attributes_to_v0(&agent.info.attributes),
        "active": agent.link.is_some(),
        "deactivated": false,
        "version": agent.info.version,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
        "resources_full": agent.total.to_v1(ReservationFormat::PreRefinement),
        "used_resources_full": agent.used.to_v1(ReservationFormat::PreRefinement),
        "offered_resources_full": agent.offered.to_v1(ReservationFormat::PreRefinement),
    })
}

/// Agents from the recovered registry that have not re-registered yet (upstream: their AgentInfo).
fn recovered_agents(master: &Master) -> Value {
    json!(master
        .recovered_agents
        .iter()
        .map(|(id, info)| json!({
            "id": id.value,
            "hostname": info.hostname,
            "port": info.port,
            "resources": Resources::from_v1(&info.resources).unwrap_or_default().to_v0_json(),
            "attributes": common::resources::attributes_to_v0(&info.attributes),
        }))
        .collect::<Vec<_>>())
}

fn framework_json(master: &Master, framework: &Framework, with_tasks: bool) -> Value {
    let used = framework.used();
    let info = &framework.info;
    let offers: Vec<&OfferRecord> = framework.offers.iter().filter_map(|id| master.offers.get(id)).collect();
    let mut offered = Resources::default();
    for offer in &offers {
        offered.add(&offer.resources);
    }
    let mut resources = used.clone();
    resources.add(&offered);
    let mut out = json!({
        "id": framework.id.value,
        "name": info.name,
        "user": info.user,
        "hostname": info.hostname.clone().unwrap_or_default(),
        "webui_url": info.webui_url.clone().unwrap_or_default(),
        "failover_timeout": info.failover_timeout.unwrap_or(0.0),
        "checkpoint": info.checkpoint.unwrap_or(false),
        "capabilities": info.capabilities.iter().map(|c| &c.kind).collect::<Vec<_>>(),
        "active": framework.active,
        "connected": framework.stream.is_some(),
        "recovered": framework.recovered,
        "registered_time": framework.registered_time,
        "unregistered_time": framework.unregistered_time.unwrap_or(0.0),
        "used_resources": used.to_v0_json(),
        "offered_resources": offered.to_v0_json(),
        "resources": resources.to_v0_json(),
        "offers": offers.iter().map(|o| json!({
            "id": o.offer.id.value,
            "framework_id": o.offer.framework_id.value,
            "slave_id": o.offer.agent_id.value,
            "allocation_info": {"role": o.role},
            "resources": o.resources.to_v0_json(),
        })).collect::<Vec<_>>(),
        "executors": [],
        "offer_constraints": {},
    });
    let o = out.as_object_mut().expect("object");
    // Moved in, not `json!`-copied: these are most of a large `/master/state`.
    let tasks = if with_tasks { framework.tasks.values().map(task_json).collect() } else { Vec::new() };
    o.insert("tasks".into(), Value::Array(tasks));
    o.insert("unreachable_tasks".into(), Value::Array(framework.unreachable_tasks.values().map(task_json).collect()));
    o.insert("completed_tasks".into(), Value::Array(framework.completed_tasks.iter().map(task_json).collect()));
    if let Some(t) = framework.reregistered_time {
        o.insert("reregistered_time".into(), json!(t));
    }
    if let Some(p) = &info.principal {
        o.insert("principal".into(), json!(p));
    }
    if info.has_capability("MULTI_ROLE") {
        o.insert("roles".into(), json!(info.effective_roles()));
    } else {
        o.insert("role".into(), json!(info.effective_roles()[0]));
    }
    out
}

/// A task in `/state`'s shape.
pub fn task_json(task: &Task) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(task.info.task_id.value));
    out.insert("name".into(), json!(task.info.name));
    out.insert("framework_id".into(), json!(task.framework_id.value));
    out.insert("executor_id".into(), json!(""));
    out.insert("slave_id".into(), json!(task.info.agent_id.value));
    out.insert("state".into(), json!(task.state));
    out.insert("resources".into(), task.resources.to_v0_json());
    out.insert("role".into(), json!(task.role));
    out.insert(
        "statuses".into(),
        json!(task
            .statuses
            .iter()
            .map(|s| {
                let mut status = json!({"state": s.state, "timestamp": s.timestamp});
                if let Some(cs) = &s.container_status {
                    status["container_status"] = json!(cs);
                }
                if let Some(h) = s.healthy {
                    status["healthy"] = json!(h);
                }
                status
            })
            .collect::<Vec<_>>()),
    );
    if let Some(container) = &task.info.container {
        out.insert("container".into(), json!(container));
    }
    if let Some(labels) = &task.info.labels {
        out.insert("labels".into(), json!(labels.labels));
    }
    if let Some(hc) = &task.info.health_check {
        out.insert("health_check".into(), hc.clone());
    }
    Value::Object(out)
}

fn state_summary(master: &Master) -> Value {
    let slaves: Vec<Value> = master
        .agents
        .values()
        .map(|a| {
            let mut v = agent_json(a);
            let counts = count_states(a.tasks.iter().filter_map(|(f, t)| master.frameworks.get(f)?.tasks.get(t)));
            let o = v.as_object_mut().expect("object");
            o.extend(counts);
            let mut fids: Vec<&str> = a.tasks.iter().map(|(f, _)| f.value.as_str()).collect();
            fids.dedup();
            o.insert("framework_ids".into(), json!(fids));
            v
        })
        .collect();
    let frameworks: Vec<Value> = master
        .frameworks
        .values()
        .map(|f| {
            let mut v = framework_json(master, f, false);
            let o = v.as_object_mut().expect("object");
            o.remove("completed_tasks");
            o.remove("tasks");
            o.extend(count_states(f.tasks.values()));
            let mut sids: Vec<&str> = f.tasks.values().map(|t| t.info.agent_id.value.as_str()).collect();
            sids.sort();
            sids.dedup();
            o.insert("slave_ids".into(), json!(sids));
            v
        })
        .collect();
    json!({"hostname": master.info.hostname, "cluster": master.cluster, "slaves": slaves, "frameworks": frameworks})
}

fn count_states<'a>(tasks: impl Iterator<Item = &'a Task>) -> Map<String, Value> {
    let mut counts: Map<String, Value> = TaskState::ALL.iter().map(|s| (format!("{s:?}"), json!(0))).collect();
    for task in tasks {
        let key = format!("{:?}", task.state);
        let n = counts.get(&key).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(key, json!(n + 1));
    }
    counts
}

fn tasks(master: &Master, request: &Request) -> Value {
    let limit: usize = request.param("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    let offset: usize = request.param("offset").and_then(|l| l.parse().ok()).unwrap_or(0);
    let ascending = request.param("order") == Some("asc");
    let mut all: Vec<&Task> = master
        .frameworks
        .values()
        .filter(|f| request.param("framework_id").is_none_or(|id| f.id.value == id))
        .flat_map(|f| f.tasks.values().chain(f.unreachable_tasks.values()).chain(f.completed_tasks.iter()))
        .filter(|t| request.param("task_id").is_none_or(|id| t.info.task_id.value == id))
        .collect();
    let key = |t: &&Task| t.statuses.last().map(|s| s.timestamp).unwrap_or(0.0);
    all.sort_by(|a, b| key(a).total_cmp(&key(b)));
    if !ascending {
        all.reverse();
    }
    json!({"tasks": all.into_iter().skip(offset).take(limit).map(task_json).collect::<Vec<_>>()})
}

fn roles(master: &Master) -> Value {
    let mut by_role: std::collections::BTreeMap<String, (Resources, Vec<String>)> = Default::default();
    for framework in master.frameworks.values() {
        for role in framework.info.effective_roles() {
            let entry = by_role.entry(role.clone()).or_default();
            for task in framework.tasks.values().filter(|t| t.role == role) {
                entry.0.add(&task.resources);
            }
            entry.1.push(framework.id.value.clone());
        }
    }
    let roles: Vec<Value> = by_role
        .into_iter()
        .map(|(name, (allocated, frameworks))| {
            json!({
                "name": name,
                "weight": master.allocator.weights.get(&name).copied().unwrap_or(1.0),
                "resources": allocated.to_v0_json(),
                "allocated": allocated.to_v0_json(),
                "offered": Resources::default().to_v0_json(),
                "reserved": Resources::default().to_v0_json(),
                "quota": {"role": name, "guarantee": {}, "limit": {}, "consumed": {}},
                "frameworks": frameworks,
            })
        })
        .collect();
    json!({ "roles": roles })
}

/// `GET /metrics/snapshot`: flat upstream keys.
pub fn metrics_snapshot(ctx: &Context) -> Value {
    let leading = ctx.leadership.borrow().is_leading();
    let master = ctx.master.lock().expect("master lock");
    let mut out = Map::new();
    let put = |out: &mut Map<String, Value>, k: &str, v: f64| {
        out.insert(k.to_string(), json!(v));
    };
    put(&mut out, "master/elected", if leading { 1.0 } else { 0.0 });
    put(&mut out, "master/uptime_secs", crate::state::now_secs() - master.start_time);
    let mut counts = std::collections::HashMap::new();
    for task in master
        .frameworks
        .values()
        .flat_map(|f| f.tasks.values().chain(f.unreachable_tasks.values()).chain(f.completed_tasks.iter()))
    {
        *counts.entry(task.state).or_insert(0.0) += 1.0;
    }
    for state in TaskState::ALL {
        put(&mut out, &format!("master/tasks_{}", state.short_name()), counts.get(&state).copied().unwrap_or(0.0));
    }
    let active = master.agents.values().filter(|a| a.link.is_some()).count() as f64;
    let total = master.agents.len() as f64;
    put(&mut out, "master/slaves_active", active);
    put(&mut out, "master/slaves_inactive", total - active);
    put(&mut out, "master/slaves_connected", active);
    put(&mut out, "master/slaves_disconnected", total - active);
    put(&mut out, "master/slaves_unreachable", master.unreachable_agents.len() as f64);
    let fw_connected = master.frameworks.values().filter(|f| f.stream.is_some()).count() as f64;
    let fw_active = master.frameworks.values().filter(|f| f.active).count() as f64;
    put(&mut out, "master/frameworks_active", fw_active);
    put(&mut out, "master/frameworks_inactive", master.frameworks.len() as f64 - fw_active);
    put(&mut out, "master/frameworks_connected", fw_connected);
    put(&mut out, "master/frameworks_disconnected", master.frameworks.len() as f64 - fw_connected);
    put(&mut out, "master/outstanding_offers", master.offers.len() as f64);
    let mut total_res = Resources::default();
    let mut used_res = Resources::default();
    for agent in master.agents.values() {
        total_res.add(&agent.total);
        used_res.add(&agent.used);
    }
    for name in ["cpus", "gpus", "mem", "disk"] {
        let t = total_res.scalar(name);
        let u = used_res.scalar(name);
        put(&mut out, &format!("master/{name}_total"), t);
        put(&mut out, &format!("master/{name}_used"), u);
        put(&mut out, &format!("master/{name}_percent"), if t > 0.0 { u / t } else { 0.0 });
    }
    put(&mut out, "system/cpus_total", std::thread::available_parallelism().map(|n| n.get() as f64).unwrap_or(1.0));
    Value::Object(out)
}

/// `POST /api/v1`: the v1 operator API (JSON).
fn operator_api(ctx: &Context, request: &Request) -> Response {
    if request.method != Method::POST {
        return text_reply(StatusCode::METHOD_NOT_ALLOWED, "Expecting a 'POST' request");
    }
    match request.header("content-type") {
        None => return text_reply(StatusCode::BAD_REQUEST, "Expecting 'Content-Type' to be present"),
        Some("application/json") => {}
        Some(other) => {
            return text_reply(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Expecting 'Content-Type' of application/json; got '{other}'"),
            )
        }
    }
    if let Some(accept) = request.header("accept") {
        if !accept.contains("application/json") && !accept.contains("*/*") {
            return text_reply(StatusCode::NOT_ACCEPTABLE, "Expecting 'Accept' to allow application/json");
        }
    }
    if let Err(e) = common::http::check_json_bounds(&request.body) {
        return text_reply(StatusCode::BAD_REQUEST, format!("Failed to parse body into JSON: {e}"));
    }
    let call: Value = match serde_json::from_slice(&request.body) {
        Ok(v) => v,
        Err(e) => return text_reply(StatusCode::BAD_REQUEST, format!("Failed to parse body into JSON: {e}")),
    };
    let Some(kind) = call.get("type").and_then(Value::as_str) else {
        return text_reply(StatusCode::BAD_REQUEST, "Failed to validate master::Call: Expecting 'type' to be present");
    };
    let payload = match kind {
        "GET_HEALTH" => json!({"healthy": true}),
        "GET_FLAGS" => {
            json!({"flags": ctx.flags.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>()})
        }
        "GET_VERSION" => json!({"version_info": version()}),
        "GET_METRICS" => {
            json!({"metrics": metrics_snapshot(ctx).as_object().map(|m| m.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>()).unwrap_or_default()})
        }
        "GET_MASTER" => {
            let master = ctx.master.lock().expect("master lock");
            json!({"master_info": master.info, "start_time": master.start_time, "elected_time": master.elected_time})
        }
        "GET_AGENTS" | "GET_FRAMEWORKS" | "GET_TASKS" | "GET_STATE" => {
            let master = ctx.master.lock().expect("master lock");
            match kind {
                "GET_AGENTS" => get_agents(&master),
                "GET_FRAMEWORKS" => get_frameworks(&master),
                "GET_TASKS" => get_tasks(&master),
                _ => {
                    json!({"get_agents": get_agents(&master), "get_frameworks": get_frameworks(&master), "get_tasks": get_tasks(&master), "get_executors": {}})
                }
            }
        }
        "SUBSCRIBE" => return subscribe(ctx),
        other => {
            return text_reply(
                StatusCode::NOT_IMPLEMENTED,
                format!("Operator call {other} is not supported by this master"),
            )
        }
    };
    let key = kind.to_ascii_lowercase();
    json_reply(StatusCode::OK, &json!({"type": kind, key: payload}), None)
}

/// `SUBSCRIBE`: a chunked RecordIO stream starting with `SUBSCRIBED` (the full state), then `TASK_ADDED`,
/// `TASK_UPDATED`, `AGENT_ADDED`, `AGENT_REMOVED`, `FRAMEWORK_ADDED`/`UPDATED`/`REMOVED` and `HEARTBEAT`s.
fn subscribe(ctx: &Context) -> Response {
    use futures::StreamExt;
    let (stream, rx) = crate::state::Stream::open();
    {
        let mut master = ctx.master.lock().expect("master lock");
        let state = json!({"get_agents": get_agents(&master), "get_frameworks": get_frameworks(&master), "get_tasks": get_tasks(&master), "get_executors": {}});
        stream.send(json!({"type": "SUBSCRIBED", "subscribed": {"get_state": state, "heartbeat_interval_seconds": crate::HEARTBEAT_SECONDS}}));
        stream.send(json!({"type": "HEARTBEAT"}));
        master.operator_streams.push(stream);
    }
    let events = tokio_stream::wrappers::UnboundedReceiverStream::new(rx).map(|event| {
        Ok::<_, std::io::Error>(common::recordio::encode(&serde_json::to_vec(&event).unwrap_or_default()))
    });
    warp::http::Response::builder()
        .status(StatusCode::OK)
        .header(warp::http::header::CONTENT_TYPE, "application/json")
        .body(warp::hyper::Body::wrap_stream(events))
        .expect("valid response")
}

fn get_agents(master: &Master) -> Value {
    json!({"agents": master.agents.values().map(crate::state::operator_agent).collect::<Vec<_>>(),
    "recovered_agents": master.recovered_agents.iter().map(|(id, info)| json!({
        "id": id, "hostname": info.hostname, "port": info.port, "resources": info.resources, "attributes": info.attributes,
    })).collect::<Vec<_>>()})
}

fn get_frameworks(master: &Master) -> Value {
    json!({"frameworks": master.frameworks.values().map(crate::state::operator_framework).collect::<Vec<_>>(),
    "completed_frameworks": master.completed_frameworks.iter().map(|f| json!({"framework_info": f.info, "active": false, "connected": false, "recovered": false})).collect::<Vec<_>>()})
}

fn get_tasks(master: &Master) -> Value {
    let v1 = crate::state::operator_task;
    json!({
        "tasks": master.frameworks.values().flat_map(|f| f.tasks.values()).map(v1).collect::<Vec<_>>(),
        "unreachable_tasks": master.frameworks.values().flat_map(|f| f.unreachable_tasks.values()).map(v1).collect::<Vec<_>>(),
        "completed_tasks": master.frameworks.values().flat_map(|f| f.completed_tasks.iter()).map(v1).collect::<Vec<_>>(),
    })
}
