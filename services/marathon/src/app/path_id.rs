//! Hierarchical app/group identifiers (`/prod/web`) and the task-id helpers built on them.

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;
use uuid::Uuid;

/// Regular expression every id segment must fully match (upstream `ID_PATH_SEGMENT_PATTERN`).
pub const ID_SEGMENT_PATTERN: &str =
    r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$";

/// An app or group id: a list of segments, absolute (`/a/b`) or relative (`a/b`, `../x`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathId {
    segments: Vec<String>,
    absolute: bool,
}

impl PathId {
    /// The root group `/`.
    pub fn root() -> Self {
        PathId { segments: Vec::new(), absolute: true }
    }

    /// Splits `text` on `/` without resolving `.`/`..`; a leading `/` makes it absolute.
    pub fn parse(text: &str) -> Self {
        PathId {
            segments: text.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            absolute: text.starts_with('/'),
        }
    }

    /// Parses `text` and resolves it against the absolute group `base` (`basic-0` → `/basic-0`).
    pub fn resolve(text: &str, base: &PathId) -> Self {
        PathId::parse(text).canonical(base)
    }

    /// Absolute path built from segments.
    pub fn from_segments<S: Into<String>>(segments: impl IntoIterator<Item = S>) -> Self {
        PathId { segments: segments.into_iter().map(Into::into).collect(), absolute: true }
    }

    /// Inverse of [`PathId::safe_id`]: `web_db` → `/web/db`.
    pub fn from_safe_id(safe: &str) -> Self {
        PathId::from_segments(safe.split('_').filter(|s| !s.is_empty()))
    }

    /// The segments.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether the id started with `/`.
    pub fn is_absolute(&self) -> bool {
        self.absolute
    }

    /// Whether this is the root (no segments).
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Absolute form: relative ids are appended to `base`, then `.` and `..` are resolved.
    pub fn canonical(&self, base: &PathId) -> PathId {
        let prefix: &[String] = if self.absolute { &[] } else { &base.segments };
        let mut out: Vec<String> = Vec::new();
        for segment in prefix.iter().chain(self.segments.iter()) {
            match segment.as_str() {
                "." => {}
                ".." => {
                    out.pop();
                }
                _ => out.push(segment.clone()),
            }
        }
        PathId { segments: out, absolute: true }
    }

    /// The enclosing group (`/a/b` → `/a`; the root is its own parent).
    pub fn parent(&self) -> PathId {
        let mut segments = self.segments.clone();
        segments.pop();
        PathId { segments, absolute: self.absolute }
    }

    /// Whether `self` lies directly inside `group` (`/g/app` is a child of `/g`).
    pub fn is_child_of(&self, group: &PathId) -> bool {
        !self.is_root() && self.parent().segments == group.segments
    }

    /// Whether `self` equals `group` or lies anywhere below it.
    pub fn is_under(&self, group: &PathId) -> bool {
        self.segments.starts_with(&group.segments)
    }

    /// Segments joined with `_` (`/web/db` → `web_db`), as used in task ids.
    pub fn safe_id(&self) -> String {
        self.segments.join("_")
    }

    /// Segments reversed and joined with `.` (`/web/db` → `db.web`), the Mesos task name.
    pub fn to_hostname(&self) -> String {
        self.segments.iter().rev().map(String::as_str).collect::<Vec<_>>().join(".")
    }

    /// Segments that do not match [`ID_SEGMENT_PATTERN`].
    pub fn invalid_segments(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).filter(|s| !segment_regex().is_match(s)).collect()
    }
}

impl fmt::Display for PathId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.absolute {
            write!(f, "/")?;
        }
        write!(f, "{}", self.segments.join("/"))
    }
}

fn segment_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(&format!("^(?:{ID_SEGMENT_PATTERN})$")).expect("constant regex"))
}

fn task_id_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(.+)[\._]([^_\.]+)$").expect("constant regex"))
}

/// A fresh 1.4-style task id: `<safe app id>.<UUID v1>` (`web_db.1d4e2f0a-…`).
pub fn new_task_id(app_id: &PathId) -> String {
    let random = Uuid::new_v4();
    let mut node = [0u8; 6];
    node.copy_from_slice(&random.as_bytes()[..6]);
    format!("{}.{}", app_id.safe_id(), Uuid::now_v1(&node))
}

/// The app id encoded in a task or instance id (`web_db.<uuid>` → `/web/db`), if it has one.
pub fn app_id_from_task_id(task_id: &str) -> Option<PathId> {
    task_id_regex()
        .captures(task_id)
        .and_then(|caps| caps.get(1))
        .map(|m| PathId::from_safe_id(m.as_str()))
        .filter(|id| !id.is_root())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_ids_resolve_against_root_and_groups() {
        let root = PathId::root();
        assert_eq!(PathId::resolve("basic-0", &root).to_string(), "/basic-0");
        assert_eq!(PathId::resolve("/basic-0", &root).to_string(), "/basic-0");
        assert_eq!(PathId::resolve("prod/web", &root).to_string(), "/prod/web");
        let group = PathId::parse("/prod/web");
        assert_eq!(PathId::resolve("../x", &group).to_string(), "/prod/x");
        assert_eq!(PathId::resolve("./x/../y", &group).to_string(), "/prod/web/y");
        assert_eq!(PathId::resolve("../../../..", &group).to_string(), "/");
        assert_eq!(PathId::resolve("/abs/./p", &group).to_string(), "/abs/p");
        assert_eq!(PathId::resolve("//a//b/", &root).to_string(), "/a/b");
    }

    #[test]
    fn parse_keeps_relative_form() {
        let p = PathId::parse("a/b");
        assert!(!p.is_absolute());
        assert_eq!(p.to_string(), "a/b");
        assert_eq!(PathId::parse("/").to_string(), "/");
        assert!(PathId::parse("/").is_root());
        assert_eq!(PathId::parse("").to_string(), "");
    }

    #[test]
    fn parent_child_and_names() {
        let id = PathId::parse("/web/db");
        assert_eq!(id.parent().to_string(), "/web");
        assert_eq!(PathId::root().parent(), PathId::root());
        assert!(id.is_child_of(&PathId::parse("/web")));
        assert!(!id.is_child_of(&PathId::root()));
        assert!(PathId::parse("/x").is_child_of(&PathId::root()));
        assert!(!PathId::root().is_child_of(&PathId::root()));
        assert!(id.is_under(&PathId::root()));
        assert!(id.is_under(&PathId::parse("/web")));
        assert!(!id.is_under(&PathId::parse("/we")));
        assert_eq!(id.safe_id(), "web_db");
        assert_eq!(id.to_hostname(), "db.web");
        assert_eq!(PathId::from_safe_id("web_db"), id);
    }

    #[test]
    fn segment_validation() {
        for ok in ["app", "hy-phenated", "9numbered", "dot.ted", "a.b-c.d9"] {
            assert!(PathId::parse(ok).invalid_segments().is_empty(), "{ok}");
        }
        for bad in ["a b", "-dash", "dash-", "Upper", "nest.", "a#b", "x_y"] {
            assert_eq!(PathId::parse(bad).invalid_segments(), vec![bad], "{bad}");
        }
        assert_eq!(PathId::parse("/ok/Bad/-x").invalid_segments(), vec!["Bad", "-x"]);
    }

    #[test]
    fn task_ids_round_trip() {
        let id = PathId::parse("/web/db");
        let task = new_task_id(&id);
        assert!(task.starts_with("web_db."));
        let uuid = Uuid::parse_str(&task["web_db.".len()..]).expect("uuid");
        assert_eq!(uuid.get_version_num(), 1);
        assert_eq!(app_id_from_task_id(&task), Some(id.clone()));
        assert_ne!(new_task_id(&id), task);
        assert_eq!(app_id_from_task_id("web_db.marathon-1d4e2f0a-0000-1111-2222-333344445555"), Some(id));
        assert_eq!(app_id_from_task_id("basic-0_abc"), Some(PathId::parse("/basic-0")));
        assert_eq!(app_id_from_task_id("nodelimiter"), None);
        assert_eq!(app_id_from_task_id(""), None);
    }
}
