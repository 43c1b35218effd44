//! Property tests of the allocator over random clusters and random sequences of what masters do with offers
//! (allocate, accept part and launch, decline with or without a filter, finish tasks, suppress/revive, agents
//! and frameworks coming and going, time passing). Whatever the sequence:
//! - on every agent, what is offered (outstanding) plus what is used by tasks never exceeds the agent's total,
//!   per resource and per reservation, port ranges included;
//! - no resource is held twice: port ranges held by outstanding offers and tasks on an agent never overlap,
//!   across frameworks and cycles;
//! - the allocator's own bookkeeping (`AgentState::allocated`) equals what the outstanding offers and tasks hold.

use common::resources::{ResourceValue, Resources};
use mesos_master::allocator::{allocate, Allocation, AllocatorState, MinAllocatable};
use proptest::prelude::*;

/// Roles frameworks may use; agents may reserve resources for the non-`*` ones.
const ROLES: [&str; 3] = ["*", "web", "db"];

/// One thing a master does.
#[derive(Clone, Debug)]
enum Step {
    /// An allocation cycle with this shuffle seed; its offers become outstanding.
    Allocate(u64),
    /// The framework holding outstanding offer `n % len` launches a small task from it (or uses all of it)
    /// and declines the rest, filtering it for `refuse` seconds.
    Accept { n: usize, whole: bool, refuse: Option<f64> },
    /// Outstanding offer `n % len` is declined, filtered for `refuse` seconds.
    Decline { n: usize, refuse: Option<f64> },
    /// Task `n % len` ends; its resources are recovered.
    Finish(usize),
    /// Framework `n` suppresses (true) or revives (false) all its roles.
    Suppress(usize, bool),
    /// Agent `n` is deactivated (true) or reactivated (false).
    AgentActive(usize, bool),
    /// Agent `n` is removed (its offers and tasks are gone).
    RemoveAgent(usize),
    /// Agent `n` registers (again) with its total.
    AddAgent(usize),
    /// Framework `n` is removed (its offers and tasks are released).
    RemoveFramework(usize),
    /// Time passes (filters expire).
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    let refuse = prop_oneof![Just(None), Just(Some(0.0)), (1u32..20).prop_map(|s| Some(f64::from(s)))];
    prop_oneof![
        4 => any::<u64>().prop_map(Step::Allocate),
        4 => (any::<usize>(), any::<bool>(), refuse.clone()).prop_map(|(n, whole, refuse)| Step::Accept { n, whole, refuse }),
        3 => (any::<usize>(), refuse).prop_map(|(n, refuse)| Step::Decline { n, refuse }),
        2 => any::<usize>().prop_map(Step::Finish),
        1 => (0usize..4, any::<bool>()).prop_map(|(n, s)| Step::Suppress(n, s)),
        1 => (0usize..4, any::<bool>()).prop_map(|(n, a)| Step::AgentActive(n, a)),
        1 => (0usize..4).prop_map(Step::RemoveAgent),
        1 => (0usize..4).prop_map(Step::AddAgent),
        1 => (0usize..4).prop_map(Step::RemoveFramework),
        1 => (1u64..30_000).prop_map(Step::Wait),
    ]
}

/// An agent's total: unreserved cpus/mem/ports, maybe reserved cpus and ports for one role.
fn agent_total() -> impl Strategy<Value = String> {
    (1u32..9, 1u32..9, 31_000u64..31_050, 0u64..40, proptest::option::of((1usize..3, 1u32..4, 0u64..5))).prop_map(
        |(cpus, mem, port, span, reserved)| {
            let mut text = format!("cpus:{};mem:{};ports:[{port}-{}]", f64::from(cpus) / 2.0, mem * 256, port + span);
            if let Some((role, rcpus, rspan)) = reserved {
                let role = ROLES[role];
                text.push_str(&format!(";cpus({role}):{rcpus};ports({role}):[32000-{}]", 32_000 + rspan));
            }
            text
        },
    )
}

/// A framework's roles: a non-empty subset of [`ROLES`].
fn framework_roles() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(ROLES.to_vec(), 1..=3)
}

/// What the master holds besides the allocator: outstanding offers and running tasks.
#[derive(Default)]
struct World {
    now_ms: u64,
    offers: Vec<Allocation>,
    tasks: Vec<Allocation>,
}

fn small_task() -> Resources {
    Resources::parse_text("cpus:0.5;mem:128").expect("task resources")
}

/// The first port of an offer's (role's) port ranges, as a one-port task would take it.
fn one_port(offer: &Resources) -> Resources {
    let mut ports = offer.filter(|e| e.name() == "ports");
    ports.take_ports(1).unwrap_or_default()
}

fn check(state: &AllocatorState, world: &World) {
    for (id, agent) in &state.agents {
        let held: Vec<&Allocation> = world.offers.iter().chain(&world.tasks).filter(|a| &a.agent_id == id).collect();
        let mut sum = Resources::new();
        for a in &held {
            sum.add(&a.resources);
        }
        assert!(agent.total.contains(&sum), "agent {id}: offered + used {sum} exceeds total {}", agent.total);
        assert_eq!(agent.allocated, sum, "agent {id}: allocator bookkeeping differs from offers + tasks");
        // Every port (per reservation role) is held at most once.
        let mut seen: Vec<(Option<String>, common::resources::Ranges)> = Vec::new();
        for a in &held {
            for e in a.resources.entries() {
                let ResourceValue::Ranges(ranges) = e.value() else { continue };
                let role = e.role().map(str::to_string);
                for (other_role, other) in &seen {
                    if *other_role == role {
                        let overlap = other.intersection(ranges);
                        assert!(overlap.is_empty(), "agent {id}: {} {overlap:?} held twice", e.name());
                    }
                }
                seen.push((role, ranges.clone()));
            }
        }
    }
}

fn run(totals: &[String], frameworks: &[Vec<&'static str>], steps: &[Step]) {
    let mut state = AllocatorState::new(MinAllocatable::default());
    let agent_ids: Vec<String> = (0..totals.len()).map(|i| format!("agent-{i}")).collect();
    for (id, total) in agent_ids.iter().zip(totals) {
        state.add_agent(id, Resources::parse_text(total).expect("agent total"));
    }
    let framework_ids: Vec<String> = (0..frameworks.len()).map(|i| format!("fw-{i}")).collect();
    for (id, roles) in framework_ids.iter().zip(frameworks) {
        state.add_framework(id, roles.iter().copied());
    }
    let mut world = World::default();
    for step in steps {
        match step.clone() {
            Step::Allocate(seed) => {
                let offers = allocate(&state, world.now_ms, seed);
                state.apply(&offers).expect("offers apply");
                world.offers.extend(offers);
            }
            Step::Accept { n, whole, refuse } if !world.offers.is_empty() => {
                let offer = world.offers.remove(n % world.offers.len());
                let mut task = if whole { offer.resources.clone() } else { small_task() };
                if !whole {
                    task.add(&one_port(&offer.resources.allocatable_to(&offer.role)));
                }
                let task = if offer.resources.contains(&task) { task } else { offer.resources.clone() };
                let rest = offer.resources.checked_sub(&task).expect("task fits its offer");
                if !rest.is_empty() {
                    let unused = Allocation { resources: rest, ..offer.clone() };
                    state.decline(&unused, refuse, world.now_ms).expect("decline the rest");
                }
                world.tasks.push(Allocation { resources: task, ..offer });
            }
            Step::Decline { n, refuse } if !world.offers.is_empty() => {
                let offer = world.offers.remove(n % world.offers.len());
                state.decline(&offer, refuse, world.now_ms).expect("decline");
            }
            Step::Finish(n) if !world.tasks.is_empty() => {
                let task = world.tasks.remove(n % world.tasks.len());
                state.recover(&task.framework_id, &task.role, &task.agent_id, &task.resources).expect("recover");
            }
            Step::Suppress(n, suppress) => {
                if let Some(id) = framework_ids.get(n).filter(|id| state.frameworks.contains_key(*id)) {
                    if suppress {
                        state.suppress_all(id).expect("suppress");
                    } else {
                        state.revive_all(id).expect("revive");
                    }
                }
            }
            Step::AgentActive(n, inactive) => {
                if let Some(id) = agent_ids.get(n).filter(|id| state.agents.contains_key(*id)) {
                    state.set_agent_active(id, !inactive).expect("agent known");
                }
            }
            Step::RemoveAgent(n) => {
                if let Some(id) = agent_ids.get(n) {
                    state.remove_agent(id);
                    world.offers.retain(|a| &a.agent_id != id);
                    world.tasks.retain(|a| &a.agent_id != id);
                }
            }
            Step::AddAgent(n) => {
                if let (Some(id), Some(total)) = (agent_ids.get(n), totals.get(n)) {
                    state.add_agent(id, Resources::parse_text(total).expect("agent total"));
                }
            }
            Step::RemoveFramework(n) => {
                if let Some(id) = framework_ids.get(n) {
                    state.remove_framework(id);
                    world.offers.retain(|a| &a.framework_id != id);
                    world.tasks.retain(|a| &a.framework_id != id);
                }
            }
            Step::Wait(ms) => {
                world.now_ms += ms;
                state.expire_filters(world.now_ms);
            }
            _ => {}
        }
        check(&state, &world);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn offers_never_exceed_agents_nor_overlap(
        totals in proptest::collection::vec(agent_total(), 1..5),
        frameworks in proptest::collection::vec(framework_roles(), 1..5),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        run(&totals, &frameworks, &steps);
    }
}
