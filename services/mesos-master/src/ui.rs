//! The web UI served at `/`: one self-contained page (no external assets) that reads the JSON endpoints.

/// The page.
pub const INDEX_HTML: &str = include_str!("ui/index.html");
