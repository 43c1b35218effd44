//! Marathon's metrics: Prometheus text at `/metrics/prometheus` (as Marathon 1.7+) and the Dropwizard-style
//! JSON of 1.4 at `/metrics`.
//!
//! Launch latency is observed when a task first reports TASK_RUNNING; gauges are computed from the state on
//! every scrape by [`Metrics::refresh`].

use crate::app::Timestamp;
use crate::core::Core;
use crate::scheduler::Scheduler;
use common::mesos::{TaskState, TaskStatus};
use common::metrics::{register, HttpMetrics, SLOW_BUCKETS};
use prometheus::{Gauge, GaugeVec, Histogram, HistogramOpts, Opts, Registry};
use serde_json::{json, Value};

/// Metric handles.
pub struct Metrics {
    registry: Registry,
    /// Requests and their latency per route family.
    pub http: HttpMetrics,
    launch_seconds: Histogram,
    leader: Gauge,
    apps: Gauge,
    tasks: GaugeVec,
    deployments: Gauge,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let registry = common::metrics::registry();
        let http = HttpMetrics::new(&registry, "marathon");
        let launch_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "marathon_task_launch_duration_seconds",
                "Time from the app change (POST/PUT) a deployment rolls out to each of its new tasks reaching TASK_RUNNING.",
            )
            .buckets(SLOW_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        register(&registry, &launch_seconds);
        let leader = Gauge::new("marathon_leader", "1 if this instance is the leader.").expect("valid metric");
        register(&registry, &leader);
        let apps = Gauge::new("marathon_apps", "Apps defined.").expect("valid metric");
        register(&registry, &apps);
        let tasks =
            GaugeVec::new(Opts::new("marathon_tasks", "Tasks by Mesos state."), &["state"]).expect("valid metric");
        register(&registry, &tasks);
        let deployments = Gauge::new("marathon_deployments", "Deployments in progress.").expect("valid metric");
        register(&registry, &deployments);
        Metrics { registry, http, launch_seconds, leader, apps, tasks, deployments }
    }

    /// Observes the launch latency of a task that `status` brings up, if it is one a deployment launched.
    /// Called before the status is applied.
    pub fn on_status(&self, core: &Core, status: &TaskStatus, now: Timestamp) {
        if let Some(seconds) = launch_latency(core, status, now) {
            self.launch_seconds.observe(seconds);
        }
    }

    /// Updates gauges from the state.
    pub fn refresh(&self, scheduler: &Scheduler, leading: bool) {
        self.leader.set(if leading { 1.0 } else { 0.0 });
        let core = scheduler.core.lock().expect("core lock");
        self.apps.set(core.apps.len() as f64);
        self.deployments.set(core.deployments.len() as f64);
        let mut counts = std::collections::HashMap::new();
        for task in core.instances.values() {
            *counts.entry(task.state.unwrap_or(TaskState::TASK_STAGING)).or_insert(0.0) += 1.0;
        }
        for state in TaskState::ALL {
            self.tasks.with_label_values(&[&state.short_name()]).set(counts.get(&state).copied().unwrap_or(0.0));
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

/// Seconds from the app version a task was launched for to `now`, when `status` is the task's first
/// TASK_RUNNING and a deployment of that version is still in progress (replacements of failed tasks outside a
/// deployment are not launches of an app change).
fn launch_latency(core: &Core, status: &TaskStatus, now: Timestamp) -> Option<f64> {
    if status.state != TaskState::TASK_RUNNING {
        return None;
    }
    let task = core.instances.get(&status.task_id.value)?;
    // Per TASK_RUNNING, so no list is built: the cheap version match goes first.
    let deployed = core.deployments.values().any(|d| d.version == task.version && d.affects(&task.app_id));
    (task.started_at.is_none() && deployed).then(|| (now.millis() - task.version.millis()).max(0) as f64 / 1000.0)
}
