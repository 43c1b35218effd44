//! The stored app model (Marathon 1.4 `AppDefinition`) with its defaults and derived port data.

use std::collections::{BTreeMap, BTreeSet};

use super::path_id::PathId;
use super::timestamp::Timestamp;

/// Port number meaning "assign one for me".
pub const RANDOM_PORT: i32 = 0;
/// Label marking single-instance apps.
pub const SINGLE_INSTANCE_LABEL: &str = "MARATHON_SINGLE_INSTANCE_APP";
/// Constraint operators known to Marathon 1.4, in protobuf order.
pub const CONSTRAINT_OPERATORS: [&str; 6] = ["UNIQUE", "LIKE", "CLUSTER", "GROUP_BY", "UNLIKE", "MAX_PER"];

/// A Marathon app definition with every 1.4 field.
#[derive(Debug, Clone, PartialEq)]
pub struct AppDefinition {
    /// Absolute app id.
    pub id: PathId,
    /// Shell command (`/bin/sh -c`).
    pub cmd: Option<String>,
    /// Exec-form arguments.
    pub args: Vec<String>,
    /// User to run as (falls back to `--mesos_user`).
    pub user: Option<String>,
    /// Environment variables.
    pub env: BTreeMap<String, EnvVarValue>,
    /// Desired instance count.
    pub instances: i32,
    /// CPU shares per instance.
    pub cpus: f64,
    /// Memory (MB) per instance.
    pub mem: f64,
    /// Disk (MB) per instance.
    pub disk: f64,
    /// GPUs per instance.
    pub gpus: i32,
    /// Executor path (`""` = command executor).
    pub executor: String,
    /// Placement constraints (a set; duplicates are dropped on read).
    pub constraints: Vec<Constraint>,
    /// Artifacts fetched into the sandbox.
    pub fetch: Vec<FetchUri>,
    /// Store URLs.
    pub store_urls: Vec<String>,
    /// Port definitions (`port` = requested/assigned service port).
    pub port_definitions: Vec<PortDefinition>,
    /// Require host ports equal to the service ports.
    pub require_ports: bool,
    /// Initial launch backoff in seconds.
    pub backoff_seconds: i64,
    /// Backoff multiplier.
    pub backoff_factor: f64,
    /// Backoff cap in seconds.
    pub max_launch_delay_seconds: i64,
    /// Container settings.
    pub container: Option<Container>,
    /// Health checks (a set).
    pub health_checks: Vec<HealthCheck>,
    /// Readiness checks (at most one is valid).
    pub readiness_checks: Vec<ReadinessCheck>,
    /// SIGTERM → SIGKILL grace period.
    pub task_kill_grace_period_seconds: Option<i64>,
    /// Absolute ids of apps/groups this app depends on (a set).
    pub dependencies: Vec<PathId>,
    /// Rolling-restart capacities.
    pub upgrade_strategy: UpgradeStrategy,
    /// Free-form labels.
    pub labels: BTreeMap<String, String>,
    /// Roles whose resources may be used; empty = unset.
    pub accepted_resource_roles: BTreeSet<String>,
    /// IP-per-task settings.
    pub ip_address: Option<IpAddress>,
    /// Resident-task settings.
    pub residency: Option<Residency>,
    /// Declared secrets.
    pub secrets: BTreeMap<String, Secret>,
    /// Handling of unreachable instances.
    pub unreachable_strategy: UnreachableStrategy,
    /// Which instances are killed first when scaling down.
    pub kill_selection: KillSelection,
    /// Version timestamp.
    pub version: Timestamp,
    /// Scaling/config change times; `None` until the app has been stored.
    pub version_info: Option<VersionInfo>,
}

impl AppDefinition {
    /// An app with every field at its 1.4 default (version = now).
    pub fn new(id: PathId) -> Self {
        AppDefinition {
            id,
            cmd: None,
            args: Vec::new(),
            user: None,
            env: BTreeMap::new(),
            instances: 1,
            cpus: 1.0,
            mem: 128.0,
            disk: 0.0,
            gpus: 0,
            executor: String::new(),
            constraints: Vec::new(),
            fetch: Vec::new(),
            store_urls: Vec::new(),
            port_definitions: vec![PortDefinition::default_port()],
            require_ports: false,
            backoff_seconds: 1,
            backoff_factor: 1.15,
            max_launch_delay_seconds: 3600,
            container: None,
            health_checks: Vec::new(),
            readiness_checks: Vec::new(),
            task_kill_grace_period_seconds: None,
            dependencies: Vec::new(),
            upgrade_strategy: UpgradeStrategy::default(),
            labels: BTreeMap::new(),
            accepted_resource_roles: BTreeSet::new(),
            ip_address: None,
            residency: None,
            secrets: BTreeMap::new(),
            unreachable_strategy: UnreachableStrategy::default(),
            kill_selection: KillSelection::YoungestFirst,
            version: Timestamp::now(),
            version_info: None,
        }
    }

    /// Port mappings of a Docker container (empty otherwise).
    pub fn port_mappings(&self) -> &[PortMapping] {
        self.container.as_ref().map(Container::port_mappings).unwrap_or(&[])
    }

    /// Service ports: from port mappings when there are any, else from port definitions.
    pub fn service_ports(&self) -> Vec<i32> {
        let mappings = self.port_mappings();
        if mappings.is_empty() {
            self.port_definitions.iter().map(|p| p.port).collect()
        } else {
            mappings.iter().map(|m| m.service_port).collect()
        }
    }

    /// Requested host ports, one per port (mapping `hostPort` or port definition number).
    pub fn host_ports(&self) -> Vec<Option<i32>> {
        let mappings = self.port_mappings();
        if mappings.is_empty() {
            self.port_definitions.iter().map(|p| Some(p.port)).collect()
        } else {
            mappings.iter().map(|m| m.host_port).collect()
        }
    }

    /// Whether some service port is still 0 (to be assigned).
    pub fn has_dynamic_service_ports(&self) -> bool {
        self.service_ports().contains(&RANDOM_PORT)
    }

    /// Names of the app's ports in the active networking mode.
    pub fn port_names(&self) -> Vec<String> {
        let network = self.docker_network();
        if matches!(network, Some(DockerNetwork::Bridge | DockerNetwork::User)) {
            self.port_mappings().iter().filter_map(|m| m.name.clone()).collect()
        } else if let Some(ip) = &self.ip_address {
            ip.discovery_ports.iter().map(|p| p.name.clone()).collect()
        } else {
            self.port_definitions.iter().filter_map(|p| p.name.clone()).collect()
        }
    }

    /// Docker network mode, when the app runs a Docker container.
    pub fn docker_network(&self) -> Option<DockerNetwork> {
        self.container
            .as_ref()
            .filter(|c| c.kind == ContainerType::Docker)
            .and_then(|c| c.docker.as_ref())
            .and_then(|d| d.network)
    }

    /// Volumes of the container.
    pub fn volumes(&self) -> &[Volume] {
        self.container.as_ref().map(|c| c.volumes.as_slice()).unwrap_or(&[])
    }

    /// Whether any volume is a local persistent volume.
    pub fn has_persistent_volumes(&self) -> bool {
        self.volumes().iter().any(|v| v.persistent.is_some())
    }

    /// Whether any volume is an external volume.
    pub fn has_external_volumes(&self) -> bool {
        self.volumes().iter().any(|v| v.external.is_some())
    }

    /// Resident apps have `residency` set.
    pub fn is_resident(&self) -> bool {
        self.residency.is_some()
    }

    /// Apps labelled `MARATHON_SINGLE_INSTANCE_APP=true`.
    pub fn is_single_instance(&self) -> bool {
        self.labels.get(SINGLE_INSTANCE_LABEL).is_some_and(|v| v == "true")
    }

    /// Time of the last configuration change (version when never stored).
    pub fn last_config_change_at(&self) -> Timestamp {
        self.version_info.map_or(self.version, |v| v.last_config_change_at)
    }
}

/// `lastScalingAt` / `lastConfigChangeAt` of a stored app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionInfo {
    /// Last change of any kind (scale, restart or config).
    pub last_scaling_at: Timestamp,
    /// Last change of the configuration.
    pub last_config_change_at: Timestamp,
}

/// An environment variable value: a string or a reference to a declared secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvVarValue {
    /// Plain value.
    Value(String),
    /// `{"secret": name}`.
    Secret(String),
}

/// A placement constraint `[field, operator, value?]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Constraint {
    /// `hostname` or an agent attribute.
    pub field: String,
    /// One of [`CONSTRAINT_OPERATORS`].
    pub operator: String,
    /// Operator argument.
    pub value: Option<String>,
}

/// A Mesos fetcher URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchUri {
    /// What to fetch.
    pub uri: String,
    /// Extract archives.
    pub extract: bool,
    /// Mark executable.
    pub executable: bool,
    /// Use the fetcher cache.
    pub cache: bool,
    /// Output file name.
    pub dest_path: Option<String>,
}

impl FetchUri {
    /// A URI converted from the legacy `uris` list (extract only archives).
    pub fn from_legacy_uri(uri: &str) -> Self {
        const ARCHIVES: [&str; 7] = [".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip"];
        FetchUri {
            uri: uri.to_string(),
            extract: ARCHIVES.iter().any(|ext| uri.ends_with(ext)),
            executable: false,
            cache: false,
            dest_path: None,
        }
    }
}

/// A port resource of a host-networked app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDefinition {
    /// Service port (0 = assign).
    pub port: i32,
    /// `tcp`, `udp` or `udp,tcp`.
    pub protocol: String,
    /// Port name.
    pub name: Option<String>,
    /// Port labels.
    pub labels: BTreeMap<String, String>,
}

impl PortDefinition {
    /// An unnamed tcp port.
    pub fn new(port: i32) -> Self {
        PortDefinition { port, protocol: "tcp".to_string(), name: None, labels: BTreeMap::new() }
    }

    /// The default port of a new app: `{"port":0,"protocol":"tcp","name":"default","labels":{}}`.
    pub fn default_port() -> Self {
        PortDefinition { name: Some("default".to_string()), ..PortDefinition::new(RANDOM_PORT) }
    }
}

/// Containerizer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerType {
    /// Docker containerizer.
    Docker,
    /// Mesos containerizer (optionally with a Docker image).
    Mesos,
}

impl ContainerType {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerType::Docker => "DOCKER",
            ContainerType::Mesos => "MESOS",
        }
    }
}

/// `container` of an app.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    /// `DOCKER` or `MESOS`.
    pub kind: ContainerType,
    /// Volumes.
    pub volumes: Vec<Volume>,
    /// Docker image settings (required for DOCKER, optional image for MESOS).
    pub docker: Option<Docker>,
}

impl Container {
    /// Port mappings (only Docker containers have them).
    pub fn port_mappings(&self) -> &[PortMapping] {
        match (&self.docker, self.kind) {
            (Some(docker), ContainerType::Docker) => &docker.port_mappings,
            _ => &[],
        }
    }
}

/// Docker network modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerNetwork {
    /// Host networking.
    Host,
    /// Bridged networking with port mappings.
    Bridge,
    /// User-defined network.
    User,
    /// No networking.
    None,
}

impl DockerNetwork {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DockerNetwork::Host => "HOST",
            DockerNetwork::Bridge => "BRIDGE",
            DockerNetwork::User => "USER",
            DockerNetwork::None => "NONE",
        }
    }
}

/// `container.docker`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Docker {
    /// Image name.
    pub image: String,
    /// Network mode.
    pub network: Option<DockerNetwork>,
    /// Port mappings (kept only for BRIDGE and USER networks).
    pub port_mappings: Vec<PortMapping>,
    /// Privileged container.
    pub privileged: bool,
    /// Extra `docker run` parameters.
    pub parameters: Vec<Parameter>,
    /// Always pull the image.
    pub force_pull_image: bool,
    /// Registry credential (Mesos containerizer only).
    pub credential: Option<Credential>,
}

/// A Docker port mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// Port inside the container.
    pub container_port: i32,
    /// Host port (0 = random; BRIDGE defaults to 0).
    pub host_port: Option<i32>,
    /// Service port (0 = assign).
    pub service_port: i32,
    /// `tcp`, `udp` or `udp,tcp`.
    pub protocol: String,
    /// Port name.
    pub name: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// A `docker run` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// Option name.
    pub key: String,
    /// Option value.
    pub value: String,
}

/// Registry credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Principal.
    pub principal: String,
    /// Secret.
    pub secret: Option<String>,
}

/// Volume access mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeMode {
    /// Read-write.
    Rw,
    /// Read-only.
    Ro,
}

impl VolumeMode {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeMode::Rw => "RW",
            VolumeMode::Ro => "RO",
        }
    }
}

/// A container volume: host bind (hostPath), local persistent or external.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Mount point in the container.
    pub container_path: String,
    /// Host path of a bind volume (`None` for persistent/external volumes).
    pub host_path: Option<String>,
    /// Access mode.
    pub mode: VolumeMode,
    /// Local persistent volume settings.
    pub persistent: Option<PersistentVolumeInfo>,
    /// External volume settings.
    pub external: Option<ExternalVolumeInfo>,
}

/// `persistent` of a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistentVolumeInfo {
    /// Size in MiB.
    pub size: i64,
    /// Upper bound for mount disks.
    pub max_size: Option<i64>,
    /// `root`, `path` or `mount`.
    pub disk_type: String,
    /// Disk constraints.
    pub constraints: Vec<Constraint>,
}

/// `external` of a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalVolumeInfo {
    /// Size in GiB.
    pub size: Option<i64>,
    /// Volume name.
    pub name: String,
    /// Provider (`dvdi`).
    pub provider: String,
    /// Provider options.
    pub options: BTreeMap<String, String>,
}

/// Health check protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HealthCheckProtocol {
    /// Marathon HTTP check.
    Http,
    /// Marathon HTTPS check.
    Https,
    /// Marathon TCP check.
    Tcp,
    /// Mesos command check.
    Command,
    /// Mesos HTTP check.
    MesosHttp,
    /// Mesos HTTPS check.
    MesosHttps,
    /// Mesos TCP check.
    MesosTcp,
}

impl HealthCheckProtocol {
    /// Every protocol.
    pub const ALL: [HealthCheckProtocol; 7] = [
        HealthCheckProtocol::Http,
        HealthCheckProtocol::Https,
        HealthCheckProtocol::Tcp,
        HealthCheckProtocol::Command,
        HealthCheckProtocol::MesosHttp,
        HealthCheckProtocol::MesosHttps,
        HealthCheckProtocol::MesosTcp,
    ];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthCheckProtocol::Http => "HTTP",
            HealthCheckProtocol::Https => "HTTPS",
            HealthCheckProtocol::Tcp => "TCP",
            HealthCheckProtocol::Command => "COMMAND",
            HealthCheckProtocol::MesosHttp => "MESOS_HTTP",
            HealthCheckProtocol::MesosHttps => "MESOS_HTTPS",
            HealthCheckProtocol::MesosTcp => "MESOS_TCP",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        HealthCheckProtocol::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Checks executed by Mesos (COMMAND, MESOS_*), as opposed to the Marathon leader.
    pub fn is_mesos(self) -> bool {
        !matches!(self, HealthCheckProtocol::Http | HealthCheckProtocol::Https | HealthCheckProtocol::Tcp)
    }

    /// Checks that target a port (all but COMMAND).
    pub fn uses_port(self) -> bool {
        self != HealthCheckProtocol::Command
    }

    /// HTTP-style checks with a `path`.
    pub fn is_http(self) -> bool {
        matches!(
            self,
            HealthCheckProtocol::Http
                | HealthCheckProtocol::Https
                | HealthCheckProtocol::MesosHttp
                | HealthCheckProtocol::MesosHttps
        )
    }
}

/// Reference to an app port by index (or, unsupported in 1.4, by name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PortReference {
    /// Index into the ports / port mappings.
    Index(i32),
    /// Port name.
    Name(String),
}

/// A health check of any protocol (fields not used by a protocol keep their defaults).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HealthCheck {
    /// Protocol.
    pub protocol: HealthCheckProtocol,
    /// HTTP path (`/` when unset).
    pub path: Option<String>,
    /// Port index.
    pub port_index: Option<PortReference>,
    /// Fixed port.
    pub port: Option<i32>,
    /// Command of COMMAND checks (`command.value`).
    pub command: Option<String>,
    /// Failures ignored for this long after start (300).
    pub grace_period_seconds: i64,
    /// Interval between checks (60).
    pub interval_seconds: i64,
    /// Check timeout (20).
    pub timeout_seconds: i64,
    /// Kill after this many consecutive failures (3; 0 = never for Marathon checks).
    pub max_consecutive_failures: i32,
    /// Treat 1xx as success-neutral (HTTP/HTTPS).
    pub ignore_http1xx: bool,
    /// Delay before the first Mesos check (15).
    pub delay_seconds: i64,
}

impl HealthCheck {
    /// A check with all defaults for `protocol`.
    pub fn new(protocol: HealthCheckProtocol) -> Self {
        HealthCheck {
            protocol,
            path: None,
            port_index: None,
            port: None,
            command: None,
            grace_period_seconds: 300,
            interval_seconds: 60,
            timeout_seconds: 20,
            max_consecutive_failures: 3,
            ignore_http1xx: false,
            delay_seconds: 15,
        }
    }
}

/// Readiness check protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadinessProtocol {
    /// HTTP.
    Http,
    /// HTTPS.
    Https,
}

impl ReadinessProtocol {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadinessProtocol::Http => "HTTP",
            ReadinessProtocol::Https => "HTTPS",
        }
    }
}

/// A readiness check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessCheck {
    /// Name (`readinessCheck`).
    pub name: String,
    /// Protocol (HTTP).
    pub protocol: ReadinessProtocol,
    /// Path (`/`).
    pub path: String,
    /// Port name (`http-api`).
    pub port_name: String,
    /// Interval (30 s).
    pub interval_seconds: i64,
    /// Timeout (10 s).
    pub timeout_seconds: i64,
    /// Ready status codes ({200}).
    pub http_status_codes_for_ready: BTreeSet<i32>,
    /// Keep the last response for the deployment view.
    pub preserve_last_response: bool,
}

impl Default for ReadinessCheck {
    fn default() -> Self {
        ReadinessCheck {
            name: "readinessCheck".to_string(),
            protocol: ReadinessProtocol::Http,
            path: "/".to_string(),
            port_name: "http-api".to_string(),
            interval_seconds: 30,
            timeout_seconds: 10,
            http_status_codes_for_ready: BTreeSet::from([200]),
            preserve_last_response: false,
        }
    }
}

/// Rolling-restart capacities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpgradeStrategy {
    /// Fraction of instances that must stay healthy.
    pub minimum_health_capacity: f64,
    /// Fraction of extra instances allowed during the upgrade.
    pub maximum_over_capacity: f64,
}

impl Default for UpgradeStrategy {
    fn default() -> Self {
        UpgradeStrategy { minimum_health_capacity: 1.0, maximum_over_capacity: 1.0 }
    }
}

impl UpgradeStrategy {
    /// Default for resident apps `{0.5, 0}`.
    pub fn for_resident_tasks() -> Self {
        UpgradeStrategy { minimum_health_capacity: 0.5, maximum_over_capacity: 0.0 }
    }
}

/// IP-per-task settings (`ipAddress`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpAddress {
    /// Network groups.
    pub groups: Vec<String>,
    /// Network labels.
    pub labels: BTreeMap<String, String>,
    /// `discovery.ports`.
    pub discovery_ports: Vec<DiscoveryPort>,
    /// Network name.
    pub network_name: Option<String>,
}

/// A port of `ipAddress.discovery`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryPort {
    /// Port number.
    pub number: i32,
    /// Port name.
    pub name: String,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// What to do when a resident task is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskLostBehavior {
    /// Wait for the agent to come back.
    WaitForever,
    /// Relaunch elsewhere after the escalation timeout.
    RelaunchAfterTimeout,
}

impl TaskLostBehavior {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskLostBehavior::WaitForever => "WAIT_FOREVER",
            TaskLostBehavior::RelaunchAfterTimeout => "RELAUNCH_AFTER_TIMEOUT",
        }
    }
}

/// Resident-task settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Residency {
    /// Seconds before relaunching elsewhere (3600).
    pub relaunch_escalation_timeout_seconds: i64,
    /// Behaviour on TASK_LOST (WAIT_FOREVER).
    pub task_lost_behavior: TaskLostBehavior,
}

impl Default for Residency {
    fn default() -> Self {
        Residency { relaunch_escalation_timeout_seconds: 3600, task_lost_behavior: TaskLostBehavior::WaitForever }
    }
}

/// A declared secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// Secret store reference.
    pub source: String,
}

/// Handling of unreachable instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreachableStrategy {
    /// `"disabled"` (default for resident apps).
    Disabled,
    /// Replace after `inactive_after_seconds`, expunge after `expunge_after_seconds`.
    Enabled {
        /// Seconds until a replacement is launched.
        inactive_after_seconds: i64,
        /// Seconds until the instance is expunged.
        expunge_after_seconds: i64,
    },
}

impl Default for UnreachableStrategy {
    /// 1.4.9+ default `{0, 0}`.
    fn default() -> Self {
        UnreachableStrategy::Enabled { inactive_after_seconds: 0, expunge_after_seconds: 0 }
    }
}

impl UnreachableStrategy {
    /// Default for an app: disabled when resident.
    pub fn default_for(resident: bool) -> Self {
        if resident {
            UnreachableStrategy::Disabled
        } else {
            UnreachableStrategy::default()
        }
    }
}

/// Order in which instances are killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillSelection {
    /// Newest first (default).
    YoungestFirst,
    /// Oldest first.
    OldestFirst,
}

impl KillSelection {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KillSelection::YoungestFirst => "YOUNGEST_FIRST",
            KillSelection::OldestFirst => "OLDEST_FIRST",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker_app(network: DockerNetwork, mappings: Vec<PortMapping>) -> AppDefinition {
        let mut app = AppDefinition::new(PathId::parse("/d"));
        app.container = Some(Container {
            kind: ContainerType::Docker,
            volumes: Vec::new(),
            docker: Some(Docker {
                image: "python:3".into(),
                network: Some(network),
                port_mappings: mappings,
                privileged: false,
                parameters: Vec::new(),
                force_pull_image: false,
                credential: None,
            }),
        });
        app
    }

    fn mapping(service_port: i32, host_port: Option<i32>, name: Option<&str>) -> PortMapping {
        PortMapping {
            container_port: 8080,
            host_port,
            service_port,
            protocol: "tcp".into(),
            name: name.map(str::to_string),
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn defaults_match_marathon_1_4() {
        let app = AppDefinition::new(PathId::parse("/a"));
        assert_eq!((app.instances, app.cpus, app.mem, app.disk, app.gpus), (1, 1.0, 128.0, 0.0, 0));
        assert_eq!((app.backoff_seconds, app.backoff_factor, app.max_launch_delay_seconds), (1, 1.15, 3600));
        assert_eq!(app.port_definitions, vec![PortDefinition::default_port()]);
        assert_eq!(
            app.unreachable_strategy,
            UnreachableStrategy::Enabled { inactive_after_seconds: 0, expunge_after_seconds: 0 }
        );
        assert_eq!(app.kill_selection, KillSelection::YoungestFirst);
        assert_eq!(app.upgrade_strategy, UpgradeStrategy { minimum_health_capacity: 1.0, maximum_over_capacity: 1.0 });
        let hc = HealthCheck::new(HealthCheckProtocol::Http);
        assert_eq!((hc.grace_period_seconds, hc.interval_seconds, hc.timeout_seconds), (300, 60, 20));
        assert_eq!((hc.max_consecutive_failures, hc.delay_seconds, hc.ignore_http1xx), (3, 15, false));
        assert_eq!(ReadinessCheck::default().http_status_codes_for_ready, BTreeSet::from([200]));
    }

    #[test]
    fn ports_come_from_mappings_or_definitions() {
        let mut app = AppDefinition::new(PathId::parse("/a"));
        app.port_definitions = vec![PortDefinition::new(80), PortDefinition::new(0)];
        assert_eq!(app.service_ports(), vec![80, 0]);
        assert_eq!(app.host_ports(), vec![Some(80), Some(0)]);
        assert!(app.has_dynamic_service_ports());
        let app = docker_app(DockerNetwork::Bridge, vec![mapping(9000, Some(31000), Some("web"))]);
        assert_eq!(app.service_ports(), vec![9000]);
        assert_eq!(app.host_ports(), vec![Some(31000)]);
        assert_eq!(app.port_names(), vec!["web".to_string()]);
        assert!(!app.has_dynamic_service_ports());
    }

    #[test]
    fn legacy_uris_extract_archives_only() {
        assert!(FetchUri::from_legacy_uri("http://x/a.tar.gz").extract);
        assert!(!FetchUri::from_legacy_uri("http://x/a.jar").extract);
    }

    #[test]
    fn protocol_names_round_trip() {
        for p in HealthCheckProtocol::ALL {
            assert_eq!(HealthCheckProtocol::parse(p.as_str()), Some(p));
        }
        assert!(HealthCheckProtocol::MesosTcp.is_mesos());
        assert!(!HealthCheckProtocol::Tcp.is_mesos());
        assert!(!HealthCheckProtocol::Command.uses_port());
    }
}
