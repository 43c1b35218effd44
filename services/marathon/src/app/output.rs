//! App JSON as Marathon 1.4 writes it (`AppDefWrites`), plus the AppInfo additions
//! (task counts, deployments, tasks, last failure) merged from plain data.

use serde_json::{json, Map, Value};

use super::definition::{
    AppDefinition, Constraint, Container, ContainerType, EnvVarValue, HealthCheck, HealthCheckProtocol, IpAddress,
    PortDefinition, PortMapping, PortReference, ReadinessCheck, UnreachableStrategy, Volume, RANDOM_PORT,
};

/// Serializes an app with exactly the 1.4 key set. `echo` = the POST `/v2/apps` response shape
/// (no `versionInfo`); service ports are written as stored (0 before assignment).
pub fn app_json(app: &AppDefinition, echo: bool) -> Value {
    let mut out = Map::new();
    let mut put = |key: &str, value: Value| {
        out.insert(key.to_string(), value);
    };
    put("id", json!(app.id.to_string()));
    put("cmd", json!(app.cmd));
    put("args", if app.args.is_empty() { Value::Null } else { json!(app.args) });
    put("user", json!(app.user));
    put("env", Value::Object(app.env.iter().map(|(k, v)| (k.clone(), env_json(v))).collect()));
    put("instances", json!(app.instances));
    put("cpus", number(app.cpus));
    put("mem", number(app.mem));
    put("disk", number(app.disk));
    put("gpus", json!(app.gpus));
    put("executor", json!(app.executor));
    put("constraints", Value::Array(app.constraints.iter().map(constraint_json).collect()));
    put("uris", Value::Array(app.fetch.iter().map(|f| json!(f.uri)).collect()));
    put("fetch", Value::Array(app.fetch.iter().map(fetch_json).collect()));
    put("storeUrls", json!(app.store_urls));
    put("backoffSeconds", json!(app.backoff_seconds));
    put("backoffFactor", number(app.backoff_factor));
    put("maxLaunchDelaySeconds", json!(app.max_launch_delay_seconds));
    put("container", app.container.as_ref().map_or(Value::Null, container_json));
    put("healthChecks", Value::Array(app.health_checks.iter().map(health_check_json).collect()));
    put("readinessChecks", Value::Array(app.readiness_checks.iter().map(readiness_check_json).collect()));
    put("dependencies", Value::Array(app.dependencies.iter().map(|d| json!(d.to_string())).collect()));
    put(
        "upgradeStrategy",
        json!({
            "minimumHealthCapacity": number(app.upgrade_strategy.minimum_health_capacity),
            "maximumOverCapacity": number(app.upgrade_strategy.maximum_over_capacity),
        }),
    );
    put("labels", json!(app.labels));
    put("ipAddress", app.ip_address.as_ref().map_or(Value::Null, ip_address_json));
    put("version", json!(app.version.to_string()));
    put(
        "residency",
        app.residency.map_or(Value::Null, |r| {
            json!({
                "relaunchEscalationTimeoutSeconds": r.relaunch_escalation_timeout_seconds,
                "taskLostBehavior": r.task_lost_behavior.as_str(),
            })
        }),
    );
    put(
        "secrets",
        Value::Object(app.secrets.iter().map(|(k, s)| (k.clone(), json!({ "source": s.source }))).collect()),
    );
    put("taskKillGracePeriodSeconds", json!(app.task_kill_grace_period_seconds));
    put("unreachableStrategy", unreachable_json(app.unreachable_strategy));
    put("killSelection", json!(app.kill_selection.as_str()));
    if !app.accepted_resource_roles.is_empty() {
        put("acceptedResourceRoles", json!(app.accepted_resource_roles));
    }
    if app.ip_address.is_none() {
        let service_ports = app.service_ports();
        put("ports", json!(service_ports));
        put("portDefinitions", Value::Array(output_port_definitions(app, &service_ports)));
        put("requirePorts", json!(app.require_ports));
    }
    if let Some(info) = app.version_info.filter(|_| !echo) {
        put(
            "versionInfo",
            json!({
                "lastScalingAt": info.last_scaling_at.to_string(),
                "lastConfigChangeAt": info.last_config_change_at.to_string(),
            }),
        );
    }
    Value::Object(out)
}

/// Task counters of an AppInfo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// Tasks without Mesos status or in TASK_STAGING.
    pub staged: u32,
    /// Tasks in TASK_RUNNING.
    pub running: u32,
    /// Tasks whose health results are all alive.
    pub healthy: u32,
    /// Tasks with a failing health result.
    pub unhealthy: u32,
}

/// Optional AppInfo parts; `None` leaves the key out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppInfoExtras {
    /// `tasksStaged`, `tasksRunning`, `tasksHealthy`, `tasksUnhealthy`.
    pub counts: Option<TaskCounts>,
    /// Ids for `deployments: [{"id": …}]`.
    pub deployment_ids: Option<Vec<String>>,
    /// Task JSON objects for `tasks`.
    pub tasks: Option<Vec<Value>>,
    /// `lastTaskFailure` object.
    pub last_task_failure: Option<Value>,
    /// `readinessCheckResults` (embed readiness).
    pub readiness_check_results: Option<Vec<Value>>,
    /// `taskStats` object (embed taskStats).
    pub task_stats: Option<Value>,
}

/// Adds the AppInfo keys in `extras` to an [`app_json`] value (non-objects are returned unchanged).
pub fn with_app_info(mut app: Value, extras: AppInfoExtras) -> Value {
    let Some(obj) = app.as_object_mut() else {
        return app;
    };
    if let Some(c) = extras.counts {
        obj.insert("tasksStaged".into(), json!(c.staged));
        obj.insert("tasksRunning".into(), json!(c.running));
        obj.insert("tasksHealthy".into(), json!(c.healthy));
        obj.insert("tasksUnhealthy".into(), json!(c.unhealthy));
    }
    if let Some(ids) = extras.deployment_ids {
        obj.insert("deployments".into(), ids.iter().map(|id| json!({ "id": id })).collect());
    }
    if let Some(results) = extras.readiness_check_results {
        obj.insert("readinessCheckResults".into(), Value::Array(results));
    }
    // Moved, not `json!`-copied: with every task embedded this is most of a large `/v2/apps` answer.
    if let Some(tasks) = extras.tasks {
        obj.insert("tasks".into(), Value::Array(tasks));
    }
    if let Some(failure) = extras.last_task_failure {
        obj.insert("lastTaskFailure".into(), failure);
    }
    if let Some(stats) = extras.task_stats {
        obj.insert("taskStats".into(), stats);
    }
    app
}

/// A JSON number written like play-json: whole values without a fraction (`10.0` → `10`).
pub fn number(x: f64) -> Value {
    const EXACT_INT_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53
    if x.fract() == 0.0 && x.abs() < EXACT_INT_LIMIT {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// Port definitions as written: numbers replaced by the service ports (padded like `zipAll`).
fn output_port_definitions(app: &AppDefinition, service_ports: &[i32]) -> Vec<Value> {
    if service_ports.is_empty() {
        return app.port_definitions.iter().map(port_definition_json).collect();
    }
    let len = app.port_definitions.len().max(service_ports.len());
    (0..len)
        .map(|i| {
            let definition = app.port_definitions.get(i).cloned().unwrap_or_else(|| PortDefinition::new(RANDOM_PORT));
            let port = service_ports.get(i).copied().unwrap_or(RANDOM_PORT);
            port_definition_json(&PortDefinition { port, ..definition })
        })
        .collect()
}

fn port_definition_json(p: &PortDefinition) -> Value {
    let mut obj = Map::new();
    obj.insert("port".into(), json!(p.port));
    obj.insert("protocol".into(), json!(p.protocol));
    if let Some(name) = &p.name {
        obj.insert("name".into(), json!(name));
    }
    obj.insert("labels".into(), json!(p.labels));
    Value::Object(obj)
}

fn env_json(v: &EnvVarValue) -> Value {
    match v {
        EnvVarValue::Value(s) => json!(s),
        EnvVarValue::Secret(name) => json!({ "secret": name }),
    }
}

fn constraint_json(c: &Constraint) -> Value {
    let mut parts = vec![json!(c.field), json!(c.operator)];
    if let Some(value) = &c.value {
        parts.push(json!(value));
    }
    Value::Array(parts)
}

fn fetch_json(f: &super::definition::FetchUri) -> Value {
    let mut obj = Map::new();
    obj.insert("uri".into(), json!(f.uri));
    obj.insert("extract".into(), json!(f.extract));
    obj.insert("executable".into(), json!(f.executable));
    obj.insert("cache".into(), json!(f.cache));
    if let Some(dest) = &f.dest_path {
        obj.insert("destPath".into(), json!(dest));
    }
    Value::Object(obj)
}

fn container_json(c: &Container) -> Value {
    let volumes: Vec<Value> = c.volumes.iter().map(volume_json).collect();
    let mut obj = Map::new();
    obj.insert("type".into(), json!(c.kind.as_str()));
    obj.insert("volumes".into(), Value::Array(volumes));
    if let Some(d) = &c.docker {
        let docker = match c.kind {
            ContainerType::Docker => json!({
                "image": d.image,
                "network": d.network.map(|n| n.as_str()),
                "portMappings": d.port_mappings.iter().map(port_mapping_json).collect::<Vec<_>>(),
                "privileged": d.privileged,
                "parameters": d.parameters.iter().map(|p| json!({"key": p.key, "value": p.value})).collect::<Vec<_>>(),
                "forcePullImage": d.force_pull_image,
            }),
            ContainerType::Mesos => json!({
                "image": d.image,
                "credential": d.credential.as_ref().map(|c| {
                    let mut cred = Map::new();
                    cred.insert("principal".into(), json!(c.principal));
                    if let Some(secret) = &c.secret {
                        cred.insert("secret".into(), json!(secret));
                    }
                    Value::Object(cred)
                }),
                "forcePullImage": d.force_pull_image,
            }),
        };
        obj.insert("docker".into(), docker);
    }
    Value::Object(obj)
}

fn port_mapping_json(m: &PortMapping) -> Value {
    let mut obj = Map::new();
    obj.insert("containerPort".into(), json!(m.container_port));
    if let Some(host_port) = m.host_port {
        obj.insert("hostPort".into(), json!(host_port));
    }
    obj.insert("servicePort".into(), json!(m.service_port));
    obj.insert("protocol".into(), json!(m.protocol));
    if let Some(name) = &m.name {
        obj.insert("name".into(), json!(name));
    }
    obj.insert("labels".into(), json!(m.labels));
    Value::Object(obj)
}

fn volume_json(v: &Volume) -> Value {
    let mut obj = Map::new();
    obj.insert("containerPath".into(), json!(v.container_path));
    if let Some(host_path) = &v.host_path {
        obj.insert("hostPath".into(), json!(host_path));
    }
    obj.insert("mode".into(), json!(v.mode.as_str()));
    if let Some(p) = &v.persistent {
        let mut info = Map::new();
        info.insert("size".into(), json!(p.size));
        if let Some(max) = p.max_size {
            info.insert("maxSize".into(), json!(max));
        }
        info.insert("type".into(), json!(p.disk_type));
        info.insert("constraints".into(), p.constraints.iter().map(constraint_json).collect());
        obj.insert("persistent".into(), Value::Object(info));
    }
    if let Some(e) = &v.external {
        let mut info = Map::new();
        if let Some(size) = e.size {
            info.insert("size".into(), json!(size));
        }
        info.insert("name".into(), json!(e.name));
        info.insert("provider".into(), json!(e.provider));
        info.insert("options".into(), json!(e.options));
        obj.insert("external".into(), Value::Object(info));
    }
    Value::Object(obj)
}

/// A health check as 1.4 writes it (keys depend on the protocol).
pub fn health_check_json(hc: &HealthCheck) -> Value {
    let mut obj = Map::new();
    obj.insert("gracePeriodSeconds".into(), json!(hc.grace_period_seconds));
    obj.insert("intervalSeconds".into(), json!(hc.interval_seconds));
    obj.insert("timeoutSeconds".into(), json!(hc.timeout_seconds));
    obj.insert("maxConsecutiveFailures".into(), json!(hc.max_consecutive_failures));
    if hc.protocol.uses_port() {
        match &hc.port_index {
            Some(PortReference::Index(i)) => obj.insert("portIndex".into(), json!(i)),
            Some(PortReference::Name(n)) => obj.insert("portIndex".into(), json!(n)),
            None => None,
        };
        if let Some(port) = hc.port {
            obj.insert("port".into(), json!(port));
        }
    }
    if let Some(path) = hc.path.as_ref().filter(|_| hc.protocol.is_http()) {
        obj.insert("path".into(), json!(path));
    }
    obj.insert("protocol".into(), json!(hc.protocol.as_str()));
    if matches!(hc.protocol, HealthCheckProtocol::Http | HealthCheckProtocol::Https) {
        obj.insert("ignoreHttp1xx".into(), json!(hc.ignore_http1xx));
    }
    if hc.protocol.is_mesos() {
        obj.insert("delaySeconds".into(), json!(hc.delay_seconds));
    }
    if hc.protocol == HealthCheckProtocol::Command {
        obj.insert("command".into(), json!({ "value": hc.command.clone().unwrap_or_default() }));
    }
    Value::Object(obj)
}

fn readiness_check_json(rc: &ReadinessCheck) -> Value {
    json!({
        "name": rc.name,
        "protocol": rc.protocol.as_str(),
        "path": rc.path,
        "portName": rc.port_name,
        "intervalSeconds": rc.interval_seconds,
        "timeoutSeconds": rc.timeout_seconds,
        "httpStatusCodesForReady": rc.http_status_codes_for_ready,
        "preserveLastResponse": rc.preserve_last_response,
    })
}

fn ip_address_json(ip: &IpAddress) -> Value {
    let ports: Vec<Value> = ip
        .discovery_ports
        .iter()
        .map(|p| json!({"number": p.number, "name": p.name, "protocol": p.protocol, "labels": p.labels}))
        .collect();
    let mut obj = Map::new();
    obj.insert("groups".into(), json!(ip.groups));
    obj.insert("labels".into(), json!(ip.labels));
    obj.insert("discovery".into(), json!({ "ports": ports }));
    if let Some(name) = &ip.network_name {
        obj.insert("networkName".into(), json!(name));
    }
    Value::Object(obj)
}

fn unreachable_json(s: UnreachableStrategy) -> Value {
    match s {
        UnreachableStrategy::Disabled => json!("disabled"),
        UnreachableStrategy::Enabled { inactive_after_seconds, expunge_after_seconds } => json!({
            "inactiveAfterSeconds": inactive_after_seconds,
            "expungeAfterSeconds": expunge_after_seconds,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::definition::VersionInfo;
    use super::super::parse::{app_from_json, parse_app};
    use super::super::path_id::PathId;
    use super::super::timestamp::Timestamp;
    use super::*;

    /// Body of the seed tutorial's basic-0 app.
    const BASIC_0: &str = r#"{
        "id": "basic-0",
        "cmd": "while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done",
        "cpus": 0.1,
        "mem": 10.0,
        "instances": 1
    }"#;

    /// Body of the seed tutorial's basic-3 Docker app.
    const BASIC_3: &str = r#"{
      "id": "basic-3",
      "cmd": "python3 -m http.server 8080",
      "cpus": 0.5,
      "mem": 32.0,
      "container": {
          "type": "DOCKER",
          "volumes": [],
          "docker": {
            "image": "python:3",
            "network": "BRIDGE",
            "portMappings": [
              { "containerPort": 8080, "hostPort": 31000, "servicePort": 0, "protocol": "tcp" }
            ],
            "privileged": false,
            "parameters": [],
            "forcePullImage": true
          }
      }
    }"#;

    /// The seed's POST /v2/apps response for basic-0.
    const BASIC_0_ECHO: &str = r#"{"id":"/basic-0","cmd":"while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done","args":null,"user":null,"env":{},"instances":1,"cpus":0.1,"mem":10,"disk":0,"executor":"","constraints":[],"uris":[],"storeUrls":[],"ports":[0],"requirePorts":false,"backoffSeconds":1,"backoffFactor":1.15,"maxLaunchDelaySeconds":3600,"container":null,"healthChecks":[],"dependencies":[],"upgradeStrategy":{"minimumHealthCapacity":1,"maximumOverCapacity":1},"labels":{},"acceptedResourceRoles":null,"version":"2015-12-28T05:33:05.805Z","tasksStaged":0,"tasksRunning":0,"tasksHealthy":0,"tasksUnhealthy":0,"deployments":[{"id":"3ec3fbd5-11e4-479f-bd17-813d33e43e0c"}],"tasks":[]}"#;

    /// Keys marathon-python 0.13's strict App model accepts.
    const CLIENT_APP_KEYS: [&str; 47] = [
        "acceptedResourceRoles",
        "args",
        "backoffFactor",
        "backoffSeconds",
        "cmd",
        "constraints",
        "container",
        "cpus",
        "dependencies",
        "deployments",
        "disk",
        "env",
        "executor",
        "fetch",
        "gpus",
        "healthChecks",
        "id",
        "instances",
        "ipAddress",
        "killSelection",
        "labels",
        "lastTaskFailure",
        "maxLaunchDelaySeconds",
        "mem",
        "networks",
        "portDefinitions",
        "ports",
        "readinessCheckResults",
        "readinessChecks",
        "requirePorts",
        "residency",
        "role",
        "secrets",
        "storeUrls",
        "taskKillGracePeriodSeconds",
        "taskRateLimit",
        "taskStats",
        "tasks",
        "tasksHealthy",
        "tasksRunning",
        "tasksStaged",
        "tasksUnhealthy",
        "unreachableStrategy",
        "upgradeStrategy",
        "uris",
        "user",
        "version",
    ];

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
    }

    fn posted_echo(app: &AppDefinition) -> Value {
        with_app_info(
            app_json(app, true),
            AppInfoExtras {
                counts: Some(TaskCounts::default()),
                deployment_ids: Some(vec!["3ec3fbd5-11e4-479f-bd17-813d33e43e0c".into()]),
                tasks: Some(Vec::new()),
                ..AppInfoExtras::default()
            },
        )
    }

    #[test]
    fn basic_0_echo_matches_seed_key_by_key() {
        let app = parse_app(BASIC_0.as_bytes(), &PathId::root()).expect("basic-0 parses");
        let ours = posted_echo(&app);
        let seed: Value = serde_json::from_str(BASIC_0_ECHO).expect("seed json");
        for (key, expected) in seed.as_object().expect("object") {
            match key.as_str() {
                "version" => assert!(ours[key].as_str().and_then(Timestamp::parse).is_some()),
                "deployments" => assert_eq!(ours[key].as_array().map(Vec::len), Some(1)),
                // 1.4 omits unset acceptedResourceRoles; the (0.x) seed wrote null. Absent == null for clients.
                "acceptedResourceRoles" => assert!(ours.get(key).is_none() && expected.is_null()),
                _ => assert_eq!(&ours[key], expected, "key {key}"),
            }
        }
        let seed_keys = keys(&seed);
        let extra: BTreeSet<String> = keys(&ours).difference(&seed_keys).cloned().collect();
        let expected_extra: BTreeSet<String> = [
            "fetch",
            "gpus",
            "portDefinitions",
            "readinessChecks",
            "ipAddress",
            "residency",
            "secrets",
            "taskKillGracePeriodSeconds",
            "unreachableStrategy",
            "killSelection",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(extra, expected_extra);
        assert_eq!(ours["portDefinitions"], json!([{"port":0,"protocol":"tcp","name":"default","labels":{}}]));
        assert_eq!(ours["unreachableStrategy"], json!({"inactiveAfterSeconds":0,"expungeAfterSeconds":0}));
        assert_eq!(ours["killSelection"], json!("YOUNGEST_FIRST"));
    }

    #[test]
    fn output_keys_are_allowed_by_marathon_python() {
        let mut app = parse_app(BASIC_3.as_bytes(), &PathId::root()).expect("basic-3");
        app.accepted_resource_roles.insert("*".into());
        app.version_info = Some(VersionInfo { last_scaling_at: app.version, last_config_change_at: app.version });
        let full = with_app_info(
            app_json(&app, false),
            AppInfoExtras {
                counts: Some(TaskCounts { staged: 1, running: 2, healthy: 0, unhealthy: 0 }),
                deployment_ids: Some(Vec::new()),
                tasks: Some(Vec::new()),
                last_task_failure: Some(json!({"appId": "/basic-3"})),
                readiness_check_results: Some(Vec::new()),
                task_stats: Some(json!({})),
            },
        );
        let allowed: BTreeSet<String> =
            CLIENT_APP_KEYS.iter().map(|k| k.to_string()).chain(["versionInfo".into()]).collect();
        let ours = keys(&full);
        assert!(ours.is_subset(&allowed), "unexpected keys: {:?}", ours.difference(&allowed).collect::<Vec<_>>());
        assert_eq!(full["acceptedResourceRoles"], json!(["*"]));
        assert_eq!(full["tasksRunning"], json!(2));
        assert!(full["versionInfo"]["lastScalingAt"].is_string());
        assert!(app_json(&app, true).get("versionInfo").is_none());
    }

    #[test]
    fn basic_3_docker_output() {
        let app = parse_app(BASIC_3.as_bytes(), &PathId::root()).expect("basic-3");
        let out = app_json(&app, true);
        assert_eq!(
            out["container"],
            json!({"type":"DOCKER","volumes":[],"docker":{"image":"python:3","network":"BRIDGE",
                "portMappings":[{"containerPort":8080,"hostPort":31000,"servicePort":0,"protocol":"tcp","labels":{}}],
                "privileged":false,"parameters":[],"forcePullImage":true}})
        );
        assert_eq!(out["ports"], json!([0]));
        assert_eq!(out["cpus"], json!(0.5));
        assert_eq!(out["mem"], json!(32));
        assert_eq!(out["args"], Value::Null);
    }

    #[test]
    fn seed_bodies_round_trip() {
        for body in [BASIC_0, BASIC_3] {
            let app = parse_app(body.as_bytes(), &PathId::root()).expect("parses");
            let again = app_from_json(&app_json(&app, false), &PathId::root()).expect("re-parses");
            assert_eq!(again, app);
        }
    }

    #[test]
    fn complex_app_round_trips() {
        let body = json!({
            "id": "/prod/api", "args": ["serve", "--port", "$PORT0"], "user": "nobody",
            "env": {"A": "1", "S": {"secret": "pw"}}, "instances": 3, "cpus": 0.25, "mem": 64.5, "disk": 10,
            "gpus": 0, "executor": "//cmd", "constraints": [["hostname", "UNIQUE"], ["rack", "GROUP_BY", "2"]],
            "fetch": [{"uri": "http://x/y.tgz", "cache": true, "destPath": "y.tgz"}],
            "storeUrls": ["http://store/x"], "portDefinitions": [{"port": 10001, "name": "http", "labels": {"a": "b"}}],
            "requirePorts": true, "backoffSeconds": 2, "backoffFactor": 2, "maxLaunchDelaySeconds": 60,
            "healthChecks": [
                {"protocol": "HTTP", "path": "/health", "portIndex": 0, "ignoreHttp1xx": true},
                {"protocol": "TCP", "port": 9000, "maxConsecutiveFailures": 0},
                {"protocol": "COMMAND", "command": {"value": "curl -f localhost"}},
                {"protocol": "MESOS_HTTPS", "portIndex": 0, "delaySeconds": 3}
            ],
            "readinessChecks": [{"name": "ready", "portName": "http", "httpStatusCodesForReady": [200, 204]}],
            "dependencies": ["/prod/db"], "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.2},
            "labels": {"HAPROXY_GROUP": "external"}, "acceptedResourceRoles": ["*", "prod"],
            "secrets": {"pw": {"source": "/vault/pw"}}, "taskKillGracePeriodSeconds": 30,
            "unreachableStrategy": {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120},
            "killSelection": "OLDEST_FIRST",
            "container": {"type": "MESOS", "volumes": [
                {"containerPath": "/etc/x", "hostPath": "/etc/x", "mode": "RO"},
                {"containerPath": "ext", "mode": "RW", "external": {"name": "v1", "provider": "dvdi", "options": {"dvdi/driver": "rexray"}}}
            ], "docker": {"image": "busybox", "credential": {"principal": "me", "secret": "s"}, "forcePullImage": true}}
        });
        let app = app_from_json(&body, &PathId::root()).expect("parses");
        let out = app_json(&app, false);
        let again = app_from_json(&out, &PathId::root()).expect("re-parses");
        assert_eq!(again, app);
        assert_eq!(
            out["healthChecks"][1],
            json!({"gracePeriodSeconds":300,"intervalSeconds":60,"timeoutSeconds":20,
            "maxConsecutiveFailures":0,"port":9000,"protocol":"TCP"})
        );
        assert_eq!(
            out["healthChecks"][2],
            json!({"gracePeriodSeconds":300,"intervalSeconds":60,"timeoutSeconds":20,
            "maxConsecutiveFailures":3,"protocol":"COMMAND","delaySeconds":15,"command":{"value":"curl -f localhost"}})
        );
        assert_eq!(
            out["container"]["docker"],
            json!({"image":"busybox","credential":{"principal":"me","secret":"s"},"forcePullImage":true})
        );
        assert_eq!(out["env"]["S"], json!({"secret":"pw"}));
        assert_eq!(out["constraints"], json!([["hostname", "UNIQUE"], ["rack", "GROUP_BY", "2"]]));
        assert_eq!(out["uris"], json!(["http://x/y.tgz"]));
        assert_eq!(out["backoffFactor"], json!(2));
        assert_eq!(out["readinessChecks"][0]["httpStatusCodesForReady"], json!([200, 204]));
    }

    #[test]
    fn ip_address_apps_have_no_port_keys() {
        let app = app_from_json(
            &json!({"id":"a","cmd":"x","ipAddress":{"networkName":"dcos","discovery":{"ports":[{"number":80,"name":"http","protocol":"tcp"}]}}}),
            &PathId::root(),
        )
        .expect("ip app");
        let out = app_json(&app, false);
        for key in ["ports", "portDefinitions", "requirePorts"] {
            assert!(out.get(key).is_none(), "{key}");
        }
        assert_eq!(
            out["ipAddress"],
            json!({"groups":[],"labels":{},"discovery":{"ports":[{"number":80,"name":"http","protocol":"tcp","labels":{}}]},"networkName":"dcos"})
        );
    }

    #[test]
    fn numbers_are_written_like_play_json() {
        assert_eq!(number(10.0), json!(10));
        assert_eq!(number(0.1), json!(0.1));
        assert_eq!(number(-3.0), json!(-3));
        assert_eq!(number(1.15), json!(1.15));
    }

    #[test]
    fn port_definitions_follow_assigned_mappings() {
        let mut app = parse_app(BASIC_3.as_bytes(), &PathId::root()).expect("basic-3");
        if let Some(d) = app.container.as_mut().and_then(|c| c.docker.as_mut()) {
            d.port_mappings[0].service_port = 10000;
            d.port_mappings.push(PortMapping { service_port: 10001, ..d.port_mappings[0].clone() });
        }
        let out = app_json(&app, false);
        assert_eq!(out["ports"], json!([10000, 10001]));
        assert_eq!(
            out["portDefinitions"],
            json!([{"port":10000,"protocol":"tcp","name":"default","labels":{}},{"port":10001,"protocol":"tcp","labels":{}}])
        );
    }
}
