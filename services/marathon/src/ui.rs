//! The web UI served at `/` and `/ui/`: one self-contained page that talks to the REST API.

/// The page.
pub const INDEX_HTML: &str = include_str!("ui/index.html");
