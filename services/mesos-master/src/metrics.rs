//! The master's Prometheus metrics (served at `/metrics`); `/metrics/snapshot` keeps upstream's flat JSON keys.

use crate::state::Master;
use common::mesos::TaskState;
use prometheus::{Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, Opts, Registry};

/// Metric handles.
pub struct Metrics {
    registry: Registry,
    /// Request latency per route.
    pub http_latency: HistogramVec,
    /// Offers made.
    pub offers_made: IntCounter,
    /// Status updates received from agents.
    pub status_updates: IntCounter,
    /// Allocation cycle duration.
    pub allocation_seconds: prometheus::Histogram,
    elected: Gauge,
    agents: GaugeVec,
    frameworks: GaugeVec,
    tasks: GaugeVec,
    resources: GaugeVec,
    outstanding_offers: Gauge,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let registry = common::metrics::registry();
        let http_latency = HistogramVec::new(
            HistogramOpts::new("mesos_master_http_request_duration_seconds", "HTTP request latency by route."),
            &["route"],
        )
        .expect("valid metric");
        let offers_made =
            IntCounter::new("mesos_master_offers_made_total", "Offers sent to frameworks.").expect("valid metric");
        let status_updates =
            IntCounter::new("mesos_master_status_updates_total", "Task status updates received from agents.")
                .expect("valid metric");
        let allocation_seconds = prometheus::Histogram::with_opts(
            HistogramOpts::new("mesos_master_allocation_cycle_duration_seconds", "Duration of one allocation cycle.")
                .buckets(vec![0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0]),
        )
        .expect("valid metric");
        let elected = Gauge::new("mesos_master_elected", "1 if this master is the leader.").expect("valid metric");
        let agents =
            GaugeVec::new(Opts::new("mesos_master_agents", "Agents by state."), &["state"]).expect("valid metric");
        let frameworks = GaugeVec::new(Opts::new("mesos_master_frameworks", "Frameworks by state."), &["state"])
            .expect("valid metric");
        let tasks =
            GaugeVec::new(Opts::new("mesos_master_tasks", "Known tasks by state."), &["state"]).expect("valid metric");
        let resources = GaugeVec::new(
            Opts::new("mesos_master_resources", "Cluster resources (cpus, mem in MB, disk in MB) by kind."),
            &["resource", "kind"],
        )
        .expect("valid metric");
        let outstanding_offers =
            Gauge::new("mesos_master_outstanding_offers", "Offers not yet answered.").expect("valid metric");
        for c in [
            Box::new(http_latency.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(offers_made.clone()),
            Box::new(status_updates.clone()),
            Box::new(allocation_seconds.clone()),
            Box::new(elected.clone()),
            Box::new(agents.clone()),
            Box::new(frameworks.clone()),
            Box::new(tasks.clone()),
            Box::new(resources.clone()),
            Box::new(outstanding_offers.clone()),
        ] {
            registry.register(c).expect("unique metric");
        }
        Metrics {
            registry,
            http_latency,
            offers_made,
            status_updates,
            allocation_seconds,
            elected,
            agents,
            frameworks,
            tasks,
            resources,
            outstanding_offers,
        }
    }

    /// Updates the gauges from the state.
    pub fn refresh(&self, master: &Master, leading: bool) {
        self.elected.set(if leading { 1.0 } else { 0.0 });
        let connected = master.agents.values().filter(|a| a.link.is_some()).count() as f64;
        self.agents.with_label_values(&["connected"]).set(connected);
        self.agents.with_label_values(&["disconnected"]).set(master.agents.len() as f64 - connected);
        self.agents.with_label_values(&["unreachable"]).set(master.unreachable_agents.len() as f64);
        self.agents.with_label_values(&["recovering"]).set(master.recovered_agents.len() as f64);
        let subscribed = master.frameworks.values().filter(|f| f.stream.is_some()).count() as f64;
        self.frameworks.with_label_values(&["connected"]).set(subscribed);
        self.frameworks.with_label_values(&["disconnected"]).set(master.frameworks.len() as f64 - subscribed);
        self.frameworks.with_label_values(&["completed"]).set(master.completed_frameworks.len() as f64);
        for state in TaskState::ALL {
            let n = master
                .frameworks
                .values()
                .flat_map(|f| f.tasks.values().chain(f.unreachable_tasks.values()).chain(f.completed_tasks.iter()))
                .filter(|t| t.state == state)
                .count();
            self.tasks.with_label_values(&[&state.short_name()]).set(n as f64);
        }
        for name in ["cpus", "mem", "disk"] {
            let total: f64 = master.agents.values().map(|a| a.total.scalar(name)).sum();
            let used: f64 = master.agents.values().map(|a| a.used.scalar(name)).sum();
            let offered: f64 = master.agents.values().map(|a| a.offered.scalar(name)).sum();
            self.resources.with_label_values(&[name, "total"]).set(total);
            self.resources.with_label_values(&[name, "used"]).set(used);
            self.resources.with_label_values(&[name, "offered"]).set(offered);
        }
        self.outstanding_offers.set(master.offers.len() as f64);
    }

    /// Prometheus text.
    pub fn render(&self) -> String {
        common::metrics::render(&self.registry)
    }
}
