//! `load-test`: runs [`integration_tests::load`] and prints its table; exits non-zero on any 5xx, failed
//! request, lost write or app that did not converge. `scripts/load-test.sh` builds the release binaries first.
//!
//! Usage: `load-test [--duration SECS] [--clients N] [--agents N] [--apps-per-client N]`

use integration_tests::load::{run, Options};
use std::time::Duration;

fn main() {
    let mut options = Options {
        duration: Duration::from_secs(60),
        clients: 200,
        agents: 4,
        apps_per_client: 3,
        converge_timeout: Duration::from_secs(300),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = |name: &str| -> u64 {
            pair.get(1).and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("load-test: {name} needs a whole number");
                std::process::exit(2)
            })
        };
        match pair[0].as_str() {
            "--duration" => options.duration = Duration::from_secs(value("--duration")),
            "--clients" => options.clients = value("--clients") as usize,
            "--agents" => options.agents = value("--agents") as usize,
            "--apps-per-client" => options.apps_per_client = value("--apps-per-client") as usize,
            other => {
                eprintln!("load-test: unknown argument '{other}'; see the usage in tests/load_test.rs");
                std::process::exit(2)
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    println!(
        "load test: {} clients for {} s against Marathon and the master ({} hollow agents)",
        options.clients,
        options.duration.as_secs(),
        options.agents
    );
    let report = runtime.block_on(run(options));
    println!("{}", report.table());
    for (app, wrote, found) in &report.lost_writes {
        println!("lost write: {app} instances {wrote}, found {found:?}");
    }
    for (app, wanted, running) in &report.unconverged {
        println!("not converged: {app} wants {wanted}, {running} running");
    }
    let ok = report.server_errors() == 0
        && report.failures() == 0
        && report.lost_writes.is_empty()
        && report.unconverged.is_empty();
    std::process::exit(if ok { 0 } else { 1 });
}
