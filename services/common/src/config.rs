//! Configuration loading shared by every role.
//!
//! A role declares its flags once, as a [`Schema`] of [`Flag`]s (name, kind, default, help). Values come from
//! four sources, highest precedence first:
//!
//! 1. the command line: `--name=value` (Mesos style, also `--name` / `--no-name` for booleans) or
//!    `--name value` (Marathon style, also `--name` / `--disable_name` for booleans);
//! 2. the environment: `MESOS_NAME` (master/agent) or `MARATHON_NAME` (Marathon);
//! 3. packaged config files: `/etc/mesos-master/<name>`, `/etc/mesos-slave/<name>`, `/etc/marathon/conf/<name>`
//!    (a file `?name` sets a bare boolean flag) and `/etc/mesos/zk`;
//! 4. the flag's default.
//!
//! Every value is checked against its [`Kind`] before anything starts; the first bad one is reported as a single
//! line naming where it came from, the value and the expected form. The checked strings are then deserialized
//! into the role's typed configuration struct with `envy`.

use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable naming the directory that stands for `/etc` (tests point it at a scratch directory).
pub const ETC_DIR_ENV: &str = "MESOS_RS_ETC_DIR";

/// What values a flag accepts.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `true` or `false` (also `1`/`0`, any case).
    Bool,
    /// A whole number within the bounds.
    Int { min: i64, max: i64 },
    /// A non-negative decimal number.
    Float,
    /// A Mesos duration such as `15secs`, `500ms`, `10mins`.
    Duration,
    /// Free text.
    Text,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// A ZooKeeper URL `zk://[user:pass@]host:port[,host:port]/path`.
    ZkUrl,
    /// A master address: a ZooKeeper URL, `host:port`, or `http://host:port`.
    Master,
    /// A value checked by a parser (e.g. resources or attributes text), with its expected form.
    Parsed {
        /// Returns whether the text parses.
        check: fn(&str) -> bool,
        /// The expected form for messages.
        expected: &'static str,
    },
}

impl Kind {
    /// The expected form, as shown in error messages and `--help`.
    pub fn expected(&self) -> String {
        match self {
            Kind::Bool => "true or false".into(),
            Kind::Int { min, max } => format!("an integer from {min} to {max}"),
            Kind::Float => "a non-negative number".into(),
            Kind::Duration => "a duration such as 500ms, 15secs, 10mins, 2hrs".into(),
            Kind::Text => "text".into(),
            Kind::Choice(words) => format!("one of {}", words.join(", ")),
            Kind::ZkUrl => "zk://[user:pass@]host:port[,host:port...]/path".into(),
            Kind::Master => "host:port or zk://[user:pass@]host:port[,host:port...]/path".into(),
            Kind::Parsed { expected, .. } => expected.to_string(),
        }
    }

    /// Checks `value` and returns it in canonical form (booleans lower-cased).
    fn check(&self, value: &str) -> Option<String> {
        let ok = |v: &str| Some(v.to_string());
        match self {
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "true" | "1" => ok("true"),
                "false" | "0" => ok("false"),
                _ => None,
            },
            Kind::Int { min, max } => value.parse::<i64>().ok().filter(|n| n >= min && n <= max).and(ok(value)),
            Kind::Float => value.parse::<f64>().ok().filter(|f| f.is_finite() && *f >= 0.0).and(ok(value)),
            Kind::Duration => parse_duration(value).and(ok(value)),
            Kind::Text => ok(value),
            Kind::Choice(words) => words.contains(&value).then(|| value.to_string()),
            Kind::ZkUrl => crate::zk::ZkUrl::parse(value).ok().and(ok(value)),
            Kind::Master => MasterAddress::parse(value).ok().and(ok(value)),
            Kind::Parsed { check, .. } => check(value).then(|| value.to_string()),
        }
    }
}

/// One flag of a role.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// Name as written after `--`, lower-case with underscores.
    pub name: &'static str,
    /// What values it accepts.
    pub kind: Kind,
    /// Default value, if any.
    pub default: Option<&'static str>,
    /// One-line description for `--help`.
    pub help: &'static str,
    /// Whether the value is a secret: it is shown as `********` in `/flags`, `/v2/info` and logs.
    pub secret: bool,
}

impl Flag {
    /// A flag with no default and nothing secret.
    pub const fn new(name: &'static str, kind: Kind, default: Option<&'static str>, help: &'static str) -> Flag {
        Flag { name, kind, default, help, secret: false }
    }

    /// Marks the flag's value as secret.
    pub const fn secret(mut self) -> Flag {
        self.secret = true;
        self
    }
}

/// How a role spells its command line and environment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Style {
    /// Mesos (stout): `--name=value`, `--name`, `--no-name`; unknown `MESOS_*` variables are ignored.
    Mesos,
    /// Marathon (Scallop): `--name value` or `--name=value`, `--name`, `--disable_name`; an unknown
    /// `MARATHON_*` variable (other than `MARATHON_APP*`) is an error, as the upstream start script makes it a flag.
    Marathon,
}

/// The flags of one role and where its config files live.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// Program name used in messages.
    pub program: &'static str,
    /// Command-line and environment style.
    pub style: Style,
    /// Environment prefix: `MESOS_` or `MARATHON_`.
    pub env_prefix: &'static str,
    /// Config directories below `/etc` (first found value wins), e.g. `["mesos-master"]`.
    pub conf_dirs: &'static [&'static str],
    /// Flag fed from `/etc/mesos/zk` when set by nothing else (`zk` for the master, `master` for the agent).
    pub mesos_zk_file_flag: Option<&'static str>,
    /// All flags.
    pub flags: &'static [Flag],
}

/// A flag name, its value and where it came from.
type Setting = (String, String, Source);

/// Where a value came from; used in error messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The built-in default.
    Default,
    /// A config file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// The command line.
    CommandLine(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => write!(f, "the default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(var) => write!(f, "{var}"),
            Source::CommandLine(flag) => write!(f, "--{flag}"),
        }
    }
}

/// A configuration problem; `Display` is the one line printed before exiting non-zero.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The outcome of parsing the command line.
#[derive(Debug)]
pub enum Invocation<T> {
    /// Run with this configuration.
    Run(Loaded<T>),
    /// Print this help text and exit 0.
    Help(String),
}

/// A checked configuration with the raw strings kept for `/flags`.
#[derive(Debug)]
pub struct Loaded<T> {
    /// The typed configuration.
    pub config: T,
    /// Every flag that has a value, as a string (secrets redacted).
    pub flags: BTreeMap<String, String>,
}

/// The environment and filesystem a configuration is read from; the real process uses [`Inputs::from_process`].
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Command-line arguments without the program name.
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Directory standing for `/etc`.
    pub etc: PathBuf,
}

impl Inputs {
    /// Reads the real command line and environment.
    pub fn from_process() -> Inputs {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let etc = env
            .iter()
            .find(|(k, _)| k == ETC_DIR_ENV)
            .map(|(_, v)| PathBuf::from(v))
            .unwrap_or_else(|| PathBuf::from("/etc"));
        Inputs { args: std::env::args().skip(1).collect(), env, etc }
    }
}

impl Schema {
    fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name == name)
    }

    /// Normalises a name as upstream does: lower-case, `-` as `_`, `slave` spelled `agent` when only that exists.
    fn resolve(&self, name: &str) -> Option<&Flag> {
        let name = name.to_ascii_lowercase().replace('-', "_");
        self.flag(&name)
            .or_else(|| self.flag(&name.replace("slave", "agent")))
            .or_else(|| self.flag(&name.replace("agent", "slave")))
    }

    /// Loads and checks the configuration, then deserializes it into `T`.
    pub fn load<T: DeserializeOwned>(&self, inputs: &Inputs) -> Result<Invocation<T>, ConfigError> {
        let mut values: BTreeMap<&'static str, (String, Source)> = BTreeMap::new();
        for flag in self.flags {
            if let Some(default) = flag.default {
                values.insert(flag.name, (default.to_string(), Source::Default));
            }
        }
        for (name, value, source) in self.read_files(&inputs.etc)? {
            self.set(&mut values, &name, value, source)?;
        }
        for (name, value, source) in self.read_env(&inputs.env)? {
            self.set(&mut values, &name, value, source)?;
        }
        let cli = match self.read_args(&inputs.args)? {
            Some(cli) => cli,
            None => return Ok(Invocation::Help(self.help())),
        };
        for (name, value, source) in cli {
            self.set(&mut values, &name, value, source)?;
        }
        let flags = values
            .iter()
            .map(|(name, (value, _))| {
                let secret = self.flag(name).is_some_and(|f| f.secret);
                let shown = if secret { crate::auth::REDACTED.to_string() } else { crate::auth::redact_urls(value) };
                (name.to_string(), shown)
            })
            .collect();
        let config = envy::from_iter::<_, T>(values.into_iter().map(|(k, (v, _))| (k.to_string(), v)))
            .map_err(|e| ConfigError(format!("{}: {}", self.program, e)))?;
        Ok(Invocation::Run(Loaded { config, flags }))
    }

    /// Checks one value and records it, replacing any value of lower precedence.
    fn set(
        &self,
        values: &mut BTreeMap<&'static str, (String, Source)>,
        name: &str,
        value: String,
        source: Source,
    ) -> Result<(), ConfigError> {
        let flag = self.resolve(name).ok_or_else(|| match &source {
            Source::File(path) => ConfigError(format!(
                "{}: unknown flag '{}' set by file {}; see --help",
                self.program,
                name,
                path.display()
            )),
            Source::Env(var) => {
                ConfigError(format!("{}: unknown flag '{}' set by {}; see --help", self.program, name, var))
            }
            _ => ConfigError(format!("{}: Failed to load unknown flag '{}'; see --help", self.program, name)),
        })?;
        let checked = flag.kind.check(value.trim()).ok_or_else(|| {
            let shown = if flag.secret { crate::auth::REDACTED.to_string() } else { crate::auth::redact_urls(&value) };
            ConfigError(format!(
                "{}: invalid value '{}' for {}: expected {}",
                self.program,
                shown,
                source,
                flag.kind.expected()
            ))
        })?;
        values.insert(flag.name, (checked, source));
        Ok(())
    }

    fn read_files(&self, etc: &Path) -> Result<Vec<Setting>, ConfigError> {
        let mut found = Vec::new();
        if let Some(flag) = self.mesos_zk_file_flag {
            let path = etc.join("mesos/zk");
            if let Some(value) = read_value(&path) {
                found.push((flag.to_string(), value, Source::File(path)));
            }
        }
        for dir in self.conf_dirs {
            let dir = etc.join(dir);
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            entries.sort();
            for path in entries {
                let Some(file_name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
                if file_name.starts_with('.') {
                    continue;
                }
                if path.is_dir() {
                    // `/etc/mesos-slave/attributes/<k>` and `/etc/mesos-slave/resources/<k>` join into one flag.
                    if let Some(joined) = join_dir_values(&path) {
                        found.push((file_name, joined, Source::File(path)));
                    }
                } else if let Some(bare) = file_name.strip_prefix('?') {
                    found.push(bare_flag(bare, Source::File(path)));
                } else if let Some(value) = read_value(&path) {
                    found.push((file_name, value, Source::File(path)));
                }
            }
        }
        Ok(found)
    }

    fn read_env(&self, env: &[(String, String)]) -> Result<Vec<Setting>, ConfigError> {
        let mut found = Vec::new();
        for (var, value) in env {
            let Some(rest) = var.strip_prefix(self.env_prefix) else { continue };
            let name = rest.to_ascii_lowercase();
            let known = self.resolve(&name).is_some();
            match self.style {
                Style::Mesos if !known => continue,
                Style::Marathon if rest.starts_with("APP") => continue,
                _ => {}
            }
            if value.is_empty() && self.resolve(&name).is_some_and(|f| matches!(f.kind, Kind::Bool)) {
                found.push((name, "true".to_string(), Source::Env(var.clone())));
            } else {
                found.push((name, value.clone(), Source::Env(var.clone())));
            }
        }
        Ok(found)
    }

    /// Parses the command line; `None` means `--help` was asked for.
    fn read_args(&self, args: &[String]) -> Result<Option<Vec<Setting>>, ConfigError> {
        let mut found = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            if arg == "--" {
                break;
            }
            if arg == "--help" || arg == "-h" {
                return Ok(None);
            }
            let Some(body) = arg.strip_prefix("--") else {
                return Err(ConfigError(format!(
                    "{}: unexpected argument '{}': expected --name=value flags; see --help",
                    self.program, arg
                )));
            };
            let (name, inline_value) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (body.to_string(), None),
            };
            let source = Source::CommandLine(name.clone());
            if let Some(value) = inline_value {
                if self.negated(&name).is_some() && self.resolve(&name).is_none() {
                    return Err(ConfigError(format!(
                        "{}: Failed to load boolean flag '{}' via '--{}' with value '{}': expected no value",
                        self.program,
                        self.negated(&name).unwrap_or_default(),
                        name,
                        value
                    )));
                }
                found.push((name, value, source));
                continue;
            }
            if let Some(flag) = self.resolve(&name) {
                if matches!(flag.kind, Kind::Bool) {
                    found.push((name, "true".into(), source));
                } else if self.style == Style::Marathon && i < args.len() && !args[i].starts_with("--") {
                    found.push((name, args[i].clone(), source));
                    i += 1;
                } else {
                    return Err(ConfigError(format!(
                        "{}: Failed to load non-boolean flag '{}': Missing value; expected {}",
                        self.program,
                        flag.name,
                        flag.kind.expected()
                    )));
                }
            } else if let Some(positive) = self.negated(&name) {
                found.push((positive, "false".into(), source));
            } else {
                return Err(ConfigError(format!(
                    "{}: Failed to load unknown flag '{}'; see --help",
                    self.program, name
                )));
            }
        }
        Ok(Some(found))
    }

    /// For `no-x` (Mesos) or `disable_x` (Marathon) naming a boolean flag, the flag's name.
    fn negated(&self, name: &str) -> Option<String> {
        let positive = match self.style {
            Style::Mesos => name.strip_prefix("no-"),
            Style::Marathon => name.strip_prefix("disable_").or_else(|| name.strip_prefix("no-")),
        }?;
        self.resolve(positive).filter(|f| matches!(f.kind, Kind::Bool)).map(|f| f.name.to_string())
    }

    /// The `--help` text: every flag with its expected form and default.
    pub fn help(&self) -> String {
        let mut out = format!("Usage: {} [options]\n\n", self.program);
        for flag in self.flags {
            let form = match (self.style, flag.kind) {
                (Style::Mesos, Kind::Bool) => format!("--[no-]{}", flag.name),
                (Style::Marathon, Kind::Bool) => format!("--{} | --disable_{}", flag.name, flag.name),
                (Style::Mesos, _) => format!("--{}=VALUE", flag.name),
                (Style::Marathon, _) => format!("--{} VALUE", flag.name),
            };
            out.push_str(&format!("  {form}\n      {}\n", flag.help));
            out.push_str(&format!(
                "      env {}{}; expects {}",
                self.env_prefix,
                flag.name.to_uppercase(),
                flag.kind.expected()
            ));
            match flag.default {
                Some(d) => out.push_str(&format!("; default: {d}\n")),
                None => out.push_str("; no default\n"),
            }
        }
        out.push_str(&format!(
            "\nPrecedence: command line > {}* environment > files under /etc ({}{}) > defaults.\n",
            self.env_prefix,
            self.conf_dirs.iter().map(|d| format!("/etc/{d}/<flag>")).collect::<Vec<_>>().join(", "),
            if self.mesos_zk_file_flag.is_some() { ", /etc/mesos/zk" } else { "" }
        ));
        out
    }
}

fn bare_flag(name: &str, source: Source) -> (String, String, Source) {
    match name.strip_prefix("no-") {
        Some(positive) => (positive.to_string(), "false".into(), source),
        None => (name.to_string(), "true".into(), source),
    }
}

fn read_value(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let value = text.trim();
    (!value.is_empty()).then(|| value.to_string())
}

fn join_dir_values(dir: &Path) -> Option<String> {
    let mut parts = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let key = path.file_name()?.to_str()?.to_string();
        if let Some(value) = read_value(&path) {
            parts.push(format!("{key}:{value}"));
        }
    }
    (!parts.is_empty()).then(|| parts.join(";"))
}

/// Parses a Mesos duration: a number followed by `ns`, `us`, `ms`, `secs`, `mins`, `hrs`, `days` or `weeks`.
/// A duration longer than `Duration` holds (about 584 billion years) is invalid.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ns" => number / 1e9,
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "secs" => number,
        "mins" => number * 60.0,
        "hrs" => number * 3600.0,
        "days" => number * 86400.0,
        "weeks" => number * 604800.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

/// A duration flag value deserialized from the Mesos duration text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MesosDuration(pub Duration);

impl<'de> serde::Deserialize<'de> for MesosDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(MesosDuration)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid duration '{text}'")))
    }
}

/// Where to find the leading master: through ZooKeeper or at a fixed address.
#[derive(Debug, Clone, PartialEq)]
pub enum MasterAddress {
    /// Follow the leader elected under this ZooKeeper path.
    Zk(crate::zk::ZkUrl),
    /// A fixed `host:port`.
    Fixed { host: String, port: u16 },
}

impl MasterAddress {
    /// Parses `zk://…`, `host:port`, `host` (port 5050) or `http://host:port`.
    pub fn parse(text: &str) -> Result<MasterAddress, String> {
        let text = text.trim();
        if text.starts_with("zk://") {
            return crate::zk::ZkUrl::parse(text).map(MasterAddress::Zk);
        }
        let rest = text.strip_prefix("http://").unwrap_or(text).trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') || rest.contains(',') {
            return Err(format!("'{text}' is not host:port or a zk:// URL"));
        }
        match rest.rsplit_once(':') {
            Some((host, port)) => {
                let port = port.parse::<u16>().map_err(|_| format!("bad port in '{text}'"))?;
                if host.is_empty() {
                    return Err(format!("missing host in '{text}'"));
                }
                Ok(MasterAddress::Fixed { host: host.to_string(), port })
            }
            None => Ok(MasterAddress::Fixed { host: rest.to_string(), port: 5050 }),
        }
    }
}

impl<'de> serde::Deserialize<'de> for MasterAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        MasterAddress::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Loads a role's configuration from the real process, printing help or the error line and exiting as needed.
pub fn load_or_exit<T: DeserializeOwned>(schema: &Schema) -> Loaded<T> {
    match schema.load::<T>(&Inputs::from_process()) {
        Ok(Invocation::Run(loaded)) => loaded,
        Ok(Invocation::Help(text)) => {
            print!("{text}");
            std::process::exit(0);
        }
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    const FLAGS: &[Flag] = &[
        Flag::new("port", Kind::Int { min: 1, max: 65535 }, Some("5050"), "Port to listen on."),
        Flag::new("zk", Kind::ZkUrl, None, "ZooKeeper URL."),
        Flag::new("quorum", Kind::Int { min: 1, max: 99 }, None, "Quorum."),
        Flag::new("hostname_lookup", Kind::Bool, Some("true"), "Look up the hostname."),
        Flag::new("agent_ping_timeout", Kind::Duration, Some("15secs"), "Ping timeout."),
        Flag::new("registry", Kind::Choice(&["in_memory", "replicated_log"]), Some("replicated_log"), "Registry."),
        Flag::new("cluster", Kind::Text, None, "Cluster name."),
        Flag::new("credentials", Kind::Text, None, "Credentials.").secret(),
    ];
    const MASTER: Schema = Schema {
        program: "mesos-master",
        style: Style::Mesos,
        env_prefix: "MESOS_",
        conf_dirs: &["mesos-master"],
        mesos_zk_file_flag: Some("zk"),
        flags: FLAGS,
    };

    #[derive(Debug, Deserialize)]
    struct Cfg {
        port: u16,
        zk: Option<String>,
        quorum: Option<u32>,
        hostname_lookup: bool,
        agent_ping_timeout: MesosDuration,
        registry: String,
        cluster: Option<String>,
    }

    fn inputs(args: &[&str], env: &[(&str, &str)]) -> Inputs {
        Inputs {
            args: args.iter().map(|s| s.to_string()).collect(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            etc: PathBuf::from("/nonexistent-etc"),
        }
    }

    fn run(inputs: &Inputs) -> Result<Loaded<Cfg>, ConfigError> {
        match MASTER.load::<Cfg>(inputs)? {
            Invocation::Run(l) => Ok(l),
            Invocation::Help(_) => panic!("unexpected help"),
        }
    }

    #[test]
    fn defaults_apply() {
        let l = run(&inputs(&[], &[])).unwrap();
        assert_eq!(l.config.port, 5050);
        assert!(l.config.hostname_lookup);
        assert_eq!(l.config.agent_ping_timeout.0, Duration::from_secs(15));
        assert_eq!(l.config.registry, "replicated_log");
        assert!(l.config.zk.is_none());
    }

    #[test]
    fn command_line_beats_env_beats_files() {
        let dir = std::env::temp_dir().join(format!("cfg-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("mesos-master")).unwrap();
        std::fs::create_dir_all(dir.join("mesos")).unwrap();
        std::fs::write(dir.join("mesos-master/port"), "6060\n").unwrap();
        std::fs::write(dir.join("mesos-master/cluster"), "FromFile").unwrap();
        std::fs::write(dir.join("mesos-master/quorum"), "1").unwrap();
        std::fs::write(dir.join("mesos-master/?no-hostname_lookup"), "").unwrap();
        std::fs::write(dir.join("mesos/zk"), "zk://a:2181,b:2181/mesos\n").unwrap();
        let mut i = inputs(&["--port=8080"], &[("MESOS_PORT", "7070"), ("MESOS_CLUSTER", "FromEnv")]);
        i.etc = dir.clone();
        let l = run(&i).unwrap();
        assert_eq!(l.config.port, 8080);
        assert_eq!(l.config.cluster.as_deref(), Some("FromEnv"));
        assert_eq!(l.config.quorum, Some(1));
        assert!(!l.config.hostname_lookup);
        assert_eq!(l.config.zk.as_deref(), Some("zk://a:2181,b:2181/mesos"));
        i.args.clear();
        assert_eq!(run(&i).unwrap().config.port, 7070);
        i.env.clear();
        assert_eq!(run(&i).unwrap().config.port, 6060);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_env_value_names_variable_value_and_form() {
        let err = run(&inputs(&[], &[("MESOS_PORT", "abc")])).unwrap_err();
        assert_eq!(err.0, "mesos-master: invalid value 'abc' for MESOS_PORT: expected an integer from 1 to 65535");
        let err = run(&inputs(&[], &[("MESOS_ZK", "http://x/mesos")])).unwrap_err();
        assert!(err.0.contains("MESOS_ZK") && err.0.contains("zk://[user:pass@]host:port"), "{err}");
        let err = run(&inputs(&[], &[("MESOS_REGISTRY", "etcd")])).unwrap_err();
        assert!(err.0.ends_with("expected one of in_memory, replicated_log"), "{err}");
    }

    #[test]
    fn unknown_env_is_ignored_but_unknown_flag_fails() {
        assert!(run(&inputs(&[], &[("MESOS_NOT_A_FLAG", "1")])).is_ok());
        let err = run(&inputs(&["--not_a_flag=1"], &[])).unwrap_err();
        assert_eq!(err.0, "mesos-master: Failed to load unknown flag 'not_a_flag'; see --help");
    }

    #[test]
    fn booleans_and_missing_values() {
        assert!(!run(&inputs(&["--no-hostname_lookup"], &[])).unwrap().config.hostname_lookup);
        assert!(run(&inputs(&["--hostname_lookup"], &[])).unwrap().config.hostname_lookup);
        let err = run(&inputs(&["--port"], &[])).unwrap_err();
        assert!(err.0.contains("Missing value"), "{err}");
        let err = run(&inputs(&["--hostname_lookup=maybe"], &[])).unwrap_err();
        assert!(err.0.contains("'maybe' for --hostname_lookup: expected true or false"), "{err}");
    }

    #[test]
    fn secrets_are_redacted() {
        let err = run(&inputs(&[], &[("MESOS_CREDENTIALS", "s3cret")])).map(|l| l.flags).unwrap();
        assert_eq!(err.get("credentials").map(String::as_str), Some("********"));
        let flags = run(&inputs(&["--zk=zk://alice:pw@z1:2181/mesos"], &[])).map(|l| l.flags).unwrap();
        assert_eq!(flags.get("zk").map(String::as_str), Some("zk://alice:********@z1:2181/mesos"));
        let err = run(&inputs(&["--zk=zk://alice:pw@z1:2181"], &[])).unwrap_err();
        assert!(err.0.contains("'zk://alice:********@z1:2181' for --zk") && !err.0.contains("pw"), "{err}");
    }

    #[test]
    fn help_lists_every_flag_with_default() {
        let text = MASTER.help();
        for flag in FLAGS {
            assert!(text.contains(flag.name));
        }
        assert!(text.contains("default: 15secs"));
        assert!(matches!(MASTER.load::<Cfg>(&inputs(&["--help"], &[])), Ok(Invocation::Help(_))));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10mins"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1.5secs"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("15"), None);
        assert_eq!(parse_duration("x"), None);
    }

    #[test]
    fn durations_beyond_what_duration_holds_are_invalid_not_a_panic() {
        assert_eq!(parse_duration("100000000000000000000secs"), None);
        assert_eq!(parse_duration("999999999999999weeks"), None);
        assert_eq!(parse_duration(&format!("{}secs", "9".repeat(400))), None);
        assert_eq!(parse_duration("18446744073secs"), Some(Duration::from_secs(18_446_744_073)));
    }

    #[test]
    fn master_addresses() {
        assert_eq!(
            MasterAddress::parse("10.0.0.2:5050"),
            Ok(MasterAddress::Fixed { host: "10.0.0.2".into(), port: 5050 })
        );
        assert_eq!(MasterAddress::parse("master"), Ok(MasterAddress::Fixed { host: "master".into(), port: 5050 }));
        assert!(matches!(MasterAddress::parse("zk://z:2181/mesos"), Ok(MasterAddress::Zk(_))));
        assert!(MasterAddress::parse("a:b").is_err());
    }
}
