//! Marathon's metrics: Prometheus text at `/metrics/prometheus` (as Marathon 1.7+) and the Dropwizard-style
//! JSON of 1.4 at `/metrics`.

use crate::scheduler::Scheduler;
use prometheus::{Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use serde_json::{json, Value};

/// Metric handles.
pub struct Metrics {
    registry: Registry,
    /// Request latency by route family.
    pub http_latency: HistogramVec,
    /// Requests by route family and status.
    pub http_requests: IntCounterVec,
    leader: Gauge,
    apps: Gauge,
    tasks: GaugeVec,
    deployments: Gauge,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let registry = common::metrics::registry();
        let http_latency = HistogramVec::new(
            HistogramOpts::new("marathon_http_request_duration_seconds", "HTTP request latency by route."),
            &["route"],
        )
        .expect("valid metric");
        let http_requests = IntCounterVec::new(
            Opts::new("marathon_http_requests_total", "HTTP requests by route and status."),
            &["route", "status"],
        )
        .expect("valid metric");
        let leader = Gauge::new("marathon_leader", "1 if this instance is the leader.").expect("valid metric");
        let apps = Gauge::new("marathon_apps", "Apps defined.").expect("valid metric");
        let tasks =
            GaugeVec::new(Opts::new("marathon_tasks", "Tasks by Mesos state."), &["state"]).expect("valid metric");
        let deployments = Gauge::new("marathon_deployments", "Deployments in progress.").expect("valid metric");
        for c in [
            Box::new(http_latency.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_requests.clone()),
            Box::new(leader.clone()),
            Box::new(apps.clone()),
            Box::new(tasks.clone()),
            Box::new(deployments.clone()),
        ] {
            registry.register(c).expect("unique metric");
        }
        Metrics { registry, http_latency, http_requests, leader, apps, tasks, deployments }
    }

    /// Updates gauges from the state.
    pub fn refresh(&self, scheduler: &Scheduler, leading: bool) {
        self.leader.set(if leading { 1.0 } else { 0.0 });
        let core = scheduler.core.lock().expect("core lock");
        self.apps.set(core.apps.len() as f64);
        self.deployments.set(core.deployments.len() as f64);
        let mut counts = std::collections::BTreeMap::new();
        for task in core.instances.values() {
            let state = task.state.map(|s| s.short_name()).unwrap_or_else(|| "staging".to_string());
            *counts.entry(state).or_insert(0.0) += 1.0;
        }
        self.tasks.reset();
        for (state, n) in counts {
            self.tasks.with_label_values(&[&state]).set(n);
        }
    }

    /// Prometheus text.
    pub fn render(&self) -> String {
        common::metrics::render(&self.registry)
    }

    /// The 1.4 `/metrics` JSON.
    pub fn dropwizard(&self, scheduler: &Scheduler) -> Value {
        let core = scheduler.core.lock().expect("core lock");
        let running = core.instances.values().filter(|t| t.is_running()).count();
        let staged = core.instances.values().filter(|t| t.is_active() && t.is_staged()).count();
        json!({
            "version": "3.0.0",
            "gauges": {
                "service.mesosphere.marathon.app.count": {"value": core.apps.len()},
                "service.mesosphere.marathon.task.running.count": {"value": running},
                "service.mesosphere.marathon.task.staged.count": {"value": staged},
                "service.mesosphere.marathon.deployments.active": {"value": core.deployments.len()},
            },
            "counters": {},
            "histograms": {},
            "meters": {},
            "timers": {},
        })
    }
}
