//! The master's flags (a subset of Mesos 1.11's, with upstream names and defaults).

use common::config::{Flag, Kind, MesosDuration, Schema, Style};
use mesos_master::allocator::MinAllocatable;
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
    Flag::new("quorum", Kind::Int { min: 1, max: 99 }, None, "With --zk and replicated_log: masters that must have joined the ZooKeeper group before a newly elected leader recovers the registry and serves (set it to a majority of the masters); required there, ignored otherwise."),
    Flag::new("work_dir", Kind::Text, None, "Directory for the master's persistent state; required with replicated_log."),
    Flag::new("cluster", Kind::Text, None, "Cluster name shown in the web UI and /state."),
    Flag::new("log_dir", Kind::Text, None, "Directory for the log file mesos-master.log, written in addition to stderr (default: stderr only)."),
    Flag::new("logging_level", Kind::Choice(&["INFO", "WARNING", "ERROR"]), Some("INFO"), "Log level (RUST_LOG, when set, overrides it)."),
    Flag::new("log_format", Kind::Choice(common::logging::FORMATS), Some("text"), "Log lines as plain text or as JSON objects (one per line)."),
    Flag::new("agent_ping_timeout", Kind::Duration, Some("15secs"), "Interval between pings on each agent link; an interval in which the link is down counts as a missed ping."),
    Flag::new("max_agent_ping_timeouts", Kind::Int { min: 1, max: 1_000_000 }, Some("5"), "Consecutive ping intervals with the agent's link down after which the agent is marked unreachable."),
    Flag::new("agent_reregister_timeout", Kind::Duration, Some("10mins"), "After a leader is elected, agents in the recovered registry that have not re-registered within this time are marked unreachable (upstream requires at least 10mins; shorter values are accepted for testing)."),
    Flag::new("offer_timeout", Kind::Duration, None, "Offers not used within this time are rescinded (default: never)."),
    Flag::new("allocation_interval", Kind::Duration, Some("1secs"), "Time between allocation cycles (freed resources are offered at once)."),
    Flag::new("min_allocatable_resources", Kind::Parsed { check: valid_min_allocatable, expected: "alternatives separated by '|' of ';'-separated name:amount minimums, e.g. cpus:0.01|mem:32" }, Some("cpus:0.01|mem:32"), "Smallest offer worth making: one of the '|'-separated sets of minimums must be met."),
    Flag::new("weights", Kind::Parsed { check: valid_weights, expected: "role=weight pairs separated by commas, e.g. web=2,batch=0.5" }, None, "Role weights for fair sharing, `role=weight,role=weight` (default weight 1)."),
    Flag::new("credentials", Kind::Text, None, "Path (optionally file://) of the credentials file: JSON {\"credentials\": [{\"principal\": ..., \"secret\": ...}]} or one 'principal secret' per line; checked by every --authenticate_* flag."),
    Flag::new("authenticate_frameworks", Kind::Bool, Some("false"), "Only frameworks presenting HTTP Basic credentials from --credentials may use /api/v1/scheduler."),
    Flag::new("authenticate_http_frameworks", Kind::Bool, Some("false"), "Same as --authenticate_frameworks (upstream's name for HTTP schedulers)."),
    Flag::new("authenticate_agents", Kind::Bool, Some("false"), "Only agents presenting credentials from --credentials (their --credential) may register."),
    Flag::new("authenticate_http_readonly", Kind::Bool, Some("false"), "Read-only endpoints (/state, /slaves, /frameworks, /tasks, /flags, /metrics/snapshot, ...) need HTTP Basic credentials from --credentials."),
    Flag::new("authenticate_http_readwrite", Kind::Bool, Some("false"), "Endpoints that can change state (/api/v1, /teardown, ...) need HTTP Basic credentials from --credentials."),
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
    /// `--zk`.
    pub zk: Option<String>,
    /// `--zk_session_timeout`.
    pub zk_session_timeout: MesosDuration,
    /// `--registry`.
    pub registry: String,
    /// With `--zk` and `--registry=replicated_log`: how many masters must be members of the ZooKeeper group
    /// (`json.info_` znodes) before a newly elected leader recovers the registry and starts serving scheduler
    /// and agent calls (which get `503` until then); checked once per election, as a leader that loses its
    /// ZooKeeper session exits. Set it to a majority of the masters, as upstream requires. Ignored with
    /// `in_memory` or without `--zk`.
    pub quorum: Option<u32>,
    /// `--work_dir`.
    pub work_dir: Option<String>,
    /// `--cluster`.
    pub cluster: Option<String>,
    /// `--log_dir`.
    pub log_dir: Option<String>,
    /// `--logging_level`.
    pub logging_level: String,
    /// `--log_format`: `text` or `json`.
    pub log_format: String,
    /// `--agent_ping_timeout`.
    pub agent_ping_timeout: MesosDuration,
    /// `--max_agent_ping_timeouts`.
    pub max_agent_ping_timeouts: u32,
    /// `--agent_reregister_timeout`.
    pub agent_reregister_timeout: MesosDuration,
    /// `--offer_timeout`.
    pub offer_timeout: Option<MesosDuration>,
    /// `--allocation_interval`.
    pub allocation_interval: MesosDuration,
    /// `--min_allocatable_resources`.
    pub min_allocatable_resources: String,
    /// `--weights`.
    pub weights: Option<String>,
    /// `--credentials`: path of the credentials file.
    pub credentials: Option<String>,
    /// `--authenticate_frameworks`.
    pub authenticate_frameworks: bool,
    /// `--authenticate_http_frameworks`.
    pub authenticate_http_frameworks: bool,
    /// `--authenticate_agents`.
    pub authenticate_agents: bool,
    /// `--authenticate_http_readonly`.
    pub authenticate_http_readonly: bool,
    /// `--authenticate_http_readwrite`.
    pub authenticate_http_readwrite: bool,
    /// `--max_completed_frameworks`.
    pub max_completed_frameworks: usize,
    /// `--max_completed_tasks_per_framework`.
    pub max_completed_tasks_per_framework: usize,
}

impl Config {
    /// `--min_allocatable_resources`, parsed (checked by the flag loader).
    pub fn min_allocatable(&self) -> MinAllocatable {
        MinAllocatable::parse(&self.min_allocatable_resources).unwrap_or_default()
    }

    /// `--weights` as (role, weight) pairs (checked by the flag loader).
    pub fn role_weights(&self) -> Vec<(String, f64)> {
        self.weights.as_deref().and_then(|w| parse_weights(w).ok()).unwrap_or_default()
    }

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
        let authenticating = self.authenticate_frameworks
            || self.authenticate_http_frameworks
            || self.authenticate_agents
            || self.authenticate_http_readonly
            || self.authenticate_http_readwrite;
        if authenticating && self.credentials.is_none() {
            return Err("mesos-master: Flag 'credentials' is required with --authenticate_* (set MESOS_CREDENTIALS to a credentials file)".into());
        }
        if let Some(ip) = &self.ip {
            if ip.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(format!(
                    "mesos-master: invalid value '{ip}' for --ip: expected an IPv4 address such as 10.0.0.2"
                ));
            }
        }
        Ok(())
    }
}

fn valid_min_allocatable(text: &str) -> bool {
    MinAllocatable::parse(text).is_ok()
}

fn valid_weights(text: &str) -> bool {
    parse_weights(text).is_ok()
}

/// Parses `role=weight,role=weight`; weights must be positive numbers.
pub fn parse_weights(text: &str) -> Result<Vec<(String, f64)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (role, weight) = pair.split_once('=').ok_or_else(|| format!("'{pair}' is not role=weight"))?;
            let weight: f64 = weight.trim().parse().map_err(|_| format!("weight of '{role}' is not a number"))?;
            if !(weight.is_finite() && weight > 0.0) || role.trim().is_empty() {
                return Err(format!("'{pair}' needs a role and a positive weight"));
            }
            Ok((role.trim().to_string(), weight))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_parse() {
        assert_eq!(
            parse_weights("web=2, batch=0.5").unwrap(),
            vec![("web".to_string(), 2.0), ("batch".to_string(), 0.5)]
        );
        for bad in ["web", "web=x", "web=0", "=1", "web=-1"] {
            assert!(parse_weights(bad).is_err(), "{bad}");
        }
    }
}
