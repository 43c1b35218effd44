//! The bench's scenarios; each adds rows to the results table.

pub mod docker;
pub mod failover;
pub mod footprint;
pub mod latency;
pub mod launch;
pub mod reads;
pub mod swarm;

use std::time::Duration;

/// Sizes and sample counts of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Hollow fleet sizes for scenario 1 (and 3 at the largest).
    pub agents: Vec<usize>,
    /// Task counts N for scenario 1.
    pub tasks: Vec<usize>,
    /// Largest N also launched as N apps of one instance (one POST each).
    pub max_apps: usize,
    /// Apps (of 10 instances) for the `/v2/apps?embed=apps.tasks` read case; 0 skips it.
    pub reads_apps: usize,
    /// POST → TASK_RUNNING samples per task kind in scenario 2.
    pub samples: usize,
    /// Hollow agents in the failover scenario.
    pub failover_agents: usize,
    /// Container counts for the Swarm comparison.
    pub swarm: Vec<usize>,
}

impl Options {
    /// The full run (what `BENCHMARKS.md` reports).
    pub fn full() -> Options {
        Options {
            agents: vec![1000, 10_000],
            tasks: vec![1000, 10_000, 100_000],
            max_apps: 10_000,
            reads_apps: 1000,
            samples: 50,
            failover_agents: 1000,
            swarm: vec![10, 50, 100],
        }
    }

    /// A small run for trying the bench out (a few minutes).
    pub fn quick() -> Options {
        Options {
            agents: vec![100],
            tasks: vec![100, 1000],
            max_apps: 100,
            reads_apps: 100,
            samples: 10,
            failover_agents: 100,
            swarm: vec![5],
        }
    }
}

/// Seconds with two decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Parses a comma-separated list of counts (`1000,10000`).
pub fn parse_counts(text: &str) -> Result<Vec<usize>, String> {
    text.split(',')
        .map(|n| n.trim().replace('_', "").parse::<usize>().map_err(|_| format!("not a count: '{n}'")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_and_reject_garbage() {
        assert_eq!(parse_counts("1000, 10_000"), Ok(vec![1000, 10_000]));
        assert!(parse_counts("10,x").is_err());
        assert_eq!(secs(Duration::from_millis(1234)), "1.23 s");
    }
}
