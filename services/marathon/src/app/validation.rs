//! App validation with Marathon 1.4's (accord) rules, paths and messages, reported as
//! 422 `Object is not valid`.

use std::collections::{BTreeMap, BTreeSet};

use super::definition::{
    AppDefinition, Constraint, ContainerType, DockerNetwork, EnvVarValue, HealthCheck, PortReference, ReadinessCheck,
    UnreachableStrategy, Volume, RANDOM_PORT,
};
use super::errors::{ApiError, Violation};
use super::parse::{EXECUTOR_PATTERN, PORT_NAME_PATTERN};
use super::path_id::{PathId, ID_SEGMENT_PATTERN};
use super::pattern::full_match;

/// Feature flag names (`--enable_features`) that affect validation.
pub const FEATURE_GPU_RESOURCES: &str = "gpu_resources";
/// Secrets feature flag.
pub const FEATURE_SECRETS: &str = "secrets";
/// External volumes feature flag.
pub const FEATURE_EXTERNAL_VOLUMES: &str = "external_volumes";

/// Context of a validation run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationOptions {
    /// Enabled `--enable_features`.
    pub enabled_features: BTreeSet<String>,
    /// For apps submitted inside a group: the group the app id must be a child of.
    pub group: Option<PathId>,
}

/// Validates an app with default options (no features enabled, top-level app).
pub fn validate_app(app: &AppDefinition) -> Result<(), ApiError> {
    validate_app_with(app, &ValidationOptions::default())
}

/// Validates an app; failures become a 422 `Object is not valid` error.
pub fn validate_app_with(app: &AppDefinition, options: &ValidationOptions) -> Result<(), ApiError> {
    let violations = app_violations(app, options);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(&violations))
    }
}

/// All rule violations of an app (for callers that aggregate several apps, e.g. groups).
pub fn app_violations(app: &AppDefinition, options: &ValidationOptions) -> Vec<Violation> {
    let mut v = Violations::default();
    let feature = |name: &str| options.enabled_features.contains(name);

    check_id(&mut v, app, options.group.as_ref());
    for dependency in &app.dependencies {
        if !dependency.invalid_segments().is_empty() {
            v.add("/dependencies", regex_message(ID_SEGMENT_PATTERN));
        }
    }
    v.between("/upgradeStrategy/minimumHealthCapacity", app.upgrade_strategy.minimum_health_capacity);
    v.between("/upgradeStrategy/maximumOverCapacity", app.upgrade_strategy.maximum_over_capacity);
    check_container(&mut v, app, feature(FEATURE_EXTERNAL_VOLUMES));
    for (i, url) in app.store_urls.iter().enumerate() {
        if let Some(message) = url_error(url) {
            v.add(format!("/storeUrls({i})"), message);
        }
    }
    check_port_definitions(&mut v, app);
    if full_match(EXECUTOR_PATTERN, &app.executor) != Some(true) {
        v.add("/executor", regex_message(EXECUTOR_PATTERN));
    }
    if !has_cmd_args_or_container(app) {
        v.add("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.");
    }
    let port_count = app.host_ports().len();
    for (i, hc) in app.health_checks.iter().enumerate() {
        if !port_index_is_valid(hc, port_count) {
            v.add(
                format!("/healthChecks({i})"),
                "Health check port indices must address an element of the ports array or container port mappings.",
            );
        }
    }
    let mesos_port_checks =
        app.health_checks.iter().filter(|hc| hc.protocol.is_mesos() && hc.protocol.uses_port()).count();
    if mesos_port_checks > 1 {
        v.add("/", "AppDefinition can contain at most one Mesos health check");
    }
    v.at_least_int("/instances", app.instances.into(), 0);
    for (i, fetch) in app.fetch.iter().enumerate() {
        if !uri_syntax_is_valid(&fetch.uri) {
            v.add(format!("/fetch({i})"), "URI has invalid syntax.");
        }
    }
    v.at_least_double("/mem", app.mem);
    v.at_least_double("/cpus", app.cpus);
    v.at_least_double("/disk", app.disk);
    v.at_least_int("/gpus", app.gpus.into(), 0);
    check_secrets_and_env(&mut v, app, feature(FEATURE_SECRETS));
    check_roles(&mut v, app);
    if app.gpus > 0 {
        if app.container.as_ref().is_some_and(|c| c.kind == ContainerType::Docker) {
            v.add("/", "GPU resources only work with the Mesos containerizer");
        }
        if !feature(FEATURE_GPU_RESOURCES) {
            v.add("/", feature_message(FEATURE_GPU_RESOURCES));
        }
    }
    check_migration_labels(&mut v, &app.labels);
    check_readiness(&mut v, app);
    if app.residency.is_some() != app.has_persistent_volumes() {
        v.add("/", "AppDefinition must contain persistent volumes and define residency");
    }
    if app.is_single_instance() {
        if app.instances > 1 {
            v.add("/", "Single instance app may only have one instance");
        }
        v.equals_zero("/upgradeStrategy/minimumHealthCapacity", app.upgrade_strategy.minimum_health_capacity);
        v.equals_zero("/upgradeStrategy/maximumOverCapacity", app.upgrade_strategy.maximum_over_capacity);
    }
    if app.is_resident() {
        v.equals_zero("/upgradeStrategy/maximumOverCapacity", app.upgrade_strategy.maximum_over_capacity);
        if app.unreachable_strategy != UnreachableStrategy::Disabled {
            v.add("/", "unreachableStrategy must be disabled for resident tasks");
        }
    }
    for constraint in &app.constraints {
        if let Some(message) = constraint_error(constraint) {
            v.add("/constraints", message);
        }
    }
    if let Some(ip) = &app.ip_address {
        if !ip.discovery_ports.is_empty()
            && matches!(app.docker_network(), Some(DockerNetwork::Bridge | DockerNetwork::User))
        {
            v.add(
                "/ipAddress",
                "ipAddress/discovery is not allowed for Docker containers using BRIDGE or USER networks",
            );
        }
        if !app.port_definitions.is_empty() {
            v.add("/", "You cannot specify both an IP address and ports");
        }
    }
    if let UnreachableStrategy::Enabled { inactive_after_seconds, expunge_after_seconds } = app.unreachable_strategy {
        if inactive_after_seconds < 0 {
            v.add(
                "/unreachableStrategy/inactiveAfter",
                format!("got {}, expected {} or more", seconds(inactive_after_seconds), seconds(0)),
            );
        }
        if inactive_after_seconds > expunge_after_seconds {
            v.add(
                "/unreachableStrategy/inactiveAfter",
                format!("got {}, expected {} or less", seconds(inactive_after_seconds), seconds(expunge_after_seconds)),
            );
        }
    }
    v.0
}

/// Collected violations with accord-style message helpers.
#[derive(Default)]
struct Violations(Vec<Violation>);

impl Violations {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Violation::new(path, message));
    }

    fn at_least_int(&mut self, path: &str, value: i64, min: i64) {
        if value < min {
            self.add(path, format!("got {value}, expected {min} or more"));
        }
    }

    fn at_least_double(&mut self, path: &str, value: f64) {
        if value.is_nan() || value < 0.0 {
            self.add(path, format!("got {}, expected 0.0 or more", java_double(value)));
        }
    }

    fn between(&mut self, path: &str, value: f64) {
        if value.is_nan() || !(0.0..=1.0).contains(&value) {
            self.add(path, format!("got {}, expected between 0.0 and 1.0", java_double(value)));
        }
    }

    fn equals_zero(&mut self, path: &str, value: f64) {
        if value != 0.0 {
            self.add(path, format!("got {}, expected 0.0", java_double(value)));
        }
    }

    fn not_empty(&mut self, path: &str, value: &str) {
        if value.is_empty() {
            self.add(path, "must not be empty");
        }
    }
}

fn check_id(v: &mut Violations, app: &AppDefinition, group: Option<&PathId>) {
    if !app.id.invalid_segments().is_empty() {
        v.add("/id", regex_message(ID_SEGMENT_PATTERN));
    }
    match group {
        Some(group) => {
            if !app.id.canonical(group).is_child_of(group) {
                v.add("/id", format!("Identifier is not child of {group}. Hint: use relative paths."));
            }
        }
        None => {
            if !app.id.is_absolute() {
                v.add("/id", "Path needs to be absolute");
            }
        }
    }
    if app.id.is_root() {
        v.add("/id", "Path must contain at least one path element");
    }
}

fn check_container(v: &mut Violations, app: &AppDefinition, external_volumes_enabled: bool) {
    let Some(container) = &app.container else {
        return;
    };
    match (&container.docker, container.kind) {
        (Some(docker), kind) => {
            v.not_empty("/container/image", &docker.image);
            if kind == ContainerType::Docker {
                let mut names = Vec::new();
                for (i, m) in docker.port_mappings.iter().enumerate() {
                    let path = format!("/container/portMappings({i})");
                    check_protocol(v, &format!("{path}/protocol"), &m.protocol);
                    v.at_least_int(&format!("{path}/containerPort"), m.container_port.into(), 0);
                    if let Some(host_port) = m.host_port {
                        v.at_least_int(&format!("{path}/hostPort"), host_port.into(), 0);
                    }
                    v.at_least_int(&format!("{path}/servicePort"), m.service_port.into(), 0);
                    check_port_name(v, &format!("{path}/name"), m.name.as_deref());
                    if docker.network == Some(DockerNetwork::Bridge) && m.host_port.is_none() {
                        v.add(path, "hostPort is required for BRIDGE mode.");
                    }
                    names.extend(m.name.as_deref());
                }
                if !all_unique(&names) {
                    v.add("/container/portMappings", "Port names must be unique.");
                }
            }
        }
        (None, ContainerType::Docker) => v.add("/container/docker", "must not be empty"),
        (None, ContainerType::Mesos) => {}
    }
    for (i, volume) in container.volumes.iter().enumerate() {
        check_volume(v, &format!("/container/volumes({i})"), volume, external_volumes_enabled);
    }
}

fn check_volume(v: &mut Violations, path: &str, volume: &Volume, external_volumes_enabled: bool) {
    let container_path = format!("{path}/containerPath");
    v.not_empty(&container_path, &volume.container_path);
    if let Some(p) = &volume.persistent {
        if volume.container_path == "." || volume.container_path == ".." {
            v.add(&container_path, "can not be one of (.,..)");
        }
        if volume.container_path.contains('/') {
            v.add(&container_path, "value must not contain \"/\"");
        }
        if p.size <= 0 {
            v.add(format!("{path}/persistent/size"), format!("got {}, expected more than 0", p.size));
        }
        if p.disk_type != "mount" && p.max_size.is_some() {
            v.add(format!("{path}/persistent"), "Only mount volumes can have maxSize");
        }
        if p.disk_type == "root" && !p.constraints.is_empty() {
            v.add(format!("{path}/persistent"), "Constraints on root volumes are not supported");
        }
        if p.max_size.is_some_and(|max| max <= p.size) {
            v.add(format!("{path}/persistent"), "Max size must be larger than size");
        }
        if volume.mode != super::definition::VolumeMode::Rw {
            v.add(format!("{path}/mode"), "does not equal RW");
        }
    } else if let Some(e) = &volume.external {
        if !external_volumes_enabled {
            v.add(path, feature_message(FEATURE_EXTERNAL_VOLUMES));
        }
        v.not_empty(&format!("{path}/external/name"), &e.name);
        v.not_empty(&format!("{path}/external/provider"), &e.provider);
    } else {
        v.not_empty(&format!("{path}/hostPath"), volume.host_path.as_deref().unwrap_or_default());
    }
}

fn check_port_definitions(v: &mut Violations, app: &AppDefinition) {
    let mut names = Vec::new();
    let mut fixed_ports = Vec::new();
    for (i, p) in app.port_definitions.iter().enumerate() {
        let path = format!("/portDefinitions({i})");
        check_protocol(v, &format!("{path}/protocol"), &p.protocol);
        v.at_least_int(&format!("{path}/port"), p.port.into(), 0);
        check_port_name(v, &format!("{path}/name"), p.name.as_deref());
        names.extend(p.name.as_deref());
        if p.port != RANDOM_PORT {
            fixed_ports.push(p.port);
        }
    }
    if !all_unique(&names) {
        v.add("/portDefinitions", "Port names must be unique.");
    }
    if !all_unique(&fixed_ports) {
        v.add("/portDefinitions", "Ports must be unique.");
    }
}

fn check_protocol(v: &mut Violations, path: &str, protocol: &str) {
    let parts: Vec<&str> = protocol.split(',').collect();
    if !all_unique(&parts) {
        v.add(path, "protocols must be unique.");
    }
    if parts.iter().any(|p| *p != "tcp" && *p != "udp") {
        v.add(path, "is not one of (tcp,udp)");
    }
}

fn check_port_name(v: &mut Violations, path: &str, name: Option<&str>) {
    if name.is_some_and(|n| full_match(PORT_NAME_PATTERN, n) != Some(true)) {
        v.add(path, regex_message(PORT_NAME_PATTERN));
    }
}

fn has_cmd_args_or_container(app: &AppDefinition) -> bool {
    let cmd = app.cmd.is_some();
    let args = !app.args.is_empty();
    let container = app.container.as_ref().is_some_and(|c| c.docker.is_some());
    (cmd ^ args) || (!(cmd && args) && container)
}

fn port_index_is_valid(hc: &HealthCheck, port_count: usize) -> bool {
    if !hc.protocol.uses_port() {
        return true;
    }
    match &hc.port_index {
        Some(PortReference::Index(i)) => usize::try_from(*i).is_ok_and(|i| i < port_count),
        Some(PortReference::Name(_)) => false,
        None => hc.port.is_some() || port_count == 1,
    }
}

fn check_secrets_and_env(v: &mut Violations, app: &AppDefinition, secrets_enabled: bool) {
    for (name, secret) in &app.secrets {
        v.not_empty(&format!("/secrets({name})"), name);
        v.not_empty(&format!("/secrets({name})/source"), &secret.source);
    }
    if !app.secrets.is_empty() && !secrets_enabled {
        v.add("/secrets", feature_message(FEATURE_SECRETS));
    }
    for (name, value) in &app.env {
        v.not_empty(&format!("/env({name})"), name);
        if let EnvVarValue::Secret(secret) = value {
            v.not_empty(&format!("/env({name})/secret"), secret);
            if !secret.is_empty() && !app.secrets.contains_key(secret) {
                v.add(format!("/env({name})"), format!("references an undefined secret named '{secret}'"));
            }
        }
    }
}

fn check_roles(v: &mut Violations, app: &AppDefinition) {
    const FORBIDDEN_CHARS: [(char, &str); 8] = [
        ('\u{09}', "horizontal tab (\\x09)"),
        ('\u{0a}', "line feed (\\x0a)"),
        ('\u{0b}', "vertical tab (\\x0b)"),
        ('\u{0c}', "form feed (\\x0c)"),
        ('\u{0d}', "carriage return (\\x0d)"),
        (' ', "space (\\x20)"),
        ('/', "slash (\\x2f)"),
        ('\u{7f}', "backspace (\\x7f)"),
    ];
    let roles = &app.accepted_resource_roles;
    for role in roles {
        for forbidden in ["", ".", ".."] {
            if role == forbidden {
                v.add("/acceptedResourceRoles", format!("A role name must not be \"{forbidden}\"."));
            }
        }
        if role.starts_with('-') {
            v.add("/acceptedResourceRoles", "A role name must not start with a '-'.");
        }
        for (c, name) in FORBIDDEN_CHARS {
            if role.contains(c) {
                v.add("/acceptedResourceRoles", format!("A role name must not include a {name} character."));
            }
        }
    }
    if !roles.is_empty() && app.is_resident() && (roles.len() != 1 || !roles.contains("*")) {
        v.add("/acceptedResourceRoles", "A resident app must have `acceptedResourceRoles = [\"*\"]`.");
    }
}

fn check_migration_labels(v: &mut Violations, labels: &BTreeMap<String, String>) {
    let non_empty = |key: &str| labels.get(key).is_some_and(|value| !value.is_empty());
    if non_empty("DCOS_MIGRATION_API_VERSION") {
        let complies = labels.get("DCOS_MIGRATION_API_VERSION").is_some_and(|v| v == "v1")
            && non_empty("DCOS_PACKAGE_FRAMEWORK_NAME")
            && non_empty("DCOS_MIGRATION_API_PATH");
        if !complies {
            v.add(
                "/",
                "DCOS_PACKAGE_FRAMEWORK_NAME and DCOS_MIGRATION_API_PATH must be defined when using DCOS_MIGRATION_API_VERSION",
            );
        }
    }
}

fn check_readiness(v: &mut Violations, app: &AppDefinition) {
    let count = app.readiness_checks.len();
    if count > 1 {
        v.add("/readinessChecks", format!("has size {count}, expected 1 or less"));
    }
    let port_names = app.port_names();
    for (i, rc) in app.readiness_checks.iter().enumerate() {
        check_readiness_check(v, &format!("/readinessChecks({i})"), rc, &port_names);
    }
}

fn check_readiness_check(v: &mut Violations, path: &str, rc: &ReadinessCheck, port_names: &[String]) {
    v.not_empty(&format!("{path}/name"), &rc.name);
    v.not_empty(&format!("{path}/path"), &rc.path);
    v.not_empty(&format!("{path}/portName"), &rc.port_name);
    if !port_names.contains(&rc.port_name) {
        v.add(format!("{path}/portName"), format!("No port definition reference for portName {}", rc.port_name));
    }
    if rc.timeout_seconds >= rc.interval_seconds {
        v.add(
            format!("{path}/timeoutSeconds"),
            format!("got {}, expected less than {}", rc.timeout_seconds, rc.interval_seconds),
        );
    }
    if rc.timeout_seconds <= 0 {
        v.add(format!("{path}/timeoutSeconds"), format!("got {}, expected more than 0", rc.timeout_seconds));
    }
    if rc.http_status_codes_for_ready.is_empty() {
        v.add(format!("{path}/httpStatusCodesForReady"), "must not be empty");
    }
}

fn constraint_error(c: &Constraint) -> Option<String> {
    if c.field.is_empty() || c.operator.is_empty() {
        return Some("Missing field and operator".into());
    }
    let value = c.value.as_deref();
    let is_int = value.is_some_and(|v| v.parse::<i32>().is_ok());
    match c.operator.as_str() {
        "UNIQUE" if value.is_some_and(|v| !v.is_empty()) => Some("Value specified but not used".into()),
        "UNIQUE" | "CLUSTER" => None,
        "GROUP_BY" if value.is_some() && !is_int => Some("Value was specified but is not a number".into()),
        "GROUP_BY" => None,
        "LIKE" | "UNLIKE" => match value {
            None => Some("A regular expression value must be provided".into()),
            Some(pattern) if !java_regex_compiles(pattern) => {
                Some(format!("'{pattern}' is not a valid regular expression"))
            }
            Some(_) => None,
        },
        "MAX_PER" if !is_int => Some("Value was not specified or is not a number".into()),
        "MAX_PER" => None,
        _ => Some("Operator must be one of UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER or UNLIKE".into()),
    }
}

/// Whether a (Java) regular expression is accepted; constructs the `regex` crate lacks
/// (look-around, backreferences) are given the benefit of the doubt.
fn java_regex_compiles(pattern: &str) -> bool {
    match regex::Regex::new(pattern) {
        Ok(_) => true,
        Err(e) => {
            let message = e.to_string();
            message.contains("look-around") || message.contains("backreferences")
        }
    }
}

/// `java.net.URL` acceptance: a known protocol followed by `:`.
fn url_error(url: &str) -> Option<String> {
    const KNOWN: [&str; 7] = ["http", "https", "ftp", "file", "jar", "mailto", "netdoc"];
    let scheme = url.split_once(':').map(|(scheme, _)| scheme).filter(|s| {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    match scheme {
        None => Some(format!("no protocol: {url}")),
        Some(s) if !KNOWN.contains(&s.to_ascii_lowercase().as_str()) => {
            Some(format!("unknown protocol: {}", s.to_ascii_lowercase()))
        }
        Some(_) => None,
    }
}

/// `java.net.URI` syntax acceptance (illegal characters, bad escapes, empty scheme, two fragments).
fn uri_syntax_is_valid(uri: &str) -> bool {
    let bytes = uri.as_bytes();
    let illegal = |c: char| c.is_control() || c.is_whitespace() || "\"<>\\^`{|}".contains(c);
    let escapes_ok = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'%')
        .all(|(i, _)| bytes.get(i + 1..i + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)));
    !uri.chars().any(illegal) && escapes_ok && !uri.starts_with(':') && uri.matches('#').count() <= 1
}

fn all_unique<T: Ord>(items: &[T]) -> bool {
    items.iter().collect::<BTreeSet<_>>().len() == items.len()
}

fn regex_message(pattern: &str) -> String {
    format!("must fully match regular expression '{pattern}'")
}

fn feature_message(feature: &str) -> String {
    format!("Feature {feature} is not enabled. Enable with --enable_features {feature})")
}

/// Scala `FiniteDuration` rendering of whole seconds (`1 second`, `300 seconds`).
fn seconds(n: i64) -> String {
    if n == 1 {
        "1 second".to_string()
    } else {
        format!("{n} seconds")
    }
}

/// `Double.toString` as the JVM prints it (`-3.0`, `1.2`, `1.0E-5`).
fn java_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let magnitude = x.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let s = format!("{x}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    let s = format!("{x:e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{mantissa}.0") };
    format!("{mantissa}E{exponent}")
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::definition::{Container, Docker, PortDefinition, PortMapping, Residency};
    use super::super::parse::app_from_json;
    use super::*;

    fn app(value: Value) -> AppDefinition {
        app_from_json(&value, &PathId::root()).expect("parses")
    }

    fn violations(app: &AppDefinition) -> Vec<(String, String)> {
        app_violations(app, &ValidationOptions::default()).into_iter().map(|v| (v.path, v.message)).collect()
    }

    fn assert_violation(app: &AppDefinition, path: &str, message: &str) {
        let found = violations(app);
        assert!(found.iter().any(|(p, m)| p == path && m == message), "expected {path}: {message}; got {found:?}");
    }

    fn valid() -> AppDefinition {
        app(json!({"id": "/test", "cmd": "sleep 1"}))
    }

    #[test]
    fn seed_apps_are_valid() {
        assert_eq!(validate_app(&app(json!({"id":"basic-0","cmd":"x","cpus":0.1,"mem":10.0,"instances":1}))), Ok(()));
        let basic3 = app(json!({"id":"basic-3","cmd":"python3 -m http.server 8080","container":{"type":"DOCKER",
            "docker":{"image":"python:3","network":"BRIDGE","portMappings":[{"containerPort":8080,"hostPort":31000}]}}}));
        assert_eq!(validate_app(&basic3), Ok(()));
    }

    #[test]
    fn error_body_shape() {
        let mut a = valid();
        a.cpus = -3.0;
        let err = validate_app(&a).expect_err("invalid");
        assert_eq!(err.status(), 422);
        assert_eq!(
            err.body(),
            &json!({"message":"Object is not valid","details":[{"path":"/cpus","errors":["got -3.0, expected 0.0 or more"]}]})
        );
    }

    #[test]
    fn numeric_bounds() {
        let mut a = valid();
        a.mem = -3.0;
        a.disk = -0.5;
        a.instances = -3;
        a.gpus = -3;
        assert_violation(&a, "/mem", "got -3.0, expected 0.0 or more");
        assert_violation(&a, "/disk", "got -0.5, expected 0.0 or more");
        assert_violation(&a, "/instances", "got -3, expected 0 or more");
        assert_violation(&a, "/gpus", "got -3, expected 0 or more");
    }

    #[test]
    fn ids() {
        let regex = format!("must fully match regular expression '{ID_SEGMENT_PATTERN}'");
        for bad in ["/a b", "/-dash", "/dash-", "/Upper"] {
            let mut a = valid();
            a.id = PathId::parse(bad);
            assert_violation(&a, "/id", &regex);
        }
        let mut a = valid();
        a.id = PathId::root();
        assert_violation(&a, "/id", "Path must contain at least one path element");
        a.id = PathId::parse("relative");
        assert_violation(&a, "/id", "Path needs to be absolute");
        let group = ValidationOptions { group: Some(PathId::parse("/g")), ..ValidationOptions::default() };
        a.id = PathId::parse("/other/app");
        let found = app_violations(&a, &group);
        assert!(found.contains(&Violation::new("/id", "Identifier is not child of /g. Hint: use relative paths.")));
        a.id = PathId::parse("/g/app");
        assert!(app_violations(&a, &group).is_empty());
        a.dependencies = vec![PathId::parse("/Bad")];
        assert_violation(&a, "/dependencies", &regex);
    }

    #[test]
    fn cmd_args_container_rule() {
        let msg = "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.";
        assert_violation(&app(json!({"id":"a"})), "/", msg);
        assert_violation(&app(json!({"id":"a","cmd":"x","args":["y"]})), "/", msg);
        assert_violation(&app(json!({"id":"a","container":{"type":"MESOS"}})), "/", msg);
        assert!(violations(&app(json!({"id":"a","args":["y"]}))).is_empty());
        assert!(violations(&app(json!({"id":"a","container":{"docker":{"image":"x"}}}))).is_empty());
        assert!(violations(&app(json!({"id":"a","args":["y"],"container":{"type":"MESOS","docker":{"image":"x"}}})))
            .is_empty());
    }

    #[test]
    fn upgrade_strategy_bounds() {
        let mut a = valid();
        a.upgrade_strategy.minimum_health_capacity = 1.2;
        a.upgrade_strategy.maximum_over_capacity = -1.2;
        assert_violation(&a, "/upgradeStrategy/minimumHealthCapacity", "got 1.2, expected between 0.0 and 1.0");
        assert_violation(&a, "/upgradeStrategy/maximumOverCapacity", "got -1.2, expected between 0.0 and 1.0");
    }

    #[test]
    fn health_check_rules() {
        let msg = "Health check port indices must address an element of the ports array or container port mappings.";
        assert_violation(&app(json!({"id":"a","cmd":"x","healthChecks":[{"portIndex":1}]})), "/healthChecks(0)", msg);
        assert_violation(
            &app(json!({"id":"a","cmd":"x","healthChecks":[{"portIndex":"http"}]})),
            "/healthChecks(0)",
            msg,
        );
        assert_violation(
            &app(json!({"id":"a","cmd":"x","portDefinitions":[],"healthChecks":[{"protocol":"TCP"}]})),
            "/healthChecks(0)",
            msg,
        );
        assert!(
            violations(&app(json!({"id":"a","cmd":"x","portDefinitions":[],"healthChecks":[{"port":80}]}))).is_empty()
        );
        assert!(violations(&app(json!({"id":"a","cmd":"x","healthChecks":[{"protocol":"COMMAND","command":{"value":"true"}}],"portDefinitions":[]}))).is_empty());
        let two_mesos =
            app(json!({"id":"a","cmd":"x","healthChecks":[{"protocol":"MESOS_HTTP"},{"protocol":"MESOS_TCP"}]}));
        assert_violation(&two_mesos, "/", "AppDefinition can contain at most one Mesos health check");
        let with_commands = app(json!({"id":"a","cmd":"x","healthChecks":[{"protocol":"MESOS_HTTP"},
            {"protocol":"COMMAND","command":{"value":"a"}},{"protocol":"COMMAND","command":{"value":"b"}}]}));
        assert!(violations(&with_commands).is_empty());
    }

    #[test]
    fn port_rules() {
        let a = app(
            json!({"id":"a","cmd":"x","portDefinitions":[{"port":9000,"name":"foo"},{"port":9000,"name":"foo"},{"port":-1,"name":"Bad_Name","protocol":"sctp"}]}),
        );
        assert_violation(&a, "/portDefinitions", "Port names must be unique.");
        assert_violation(&a, "/portDefinitions", "Ports must be unique.");
        assert_violation(&a, "/portDefinitions(2)/port", "got -1, expected 0 or more");
        assert_violation(&a, "/portDefinitions(2)/name", "must fully match regular expression '^[a-z0-9-]+$'");
        assert_violation(&a, "/portDefinitions(2)/protocol", "is not one of (tcp,udp)");
        assert!(violations(&app(json!({"id":"a","cmd":"x","ports":[0,0,8080]}))).is_empty());
        assert!(violations(&app(json!({"id":"a","cmd":"x","portDefinitions":[{"port":1,"protocol":"udp,tcp"}]})))
            .is_empty());
        let a = app(json!({"id":"a","container":{"docker":{"image":"x","network":"USER","portMappings":[
            {"containerPort":80,"name":"foo"},{"containerPort":-1,"name":"foo","protocol":"tcp,tcp"}]}}}));
        assert_violation(&a, "/container/portMappings", "Port names must be unique.");
        assert_violation(&a, "/container/portMappings(1)/containerPort", "got -1, expected 0 or more");
        assert_violation(&a, "/container/portMappings(1)/protocol", "protocols must be unique.");
        let mut bridge = a.clone();
        if let Some(Container { docker: Some(Docker { network, port_mappings, .. }), .. }) = bridge.container.as_mut() {
            *network = Some(DockerNetwork::Bridge);
            *port_mappings = vec![PortMapping { host_port: None, ..port_mappings[0].clone() }];
        }
        assert_violation(&bridge, "/container/portMappings(0)", "hostPort is required for BRIDGE mode.");
    }

    #[test]
    fn container_rules() {
        assert_violation(
            &app(json!({"id":"a","container":{"docker":{"image":""}}})),
            "/container/image",
            "must not be empty",
        );
        let a =
            app(json!({"id":"a","cmd":"x","container":{"type":"MESOS","volumes":[{"containerPath":"","mode":"RW"}]}}));
        assert_violation(&a, "/container/volumes(0)/containerPath", "must not be empty");
        assert_violation(&a, "/container/volumes(0)/hostPath", "must not be empty");
        let a = app(
            json!({"id":"a","cmd":"x","container":{"type":"MESOS","volumes":[{"containerPath":"a/b","mode":"RO","persistent":{"size":0}}]}}),
        );
        assert_violation(&a, "/container/volumes(0)/containerPath", "value must not contain \"/\"");
        assert_violation(&a, "/container/volumes(0)/persistent/size", "got 0, expected more than 0");
        assert_violation(&a, "/container/volumes(0)/mode", "does not equal RW");
        let a = app(
            json!({"id":"a","cmd":"x","container":{"type":"MESOS","volumes":[{"containerPath":"e","mode":"RW","external":{"name":"v","provider":"dvdi"}}]}}),
        );
        assert_violation(
            &a,
            "/container/volumes(0)",
            "Feature external_volumes is not enabled. Enable with --enable_features external_volumes)",
        );
    }

    #[test]
    fn constraint_rules() {
        let c = |field: &str, op: &str, value: Option<&str>| Constraint {
            field: field.into(),
            operator: op.into(),
            value: value.map(str::to_string),
        };
        assert_eq!(constraint_error(&c("", "UNIQUE", None)).as_deref(), Some("Missing field and operator"));
        assert_eq!(constraint_error(&c("h", "UNIQUE", Some("x"))).as_deref(), Some("Value specified but not used"));
        assert_eq!(constraint_error(&c("h", "UNIQUE", None)), None);
        assert_eq!(constraint_error(&c("h", "CLUSTER", Some("a"))), None);
        assert_eq!(constraint_error(&c("h", "GROUP_BY", None)), None);
        assert_eq!(constraint_error(&c("h", "GROUP_BY", Some("3"))), None);
        assert_eq!(
            constraint_error(&c("h", "GROUP_BY", Some("x"))).as_deref(),
            Some("Value was specified but is not a number")
        );
        assert_eq!(
            constraint_error(&c("h", "LIKE", None)).as_deref(),
            Some("A regular expression value must be provided")
        );
        assert_eq!(
            constraint_error(&c("h", "UNLIKE", Some("a("))).as_deref(),
            Some("'a(' is not a valid regular expression")
        );
        assert_eq!(constraint_error(&c("h", "LIKE", Some("rack-[0-9]+"))), None);
        assert_eq!(constraint_error(&c("h", "LIKE", Some("(?!x).*"))), None);
        assert_eq!(
            constraint_error(&c("h", "MAX_PER", None)).as_deref(),
            Some("Value was not specified or is not a number")
        );
        assert_eq!(constraint_error(&c("h", "MAX_PER", Some("2"))), None);
        assert_eq!(
            constraint_error(&c("h", "IS", Some("2"))).as_deref(),
            Some("Operator must be one of UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER or UNLIKE")
        );
        let a = app(json!({"id":"a","cmd":"x","constraints":[["h","MAX_PER"]]}));
        assert_violation(&a, "/constraints", "Value was not specified or is not a number");
    }

    #[test]
    fn executor_fetch_and_store_urls() {
        let mut a = valid();
        for ok in ["", "//cmd", "some/relative/path.mte", "/some/absolute/path"] {
            a.executor = ok.into();
            assert!(violations(&a).is_empty(), "{ok}");
        }
        a.executor = "/test/".into();
        assert_violation(&a, "/executor", "must fully match regular expression '^(//cmd)|(/?[^/]+(/[^/]+)*)|$'");
        let a = app(
            json!({"id":"a","cmd":"x","fetch":[{"uri":"http://example.com/valid"},{"uri":"d://\nnot-a-uri"},{"uri":"/root/file"}],
            "storeUrls":["http://ok/x","nourl","xyz://h"]}),
        );
        let found = violations(&a);
        assert!(found.contains(&("/fetch(1)".into(), "URI has invalid syntax.".into())));
        assert!(!found.iter().any(|(p, _)| p == "/fetch(0)" || p == "/fetch(2)"));
        assert!(found.contains(&("/storeUrls(1)".into(), "no protocol: nourl".into())));
        assert!(found.contains(&("/storeUrls(2)".into(), "unknown protocol: xyz".into())));
    }

    #[test]
    fn roles_features_and_labels() {
        let a = app(json!({"id":"a","cmd":"x","acceptedResourceRoles":["-x","a b","."]}));
        assert_violation(&a, "/acceptedResourceRoles", "A role name must not start with a '-'.");
        assert_violation(&a, "/acceptedResourceRoles", "A role name must not include a space (\\x20) character.");
        assert_violation(&a, "/acceptedResourceRoles", "A role name must not be \".\".");
        assert!(violations(&app(json!({"id":"a","cmd":"x","acceptedResourceRoles":["*","prod"]}))).is_empty());
        let gpu = app(json!({"id":"a","gpus":1,"container":{"docker":{"image":"x"}}}));
        assert_violation(&gpu, "/", "GPU resources only work with the Mesos containerizer");
        assert_violation(
            &gpu,
            "/",
            "Feature gpu_resources is not enabled. Enable with --enable_features gpu_resources)",
        );
        let opts =
            ValidationOptions { enabled_features: BTreeSet::from([FEATURE_GPU_RESOURCES.to_string()]), group: None };
        let mut gpu_mesos = valid();
        gpu_mesos.gpus = 1;
        assert!(app_violations(&gpu_mesos, &opts).is_empty());
        let secret = app(json!({"id":"a","cmd":"x","env":{"A":{"secret":"missing"}},"secrets":{"s":{"source":""}}}));
        assert_violation(&secret, "/secrets", "Feature secrets is not enabled. Enable with --enable_features secrets)");
        assert_violation(&secret, "/env(A)", "references an undefined secret named 'missing'");
        assert_violation(&secret, "/secrets(s)/source", "must not be empty");
        let migration = app(json!({"id":"a","cmd":"x","labels":{"DCOS_MIGRATION_API_VERSION":"v1"}}));
        assert_violation(
            &migration,
            "/",
            "DCOS_PACKAGE_FRAMEWORK_NAME and DCOS_MIGRATION_API_PATH must be defined when using DCOS_MIGRATION_API_VERSION",
        );
    }

    #[test]
    fn readiness_rules() {
        let a = app(json!({"id":"a","cmd":"x","portDefinitions":[{"port":0,"name":"http-api"}],
            "readinessChecks":[{},{"portName":"nope","timeoutSeconds":40,"httpStatusCodesForReady":[]}]}));
        assert_violation(&a, "/readinessChecks", "has size 2, expected 1 or less");
        assert_violation(&a, "/readinessChecks(1)/portName", "No port definition reference for portName nope");
        assert_violation(&a, "/readinessChecks(1)/timeoutSeconds", "got 40, expected less than 30");
        assert_violation(&a, "/readinessChecks(1)/httpStatusCodesForReady", "must not be empty");
        assert!(!violations(&a).iter().any(|(p, _)| p.starts_with("/readinessChecks(0)")));
    }

    #[test]
    fn resident_and_single_instance_rules() {
        let mut a = valid();
        a.residency = Some(Residency::default());
        assert_violation(&a, "/", "AppDefinition must contain persistent volumes and define residency");
        assert_violation(&a, "/", "unreachableStrategy must be disabled for resident tasks");
        assert_violation(&a, "/upgradeStrategy/maximumOverCapacity", "got 1.0, expected 0.0");
        let mut single = valid();
        single.labels.insert("MARATHON_SINGLE_INSTANCE_APP".into(), "true".into());
        single.instances = 2;
        assert_violation(&single, "/", "Single instance app may only have one instance");
        assert_violation(&single, "/upgradeStrategy/minimumHealthCapacity", "got 1.0, expected 0.0");
        let resident = app(json!({"id":"a","cmd":"x","container":{"type":"MESOS","volumes":[
            {"containerPath":"data","mode":"RW","persistent":{"size":100}}]}}));
        assert!(violations(&resident).is_empty());
    }

    #[test]
    fn unreachable_and_ip_rules() {
        let mut a = valid();
        a.unreachable_strategy =
            UnreachableStrategy::Enabled { inactive_after_seconds: 600, expunge_after_seconds: 300 };
        assert_violation(&a, "/unreachableStrategy/inactiveAfter", "got 600 seconds, expected 300 seconds or less");
        a.unreachable_strategy = UnreachableStrategy::Enabled { inactive_after_seconds: -1, expunge_after_seconds: 1 };
        assert_violation(&a, "/unreachableStrategy/inactiveAfter", "got -1 seconds, expected 0 seconds or more");
        let ip = app(json!({"id":"a","container":{"docker":{"image":"x","network":"BRIDGE"}},
            "ipAddress":{"discovery":{"ports":[{"number":80,"name":"http","protocol":"tcp"}]}}}));
        assert_violation(
            &ip,
            "/ipAddress",
            "ipAddress/discovery is not allowed for Docker containers using BRIDGE or USER networks",
        );
        let mut both = valid();
        both.ip_address = ip.ip_address.clone();
        both.port_definitions = vec![PortDefinition::new(80)];
        assert_violation(&both, "/", "You cannot specify both an IP address and ports");
    }

    #[test]
    fn java_double_formatting() {
        assert_eq!(java_double(-3.0), "-3.0");
        assert_eq!(java_double(1.2), "1.2");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(1e-5), "1.0E-5");
        assert_eq!(java_double(1.5e10), "1.5E10");
        assert_eq!(seconds(1), "1 second");
    }
}
