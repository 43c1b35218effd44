//! Marathon 1.4 offer matching and task building as pure functions over plain data (no I/O).
//!
//! - [`constraints`]: placement constraints (`UNIQUE`, `CLUSTER`, `GROUP_BY`, `LIKE`, `UNLIKE`, `MAX_PER`).
//! - [`matching`]: roles, scalar resources and host ports of one instance against an offer.
//! - [`task_builder`]: the Mesos `TaskInfo` (command, container, environment, discovery, health check).
//! - [`plan_launches`] (here): fills one offer with as many queued instances as fit — the LAUNCH operations
//!   of one ACCEPT call.

// Some of the API (`match_offer` details, rejection reasons, `PlacementIndex` helpers) is for the queue
// and future callers and not used by main.rs yet.

pub mod constraints;
pub mod matching;
pub mod task_builder;

use std::collections::{BTreeSet, HashMap};

use common::mesos::{Offer, TaskInfo};
use common::resources::{Attribute, ReservationFormat, Resources};

use crate::app::{new_task_id, AppDefinition, PathId, Timestamp};
use crate::core::instance::Instance;

#[allow(unused_imports)]
pub use self::{
    constraints::{meets_constraint, meets_constraints, Placement},
    matching::{accepted_roles, match_offer, Match, NoMatch, NoMatchReason, PortSelection},
    task_builder::build_task,
};

/// Settings that shape matching and task building (from Marathon's flags).
#[derive(Debug, Clone, PartialEq)]
pub struct MatchConfig {
    /// `--mesos_role`: its resources are accepted besides unreserved ones.
    pub mesos_role: Option<String>,
    /// `--default_accepted_resource_roles`: roles for apps without `acceptedResourceRoles`
    /// (default: `mesos_role` and `*`).
    pub default_accepted_resource_roles: Option<BTreeSet<String>>,
    /// `--mesos_user`: task user when the app has none.
    pub mesos_user: Option<String>,
    /// `--env_vars_prefix`: prefix of the `PORT*` and `HOST` variables.
    pub env_vars_prefix: Option<String>,
    /// `--max_instances_per_offer` (5): launches planned on one offer at most.
    pub max_instances_per_offer: usize,
    /// How dynamic host ports are picked.
    pub port_selection: PortSelection,
    /// How task resources render reservations (Marathon 1.4 is pre-refinement: `role` set, `*` unreserved).
    pub reservation_format: ReservationFormat,
}

impl Default for MatchConfig {
    fn default() -> Self {
        MatchConfig {
            mesos_role: None,
            default_accepted_resource_roles: None,
            mesos_user: None,
            env_vars_prefix: None,
            max_instances_per_offer: 5,
            port_selection: PortSelection::default(),
            reservation_format: ReservationFormat::PreRefinement,
        }
    }
}

/// Instances of one app still to launch.
#[derive(Debug, Clone, Copy)]
pub struct LaunchRequest<'a> {
    /// The app (its current version).
    pub app: &'a AppDefinition,
    /// How many instances are wanted.
    pub count: usize,
}

/// One instance to launch from the offer.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedLaunch {
    /// The app.
    pub app_id: PathId,
    /// The app version the task runs.
    pub version: Timestamp,
    /// The task to put in the LAUNCH operation.
    pub task: TaskInfo,
    /// Host ports of the task (ports without a host port left out).
    pub host_ports: Vec<u32>,
    /// Service ports of the app version.
    pub service_ports: Vec<u32>,
    /// The match the task was built from.
    pub matched: Match,
}

/// An instance of an app, as far as placement constraints care.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedInstance {
    /// Agent id.
    pub agent_id: String,
    /// Agent hostname.
    pub hostname: String,
    /// App version the instance was launched with (`None`: always counts).
    pub version: Option<Timestamp>,
    /// Agent attributes, when known here (else looked up by agent id).
    pub attributes: Option<Vec<Attribute>>,
}

/// Where every app's active instances run, plus the attributes of the agents seen in offers; the input
/// of constraint checks in [`plan_launches`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlacementIndex {
    by_app: HashMap<PathId, Vec<PlacedInstance>>,
    agent_attributes: HashMap<String, Vec<Attribute>>,
}

impl PlacementIndex {
    /// An empty index.
    pub fn new() -> Self {
        PlacementIndex::default()
    }

    /// Indexes the given (active) instances. Their agents' attributes are unknown until
    /// [`PlacementIndex::remember_agent`] or an offer from the same agent supplies them.
    pub fn from_instances<'a>(instances: impl IntoIterator<Item = &'a Instance>) -> Self {
        let mut index = PlacementIndex::new();
        for instance in instances {
            index.insert(
                instance.app_id.clone(),
                PlacedInstance {
                    agent_id: instance.agent_id.clone(),
                    hostname: instance.host.clone(),
                    version: Some(instance.version),
                    attributes: None,
                },
            );
        }
        index
    }

    /// Records an instance just launched from `offer` (and the offer agent's attributes).
    pub fn add(&mut self, instance: &Instance, offer: &Offer) {
        self.remember_agent(&offer.agent_id.value, &offer.attributes);
        self.insert(
            instance.app_id.clone(),
            PlacedInstance {
                agent_id: offer.agent_id.value.clone(),
                hostname: offer.hostname.clone(),
                version: Some(instance.version),
                attributes: None,
            },
        );
    }

    /// Adds a placed instance of `app_id`.
    pub fn insert(&mut self, app_id: PathId, placed: PlacedInstance) {
        self.by_app.entry(app_id).or_default().push(placed);
    }

    /// Remembers an agent's attributes (agents' attributes do not change while they are registered).
    pub fn remember_agent(&mut self, agent_id: &str, attributes: &[Attribute]) {
        if self.agent_attributes.get(agent_id).map(Vec::as_slice) != Some(attributes) {
            self.agent_attributes.insert(agent_id.to_string(), attributes.to_vec());
        }
    }

    /// Builder form of [`PlacementIndex::remember_agent`] for many agents.
    pub fn with_agent_attributes<'a>(mut self, agents: impl IntoIterator<Item = (&'a str, &'a [Attribute])>) -> Self {
        for (agent_id, attributes) in agents {
            self.remember_agent(agent_id, attributes);
        }
        self
    }

    /// The recorded instances of `app_id`.
    pub fn instances(&self, app_id: &PathId) -> &[PlacedInstance] {
        self.by_app.get(app_id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Placements for constraint checks of `app` against `offer`: instances of the current configuration
    /// only (older ones are about to be replaced, as upstream ignores them), with agent attributes resolved
    /// from the instance, the remembered agents or — for the offer's own agent — the offer.
    pub fn placements_for(&self, app: &AppDefinition, offer: &Offer) -> Vec<Placement> {
        let since = app.last_config_change_at();
        self.instances(&app.id)
            .iter()
            .filter(|p| p.version.is_none_or(|v| v >= since))
            .map(|p| {
                let attributes = p
                    .attributes
                    .clone()
                    .or_else(|| self.agent_attributes.get(&p.agent_id).cloned())
                    .or_else(|| (p.agent_id == offer.agent_id.value).then(|| offer.attributes.clone()))
                    .unwrap_or_default();
                Placement { hostname: p.hostname.clone(), attributes }
            })
            .collect()
    }
}

/// Per-app state while filling one offer.
struct Slot<'a> {
    app: &'a AppDefinition,
    remaining: usize,
    /// Placements incl. this offer's planned instances (only for apps with constraints).
    placed: Option<Vec<Placement>>,
    done: bool,
}

/// Fills `offer` with queued instances: round-robin over the queue, one instance per app per pass, until
/// `max_instances_per_offer` launches are planned or nothing fits any more. Resources and placements are
/// consumed as launches are planned, so `UNIQUE`/`MAX_PER` hold within the offer. Returns the launches (the
/// LAUNCH operations of one ACCEPT) and, for every app that stopped short of its count, why the (rest
/// of the) offer did not fit. Task ids are fresh [`new_task_id`]s.
pub fn plan_launches(
    offer: &Offer,
    queue: &[LaunchRequest<'_>],
    placed: &PlacementIndex,
    config: &MatchConfig,
) -> (Vec<PlannedLaunch>, Vec<(PathId, NoMatch)>) {
    let mut available = offer_resources(offer);
    let mut slots: Vec<Slot<'_>> = queue
        .iter()
        .filter(|r| r.count > 0)
        .map(|r| Slot { app: r.app, remaining: r.count, placed: None, done: false })
        .collect();
    let mut planned = Vec::new();
    let mut rejected = Vec::new();
    let limit = config.max_instances_per_offer;

    let mut progress = true;
    while progress && planned.len() < limit {
        progress = false;
        for slot in slots.iter_mut().filter(|s| !s.done) {
            if planned.len() >= limit {
                break;
            }
            let app = slot.app;
            if !app.constraints.is_empty() && slot.placed.is_none() {
                slot.placed = Some(placed.placements_for(app, offer));
            }
            let placements = slot.placed.as_deref().unwrap_or(&[]);
            match match_offer(app, offer, &available, placements, config) {
                Ok(m) => {
                    available.subtract_saturating(&m.resources);
                    let task_id = new_task_id(&app.id);
                    let task = build_task(app, offer, &m, &task_id, config);
                    if let Some(list) = slot.placed.as_mut() {
                        list.push(Placement { hostname: offer.hostname.clone(), attributes: offer.attributes.clone() });
                    }
                    planned.push(PlannedLaunch {
                        app_id: app.id.clone(),
                        version: app.version,
                        task,
                        host_ports: m.assigned_host_ports(),
                        service_ports: app.service_ports().into_iter().filter_map(|p| u32::try_from(p).ok()).collect(),
                        matched: m,
                    });
                    slot.remaining -= 1;
                    slot.done = slot.remaining == 0;
                    progress = true;
                }
                Err(no_match) => {
                    slot.done = true;
                    rejected.push((app.id.clone(), no_match));
                }
            }
        }
    }
    (planned, rejected)
}

/// The offer's resources; resources that cannot be modelled are left out instead of spoiling the offer.
fn offer_resources(offer: &Offer) -> Resources {
    Resources::from_v1(&offer.resources).unwrap_or_else(|_| {
        let mut all = Resources::new();
        for resource in &offer.resources {
            if let Ok(one) = Resources::from_v1(std::slice::from_ref(resource)) {
                all.add(&one);
            }
        }
        all
    })
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builders shared by the scheduling tests.

    use common::mesos::{AllocationInfo, Id, Offer};
    use common::resources::{ReservationFormat, Resources};
    use serde_json::Value;

    use crate::app::{app_from_json, AppDefinition, PathId};

    /// An app from its JSON (parsed, not validated).
    pub fn app(value: Value) -> AppDefinition {
        app_from_json(&value, &PathId::root()).expect("valid app JSON")
    }

    /// An offer from `agent-1.example.com` with the given resource text, allocated to `*`.
    pub fn offer(resources: &str) -> Offer {
        offer_with(resources, "*")
    }

    /// An offer allocated to `role`.
    pub fn offer_with(resources: &str, role: &str) -> Offer {
        let resources = Resources::parse_text(resources).expect("resource text");
        Offer {
            id: Id::new("offer-1"),
            framework_id: Id::new("fw"),
            agent_id: Id::new("agent-1"),
            hostname: "agent-1.example.com".into(),
            url: None,
            resources: resources.to_v1_allocated(ReservationFormat::PreRefinement, role),
            attributes: Vec::new(),
            executor_ids: Vec::new(),
            allocation_info: Some(AllocationInfo { role: role.into() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use common::resources::Attribute;
    use serde_json::json;

    use super::test_support::{app, offer};
    use super::*;
    use crate::app::assign_service_ports;

    fn instance(app_id: &str, agent: &str, host: &str, version: Timestamp) -> Instance {
        let text = json!({"task_id":"t","app_id":app_id,"version":version.to_string(),"agent_id":agent,"host":host,
            "ports":[],"service_ports":[],"state":null,"staged_at":version.to_string(),"started_at":null,
            "ip_addresses":[],"healthy":null,"killing":false});
        serde_json::from_value(text).expect("instance JSON")
    }

    #[test]
    fn basic_0_plans_one_task_with_port_env() {
        let mut a = app(json!({"id":"basic-0","cmd":"while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done",
            "cpus":0.1,"mem":10.0,"instances":1}));
        assign_service_ports(&mut a, &BTreeSet::new(), None, (10000, 20000)).expect("service ports");
        let o = offer("cpus:2;mem:1024;disk:1000;ports:[31000-32000]");
        let (planned, rejected) =
            plan_launches(&o, &[LaunchRequest { app: &a, count: 1 }], &PlacementIndex::new(), &MatchConfig::default());
        assert!(rejected.is_empty());
        assert_eq!(planned.len(), 1);
        let launch = &planned[0];
        assert_eq!(launch.app_id.to_string(), "/basic-0");
        assert_eq!(launch.service_ports, vec![10000]);
        assert_eq!(launch.host_ports.len(), 1);
        let host_port = launch.host_ports[0].to_string();
        assert!(launch.task.task_id.value.starts_with("basic-0."));
        let env: Vec<(String, String)> = launch
            .task
            .command
            .as_ref()
            .and_then(|c| c.environment.as_ref())
            .map(|e| e.variables.iter().map(|v| (v.name.clone(), v.value.clone())).collect())
            .expect("env");
        let get = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(get("MESOS_TASK_ID"), Some(launch.task.task_id.value.clone()));
        assert_eq!(get("PORT0"), Some(host_port.clone()));
        assert_eq!(get("PORT"), Some(host_port.clone()));
        assert_eq!(get("PORTS"), Some(host_port.clone()));
        assert_eq!(get("PORT_10000"), Some(host_port.clone()));
        assert_eq!(get("PORT_DEFAULT"), Some(host_port));
        assert_eq!(get("HOST").as_deref(), Some("agent-1.example.com"));
        assert_eq!(get("MARATHON_APP_RESOURCE_CPUS").as_deref(), Some("0.1"));
        assert_eq!(get("MARATHON_APP_RESOURCE_MEM").as_deref(), Some("10.0"));
    }

    #[test]
    fn basic_3_takes_exactly_31000() {
        let a = app(json!({"id":"basic-3","cmd":"python3 -m http.server 8080","cpus":0.5,"mem":32.0,
            "container":{"type":"DOCKER","volumes":[],"docker":{"image":"python:3","network":"BRIDGE",
            "portMappings":[{"containerPort":8080,"hostPort":31000,"servicePort":0,"protocol":"tcp"}],
            "privileged":false,"parameters":[],"forcePullImage":true}}}));
        let o = offer("cpus:2;mem:1024;ports:[31000-32000]");
        let (planned, rejected) =
            plan_launches(&o, &[LaunchRequest { app: &a, count: 2 }], &PlacementIndex::new(), &MatchConfig::default());
        assert_eq!(planned.len(), 1, "the second instance cannot get port 31000 again");
        assert_eq!(planned[0].host_ports, vec![31000]);
        assert_eq!(planned[0].matched.resources.ports().to_string(), "[31000-31000]");
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].1.reason(), NoMatchReason::InsufficientPorts);
    }

    #[test]
    fn fills_up_to_max_instances_per_offer() {
        let a = app(json!({"id":"a","cmd":"x","cpus":0.1,"mem":10}));
        let o = offer("cpus:10;mem:1024;ports:[31000-32000]");
        let request = [LaunchRequest { app: &a, count: 20 }];
        let (planned, rejected) = plan_launches(&o, &request, &PlacementIndex::new(), &MatchConfig::default());
        assert_eq!(planned.len(), 5);
        assert!(rejected.is_empty());
        let ports: BTreeSet<u32> = planned.iter().flat_map(|p| p.host_ports.clone()).collect();
        assert_eq!(ports.len(), 5, "every instance gets its own host port");
        let ids: BTreeSet<&str> = planned.iter().map(|p| p.task.task_id.value.as_str()).collect();
        assert_eq!(ids.len(), 5);
        let config = MatchConfig { max_instances_per_offer: 2, ..MatchConfig::default() };
        assert_eq!(plan_launches(&o, &request, &PlacementIndex::new(), &config).0.len(), 2);
    }

    #[test]
    fn consumes_resources_across_apps_round_robin() {
        let a = app(json!({"id":"a","cmd":"x","cpus":1,"mem":10,"portDefinitions":[]}));
        let b = app(json!({"id":"b","cmd":"x","cpus":1,"mem":10,"portDefinitions":[]}));
        let o = offer("cpus:3;mem:1024");
        let queue = [LaunchRequest { app: &a, count: 3 }, LaunchRequest { app: &b, count: 3 }];
        let (planned, rejected) = plan_launches(&o, &queue, &PlacementIndex::new(), &MatchConfig::default());
        let order: Vec<String> = planned.iter().map(|p| p.app_id.to_string()).collect();
        assert_eq!(order, vec!["/a", "/b", "/a"]);
        assert_eq!(rejected.len(), 2);
        assert!(rejected.iter().all(|(_, r)| r.reason() == NoMatchReason::InsufficientCpus));
    }

    #[test]
    fn unique_hostname_within_one_offer() {
        let a = app(json!({"id":"u","cmd":"x","cpus":0.1,"mem":10,"constraints":[["hostname","UNIQUE"]]}));
        let o = offer("cpus:10;mem:1024;ports:[31000-32000]");
        let (planned, rejected) =
            plan_launches(&o, &[LaunchRequest { app: &a, count: 2 }], &PlacementIndex::new(), &MatchConfig::default());
        assert_eq!(planned.len(), 1);
        assert_eq!(rejected[0].1.reason(), NoMatchReason::UnfulfilledConstraint);
        assert_eq!(rejected[0].1.constraint.as_deref(), Some(r#"["hostname","UNIQUE"]"#));
    }

    #[test]
    fn max_per_and_existing_instances() {
        let a = app(json!({"id":"m","cmd":"x","cpus":0.1,"mem":10,"version":"2020-01-01T00:00:00.000Z",
            "constraints":[["rack","MAX_PER","2"]]}));
        let mut o = offer("cpus:10;mem:1024;ports:[31000-32000]");
        o.attributes = vec![Attribute::new_text("rack", "r1")];
        let request = [LaunchRequest { app: &a, count: 5 }];
        let (planned, _) = plan_launches(&o, &request, &PlacementIndex::new(), &MatchConfig::default());
        assert_eq!(planned.len(), 2);

        // One instance already runs on another agent of rack r1: only one more fits.
        let existing = instance("/m", "agent-2", "agent-2.example.com", a.version);
        let index = PlacementIndex::from_instances([&existing])
            .with_agent_attributes([("agent-2", &[Attribute::new_text("rack", "r1")][..])]);
        assert_eq!(plan_launches(&o, &request, &index, &MatchConfig::default()).0.len(), 1);

        // Agent attributes unknown: the instance does not count for the rack.
        let index = PlacementIndex::from_instances([&existing]);
        assert_eq!(plan_launches(&o, &request, &index, &MatchConfig::default()).0.len(), 2);

        // An instance on the offer's own agent takes the offer's attributes.
        let here = instance("/m", "agent-1", "agent-1.example.com", a.version);
        let index = PlacementIndex::from_instances([&here]);
        assert_eq!(plan_launches(&o, &request, &index, &MatchConfig::default()).0.len(), 1);

        // Instances of an older configuration are ignored.
        let old = Timestamp::parse("2019-01-01T00:00:00.000Z").expect("ts");
        let index = PlacementIndex::from_instances([&instance("/m", "agent-1", "agent-1.example.com", old)]);
        assert_eq!(plan_launches(&o, &request, &index, &MatchConfig::default()).0.len(), 2);
    }

    #[test]
    fn group_by_within_one_offer() {
        let a = app(json!({"id":"g","cmd":"x","cpus":0.1,"mem":10,"constraints":[["rack","GROUP_BY","2"]]}));
        let mut o = offer("cpus:10;mem:1024;ports:[31000-32000]");
        o.attributes = vec![Attribute::new_text("rack", "r1")];
        let request = [LaunchRequest { app: &a, count: 5 }];
        // First instance opens group r1; a second one is refused until 2 groups exist.
        let (planned, rejected) = plan_launches(&o, &request, &PlacementIndex::new(), &MatchConfig::default());
        assert_eq!(planned.len(), 1);
        assert_eq!(rejected[0].1.reason(), NoMatchReason::UnfulfilledConstraint);
        // With r1:1 and r2:1 placed, r1 is a smallest group: one more fits, then r1 is bigger.
        let mut index = PlacementIndex::new();
        for (agent, rack) in [("a1", "r1"), ("a2", "r2")] {
            index.insert(
                a.id.clone(),
                PlacedInstance {
                    agent_id: agent.into(),
                    hostname: agent.into(),
                    version: None,
                    attributes: Some(vec![Attribute::new_text("rack", rack)]),
                },
            );
        }
        assert_eq!(plan_launches(&o, &request, &index, &MatchConfig::default()).0.len(), 1);
    }

    #[test]
    fn placement_index_add_remembers_the_agent() {
        let a = app(json!({"id":"m","cmd":"x","constraints":[["rack","UNIQUE"]]}));
        let mut o = offer("cpus:1");
        o.attributes = vec![Attribute::new_text("rack", "r1")];
        let mut index = PlacementIndex::new();
        index.add(&instance("/m", "agent-1", "agent-1.example.com", a.version), &o);
        let mut other = o.clone();
        other.agent_id.value = "agent-9".into();
        let placements = index.placements_for(&a, &other);
        assert_eq!(placements, vec![Placement::new("agent-1.example.com", o.attributes.clone())]);
        assert_eq!(index.instances(&a.id).len(), 1);
    }

    #[test]
    fn empty_queue_and_zero_counts() {
        let a = app(json!({"id":"a","cmd":"x","cpus":0.1,"mem":10}));
        let o = offer("cpus:1;mem:128;ports:[31000-32000]");
        let (planned, rejected) =
            plan_launches(&o, &[LaunchRequest { app: &a, count: 0 }], &PlacementIndex::new(), &MatchConfig::default());
        assert!(planned.is_empty() && rejected.is_empty());
        assert!(plan_launches(&o, &[], &PlacementIndex::new(), &MatchConfig::default()).0.is_empty());
    }

    #[test]
    fn matching_is_fast_enough() {
        let apps: Vec<AppDefinition> = (0..20)
            .map(|i| {
                app(json!({"id": format!("app-{i}"), "cmd":"x","cpus":0.1,"mem":16,"ports":[0,0],
                "labels":{"a":"b"}}))
            })
            .collect();
        let queue: Vec<LaunchRequest> = apps.iter().map(|a| LaunchRequest { app: a, count: 3 }).collect();
        let o = offer("cpus:8;mem:16384;disk:10000;ports:[31000-32000]");
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            let (planned, _) = plan_launches(&o, &queue, &PlacementIndex::new(), &MatchConfig::default());
            assert_eq!(planned.len(), 5);
        }
        // 1000 offers (5 tasks each) well under a few seconds even in debug builds.
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }
}
