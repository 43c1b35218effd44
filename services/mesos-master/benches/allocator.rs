//! Allocation-cycle benchmark over simulated clusters (1,000 and 10,000 agents, 10 frameworks in four
//! roles), timed with `std::time::Instant`.
//!
//! Run: `cargo bench -p mesos-master --bench allocator`. Without `--bench` (e.g. `cargo test
//! --all-targets`) it runs one small smoke cycle instead.

use common::resources::Resources;
use mesos_master::allocator::{allocate, Allocation, AllocatorState, MinAllocatable, SplitMix64};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Frameworks and their roles.
const FRAMEWORKS: [(&str, &str); 10] = [
    ("web-1", "web"),
    ("web-2", "web"),
    ("web-3", "web"),
    ("batch-1", "batch"),
    ("batch-2", "batch"),
    ("batch-3", "batch"),
    ("analytics-1", "analytics"),
    ("analytics-2", "analytics"),
    ("default-1", "*"),
    ("default-2", "*"),
];

/// Builds a cluster of `agents` varied agents (10% with a static reservation) and the ten frameworks.
fn cluster(agents: usize, seed: u64) -> AllocatorState {
    let mut rng = SplitMix64::new(seed);
    let mut state = AllocatorState::new(MinAllocatable::default());
    for i in 0..agents {
        let cpus = [8, 16, 32][rng.below(3) as usize];
        let mut text =
            format!("cpus:{cpus};mem:{};disk:{};ports:[31000-32000]", cpus * 4096, 100_000 + rng.below(400_000));
        if rng.below(10) == 0 {
            text.push_str(";cpus(web):4;mem(web):8192");
        }
        let total = Resources::parse_text(&text).expect("valid agent resources");
        state.add_agent(&format!("agent-{i:05}"), total);
    }
    for (id, role) in FRAMEWORKS {
        state.add_framework(id, [role]);
    }
    state.set_weight("web", 2.0);
    state
}

/// Launches "tasks" on part of every offer (keeps 1 cpu, 1 GB and 2 ports per task, 1–4 tasks) and
/// declines the rest with the default 5 s filter.
fn launch_and_decline(state: &mut AllocatorState, offers: &[Allocation], now_ms: u64, seed: u64) {
    let mut rng = SplitMix64::new(seed);
    for offer in offers {
        let mut rest = offer.resources.clone();
        for _ in 0..(1 + rng.below(4)) {
            let task = Resources::parse_text("cpus:1;mem:1024").expect("valid task");
            if rest.subtract(&task).is_err() || rest.take_ports(2).is_err() {
                break;
            }
        }
        let decline = Allocation { resources: rest, ..offer.clone() };
        if !decline.resources.is_empty() {
            state.decline(&decline, None, now_ms).expect("declining an offer just made");
        }
    }
}

/// Times `allocate` `iters` times on `state`; returns (offers of the last run, median, min).
fn time_cycles(state: &AllocatorState, now_ms: u64, iters: usize) -> (usize, Duration, Duration) {
    let mut times = Vec::with_capacity(iters);
    let mut offers = 0;
    for i in 0..iters {
        let start = Instant::now();
        let result = black_box(allocate(black_box(state), now_ms, i as u64));
        times.push(start.elapsed());
        offers = result.len();
    }
    times.sort();
    (offers, times[times.len() / 2], times[0])
}

/// One table row.
fn row(agents: usize, scenario: &str, (offers, median, min): (usize, Duration, Duration)) {
    let per_sec = if median.is_zero() { 0.0 } else { offers as f64 / median.as_secs_f64() };
    println!(
        "{agents:>7} {:>5} {scenario:<34} {offers:>7} {:>11.3} {:>11.3} {per_sec:>12.0}",
        FRAMEWORKS.len(),
        median.as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3,
    );
}

fn bench(agents: usize, iters: usize) {
    let mut state = cluster(agents, 42);

    // 1. Nothing allocated: every agent is offered.
    let fresh = time_cycles(&state, 0, iters);
    row(agents, "fresh cluster (all agents free)", fresh);

    // 2. Offers outstanding everywhere: nothing to offer.
    let first = allocate(&state, 0, 1);
    state.apply(&first).expect("apply");
    row(agents, "all resources offered", time_cycles(&state, 0, iters));

    // 3. Tasks launched on part of each offer, rest declined with 5 s filters: the decliners are
    //    filtered, so the leftovers go to other frameworks.
    launch_and_decline(&mut state, &first, 0, 7);
    row(agents, "leftovers declined (5 s filters)", time_cycles(&state, 1_000, iters));

    // 4. Filters expired: the leftovers are offered again.
    row(agents, "leftovers re-offered (filters over)", time_cycles(&state, 6_000, iters));

    // Bookkeeping cost: record one cycle's decisions.
    let again = allocate(&state, 6_000, 3);
    let start = Instant::now();
    state.apply(&again).expect("apply");
    let took = start.elapsed();
    println!(
        "{agents:>7} {:>5} {:<34} {:>7} {:>11.3} {:>11} {:>12.0}",
        FRAMEWORKS.len(),
        "AllocatorState::apply (once)",
        again.len(),
        took.as_secs_f64() * 1e3,
        "-",
        again.len() as f64 / took.as_secs_f64().max(1e-9),
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // Smoke run under `cargo test`.
        let state = cluster(100, 1);
        // Every agent is offered; agents with a reservation for `web` may give two offers.
        assert!(allocate(&state, 0, 0).len() >= 100);
        println!("allocator bench: smoke run ok (use `cargo bench` for timings)");
        return;
    }
    println!(
        "{:>7} {:>5} {:<34} {:>7} {:>11} {:>11} {:>12}",
        "agents", "fws", "scenario", "offers", "median ms", "min ms", "offers/s"
    );
    for (agents, iters) in [(1_000, 50), (10_000, 15)] {
        bench(agents, iters);
    }
}
