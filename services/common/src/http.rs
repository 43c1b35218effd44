//! Small HTTP helpers shared by the roles' warp servers: JSON and JSONP replies.

use serde::Serialize;
use std::convert::Infallible;
use warp::http::{header, HeaderMap, Method, StatusCode};
use warp::hyper::body::{Body, Bytes};
use warp::reply::Response;
use warp::Filter;

/// A parsed request, as handlers see it.
pub struct Request {
    /// Method.
    pub method: Method,
    /// Path (percent-encoded as received; roles may normalise it).
    pub path: String,
    /// Original path and query, for redirects.
    pub original: String,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Request {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A filter that takes any request apart into a [`Request`] (bodies up to `max_body` bytes), so a role can
/// route by path itself.
pub fn requests(max_body: u64) -> impl Filter<Extract = (Request,), Error = Infallible> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(
            warp::body::content_length_limit(max_body).and(warp::body::bytes()).or(warp::any().map(Bytes::new)).unify(),
        )
        .map(|method, full: warp::path::FullPath, query: String, headers, body| {
            let original =
                if query.is_empty() { full.as_str().to_string() } else { format!("{}?{}", full.as_str(), query) };
            Request { method, path: full.as_str().to_string(), original, query: parse_query(&query), headers, body }
        })
}

/// Splits a raw query string into decoded pairs.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` in a query component.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

/// Serves `routes` on `addr` until SIGTERM or Ctrl-C. If the address cannot be bound, prints one line and exits
/// the process with status 1, as a role cannot run without its port.
pub async fn serve<F>(routes: F, addr: std::net::SocketAddr, program: &str, version: &str)
where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    match warp::serve(routes).try_bind_with_graceful_shutdown(addr, shutdown_signal()) {
        Ok((bound, server)) => {
            tracing::info!(%bound, version, "{program} listening");
            server.await;
        }
        Err(e) => {
            eprintln!("{program}: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    }
}

async fn shutdown_signal() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutting down");
}

/// A JSON reply with the given status; `jsonp` wraps it as `NAME(<json>)` with `text/javascript`.
pub fn json_reply<T: Serialize>(status: StatusCode, value: &T, jsonp: Option<&str>) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    match jsonp.filter(|name| is_callback_name(name)) {
        Some(name) => {
            let mut wrapped = Vec::with_capacity(body.len() + name.len() + 2);
            wrapped.extend_from_slice(name.as_bytes());
            wrapped.push(b'(');
            wrapped.extend_from_slice(&body);
            wrapped.push(b')');
            respond(status, "text/javascript", wrapped)
        }
        None => respond(status, "application/json", body),
    }
}

/// A plain reply with a content type.
pub fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response {
    let mut response = Response::new(Body::from(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// A text reply (upstream Mesos errors are plain text).
pub fn text_reply(status: StatusCode, text: impl Into<String>) -> Response {
    respond(status, "text/plain; charset=utf-8", text.into())
}

/// The `http://host:port` a 307 from a standby master points at (`Location: //host:port/path`).
pub fn redirect_base_url(location: &str) -> String {
    let host = location.trim_start_matches("http:").trim_start_matches("//").split('/').next().unwrap_or_default();
    format!("http://{host}")
}

/// JSONP callback names are restricted to identifier characters so a reply cannot inject script.
fn is_callback_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 128 && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.$[]".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode() {
        assert_eq!(
            parse_query("jsonp=cb&x=a%20b+c"),
            vec![("jsonp".into(), "cb".into()), ("x".into(), "a b c".into())]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%E2%9C%93"), "\u{2713}");
    }

    #[test]
    fn jsonp_wraps_and_rejects_script() {
        let r = json_reply(StatusCode::OK, &serde_json::json!({"a":1}), Some("angular.callbacks._0"));
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/javascript");
        assert!(is_callback_name("angular.callbacks._0"));
        assert!(!is_callback_name("alert(1);x"));
        let r = json_reply(StatusCode::OK, &1, Some("alert(1);x"));
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    }
}
