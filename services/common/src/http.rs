//! Small HTTP helpers shared by the roles' warp servers: JSON and JSONP replies.

use bytes::Buf;
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

/// Longest path accepted (bytes, percent-encoded as received).
pub const MAX_PATH: usize = 8 * 1024;
/// Longest raw query string accepted.
pub const MAX_QUERY: usize = 16 * 1024;
/// Largest total size of the request's header names and values.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Deepest nesting of arrays/objects accepted in a JSON request body.
pub const MAX_JSON_DEPTH: usize = 64;
/// Longest JSON string (or object key) accepted in a request body, in raw bytes.
pub const MAX_JSON_STRING: usize = 1024 * 1024;

/// Why a request was refused before any handler saw it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body is larger than the role accepts (413).
    #[error("Request body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The body could not be read from the connection (400).
    #[error("Failed to read the request body: {0}")]
    BodyUnreadable(String),
    /// The path or query string is too long or malformed (400).
    #[error("Malformed request target: {0}")]
    BadTarget(String),
    /// The headers are too large (431) or one the roles read is not text (400).
    #[error("Malformed request headers: {0}")]
    BadHeaders(String),
}

impl RequestError {
    /// The status code a role answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            RequestError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::BadHeaders(m) if m.starts_with("headers total") => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Headers whose values handlers read as text: a value that is not text is refused up front.
const TEXT_HEADERS: [header::HeaderName; 4] =
    [header::CONTENT_TYPE, header::ACCEPT, header::CONTENT_LENGTH, header::AUTHORIZATION];

/// A filter that takes any request apart into a [`Request`], or says why it is refused: bodies over `max_body`
/// bytes (declared or streamed), over-long or badly escaped targets, oversized or non-text headers. A role
/// answers an `Err` with [`RequestError::status`] and its message; handlers only see checked requests.
pub fn requests(max_body: u64) -> impl Filter<Extract = (Result<Request, RequestError>,), Error = Infallible> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(body_stream())
        .then(move |method, full: warp::path::FullPath, query: String, headers: HeaderMap, body| async move {
            check_target(full.as_str(), &query)?;
            check_headers(&headers)?;
            let query_pairs = parse_query(&query)?;
            let body = read_body(&headers, body, max_body).await?;
            let original =
                if query.is_empty() { full.as_str().to_string() } else { format!("{}?{}", full.as_str(), query) };
            Ok(Request { method, path: full.as_str().to_string(), original, query: query_pairs, headers, body })
        })
}

/// A request body as a stream of chunks (an empty stream when warp has none to give).
type BodyStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<Bytes, warp::Error>> + Send>>;

fn body_stream() -> impl Filter<Extract = (BodyStream,), Error = Infallible> + Clone {
    warp::body::stream()
        .map(boxed_body)
        .or(warp::any().map(|| -> BodyStream { Box::pin(futures::stream::empty()) }))
        .unify()
}

fn boxed_body<S, B>(chunks: S) -> BodyStream
where
    S: futures::Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: Buf,
{
    use futures::StreamExt;
    Box::pin(chunks.map(|chunk| chunk.map(|mut buf| buf.copy_to_bytes(buf.remaining()))))
}

/// Refuses over-long paths and query strings.
fn check_target(path: &str, query: &str) -> Result<(), RequestError> {
    if path.len() > MAX_PATH {
        return Err(RequestError::BadTarget(format!("path longer than {MAX_PATH} bytes")));
    }
    if query.len() > MAX_QUERY {
        return Err(RequestError::BadTarget(format!("query string longer than {MAX_QUERY} bytes")));
    }
    Ok(())
}

/// Refuses oversized header sets and non-text values of the headers handlers read.
fn check_headers(headers: &HeaderMap) -> Result<(), RequestError> {
    let total: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if total > MAX_HEADER_BYTES {
        return Err(RequestError::BadHeaders(format!("headers total {total} bytes, more than {MAX_HEADER_BYTES}")));
    }
    for name in &TEXT_HEADERS {
        for value in headers.get_all(name) {
            if value.to_str().is_err() {
                return Err(RequestError::BadHeaders(format!("'{name}' is not visible ASCII text")));
            }
        }
    }
    if let Some(length) = headers.get(header::CONTENT_LENGTH) {
        if length.to_str().ok().and_then(|l| l.trim().parse::<u64>().ok()).is_none() {
            return Err(RequestError::BadHeaders("'content-length' is not a number".into()));
        }
    }
    Ok(())
}

/// Reads the body, refusing it as soon as it is known to exceed `max_body` (from `Content-Length`, or while
/// streaming a chunked body) without buffering more than the limit.
async fn read_body<S, B>(headers: &HeaderMap, body: S, max_body: u64) -> Result<Bytes, RequestError>
where
    S: futures::Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    use futures::StreamExt;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|l| l.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_body) {
        return Err(RequestError::BodyTooLarge { limit: max_body });
    }
    let mut out = bytes::BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    futures::pin_mut!(body);
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| RequestError::BodyUnreadable(e.to_string()))?;
        if (out.len() + chunk.remaining()) as u64 > max_body {
            return Err(RequestError::BodyTooLarge { limit: max_body });
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(out.freeze())
}

/// Splits a raw query string into decoded pairs; a bad `%` escape or an escape decoding to invalid UTF-8 is
/// an error.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, RequestError> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` in a query component.
pub fn percent_decode(text: &str) -> Result<String, RequestError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => return Err(RequestError::BadTarget(format!("invalid percent escape at byte {i} of '{text}'"))),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| RequestError::BadTarget(format!("query component '{text}' does not decode to UTF-8")))
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

/// Checks a JSON text's nesting depth and string lengths with one scan and no allocation, before a
/// deserializer builds anything from it. Syntax errors are left to the deserializer.
pub fn check_json_bounds(body: &[u8]) -> Result<(), String> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut string_start = 0usize;
    for (i, &b) in body.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            if in_string && i - string_start > MAX_JSON_STRING {
                return Err(format!("a string longer than {MAX_JSON_STRING} bytes at byte {string_start}"));
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                string_start = i;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(format!("nesting deeper than {MAX_JSON_DEPTH} levels at byte {i}"));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Serves `routes` on `addr` until SIGTERM or Ctrl-C. If the address cannot be bound, prints one line and exits
/// the process with status 1, as a role cannot run without its port.
pub async fn serve<F>(routes: F, addr: std::net::SocketAddr, program: &str, version: &str)
where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    match warp::serve(routes).try_bind_with_graceful_shutdown(addr, crate::shutdown::requested()) {
        Ok((bound, server)) => {
            tracing::info!(%bound, version, "{program} listening");
            server.await;
            crate::shutdown::settled(std::time::Duration::from_secs(3)).await;
        }
        Err(e) => {
            eprintln!("{program}: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    }
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
            parse_query("jsonp=cb&x=a%20b+c").unwrap(),
            vec![("jsonp".into(), "cb".into()), ("x".into(), "a b c".into())]
        );
        assert_eq!(percent_decode("%E2%9C%93").unwrap(), "\u{2713}");
    }

    #[test]
    fn bad_escapes_and_long_targets_are_refused() {
        for bad in ["100%", "%4", "%zz", "a%2", "%FF%FE"] {
            let e = percent_decode(bad).unwrap_err();
            assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        assert!(parse_query("a=%G1").is_err());
        assert!(check_target("/", &"a".repeat(MAX_QUERY)).is_ok());
        assert_eq!(check_target("/", &"a".repeat(MAX_QUERY + 1)).unwrap_err().status(), StatusCode::BAD_REQUEST);
        assert!(check_target(&"/".repeat(MAX_PATH + 1), "").is_err());
    }

    #[test]
    fn headers_are_checked() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, "12".parse().unwrap());
        assert!(check_headers(&headers).is_ok());
        headers.insert(header::CONTENT_LENGTH, "twelve".parse().unwrap());
        assert_eq!(check_headers(&headers).unwrap_err().status(), StatusCode::BAD_REQUEST);
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_bytes(b"text/\xff").unwrap());
        assert_eq!(check_headers(&headers).unwrap_err().status(), StatusCode::BAD_REQUEST);
        let mut headers = HeaderMap::new();
        for i in 0..20 {
            headers.insert(
                header::HeaderName::from_bytes(format!("x-big-{i}").as_bytes()).unwrap(),
                "v".repeat(4096).parse().unwrap(),
            );
        }
        assert_eq!(check_headers(&headers).unwrap_err().status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let chunks = |parts: Vec<&'static [u8]>| futures::stream::iter(parts.into_iter().map(Ok::<_, warp::Error>));
        let empty = HeaderMap::new();
        assert_eq!(&read_body(&empty, chunks(vec![b"ab", b"cd"]), 4).await.unwrap()[..], b"abcd");
        assert_eq!(
            read_body(&empty, chunks(vec![b"ab", b"cde"]), 4).await.unwrap_err(),
            RequestError::BodyTooLarge { limit: 4 }
        );
        let mut declared = HeaderMap::new();
        declared.insert(header::CONTENT_LENGTH, "5".parse().unwrap());
        let e = read_body(&declared, chunks(vec![]), 4).await.unwrap_err();
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(e.to_string(), "Request body is larger than the limit of 4 bytes");
    }

    #[test]
    fn json_bounds() {
        assert!(check_json_bounds(br#"{"a":[1,{"b":"[[[[\"]]"}]}"#).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_JSON_DEPTH), "]".repeat(MAX_JSON_DEPTH));
        assert!(check_json_bounds(deep.as_bytes()).is_ok());
        let deeper = "[".repeat(MAX_JSON_DEPTH + 1);
        assert!(check_json_bounds(deeper.as_bytes()).unwrap_err().contains("nesting deeper"));
        let long = format!("{{\"cmd\":\"{}\"}}", "x".repeat(MAX_JSON_STRING + 1));
        assert!(check_json_bounds(long.as_bytes()).unwrap_err().contains("string longer"));
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
