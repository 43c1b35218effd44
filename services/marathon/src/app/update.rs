//! Partial updates (PUT with `partialUpdate=true`, PATCH), rollback bodies, and the change
//! classification and versioning used for deployment planning.

use std::collections::BTreeSet;

use serde_json::Value;

use super::definition::{
    AppDefinition, FetchUri, PortDefinition, Residency, UnreachableStrategy, UpgradeStrategy, VersionInfo,
};
use super::errors::ApiError;
use super::parse::{check_combinations, parse_json_body, read_raw, with_default_port_index, RawApp};
use super::path_id::PathId;
use super::timestamp::Timestamp;

/// A parsed update body: every app field optional; `version` alone means "roll back".
#[derive(Debug)]
pub struct AppUpdate {
    raw: RawApp,
}

impl AppUpdate {
    /// Reads an update object. `version` combined with anything but `id` is a 422
    /// (`requirement failed: The 'version' field may only be combined with the 'id' field.`).
    pub fn from_json(value: &Value) -> Result<Self, ApiError> {
        let raw = read_raw(value, false)?;
        check_combinations(&raw, false)?;
        if raw.version.is_some() && raw.has_fields_besides_id_and_version() {
            return Err(ApiError::message(
                422,
                "requirement failed: The 'version' field may only be combined with the 'id' field.",
            ));
        }
        Ok(AppUpdate { raw })
    }

    /// The version to roll back to, when the body is `{"version": …}` (optionally with `id`).
    pub fn rollback_version(&self) -> Option<Timestamp> {
        self.raw.version
    }

    /// The body's `id` resolved against the root (used by `PUT /v2/apps` with an array).
    pub fn id(&self) -> Option<PathId> {
        self.raw.id.as_deref().map(|id| PathId::resolve(id, &PathId::root()))
    }

    /// `current` with every field present in the update replaced (upstream `AppUpdate.apply`).
    /// Id, version and versionInfo are kept; a rollback body therefore changes nothing.
    pub fn apply_to(&self, current: &AppDefinition) -> AppDefinition {
        let raw = &self.raw;
        let mut app = current.clone();
        set_optional(&mut app.cmd, &raw.cmd);
        set(&mut app.args, &raw.args);
        set_optional(&mut app.user, &raw.user);
        set(&mut app.env, &raw.env);
        set(&mut app.instances, &raw.instances);
        set(&mut app.cpus, &raw.cpus);
        set(&mut app.mem, &raw.mem);
        set(&mut app.disk, &raw.disk);
        set(&mut app.gpus, &raw.gpus);
        set(&mut app.executor, &raw.executor);
        set(&mut app.constraints, &raw.constraints);
        let fetch = raw.fetch.clone().or_else(|| {
            raw.uris.as_ref().map(|uris| {
                uris.iter().map(|uri| FetchUri { extract: true, ..FetchUri::from_legacy_uri(uri) }).collect()
            })
        });
        set(&mut app.fetch, &fetch);
        set(&mut app.store_urls, &raw.store_urls);
        let port_definitions = raw
            .port_definitions
            .clone()
            .or_else(|| raw.ports.as_ref().map(|ports| ports.iter().copied().map(PortDefinition::new).collect()));
        set(&mut app.port_definitions, &port_definitions);
        set(&mut app.require_ports, &raw.require_ports);
        set(&mut app.backoff_seconds, &raw.backoff_seconds);
        set(&mut app.backoff_factor, &raw.backoff_factor);
        set(&mut app.max_launch_delay_seconds, &raw.max_launch_delay_seconds);
        set_optional(&mut app.container, &raw.container);
        if let Some(checks) = &raw.health_checks {
            app.health_checks = with_default_port_index(checks.clone());
        }
        set(&mut app.readiness_checks, &raw.readiness_checks);
        set_optional(&mut app.task_kill_grace_period_seconds, &raw.task_kill_grace_period_seconds);
        if let Some(dependencies) = &raw.dependencies {
            let canonical: Vec<PathId> = dependencies.iter().map(|d| d.canonical(&current.id)).collect();
            app.dependencies = super::parse::dedup(canonical);
        }
        set(&mut app.upgrade_strategy, &raw.upgrade_strategy);
        set(&mut app.labels, &raw.labels);
        set(&mut app.accepted_resource_roles, &raw.accepted_resource_roles);
        set_optional(&mut app.ip_address, &raw.ip_address);
        set_optional(&mut app.residency, &raw.residency);
        set(&mut app.secrets, &raw.secrets);
        set(&mut app.unreachable_strategy, &raw.unreachable_strategy);
        set(&mut app.kill_selection, &raw.kill_selection);
        app
    }

    /// A new app `id` built from the update (PUT on a missing app; upstream `AppUpdate.empty`).
    pub fn create(&self, id: &PathId) -> AppDefinition {
        let raw = &self.raw;
        let volumes = raw.container.iter().flat_map(|c| &c.volumes);
        let has_persistent = volumes.clone().any(|v| v.persistent.is_some());
        let has_external = volumes.clone().any(|v| v.external.is_some());
        let mut base = AppDefinition::new(id.clone());
        base.residency = raw.residency.or(has_persistent.then(Residency::default));
        base.upgrade_strategy = if base.residency.is_some() || has_external {
            UpgradeStrategy::for_resident_tasks()
        } else {
            UpgradeStrategy::default()
        };
        base.unreachable_strategy = UnreachableStrategy::default_for(base.residency.is_some());
        self.apply_to(&base)
    }
}

/// Parses a PUT/PATCH `/v2/apps/{id}` body into an [`AppUpdate`].
pub fn parse_app_update(body: &[u8]) -> Result<AppUpdate, ApiError> {
    AppUpdate::from_json(&parse_json_body(body)?)
}

/// Applies a partial-update JSON object to `current` (fields present replace, absent keep).
/// Callers check [`rollback_version`] first: a version-only body leaves the app unchanged here.
pub fn apply_update(current: &AppDefinition, patch: &Value) -> Result<AppDefinition, ApiError> {
    Ok(AppUpdate::from_json(patch)?.apply_to(current))
}

/// `Some(version)` when the body is a rollback request (`{"version": "<ts>"}`, `id` allowed).
pub fn rollback_version(patch: &Value) -> Result<Option<Timestamp>, ApiError> {
    Ok(AppUpdate::from_json(patch)?.rollback_version())
}

/// Whether `new` changes the runtime configuration of `old` (upstream `isUpgrade`): any field
/// but `instances`/`version` differs. Apps with different ids are never an upgrade of each other.
pub fn is_config_change(old: &AppDefinition, new: &AppDefinition) -> bool {
    old.id == new.id && !same_configuration(old, new)
}

/// Whether `new` differs from `old` only in `instances` (a scale).
pub fn is_scale_only_change(old: &AppDefinition, new: &AppDefinition) -> bool {
    !is_config_change(old, new) && old.instances != new.instances
}

/// Sets `version`/`versionInfo` of `new` for a change stored at `now` (upstream
/// `GroupVersioningUtil`): new app or config change → all three = now; scale (or `restart`) →
/// version and lastScalingAt = now, lastConfigChangeAt kept; no change → previous values kept.
pub fn assign_version(new: &mut AppDefinition, previous: Option<&AppDefinition>, now: Timestamp, restart: bool) {
    let (version, info) = match previous {
        Some(old) if !is_config_change(old, new) => {
            if restart || old.instances != new.instances {
                let info = VersionInfo { last_scaling_at: now, last_config_change_at: old.last_config_change_at() };
                (now, Some(info))
            } else {
                (old.version, old.version_info)
            }
        }
        _ => (now, Some(VersionInfo { last_scaling_at: now, last_config_change_at: now })),
    };
    new.version = version;
    new.version_info = info;
}

/// Replaces `target` when the update carries a value.
fn set<T: Clone>(target: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        target.clone_from(v);
    }
}

/// Replaces an optional field when the update carries a value (`null`/absent keep the old one).
fn set_optional<T: Clone>(target: &mut Option<T>, value: &Option<T>) {
    if value.is_some() {
        target.clone_from(value);
    }
}

fn same_configuration(a: &AppDefinition, b: &AppDefinition) -> bool {
    a.cmd == b.cmd
        && a.args == b.args
        && a.user == b.user
        && a.env == b.env
        && a.cpus == b.cpus
        && a.mem == b.mem
        && a.disk == b.disk
        && a.gpus == b.gpus
        && a.executor == b.executor
        && same_set(&a.constraints, &b.constraints)
        && a.fetch == b.fetch
        && a.store_urls == b.store_urls
        && a.port_definitions == b.port_definitions
        && a.require_ports == b.require_ports
        && a.backoff_seconds == b.backoff_seconds
        && a.backoff_factor == b.backoff_factor
        && a.max_launch_delay_seconds == b.max_launch_delay_seconds
        && a.container == b.container
        && same_set(&a.health_checks, &b.health_checks)
        && a.task_kill_grace_period_seconds == b.task_kill_grace_period_seconds
        && same_set(&a.dependencies, &b.dependencies)
        && a.upgrade_strategy == b.upgrade_strategy
        && a.labels == b.labels
        && a.accepted_resource_roles == b.accepted_resource_roles
        && a.ip_address == b.ip_address
        && a.readiness_checks == b.readiness_checks
        && a.residency == b.residency
        && a.secrets == b.secrets
        && a.unreachable_strategy == b.unreachable_strategy
        && a.kill_selection == b.kill_selection
}

fn same_set<T: Ord>(a: &[T], b: &[T]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::definition::{EnvVarValue, PortReference};
    use super::super::output::app_json;
    use super::super::parse::app_from_json;
    use super::*;

    fn app(value: Value) -> AppDefinition {
        app_from_json(&value, &PathId::root()).expect("valid app")
    }

    fn current() -> AppDefinition {
        app(json!({"id":"/prod/web","cmd":"run","instances":2,"env":{"A":"1"},"labels":{"x":"y"},
            "healthChecks":[{"protocol":"HTTP","path":"/h"}],"constraints":[["hostname","UNIQUE"]]}))
    }

    #[test]
    fn present_fields_replace_absent_fields_keep() {
        let old = current();
        let new = apply_update(&old, &json!({"instances": 5, "env": {"B": "2"}, "cmd": null})).expect("update");
        assert_eq!(new.instances, 5);
        assert_eq!(new.env.get("B"), Some(&EnvVarValue::Value("2".into())));
        assert!(!new.env.contains_key("A"));
        assert_eq!(new.cmd.as_deref(), Some("run"));
        assert_eq!(new.labels, old.labels);
        assert_eq!(new.version, old.version);
        assert_eq!(new.id, old.id);
        let ignored_id = apply_update(&old, &json!({"id": "/elsewhere", "mem": 64})).expect("update");
        assert_eq!(ignored_id.id, old.id);
        assert_eq!(ignored_id.mem, 64.0);
    }

    #[test]
    fn legacy_fields_and_defaults_in_updates() {
        let old = current();
        let new = apply_update(
            &old,
            &json!({"ports": [8080, 0], "uris": ["http://x/a.jar"], "dependencies": ["../db"],
            "healthChecks": [{"protocol": "TCP"}]}),
        )
        .expect("update");
        assert_eq!(new.port_definitions, vec![PortDefinition::new(8080), PortDefinition::new(0)]);
        assert!(new.fetch[0].extract, "update uris keep the fetcher default extract=true");
        assert_eq!(new.dependencies, vec![PathId::parse("/prod/db")]);
        assert_eq!(new.health_checks[0].port_index, Some(PortReference::Index(0)));
        let err = apply_update(&old, &json!({"ports": [1], "portDefinitions": [{"port": 2}]})).expect_err("conflict");
        assert_eq!(err.body()["details"][0]["errors"][0], json!("You cannot specify both ports and port definitions"));
        let err = apply_update(&old, &json!({"cpus": "lots"})).expect_err("type");
        assert_eq!(
            err.body(),
            &json!({"message":"Invalid JSON","details":[{"path":"/cpus","errors":["error.expected.jsnumber"]}]})
        );
    }

    #[test]
    fn echoing_get_output_is_accepted() {
        let mut old = current();
        old.version_info = Some(VersionInfo { last_scaling_at: old.version, last_config_change_at: old.version });
        let mut body = app_json(&old, false);
        if let Some(obj) = body.as_object_mut() {
            obj.remove("version");
            obj.insert("tasks".into(), json!([]));
            obj.insert("tasksRunning".into(), json!(2));
            obj.insert("deployments".into(), json!([]));
            obj.insert("instances".into(), json!(3));
        }
        let new = apply_update(&old, &body).expect("echo accepted");
        assert!(is_scale_only_change(&old, &new));
        assert_eq!(new.instances, 3);
    }

    #[test]
    fn rollback_detection() {
        let ts = "2017-03-01T23:42:20.938Z";
        assert_eq!(rollback_version(&json!({"version": ts})).expect("ok").map(|t| t.to_string()), Some(ts.to_string()));
        assert!(rollback_version(&json!({"version": ts, "id": "/x", "tasks": []})).expect("ok").is_some());
        assert_eq!(rollback_version(&json!({"instances": 2})).expect("ok"), None);
        let err = rollback_version(&json!({"version": ts, "instances": 2})).expect_err("combined");
        assert_eq!(err.status(), 422);
        assert_eq!(
            err.message_text(),
            "requirement failed: The 'version' field may only be combined with the 'id' field."
        );
        let err = rollback_version(&json!({"version": "soon"})).expect_err("bad ts");
        assert_eq!(err.status(), 400);
        let old = current();
        assert_eq!(apply_update(&old, &json!({"version": ts})).expect("no-op"), old);
        let update = parse_app_update(br#"{"id":"web","version":"2017-03-01T23:42:20.938Z"}"#).expect("parse");
        assert_eq!(update.id(), Some(PathId::parse("/web")));
        assert!(update.rollback_version().is_some());
    }

    #[test]
    fn update_bodies_must_be_objects() {
        assert_eq!(parse_app_update(b"").expect_err("empty").message_text(), "Please specify data in JSON format");
        let err = apply_update(&current(), &json!([1])).expect_err("array");
        assert_eq!(err.body()["details"], json!([{"path":"","errors":["error.expected.jsobject"]}]));
    }

    #[test]
    fn create_from_update() {
        let update = AppUpdate::from_json(&json!({"cmd": "x", "instances": 3})).expect("parse");
        let app = update.create(&PathId::parse("/new"));
        assert_eq!(app.id.to_string(), "/new");
        assert_eq!(app.instances, 3);
        assert_eq!(app.port_definitions, vec![PortDefinition::default_port()]);
        let resident = AppUpdate::from_json(&json!({"cmd": "x", "container": {"type": "MESOS", "volumes": [
            {"containerPath": "data", "mode": "RW", "persistent": {"size": 1}}]}}))
        .expect("parse")
        .create(&PathId::parse("/db"));
        assert!(resident.is_resident());
        assert_eq!(resident.upgrade_strategy, UpgradeStrategy::for_resident_tasks());
        assert_eq!(resident.unreachable_strategy, UnreachableStrategy::Disabled);
    }

    #[test]
    fn change_classification() {
        let old = current();
        let mut scaled = old.clone();
        scaled.instances = 10;
        assert!(is_scale_only_change(&old, &scaled));
        assert!(!is_config_change(&old, &scaled));
        let mut changed = scaled.clone();
        changed.cmd = Some("other".into());
        assert!(is_config_change(&old, &changed));
        assert!(!is_scale_only_change(&old, &changed));
        assert!(!is_config_change(&old, &old.clone()));
        assert!(!is_scale_only_change(&old, &old.clone()));
        let mut reordered = old.clone();
        reordered.constraints.push(super::super::definition::Constraint {
            field: "rack".into(),
            operator: "CLUSTER".into(),
            value: None,
        });
        let mut reversed = reordered.clone();
        reversed.constraints.reverse();
        assert!(!is_config_change(&reordered, &reversed), "constraints are a set");
        let mut other_version = old.clone();
        other_version.version = Timestamp::from_millis(0).expect("epoch");
        assert!(!is_config_change(&old, &other_version));
    }

    #[test]
    fn versioning() {
        let t = |ms| Timestamp::from_millis(ms).expect("in range");
        let mut created = current();
        assign_version(&mut created, None, t(1000), false);
        assert_eq!(
            (created.version, created.version_info),
            (t(1000), Some(VersionInfo { last_scaling_at: t(1000), last_config_change_at: t(1000) }))
        );
        let mut scaled = created.clone();
        scaled.instances = 7;
        assign_version(&mut scaled, Some(&created), t(2000), false);
        assert_eq!(scaled.version, t(2000));
        assert_eq!(scaled.version_info, Some(VersionInfo { last_scaling_at: t(2000), last_config_change_at: t(1000) }));
        let mut unchanged = scaled.clone();
        assign_version(&mut unchanged, Some(&scaled), t(3000), false);
        assert_eq!((unchanged.version, unchanged.version_info), (scaled.version, scaled.version_info));
        let mut restarted = scaled.clone();
        assign_version(&mut restarted, Some(&scaled), t(4000), true);
        assert_eq!(restarted.version_info.map(|v| v.last_config_change_at), Some(t(1000)));
        let mut reconfigured = scaled.clone();
        reconfigured.mem = 1.0;
        assign_version(&mut reconfigured, Some(&scaled), t(5000), false);
        assert_eq!(
            reconfigured.version_info,
            Some(VersionInfo { last_scaling_at: t(5000), last_config_change_at: t(5000) })
        );
    }
}
