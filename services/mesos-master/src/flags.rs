//! The master's flags (a subset of Mesos 1.11's, with upstream names and defaults).

use common::config::{Flag, Kind, MesosDuration, Schema, Style};
use serde::Deserialize;

const PORT: Kind = Kind::Int { min: 1, max: 65535 };
const COUNT: Kind = Kind::Int { min: 0, max: 1_000_000 };

/// Every flag the master accepts.
pub const FLAGS: &[Flag] = &[
    Flag::new("ip", Kind::Text, None, "IP address to listen on and advertise (default: all addresses; advertise the hostname's)."),
    Flag::new("port", PORT, Some("5050"), "Port to listen on."),
    Flag::new("hostname", Kind::Text, None, "Hostname to advertise (default: the IP with --no-hostname_lookup, else the system hostname)."),
    Flag::new("hostname_lookup", Kind::Bool, Some("true"), "Look up the hostname when --hostname is not given."),
    Flag::new("advertise_ip", Kind::Text, None, "IP address advertised to agents and frameworks."),
    Flag::new("advertise_port", PORT, None, "Port advertised to agents and frameworks."),
    Flag::new("zk", Kind::ZkUrl, None, "ZooKeeper URL for leader election; without it the master runs standalone."),
    Flag::new("zk_session_timeout", Kind::Duration, Some("10secs"), "ZooKeeper session timeout."),
    Flag::new("registry", Kind::Choice(&["in_memory", "replicated_log"]), Some("replicated_log"), "Where the registry of admitted agents lives: in_memory, or replicated_log (durable: in ZooKeeper with --zk, else under --work_dir)."),
    Flag::new("quorum", Kind::Int { min: 1, max: 99 }, None, "Masters that must be running for the durable registry; required with --zk and replicated_log."),
    Flag::new("work_dir", Kind::Text, None, "Directory for the master's persistent state; required with replicated_log."),
    Flag::new("cluster", Kind::Text, None, "Cluster name shown in the web UI and /state."),
    Flag::new("log_dir", Kind::Text, None, "Directory for log files (default: stderr only)."),
    Flag::new("logging_level", Kind::Choice(&["INFO", "WARNING", "ERROR"]), Some("INFO"), "Log level."),
    Flag::new("agent_ping_timeout", Kind::Duration, Some("15secs"), "Time without a pong after which a ping counts as missed."),
    Flag::new("max_agent_ping_timeouts", COUNT, Some("5"), "Missed pings after which an agent is unreachable."),
    Flag::new("offer_timeout", Kind::Duration, None, "Offers not used within this time are rescinded (default: never)."),
    Flag::new("allocation_interval", Kind::Duration, Some("1secs"), "Time between allocation cycles (freed resources are offered at once)."),
    Flag::new("max_completed_frameworks", COUNT, Some("50"), "Completed frameworks kept for /state."),
    Flag::new("max_completed_tasks_per_framework", COUNT, Some("1000"), "Completed tasks kept per framework."),
];

/// The `mesos-master` configuration schema.
pub const SCHEMA: Schema = Schema {
    program: "mesos-master",
    style: Style::Mesos,
    env_prefix: "MESOS_",
    conf_dirs: &["mesos-master"],
    mesos_zk_file_flag: Some("zk"),
    flags: FLAGS,
};

/// The master's typed configuration.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub ip: Option<String>,
    pub port: u16,
    pub hostname: Option<String>,
    pub hostname_lookup: bool,
    pub advertise_ip: Option<String>,
    pub advertise_port: Option<u16>,
    pub zk: Option<String>,
    pub zk_session_timeout: MesosDuration,
    pub registry: String,
    pub quorum: Option<u32>,
    pub work_dir: Option<String>,
    pub cluster: Option<String>,
    pub log_dir: Option<String>,
    pub logging_level: String,
    pub agent_ping_timeout: MesosDuration,
    pub max_agent_ping_timeouts: u32,
    pub offer_timeout: Option<MesosDuration>,
    pub allocation_interval: MesosDuration,
    pub max_completed_frameworks: usize,
    pub max_completed_tasks_per_framework: usize,
}

impl Config {
    /// Cross-flag rules upstream enforces at start-up.
    pub fn validate(&self) -> Result<(), String> {
        if self.registry == "replicated_log" {
            if self.work_dir.is_none() {
                return Err("mesos-master: Flag 'work_dir' is required with --registry=replicated_log (set MESOS_WORK_DIR or use --registry=in_memory)".into());
            }
            if self.zk.is_some() && self.quorum.is_none() {
                return Err("mesos-master: Flag 'quorum' is required when using replicated_log based registry with --zk (set MESOS_QUORUM)".into());
            }
        }
        if let Some(ip) = &self.ip {
            if ip.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(format!("mesos-master: invalid value '{ip}' for --ip: expected an IPv4 address such as 10.0.0.2"));
            }
        }
        Ok(())
    }
}
