//! The master's Prometheus metrics (served at `/metrics`); `/metrics/snapshot` keeps upstream's flat JSON keys.
//!
//! Counters are bumped where things happen (allocation, scheduler calls, agent updates); gauges are computed
//! from the master's state on every scrape by [`Metrics::refresh`].

use crate::state::Master;
use common::mesos::TaskState;
use common::metrics::{register, HttpMetrics, LATENCY_BUCKETS};
use prometheus::{Gauge, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

/// Bytes in the megabyte unit Mesos uses for `mem` and `disk`.
const MB: f64 = 1024.0 * 1024.0;

/// Metric handles.
pub struct Metrics {
    registry: Registry,
    /// Requests and their latency per route.
    pub http: HttpMetrics,
    /// Offers sent to frameworks.
    pub offers_made: IntCounter,
    /// Offers declined by frameworks (DECLINE calls).
    pub offers_declined: IntCounter,
    /// Offers accepted by frameworks (ACCEPT calls).
    pub offers_accepted: IntCounter,
    /// Task status updates received from agents, by state.
    pub status_updates: IntCounterVec,
    /// Allocation cycle duration.
    pub allocation_seconds: Histogram,
    elected: Gauge,
    agents: GaugeVec,
    frameworks: GaugeVec,
    tasks: GaugeVec,
    cpus: GaugeVec,
    memory: GaugeVec,
    disk: GaugeVec,
    outstanding_offers: Gauge,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let registry = common::metrics::registry();
        let http = HttpMetrics::new(&registry, "mesos_master");
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            register(&registry, &c);
            c
        };
        let offers_made = counter("mesos_master_offers_made_total", "Offers sent to frameworks.");
        let offers_declined = counter("mesos_master_offers_declined_total", "Offers declined by frameworks.");
        let offers_accepted = counter("mesos_master_offers_accepted_total", "Offers accepted by frameworks.");
        let status_updates = IntCounterVec::new(
            Opts::new("mesos_master_task_status_updates_total", "Task status updates received from agents, by state."),
            &["state"],
        )
        .expect("valid metric");
        register(&registry, &status_updates);
        let allocation_seconds = Histogram::with_opts(
            HistogramOpts::new("mesos_master_allocation_cycle_duration_seconds", "Duration of one allocation cycle.")
                .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        register(&registry, &allocation_seconds);
        let elected = Gauge::new("mesos_master_elected", "1 if this master is the leader.").expect("valid metric");
        register(&registry, &elected);
        let outstanding_offers =
            Gauge::new("mesos_master_outstanding_offers", "Offers not yet answered.").expect("valid metric");
        register(&registry, &outstanding_offers);
        let gauges = |name: &str, help: &str, label: &str| {
            let g = GaugeVec::new(Opts::new(name, help), &[label]).expect("valid metric");
            register(&registry, &g);
            g
        };
        let agents = gauges(
            "mesos_master_agents",
            "Agents by state (active: connected; disconnected; unreachable; recovering: from the registry, not back yet).",
            "state",
        );
        let frameworks = gauges("mesos_master_frameworks", "Frameworks by state.", "state");
        let tasks = gauges("mesos_master_tasks", "Known tasks (active, unreachable and completed) by state.", "state");
        let cpus = gauges("mesos_master_cpus", "CPUs of the registered agents: total, used by tasks, offered.", "kind");
        let memory =
            gauges("mesos_master_memory_bytes", "Memory of the registered agents: total, used, offered.", "kind");
        let disk = gauges("mesos_master_disk_bytes", "Disk of the registered agents: total, used, offered.", "kind");
        Metrics {
            registry,
            http,
            offers_made,
            offers_declined,
            offers_accepted,
            status_updates,
            allocation_seconds,
            elected,
            agents,
            frameworks,
            tasks,
            cpus,
            memory,
            disk,
            outstanding_offers,
        }
    }

    /// Updates the gauges from the state.
    pub fn refresh(&self, master: &Master, leading: bool) {
        self.elected.set(if leading { 1.0 } else { 0.0 });
        let connected = master.agents.values().filter(|a| a.link.is_some()).count() as f64;
        self.agents.with_label_values(&["active"]).set(connected);
        self.agents.with_label_values(&["disconnected"]).set(master.agents.len() as f64 - connected);
        self.agents.with_label_values(&["unreachable"]).set(master.unreachable_agents.len() as f64);
        self.agents.with_label_values(&["recovering"]).set(master.recovered_agents.len() as f64);
        let subscribed = master.frameworks.values().filter(|f| f.stream.is_some()).count() as f64;
        self.frameworks.with_label_values(&["connected"]).set(subscribed);
        self.frameworks.with_label_values(&["disconnected"]).set(master.frameworks.len() as f64 - subscribed);
        self.frameworks.with_label_values(&["completed"]).set(master.completed_frameworks.len() as f64);
        let mut counts = std::collections::HashMap::new();
        for task in master
            .frameworks
            .values()
            .flat_map(|f| f.tasks.values().chain(f.unreachable_tasks.values()).chain(f.completed_tasks.iter()))
        {
            *counts.entry(task.state).or_insert(0.0) += 1.0;
        }
        for state in TaskState::ALL {
            self.tasks.with_label_values(&[&state.short_name()]).set(counts.get(&state).copied().unwrap_or(0.0));
        }
        for (gauge, name, scale) in [(&self.cpus, "cpus", 1.0), (&self.memory, "mem", MB), (&self.disk, "disk", MB)] {
            let sum = |f: &dyn Fn(&crate::state::Agent) -> f64| master.agents.values().map(f).sum::<f64>() * scale;
            gauge.with_label_values(&["total"]).set(sum(&|a| a.total.scalar(name)));
            gauge.with_label_values(&["used"]).set(sum(&|a| a.used.scalar(name)));
            gauge.with_label_values(&["offered"]).set(sum(&|a| a.offered.scalar(name)));
        }
        self.outstanding_offers.set(master.offers.len() as f64);
    }

    /// Prometheus text.
    pub fn render(&self) -> String {
        common::metrics::render(&self.registry)
    }
}
