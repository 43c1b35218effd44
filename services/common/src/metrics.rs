//! Prometheus metrics shared by every role: one registry per process with the process metrics (RSS, CPU, open
//! fds), per-route HTTP request metrics, the ZooKeeper session gauge, and rendering in the text format.
//!
//! Names follow Prometheus conventions: base units (`_seconds`, `_bytes`), `_total` on counters only, and
//! bounded label values (each role maps request paths to a fixed set of route labels).

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use std::sync::LazyLock;
use std::time::Duration;
use warp::http::{Method, StatusCode};

/// Buckets for request and cycle latencies, in seconds (0.5 ms to 10 s).
pub const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Buckets for slow end-to-end latencies such as a launch or an acknowledged status update (10 ms to 10 min).
pub const SLOW_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

/// `zookeeper_session_connected{session}`: 1 while the process's ZooKeeper session of that kind is connected.
static ZOOKEEPER_SESSION: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    IntGaugeVec::new(
        Opts::new(
            "zookeeper_session_connected",
            "1 while this process's ZooKeeper session (election: leader election; detector: leader detection) is connected, 0 while it is disconnected or lost.",
        ),
        &["session"],
    )
    .expect("valid metric")
});

/// Creates the process-wide registry with the process collector and the ZooKeeper session gauge.
pub fn registry() -> Registry {
    let registry = Registry::new();
    #[cfg(target_os = "linux")]
    {
        let collector = prometheus::process_collector::ProcessCollector::for_self();
        if let Err(e) = registry.register(Box::new(collector)) {
            tracing::warn!(error = %e, "process metrics unavailable");
        }
    }
    registry.register(Box::new(ZOOKEEPER_SESSION.clone())).expect("unique metric");
    registry
}

/// Registers a metric, panicking on a name clash (a programming error caught by every test).
pub fn register<C: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: &C) {
    registry.register(Box::new(metric.clone())).expect("unique metric");
}

/// Renders every metric in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut out) {
        tracing::warn!(error = %e, "cannot encode metrics");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Per-route HTTP metrics of one role: `<prefix>_http_requests_total{route,method,code}` and
/// `<prefix>_http_request_duration_seconds{route}`. Routes must come from a fixed set per role.
pub struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl HttpMetrics {
    /// Registers both metrics under `prefix` (e.g. `mesos_master`).
    pub fn new(registry: &Registry, prefix: &str) -> HttpMetrics {
        let requests = IntCounterVec::new(
            Opts::new(
                format!("{prefix}_http_requests_total"),
                "HTTP requests answered, by route, method and status code.",
            ),
            &["route", "method", "code"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                format!("{prefix}_http_request_duration_seconds"),
                "Time to answer an HTTP request (until the response starts), by route.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        register(registry, &requests);
        register(registry, &duration);
        HttpMetrics { requests, duration }
    }

    /// Records one answered request.
    pub fn observe(&self, route: &str, method: &Method, status: StatusCode, elapsed: Duration) {
        self.requests.with_label_values(&[route, method_label(method), status.as_str()]).inc();
        self.duration.with_label_values(&[route]).observe(elapsed.as_secs_f64());
    }
}

/// A bounded label for a request method: the standard ones by name, anything else as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Mirrors a ZooKeeper client's session state into `zookeeper_session_connected{session}` for as long as the
/// returned guard lives; dropping it (the session is over) sets the gauge to 0.
pub fn track_zookeeper_session(client: &zookeeper_client::Client, session: &'static str) -> ZooKeeperSessionGuard {
    let mut watcher = client.state_watcher();
    let gauge = ZOOKEEPER_SESSION.with_label_values(&[session]);
    let task = tokio::spawn(async move {
        let mut state = watcher.state();
        loop {
            gauge.set(i64::from(is_connected(state)));
            state = watcher.changed().await;
        }
    });
    ZooKeeperSessionGuard { task, session }
}

/// Whether a session state counts as connected.
fn is_connected(state: zookeeper_client::SessionState) -> bool {
    matches!(state, zookeeper_client::SessionState::SyncConnected | zookeeper_client::SessionState::ConnectedReadOnly)
}

/// Keeps a session's gauge up to date; see [`track_zookeeper_session`].
pub struct ZooKeeperSessionGuard {
    task: tokio::task::JoinHandle<()>,
    session: &'static str,
}

impl Drop for ZooKeeperSessionGuard {
    fn drop(&mut self) {
        self.task.abort();
        ZOOKEEPER_SESSION.with_label_values(&[self.session]).set(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_metrics_use_bounded_labels_and_base_units() {
        let registry = Registry::new();
        let http = HttpMetrics::new(&registry, "test_role");
        http.observe("/state", &Method::GET, StatusCode::OK, Duration::from_millis(3));
        http.observe("/state", &Method::from_bytes(b"BREW").unwrap(), StatusCode::NOT_FOUND, Duration::from_millis(1));
        let text = render(&registry);
        assert!(text.contains("# TYPE test_role_http_requests_total counter"), "{text}");
        assert!(text.contains(r#"test_role_http_requests_total{code="200",method="GET",route="/state"} 1"#), "{text}");
        assert!(
            text.contains(r#"test_role_http_requests_total{code="404",method="other",route="/state"} 1"#),
            "{text}"
        );
        assert!(text.contains("# TYPE test_role_http_request_duration_seconds histogram"), "{text}");
        assert!(text.contains(r#"test_role_http_request_duration_seconds_count{route="/state"} 2"#), "{text}");
    }

    #[test]
    fn sessions_count_as_connected_only_when_synced() {
        use zookeeper_client::SessionState::*;
        assert!(is_connected(SyncConnected) && is_connected(ConnectedReadOnly));
        assert!(!is_connected(Disconnected) && !is_connected(Expired) && !is_connected(Closed));
    }

    #[test]
    fn the_registry_has_process_metrics() {
        let text = render(&registry());
        for name in ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"] {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing in {text}");
        }
    }
}
