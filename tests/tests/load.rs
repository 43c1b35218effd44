//! The load test's short variant (5 s, 20 clients) as a correctness test: no 5xx, no failed request, no lost
//! write, every app converges. Latency figures are printed, never asserted (see BENCHMARKS.md for the full run).

use integration_tests::load::{run, Options};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_load_run_loses_nothing_and_serves_no_5xx() {
    let report = run(Options {
        duration: Duration::from_secs(5),
        clients: 20,
        agents: 2,
        apps_per_client: 2,
        converge_timeout: Duration::from_secs(120),
    })
    .await;
    println!("{}", report.table());
    assert!(report.kinds.values().map(|k| k.latencies.len()).sum::<usize>() > 0, "no request answered");
    assert!(report.apps > 0, "no app created");
    assert_eq!(report.server_errors(), 0, "5xx answers:\n{}", report.table());
    assert_eq!(report.failures(), 0, "requests without an answer:\n{}", report.table());
    assert!(report.lost_writes.is_empty(), "lost writes: {:?}", report.lost_writes);
    assert!(report.unconverged.is_empty(), "apps not converged: {:?}", report.unconverged);
}
