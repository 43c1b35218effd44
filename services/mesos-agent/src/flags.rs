//! The agent's flags (a subset of Mesos 1.11's, with upstream names and defaults).

use common::config::{Flag, Kind, MasterAddress, MesosDuration, Schema, Style};
use serde::Deserialize;

const PORT: Kind = Kind::Int { min: 1, max: 65535 };
const RESOURCES: Kind = Kind::Parsed {
    check: |text| common::resources::Resources::parse_text(text).is_ok(),
    expected: "'name:value;...' with value a number, [a-b,...] or {a,b} (e.g. cpus:2;mem:1024;ports:[31000-32000]), or a JSON array of Resource objects",
};
const ATTRIBUTES: Kind = Kind::Parsed {
    check: |text| common::resources::parse_attributes(text).is_ok(),
    expected: "'name:value;...' (e.g. rack:r1;zone:a)",
};

/// Every flag the agent accepts.
pub const FLAGS: &[Flag] = &[
    Flag::new("master", Kind::Master, None, "Where the master is: host:port, or zk://host:port[,host:port]/path to follow the elected leader."),
    Flag::new("work_dir", Kind::Text, Some("/var/lib/mesos"), "Directory for sandboxes and checkpoints (upstream requires it; mesos-rs defaults it so the tutorial's agent command works)."),
    Flag::new("ip", Kind::Text, None, "IP address to listen on and advertise (default: all addresses; advertise the hostname's)."),
    Flag::new("port", PORT, Some("5051"), "Port to listen on."),
    Flag::new("hostname", Kind::Text, None, "Hostname to advertise (default: the IP with --no-hostname_lookup, else the system hostname)."),
    Flag::new("hostname_lookup", Kind::Bool, Some("true"), "Look up the hostname when --hostname is not given."),
    Flag::new("advertise_ip", Kind::Text, None, "IP address advertised to the master."),
    Flag::new("advertise_port", PORT, None, "Port advertised to the master."),
    Flag::new("resources", RESOURCES, None, "Total resources, 'cpus:2;mem:1024;disk:10000;ports:[31000-32000]' or a JSON array (default: detected)."),
    Flag::new("attributes", ATTRIBUTES, None, "Attributes, 'rack:r1;zone:a'."),
    Flag::new("containerizers", Kind::Text, Some("mesos"), "Ordered containerizers: mesos, docker (e.g. docker,mesos)."),
    Flag::new("docker", Kind::Text, Some("docker"), "Docker CLI path. Accepted for compatibility: mesos-rs talks to the Docker API directly."),
    Flag::new("docker_socket", Kind::Text, Some("/var/run/docker.sock"), "Docker daemon socket."),
    Flag::new("docker_stop_timeout", Kind::Duration, Some("0ns"), "Extra time Docker waits between stop and kill (the task's kill grace period is used when longer). Accepted for compatibility; mesos-rs does not use it yet."),
    Flag::new("docker_kill_orphans", Kind::Bool, Some("true"), "Kill mesos-* containers of this agent that it does not know."),
    Flag::new("executor_shutdown_grace_period", Kind::Duration, Some("5secs"), "Default time between SIGTERM and SIGKILL when killing a task."),
    Flag::new("recover", Kind::Choice(&["reconnect", "cleanup"]), Some("reconnect"), "After a restart: reconnect to the tasks of checkpointing frameworks (others are killed), or (cleanup) kill every task, forget the agent id and exit."),
    Flag::new("recovery_timeout", Kind::Duration, Some("15mins"), "How long recovered tasks wait for the master. Accepted for compatibility; mesos-rs does not use it yet."),
    Flag::new("strict", Kind::Bool, Some("true"), "Fail start-up when a task's container cannot be recovered (e.g. the Docker daemon is unreachable); with --no-strict such tasks are reported TASK_FAILED instead."),
    Flag::new("registration_backoff_factor", Kind::Duration, Some("1secs"), "Initial registration backoff (doubles up to 1mins)."),
    Flag::new("zk_session_timeout", Kind::Duration, Some("10secs"), "ZooKeeper session timeout for master detection."),
    Flag::new("switch_user", Kind::Bool, Some("true"), "Run tasks as the framework's user when the agent runs as root."),
    Flag::new("cgroups_root", Kind::Text, None, "A writable cgroup v2 directory under which each command task gets a cgroup with its cpu.weight and memory.max (default: no limits for command tasks; Docker tasks always get cpu-shares and a memory limit)."),
    Flag::new("sandbox_directory", Kind::Text, Some("/mnt/mesos/sandbox"), "Where the sandbox is mounted inside containers. Accepted for compatibility; mesos-rs does not use it yet."),
    Flag::new("default_role", Kind::Text, Some("*"), "Role of resources given without one. Accepted for compatibility; mesos-rs does not use it yet."),
    Flag::new("gc_delay", Kind::Duration, Some("1weeks"), "How long a finished task's sandbox and checkpoints are kept after its terminal update was acknowledged (and an earlier agent id's directories after their last change)."),
    Flag::new("credential", Kind::Text, None, "Path (optionally file://) of this agent's credential for a master run with --authenticate_agents: one 'principal secret' line or JSON {\"principal\": ..., \"secret\": ...}."),
    Flag::new("log_dir", Kind::Text, None, "Directory for the log file mesos-agent.log, written in addition to stderr (default: stderr only)."),
    Flag::new("logging_level", Kind::Choice(&["INFO", "WARNING", "ERROR"]), Some("INFO"), "Log level (RUST_LOG, when set, overrides it)."),
    Flag::new("log_format", Kind::Choice(common::logging::FORMATS), Some("text"), "Log lines as plain text or as JSON objects (one per line)."),
];

/// The `mesos-agent` configuration schema (also read from `/etc/mesos-slave`).
pub const SCHEMA: Schema = Schema {
    program: "mesos-agent",
    style: Style::Mesos,
    env_prefix: "MESOS_",
    conf_dirs: &["mesos-slave", "mesos-agent"],
    mesos_zk_file_flag: Some("master"),
    flags: FLAGS,
};

/// The agent's typed configuration (see [`FLAGS`] for each flag's meaning).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `--master`.
    pub master: Option<MasterAddress>,
    /// `--work_dir`.
    pub work_dir: String,
    /// `--ip`.
    pub ip: Option<String>,
    /// `--port`.
    pub port: u16,
    /// `--hostname`.
    pub hostname: Option<String>,
    /// `--hostname_lookup`.
    pub hostname_lookup: bool,
    /// `--advertise_ip`.
    pub advertise_ip: Option<String>,
    /// `--advertise_port`.
    pub advertise_port: Option<u16>,
    /// `--resources`.
    pub resources: Option<String>,
    /// `--attributes`.
    pub attributes: Option<String>,
    /// `--containerizers`.
    pub containerizers: String,
    /// `--docker_socket`.
    pub docker_socket: String,
    /// `--docker_kill_orphans`.
    pub docker_kill_orphans: bool,
    /// `--executor_shutdown_grace_period`.
    pub executor_shutdown_grace_period: MesosDuration,
    /// `--recover` (`reconnect` or `cleanup`).
    pub recover: String,
    /// `--strict`.
    pub strict: bool,
    /// `--gc_delay`.
    pub gc_delay: MesosDuration,
    /// `--registration_backoff_factor`.
    pub registration_backoff_factor: MesosDuration,
    /// `--zk_session_timeout`.
    pub zk_session_timeout: MesosDuration,
    /// `--switch_user`.
    pub switch_user: bool,
    pub cgroups_root: Option<String>,
    /// `--log_dir`.
    pub log_dir: Option<String>,
    /// `--logging_level`.
    pub logging_level: String,
    /// `--credential`: path of the credential file.
    pub credential: Option<String>,
    /// `--log_format`: `text` or `json`.
    pub log_format: String,
}

impl Config {
    /// The credential read from `--credential`, if given; the error names the file, never its contents.
    pub fn read_credential(&self) -> Result<Option<common::auth::Credential>, String> {
        let Some(path) = &self.credential else { return Ok(None) };
        let text = common::auth::read_credentials_file(path).map_err(|e| format!("mesos-agent: {e}"))?;
        common::auth::parse_credential(&text)
            .map(Some)
            .map_err(|e| format!("mesos-agent: invalid --credential file: {e}"))
    }

    /// Cross-flag rules checked at start-up.
    pub fn validate(&self) -> Result<(), String> {
        self.read_credential()?;
        if self.master.is_none() {
            return Err("mesos-agent: Flag 'master' is required, but it was not provided (set MESOS_MASTER=host:port or zk://host:port/mesos)".into());
        }
        for name in self.containerizers.split(',') {
            if !matches!(name.trim(), "mesos" | "docker") {
                return Err(format!(
                    "mesos-agent: invalid value '{}' for --containerizers: expected a comma-separated list of mesos, docker",
                    self.containerizers
                ));
            }
        }
        if let Some(ip) = &self.ip {
            if ip.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(format!(
                    "mesos-agent: invalid value '{ip}' for --ip: expected an IPv4 address such as 10.0.0.3"
                ));
            }
        }
        Ok(())
    }
}
