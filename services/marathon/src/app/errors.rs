//! API errors produced while reading, validating and updating app definitions.
//!
//! Every error carries the HTTP status and the exact JSON body Marathon 1.4 sends for it
//! (`MarathonExceptionMapper` shapes): parser failures, play-json type errors, accord
//! validation failures and plain `{"message": …}` errors.

use std::fmt;

use serde_json::{json, Value};

/// Detail text Jackson produces for an empty request body.
const NO_CONTENT_DETAILS: &str = "No content to map due to end-of-input\n at [Source: ; line: 1, column: 0]";

/// One failed rule: a JSON-pointer-like path (`/cpus`, `/portDefinitions(0)/port`, `/`) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Path of the offending value in Marathon notation.
    pub path: String,
    /// Human readable message (upstream wording).
    pub message: String,
}

impl Violation {
    /// Creates a violation.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Violation { path: path.into(), message: message.into() }
    }

    /// Returns the violation with `prefix` put in front of its path (e.g. `/apps(1)` for apps in groups).
    pub fn prefixed(&self, prefix: &str) -> Self {
        let path = if self.path == "/" { prefix.to_string() } else { format!("{prefix}{}", self.path) };
        Violation::new(path, self.message.clone())
    }
}

/// An error response: HTTP status plus the JSON body to send.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    status: u16,
    body: Value,
}

impl ApiError {
    /// `{"message": msg}` with the given status.
    pub fn message(status: u16, message: impl Into<String>) -> Self {
        ApiError { status, body: json!({ "message": message.into() }) }
    }

    /// An error with a custom JSON body (e.g. 409 "locked" with the blocking deployments).
    pub fn with_body(status: u16, body: Value) -> Self {
        ApiError { status, body }
    }

    /// 400 for an empty request body (`Please specify data in JSON format`).
    pub fn no_content() -> Self {
        ApiError {
            status: 400,
            body: json!({
                "message": "Please specify data in JSON format",
                "details": NO_CONTENT_DETAILS,
            }),
        }
    }

    /// 400 for a body that is not JSON; `details` is the parser message (a string).
    pub fn malformed_json(details: impl Into<String>) -> Self {
        ApiError { status: 400, body: json!({ "message": "Invalid JSON", "details": details.into() }) }
    }

    /// 400 `Invalid JSON` listing play-json style errors (`error.expected.jsstring` …) per path.
    pub fn json_errors(errors: &[Violation]) -> Self {
        ApiError { status: 400, body: json!({ "message": "Invalid JSON", "details": group_by_path(errors) }) }
    }

    /// 422 `Object is not valid` listing validation failures per path.
    pub fn validation(violations: &[Violation]) -> Self {
        ApiError {
            status: 422,
            body: json!({ "message": "Object is not valid", "details": group_by_path(violations) }),
        }
    }

    /// HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// JSON response body.
    pub fn body(&self) -> &Value {
        &self.body
    }

    /// The `message` field of the body.
    pub fn message_text(&self) -> &str {
        self.body.get("message").and_then(Value::as_str).unwrap_or_default()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl std::error::Error for ApiError {}

/// Groups messages by path (first-seen order, duplicates dropped) into `[{"path","errors"}]`.
fn group_by_path(violations: &[Violation]) -> Value {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for v in violations {
        match groups.iter_mut().find(|(path, _)| *path == v.path) {
            Some((_, messages)) => {
                if !messages.contains(&v.message.as_str()) {
                    messages.push(&v.message);
                }
            }
            None => groups.push((&v.path, vec![&v.message])),
        }
    }
    Value::Array(groups.into_iter().map(|(path, errors)| json!({ "path": path, "errors": errors })).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_groups_messages_by_path() {
        let err = ApiError::validation(&[
            Violation::new("/cpus", "a"),
            Violation::new("/mem", "b"),
            Violation::new("/cpus", "c"),
            Violation::new("/cpus", "a"),
        ]);
        assert_eq!(err.status(), 422);
        assert_eq!(
            err.body(),
            &json!({"message":"Object is not valid","details":[
                {"path":"/cpus","errors":["a","c"]},
                {"path":"/mem","errors":["b"]}
            ]})
        );
    }

    #[test]
    fn simple_shapes() {
        assert_eq!(
            ApiError::message(404, "App '/x' does not exist").body(),
            &json!({"message":"App '/x' does not exist"})
        );
        let e = ApiError::no_content();
        assert_eq!(e.status(), 400);
        assert_eq!(e.message_text(), "Please specify data in JSON format");
        assert!(e.body()["details"].as_str().is_some_and(|d| d.starts_with("No content to map due to end-of-input")));
        let e = ApiError::malformed_json("EOF while parsing");
        assert_eq!(e.body(), &json!({"message":"Invalid JSON","details":"EOF while parsing"}));
    }

    #[test]
    fn prefixed_paths() {
        assert_eq!(Violation::new("/", "x").prefixed("/apps(1)").path, "/apps(1)");
        assert_eq!(Violation::new("/cpus", "x").prefixed("/apps(1)").path, "/apps(1)/cpus");
    }
}
