//! Resource matching of one app instance against what is left of an offer (Marathon 1.4 `ResourceMatcher`
//! + `PortsMatcher`).
//!
//! - Roles: only resources whose reservation role is accepted are used: the app's `acceptedResourceRoles`,
//!   else `config.default_accepted_resource_roles`, else `{mesos_role, "*"}` (`{"*"}` without a role).
//!   Resources reserved for an accepted role are consumed before unreserved ones.
//! - Scalars: `cpus`, `mem`, `disk`, `gpus` (zero requirements are skipped), exact to three decimals.
//! - Ports, one request per port: with Docker port mappings (BRIDGE/USER) `hostPort` absent = no host port,
//!   0 = any offered port, n = exactly n; otherwise one port per port definition: any offered port, or with
//!   `requirePorts` exactly the service port. Dynamic ports never reuse a fixed port of the same instance.
//!   Which free ports are picked is [`PortSelection`]: the lowest, or (default) Marathon's spread: a
//!   pseudo-random start in the shuffled offered ranges, then consecutive ports with wrap-around — seeded,
//!   so the choice is reproducible for the same seed, offer, app and free ports.
//! - Constraints are checked against the given placements (see [`super::constraints`]).
//! - Resident apps (persistent volumes) are not supported: they get `NoCorrespondingReservationFound`.

use std::collections::BTreeSet;

use common::mesos::Offer;
use common::resources::{Fixed, Ranges, ReservationFormat, Resource, ResourceEntry, ResourceValue, Resources, PORTS};

use super::constraints::{meets_constraints, Placement};
use super::MatchConfig;
use crate::app::AppDefinition;

/// The unreserved role.
pub const UNRESERVED: &str = "*";

/// Why an offer was not used for an app, as Marathon 1.4's `NoOfferMatchReason` (declared in upstream's
/// funnel order: the first one present is the reason reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoMatchReason {
    /// No offered resource has an accepted role.
    UnfulfilledRole,
    /// A placement constraint fails.
    UnfulfilledConstraint,
    /// A resident app found no reservation of its own.
    NoCorrespondingReservationFound,
    /// Not enough cpus.
    InsufficientCpus,
    /// Not enough memory.
    InsufficientMemory,
    /// Not enough disk.
    InsufficientDisk,
    /// Not enough GPUs.
    InsufficientGpus,
    /// Required ports missing or too few ports.
    InsufficientPorts,
}

impl NoMatchReason {
    /// Every reason, in funnel order.
    pub const ALL: [NoMatchReason; 8] = [
        NoMatchReason::UnfulfilledRole,
        NoMatchReason::UnfulfilledConstraint,
        NoMatchReason::NoCorrespondingReservationFound,
        NoMatchReason::InsufficientCpus,
        NoMatchReason::InsufficientMemory,
        NoMatchReason::InsufficientDisk,
        NoMatchReason::InsufficientGpus,
        NoMatchReason::InsufficientPorts,
    ];

    /// Marathon's name (`InsufficientCpus`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            NoMatchReason::UnfulfilledRole => "UnfulfilledRole",
            NoMatchReason::UnfulfilledConstraint => "UnfulfilledConstraint",
            NoMatchReason::NoCorrespondingReservationFound => "NoCorrespondingReservationFound",
            NoMatchReason::InsufficientCpus => "InsufficientCpus",
            NoMatchReason::InsufficientMemory => "InsufficientMemory",
            NoMatchReason::InsufficientDisk => "InsufficientDisk",
            NoMatchReason::InsufficientGpus => "InsufficientGpus",
            NoMatchReason::InsufficientPorts => "InsufficientPorts",
        }
    }

    /// The reason for a missing scalar resource.
    fn for_scalar(name: &str) -> NoMatchReason {
        match name {
            "cpus" => NoMatchReason::InsufficientCpus,
            "mem" => NoMatchReason::InsufficientMemory,
            "disk" => NoMatchReason::InsufficientDisk,
            "gpus" => NoMatchReason::InsufficientGpus,
            _ => NoMatchReason::InsufficientPorts,
        }
    }
}

/// A failed match: every reason found (sorted in funnel order, no duplicates) and the failing constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoMatch {
    /// The reasons, funnel order.
    pub reasons: Vec<NoMatchReason>,
    /// The first unmet constraint (`["hostname","UNIQUE"]`), when constraints failed.
    pub constraint: Option<String>,
}

impl NoMatch {
    /// A failure with a single reason.
    pub fn single(reason: NoMatchReason) -> Self {
        NoMatch { reasons: vec![reason], constraint: None }
    }

    /// The reported reason: the first in funnel order.
    pub fn reason(&self) -> NoMatchReason {
        self.reasons.first().copied().unwrap_or(NoMatchReason::InsufficientPorts)
    }

    #[cfg(test)]
    /// Whether `reason` is among the reasons.
    pub fn has(&self, reason: NoMatchReason) -> bool {
        self.reasons.contains(&reason)
    }
}

/// A successful match: what to consume and which host ports were chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// Consumed resources, with their reservation roles.
    pub resources: Resources,
    /// One entry per app port (port definition or port mapping); `None` for a mapping without host port.
    pub host_ports: Vec<Option<u32>>,
    /// Role the offer is allocated to (`allocation_info.role`), when the offer says.
    pub allocation_role: Option<String>,
}

impl Match {
    /// The chosen host ports without the gaps (what Marathon lists as a task's `ports`).
    pub fn assigned_host_ports(&self) -> Vec<u32> {
        self.host_ports.iter().flatten().copied().collect()
    }

    /// The consumed resources as v1 objects for `TaskInfo.resources` (allocated to the offer's role when
    /// known).
    pub fn resources_v1(&self, format: ReservationFormat) -> Vec<Resource> {
        match &self.allocation_role {
            Some(role) => self.resources.to_v1_allocated(format, role),
            None => self.resources.to_v1(format),
        }
    }
}

/// How dynamic host ports are chosen among the free offered ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortSelection {
    /// The lowest free ports (deterministic; what the unit tests use).
    #[cfg_attr(not(test), allow(dead_code))]
    Lowest,
    /// Marathon's spread: shuffled ranges, pseudo-random start, consecutive ports, wrap-around. The
    /// generator is seeded from `seed`, the offer id, the app id and the free ports.
    Spread {
        /// Base seed.
        seed: u64,
    },
}

impl Default for PortSelection {
    fn default() -> Self {
        PortSelection::Spread { seed: 0 }
    }
}

/// The roles whose resources `app` may use.
pub fn accepted_roles(app: &AppDefinition, config: &MatchConfig) -> BTreeSet<String> {
    if !app.accepted_resource_roles.is_empty() {
        return app.accepted_resource_roles.clone();
    }
    if let Some(roles) = config.default_accepted_resource_roles.as_ref().filter(|r| !r.is_empty()) {
        return roles.clone();
    }
    let mut roles = BTreeSet::from([UNRESERVED.to_string()]);
    if let Some(role) = config.mesos_role.as_ref().filter(|r| !r.is_empty()) {
        roles.insert(role.clone());
    }
    roles
}

/// Matches one instance of `app` against `available` (what is left of `offer`), given the placements of
/// the app's current instances. `offer` supplies hostname, attributes, id and allocation role; its
/// resources are only used to tell whether any of them has an accepted role.
pub fn match_offer(
    app: &AppDefinition,
    offer: &Offer,
    available: &Resources,
    placed: &[Placement],
    config: &MatchConfig,
) -> Result<Match, NoMatch> {
    if app.is_resident() || app.has_persistent_volumes() {
        return Err(NoMatch::single(NoMatchReason::NoCorrespondingReservationFound));
    }
    let roles = accepted_roles(app, config);
    let accepts = |role: Option<&str>| roles.contains(role.unwrap_or(UNRESERVED));

    let mut reasons = Vec::new();
    let mut constraint = None;
    if !offer.resources.iter().any(|r| accepts(r.reservation_role())) {
        reasons.push(NoMatchReason::UnfulfilledRole);
    }

    let mut consumed = Resources::new();
    let scalars = [("cpus", app.cpus), ("mem", app.mem), ("disk", app.disk), ("gpus", f64::from(app.gpus))];
    for (name, amount) in scalars {
        if !consume_scalar(available, name, amount, &accepts, &mut consumed) {
            reasons.push(NoMatchReason::for_scalar(name));
        }
    }

    if !app.constraints.is_empty() {
        if let Err(failed) = meets_constraints(app, &offer.hostname, &offer.attributes, placed) {
            reasons.push(NoMatchReason::UnfulfilledConstraint);
            constraint = Some(failed);
        }
    }

    // Ports are only looked at once everything else fits (as upstream does).
    if reasons.is_empty() {
        match match_ports(app, offer, available, &accepts, config.port_selection) {
            Some((host_ports, port_resources)) => {
                consumed.add(&port_resources);
                return Ok(Match {
                    resources: consumed,
                    host_ports,
                    allocation_role: offer.allocation_info.as_ref().map(|a| a.role.clone()),
                });
            }
            None => reasons.push(NoMatchReason::InsufficientPorts),
        }
    }
    reasons.sort_unstable();
    reasons.dedup();
    Err(NoMatch { reasons, constraint })
}

/// Takes `amount` of scalar `name` from accepted entries (reserved before unreserved) into `consumed`;
/// false (leaving `consumed` untouched) when there is not enough. Zero amounts always fit.
fn consume_scalar(
    available: &Resources,
    name: &str,
    amount: f64,
    accepts: &impl Fn(Option<&str>) -> bool,
    consumed: &mut Resources,
) -> bool {
    let needed = match Fixed::from_f64(amount) {
        Some(v) if v.milli() > 0 => v.milli(),
        Some(_) => return true,
        None => return false,
    };
    let candidates = || {
        let reserved = available.entries().iter().filter(|e| e.role().is_some());
        let unreserved = available.entries().iter().filter(|e| e.role().is_none());
        reserved.chain(unreserved).filter(move |e| e.name() == name && accepts(e.role())).filter_map(|e| {
            match e.value() {
                ResourceValue::Scalar(v) => Some((e.role(), v.milli())),
                _ => None,
            }
        })
    };
    let total: i64 = candidates().map(|(_, v)| v).sum();
    if total < needed {
        return false;
    }
    let mut left = needed;
    for (role, have) in candidates() {
        if left == 0 {
            break;
        }
        let take = have.min(left);
        left -= take;
        consumed.push(ResourceEntry::scalar(name, take as f64 / 1000.0).reserved_for(role.unwrap_or(UNRESERVED)));
    }
    true
}

/// One host port request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortRequest {
    /// No host port (mapping without `hostPort`).
    None,
    /// Any free port.
    Dynamic,
    /// Exactly this port.
    Fixed(u64),
}

/// The host port requests of `app`, one per port.
fn port_requests(app: &AppDefinition) -> Vec<PortRequest> {
    let mappings = app.port_mappings();
    let to_fixed = |p: i32| u64::try_from(p).map_or(PortRequest::Fixed(u64::MAX), PortRequest::Fixed);
    if !mappings.is_empty() {
        mappings
            .iter()
            .map(|m| match m.host_port {
                None => PortRequest::None,
                Some(0) => PortRequest::Dynamic,
                Some(p) => to_fixed(p),
            })
            .collect()
    } else if app.require_ports {
        app.port_definitions.iter().map(|d| to_fixed(d.port)).collect()
    } else {
        vec![PortRequest::Dynamic; app.port_definitions.len()]
    }
}

/// Chooses host ports; returns them per request plus the port resources to consume (with roles).
fn match_ports(
    app: &AppDefinition,
    offer: &Offer,
    available: &Resources,
    accepts: &impl Fn(Option<&str>) -> bool,
    selection: PortSelection,
) -> Option<(Vec<Option<u32>>, Resources)> {
    let requests = port_requests(app);
    if requests.iter().all(|r| *r == PortRequest::None) {
        return Some((vec![None; requests.len()], Resources::new()));
    }
    let port_entries: Vec<(Option<&str>, &Ranges)> = available
        .entries()
        .iter()
        .filter(|e| e.name() == PORTS && accepts(e.role()))
        .filter_map(|e| match e.value() {
            ResourceValue::Ranges(r) => Some((e.role(), r)),
            _ => None,
        })
        .collect();
    let free = port_entries.iter().fold(Ranges::new(), |acc, (_, r)| acc.union(r));

    let fixed: Vec<u64> = requests
        .iter()
        .filter_map(|r| match r {
            PortRequest::Fixed(p) => Some(*p),
            _ => None,
        })
        .collect();
    if !fixed.iter().all(|p| free.contains_value(*p)) {
        return None;
    }
    let dynamic_count = requests.iter().filter(|r| **r == PortRequest::Dynamic).count();
    let mut dynamic = if dynamic_count == 0 {
        Vec::new()
    } else {
        let candidates = free.difference(&Ranges::from_values(fixed.iter().copied()));
        pick_ports(&candidates, dynamic_count, selection, offer, app)?
    }
    .into_iter();

    let mut host_ports = Vec::with_capacity(requests.len());
    for request in &requests {
        let port = match request {
            PortRequest::None => None,
            PortRequest::Fixed(p) => Some(*p),
            PortRequest::Dynamic => Some(dynamic.next()?),
        };
        host_ports.push(match port {
            Some(p) => Some(u32::try_from(p).ok()?),
            None => None,
        });
    }

    let chosen = Ranges::from_values(host_ports.iter().flatten().map(|p| u64::from(*p)));
    let mut resources = Resources::new();
    let mut remaining = chosen;
    for (role, ranges) in port_entries
        .iter()
        .filter(|(role, _)| role.is_some())
        .chain(port_entries.iter().filter(|(role, _)| role.is_none()))
    {
        let hit = ranges.intersection(&remaining);
        if !hit.is_empty() {
            remaining = remaining.difference(&hit);
            resources.push(ResourceEntry::ranges(PORTS, hit).reserved_for(role.unwrap_or(UNRESERVED)));
        }
    }
    Some((host_ports, resources))
}

/// Picks `n` ports from `candidates`, in assignment order; `None` if there are fewer.
fn pick_ports(
    candidates: &Ranges,
    n: usize,
    selection: PortSelection,
    offer: &Offer,
    app: &AppDefinition,
) -> Option<Vec<u64>> {
    let total = candidates.count();
    if total < n as u64 {
        return None;
    }
    match selection {
        PortSelection::Lowest => Some(candidates.values().take(n).collect()),
        PortSelection::Spread { seed } => {
            let mut rng = SplitMix64::new(
                seed ^ fnv1a(offer.id.value.as_bytes())
                    ^ fnv1a(app.id.to_string().as_bytes()).rotate_left(17)
                    ^ total.rotate_left(31),
            );
            let mut spans: Vec<(u64, u64)> = candidates.spans().to_vec();
            for i in (1..spans.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                spans.swap(i, j);
            }
            // Find the span holding the start index, then walk forward with wrap-around.
            let mut start = rng.below(total);
            let mut first = 0;
            for (i, (b, e)) in spans.iter().enumerate() {
                let len = e - b + 1;
                if start < len {
                    first = i;
                    break;
                }
                start -= len;
            }
            let (fb, fe) = spans[first];
            let ordered = (fb + start..=fe)
                .chain(spans[first + 1..].iter().flat_map(|&(b, e)| b..=e))
                .chain(spans[..first].iter().flat_map(|&(b, e)| b..=e))
                .chain(fb..fb + start);
            Some(ordered.take(n).collect())
        }
    }
}

/// FNV-1a hash, for seeding.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// A tiny deterministic generator (SplitMix64).
pub(super) struct SplitMix64(u64);

impl SplitMix64 {
    /// Seeds the generator.
    pub(super) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`; 0 when `n == 0`).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{app, offer, offer_with};
    use super::*;

    fn cfg() -> MatchConfig {
        MatchConfig::default()
    }

    fn lowest() -> MatchConfig {
        MatchConfig { port_selection: PortSelection::Lowest, ..MatchConfig::default() }
    }

    fn available(o: &Offer) -> Resources {
        Resources::from_v1(&o.resources).expect("valid offer")
    }

    #[test]
    fn basic_0_matches_with_one_dynamic_port() {
        let a = app(json!({"id":"basic-0","cmd":"sleep 1","cpus":0.1,"mem":10.0,"ports":[10000]}));
        let o = offer("cpus:1;mem:128;disk:100;ports:[31000-32000]");
        let m = match_offer(&a, &o, &available(&o), &[], &cfg()).expect("match");
        assert_eq!(m.resources.scalar("cpus"), 0.1);
        assert_eq!(m.resources.scalar("mem"), 10.0);
        assert_eq!(m.resources.scalar("disk"), 0.0);
        assert_eq!(m.host_ports.len(), 1);
        let port = m.host_ports[0].expect("host port");
        assert!((31000..=32000).contains(&port));
        assert_eq!(m.resources.ports(), Ranges::from_values([u64::from(port)]));
        // Deterministic for the same inputs.
        let again = match_offer(&a, &o, &available(&o), &[], &cfg()).expect("match");
        assert_eq!(again.host_ports, m.host_ports);
        let low = match_offer(&a, &o, &available(&o), &[], &lowest()).expect("match");
        assert_eq!(low.host_ports, vec![Some(31000)]);
    }

    #[test]
    fn basic_3_takes_exactly_the_fixed_host_port() {
        let a = app(json!({"id":"basic-3","cmd":"python3 -m http.server 8080","cpus":0.5,"mem":32.0,
            "container":{"type":"DOCKER","docker":{"image":"python:3","network":"BRIDGE",
            "portMappings":[{"containerPort":8080,"hostPort":31000,"servicePort":0,"protocol":"tcp"}]}}}));
        let o = offer("cpus:1;mem:128;ports:[31000-32000]");
        let m = match_offer(&a, &o, &available(&o), &[], &cfg()).expect("match");
        assert_eq!(m.host_ports, vec![Some(31000)]);
        assert_eq!(m.resources.ports(), Ranges::from_values([31000]));
        assert_eq!(m.resources.to_string(), "cpus:0.5;mem:32;ports:[31000-31000]");
    }

    #[test]
    fn fixed_host_port_absent_is_insufficient_ports() {
        let a = app(json!({"id":"d","cpus":0.1,"mem":10,"container":{"type":"DOCKER","docker":{"image":"x",
            "network":"BRIDGE","portMappings":[{"containerPort":80,"hostPort":8080}]}}}));
        let o = offer("cpus:1;mem:128;ports:[31000-32000]");
        let err = match_offer(&a, &o, &available(&o), &[], &cfg()).expect_err("no port 8080");
        assert_eq!(err.reason(), NoMatchReason::InsufficientPorts);
        assert_eq!(err.reason().as_str(), "InsufficientPorts");
    }

    #[test]
    fn bridge_mappings_mix_fixed_dynamic_and_none() {
        let a = app(json!({"id":"d","cpus":0.1,"mem":10,"container":{"type":"DOCKER","docker":{"image":"x",
            "network":"BRIDGE","portMappings":[{"containerPort":80},{"containerPort":81,"hostPort":31000}]}}}));
        let o = offer("cpus:1;mem:128;ports:[31000-31001]");
        let m = match_offer(&a, &o, &available(&o), &[], &cfg()).expect("match");
        assert_eq!(m.host_ports, vec![Some(31001), Some(31000)], "dynamic port avoids the fixed one");
        let u = app(json!({"id":"u","cpus":0.1,"mem":10,"container":{"type":"DOCKER","docker":{"image":"x",
            "network":"USER","portMappings":[{"containerPort":80},{"containerPort":81,"hostPort":0}]}}}));
        let m = match_offer(&u, &o, &available(&o), &[], &lowest()).expect("match");
        assert_eq!(m.host_ports, vec![None, Some(31000)]);
        assert_eq!(m.assigned_host_ports(), vec![31000]);
    }

    #[test]
    fn scalar_shortages_are_all_reported_in_funnel_order() {
        let a = app(json!({"id":"a","cmd":"x","cpus":2,"mem":256,"disk":10,"gpus":1}));
        let o = offer("cpus:1;mem:128;ports:[31000-32000]");
        let err = match_offer(&a, &o, &available(&o), &[], &cfg()).expect_err("too big");
        assert_eq!(
            err.reasons,
            vec![
                NoMatchReason::InsufficientCpus,
                NoMatchReason::InsufficientMemory,
                NoMatchReason::InsufficientDisk,
                NoMatchReason::InsufficientGpus
            ]
        );
        assert_eq!(err.reason().as_str(), "InsufficientCpus");
    }

    #[test]
    fn too_few_dynamic_ports() {
        let a = app(json!({"id":"a","cmd":"x","cpus":0.1,"mem":10,"ports":[0,0,0]}));
        let o = offer("cpus:1;mem:128;ports:[31000-31001]");
        assert!(match_offer(&a, &o, &available(&o), &[], &cfg())
            .expect_err("2 < 3")
            .has(NoMatchReason::InsufficientPorts));
        let none = app(json!({"id":"a","cmd":"x","cpus":0.1,"mem":10,"portDefinitions":[]}));
        let o = offer("cpus:1;mem:128");
        let m = match_offer(&none, &o, &available(&o), &[], &cfg()).expect("no ports needed");
        assert!(m.host_ports.is_empty());
    }

    #[test]
    fn require_ports_uses_the_service_ports() {
        let a = app(json!({"id":"a","cmd":"x","cpus":0.1,"mem":10,"ports":[31005,31007],"requirePorts":true}));
        let o = offer("cpus:1;mem:128;ports:[31000-32000]");
        let m = match_offer(&a, &o, &available(&o), &[], &cfg()).expect("match");
        assert_eq!(m.host_ports, vec![Some(31005), Some(31007)]);
        let b = app(json!({"id":"a","cmd":"x","cpus":0.1,"mem":10,"ports":[10000],"requirePorts":true}));
        let err = match_offer(&b, &o, &available(&o), &[], &cfg()).expect_err("10000 not offered");
        assert_eq!(err.reason(), NoMatchReason::InsufficientPorts);
    }

    #[test]
    fn host_network_docker_apps_use_port_definitions() {
        let a = app(json!({"id":"h","cpus":0.1,"mem":10,"ports":[0,0],
            "container":{"type":"DOCKER","docker":{"image":"x","network":"HOST"}}}));
        let o = offer("cpus:1;mem:128;ports:[31000-32000]");
        let m = match_offer(&a, &o, &available(&o), &[], &lowest()).expect("match");
        assert_eq!(m.host_ports, vec![Some(31000), Some(31001)]);
    }

    #[test]
    fn roles_default_to_unreserved_plus_mesos_role() {
        let a = app(json!({"id":"a","cmd":"x","cpus":1,"mem":128,"portDefinitions":[]}));
        let reserved = offer_with("cpus(marathon):1;mem(marathon):128", "marathon");
        let err = match_offer(&a, &reserved, &available(&reserved), &[], &cfg()).expect_err("role not accepted");
        assert_eq!(err.reason(), NoMatchReason::UnfulfilledRole);
        assert!(err.has(NoMatchReason::InsufficientCpus));
        let with_role = MatchConfig { mesos_role: Some("marathon".into()), ..MatchConfig::default() };
        let m = match_offer(&a, &reserved, &available(&reserved), &[], &with_role).expect("role accepted");
        assert_eq!(m.resources.to_string(), "cpus(marathon):1;mem(marathon):128");
        // Reserved resources are used first, then unreserved ones.
        let mixed = offer_with("cpus(marathon):0.5;cpus:2;mem:256", "marathon");
        let m = match_offer(&a, &mixed, &available(&mixed), &[], &with_role).expect("match");
        assert_eq!(m.resources.to_string(), "cpus:0.5;cpus(marathon):0.5;mem:128");
        // acceptedResourceRoles restricts to the listed roles.
        let only_reserved = app(json!({"id":"a","cmd":"x","cpus":1,"mem":128,"portDefinitions":[],
            "acceptedResourceRoles":["marathon"]}));
        let err =
            match_offer(&only_reserved, &mixed, &available(&mixed), &[], &with_role).expect_err("only 0.5 reserved");
        assert_eq!(err.reasons, vec![NoMatchReason::InsufficientCpus, NoMatchReason::InsufficientMemory]);
        let unreserved = offer("cpus:4;mem:1024");
        let err = match_offer(&only_reserved, &unreserved, &available(&unreserved), &[], &cfg()).expect_err("no role");
        assert_eq!(err.reason().as_str(), "UnfulfilledRole");
    }

    #[test]
    fn task_resources_are_allocated_to_the_offer_role() {
        let a = app(json!({"id":"a","cmd":"x","cpus":1,"mem":128,"portDefinitions":[]}));
        let o = offer("cpus:4;mem:1024");
        let m = match_offer(&a, &o, &available(&o), &[], &cfg()).expect("match");
        let v1 = m.resources_v1(ReservationFormat::PreRefinement);
        assert_eq!(v1.len(), 2);
        assert!(v1.iter().all(|r| r.role.as_deref() == Some("*")));
        assert!(v1.iter().all(|r| r.allocation_info.as_ref().is_some_and(|a| a.role == "*")));
    }

    #[test]
    fn constraints_are_checked() {
        let a = app(json!({"id":"a","cmd":"x","cpus":0.1,"mem":10,"constraints":[["hostname","UNIQUE"]]}));
        let o = offer("cpus:1;mem:128;ports:[31000-32000]");
        let here = [Placement::new(o.hostname.clone(), Vec::new())];
        let err = match_offer(&a, &o, &available(&o), &here, &cfg()).expect_err("unique");
        assert_eq!(err.reason(), NoMatchReason::UnfulfilledConstraint);
        assert_eq!(err.constraint.as_deref(), Some(r#"["hostname","UNIQUE"]"#));
        assert!(match_offer(&a, &o, &available(&o), &[], &cfg()).is_ok());
    }

    #[test]
    fn resident_apps_need_reservations() {
        let mut a = app(json!({"id":"a","cmd":"x"}));
        a.residency = Some(crate::app::Residency::default());
        let o = offer("cpus:4;mem:1024");
        let err = match_offer(&a, &o, &available(&o), &[], &cfg()).expect_err("resident");
        assert_eq!(err.reason(), NoMatchReason::NoCorrespondingReservationFound);
    }

    #[test]
    fn spread_wraps_and_stays_consecutive() {
        let candidates = Ranges::from_spans([(100, 104), (200, 201)]);
        let o = offer("cpus:1");
        let a = app(json!({"id":"a","cmd":"x"}));
        for seed in 0..50 {
            let picked = pick_ports(&candidates, 7, PortSelection::Spread { seed }, &o, &a).expect("7 ports");
            let mut sorted = picked.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![100, 101, 102, 103, 104, 200, 201], "all ports exactly once");
        }
        assert!(pick_ports(&candidates, 8, PortSelection::Lowest, &o, &a).is_none());
    }
}
