//! The agent's Prometheus metrics (served at `/metrics`); `/metrics/snapshot` keeps upstream's flat JSON keys.
//!
//! Acknowledgement latency is observed where an acknowledgement arrives; gauges are computed from the agent's
//! state on every scrape by [`Metrics::refresh`].

use crate::runtime::Agent;
use common::mesos::{TaskState, TaskStatus};
use common::metrics::{register, HttpMetrics, SLOW_BUCKETS};
use prometheus::{Gauge, GaugeVec, Histogram, HistogramOpts, Opts, Registry};

/// Metric handles.
pub struct Metrics {
    registry: Registry,
    /// Requests and their latency per route.
    pub http: HttpMetrics,
    /// From a status update's creation to the scheduler's acknowledgement reaching the agent.
    status_update_ack_seconds: Histogram,
    registered: Gauge,
    tasks: GaugeVec,
    status_updates_pending: Gauge,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let registry = common::metrics::registry();
        let http = HttpMetrics::new(&registry, "mesos_agent");
        let status_update_ack_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "mesos_agent_status_update_acknowledgement_duration_seconds",
                "Time from a task status update's creation on the agent to its acknowledgement by the scheduler.",
            )
            .buckets(SLOW_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        register(&registry, &status_update_ack_seconds);
        let registered = Gauge::new("mesos_agent_registered", "1 while the agent is registered with a leading master.")
            .expect("valid metric");
        register(&registry, &registered);
        let tasks = GaugeVec::new(Opts::new("mesos_agent_tasks", "Tasks on this agent by state."), &["state"])
            .expect("valid metric");
        register(&registry, &tasks);
        let status_updates_pending = Gauge::new(
            "mesos_agent_status_updates_pending",
            "Task status updates queued and not yet acknowledged by their scheduler.",
        )
        .expect("valid metric");
        register(&registry, &status_updates_pending);
        Metrics { registry, http, status_update_ack_seconds, registered, tasks, status_updates_pending }
    }

    /// Records that `status` was acknowledged at `now` (seconds since the epoch).
    pub fn acknowledged(&self, status: &TaskStatus, now: f64) {
        if let Some(seconds) = ack_latency(status, now) {
            self.status_update_ack_seconds.observe(seconds);
        }
    }

    /// Updates the gauges from the agent.
    pub fn refresh(&self, agent: &Agent) {
        self.registered.set(if agent.link.connection().is_some() { 1.0 } else { 0.0 });
        let mut counts = std::collections::HashMap::new();
        for task in agent.state.lock().expect("state lock").tasks.values() {
            *counts.entry(task.state).or_insert(0.0) += 1.0;
        }
        for state in TaskState::ALL {
            self.tasks.with_label_values(&[&state.short_name()]).set(counts.get(&state).copied().unwrap_or(0.0));
        }
        self.status_updates_pending.set(agent.updates.lock().expect("updates lock").pending_count() as f64);
    }

    /// Prometheus text.
    pub fn render(&self) -> String {
        common::metrics::render(&self.registry)
    }
}

/// Seconds from an update's creation (its timestamp) to `now`; none without a timestamp. A clock step back
/// counts as zero.
fn ack_latency(status: &TaskStatus, now: f64) -> Option<f64> {
    status.timestamp.map(|created| (now - created).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(timestamp: Option<f64>) -> TaskStatus {
        let mut value = serde_json::json!({"task_id": {"value": "t"}, "state": "TASK_RUNNING"});
        if let Some(ts) = timestamp {
            value["timestamp"] = serde_json::json!(ts);
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn acknowledgement_latency_runs_from_the_update_timestamp() {
        assert_eq!(ack_latency(&status(Some(100.0)), 102.5), Some(2.5));
        assert_eq!(ack_latency(&status(Some(100.0)), 99.0), Some(0.0), "a clock step back is not negative");
        assert_eq!(ack_latency(&status(None), 100.0), None);
    }

    #[test]
    fn acknowledgements_are_observed_in_seconds() {
        let metrics = Metrics::new();
        metrics.acknowledged(&status(Some(10.0)), 10.25);
        let text = metrics.render();
        assert!(text.contains("# TYPE mesos_agent_status_update_acknowledgement_duration_seconds histogram"));
        assert!(text.contains("mesos_agent_status_update_acknowledgement_duration_seconds_sum 0.25"), "{text}");
    }
}
