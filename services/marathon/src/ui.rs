//! The web pages Marathon serves: the UI at `/` and `/ui/`, and the API console at `/api-console/index.html`.
//! Each is one self-contained HTML file (inline CSS and JS, no external assets) that talks to the REST API.

/// The UI page.
pub const INDEX_HTML: &str = include_str!("ui/index.html");

/// The API console page (reads `/api-console/openapi.json`).
pub const API_CONSOLE_HTML: &str = include_str!("ui/api-console.html");
