//! Marathon's flags (Marathon 1.4 names and defaults; times in milliseconds as upstream).

use common::config::{Flag, Kind, MasterAddress, Schema, Style};
use serde::Deserialize;

const PORT: Kind = Kind::Int { min: 1, max: 65535 };
const MILLIS: Kind = Kind::Int { min: 0, max: i64::MAX / 1_000_000 };
const COUNT: Kind = Kind::Int { min: 0, max: 1_000_000_000 };

/// Every flag Marathon accepts.
pub const FLAGS: &[Flag] = &[
    Flag::new("master", Kind::Master, None, "Mesos master: zk://host:port[,host:port]/mesos or host:port (required)."),
    Flag::new("zk", Kind::ZkUrl, Some("zk://localhost:2181/marathon"), "ZooKeeper URL for state and leader election."),
    Flag::new("http_port", PORT, Some("8080"), "HTTP port."),
    Flag::new("http_address", Kind::Text, None, "Address to bind (default: all)."),
    Flag::new(
        "hostname",
        Kind::Text,
        None,
        "Hostname advertised to Mesos and other Marathon instances (default: system hostname).",
    ),
    Flag::new("webui_url", Kind::Text, None, "Framework web UI URL (default: http://<hostname>:<http_port>)."),
    Flag::new("framework_name", Kind::Text, Some("marathon"), "Framework name registered with Mesos."),
    Flag::new("mesos_user", Kind::Text, None, "User tasks run as (default: the user running Marathon)."),
    Flag::new("mesos_role", Kind::Text, None, "Mesos role (default: *)."),
    Flag::new(
        "failover_timeout",
        Kind::Int { min: 0, max: 31_536_000 },
        Some("604800"),
        "Seconds Mesos keeps tasks while Marathon is away.",
    ),
    Flag::new(
        "ha",
        Kind::Bool,
        Some("true"),
        "High availability: elect a leader among Marathon instances in ZooKeeper.",
    ),
    Flag::new("checkpoint", Kind::Bool, Some("true"), "Ask agents to checkpoint tasks."),
    Flag::new("local_port_min", PORT, Some("10000"), "Lowest service port Marathon assigns."),
    Flag::new("local_port_max", PORT, Some("20000"), "Service ports are assigned below this."),
    Flag::new(
        "task_launch_timeout",
        MILLIS,
        Some("300000"),
        "Milliseconds a task may take to become running before it is killed.",
    ),
    Flag::new(
        "reconciliation_initial_delay",
        MILLIS,
        Some("15000"),
        "Milliseconds after election before the first reconciliation.",
    ),
    Flag::new("reconciliation_interval", MILLIS, Some("600000"), "Milliseconds between reconciliations."),
    Flag::new("scale_apps_initial_delay", MILLIS, Some("15000"), "Milliseconds before the first instance-count check."),
    Flag::new("scale_apps_interval", MILLIS, Some("300000"), "Milliseconds between instance-count checks."),
    Flag::new("max_instances_per_offer", COUNT, Some("5"), "Instances launched from one offer at most."),
    Flag::new("decline_offer_duration", MILLIS, Some("120000"), "Milliseconds Mesos withholds declined resources."),
    Flag::new("min_revive_offers_interval", MILLIS, Some("5000"), "Minimum milliseconds between revives."),
    Flag::new("zk_session_timeout", MILLIS, Some("10000"), "ZooKeeper session timeout in milliseconds."),
    Flag::new("zk_timeout", MILLIS, Some("10000"), "Timeout of ZooKeeper operations in milliseconds."),
    Flag::new("zk_max_versions", COUNT, Some("50"), "Versions kept per app."),
    Flag::new("event_stream_max_outstanding_messages", COUNT, Some("50"), "Events buffered per /v2/events client."),
    Flag::new(
        "leader_proxy_connection_timeout",
        MILLIS,
        Some("5000"),
        "Milliseconds to connect to the leader when proxying.",
    ),
    Flag::new(
        "leader_proxy_read_timeout",
        MILLIS,
        Some("10000"),
        "Milliseconds to wait for the leader's answer when proxying.",
    ),
    Flag::new(
        "logging_level",
        Kind::Choice(&["debug", "info", "warn", "error", "DEBUG", "INFO", "WARN", "ERROR"]),
        Some("info"),
        "Log level (RUST_LOG, when set, overrides it).",
    ),
    Flag::new(
        "log_format",
        Kind::Choice(common::logging::FORMATS),
        Some("text"),
        "Log lines as plain text or as JSON objects (one per line).",
    ),
    Flag::new("log_dir", Kind::Text, None, "Directory for the log file marathon.log, written in addition to stderr."),
    Flag::new("env_vars_prefix", Kind::Text, None, "Prefix for the PORT*/HOST variables given to tasks."),
    Flag::new(
        "http_credentials",
        Kind::Parsed { check: valid_user_password, expected: "user:password" },
        None,
        "Require HTTP Basic credentials user:password on every endpoint.",
    )
    .secret(),
    Flag::new(
        "http_realm",
        Kind::Text,
        Some("Mesosphere"),
        "The realm named in WWW-Authenticate when --http_credentials refuses a request.",
    ),
    Flag::new(
        "mesos_authentication",
        Kind::Bool,
        Some("false"),
        "Authenticate with the Mesos master (HTTP Basic) as --mesos_authentication_principal.",
    ),
    Flag::new(
        "mesos_authentication_principal",
        Kind::Text,
        None,
        "The principal Marathon authenticates as and registers its framework with.",
    ),
    Flag::new(
        "mesos_authentication_secret_file",
        Kind::Text,
        None,
        "File holding the secret for --mesos_authentication (a trailing newline is ignored).",
    ),
];

fn valid_user_password(text: &str) -> bool {
    common::auth::Credential::parse_user_password(text).is_ok()
}

/// The `marathon` configuration schema.
pub const SCHEMA: Schema = Schema {
    program: "marathon",
    style: Style::Marathon,
    env_prefix: "MARATHON_",
    conf_dirs: &["marathon/conf"],
    mesos_zk_file_flag: Some("master"),
    flags: FLAGS,
};

/// Marathon's typed configuration.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub master: Option<MasterAddress>,
    pub zk: String,
    pub http_port: u16,
    pub http_address: Option<String>,
    pub hostname: Option<String>,
    pub webui_url: Option<String>,
    pub framework_name: String,
    pub mesos_user: Option<String>,
    pub mesos_role: Option<String>,
    pub failover_timeout: u64,
    pub ha: bool,
    pub checkpoint: bool,
    pub local_port_min: u16,
    pub local_port_max: u16,
    pub task_launch_timeout: u64,
    pub reconciliation_initial_delay: u64,
    pub reconciliation_interval: u64,
    pub scale_apps_initial_delay: u64,
    pub scale_apps_interval: u64,
    pub max_instances_per_offer: usize,
    pub decline_offer_duration: u64,
    pub min_revive_offers_interval: u64,
    pub zk_session_timeout: u64,
    pub zk_timeout: u64,
    pub zk_max_versions: usize,
    pub event_stream_max_outstanding_messages: usize,
    pub leader_proxy_connection_timeout: u64,
    pub leader_proxy_read_timeout: u64,
    pub logging_level: String,
    pub log_format: String,
    pub log_dir: Option<String>,
    pub env_vars_prefix: Option<String>,
    /// `--http_credentials` (`user:password`, checked by the flag loader).
    pub http_credentials: Option<String>,
    /// `--http_realm`.
    pub http_realm: String,
    /// `--mesos_authentication`.
    pub mesos_authentication: bool,
    /// `--mesos_authentication_principal`.
    pub mesos_authentication_principal: Option<String>,
    /// `--mesos_authentication_secret_file`.
    pub mesos_authentication_secret_file: Option<String>,
}

impl Config {
    /// The credential every HTTP request must present (`--http_credentials`), if any.
    pub fn http_credential(&self) -> Option<common::auth::Credential> {
        self.http_credentials.as_deref().and_then(|text| common::auth::Credential::parse_user_password(text).ok())
    }

    /// With `--mesos_authentication`: the principal and the secret read from `--mesos_authentication_secret_file`
    /// (empty without one). The error names the file, never its contents.
    pub fn mesos_credential(&self) -> Result<Option<common::auth::Credential>, String> {
        if !self.mesos_authentication {
            return Ok(None);
        }
        let principal = self.mesos_authentication_principal.clone().ok_or(
            "marathon: --mesos_authentication needs --mesos_authentication_principal (or MARATHON_MESOS_AUTHENTICATION_PRINCIPAL)",
        )?;
        let secret = match &self.mesos_authentication_secret_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("marathon: cannot read --mesos_authentication_secret_file '{path}': {e}"))?;
                text.trim_end_matches(['\n', '\r']).to_string()
            }
            None => String::new(),
        };
        Ok(Some(common::auth::Credential { principal, secret }))
    }

    /// Cross-flag rules checked at start-up.
    pub fn validate(&self) -> Result<(), String> {
        self.mesos_credential()?;
        if self.master.is_none() {
            return Err(
                "marathon: Required option 'master' not found (give --master zk://host:2181/mesos or MARATHON_MASTER)"
                    .into(),
            );
        }
        if self.local_port_min >= self.local_port_max {
            return Err(format!(
                "marathon: invalid value '{}' for --local_port_min: expected less than --local_port_max ({})",
                self.local_port_min, self.local_port_max
            ));
        }
        Ok(())
    }
}
