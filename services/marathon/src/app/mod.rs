//! Marathon 1.4 app definitions: the stored model, JSON reading and writing, validation,
//! partial updates, service-port assignment, ids and timestamps. Pure code: no HTTP, no I/O.
//!
//! Typical flow for `POST /v2/apps`: [`parse_app`] → [`validate_app`] →
//! [`assign_service_ports`] → store → respond with [`app_json`]`(app, true)` merged via
//! [`with_app_info`].

// Temporary: the API layer is not wired to this module yet (remove once main.rs uses it).
#![allow(dead_code)]

mod definition;
mod errors;
mod output;
mod parse;
mod path_id;
mod pattern;
mod ports;
mod timestamp;
mod update;
mod validation;

// Flat public API; unused until main.rs wires the module (remove the allow then).
#[allow(unused_imports)]
pub use self::{
    definition::*,
    errors::{ApiError, Violation},
    output::{app_json, health_check_json, number, with_app_info, AppInfoExtras, TaskCounts},
    parse::{app_from_json, parse_app, parse_app_replacement, parse_json_body, EXECUTOR_PATTERN, PORT_NAME_PATTERN},
    path_id::{app_id_from_task_id, new_task_id, PathId, ID_SEGMENT_PATTERN},
    pattern::full_match,
    ports::assign_service_ports,
    timestamp::Timestamp,
    update::{
        apply_update, assign_version, is_config_change, is_scale_only_change, parse_app_update, rollback_version,
        AppUpdate,
    },
    validation::{
        app_violations, validate_app, validate_app_with, ValidationOptions, FEATURE_EXTERNAL_VOLUMES,
        FEATURE_GPU_RESOURCES, FEATURE_SECRETS,
    },
};
