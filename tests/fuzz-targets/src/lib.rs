//! Fuzz targets: one function per parser that takes outside input, each taking raw bytes. The cargo-fuzz
//! binaries in `fuzz/fuzz_targets/` call them, and `tests/corpus_replay.rs` runs every one over its committed
//! corpus in `fuzz/corpus/<name>/` on stable Rust. A target panics only when a parser panics or breaks one of
//! the invariants checked here (a parsed value must render and parse back to itself).

use common::resources::{parse_attributes, ReservationFormat, Resources};
use serde_json::Value;

/// A fuzz target: takes any bytes, panics only on a bug.
pub type Target = fn(&[u8]);

/// Every target by name, as the corpus directories and the `fuzz/fuzz_targets/*.rs` files are named.
pub const TARGETS: &[(&str, Target)] = &[
    ("resources_text", resources_text),
    ("resources_json", resources_json),
    ("attributes", attributes),
    ("zk_url", zk_url),
    ("marathon_app", marathon_app),
    ("marathon_app_update", marathon_app_update),
    ("scheduler_call", scheduler_call),
    ("operator_call", operator_call),
    ("agent_call", agent_call),
    ("recordio", recordio),
    ("config_flags", config_flags),
    ("query_string", query_string),
    ("credentials", credentials),
];

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// `--resources` text (and the JSON array form it also accepts): what parses renders to v1 and back unchanged.
pub fn resources_text(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(resources) = Resources::parse_text(text) {
        let again = Resources::from_v1(&resources.to_v1(ReservationFormat::PreRefinement))
            .expect("rendered resources parse back");
        assert_eq!(again, resources, "v1 round trip of {text:?}");
        let _ = resources.to_string();
    }
}

/// v1 `Resource` JSON objects (as schedulers send them in operations and agents in registration).
pub fn resources_json(data: &[u8]) {
    if common::http::check_json_bounds(data).is_err() {
        return;
    }
    if let Ok(wire) = serde_json::from_slice::<Vec<common::resources::Resource>>(data) {
        if let Ok(resources) = Resources::from_v1(&wire) {
            let _ = resources.to_v1(ReservationFormat::PostRefinement);
            let _ = resources.to_string();
        }
    }
}

/// `--attributes` text.
pub fn attributes(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(attributes) = parse_attributes(text) {
        let _ = common::resources::attributes_to_v0(&attributes);
    }
}

/// `zk://` URLs (`--zk`, `--master`, `/etc/mesos/zk`) and master addresses.
pub fn zk_url(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let _ = common::zk::ZkUrl::parse(text);
    let _ = common::config::MasterAddress::parse(text);
    let _ = common::config::parse_duration(text);
}

/// Marathon app JSON as `POST /v2/apps` reads it: parse, then validate.
pub fn marathon_app(data: &[u8]) {
    let root = marathon::app::PathId::root();
    if let Ok(app) = marathon::app::parse_app(data, &root) {
        if marathon::app::validate_app(&app).is_ok() {
            let _ = marathon::app::app_json(&app, true);
        }
    }
}

/// Marathon app update JSON (`PUT`/`PATCH /v2/apps/{id}`): parsed, then applied to a minimal app.
pub fn marathon_app_update(data: &[u8]) {
    let Ok(patch) = marathon::app::parse_json_body(data) else { return };
    let _ = marathon::app::parse_app_update(data);
    let _ = marathon::app::rollback_version(&patch);
    let base = marathon::app::parse_app(br#"{"id":"/fuzz","cmd":"sleep 1"}"#, &marathon::app::PathId::root())
        .expect("base app");
    if let Ok(updated) = marathon::app::apply_update(&base, &patch) {
        let _ = marathon::app::validate_app(&updated);
        let _ = marathon::app::is_config_change(&base, &updated);
    }
}

/// v1 scheduler calls (`POST /api/v1/scheduler`) as the master reads them.
pub fn scheduler_call(data: &[u8]) {
    if common::http::check_json_bounds(data).is_err() {
        return;
    }
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let _ = serde_json::from_value::<common::mesos::scheduler::Call>(value);
    }
}

/// v1 operator calls (`POST /api/v1`): bounded JSON with a `type`.
pub fn operator_call(data: &[u8]) {
    if common::http::check_json_bounds(data).is_err() {
        return;
    }
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let _ = value.get("type").and_then(Value::as_str);
    }
}

/// Agent link calls (`REGISTER`, `UPDATE`) as the master reads them.
pub fn agent_call(data: &[u8]) {
    if common::http::check_json_bounds(data).is_err() {
        return;
    }
    if let Ok(common::agent_link::AgentCall::Register { agent_info, .. }) =
        serde_json::from_slice::<common::agent_link::AgentCall>(data)
    {
        let _ = Resources::from_v1(&agent_info.resources);
    }
}

/// RecordIO streams, fed whole and in two chunks: both ways give the same records (or both fail), and no
/// record exceeds the limit.
pub fn recordio(data: &[u8]) {
    const LIMIT: usize = 4096;
    let whole = common::recordio::Decoder::new(LIMIT).feed(data);
    if let Ok(records) = &whole {
        assert!(records.iter().all(|r| r.len() <= LIMIT));
    }
    let split = data.len() / 2;
    let mut decoder = common::recordio::Decoder::new(LIMIT);
    let chunked = decoder.feed(&data[..split]).and_then(|mut first| {
        first.extend(decoder.feed(&data[split..])?);
        Ok(first)
    });
    assert_eq!(whole, chunked, "chunking changed the decoding of {data:?}");
}

/// Flags as a role reads them: each line is a command-line argument or, as `ENV:NAME=value`, an environment
/// variable; checked against a schema with one flag of every kind.
pub fn config_flags(data: &[u8]) {
    use common::config::{Flag, Inputs, Kind, Schema, Style};
    static FLAGS: &[Flag] = &[
        Flag::new("enabled", Kind::Bool, Some("false"), "a switch"),
        Flag::new("count", Kind::Int { min: 0, max: 1000 }, Some("1"), "a number"),
        Flag::new("weight", Kind::Float, None, "a decimal"),
        Flag::new("timeout", Kind::Duration, Some("5secs"), "a duration"),
        Flag::new("name", Kind::Text, None, "text"),
        Flag::new("mode", Kind::Choice(&["a", "b"]), Some("a"), "a choice"),
        Flag::new("zk", Kind::ZkUrl, None, "a zk URL"),
        Flag::new("master", Kind::Master, None, "a master"),
        Flag::new(
            "resources",
            Kind::Parsed { check: |t| Resources::parse_text(t).is_ok(), expected: "resources" },
            None,
            "resources",
        ),
    ];
    let Some(text) = text(data) else { return };
    let mut inputs = Inputs { etc: std::path::PathBuf::from("/nonexistent-fuzz-etc"), ..Inputs::default() };
    for line in text.lines() {
        match line.strip_prefix("ENV:").and_then(|l| l.split_once('=')) {
            Some((name, value)) => inputs.env.push((name.to_string(), value.to_string())),
            None => inputs.args.push(line.to_string()),
        }
    }
    for style in [Style::Mesos, Style::Marathon] {
        let schema = Schema {
            program: "fuzz",
            style,
            env_prefix: "FUZZ_",
            conf_dirs: &[],
            mesos_zk_file_flag: None,
            flags: FLAGS,
        };
        let _ = schema.load::<std::collections::BTreeMap<String, String>>(&inputs);
    }
}

/// Query strings as every role decodes them.
pub fn query_string(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(pairs) = common::http::parse_query(text) {
        assert!(pairs.iter().all(|(k, v)| k.len() <= text.len() && v.len() <= text.len()));
    }
}

/// `Authorization` header values as every role reads them, credential files (`--credentials`, `--credential`),
/// `user:password` flags, and the redaction of secrets in URLs: a header built from a parsed credential parses
/// back to it.
pub fn credentials(data: &[u8]) {
    use common::auth::{parse_basic, parse_credential, parse_credentials, redact_urls, Credential};
    let Some(text) = text(data) else { return };
    let _ = parse_basic(text);
    let _ = parse_credentials(text);
    let _ = parse_credential(text);
    let _ = redact_urls(text);
    if let Ok(credential) = Credential::parse_user_password(text) {
        let (principal, secret) = parse_basic(&credential.basic_header()).expect("own header parses");
        assert_eq!((principal, secret), (credential.principal, credential.secret), "header round trip of {text:?}");
    }
}
