//! `mesos-bench`: starts what it needs on loopback (ZooKeeper, release binaries of master, agents and
//! Marathon, a hollow-agent fleet, Docker Swarm for the comparison), runs the chosen scenarios, cleans up and
//! prints a Markdown table. See `BENCHMARKS.md`.

mod cluster;
mod marathon;
mod report;
mod scenarios;

use scenarios::{parse_counts, Options};

const USAGE: &str = "usage: mesos-bench [--quick] [--agents N,N] [--tasks N,N] [--max-apps N] [--reads-apps N] \
[--samples N] [--failover-agents N] [--swarm N,N] <all|launch|latency|failover|footprint|swarm>...";

/// Scenario names in the order `all` runs them: launch (the longest, at the largest sizes) last.
const SCENARIOS: [&str; 5] = ["footprint", "latency", "failover", "swarm", "launch"];

/// Parses the command line into options and the scenarios to run.
fn parse_args(args: &[String]) -> Result<(Options, Vec<String>), String> {
    let mut options = if args.iter().any(|a| a == "--quick") { Options::quick() } else { Options::full() };
    let mut chosen = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => {}
            "--agents" => options.agents = parse_counts(value()?)?,
            "--tasks" => options.tasks = parse_counts(value()?)?,
            "--swarm" => options.swarm = parse_counts(value()?)?,
            "--max-apps" | "--reads-apps" | "--samples" | "--failover-agents" => {
                let n = parse_counts(value()?)?.first().copied().unwrap_or(0);
                match arg.as_str() {
                    "--max-apps" => options.max_apps = n,
                    "--reads-apps" => options.reads_apps = n,
                    "--samples" => options.samples = n,
                    _ => options.failover_agents = n,
                }
            }
            "all" => chosen.extend(SCENARIOS.iter().map(|s| s.to_string())),
            name if SCENARIOS.contains(&name) => chosen.push(name.to_string()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if chosen.is_empty() || options.agents.is_empty() {
        return Err("nothing to run".into());
    }
    Ok((options, chosen))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (options, chosen) = match parse_args(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("mesos-bench: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let fds = cluster::raise_fd_limit(1 << 20);
    eprintln!("==> open-file limit {fds}; options {options:?}");
    let mut rows = Vec::new();
    for name in &chosen {
        eprintln!("==> scenario {name}");
        match name.as_str() {
            "footprint" => {
                let tag = std::env::var("MESOS_RS_TAG").unwrap_or_else(|_| "latest".into());
                scenarios::footprint::run(&tag, &mut rows).await
            }
            "latency" => scenarios::latency::run(&options, &mut rows).await,
            "launch" => scenarios::launch::run(&options, &mut rows).await,
            "failover" => scenarios::failover::run(&options, &mut rows).await,
            "swarm" => scenarios::swarm::run(&options, &mut rows).await,
            _ => unreachable!("parse_args accepts only known scenarios"),
        }
        eprintln!("{}", report::table(&rows));
    }
    println!("{}", report::table(&rows));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn arguments_pick_sizes_and_scenarios() {
        let (options, chosen) = parse_args(&args("--quick --agents 20 --samples 3 launch")).unwrap();
        assert_eq!(options.agents, vec![20]);
        assert_eq!(options.samples, 3);
        assert_eq!(options.tasks, Options::quick().tasks);
        assert_eq!(chosen, vec!["launch"]);
        let (options, chosen) = parse_args(&args("all")).unwrap();
        assert_eq!(options, Options::full());
        assert_eq!(chosen.len(), SCENARIOS.len());
        assert!(parse_args(&args("launch --agents")).is_err());
        assert!(parse_args(&args("bogus")).is_err());
        assert!(parse_args(&args("--quick")).is_err());
    }
}
