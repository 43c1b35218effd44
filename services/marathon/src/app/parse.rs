//! Reading app JSON request bodies the way Marathon 1.4's play-json `Reads` do: defaults for absent
//! or `null` fields, accumulated type errors (`error.expected.jsstring` …) with their paths, unknown
//! and read-only keys ignored, and the "You cannot specify both …" cross-field checks.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::definition::{
    AppDefinition, Constraint, Container, ContainerType, Credential, DiscoveryPort, Docker, DockerNetwork, EnvVarValue,
    ExternalVolumeInfo, FetchUri, HealthCheck, HealthCheckProtocol, IpAddress, KillSelection, Parameter,
    PersistentVolumeInfo, PortDefinition, PortMapping, PortReference, ReadinessCheck, ReadinessProtocol, Residency,
    Secret, TaskLostBehavior, UnreachableStrategy, UpgradeStrategy, VersionInfo, Volume, VolumeMode,
    CONSTRAINT_OPERATORS, RANDOM_PORT,
};
use super::errors::{ApiError, Violation};
use super::path_id::PathId;
use super::pattern::full_match;
use super::timestamp::Timestamp;

/// Regular expression the `executor` field must fully match.
pub const EXECUTOR_PATTERN: &str = r"^(//cmd)|(/?[^/]+(/[^/]+)*)|$";
/// Regular expression port names must fully match.
pub const PORT_NAME_PATTERN: &str = "^[a-z0-9-]+$";

/// Parses a request body into JSON: empty → `Please specify data in JSON format`, malformed, too deep or with
/// an oversized string → `Invalid JSON`.
pub fn parse_json_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::no_content());
    }
    common::http::check_json_bounds(body).map_err(ApiError::malformed_json)?;
    serde_json::from_slice(body).map_err(|e| ApiError::malformed_json(e.to_string()))
}

/// Parses a POST `/v2/apps` (or group member) body; relative ids resolve against `base`.
pub fn parse_app(body: &[u8], base: &PathId) -> Result<AppDefinition, ApiError> {
    app_from_json(&parse_json_body(body)?, base)
}

/// Reads an app from parsed JSON (request bodies and stored app JSON alike). `version` and
/// `versionInfo` are taken when present (the API layer overrides them on create/update).
pub fn app_from_json(value: &Value, base: &PathId) -> Result<AppDefinition, ApiError> {
    let raw = read_raw(value, true)?;
    check_combinations(&raw, true)?;
    Ok(build_app(raw, base))
}

/// Parses a full replacement body (PUT with `partialUpdate=false`): the path's `id` wins over the body's.
pub fn parse_app_replacement(body: &[u8], id: &PathId) -> Result<AppDefinition, ApiError> {
    let mut value = parse_json_body(body)?;
    if let Value::Object(obj) = &mut value {
        obj.insert("id".to_string(), Value::String(id.to_string()));
    }
    app_from_json(&value, &PathId::root())
}

/// Every app field as read from JSON, before defaults are applied (`None` = absent or `null`).
#[derive(Debug, Default)]
pub(super) struct RawApp {
    pub id: Option<String>,
    pub cmd: Option<String>,
    pub args: Option<Vec<String>>,
    pub user: Option<String>,
    pub env: Option<BTreeMap<String, EnvVarValue>>,
    pub instances: Option<i32>,
    pub cpus: Option<f64>,
    pub mem: Option<f64>,
    pub disk: Option<f64>,
    pub gpus: Option<i32>,
    pub executor: Option<String>,
    pub constraints: Option<Vec<Constraint>>,
    pub uris: Option<Vec<String>>,
    pub fetch: Option<Vec<FetchUri>>,
    pub store_urls: Option<Vec<String>>,
    pub ports: Option<Vec<i32>>,
    pub port_definitions: Option<Vec<PortDefinition>>,
    pub require_ports: Option<bool>,
    pub backoff_seconds: Option<i64>,
    pub backoff_factor: Option<f64>,
    pub max_launch_delay_seconds: Option<i64>,
    pub container: Option<Container>,
    pub health_checks: Option<Vec<HealthCheck>>,
    pub readiness_checks: Option<Vec<ReadinessCheck>>,
    pub dependencies: Option<Vec<PathId>>,
    pub upgrade_strategy: Option<UpgradeStrategy>,
    pub labels: Option<BTreeMap<String, String>>,
    pub accepted_resource_roles: Option<BTreeSet<String>>,
    pub ip_address: Option<IpAddress>,
    pub version: Option<Timestamp>,
    pub version_info: Option<VersionInfo>,
    pub residency: Option<Residency>,
    pub secrets: Option<BTreeMap<String, Secret>>,
    pub task_kill_grace_period_seconds: Option<i64>,
    pub unreachable_strategy: Option<UnreachableStrategy>,
    pub kill_selection: Option<KillSelection>,
}

impl RawApp {
    /// Whether any field other than `id`, `version` and the read-only `versionInfo` is set.
    pub fn has_fields_besides_id_and_version(&self) -> bool {
        let RawApp {
            id: _,
            version: _,
            version_info: _,
            cmd,
            args,
            user,
            env,
            instances,
            cpus,
            mem,
            disk,
            gpus,
            executor,
            constraints,
            uris,
            fetch,
            store_urls,
            ports,
            port_definitions,
            require_ports,
            backoff_seconds,
            backoff_factor,
            max_launch_delay_seconds,
            container,
            health_checks,
            readiness_checks,
            dependencies,
            upgrade_strategy,
            labels,
            accepted_resource_roles,
            ip_address,
            residency,
            secrets,
            task_kill_grace_period_seconds,
            unreachable_strategy,
            kill_selection,
        } = self;
        [
            cmd.is_some(),
            args.is_some(),
            user.is_some(),
            env.is_some(),
            instances.is_some(),
            cpus.is_some(),
            mem.is_some(),
            disk.is_some(),
            gpus.is_some(),
            executor.is_some(),
            constraints.is_some(),
            uris.is_some(),
            fetch.is_some(),
            store_urls.is_some(),
            ports.is_some(),
            port_definitions.is_some(),
            require_ports.is_some(),
            backoff_seconds.is_some(),
            backoff_factor.is_some(),
            max_launch_delay_seconds.is_some(),
            container.is_some(),
            health_checks.is_some(),
            readiness_checks.is_some(),
            dependencies.is_some(),
            upgrade_strategy.is_some(),
            labels.is_some(),
            accepted_resource_roles.is_some(),
            ip_address.is_some(),
            residency.is_some(),
            secrets.is_some(),
            task_kill_grace_period_seconds.is_some(),
            unreachable_strategy.is_some(),
            kill_selection.is_some(),
        ]
        .into_iter()
        .any(|set| set)
    }
}

/// Reads every known field of an app object; `id_required` makes a missing `id` an error.
pub(super) fn read_raw(value: &Value, id_required: bool) -> Result<RawApp, ApiError> {
    let mut r = Reader::default();
    let Some(obj) = value.as_object() else {
        let path = if id_required { "/id" } else { "" };
        let error = if id_required { "error.path.missing" } else { "error.expected.jsobject" };
        return Err(ApiError::json_errors(&[Violation::new(path, error)]));
    };
    let raw = RawApp {
        id: if id_required {
            r.required(obj, "", "id", Reader::non_empty_string)
        } else {
            r.field(obj, "", "id", Reader::non_empty_string)
        },
        cmd: r.field(obj, "", "cmd", Reader::non_empty_string),
        args: r.field(obj, "", "args", Reader::strings),
        user: r.field(obj, "", "user", Reader::string),
        env: r.field(obj, "", "env", read_env),
        instances: r.field(obj, "", "instances", Reader::int),
        cpus: r.field(obj, "", "cpus", Reader::double),
        mem: r.field(obj, "", "mem", Reader::double),
        disk: r.field(obj, "", "disk", Reader::double),
        gpus: r.field(obj, "", "gpus", Reader::int),
        executor: r.field(obj, "", "executor", read_executor),
        constraints: r.field(obj, "", "constraints", |r, v, p| r.list(v, p, read_constraint).map(dedup)),
        uris: r.field(obj, "", "uris", Reader::strings),
        fetch: r.field(obj, "", "fetch", |r, v, p| r.list(v, p, read_fetch_uri)),
        store_urls: r.field(obj, "", "storeUrls", Reader::strings),
        ports: r.field(obj, "", "ports", read_ports),
        port_definitions: r.field(obj, "", "portDefinitions", |r, v, p| r.list(v, p, read_port_definition)),
        require_ports: r.field(obj, "", "requirePorts", Reader::boolean),
        backoff_seconds: r.field(obj, "", "backoffSeconds", Reader::long),
        backoff_factor: r.field(obj, "", "backoffFactor", Reader::double),
        max_launch_delay_seconds: r.field(obj, "", "maxLaunchDelaySeconds", Reader::long),
        container: r.field(obj, "", "container", read_container),
        health_checks: r.field(obj, "", "healthChecks", |r, v, p| r.list(v, p, read_health_check).map(dedup)),
        readiness_checks: r.field(obj, "", "readinessChecks", |r, v, p| r.list(v, p, read_readiness_check)),
        dependencies: r.field(obj, "", "dependencies", |r, v, p| {
            r.list(v, p, |r, v, p| r.non_empty_string(v, p).map(|s| PathId::parse(&s)))
        }),
        upgrade_strategy: r.field(obj, "", "upgradeStrategy", read_upgrade_strategy),
        labels: r.field(obj, "", "labels", Reader::string_map),
        accepted_resource_roles: r.field(obj, "", "acceptedResourceRoles", read_roles),
        ip_address: r.field(obj, "", "ipAddress", read_ip_address),
        version: r.field(obj, "", "version", read_timestamp),
        version_info: obj.get("versionInfo").and_then(read_version_info),
        residency: r.field(obj, "", "residency", read_residency),
        secrets: r.field(obj, "", "secrets", read_secrets),
        task_kill_grace_period_seconds: r.field(obj, "", "taskKillGracePeriodSeconds", Reader::long),
        unreachable_strategy: r.field(obj, "", "unreachableStrategy", read_unreachable_strategy),
        kill_selection: r.field(obj, "", "killSelection", read_kill_selection),
    };
    if r.errors.is_empty() {
        Ok(raw)
    } else {
        Err(ApiError::json_errors(&r.errors))
    }
}

/// The cross-field "You cannot specify both …" checks (the first failing one is reported).
pub(super) fn check_combinations(raw: &RawApp, full_app: bool) -> Result<(), ApiError> {
    let fail = |message: &str| Err(ApiError::json_errors(&[Violation::new("", message)]));
    let uris = raw.uris.as_deref().unwrap_or_default();
    let fetch = raw.fetch.as_deref().unwrap_or_default();
    // Deliberately lenient: GET output carries both `uris` and `fetch`; equivalent lists are accepted.
    let fetch_matches_uris = uris.iter().eq(fetch.iter().map(|f| &f.uri));
    if !uris.is_empty() && !fetch.is_empty() && !fetch_matches_uris {
        return fail("You cannot specify both uris and fetch fields");
    }
    if full_app {
        let has_ports = raw.ports.as_ref().is_some_and(|p| !p.is_empty())
            || raw.port_definitions.as_ref().is_some_and(|p| !p.is_empty());
        if has_ports && raw.ip_address.is_some() {
            return fail("You cannot specify both an IP address and ports");
        }
    }
    if let (Some(ports), Some(defs)) = (&raw.ports, &raw.port_definitions) {
        if !ports.iter().eq(defs.iter().map(|d| &d.port)) {
            return fail("You cannot specify both ports and port definitions");
        }
    }
    Ok(())
}

/// Applies the 1.4 defaults and canonicalizes ids (`id` against `base`, dependencies against the app id).
fn build_app(raw: RawApp, base: &PathId) -> AppDefinition {
    let id = PathId::resolve(raw.id.as_deref().unwrap_or_default(), base);
    let mut app = AppDefinition::new(id.clone());
    let container = raw.container;
    let has_persistent = container.iter().flat_map(|c| &c.volumes).any(|v| v.persistent.is_some());
    let has_external = container.iter().flat_map(|c| &c.volumes).any(|v| v.external.is_some());
    let residency = raw.residency.or(has_persistent.then(Residency::default));
    let uris = raw.uris.unwrap_or_default();
    let fetch = raw.fetch.filter(|f| !f.is_empty());

    app.cmd = raw.cmd;
    app.args = raw.args.unwrap_or_default();
    app.user = raw.user;
    app.env = raw.env.unwrap_or_default();
    app.instances = raw.instances.unwrap_or(app.instances);
    app.cpus = raw.cpus.unwrap_or(app.cpus);
    app.mem = raw.mem.unwrap_or(app.mem);
    app.disk = raw.disk.unwrap_or(app.disk);
    app.gpus = raw.gpus.unwrap_or(app.gpus);
    app.executor = raw.executor.unwrap_or_default();
    app.constraints = raw.constraints.unwrap_or_default();
    app.fetch = fetch.unwrap_or_else(|| uris.iter().map(|u| FetchUri::from_legacy_uri(u)).collect());
    app.store_urls = raw.store_urls.unwrap_or_default();
    app.port_definitions = match (&raw.ip_address, raw.port_definitions, raw.ports) {
        (Some(_), _, _) => Vec::new(),
        (None, Some(defs), _) => defs,
        (None, None, Some(ports)) => ports.into_iter().map(PortDefinition::new).collect(),
        (None, None, None) => vec![PortDefinition::default_port()],
    };
    app.require_ports = raw.require_ports.unwrap_or(app.require_ports);
    app.backoff_seconds = raw.backoff_seconds.unwrap_or(app.backoff_seconds);
    app.backoff_factor = raw.backoff_factor.unwrap_or(app.backoff_factor);
    app.max_launch_delay_seconds = raw.max_launch_delay_seconds.unwrap_or(app.max_launch_delay_seconds);
    app.container = container;
    app.readiness_checks = raw.readiness_checks.unwrap_or_default();
    app.task_kill_grace_period_seconds = raw.task_kill_grace_period_seconds;
    app.dependencies = dedup(raw.dependencies.unwrap_or_default().iter().map(|d| d.canonical(&id)).collect());
    app.upgrade_strategy = raw.upgrade_strategy.unwrap_or_else(|| {
        if residency.is_some() || has_external {
            UpgradeStrategy::for_resident_tasks()
        } else {
            UpgradeStrategy::default()
        }
    });
    app.labels = raw.labels.unwrap_or_default();
    app.accepted_resource_roles = raw.accepted_resource_roles.unwrap_or_default();
    app.ip_address = raw.ip_address;
    app.residency = residency;
    app.secrets = raw.secrets.unwrap_or_default();
    app.unreachable_strategy = raw.unreachable_strategy.unwrap_or(UnreachableStrategy::default_for(has_persistent));
    app.kill_selection = raw.kill_selection.unwrap_or(app.kill_selection);
    if let Some(version) = raw.version {
        app.version = version;
    }
    app.version_info = raw.version_info;
    let ports_make_sense = !app.port_definitions.is_empty() || !app.port_mappings().is_empty();
    app.health_checks = raw.health_checks.unwrap_or_default();
    if ports_make_sense {
        app.health_checks = with_default_port_index(std::mem::take(&mut app.health_checks));
    }
    app
}

/// Gives port-based health checks without `port`/`portIndex` the legacy default `portIndex: 0`.
pub(super) fn with_default_port_index(checks: Vec<HealthCheck>) -> Vec<HealthCheck> {
    let checks = checks
        .into_iter()
        .map(|mut hc| {
            if hc.protocol.uses_port() && hc.port.is_none() && hc.port_index.is_none() {
                hc.port_index = Some(PortReference::Index(0));
            }
            hc
        })
        .collect();
    dedup(checks)
}

/// Removes later duplicates, keeping the first occurrence (set semantics with stable order).
pub(super) fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Accumulates play-json style errors while walking a JSON value.
#[derive(Default)]
struct Reader {
    errors: Vec<Violation>,
}

impl Reader {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(Violation::new(path, message));
    }

    /// Optional field: absent or `null` → `None`, otherwise read with `read`.
    fn field<T>(
        &mut self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
        read: impl FnOnce(&mut Reader, &Value, &str) -> Option<T>,
    ) -> Option<T> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => read(self, value, &format!("{parent}/{key}")),
        }
    }

    /// Required field: absent → `error.path.missing`.
    fn required<T>(
        &mut self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
        read: impl FnOnce(&mut Reader, &Value, &str) -> Option<T>,
    ) -> Option<T> {
        match obj.get(key) {
            None => {
                self.error(&format!("{parent}/{key}"), "error.path.missing");
                None
            }
            Some(value) => read(self, value, &format!("{parent}/{key}")),
        }
    }

    fn string(&mut self, v: &Value, path: &str) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.error(path, "error.expected.jsstring");
                None
            }
        }
    }

    fn non_empty_string(&mut self, v: &Value, path: &str) -> Option<String> {
        let s = self.string(v, path)?;
        if s.is_empty() {
            self.error(path, "error.minLength");
            return None;
        }
        Some(s)
    }

    fn boolean(&mut self, v: &Value, path: &str) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            _ => {
                self.error(path, "error.expected.jsboolean");
                None
            }
        }
    }

    fn double(&mut self, v: &Value, path: &str) -> Option<f64> {
        match v.as_f64() {
            Some(x) => Some(x),
            None => {
                self.error(path, "error.expected.jsnumber");
                None
            }
        }
    }

    /// An integral number within `[min, max]`; otherwise `range_error`.
    fn integral(&mut self, v: &Value, path: &str, min: i64, max: i64, range_error: &str) -> Option<i64> {
        let Value::Number(n) = v else {
            self.error(path, "error.expected.jsnumber");
            return None;
        };
        let exact = n.as_i64().or_else(|| {
            n.as_f64().filter(|f| f.fract() == 0.0 && *f >= i64::MIN as f64 && *f <= i64::MAX as f64).map(|f| f as i64)
        });
        match exact.filter(|x| (min..=max).contains(x)) {
            Some(x) => Some(x),
            None => {
                self.error(path, range_error);
                None
            }
        }
    }

    fn int(&mut self, v: &Value, path: &str) -> Option<i32> {
        self.integral(v, path, i32::MIN.into(), i32::MAX.into(), "error.expected.int")
            .and_then(|x| i32::try_from(x).ok())
    }

    fn long(&mut self, v: &Value, path: &str) -> Option<i64> {
        self.integral(v, path, i64::MIN, i64::MAX, "error.expected.long")
    }

    fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(obj) => Some(obj),
            _ => {
                self.error(path, "error.expected.jsobject");
                None
            }
        }
    }

    /// An array whose items are all readable (errors reported per item as `path(i)`).
    fn list<T>(
        &mut self,
        v: &Value,
        path: &str,
        mut item: impl FnMut(&mut Reader, &Value, &str) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Value::Array(items) = v else {
            self.error(path, "error.expected.jsarray");
            return None;
        };
        let before = self.errors.len();
        let out: Vec<Option<T>> =
            items.iter().enumerate().map(|(i, value)| item(self, value, &format!("{path}({i})"))).collect();
        if self.errors.len() > before {
            return None;
        }
        out.into_iter().collect()
    }

    fn strings(&mut self, v: &Value, path: &str) -> Option<Vec<String>> {
        self.list(v, path, Reader::string)
    }

    /// An object of values (errors reported as `path/key`).
    fn map<T>(
        &mut self,
        v: &Value,
        path: &str,
        mut item: impl FnMut(&mut Reader, &Value, &str) -> Option<T>,
    ) -> Option<BTreeMap<String, T>> {
        let obj = self.object(v, path)?;
        let before = self.errors.len();
        let out: Vec<(String, Option<T>)> =
            obj.iter().map(|(key, value)| (key.clone(), item(self, value, &format!("{path}/{key}")))).collect();
        if self.errors.len() > before {
            return None;
        }
        out.into_iter().map(|(k, v)| v.map(|v| (k, v))).collect()
    }

    fn string_map(&mut self, v: &Value, path: &str) -> Option<BTreeMap<String, String>> {
        self.map(v, path, Reader::string)
    }

    /// A string naming one variant of an enumeration; unknown names get `invalid(name)`.
    fn enumeration<T>(
        &mut self,
        v: &Value,
        path: &str,
        parse: impl FnOnce(&str) -> Option<T>,
        invalid: impl FnOnce(&str) -> String,
    ) -> Option<T> {
        let Value::String(name) = v else {
            self.error(path, format!("expected string, got {v}"));
            return None;
        };
        let parsed = parse(name);
        if parsed.is_none() {
            self.error(path, invalid(name));
        }
        parsed
    }
}

fn read_env(r: &mut Reader, v: &Value, path: &str) -> Option<BTreeMap<String, EnvVarValue>> {
    r.map(v, path, |r, v, p| match v {
        Value::String(s) => Some(EnvVarValue::Value(s.clone())),
        Value::Object(obj) => r.required(obj, p, "secret", Reader::string).map(EnvVarValue::Secret),
        _ => {
            r.error(p, "error.expected.jsstring");
            None
        }
    })
}

fn read_executor(r: &mut Reader, v: &Value, path: &str) -> Option<String> {
    let s = r.string(v, path)?;
    if full_match(EXECUTOR_PATTERN, &s) != Some(true) {
        r.error(path, "error.pattern");
        return None;
    }
    Some(s)
}

fn read_constraint(r: &mut Reader, v: &Value, path: &str) -> Option<Constraint> {
    let parts: Option<Vec<&str>> = v.as_array().and_then(|items| items.iter().map(Value::as_str).collect());
    match parts.as_deref() {
        Some([field, operator, rest @ ..]) if rest.len() <= 1 => {
            if CONSTRAINT_OPERATORS.contains(operator) {
                Some(Constraint {
                    field: field.to_string(),
                    operator: operator.to_string(),
                    value: rest.first().map(|s| s.to_string()),
                })
            } else {
                r.error(
                    path,
                    format!("Constraint operator must be one of the following: [{}]", CONSTRAINT_OPERATORS.join(", ")),
                );
                None
            }
        }
        _ => {
            r.error(path, "Constraint definition must be an array of strings in format: <key>, <operator>[, value]");
            None
        }
    }
}

fn read_fetch_uri(r: &mut Reader, v: &Value, path: &str) -> Option<FetchUri> {
    let obj = r.object(v, path)?;
    let uri = r.required(obj, path, "uri", Reader::string);
    let extract = r.field(obj, path, "extract", Reader::boolean);
    let executable = r.field(obj, path, "executable", Reader::boolean);
    let cache = r.field(obj, path, "cache", Reader::boolean);
    let dest_path = r.field(obj, path, "destPath", Reader::string);
    Some(FetchUri {
        uri: uri?,
        extract: extract.unwrap_or(true),
        executable: executable.unwrap_or(false),
        cache: cache.unwrap_or(false),
        dest_path,
    })
}

fn read_ports(r: &mut Reader, v: &Value, path: &str) -> Option<Vec<i32>> {
    let ports = r.list(v, path, Reader::int)?;
    let fixed: Vec<i32> = ports.iter().copied().filter(|p| *p != RANDOM_PORT).collect();
    if dedup(fixed.clone()).len() != fixed.len() {
        r.error(path, "Ports must be unique.");
        return None;
    }
    Some(ports)
}

fn read_port_definition(r: &mut Reader, v: &Value, path: &str) -> Option<PortDefinition> {
    let obj = r.object(v, path)?;
    let port = r.field(obj, path, "port", Reader::int);
    let protocol = r.field(obj, path, "protocol", Reader::string);
    let name = r.field(obj, path, "name", Reader::string);
    let labels = r.field(obj, path, "labels", Reader::string_map);
    Some(PortDefinition {
        port: port.unwrap_or(RANDOM_PORT),
        protocol: protocol.unwrap_or_else(|| "tcp".to_string()),
        name,
        labels: labels.unwrap_or_default(),
    })
}

fn read_container(r: &mut Reader, v: &Value, path: &str) -> Option<Container> {
    let obj = r.object(v, path)?;
    let start = r.errors.len();
    let kind = r.field(obj, path, "type", |r, v, p| {
        r.enumeration(
            v,
            p,
            |s| match s {
                "DOCKER" => Some(ContainerType::Docker),
                "MESOS" => Some(ContainerType::Mesos),
                _ => None,
            },
            |s| format!("{s} is not a valid container type"),
        )
    });
    let volumes = r.field(obj, path, "volumes", |r, v, p| r.list(v, p, read_volume));
    let docker = r.field(obj, path, "docker", read_docker);
    if r.errors.len() > start {
        return None;
    }
    let kind = kind.unwrap_or(ContainerType::Docker);
    let docker_path = format!("{path}/docker");
    match (&docker, kind) {
        (None, ContainerType::Docker) => {
            r.error(&docker_path, "docker must not be empty");
        }
        (Some(d), ContainerType::Docker) if d.credential.is_some() => {
            r.error(&format!("{docker_path}/credential"), "Docker Containerizer does not support credential");
        }
        (Some(d), ContainerType::Mesos) => {
            let unsupported = [
                ("portMappings", !d.port_mappings.is_empty()),
                ("network", d.network.is_some()),
                ("parameters", !d.parameters.is_empty()),
            ];
            for (param, present) in unsupported {
                if present {
                    r.error(&format!("{docker_path}/{param}"), format!("Mesos Containerizer does not support {param}"));
                }
            }
        }
        _ => {}
    }
    if r.errors.len() > start {
        return None;
    }
    let docker = docker.map(|d| match kind {
        ContainerType::Docker => {
            let port_mappings = match d.network {
                Some(DockerNetwork::Bridge) => d
                    .port_mappings
                    .into_iter()
                    .map(|m| PortMapping { host_port: m.host_port.or(Some(RANDOM_PORT)), ..m })
                    .collect(),
                Some(DockerNetwork::User) => d.port_mappings,
                _ => Vec::new(),
            };
            Docker { port_mappings, ..d }
        }
        ContainerType::Mesos => Docker { privileged: false, ..d },
    });
    Some(Container { kind, volumes: volumes.unwrap_or_default(), docker })
}

fn read_docker(r: &mut Reader, v: &Value, path: &str) -> Option<Docker> {
    let obj = r.object(v, path)?;
    let image = r.required(obj, path, "image", Reader::string);
    let network = r.field(obj, path, "network", |r, v, p| {
        r.enumeration(
            v,
            p,
            |s| match s {
                "HOST" => Some(DockerNetwork::Host),
                "BRIDGE" => Some(DockerNetwork::Bridge),
                "USER" => Some(DockerNetwork::User),
                "NONE" => Some(DockerNetwork::None),
                _ => None,
            },
            |s| format!("{s} is not a valid network type"),
        )
    });
    let port_mappings = r.field(obj, path, "portMappings", |r, v, p| r.list(v, p, read_port_mapping));
    let privileged = r.field(obj, path, "privileged", Reader::boolean);
    let parameters = r.field(obj, path, "parameters", |r, v, p| {
        r.list(v, p, |r, v, p| {
            let obj = r.object(v, p)?;
            let key = r.required(obj, p, "key", Reader::string);
            let value = r.required(obj, p, "value", Reader::string);
            Some(Parameter { key: key?, value: value? })
        })
    });
    let credential = r.field(obj, path, "credential", |r, v, p| {
        let obj = r.object(v, p)?;
        let principal = r.required(obj, p, "principal", Reader::string);
        let secret = r.field(obj, p, "secret", Reader::string);
        Some(Credential { principal: principal?, secret })
    });
    let force_pull_image = r.field(obj, path, "forcePullImage", Reader::boolean);
    Some(Docker {
        image: image?,
        network,
        port_mappings: port_mappings.unwrap_or_default(),
        privileged: privileged.unwrap_or(false),
        parameters: parameters.unwrap_or_default(),
        force_pull_image: force_pull_image.unwrap_or(false),
        credential,
    })
}

fn read_port_mapping(r: &mut Reader, v: &Value, path: &str) -> Option<PortMapping> {
    let obj = r.object(v, path)?;
    let container_port = r.field(obj, path, "containerPort", Reader::int);
    let host_port = r.field(obj, path, "hostPort", Reader::int);
    let service_port = r.field(obj, path, "servicePort", Reader::int);
    let protocol = r.field(obj, path, "protocol", Reader::string);
    let name = r.field(obj, path, "name", Reader::string);
    let labels = r.field(obj, path, "labels", Reader::string_map);
    Some(PortMapping {
        container_port: container_port.unwrap_or(RANDOM_PORT),
        host_port,
        service_port: service_port.unwrap_or(RANDOM_PORT),
        protocol: protocol.unwrap_or_else(|| "tcp".to_string()),
        name,
        labels: labels.unwrap_or_default(),
    })
}

fn read_volume(r: &mut Reader, v: &Value, path: &str) -> Option<Volume> {
    let obj = r.object(v, path)?;
    let container_path = r.required(obj, path, "containerPath", Reader::string);
    let host_path = r.field(obj, path, "hostPath", Reader::string);
    let mode = r.required(obj, path, "mode", |r, v, p| {
        r.enumeration(
            v,
            p,
            |s| match s {
                "RW" => Some(VolumeMode::Rw),
                "RO" => Some(VolumeMode::Ro),
                _ => None,
            },
            |s| format!("{s} is not a valid mode"),
        )
    });
    let persistent = r.field(obj, path, "persistent", read_persistent_info);
    let external = r.field(obj, path, "external", read_external_info);
    let (container_path, mode) = (container_path?, mode?);
    let conflict = match (&host_path, &persistent, &external) {
        (Some(_), Some(_), _) => Some("hostPath may not be set with persistent"),
        (_, Some(_), Some(_)) => Some("external may not be set with persistent"),
        (Some(_), None, Some(_)) => Some("hostPath may not be set with external"),
        _ => None,
    };
    if let Some(message) = conflict {
        r.error(path, message);
        return None;
    }
    let host_path = match (&persistent, &external) {
        (None, None) => Some(host_path.unwrap_or_default()),
        _ => None,
    };
    Some(Volume { container_path, host_path, mode, persistent, external })
}

fn read_persistent_info(r: &mut Reader, v: &Value, path: &str) -> Option<PersistentVolumeInfo> {
    let obj = r.object(v, path)?;
    let size = r.required(obj, path, "size", Reader::long);
    let max_size = r.field(obj, path, "maxSize", Reader::long);
    let disk_type = r.field(obj, path, "type", |r, v, p| {
        let s = r.string(v, p)?;
        if ["root", "path", "mount"].contains(&s.as_str()) {
            Some(s)
        } else {
            r.error(p, format!("No such disk type: {s}"));
            None
        }
    });
    let constraints = r.field(obj, path, "constraints", |r, v, p| r.list(v, p, read_constraint).map(dedup));
    Some(PersistentVolumeInfo {
        size: size?,
        max_size,
        disk_type: disk_type.unwrap_or_else(|| "root".to_string()),
        constraints: constraints.unwrap_or_default(),
    })
}

fn read_external_info(r: &mut Reader, v: &Value, path: &str) -> Option<ExternalVolumeInfo> {
    let obj = r.object(v, path)?;
    let size = r.field(obj, path, "size", Reader::long);
    let name = r.required(obj, path, "name", Reader::string);
    let provider = r.required(obj, path, "provider", Reader::string);
    let options = r.field(obj, path, "options", Reader::string_map);
    Some(ExternalVolumeInfo { size, name: name?, provider: provider?, options: options.unwrap_or_default() })
}

fn read_health_check(r: &mut Reader, v: &Value, path: &str) -> Option<HealthCheck> {
    let obj = r.object(v, path)?;
    let before = r.errors.len();
    let protocol = r.field(obj, path, "protocol", |r, v, p| {
        r.enumeration(v, p, HealthCheckProtocol::parse, |s| format!("{s} is not a valid protocol"))
    });
    let protocol = protocol.unwrap_or(HealthCheckProtocol::Http);
    let mut hc = HealthCheck::new(protocol);
    if let Some(x) = r.field(obj, path, "gracePeriodSeconds", Reader::long) {
        hc.grace_period_seconds = x;
    }
    if let Some(x) = r.field(obj, path, "intervalSeconds", Reader::long) {
        hc.interval_seconds = x;
    }
    if let Some(x) = r.field(obj, path, "timeoutSeconds", Reader::long) {
        hc.timeout_seconds = x;
    }
    if let Some(x) = r.field(obj, path, "maxConsecutiveFailures", Reader::int) {
        hc.max_consecutive_failures = x;
    }
    if protocol.uses_port() {
        hc.port_index = r.field(obj, path, "portIndex", |r, v, p| match v {
            Value::String(name) => Some(PortReference::Name(name.clone())),
            Value::Number(_) => r.int(v, p).map(PortReference::Index),
            _ => {
                r.error(p, "expected string (port name) or integer (port offset) for port-index");
                None
            }
        });
        hc.port = r.field(obj, path, "port", Reader::int);
    }
    if protocol.is_http() {
        hc.path = r.field(obj, path, "path", Reader::string);
    }
    if matches!(protocol, HealthCheckProtocol::Http | HealthCheckProtocol::Https) {
        if let Some(x) = r.field(obj, path, "ignoreHttp1xx", Reader::boolean) {
            hc.ignore_http1xx = x;
        }
    }
    if protocol.is_mesos() {
        if let Some(x) = r.field(obj, path, "delaySeconds", Reader::long) {
            hc.delay_seconds = x;
        }
    }
    if protocol == HealthCheckProtocol::Command {
        hc.command = r.required(obj, path, "command", |r, v, p| match v {
            // Lenient: a bare string is accepted as well as the upstream `{"value": …}`.
            Value::String(s) => Some(s.clone()),
            _ => {
                let obj = r.object(v, p)?;
                r.required(obj, p, "value", Reader::string)
            }
        });
    }
    (r.errors.len() == before).then_some(hc)
}

fn read_readiness_check(r: &mut Reader, v: &Value, path: &str) -> Option<ReadinessCheck> {
    let obj = r.object(v, path)?;
    let before = r.errors.len();
    let mut rc = ReadinessCheck::default();
    if let Some(x) = r.field(obj, path, "name", Reader::string) {
        rc.name = x;
    }
    if let Some(x) = r.field(obj, path, "protocol", |r, v, p| match v.as_str() {
        Some("HTTP") => Some(ReadinessProtocol::Http),
        Some("HTTPS") => Some(ReadinessProtocol::Https),
        _ => {
            r.error(p, "Choose one of HTTP, HTTPS");
            None
        }
    }) {
        rc.protocol = x;
    }
    if let Some(x) = r.field(obj, path, "path", Reader::string) {
        rc.path = x;
    }
    if let Some(x) = r.field(obj, path, "portName", Reader::string) {
        rc.port_name = x;
    }
    if let Some(x) = r.field(obj, path, "intervalSeconds", Reader::long) {
        rc.interval_seconds = x;
    }
    if let Some(x) = r.field(obj, path, "timeoutSeconds", Reader::long) {
        rc.timeout_seconds = x;
    }
    if let Some(x) = r.field(obj, path, "httpStatusCodesForReady", |r, v, p| r.list(v, p, Reader::int)) {
        rc.http_status_codes_for_ready = x.into_iter().collect();
    }
    if let Some(x) = r.field(obj, path, "preserveLastResponse", Reader::boolean) {
        rc.preserve_last_response = x;
    }
    (r.errors.len() == before).then_some(rc)
}

fn read_upgrade_strategy(r: &mut Reader, v: &Value, path: &str) -> Option<UpgradeStrategy> {
    let obj = r.object(v, path)?;
    let defaults = UpgradeStrategy::default();
    let min = r.field(obj, path, "minimumHealthCapacity", Reader::double);
    let max = r.field(obj, path, "maximumOverCapacity", Reader::double);
    Some(UpgradeStrategy {
        minimum_health_capacity: min.unwrap_or(defaults.minimum_health_capacity),
        maximum_over_capacity: max.unwrap_or(defaults.maximum_over_capacity),
    })
}

fn read_roles(r: &mut Reader, v: &Value, path: &str) -> Option<BTreeSet<String>> {
    let roles: BTreeSet<String> = r.strings(v, path)?.into_iter().collect();
    if roles.is_empty() {
        r.error(path, "set must not be empty");
        return None;
    }
    Some(roles)
}

fn read_ip_address(r: &mut Reader, v: &Value, path: &str) -> Option<IpAddress> {
    let obj = r.object(v, path)?;
    let groups = r.field(obj, path, "groups", Reader::strings);
    let labels = r.field(obj, path, "labels", Reader::string_map);
    let discovery = r.field(obj, path, "discovery", |r, v, p| {
        let obj = r.object(v, p)?;
        r.required(obj, p, "ports", read_discovery_ports)
    });
    let network_name = r.field(obj, path, "networkName", Reader::string);
    Some(IpAddress {
        groups: groups.unwrap_or_default(),
        labels: labels.unwrap_or_default(),
        discovery_ports: discovery.unwrap_or_default(),
        network_name,
    })
}

fn read_discovery_ports(r: &mut Reader, v: &Value, path: &str) -> Option<Vec<DiscoveryPort>> {
    let ports = r.list(v, path, |r, v, p| {
        let obj = r.object(v, p)?;
        let number = r.required(obj, p, "number", Reader::int);
        let name = r.required(obj, p, "name", |r, v, p| {
            let s = r.string(v, p)?;
            if full_match(PORT_NAME_PATTERN, &s) == Some(true) {
                Some(s)
            } else {
                r.error(p, format!("Port name must fully match regular expression {PORT_NAME_PATTERN}"));
                None
            }
        });
        let protocol = r.required(obj, p, "protocol", |r, v, p| {
            let s = r.string(v, p)?;
            if s == "tcp" || s == "udp" {
                Some(s)
            } else {
                r.error(p, "Invalid protocol. Only 'udp' or 'tcp' are allowed.");
                None
            }
        });
        let labels = r.field(obj, p, "labels", Reader::string_map);
        Some(DiscoveryPort { number: number?, name: name?, protocol: protocol?, labels: labels.unwrap_or_default() })
    })?;
    let names: BTreeSet<&str> = ports.iter().map(|p| p.name.as_str()).collect();
    let numbers: BTreeSet<(i32, &str)> = ports.iter().map(|p| (p.number, p.protocol.as_str())).collect();
    if names.len() != ports.len() {
        r.error(path, "Port names are not unique.");
        return None;
    }
    if numbers.len() != ports.len() {
        r.error(path, "There may be only one port with a particular port number/protocol combination.");
        return None;
    }
    Some(ports)
}

fn read_timestamp(r: &mut Reader, v: &Value, path: &str) -> Option<Timestamp> {
    let s = r.string(v, path)?;
    let ts = Timestamp::parse(&s);
    if ts.is_none() {
        r.error(path, "error.expected.date.isoformat");
    }
    ts
}

/// Read-only `versionInfo` echoed by clients: taken when well-formed, ignored otherwise.
fn read_version_info(v: &Value) -> Option<VersionInfo> {
    let at = |key: &str| v.get(key).and_then(Value::as_str).and_then(Timestamp::parse);
    Some(VersionInfo { last_scaling_at: at("lastScalingAt")?, last_config_change_at: at("lastConfigChangeAt")? })
}

fn read_residency(r: &mut Reader, v: &Value, path: &str) -> Option<Residency> {
    let obj = r.object(v, path)?;
    let timeout = r.field(obj, path, "relaunchEscalationTimeoutSeconds", Reader::long);
    let behavior = r.field(obj, path, "taskLostBehavior", |r, v, p| {
        let s = r.string(v, p)?;
        match s.as_str() {
            "WAIT_FOREVER" => Some(TaskLostBehavior::WaitForever),
            "RELAUNCH_AFTER_TIMEOUT" => Some(TaskLostBehavior::RelaunchAfterTimeout),
            _ => {
                r.error(
                    p,
                    format!(
                        "'{s}' is not a valid taskLostBehavior. Allowed values: WAIT_FOREVER, RELAUNCH_AFTER_TIMEOUT"
                    ),
                );
                None
            }
        }
    });
    let defaults = Residency::default();
    Some(Residency {
        relaunch_escalation_timeout_seconds: timeout.unwrap_or(defaults.relaunch_escalation_timeout_seconds),
        task_lost_behavior: behavior.unwrap_or(defaults.task_lost_behavior),
    })
}

fn read_secrets(r: &mut Reader, v: &Value, path: &str) -> Option<BTreeMap<String, Secret>> {
    r.map(v, path, |r, v, p| {
        let obj = r.object(v, p)?;
        r.required(obj, p, "source", Reader::string).map(|source| Secret { source })
    })
}

fn read_unreachable_strategy(r: &mut Reader, v: &Value, path: &str) -> Option<UnreachableStrategy> {
    match v {
        Value::String(s) if s == "disabled" => Some(UnreachableStrategy::Disabled),
        Value::Object(obj) => {
            let inactive = r.field(obj, path, "inactiveAfterSeconds", Reader::long);
            let expunge = r.field(obj, path, "expungeAfterSeconds", Reader::long);
            Some(UnreachableStrategy::Enabled {
                inactive_after_seconds: inactive.unwrap_or(0),
                expunge_after_seconds: expunge.unwrap_or(0),
            })
        }
        _ => {
            r.error(path, "error.expected.jsobject");
            None
        }
    }
}

fn read_kill_selection(r: &mut Reader, v: &Value, path: &str) -> Option<KillSelection> {
    match v.as_str() {
        Some("YOUNGEST_FIRST") => Some(KillSelection::YoungestFirst),
        Some("OLDEST_FIRST") => Some(KillSelection::OldestFirst),
        _ => {
            r.error(path, "error.expected.jsstring");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> Result<AppDefinition, ApiError> {
        app_from_json(&value, &PathId::root())
    }

    fn details(err: &ApiError) -> Value {
        err.body()["details"].clone()
    }

    #[test]
    fn empty_and_malformed_bodies() {
        let err = parse_app(b"", &PathId::root()).expect_err("empty");
        assert_eq!((err.status(), err.message_text()), (400, "Please specify data in JSON format"));
        let err = parse_app(b"  \n", &PathId::root()).expect_err("blank");
        assert_eq!(err.message_text(), "Please specify data in JSON format");
        let err = parse_app(br#"{"id":"/test""#, &PathId::root()).expect_err("malformed");
        assert_eq!((err.status(), err.message_text()), (400, "Invalid JSON"));
        assert!(err.body()["details"].is_string());
    }

    #[test]
    fn type_errors_use_play_json_keys_and_paths() {
        let err = parse(json!({"id": 123})).expect_err("id type");
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.body(),
            &json!({"message":"Invalid JSON","details":[{"path":"/id","errors":["error.expected.jsstring"]}]})
        );

        let err = parse(json!({
            "id": "x", "cmd": 1, "cpus": "a", "instances": 1.5, "requirePorts": "no", "args": "a",
            "labels": [], "env": {"A": 1}, "portDefinitions": [{"port": "80"}], "backoffSeconds": 0.5,
            "container": {"docker": {"image": 5}}
        }))
        .expect_err("types");
        assert_eq!(
            details(&err),
            json!([
                {"path":"/cmd","errors":["error.expected.jsstring"]},
                {"path":"/args","errors":["error.expected.jsarray"]},
                {"path":"/env/A","errors":["error.expected.jsstring"]},
                {"path":"/instances","errors":["error.expected.int"]},
                {"path":"/cpus","errors":["error.expected.jsnumber"]},
                {"path":"/portDefinitions(0)/port","errors":["error.expected.jsnumber"]},
                {"path":"/requirePorts","errors":["error.expected.jsboolean"]},
                {"path":"/backoffSeconds","errors":["error.expected.long"]},
                {"path":"/container/docker/image","errors":["error.expected.jsstring"]},
                {"path":"/labels","errors":["error.expected.jsobject"]}
            ])
        );
    }

    #[test]
    fn missing_id_and_min_length() {
        let err = parse(json!({"cmd": "x"})).expect_err("no id");
        assert_eq!(details(&err), json!([{"path":"/id","errors":["error.path.missing"]}]));
        let err = parse(json!({"id": "", "cmd": ""})).expect_err("empty strings");
        assert_eq!(
            details(&err),
            json!([{"path":"/id","errors":["error.minLength"]},{"path":"/cmd","errors":["error.minLength"]}])
        );
        let err = parse(json!([1])).expect_err("not an object");
        assert_eq!(details(&err), json!([{"path":"/id","errors":["error.path.missing"]}]));
    }

    #[test]
    fn conflicting_fields() {
        let both = |v: Value| details(&parse(v).expect_err("conflict"))[0]["errors"][0].clone();
        assert_eq!(
            both(json!({"id":"a","cmd":"x","uris":["http://a/b"],"fetch":[{"uri":"http://c/d"}]})),
            json!("You cannot specify both uris and fetch fields")
        );
        assert_eq!(
            both(json!({"id":"a","cmd":"x","ports":[80],"ipAddress":{}})),
            json!("You cannot specify both an IP address and ports")
        );
        assert_eq!(
            both(json!({"id":"a","cmd":"x","ports":[80],"portDefinitions":[{"port":81}]})),
            json!("You cannot specify both ports and port definitions")
        );
        let err = parse(json!({"id":"a","cmd":"x","ports":[80],"portDefinitions":[{"port":81}]})).expect_err("x");
        assert_eq!(details(&err)[0]["path"], json!(""));
        // Equivalent echoes of GET output are accepted.
        let app = parse(json!({"id":"a","cmd":"x","ports":[80],"portDefinitions":[{"port":80,"name":"http"}],
            "uris":["http://a/b.tgz"],"fetch":[{"uri":"http://a/b.tgz","extract":false}]}))
        .expect("equivalent");
        assert_eq!(app.port_definitions[0].name.as_deref(), Some("http"));
        assert!(!app.fetch[0].extract);
        let err = parse(json!({"id":"a","cmd":"x","ports":[80, 80]})).expect_err("dup ports");
        assert_eq!(details(&err), json!([{"path":"/ports","errors":["Ports must be unique."]}]));
        assert!(parse(json!({"id":"a","cmd":"x","ports":[0, 0]})).is_ok());
    }

    #[test]
    fn defaults_and_legacy_fields() {
        let app = parse(json!({"id":"prod/web","cmd":"x","uris":["http://a/b.tgz","http://a/c.jar"],
            "ports":[8080, 0],"dependencies":["../db","/abs"],"unknownField":1,"tasks":[],"tasksRunning":3,
            "deployments":[{"id":"x"}]}))
        .expect("valid");
        assert_eq!(app.id.to_string(), "/prod/web");
        assert_eq!(app.fetch.iter().map(|f| f.extract).collect::<Vec<_>>(), vec![true, false]);
        assert_eq!(app.port_definitions, vec![PortDefinition::new(8080), PortDefinition::new(0)]);
        assert_eq!(app.dependencies, vec![PathId::parse("/prod/db"), PathId::parse("/abs")]);
        let app = parse(json!({"id":"a","cmd":"x","ipAddress":{"networkName":"n"}})).expect("ip");
        assert!(app.port_definitions.is_empty());
        let app = parse(json!({"id":"a","cmd":"x","version":"2017-03-01T23:42:20.938Z"})).expect("version");
        assert_eq!(app.version.to_string(), "2017-03-01T23:42:20.938Z");
        let err = parse(json!({"id":"a","cmd":"x","version":"nope"})).expect_err("bad version");
        assert_eq!(details(&err), json!([{"path":"/version","errors":["error.expected.date.isoformat"]}]));
    }

    #[test]
    fn group_base_resolution() {
        let app = parse_app(br#"{"id":"web","cmd":"x"}"#, &PathId::parse("/prod")).expect("valid");
        assert_eq!(app.id.to_string(), "/prod/web");
        let app = parse_app_replacement(br#"{"id":"/other","cmd":"x"}"#, &PathId::parse("/mine")).expect("replace");
        assert_eq!(app.id.to_string(), "/mine");
    }

    #[test]
    fn containers() {
        let err = parse(json!({"id":"a","container":{"type":"DOCKER"}})).expect_err("no docker");
        assert_eq!(details(&err), json!([{"path":"/container/docker","errors":["docker must not be empty"]}]));
        let err = parse(json!({"id":"a","container":{"type":"RKT"}})).expect_err("type");
        assert_eq!(details(&err), json!([{"path":"/container/type","errors":["RKT is not a valid container type"]}]));
        let err = parse(json!({"id":"a","container":{"docker":{"image":"x","network":"FOO"}}})).expect_err("net");
        assert_eq!(details(&err)[0]["errors"], json!(["FOO is not a valid network type"]));
        let err = parse(json!({"id":"a","container":{"type":"MESOS","docker":{"image":"x","network":"HOST"}}}))
            .expect_err("mesos network");
        assert_eq!(
            details(&err),
            json!([{"path":"/container/docker/network","errors":["Mesos Containerizer does not support network"]}])
        );
        let app = parse(json!({"id":"a","container":{"type":"DOCKER","docker":{"image":"x","network":"HOST",
            "portMappings":[{"containerPort":80}]}}}))
        .expect("host");
        assert!(app.port_mappings().is_empty());
        let app = parse(json!({"id":"a","container":{"docker":{"image":"x","network":"BRIDGE",
            "portMappings":[{"containerPort":80}]}},"healthChecks":[{}]}))
        .expect("bridge");
        assert_eq!(app.port_mappings()[0].host_port, Some(0));
        assert_eq!(app.health_checks[0].port_index, Some(PortReference::Index(0)));
        let app = parse(json!({"id":"a","cmd":"x","container":{"type":"MESOS","volumes":[
            {"containerPath":"/data","hostPath":"/srv","mode":"RO"},
            {"containerPath":"pv","mode":"RW","persistent":{"size":10}}]}}))
        .expect("mesos volumes");
        assert!(app.is_resident());
        assert_eq!(app.upgrade_strategy, UpgradeStrategy::for_resident_tasks());
        assert_eq!(app.unreachable_strategy, UnreachableStrategy::Disabled);
        let err = parse(json!({"id":"a","container":{"type":"MESOS","volumes":[{"containerPath":"x","mode":"XX"}]}}))
            .expect_err("mode");
        assert_eq!(details(&err), json!([{"path":"/container/volumes(0)/mode","errors":["XX is not a valid mode"]}]));
    }

    #[test]
    fn health_and_readiness_checks() {
        let app = parse(json!({"id":"a","cmd":"x","portDefinitions":[],"healthChecks":[
            {"protocol":"COMMAND","command":{"value":"true"}},
            {"protocol":"MESOS_HTTP","path":"/ping","delaySeconds":5},
            {"protocol":"TCP","port":80}
        ]}))
        .expect("checks");
        let hcs = &app.health_checks;
        assert_eq!(hcs[0].command.as_deref(), Some("true"));
        assert_eq!(hcs[1].port_index, None);
        assert_eq!((hcs[1].delay_seconds, hcs[1].path.as_deref()), (5, Some("/ping")));
        assert_eq!(hcs[2].port, Some(80));
        let err = parse(json!({"id":"a","cmd":"x","healthChecks":[{"protocol":"FOO"},{"protocol":"COMMAND"}]}))
            .expect_err("bad");
        assert_eq!(
            details(&err),
            json!([{"path":"/healthChecks(0)/protocol","errors":["FOO is not a valid protocol"]},
                   {"path":"/healthChecks(1)/command","errors":["error.path.missing"]}])
        );
        let err = parse(json!({"id":"a","cmd":"x","readinessChecks":[{"protocol":"TCP"}]})).expect_err("rc");
        assert_eq!(
            details(&err),
            json!([{"path":"/readinessChecks(0)/protocol","errors":["Choose one of HTTP, HTTPS"]}])
        );
    }

    #[test]
    fn constraints_roles_and_enums() {
        let err = parse(json!({"id":"a","cmd":"x","constraints":[["host"],["h","NEAR"]]})).expect_err("c");
        assert_eq!(
            details(&err),
            json!([
                {"path":"/constraints(0)","errors":["Constraint definition must be an array of strings in format: <key>, <operator>[, value]"]},
                {"path":"/constraints(1)","errors":["Constraint operator must be one of the following: [UNIQUE, LIKE, CLUSTER, GROUP_BY, UNLIKE, MAX_PER]"]}
            ])
        );
        let app = parse(json!({"id":"a","cmd":"x","constraints":[["h","UNIQUE"],["h","UNIQUE"]]})).expect("dedup");
        assert_eq!(app.constraints.len(), 1);
        let err = parse(json!({"id":"a","cmd":"x","acceptedResourceRoles":[]})).expect_err("roles");
        assert_eq!(details(&err), json!([{"path":"/acceptedResourceRoles","errors":["set must not be empty"]}]));
        let err = parse(json!({"id":"a","cmd":"x","killSelection":"RANDOM"})).expect_err("kill");
        assert_eq!(details(&err), json!([{"path":"/killSelection","errors":["error.expected.jsstring"]}]));
        let err = parse(json!({"id":"a","cmd":"x","executor":"/bad/"})).expect_err("executor");
        assert_eq!(details(&err), json!([{"path":"/executor","errors":["error.pattern"]}]));
        let app = parse(json!({"id":"a","cmd":"x","unreachableStrategy":"disabled","killSelection":"OLDEST_FIRST",
            "residency":{"taskLostBehavior":"RELAUNCH_AFTER_TIMEOUT"},"env":{"S":{"secret":"s1"}},
            "secrets":{"s1":{"source":"/db/pw"}}}))
        .expect("enums");
        assert_eq!(app.unreachable_strategy, UnreachableStrategy::Disabled);
        assert_eq!(app.kill_selection, KillSelection::OldestFirst);
        assert_eq!(app.env["S"], EnvVarValue::Secret("s1".into()));
        assert_eq!(app.residency.map(|r| r.task_lost_behavior), Some(TaskLostBehavior::RelaunchAfterTimeout));
    }

    #[test]
    fn ip_address_discovery() {
        let err = parse(json!({"id":"a","cmd":"x","ipAddress":{"discovery":{"ports":[
            {"number":80,"name":"http","protocol":"tcp"},{"number":81,"name":"http","protocol":"tcp"}]}}}))
        .expect_err("dup names");
        assert_eq!(
            details(&err),
            json!([{"path":"/ipAddress/discovery/ports","errors":["Port names are not unique."]}])
        );
        let err = parse(json!({"id":"a","cmd":"x","ipAddress":{"discovery":{"ports":[
            {"number":80,"name":"Http","protocol":"sctp"}]}}}))
        .expect_err("bad port");
        assert_eq!(
            details(&err),
            json!([
                {"path":"/ipAddress/discovery/ports(0)/name","errors":["Port name must fully match regular expression ^[a-z0-9-]+$"]},
                {"path":"/ipAddress/discovery/ports(0)/protocol","errors":["Invalid protocol. Only 'udp' or 'tcp' are allowed."]}
            ])
        );
    }
}
