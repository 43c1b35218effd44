//! Service-port assignment (upstream `assignDynamicServicePorts`) as a pure function.

use std::collections::{BTreeSet, VecDeque};

use super::definition::{AppDefinition, PortDefinition, RANDOM_PORT};
use super::errors::ApiError;

/// Replaces every service port 0 of `app` with a concrete port: first the ports the `previous`
/// version had (in range, no longer used by the new version), then the lowest port in
/// `[range.0, range.1)` that is neither in `used` nor taken by the app itself. Non-zero ports are
/// kept. Port definitions are then aligned with the service ports (like Marathon, also for apps
/// whose ports come from Docker port mappings). Exhaustion yields a 500
/// `All ports in the range [min-max) are already in use`.
pub fn assign_service_ports(
    app: &mut AppDefinition,
    used: &BTreeSet<u32>,
    previous: Option<&AppDefinition>,
    range: (u32, u32),
) -> Result<(), ApiError> {
    let (min, max) = range;
    let in_range = |p: i32| u32::try_from(p).is_ok_and(|p| (min..max).contains(&p));
    let requested = app.service_ports();
    let to_u32 = |p: &i32| u32::try_from(*p).ok();

    let mut taken: BTreeSet<u32> = used.clone();
    taken.extend(requested.iter().filter_map(to_u32));
    let previous_ports = previous.map(AppDefinition::service_ports).unwrap_or_default();
    taken.extend(previous_ports.iter().filter_map(to_u32));
    let mut reusable: VecDeque<i32> =
        previous_ports.into_iter().filter(|p| *p != RANDOM_PORT && in_range(*p) && !requested.contains(p)).collect();

    let mut assigned = Vec::with_capacity(requested.len());
    for port in &requested {
        if *port != RANDOM_PORT {
            assigned.push(*port);
            continue;
        }
        let next = match reusable.pop_front() {
            Some(p) => p,
            None => {
                let exhausted =
                    || ApiError::message(500, format!("All ports in the range [{min}-{max}) are already in use"));
                let free = (min..max).find(|p| !taken.contains(p)).ok_or_else(exhausted)?;
                taken.insert(free);
                i32::try_from(free).map_err(|_| exhausted())?
            }
        };
        assigned.push(next);
    }

    if let Some(docker) = app.container.as_mut().and_then(|c| c.docker.as_mut()) {
        for (mapping, port) in docker.port_mappings.iter_mut().zip(&assigned) {
            mapping.service_port = *port;
        }
    }
    if !app.port_definitions.is_empty() {
        let len = app.port_definitions.len().max(assigned.len());
        app.port_definitions.resize_with(len, || PortDefinition::new(RANDOM_PORT));
        for (definition, port) in
            app.port_definitions.iter_mut().zip(assigned.iter().chain(std::iter::repeat(&RANDOM_PORT)))
        {
            definition.port = *port;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::parse::app_from_json;
    use super::super::path_id::PathId;
    use super::*;

    const RANGE: (u32, u32) = (10000, 20000);

    fn app(value: serde_json::Value) -> AppDefinition {
        app_from_json(&value, &PathId::root()).expect("valid app")
    }

    #[test]
    fn assigns_lowest_free_ports() {
        let mut a = app(json!({"id":"a","cmd":"x","ports":[0, 8080, 0]}));
        let used = BTreeSet::from([10000, 10002]);
        assign_service_ports(&mut a, &used, None, RANGE).expect("ports");
        assert_eq!(a.service_ports(), vec![10001, 8080, 10003]);
    }

    #[test]
    fn reuses_previous_ports() {
        let previous = app(json!({"id":"a","cmd":"x","ports":[10005, 10007]}));
        let mut next = app(json!({"id":"a","cmd":"y","ports":[0, 10007, 0, 0]}));
        let used = BTreeSet::from([10005, 10007]);
        assign_service_ports(&mut next, &used, Some(&previous), RANGE).expect("ports");
        assert_eq!(next.service_ports(), vec![10005, 10007, 10000, 10001]);
    }

    #[test]
    fn docker_mappings_and_definitions_follow() {
        let mut a = app(json!({"id":"a","container":{"docker":{"image":"x","network":"BRIDGE",
            "portMappings":[{"containerPort":80},{"containerPort":81,"servicePort":9000}]}}}));
        assign_service_ports(&mut a, &BTreeSet::new(), None, RANGE).expect("ports");
        assert_eq!(a.service_ports(), vec![10000, 9000]);
        let defs: Vec<i32> = a.port_definitions.iter().map(|d| d.port).collect();
        assert_eq!(defs, vec![10000, 9000]);
        assert_eq!(a.port_definitions[0].name.as_deref(), Some("default"));
    }

    #[test]
    fn exhausted_range_is_an_error() {
        let mut a = app(json!({"id":"a","cmd":"x","ports":[0, 0]}));
        let err = assign_service_ports(&mut a, &BTreeSet::from([10]), None, (10, 12)).expect_err("exhausted");
        assert_eq!(err.status(), 500);
        assert_eq!(err.message_text(), "All ports in the range [10-12) are already in use");
        let mut b = app(json!({"id":"a","cmd":"x","ports":[0]}));
        assert!(assign_service_ports(&mut b, &BTreeSet::new(), None, (10, 10)).is_err());
    }

    #[test]
    fn no_ports_is_a_no_op() {
        let mut a = app(json!({"id":"a","cmd":"x","portDefinitions":[]}));
        assign_service_ports(&mut a, &BTreeSet::new(), None, RANGE).expect("no ports");
        assert!(a.port_definitions.is_empty());
    }
}
