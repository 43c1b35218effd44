//! Building the Mesos `TaskInfo` of one matched instance (Marathon 1.4 `TaskBuilder`, `EnvironmentHelper`,
//! `PortDiscovery`, `MesosHealthCheck.toMesos`).
//!
//! - name: app id segments reversed and dot-joined (`/web/db` → `db.web`); resources from the match.
//! - command (command executor): `cmd` → shell with that value; `args` → `shell:false`, `arguments` = args
//!   and, without a container, `value` = `args[0]`; neither → `shell:false` and no value (Docker
//!   entrypoint). Always carries the environment, the fetch URIs and the user (app, else `mesos_user`).
//! - custom executor (`executor` other than `""`/`//cmd`): an `ExecutorInfo` with id `marathon-<taskId>`
//!   running `chmod ug+rx '<path>' && exec '<path>' <cmd>`.
//! - container: Docker (image, network, bound port mappings, privileged, parameters + `label` =
//!   `MESOS_TASK_ID=<taskId>`, force pull) or Mesos; host-path volumes; `ipAddress` → `network_infos`.
//! - labels, discovery info, kill policy and the first Mesos health check (COMMAND, MESOS_HTTP(S),
//!   MESOS_TCP).

use common::mesos::{
    CommandInfo, CommandUri, ContainerInfo, DockerInfo, DurationInfo, Environment, Id, KillPolicy, Label, Labels,
    Offer, Parameter as MesosParameter, PortMapping as MesosPortMapping, TaskInfo, Variable, Volume as MesosVolume,
};
use serde_json::{json, Map, Value};

use super::matching::{Match, SplitMix64};
use super::MatchConfig;
use crate::app::{
    AppDefinition, ContainerType, DockerNetwork, EnvVarValue, HealthCheck, HealthCheckProtocol, PortReference,
    RANDOM_PORT,
};

/// Prefix of the per-label environment variables.
const LABEL_PREFIX: &str = "MARATHON_APP_LABEL_";
/// Longest environment value Marathon passes for labels (exclusive).
const MAX_ENV_VALUE_LENGTH: usize = 512;
/// Longest label key (exclusive): 512 minus the prefix.
const MAX_LABEL_KEY_LENGTH: usize = MAX_ENV_VALUE_LENGTH - LABEL_PREFIX.len();

/// Builds the `TaskInfo` launching one instance of `app` on `offer` with the resources and host ports of
/// `m` and the task id `task_id`.
pub fn build_task(app: &AppDefinition, offer: &Offer, m: &Match, task_id: &str, config: &MatchConfig) -> TaskInfo {
    let name = app.id.to_hostname();
    let container = container_info(app, &m.host_ports, task_id);
    let mut command = command_info(app, task_id, &offer.hostname, &m.host_ports, config);

    let executor = match app.executor.as_str() {
        "" | "//cmd" => None,
        path => {
            let quoted = format!("'{path}'");
            let cmd = app.cmd.clone().unwrap_or_else(|| app.args.join(" "));
            command.value = Some(format!("chmod ug+rx {quoted} && exec {quoted} {cmd}"));
            command.shell = true;
            command.arguments.clear();
            let mut info = Map::new();
            info.insert("executor_id".into(), json!({"value": format!("marathon-{task_id}")}));
            info.insert("command".into(), serde_json::to_value(&command).unwrap_or(Value::Null));
            if let Some(c) = &container {
                info.insert("container".into(), serde_json::to_value(c).unwrap_or(Value::Null));
            }
            Some(Value::Object(info))
        }
    };
    let (command, container) = if executor.is_some() { (None, None) } else { (Some(command), container) };

    TaskInfo {
        name: name.clone(),
        task_id: Id::new(task_id),
        agent_id: offer.agent_id.clone(),
        resources: m.resources_v1(config.reservation_format),
        executor,
        command,
        container,
        health_check: mesos_health_check(app, &m.host_ports),
        check: None,
        kill_policy: app
            .task_kill_grace_period_seconds
            .map(|s| KillPolicy { grace_period: Some(DurationInfo { nanoseconds: s.saturating_mul(1_000_000_000) }) }),
        data: None,
        labels: (!app.labels.is_empty()).then(|| mesos_labels(app.labels.iter())),
        discovery: Some(discovery_info(app, &name, &m.host_ports)),
    }
}

/// The command executor's `CommandInfo` (also the base of a custom executor's command).
fn command_info(
    app: &AppDefinition,
    task_id: &str,
    host: &str,
    host_ports: &[Option<u32>],
    config: &MatchConfig,
) -> CommandInfo {
    let mut command = CommandInfo {
        uris: app
            .fetch
            .iter()
            .map(|f| CommandUri {
                value: f.uri.clone(),
                executable: Some(f.executable),
                extract: Some(f.extract),
                cache: Some(f.cache),
                output_file: f.dest_path.clone(),
            })
            .collect(),
        environment: Some(Environment { variables: task_environment(app, task_id, host, host_ports, config) }),
        shell: true,
        value: None,
        arguments: Vec::new(),
        user: app.user.clone().or_else(|| config.mesos_user.clone()),
    };
    match app.cmd.as_deref() {
        Some(cmd) if !cmd.is_empty() => command.value = Some(cmd.to_string()),
        _ => command.shell = false,
    }
    if !app.args.is_empty() {
        command.shell = false;
        command.arguments = app.args.clone();
        if app.container.is_none() {
            command.value = app.args.first().cloned();
        }
    }
    command
}

/// Environment variables in insertion order; setting an existing name replaces its value in place.
#[derive(Default)]
struct Env(Vec<Variable>);

impl Env {
    fn set(&mut self, name: String, value: String) {
        match self.0.iter_mut().find(|v| v.name == name) {
            Some(existing) => existing.value = value,
            None => self.0.push(Variable { name, value }),
        }
    }
}

/// The task environment (marathon.md §8): task context, labels, ports and `HOST` (the last two with
/// `env_vars_prefix`), then the app's own `env` (plain values only), which wins.
pub fn task_environment(
    app: &AppDefinition,
    task_id: &str,
    host: &str,
    host_ports: &[Option<u32>],
    config: &MatchConfig,
) -> Vec<Variable> {
    let mut env = Env::default();
    env.set("MESOS_TASK_ID".into(), task_id.to_string());
    env.set("MARATHON_APP_ID".into(), app.id.to_string());
    env.set("MARATHON_APP_VERSION".into(), app.version.to_string());
    if let Some(image) = docker_image(app) {
        env.set("MARATHON_APP_DOCKER_IMAGE".into(), image.to_string());
    }
    env.set("MARATHON_APP_RESOURCE_CPUS".into(), java_double(app.cpus));
    env.set("MARATHON_APP_RESOURCE_MEM".into(), java_double(app.mem));
    env.set("MARATHON_APP_RESOURCE_DISK".into(), java_double(app.disk));
    env.set("MARATHON_APP_RESOURCE_GPUS".into(), app.gpus.to_string());
    for (name, value) in labels_env(app) {
        env.set(name, value);
    }
    let prefix = config.env_vars_prefix.as_deref().unwrap_or("");
    for (name, value) in ports_env(app, host_ports) {
        env.set(format!("{prefix}{name}"), value);
    }
    env.set(format!("{prefix}HOST"), host.to_string());
    for (name, value) in &app.env {
        if let EnvVarValue::Value(value) = value {
            env.set(name.clone(), value.clone());
        }
    }
    env.0
}

/// The image of a Docker-containerizer app.
fn docker_image(app: &AppDefinition) -> Option<&str> {
    app.container
        .as_ref()
        .filter(|c| c.kind == ContainerType::Docker)
        .and_then(|c| c.docker.as_ref())
        .map(|d| d.image.as_str())
}

/// `MARATHON_APP_LABELS` and `MARATHON_APP_LABEL_<KEY>`: keys with runs of characters outside
/// `[a-zA-Z0-9_]` replaced by `_` and upper-cased; labels with keys of 493+ or values of 512+ UTF-16 units
/// are skipped. Sanitised keys that collide keep the first position and the last value.
pub fn labels_env(app: &AppDefinition) -> Vec<(String, String)> {
    let mut valid: Vec<(String, String)> = Vec::new();
    for (key, value) in &app.labels {
        if key.encode_utf16().count() >= MAX_LABEL_KEY_LENGTH || value.encode_utf16().count() >= MAX_ENV_VALUE_LENGTH {
            continue;
        }
        let key = sanitize_label_key(key);
        match valid.iter_mut().find(|(k, _)| *k == key) {
            Some(existing) => existing.1 = value.clone(),
            None => valid.push((key, value.clone())),
        }
    }
    let names = valid.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(" ");
    let mut out = vec![("MARATHON_APP_LABELS".to_string(), names)];
    out.extend(valid.into_iter().map(|(k, v)| (format!("{LABEL_PREFIX}{k}"), v)));
    out
}

/// `[^a-zA-Z0-9_]+` → `_`, then upper case.
fn sanitize_label_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut in_run = false;
    for c in key.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c.to_ascii_uppercase());
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

/// Port variables (without prefix) per `EnvironmentHelper.portsEnv`: `PORT<i>`, `PORT_<requested>`,
/// `PORT_<NAME>`, `PORT`, `PORTS`. Requested ports are the container ports with port mappings, else the
/// port definitions' (service) ports. Nothing when the app has no ports.
pub fn ports_env(app: &AppDefinition, host_ports: &[Option<u32>]) -> Vec<(String, String)> {
    if host_ports.is_empty() {
        return Vec::new();
    }
    let requested: Vec<(Option<&str>, i32)> = if app.port_mappings().is_empty() {
        app.port_definitions.iter().map(|d| (d.name.as_deref(), d.port)).collect()
    } else {
        app.port_mappings().iter().map(|m| (m.name.as_deref(), m.container_port)).collect()
    };

    // Container-port-only mappings with container port 0 get a generated port in 1025..=65535 that
    // collides with no other port of the task (deterministic per app).
    let mut consumed: Vec<i64> = requested.iter().map(|(_, p)| i64::from(*p)).collect();
    consumed.extend(host_ports.iter().flatten().map(|p| i64::from(*p)));
    let mut rng = SplitMix64::new(app.id.to_string().bytes().fold(7u64, |h, b| h.wrapping_mul(31) ^ u64::from(b)));
    let mut generated: Vec<Option<i64>> = vec![None; host_ports.len()];

    let mut env = Vec::new();
    for (index, host_port) in host_ports.iter().enumerate() {
        match (host_port, requested.get(index)) {
            (Some(p), _) => env.push((format!("PORT{index}"), p.to_string())),
            (None, Some((_, container))) if *container == RANDOM_PORT => {
                let port = loop {
                    let candidate = 1025 + rng.below(65535 - 1024) as i64;
                    if !consumed.contains(&candidate) {
                        break candidate;
                    }
                };
                consumed.push(port);
                generated[index] = Some(port);
                env.push((format!("PORT{index}"), port.to_string()));
            }
            (None, Some((_, container))) => env.push((format!("PORT{index}"), container.to_string())),
            (None, None) => {}
        }
    }
    for (index, ((_, requested_port), host_port)) in requested.iter().zip(host_ports).enumerate() {
        let number = match (host_port, *requested_port) {
            (Some(p), RANDOM_PORT) => Some((i64::from(*p), i64::from(*p))),
            (Some(p), r) => Some((i64::from(r), i64::from(*p))),
            (None, RANDOM_PORT) => generated[index].map(|g| (g, g)),
            (None, r) => Some((i64::from(r), i64::from(r))),
        };
        if let Some((key, value)) = number {
            env.push((format!("PORT_{key}"), value.to_string()));
        }
    }
    for ((name, _), host_port) in requested.iter().zip(host_ports) {
        if let (Some(name), Some(port)) = (name, host_port) {
            env.push((format!("PORT_{}", name.to_uppercase()), port.to_string()));
        }
    }
    let all: Vec<String> = host_ports
        .iter()
        .flatten()
        .map(|p| i64::from(*p))
        .chain(generated.iter().flatten().copied())
        .map(|p| p.to_string())
        .collect();
    if let Some(first) = all.first() {
        env.push(("PORT".to_string(), first.clone()));
    }
    env.push(("PORTS".to_string(), all.join(",")));
    env
}

/// Java's `Double.toString`: `1.0`, `0.1`, `128.0`, `1.0E7`, `1.0E-4`.
pub fn java_double(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let magnitude = value.abs();
    if (1e-3..1e7).contains(&magnitude) {
        let text = value.to_string();
        if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        }
    } else {
        let text = format!("{value:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((text.as_str(), "0"));
        if mantissa.contains('.') {
            format!("{mantissa}E{exponent}")
        } else {
            format!("{mantissa}.0E{exponent}")
        }
    }
}

/// Mesos labels from key/value pairs.
fn mesos_labels<'a>(labels: impl Iterator<Item = (&'a String, &'a String)>) -> Labels {
    Labels { labels: labels.map(|(k, v)| Label { key: k.clone(), value: Some(v.clone()) }).collect() }
}

/// Labels as discovery JSON (`{"labels":[{key,value}]}`).
fn labels_json<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let labels: Vec<Value> = labels.map(|(k, v)| json!({"key": k, "value": v})).collect();
    json!({ "labels": labels })
}

/// The container of the task: `None` without container and `ipAddress`.
fn container_info(app: &AppDefinition, host_ports: &[Option<u32>], task_id: &str) -> Option<ContainerInfo> {
    if app.container.is_none() && app.ip_address.is_none() {
        return None;
    }
    let mut info = ContainerInfo {
        kind: ContainerType::Mesos.as_str().to_string(),
        volumes: Vec::new(),
        hostname: None,
        docker: None,
        network_infos: Vec::new(),
    };
    if let Some(container) = &app.container {
        info.kind = container.kind.as_str().to_string();
        info.volumes = container
            .volumes
            .iter()
            .filter(|v| v.persistent.is_none() && v.external.is_none())
            .filter_map(|v| {
                Some(MesosVolume {
                    container_path: v.container_path.clone(),
                    host_path: Some(v.host_path.clone()?),
                    mode: v.mode.as_str().to_string(),
                })
            })
            .collect();
        if let (ContainerType::Docker, Some(docker)) = (container.kind, &container.docker) {
            let port_mappings = container
                .port_mappings()
                .iter()
                .zip(host_ports)
                .filter_map(|(m, host)| Some((m, (*host)?)))
                .flat_map(|(m, host)| {
                    let container_port = u32::try_from(m.container_port).ok().filter(|p| *p != 0).unwrap_or(host);
                    m.protocol.split(',').map(move |protocol| MesosPortMapping {
                        host_port: host,
                        container_port,
                        protocol: Some(protocol.to_string()),
                    })
                })
                .collect();
            let mut parameters: Vec<MesosParameter> = docker
                .parameters
                .iter()
                .map(|p| MesosParameter { key: p.key.clone(), value: p.value.clone() })
                .collect();
            parameters.push(MesosParameter { key: "label".into(), value: format!("MESOS_TASK_ID={task_id}") });
            info.docker = Some(DockerInfo {
                image: docker.image.clone(),
                network: docker.network.unwrap_or(DockerNetwork::Host).as_str().to_string(),
                port_mappings,
                privileged: Some(docker.privileged),
                parameters,
                force_pull_image: Some(docker.force_pull_image),
            });
        }
    }
    if let Some(ip) = &app.ip_address {
        let mut network = Map::new();
        if !ip.groups.is_empty() {
            network.insert("groups".into(), json!(ip.groups));
        }
        network.insert("labels".into(), labels_json(ip.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
        network.insert("ip_addresses".into(), json!([{}]));
        if let Some(name) = &ip.network_name {
            network.insert("name".into(), json!(name));
        }
        info.network_infos.push(Value::Object(network));
    }
    Some(info)
}

/// `DiscoveryInfo`: visibility FRAMEWORK, the task name and the task's ports (port mappings get a
/// `network-scope` label; port definitions are split per protocol).
fn discovery_info(app: &AppDefinition, name: &str, host_ports: &[Option<u32>]) -> Value {
    let uses_docker = app.container.as_ref().is_some_and(|c| c.kind == ContainerType::Docker && c.docker.is_some());
    let mut ports: Vec<Value> = Vec::new();
    let port = |number: i64, name: Option<&str>, protocol: &str, labels: Vec<(&str, &str)>| {
        let mut p = Map::new();
        p.insert("number".into(), json!(number));
        if let Some(name) = name {
            p.insert("name".into(), json!(name));
        }
        p.insert("protocol".into(), json!(protocol));
        if !labels.is_empty() {
            p.insert("labels".into(), labels_json(labels.into_iter()));
        }
        Value::Object(p)
    };
    match &app.ip_address {
        Some(ip) if !uses_docker && !ip.discovery_ports.is_empty() => {
            for d in &ip.discovery_ports {
                let mut labels: Vec<(&str, &str)> = d.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                set_label(&mut labels, "network-scope", "container");
                ports.push(port(i64::from(d.number), Some(&d.name), &d.protocol, labels));
            }
        }
        _ if !app.port_mappings().is_empty() => {
            for (m, host) in app.port_mappings().iter().zip(host_ports) {
                let mut labels: Vec<(&str, &str)> = m.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let (number, scope) = match host {
                    Some(h) => (i64::from(*h), "host"),
                    None => (i64::from(m.container_port), "container"),
                };
                set_label(&mut labels, "network-scope", scope);
                ports.push(port(number, m.name.as_deref(), &m.protocol, labels));
            }
        }
        _ => {
            for (d, host) in app.port_definitions.iter().zip(host_ports) {
                if let Some(h) = host {
                    for protocol in d.protocol.split(',') {
                        let labels = d.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                        ports.push(port(i64::from(*h), d.name.as_deref(), protocol, labels));
                    }
                }
            }
        }
    }
    json!({"visibility": "FRAMEWORK", "name": name, "ports": {"ports": ports}})
}

/// Adds or replaces a label.
fn set_label<'a>(labels: &mut Vec<(&'a str, &'a str)>, key: &'a str, value: &'a str) {
    match labels.iter_mut().find(|(k, _)| *k == key) {
        Some(existing) => existing.1 = value,
        None => labels.push((key, value)),
    }
}

/// One port of the task as Marathon's `PortAssignment`: name, host port, container port.
struct PortAssignment<'a> {
    name: Option<&'a str>,
    host_port: Option<u32>,
    container_port: Option<u32>,
}

/// Port assignments per `NetworkInfo.computePortAssignments`.
fn port_assignments<'a>(app: &'a AppDefinition, host_ports: &[Option<u32>]) -> Vec<PortAssignment<'a>> {
    if matches!(app.docker_network(), Some(DockerNetwork::Bridge | DockerNetwork::User)) {
        app.port_mappings()
            .iter()
            .zip(host_ports.iter().chain(std::iter::repeat(&None)))
            .map(|(m, host)| PortAssignment {
                name: m.name.as_deref(),
                host_port: *host,
                // A container port of 0 is bound to the host port in the TaskInfo.
                container_port: u32::try_from(m.container_port).ok().filter(|p| *p != 0).or(*host),
            })
            .collect()
    } else if let Some(ip) = &app.ip_address {
        ip.discovery_ports
            .iter()
            .zip(host_ports)
            .map(|(d, host)| PortAssignment { name: Some(d.name.as_str()), host_port: *host, container_port: None })
            .collect()
    } else {
        app.port_definitions
            .iter()
            .zip(host_ports)
            .map(|(d, host)| PortAssignment { name: d.name.as_deref(), host_port: *host, container_port: None })
            .collect()
    }
}

/// The Mesos `HealthCheck` of the app's first COMMAND / MESOS_HTTP / MESOS_HTTPS / MESOS_TCP check. Port
/// checks use `port`, else the port of `portIndex` (container port with port mappings, else host port);
/// a check whose port cannot be resolved is left out.
fn mesos_health_check(app: &AppDefinition, host_ports: &[Option<u32>]) -> Option<Value> {
    let check = app.health_checks.iter().find(|h| h.protocol.is_mesos())?;
    let mut out = Map::new();
    let kind = match check.protocol {
        HealthCheckProtocol::Command => "COMMAND",
        HealthCheckProtocol::MesosTcp => "TCP",
        _ => "HTTP",
    };
    out.insert("type".into(), json!(kind));
    out.insert("delay_seconds".into(), json!(check.delay_seconds as f64));
    out.insert("interval_seconds".into(), json!(check.interval_seconds as f64));
    out.insert("timeout_seconds".into(), json!(check.timeout_seconds as f64));
    out.insert("consecutive_failures".into(), json!(check.max_consecutive_failures.max(0)));
    out.insert("grace_period_seconds".into(), json!(check.grace_period_seconds as f64));
    match check.protocol {
        HealthCheckProtocol::Command => {
            out.insert("command".into(), json!({"shell": true, "value": check.command.clone().unwrap_or_default()}));
        }
        HealthCheckProtocol::MesosTcp => {
            out.insert("tcp".into(), json!({"port": health_check_port(app, check, host_ports)?}));
        }
        protocol => {
            let scheme = if protocol == HealthCheckProtocol::MesosHttps { "https" } else { "http" };
            let mut http = Map::new();
            http.insert("scheme".into(), json!(scheme));
            http.insert("port".into(), json!(health_check_port(app, check, host_ports)?));
            if let Some(path) = &check.path {
                http.insert("path".into(), json!(path));
            }
            out.insert("http".into(), Value::Object(http));
        }
    }
    Some(Value::Object(out))
}

/// `MesosHealthCheckWithPorts.effectivePort`.
fn health_check_port(app: &AppDefinition, check: &HealthCheck, host_ports: &[Option<u32>]) -> Option<u32> {
    if let Some(port) = check.port {
        return u32::try_from(port).ok();
    }
    let assignments = port_assignments(app, host_ports);
    let assignment = match check.port_index.as_ref().unwrap_or(&PortReference::Index(0)) {
        PortReference::Index(i) => assignments.get(usize::try_from(*i).ok()?)?,
        PortReference::Name(name) => assignments.iter().find(|a| a.name == Some(name.as_str()))?,
    };
    assignment.container_port.or(assignment.host_port)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::matching::match_offer;
    use super::super::test_support::{app, offer};
    use super::*;
    use common::resources::Resources;

    fn env_of(task: &TaskInfo) -> Vec<(String, String)> {
        task.command
            .as_ref()
            .and_then(|c| c.environment.as_ref())
            .map(|e| e.variables.iter().map(|v| (v.name.clone(), v.value.clone())).collect())
            .unwrap_or_default()
    }

    fn get<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
        env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn build(a: &AppDefinition, resources: &str, config: &MatchConfig) -> TaskInfo {
        let o = offer(resources);
        let available = Resources::from_v1(&o.resources).expect("offer");
        let m = match_offer(a, &o, &available, &[], config).expect("match");
        build_task(a, &o, &m, "basic-0.1234", config)
    }

    fn lowest() -> MatchConfig {
        MatchConfig { port_selection: super::super::PortSelection::Lowest, ..MatchConfig::default() }
    }

    #[test]
    fn basic_0_task() {
        let mut a = app(json!({"id":"basic-0","cmd":"while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done",
            "cpus":0.1,"mem":10.0,"instances":1,"version":"2017-03-01T23:42:20.938Z"}));
        crate::app::assign_service_ports(&mut a, &Default::default(), None, (10000, 20000)).expect("service port");
        let task = build(&a, "cpus:1;mem:128;disk:100;ports:[31000-32000]", &lowest());
        assert_eq!(task.name, "basic-0");
        assert_eq!(task.task_id.value, "basic-0.1234");
        assert_eq!(task.agent_id.value, "agent-1");
        let command = task.command.as_ref().expect("command");
        assert!(command.shell);
        assert_eq!(command.value.as_deref(), a.cmd.as_deref());
        assert!(task.container.is_none());
        let env = env_of(&task);
        let expect = [
            ("MESOS_TASK_ID", "basic-0.1234"),
            ("MARATHON_APP_ID", "/basic-0"),
            ("MARATHON_APP_VERSION", "2017-03-01T23:42:20.938Z"),
            ("MARATHON_APP_RESOURCE_CPUS", "0.1"),
            ("MARATHON_APP_RESOURCE_MEM", "10.0"),
            ("MARATHON_APP_RESOURCE_DISK", "0.0"),
            ("MARATHON_APP_RESOURCE_GPUS", "0"),
            ("MARATHON_APP_LABELS", ""),
            ("PORT0", "31000"),
            ("PORT_10000", "31000"),
            ("PORT_DEFAULT", "31000"),
            ("PORT", "31000"),
            ("PORTS", "31000"),
            ("HOST", "agent-1.example.com"),
        ];
        assert_eq!(env, expect.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>());
        assert!(get(&env, "MARATHON_APP_DOCKER_IMAGE").is_none());
        let resources = serde_json::to_value(&task.resources).expect("json");
        assert_eq!(resources.as_array().map(Vec::len), Some(3), "cpus, mem, ports: {resources}");
        assert_eq!(
            task.discovery,
            Some(json!({"visibility":"FRAMEWORK","name":"basic-0",
                "ports":{"ports":[{"number":31000,"name":"default","protocol":"tcp"}]}}))
        );
        assert!(task.health_check.is_none() && task.kill_policy.is_none() && task.labels.is_none());
    }

    #[test]
    fn basic_3_docker_bridge_task() {
        let a = app(json!({"id":"basic-3","cmd":"python3 -m http.server 8080","cpus":0.5,"mem":32.0,
            "container":{"type":"DOCKER","volumes":[{"containerPath":"/data","hostPath":"/tmp","mode":"RO"}],
            "docker":{"image":"python:3","network":"BRIDGE",
            "portMappings":[{"containerPort":8080,"hostPort":31000,"servicePort":10000,"protocol":"tcp"}],
            "privileged":false,"parameters":[{"key":"env","value":"A=1"}],"forcePullImage":true}}}));
        let task = build(&a, "cpus:1;mem:128;ports:[31000-32000]", &MatchConfig::default());
        let container = serde_json::to_value(task.container.as_ref().expect("container")).expect("json");
        assert_eq!(
            container,
            json!({"type":"DOCKER","volumes":[{"container_path":"/data","host_path":"/tmp","mode":"RO"}],
                "docker":{"image":"python:3","network":"BRIDGE",
                "port_mappings":[{"host_port":31000,"container_port":8080,"protocol":"tcp"}],
                "privileged":false,
                "parameters":[{"key":"env","value":"A=1"},{"key":"label","value":"MESOS_TASK_ID=basic-0.1234"}],
                "force_pull_image":true}})
        );
        let command = task.command.as_ref().expect("command");
        assert!(command.shell);
        assert_eq!(command.value.as_deref(), Some("python3 -m http.server 8080"));
        let env = env_of(&task);
        assert_eq!(get(&env, "MARATHON_APP_DOCKER_IMAGE"), Some("python:3"));
        assert_eq!(get(&env, "PORT0"), Some("31000"));
        assert_eq!(get(&env, "PORT_8080"), Some("31000"));
        assert_eq!(get(&env, "PORTS"), Some("31000"));
        assert_eq!(
            task.discovery.as_ref().map(|d| d["ports"]["ports"][0].clone()),
            Some(json!({"number":31000,"protocol":"tcp",
                "labels":{"labels":[{"key":"network-scope","value":"host"}]}}))
        );
    }

    #[test]
    fn container_port_zero_becomes_the_host_port() {
        let a = app(json!({"id":"d","cpus":0.1,"mem":10,"container":{"type":"DOCKER","docker":{"image":"x",
            "network":"BRIDGE","portMappings":[{"containerPort":0,"hostPort":0,"protocol":"udp,tcp"}]}}}));
        let task = build(&a, "cpus:1;mem:128;ports:[31000-32000]", &lowest());
        let docker = task.container.and_then(|c| c.docker).expect("docker");
        assert_eq!(
            docker.port_mappings,
            vec![
                MesosPortMapping { host_port: 31000, container_port: 31000, protocol: Some("udp".into()) },
                MesosPortMapping { host_port: 31000, container_port: 31000, protocol: Some("tcp".into()) },
            ]
        );
        // Docker without cmd/args runs the image's entrypoint.
        let command = task.command.expect("command");
        assert!(!command.shell);
        assert_eq!(command.value, None);
    }

    #[test]
    fn args_only_apps() {
        let a = app(json!({"id":"a","args":["/bin/echo","hi"],"cpus":0.1,"mem":10,"portDefinitions":[]}));
        let task = build(&a, "cpus:1;mem:128", &MatchConfig::default());
        let command = task.command.expect("command");
        assert!(!command.shell);
        assert_eq!(command.value.as_deref(), Some("/bin/echo"));
        assert_eq!(command.arguments, vec!["/bin/echo".to_string(), "hi".to_string()]);
        let d = app(json!({"id":"a","args":["--port","80"],"cpus":0.1,"mem":10,
            "container":{"type":"DOCKER","docker":{"image":"x","network":"HOST"}},"portDefinitions":[]}));
        let command = build(&d, "cpus:1;mem:128", &MatchConfig::default()).command.expect("command");
        assert!(!command.shell);
        assert_eq!(command.value, None, "Docker args go to the entrypoint");
        assert_eq!(command.arguments, vec!["--port".to_string(), "80".to_string()]);
    }

    #[test]
    fn env_labels_ports_prefix_and_overrides() {
        let long_key = "k".repeat(493);
        let a = app(json!({"id":"/web/db","cmd":"x","cpus":1,"mem":128,"gpus":0,
            "labels":{"my-label.x":"1","a b":"2", long_key.clone(): "skipped", "big": "v".repeat(512)},
            "env":{"PORT0":"overridden","OWN":"mine"},
            "portDefinitions":[{"port":10001,"name":"http"},{"port":0,"name":"admin"}]}));
        let config = MatchConfig {
            env_vars_prefix: Some("MY_".into()),
            port_selection: super::super::PortSelection::Lowest,
            mesos_user: Some("nobody".into()),
            ..MatchConfig::default()
        };
        let task = build(&a, "cpus:1;mem:128;ports:[31000-32000]", &config);
        assert_eq!(task.name, "db.web");
        let env = env_of(&task);
        assert_eq!(get(&env, "MARATHON_APP_LABELS"), Some("A_B MY_LABEL_X"));
        assert_eq!(get(&env, "MARATHON_APP_LABEL_MY_LABEL_X"), Some("1"));
        assert_eq!(get(&env, "MARATHON_APP_LABEL_A_B"), Some("2"));
        assert!(get(&env, "MARATHON_APP_LABEL_BIG").is_none());
        assert!(env.iter().all(|(n, _)| n.len() < 400), "long key skipped");
        assert_eq!(get(&env, "MARATHON_APP_RESOURCE_CPUS"), Some("1.0"));
        assert_eq!(get(&env, "MARATHON_APP_RESOURCE_MEM"), Some("128.0"));
        assert_eq!(get(&env, "MY_PORT0"), Some("31000"));
        assert_eq!(get(&env, "MY_PORT1"), Some("31001"));
        assert_eq!(get(&env, "MY_PORT_10001"), Some("31000"));
        assert_eq!(get(&env, "MY_PORT_31001"), Some("31001"), "port 0 is keyed by its host port");
        assert_eq!(get(&env, "MY_PORT_HTTP"), Some("31000"));
        assert_eq!(get(&env, "MY_PORT_ADMIN"), Some("31001"));
        assert_eq!(get(&env, "MY_PORT"), Some("31000"));
        assert_eq!(get(&env, "MY_PORTS"), Some("31000,31001"));
        assert_eq!(get(&env, "MY_HOST"), Some("agent-1.example.com"));
        assert!(get(&env, "HOST").is_none() && get(&env, "PORT0").is_some());
        assert_eq!(get(&env, "PORT0"), Some("overridden"), "app env is applied last, unprefixed");
        assert_eq!(get(&env, "OWN"), Some("mine"));
        assert_eq!(get(&env, "MARATHON_APP_ID"), Some("/web/db"));
        assert_eq!(task.command.and_then(|c| c.user).as_deref(), Some("nobody"));
    }

    #[test]
    fn secret_env_values_are_skipped() {
        let mut a = app(json!({"id":"a","cmd":"x","cpus":0.1,"mem":10,"portDefinitions":[]}));
        a.env.insert("S".into(), EnvVarValue::Secret("db".into()));
        a.user = Some("alice".into());
        let config = MatchConfig { mesos_user: Some("nobody".into()), ..MatchConfig::default() };
        let task = build(&a, "cpus:1;mem:128", &config);
        assert!(get(&env_of(&task), "S").is_none());
        assert!(get(&env_of(&task), "PORTS").is_none(), "no ports, no port variables");
        assert_eq!(task.command.and_then(|c| c.user).as_deref(), Some("alice"));
    }

    #[test]
    fn container_only_ports_get_container_port_env() {
        let a = app(json!({"id":"u","cpus":0.1,"mem":10,"container":{"type":"DOCKER","docker":{"image":"x",
            "network":"USER","portMappings":[{"containerPort":80,"name":"web"},{"containerPort":0},
            {"containerPort":81,"hostPort":0}]}}}));
        let task = build(&a, "cpus:1;mem:128;ports:[31000-32000]", &lowest());
        let env = env_of(&task);
        assert_eq!(get(&env, "PORT0"), Some("80"));
        assert_eq!(get(&env, "PORT_80"), Some("80"));
        let generated: u32 = get(&env, "PORT1").and_then(|p| p.parse().ok()).expect("generated port");
        assert!((1025..=65535).contains(&generated));
        assert_eq!(get(&env, &format!("PORT_{generated}")), Some(generated.to_string().as_str()));
        assert_eq!(get(&env, "PORT2"), Some("31000"));
        assert_eq!(get(&env, "PORT_81"), Some("31000"));
        assert!(get(&env, "PORT_WEB").is_none(), "only named ports with host ports");
        assert_eq!(get(&env, "PORT"), Some("31000"));
        assert_eq!(get(&env, "PORTS"), Some(format!("31000,{generated}").as_str()));
        let docker = task.container.and_then(|c| c.docker).expect("docker");
        assert_eq!(docker.network, "USER");
        assert_eq!(docker.port_mappings.len(), 1);
    }

    #[test]
    fn labels_fetch_kill_policy_and_discovery() {
        let a = app(json!({"id":"a","cmd":"x","cpus":0.1,"mem":10,"labels":{"team":"core"},
            "fetch":[{"uri":"http://x/a.tgz","extract":true,"executable":false,"cache":true,"destPath":"b.tgz"}],
            "taskKillGracePeriodSeconds":7,
            "portDefinitions":[{"port":10000,"protocol":"udp,tcp","name":"dns","labels":{"VIP":"1"}}]}));
        let task = build(&a, "cpus:1;mem:128;ports:[31000-32000]", &lowest());
        assert_eq!(
            serde_json::to_value(&task.labels).expect("json"),
            json!({"labels":[{"key":"team","value":"core"}]})
        );
        assert_eq!(task.kill_policy.and_then(|k| k.grace_period).map(|g| g.nanoseconds), Some(7_000_000_000));
        let uris = &task.command.as_ref().expect("command").uris;
        assert_eq!(
            serde_json::to_value(uris).expect("json"),
            json!([{"value":"http://x/a.tgz","executable":false,"extract":true,"cache":true,"output_file":"b.tgz"}])
        );
        let ports = &task.discovery.as_ref().expect("discovery")["ports"]["ports"];
        assert_eq!(
            ports,
            &json!([
                {"number":31000,"name":"dns","protocol":"udp","labels":{"labels":[{"key":"VIP","value":"1"}]}},
                {"number":31000,"name":"dns","protocol":"tcp","labels":{"labels":[{"key":"VIP","value":"1"}]}}
            ])
        );
    }

    #[test]
    fn mesos_health_checks() {
        let http = app(json!({"id":"a","cmd":"x","cpus":0.1,"mem":10,"ports":[10000,10001],
            "healthChecks":[{"protocol":"HTTP","path":"/ignored"},
                {"protocol":"MESOS_HTTP","path":"/health","portIndex":1,"gracePeriodSeconds":30,
                 "intervalSeconds":5,"timeoutSeconds":2,"maxConsecutiveFailures":4,"delaySeconds":1}]}));
        let task = build(&http, "cpus:1;mem:128;ports:[31000-32000]", &lowest());
        assert_eq!(
            task.health_check,
            Some(json!({"type":"HTTP","delay_seconds":1.0,"interval_seconds":5.0,"timeout_seconds":2.0,
                "consecutive_failures":4,"grace_period_seconds":30.0,
                "http":{"scheme":"http","port":31001,"path":"/health"}}))
        );
        let bridge = app(json!({"id":"b","cpus":0.1,"mem":10,"healthChecks":[{"protocol":"MESOS_TCP"}],
            "container":{"type":"DOCKER","docker":{"image":"x","network":"BRIDGE",
            "portMappings":[{"containerPort":8080,"hostPort":0}]}}}));
        let task = build(&bridge, "cpus:1;mem:128;ports:[31000-32000]", &lowest());
        assert_eq!(task.health_check.as_ref().map(|h| h["tcp"].clone()), Some(json!({"port":8080})));
        assert_eq!(task.health_check.as_ref().map(|h| h["type"].clone()), Some(json!("TCP")));
        let https = app(json!({"id":"c","cmd":"x","cpus":0.1,"mem":10,
            "healthChecks":[{"protocol":"MESOS_HTTPS","port":9443}]}));
        let task = build(&https, "cpus:1;mem:128;ports:[31000-32000]", &lowest());
        assert_eq!(task.health_check.as_ref().map(|h| h["http"].clone()), Some(json!({"scheme":"https","port":9443})));
        let command = app(json!({"id":"d","cmd":"x","cpus":0.1,"mem":10,
            "healthChecks":[{"protocol":"COMMAND","command":{"value":"true"}}]}));
        let task = build(&command, "cpus:1;mem:128;ports:[31000-32000]", &lowest());
        let check = task.health_check.expect("check");
        assert_eq!(check["type"], json!("COMMAND"));
        assert_eq!(check["command"], json!({"shell":true,"value":"true"}));
        assert_eq!(check["grace_period_seconds"], json!(300.0));
    }

    #[test]
    fn custom_executor() {
        let a = app(json!({"id":"a","cmd":"run.sh","executor":"/opt/exec","cpus":0.1,"mem":10,"portDefinitions":[]}));
        let task = build(&a, "cpus:1;mem:128", &MatchConfig::default());
        assert!(task.command.is_none());
        let executor = task.executor.expect("executor");
        assert_eq!(executor["executor_id"], json!({"value":"marathon-basic-0.1234"}));
        assert_eq!(executor["command"]["value"], json!("chmod ug+rx '/opt/exec' && exec '/opt/exec' run.sh"));
    }

    #[test]
    fn java_double_formatting() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(0.1), "0.1");
        assert_eq!(java_double(128.0), "128.0");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(1.5e7), "1.5E7");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(0.001), "0.001");
    }

    #[test]
    fn label_keys_are_sanitised() {
        assert_eq!(sanitize_label_key("my-label..x"), "MY_LABEL_X");
        assert_eq!(sanitize_label_key("a_b"), "A_B");
        assert_eq!(sanitize_label_key("ümlaut"), "_MLAUT");
    }
}
