//! Offer matching and task building, as pure functions: which queued instances fit an offer (roles,
//! cpus/mem/disk, host ports, constraints) and the Mesos TaskInfo each launch sends (command or Docker
//! container, Marathon's task environment, labels, discovery, kill policy, Mesos health checks).

use crate::app::{AppDefinition, Constraint, ContainerType, DockerNetwork, HealthCheckProtocol, PathId, PortReference, Timestamp};
use crate::core::instance::Instance;
use common::mesos::{
    CommandInfo, CommandUri, ContainerInfo, DockerInfo, DurationInfo, Environment, Id, KillPolicy, Label, Labels, Offer,
    Parameter, PortMapping, TaskInfo, Variable, Volume,
};
use common::resources::{ReservationFormat, ResourceEntry, Resources};
use regex::Regex;
use serde_json::json;
use std::collections::HashMap;

/// Settings that shape matching and task building.
#[derive(Debug, Clone, Default)]
pub struct MatchConfig {
    /// `--mesos_role`: resources of this role are acceptable besides `*`.
    pub mesos_role: Option<String>,
    /// `--mesos_user`: default task user.
    pub mesos_user: Option<String>,
    /// `--env_vars_prefix` for PORT*/HOST.
    pub env_vars_prefix: Option<String>,
    /// Instances launched from one offer at most (`--max_instances_per_offer`).
    pub max_instances_per_offer: usize,
}

/// Instances an app still needs.
pub struct LaunchRequest<'a> {
    /// The app.
    pub app: &'a AppDefinition,
    /// How many.
    pub count: usize,
}

/// Where an app's active tasks run, for constraints.
#[derive(Debug, Default)]
pub struct PlacementIndex {
    by_app: HashMap<PathId, Vec<Placement>>,
}

/// One placed task: its agent's hostname and attributes.
#[derive(Debug, Clone)]
struct Placement {
    hostname: String,
    attributes: HashMap<String, String>,
}

impl PlacementIndex {
    /// Indexes tasks (attributes are learned as offers arrive; hostnames are known from the tasks).
    pub fn from_instances<'a>(instances: impl Iterator<Item = &'a Instance>) -> PlacementIndex {
        let mut index = PlacementIndex::default();
        for i in instances {
            index.by_app.entry(i.app_id.clone()).or_default().push(Placement { hostname: i.host.clone(), attributes: HashMap::new() });
        }
        index
    }

    /// Records a task planned on `offer`.
    pub fn add(&mut self, instance: &Instance, offer: &Offer) {
        self.by_app.entry(instance.app_id.clone()).or_default().push(Placement { hostname: offer.hostname.clone(), attributes: attributes(offer) });
    }

    fn of(&self, app: &PathId) -> &[Placement] {
        self.by_app.get(app).map(Vec::as_slice).unwrap_or(&[])
    }
}

fn attributes(offer: &Offer) -> HashMap<String, String> {
    offer.attributes.iter().map(|a| (a.name.clone(), a.value_text())).collect()
}

/// Why an offer did not fit an app (names as Marathon's `/v2/queue` reject reasons).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoMatch {
    /// Not enough CPUs.
    InsufficientCpus,
    /// Not enough memory.
    InsufficientMemory,
    /// Not enough disk.
    InsufficientDisk,
    /// Host ports unavailable.
    InsufficientPorts,
    /// No resources of an acceptable role.
    UnfulfilledRole,
    /// A constraint rejects the agent.
    UnfulfilledConstraint,
}

/// One launch planned on an offer.
#[derive(Debug, Clone)]
pub struct PlannedLaunch {
    /// The app.
    pub app_id: PathId,
    /// The app's config version.
    pub version: Timestamp,
    /// The TaskInfo to send.
    pub task: TaskInfo,
    /// Host ports chosen, in port order.
    pub host_ports: Vec<u32>,
    /// The app's service ports.
    pub service_ports: Vec<u32>,
}

/// Fills one offer with as many queued instances as fit (at most `max_instances_per_offer`), consuming
/// resources and placements as it goes so constraints hold within the offer too.
pub fn plan_launches(offer: &Offer, queue: &[LaunchRequest], placements: &PlacementIndex, config: &MatchConfig) -> (Vec<PlannedLaunch>, Vec<(PathId, NoMatch)>) {
    let mut available = match Resources::from_v1(&offer.resources) {
        Ok(r) => r,
        Err(_) => return (Vec::new(), Vec::new()),
    };
    let role = offer.allocation_info.as_ref().map(|a| a.role.clone()).unwrap_or_else(|| "*".to_string());
    let offer_attributes = attributes(offer);
    let mut extra: HashMap<PathId, Vec<Placement>> = HashMap::new();
    let mut planned = Vec::new();
    let mut rejected = Vec::new();
    let limit = config.max_instances_per_offer.max(1);
    for request in queue {
        for _ in 0..request.count {
            if planned.len() >= limit {
                return (planned, rejected);
            }
            let app = request.app;
            let mut placed: Vec<Placement> = placements.of(&app.id).to_vec();
            placed.extend(extra.get(&app.id).cloned().unwrap_or_default());
            if !meets_constraints(&app.constraints, &offer.hostname, &offer_attributes, &placed) {
                rejected.push((app.id.clone(), NoMatch::UnfulfilledConstraint));
                break;
            }
            match match_resources(app, &available, &role, config) {
                Ok((consumed, host_ports)) => {
                    available.subtract_saturating(&consumed);
                    let task_id = crate::app::new_task_id(&app.id);
                    let task = build_task(app, offer, &consumed, &role, &host_ports, &task_id, config);
                    extra.entry(app.id.clone()).or_default().push(Placement { hostname: offer.hostname.clone(), attributes: offer_attributes.clone() });
                    planned.push(PlannedLaunch {
                        app_id: app.id.clone(),
                        version: app.last_config_change_at(),
                        task,
                        host_ports,
                        service_ports: app.service_ports().into_iter().filter(|p| *p > 0).map(|p| p as u32).collect(),
                    });
                }
                Err(reason) => {
                    rejected.push((app.id.clone(), reason));
                    break;
                }
            }
        }
    }
    (planned, rejected)
}

/// The host ports an app asks for: `None` = any port from the offer, `Some(p)` = exactly `p`.
fn requested_host_ports(app: &AppDefinition) -> Vec<Option<u32>> {
    let bridge = app.container.as_ref().and_then(|c| c.docker.as_ref()).is_some_and(|d| matches!(d.network, Some(DockerNetwork::Bridge) | Some(DockerNetwork::User)));
    if bridge {
        return app.port_mappings().iter().map(|m| m.host_port.filter(|p| *p > 0).map(|p| p as u32)).collect();
    }
    if app.require_ports {
        return app.port_definitions.iter().map(|p| Some(p.port as u32)).collect();
    }
    app.port_definitions.iter().map(|_| None).collect()
}

/// Checks roles, scalars and ports; returns the resources to consume (allocated to the offer's role) and the
/// chosen host ports.
fn match_resources(app: &AppDefinition, available: &Resources, role: &str, config: &MatchConfig) -> Result<(Resources, Vec<u32>), NoMatch> {
    let mut acceptable = vec!["*".to_string()];
    if let Some(r) = &config.mesos_role {
        acceptable.push(r.clone());
    }
    if !app.accepted_resource_roles.is_empty() {
        acceptable.retain(|r| app.accepted_resource_roles.contains(r));
    }
    if !acceptable.iter().any(|r| r == role || r == "*") {
        return Err(NoMatch::UnfulfilledRole);
    }
    let usable = available.unreserved();
    let need = [("cpus", app.cpus, NoMatch::InsufficientCpus), ("mem", app.mem, NoMatch::InsufficientMemory), ("disk", app.disk, NoMatch::InsufficientDisk)];
    let mut consumed = Resources::new();
    for (name, amount, reason) in need {
        if amount <= 0.0 {
            continue;
        }
        if usable.scalar(name) + 1e-9 < amount {
            return Err(reason);
        }
        consumed.push(ResourceEntry::scalar(name, amount));
    }
    let mut free_ports = usable.ports();
    let mut host_ports = Vec::new();
    for wanted in requested_host_ports(app) {
        let port = match wanted {
            Some(p) if free_ports.contains_value(p as u64) => p as u64,
            Some(_) => return Err(NoMatch::InsufficientPorts),
            None => free_ports.values().next().ok_or(NoMatch::InsufficientPorts)?,
        };
        free_ports = free_ports.difference(&common::resources::Ranges::from_values([port]));
        host_ports.push(port as u32);
    }
    if !host_ports.is_empty() {
        consumed.push(ResourceEntry::ranges("ports", common::resources::Ranges::from_values(host_ports.iter().map(|p| *p as u64))));
    }
    Ok((consumed, host_ports))
}

/// Marathon 1.4 constraint semantics over the offer's hostname/attributes and the app's placed tasks.
fn meets_constraints(constraints: &[Constraint], hostname: &str, attrs: &HashMap<String, String>, placed: &[Placement]) -> bool {
    constraints.iter().all(|c| {
        let value_of = |host: &str, a: &HashMap<String, String>| -> Option<String> {
            if c.field == "hostname" {
                Some(host.to_string())
            } else {
                a.get(&c.field).cloned()
            }
        };
        let Some(mine) = value_of(hostname, attrs) else {
            return c.operator == "UNLIKE";
        };
        let others: Vec<String> = placed.iter().filter_map(|p| value_of(&p.hostname, &p.attributes)).collect();
        let full_match = |pattern: &str| Regex::new(&format!("^(?:{pattern})$")).map(|r| r.is_match(&mine)).unwrap_or(false);
        match c.operator.as_str() {
            "UNIQUE" => !others.contains(&mine),
            "CLUSTER" => match &c.value {
                Some(v) if !v.is_empty() => *v == mine,
                _ => others.iter().all(|o| *o == mine),
            },
            "LIKE" => c.value.as_deref().is_some_and(full_match),
            "UNLIKE" => !c.value.as_deref().is_some_and(full_match),
            "MAX_PER" => {
                let max: usize = c.value.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
                others.iter().filter(|o| **o == mine).count() < max
            }
            "GROUP_BY" => {
                let groups: usize = c.value.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
                let mut counts: HashMap<&String, usize> = HashMap::new();
                for o in &others {
                    *counts.entry(o).or_default() += 1;
                }
                if !counts.contains_key(&mine) {
                    return true;
                }
                if counts.len() < groups {
                    return false;
                }
                let min = counts.values().min().copied().unwrap_or(0);
                counts.get(&mine).copied().unwrap_or(0) <= min
            }
            _ => false,
        }
    })
}

/// Builds the Mesos TaskInfo for one instance of `app` on `offer`.
pub fn build_task(app: &AppDefinition, offer: &Offer, consumed: &Resources, role: &str, host_ports: &[u32], task_id: &str, config: &MatchConfig) -> TaskInfo {
    let docker = app.container.as_ref().filter(|c| c.kind == ContainerType::Docker).and_then(|c| c.docker.as_ref());
    let env = task_environment(app, offer, host_ports, task_id, config);
    let command = if app.cmd.is_some() || !app.args.is_empty() || docker.is_none() {
        let (shell, value, arguments) = match (&app.cmd, docker) {
            (Some(cmd), _) => (true, Some(cmd.clone()), Vec::new()),
            (None, Some(_)) => (false, None, app.args.clone()),
            (None, None) => (false, app.args.first().cloned(), app.args.clone()),
        };
        Some(CommandInfo {
            uris: app
                .fetch
                .iter()
                .map(|f| CommandUri { value: f.uri.clone(), executable: Some(f.executable), extract: Some(f.extract), cache: Some(f.cache), output_file: f.dest_path.clone() })
                .collect(),
            environment: Some(Environment { variables: env.into_iter().map(|(name, value)| Variable { name, value }).collect() }),
            shell,
            value,
            arguments,
            user: app.user.clone().or_else(|| config.mesos_user.clone()),
        })
    } else {
        Some(CommandInfo {
            uris: Vec::new(),
            environment: Some(Environment { variables: env.into_iter().map(|(name, value)| Variable { name, value }).collect() }),
            shell: false,
            value: None,
            arguments: Vec::new(),
            user: None,
        })
    };
    let container = docker.map(|d| {
        let bridged = matches!(d.network, Some(DockerNetwork::Bridge) | Some(DockerNetwork::User));
        let mut parameters: Vec<Parameter> = d.parameters.iter().map(|p| Parameter { key: p.key.clone(), value: p.value.clone() }).collect();
        parameters.push(Parameter { key: "label".into(), value: format!("MESOS_TASK_ID={task_id}") });
        ContainerInfo {
            kind: "DOCKER".into(),
            volumes: app
                .container
                .as_ref()
                .map(|c| c.volumes.iter().map(|v| Volume { container_path: v.container_path.clone(), host_path: v.host_path.clone(), mode: v.mode.as_str().to_string() }).collect())
                .unwrap_or_default(),
            hostname: None,
            docker: Some(DockerInfo {
                image: d.image.clone(),
                network: d.network.map(|n| n.as_str().to_string()).unwrap_or_else(|| "HOST".into()),
                port_mappings: if bridged {
                    d.port_mappings
                        .iter()
                        .zip(host_ports)
                        .map(|(m, host)| PortMapping {
                            host_port: *host,
                            container_port: if m.container_port == 0 { *host } else { m.container_port as u32 },
                            protocol: Some(m.protocol.clone()),
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                privileged: Some(d.privileged),
                parameters,
                force_pull_image: Some(d.force_pull_image),
            }),
            network_infos: Vec::new(),
        }
    });
    let name = app.id.to_hostname();
    TaskInfo {
        name: name.clone(),
        task_id: Id::new(task_id),
        agent_id: offer.agent_id.clone(),
        resources: consumed.to_v1_allocated(ReservationFormat::PreRefinement, role),
        executor: None,
        command,
        container,
        health_check: mesos_health_check(app, host_ports),
        check: None,
        kill_policy: app
            .task_kill_grace_period_seconds
            .map(|s| KillPolicy { grace_period: Some(DurationInfo { nanoseconds: s.saturating_mul(1_000_000_000) }) }),
        data: None,
        labels: (!app.labels.is_empty()).then(|| Labels { labels: app.labels.iter().map(|(k, v)| Label { key: k.clone(), value: Some(v.clone()) }).collect() }),
        discovery: Some(json!({
            "visibility": "FRAMEWORK",
            "name": name,
            "ports": {"ports": host_ports.iter().map(|p| json!({"number": p, "protocol": "tcp"})).collect::<Vec<_>>()},
        })),
    }
}

/// Marathon's task environment (marathon.md §8); the app's `env` comes last and wins.
fn task_environment(app: &AppDefinition, offer: &Offer, host_ports: &[u32], task_id: &str, config: &MatchConfig) -> Vec<(String, String)> {
    let prefix = config.env_vars_prefix.clone().unwrap_or_default();
    let mut env = vec![
        ("MESOS_TASK_ID".to_string(), task_id.to_string()),
        ("MARATHON_APP_ID".to_string(), app.id.to_string()),
        ("MARATHON_APP_VERSION".to_string(), app.version.to_string()),
        ("MARATHON_APP_RESOURCE_CPUS".to_string(), format!("{:?}", app.cpus)),
        ("MARATHON_APP_RESOURCE_MEM".to_string(), format!("{:?}", app.mem)),
        ("MARATHON_APP_RESOURCE_DISK".to_string(), format!("{:?}", app.disk)),
        ("MARATHON_APP_RESOURCE_GPUS".to_string(), app.gpus.to_string()),
    ];
    if let Some(d) = app.container.as_ref().and_then(|c| c.docker.as_ref()) {
        env.push(("MARATHON_APP_DOCKER_IMAGE".to_string(), d.image.clone()));
    }
    let labels: Vec<(&String, &String)> = app.labels.iter().filter(|(k, v)| k.len() < 493 && v.len() < 512).collect();
    env.push(("MARATHON_APP_LABELS".to_string(), labels.iter().map(|(k, _)| label_key(k)).collect::<Vec<_>>().join(" ")));
    for (k, v) in labels {
        env.push((format!("MARATHON_APP_LABEL_{}", label_key(k)), v.clone()));
    }
    // Port values: host ports, or container ports for bridged apps without host ports.
    let requested: Vec<i32> = if app.port_mappings().is_empty() { app.port_definitions.iter().map(|p| p.port).collect() } else { app.port_mappings().iter().map(|m| m.container_port).collect() };
    let names = app.port_names();
    for (i, port) in host_ports.iter().enumerate() {
        env.push((format!("{prefix}PORT{i}"), port.to_string()));
        if let Some(r) = requested.get(i).filter(|r| **r > 0) {
            env.push((format!("{prefix}PORT_{r}"), port.to_string()));
        }
        if let Some(name) = names.get(i).filter(|n| !n.is_empty()) {
            env.push((format!("{prefix}PORT_{}", label_key(name)), port.to_string()));
        }
    }
    if let Some(first) = host_ports.first() {
        env.push((format!("{prefix}PORT"), first.to_string()));
    }
    env.push((format!("{prefix}PORTS"), host_ports.iter().map(u32::to_string).collect::<Vec<_>>().join(",")));
    env.push((format!("{prefix}HOST"), offer.hostname.clone()));
    for (k, v) in &app.env {
        if let crate::app::EnvVarValue::Value(v) = v {
            env.retain(|(name, _)| name != k);
            env.push((k.clone(), v.clone()));
        }
    }
    env
}

/// `[^a-zA-Z0-9_]+` → `_`, upper-cased.
fn label_key(key: &str) -> String {
    let mut out = String::new();
    let mut last_underscore = false;
    for c in key.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c.to_ascii_uppercase());
            last_underscore = false;
        } else if !last_underscore {
            out.push('_');
            last_underscore = true;
        }
    }
    out
}

/// The first Mesos-run health check (COMMAND, MESOS_HTTP, MESOS_HTTPS, MESOS_TCP) as a Mesos HealthCheck.
fn mesos_health_check(app: &AppDefinition, host_ports: &[u32]) -> Option<serde_json::Value> {
    let check = app.health_checks.iter().find(|c| {
        matches!(c.protocol, HealthCheckProtocol::Command | HealthCheckProtocol::MesosHttp | HealthCheckProtocol::MesosHttps | HealthCheckProtocol::MesosTcp)
    })?;
    let port = check.port.map(|p| p as u32).or_else(|| {
        let index = match &check.port_index {
            Some(PortReference::Index(i)) => *i as usize,
            Some(PortReference::Name(n)) => app.port_names().iter().position(|x| x == n)?,
            None => 0,
        };
        host_ports.get(index).copied()
    });
    let mut hc = json!({
        "delay_seconds": check.delay_seconds,
        "interval_seconds": check.interval_seconds,
        "timeout_seconds": check.timeout_seconds,
        "consecutive_failures": check.max_consecutive_failures,
        "grace_period_seconds": check.grace_period_seconds,
    });
    match check.protocol {
        HealthCheckProtocol::Command => {
            hc["type"] = json!("COMMAND");
            hc["command"] = json!({"shell": true, "value": check.command.clone().unwrap_or_default()});
        }
        HealthCheckProtocol::MesosTcp => {
            hc["type"] = json!("TCP");
            hc["tcp"] = json!({"port": port?});
        }
        _ => {
            hc["type"] = json!("HTTP");
            let scheme = if check.protocol == HealthCheckProtocol::MesosHttps { "https" } else { "http" };
            hc["http"] = json!({"port": port?, "path": check.path.clone().unwrap_or_else(|| "/".into()), "scheme": scheme});
        }
    }
    Some(hc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{parse_app, PathId};

    fn offer(ports: &str) -> Offer {
        serde_json::from_value(json!({
            "id": {"value": "o1"}, "framework_id": {"value": "f"}, "agent_id": {"value": "a1"}, "hostname": "host-1",
            "resources": common::resources::Resources::parse_text(&format!("cpus:4;mem:4096;disk:1000;ports:{ports}")).unwrap().to_v1(ReservationFormat::PreRefinement),
            "attributes": [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}}],
        }))
        .unwrap()
    }

    fn app(json: &str) -> AppDefinition {
        let mut app = parse_app(json.as_bytes(), &PathId::root()).unwrap();
        crate::app::assign_service_ports(&mut app, &Default::default(), None, (10000, 20000)).unwrap();
        app
    }

    fn config() -> MatchConfig {
        MatchConfig { max_instances_per_offer: 5, ..MatchConfig::default() }
    }

    #[test]
    fn basic_0_gets_a_command_task_with_marathon_env() {
        let a = app(r#"{"id": "basic-0", "cmd": "echo hi", "cpus": 0.1, "mem": 10.0}"#);
        let (planned, _) = plan_launches(&offer("[31000-32000]"), &[LaunchRequest { app: &a, count: 1 }], &PlacementIndex::default(), &config());
        assert_eq!(planned.len(), 1);
        let task = &planned[0].task;
        assert_eq!(task.name, "basic-0");
        let command = task.command.as_ref().unwrap();
        assert!(command.shell);
        let env: HashMap<String, String> = command.environment.as_ref().unwrap().variables.iter().map(|v| (v.name.clone(), v.value.clone())).collect();
        assert_eq!(env["PORT0"], "31000");
        assert_eq!(env["PORTS"], "31000");
        assert_eq!(env["HOST"], "host-1");
        assert_eq!(env["MARATHON_APP_ID"], "/basic-0");
        assert_eq!(env["MARATHON_APP_RESOURCE_CPUS"], "0.1");
        assert_eq!(env["MESOS_TASK_ID"], task.task_id.value);
    }

    #[test]
    fn basic_3_takes_exactly_host_port_31000() {
        let a = app(r#"{"id": "basic-3", "cmd": "python3 -m http.server 8080", "cpus": 0.5, "mem": 32.0,
            "container": {"type": "DOCKER", "docker": {"image": "python:3", "network": "BRIDGE",
            "portMappings": [{"containerPort": 8080, "hostPort": 31000, "servicePort": 0, "protocol": "tcp"}]}}}"#);
        let (planned, _) = plan_launches(&offer("[31000-32000]"), &[LaunchRequest { app: &a, count: 1 }], &PlacementIndex::default(), &config());
        let docker = planned[0].task.container.as_ref().unwrap().docker.as_ref().unwrap();
        assert_eq!(docker.port_mappings[0].host_port, 31000);
        assert_eq!(docker.port_mappings[0].container_port, 8080);
        assert_eq!(docker.network, "BRIDGE");
        let (planned, rejected) = plan_launches(&offer("[31500-32000]"), &[LaunchRequest { app: &a, count: 1 }], &PlacementIndex::default(), &config());
        assert!(planned.is_empty());
        assert_eq!(rejected[0].1, NoMatch::InsufficientPorts);
    }

    #[test]
    fn unique_hostname_allows_one_per_offer_and_resources_run_out() {
        let a = app(r#"{"id": "u", "cmd": "x", "cpus": 1, "mem": 16, "constraints": [["hostname", "UNIQUE"]]}"#);
        let (planned, rejected) = plan_launches(&offer("[31000-32000]"), &[LaunchRequest { app: &a, count: 3 }], &PlacementIndex::default(), &config());
        assert_eq!(planned.len(), 1);
        assert_eq!(rejected[0].1, NoMatch::UnfulfilledConstraint);
        let big = app(r#"{"id": "big", "cmd": "x", "cpus": 1.5, "mem": 16}"#);
        let (planned, rejected) = plan_launches(&offer("[31000-32000]"), &[LaunchRequest { app: &big, count: 5 }], &PlacementIndex::default(), &config());
        assert_eq!(planned.len(), 2);
        assert_eq!(rejected[0].1, NoMatch::InsufficientCpus);
    }

    #[test]
    fn constraint_operators() {
        let attrs: HashMap<String, String> = [("rack".to_string(), "r1".to_string())].into();
        let c = |op: &str, v: Option<&str>| vec![Constraint { field: "rack".into(), operator: op.into(), value: v.map(String::from) }];
        let placed = vec![Placement { hostname: "h2".into(), attributes: attrs.clone() }];
        assert!(!meets_constraints(&c("UNIQUE", None), "h", &attrs, &placed));
        assert!(meets_constraints(&c("CLUSTER", Some("r1")), "h", &attrs, &placed));
        assert!(meets_constraints(&c("LIKE", Some("r[0-9]")), "h", &attrs, &[]));
        assert!(!meets_constraints(&c("UNLIKE", Some("r1")), "h", &attrs, &[]));
        assert!(meets_constraints(&c("MAX_PER", Some("2")), "h", &attrs, &placed));
        assert!(!meets_constraints(&c("MAX_PER", Some("1")), "h", &attrs, &placed));
        assert!(meets_constraints(&c("UNLIKE", Some("x")), "h", &HashMap::new(), &[]), "missing attribute: only UNLIKE");
        assert!(!meets_constraints(&c("LIKE", Some("x")), "h", &HashMap::new(), &[]));
    }

    #[test]
    fn label_keys_are_sanitised() {
        assert_eq!(label_key("my-label.x"), "MY_LABEL_X");
    }
}
