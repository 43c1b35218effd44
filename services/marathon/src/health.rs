//! Marathon-run health checks (HTTP and TCP; HTTPS is probed as a TCP connect because the binary carries
//! no TLS stack): the per-task result bookkeeping is a pure function ([`HealthResult::record`]), the probes
//! are small async functions. Mesos-run checks (COMMAND, MESOS_HTTP/HTTPS/TCP) are done by the agent; their
//! verdicts arrive in status updates.

use crate::app::{AppDefinition, HealthCheck, HealthCheckProtocol, PortReference, Timestamp};
use crate::core::instance::Instance;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// The running result of one health check of one task (`healthCheckResults[]` in task JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthResult {
    /// Whether the last verdict was healthy (`None` until the first success or a counted failure).
    pub alive: Option<bool>,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// First success.
    #[serde(with = "crate::core::text::opt_timestamp")]
    pub first_success: Option<Timestamp>,
    /// Last success.
    #[serde(with = "crate::core::text::opt_timestamp")]
    pub last_success: Option<Timestamp>,
    /// Last failure.
    #[serde(with = "crate::core::text::opt_timestamp")]
    pub last_failure: Option<Timestamp>,
    /// Why the last failure happened.
    pub last_failure_cause: Option<String>,
    /// When the check last ran (ms since the epoch).
    #[serde(default)]
    pub last_check_ms: i64,
}

/// What a probe outcome means for the task.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// The `alive` flag flipped (emit health events).
    pub changed: bool,
    /// The task must be killed (too many consecutive failures).
    pub kill: bool,
}

impl HealthResult {
    /// Records a probe outcome at `now_ms` for a task that started (became running) at `started_ms`.
    /// Failures are ignored until the first success while the grace period lasts; `maxConsecutiveFailures`
    /// 0 means never kill.
    pub fn record(
        &mut self,
        check: &HealthCheck,
        outcome: Result<(), String>,
        now: Timestamp,
        started_ms: i64,
    ) -> Verdict {
        let before = self.alive;
        self.last_check_ms = now.millis();
        match outcome {
            Ok(()) => {
                self.alive = Some(true);
                self.consecutive_failures = 0;
                self.first_success.get_or_insert(now);
                self.last_success = Some(now);
            }
            Err(cause) => {
                let in_grace =
                    self.first_success.is_none() && now.millis() - started_ms < check.grace_period_seconds * 1000;
                if in_grace {
                    return Verdict { changed: false, kill: false };
                }
                self.alive = Some(false);
                self.consecutive_failures += 1;
                self.last_failure = Some(now);
                self.last_failure_cause = Some(cause);
            }
        }
        let kill =
            check.max_consecutive_failures > 0 && self.consecutive_failures >= check.max_consecutive_failures as u32;
        Verdict { changed: before != self.alive && self.alive.is_some(), kill }
    }

    /// Whether the check is due at `now_ms`.
    pub fn is_due(&self, check: &HealthCheck, now_ms: i64) -> bool {
        now_ms - self.last_check_ms >= check.interval_seconds.max(1) * 1000
    }

    /// The task JSON entry.
    pub fn json(&self, instance_id: &str) -> Value {
        json!({
            "alive": self.alive.unwrap_or(false),
            "consecutiveFailures": self.consecutive_failures,
            "firstSuccess": self.first_success.map(|t| t.to_string()),
            "lastSuccess": self.last_success.map(|t| t.to_string()),
            "lastFailure": self.last_failure.map(|t| t.to_string()),
            "lastFailureCause": self.last_failure_cause,
            "instanceId": instance_id,
        })
    }
}

/// Whether Marathon itself runs this check.
pub fn is_marathon_check(check: &HealthCheck) -> bool {
    matches!(check.protocol, HealthCheckProtocol::Http | HealthCheckProtocol::Https | HealthCheckProtocol::Tcp)
}

/// The host port a check probes on a task: a fixed `port`, or the task's host port at `portIndex`
/// (by index or port name), defaulting to the first.
pub fn target_port(app: &AppDefinition, check: &HealthCheck, task: &Instance) -> Option<u32> {
    if let Some(port) = check.port {
        return u32::try_from(port).ok();
    }
    let index = match &check.port_index {
        Some(PortReference::Index(i)) => usize::try_from(*i).ok()?,
        Some(PortReference::Name(name)) => app.port_names().iter().position(|n| n == name)?,
        None => 0,
    };
    task.ports.get(index).copied()
}

/// Runs one probe with the check's timeout.
pub async fn probe(client: &reqwest::Client, check: &HealthCheck, host: &str, port: u32) -> Result<(), String> {
    let timeout = Duration::from_secs(check.timeout_seconds.max(1) as u64);
    match check.protocol {
        HealthCheckProtocol::Http => {
            let path = check.path.clone().unwrap_or_else(|| "/".to_string());
            let url = format!("http://{host}:{port}{path}");
            let response = client.get(&url).timeout(timeout).send().await.map_err(|e| format!("{url}: {e}"))?;
            let status = response.status().as_u16();
            if (200..400).contains(&status) || (check.ignore_http1xx && (100..200).contains(&status)) {
                Ok(())
            } else {
                Err(format!("{url} answered {status}"))
            }
        }
        _ => match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port as u16))).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("{host}:{port}: {e}")),
            Err(_) => Err(format!("{host}:{port}: timed out after {timeout:?}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(grace: i64, max: i32) -> HealthCheck {
        let mut c = HealthCheck::new(HealthCheckProtocol::Http);
        c.grace_period_seconds = grace;
        c.max_consecutive_failures = max;
        c
    }

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms).unwrap()
    }

    #[test]
    fn failures_in_the_grace_period_before_a_success_are_ignored() {
        let c = check(10, 3);
        let mut r = HealthResult::default();
        assert_eq!(r.record(&c, Err("down".into()), at(5_000), 0), Verdict { changed: false, kill: false });
        assert_eq!(r.alive, None);
        assert!(r.record(&c, Ok(()), at(6_000), 0).changed);
        // After a success, failures count even within the grace period.
        r.record(&c, Err("down".into()), at(7_000), 0);
        assert_eq!(r.consecutive_failures, 1);
    }

    #[test]
    fn kills_after_max_consecutive_failures_unless_zero() {
        let c = check(0, 2);
        let mut r = HealthResult::default();
        assert!(!r.record(&c, Err("x".into()), at(1_000), 0).kill);
        assert!(r.record(&c, Err("x".into()), at(2_000), 0).kill);
        let never = check(0, 0);
        let mut r = HealthResult::default();
        for i in 0..10 {
            assert!(!r.record(&never, Err("x".into()), at(i * 1_000), 0).kill);
        }
    }

    #[test]
    fn success_resets_the_count() {
        let c = check(0, 3);
        let mut r = HealthResult::default();
        r.record(&c, Err("x".into()), at(1_000), 0);
        r.record(&c, Ok(()), at(2_000), 0);
        assert_eq!(r.consecutive_failures, 0);
        assert_eq!(r.alive, Some(true));
        assert!(r.is_due(&c, 2_000 + 60_000));
        assert!(!r.is_due(&c, 2_000 + 1_000));
    }
}
