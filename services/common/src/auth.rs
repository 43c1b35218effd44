//! Authentication shared by every role: credential files (Mesos `--credentials` / `--credential`), HTTP Basic
//! headers and their check, the `401` answer, and redaction of secrets in text that may be logged or shown.
//!
//! Everything here is pure (no sockets); the roles call it at the entry of their request handling.

use base64::Engine;
use std::fmt;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

/// A principal and its secret. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// Who.
    pub principal: String,
    /// The shared secret.
    pub secret: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential {{ principal: {:?}, secret: \"********\" }}", self.principal)
    }
}

impl Credential {
    /// The `Authorization` header value presenting this credential: `Basic base64(principal:secret)`.
    pub fn basic_header(&self) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.principal, self.secret));
        format!("Basic {token}")
    }

    /// `user:password` text, as Marathon's `--http_credentials` takes it (split at the first `:`).
    pub fn parse_user_password(text: &str) -> Result<Credential, String> {
        match text.split_once(':') {
            Some((user, password)) if !user.is_empty() => {
                Ok(Credential { principal: user.to_string(), secret: password.to_string() })
            }
            _ => Err("expected user:password".to_string()),
        }
    }
}

/// Reads a credentials file named by a flag value: a path, optionally `file://`-prefixed. The error names the
/// path, never the contents.
pub fn read_credentials_file(flag_value: &str) -> Result<String, String> {
    let path = flag_value.trim();
    let path = path.strip_prefix("file://").unwrap_or(path);
    std::fs::read_to_string(path).map_err(|e| format!("cannot read credentials file '{path}': {e}"))
}

/// Parses the master's `--credentials` file: JSON `{"credentials": [{"principal": "p", "secret": "s"}, ...]}`
/// or text with one `principal secret` pair per line (blank lines skipped).
pub fn parse_credentials(text: &str) -> Result<Vec<Credential>, String> {
    let credentials = if text.trim_start().starts_with('{') {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("credentials file is not valid JSON: {e}"))?;
        let list = value
            .get("credentials")
            .and_then(serde_json::Value::as_array)
            .ok_or("credentials JSON needs a \"credentials\" array")?;
        list.iter().map(json_credential).collect::<Result<Vec<_>, _>>()?
    } else {
        text.lines()
            .map(str::trim)
            .enumerate()
            .filter(|(_, line)| !line.is_empty())
            .map(|(n, line)| text_credential(line).map_err(|e| format!("line {}: {e}", n + 1)))
            .collect::<Result<Vec<_>, _>>()?
    };
    if credentials.is_empty() {
        return Err("credentials file holds no credentials".to_string());
    }
    Ok(credentials)
}

/// Parses the agent's `--credential` file: JSON `{"principal": "p", "secret": "s"}` or one `principal secret`
/// line.
pub fn parse_credential(text: &str) -> Result<Credential, String> {
    if text.trim_start().starts_with('{') {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("credential file is not valid JSON: {e}"))?;
        return json_credential(&value);
    }
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    match (lines.next(), lines.next()) {
        (Some(line), None) => text_credential(line),
        (None, _) => Err("credential file is empty".to_string()),
        (Some(_), Some(_)) => Err("credential file must hold exactly one 'principal secret' line".to_string()),
    }
}

fn json_credential(value: &serde_json::Value) -> Result<Credential, String> {
    let field = |name: &str| {
        value
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or(format!("a credential needs a string \"{name}\""))
    };
    let principal = field("principal")?;
    if principal.is_empty() {
        return Err("a credential needs a non-empty \"principal\"".to_string());
    }
    Ok(Credential { principal, secret: field("secret")? })
}

fn text_credential(line: &str) -> Result<Credential, String> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(principal), Some(secret), None) => {
            Ok(Credential { principal: principal.to_string(), secret: secret.to_string() })
        }
        _ => Err("expected 'principal secret'".to_string()),
    }
}

/// The `(principal, secret)` of an `Authorization: Basic ...` header value, if it is one.
pub fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The principal an `Authorization` header authenticates against `credentials`, or `None` when it is
/// missing, not Basic, or wrong. Secrets are compared in constant time.
pub fn authenticate(credentials: &[Credential], authorization: Option<&str>) -> Option<String> {
    let (user, password) = parse_basic(authorization?)?;
    let mut matched = None;
    for credential in credentials {
        let same_secret = constant_time_eq(credential.secret.as_bytes(), password.as_bytes());
        if credential.principal == user && same_secret {
            matched = Some(credential.principal.clone());
        }
    }
    matched
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `401 Unauthorized` with `WWW-Authenticate: Basic realm="<realm>"` and a short body.
pub fn unauthorized(realm: &str, content_type: &str, body: &str) -> Response {
    let mut response = crate::http::respond(StatusCode::UNAUTHORIZED, content_type, body.to_string());
    if let Ok(value) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// What redacted secrets are replaced with.
pub const REDACTED: &str = "********";

/// Replaces the password of every `scheme://user:password@` in `text` with [`REDACTED`], so URLs carrying
/// credentials (ZooKeeper's `zk://user:pass@host/path`) can be logged, shown in `/flags` or put in errors.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the first '/', whitespace or quote; credentials end at its last '@'.
        let end = tail.find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'').unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => {
                let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
                out.push_str(user);
                if userinfo.contains(':') {
                    out.push(':');
                    out.push_str(REDACTED);
                }
                out.push('@');
                out.push_str(hosts);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(p: &str, s: &str) -> Credential {
        Credential { principal: p.into(), secret: s.into() }
    }

    #[test]
    fn credentials_files_parse_in_both_formats() {
        let json =
            r#"{"credentials": [{"principal": "marathon", "secret": "s3"}, {"principal": "ops", "secret": "x y"}]}"#;
        assert_eq!(parse_credentials(json).unwrap(), vec![cred("marathon", "s3"), cred("ops", "x y")]);
        assert_eq!(
            parse_credentials("marathon s3\n\n  ops   pw \n").unwrap(),
            vec![cred("marathon", "s3"), cred("ops", "pw")]
        );
        for bad in ["", "{}", r#"{"credentials": [{"principal": "p"}]}"#, "only-principal", "a b c", "{not json"] {
            assert!(parse_credentials(bad).is_err(), "{bad}");
        }
        let err = parse_credentials("p hunter2 extra").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_single_credential_parses() {
        assert_eq!(parse_credential("agent s3cret\n").unwrap(), cred("agent", "s3cret"));
        assert_eq!(parse_credential(r#"{"principal": "agent", "secret": "s"}"#).unwrap(), cred("agent", "s"));
        assert!(parse_credential("a b\nc d").is_err());
        assert!(parse_credential("  \n").is_err());
        assert_eq!(Credential::parse_user_password("u:p:q").unwrap(), cred("u", "p:q"));
        assert!(Credential::parse_user_password("nopassword").is_err());
        assert!(!format!("{:?}", cred("u", "hunter2")).contains("hunter2"));
    }

    #[test]
    fn basic_headers_round_trip_and_check() {
        let creds = vec![cred("marathon", "s3"), cred("ops", "pw")];
        let header = cred("ops", "pw").basic_header();
        assert_eq!(header, "Basic b3BzOnB3");
        assert_eq!(parse_basic(&header), Some(("ops".into(), "pw".into())));
        assert_eq!(authenticate(&creds, Some(&header)), Some("ops".to_string()));
        assert_eq!(authenticate(&creds, Some("basic b3BzOnB3")), Some("ops".to_string()));
        assert_eq!(authenticate(&creds, Some(&cred("ops", "wrong").basic_header())), None);
        assert_eq!(authenticate(&creds, Some(&cred("nobody", "pw").basic_header())), None);
        assert_eq!(authenticate(&creds, Some("Bearer abc")), None);
        assert_eq!(authenticate(&creds, Some("Basic !!!")), None);
        assert_eq!(authenticate(&creds, None), None);
    }

    #[test]
    fn unauthorized_names_the_realm() {
        let r = unauthorized("mesos-master-readonly", "text/plain", "");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Basic realm=\"mesos-master-readonly\"");
    }

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(redact_urls("zk://alice:pw@z1:2181,z2:2181/mesos"), "zk://alice:********@z1:2181,z2:2181/mesos");
        assert_eq!(
            redact_urls("cannot reach zk://a:b@c@h:1/x or 'http://u:p@host' now"),
            "cannot reach zk://a:********@h:1/x or 'http://u:********@host' now"
        );
        assert_eq!(redact_urls("zk://h:2181/mesos"), "zk://h:2181/mesos");
        assert_eq!(redact_urls("zk://token@h:2181/m"), "zk://token@h:2181/m");
        assert_eq!(redact_urls("no urls here"), "no urls here");
        assert_eq!(redact_urls("zk://u:p@h"), "zk://u:********@h");
    }
}
