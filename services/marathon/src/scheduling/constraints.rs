//! Placement constraints (Marathon 1.4 `Constraints.meetsConstraint`) as pure checks of one offer against
//! the app's already placed instances.
//!
//! Field `hostname` compares the offer's hostname; any other field names an agent attribute, compared by
//! its Marathon text form ([`Attribute::value_text`]: scalars like Java's `NumberFormat`, ranges `[a-b]`,
//! sets `{a,b}`, text as is). An attribute the offer lacks only satisfies `UNLIKE`.
//!
//! | operator | accepted when |
//! |---|---|
//! | `UNIQUE` | no placed instance has the offer's value |
//! | `CLUSTER` | the value (if given) equals the offer's and every placed instance has the offer's value |
//! | `GROUP_BY` | the offer's value is unseen, or its group is a smallest one once ≥ n groups exist |
//! | `LIKE` / `UNLIKE` | the value regex fully matches / does not fully match |
//! | `MAX_PER` | fewer than n placed instances have the offer's value |

use std::collections::HashMap;

use common::resources::Attribute;

use crate::app::{full_match, AppDefinition, Constraint};

/// Where one instance of an app runs: the agent's hostname and attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Placement {
    /// Agent hostname.
    pub hostname: String,
    /// Agent attributes (empty when unknown).
    pub attributes: Vec<Attribute>,
}

impl Placement {
    /// A placement on `hostname` with `attributes`.
    #[cfg(test)]
    pub fn new(hostname: impl Into<String>, attributes: Vec<Attribute>) -> Self {
        Placement { hostname: hostname.into(), attributes }
    }

    /// The Marathon text form of attribute `field`, if the agent has it.
    fn attribute_text(&self, field: &str) -> Option<String> {
        find_attribute(&self.attributes, field).map(Attribute::value_text)
    }
}

/// Checks every constraint of `app` for an offer from `offer_hostname` with `offer_attributes`, given where
/// the app's instances already run (`placed`: running and staged instances of the current configuration).
/// Returns the first failing constraint as text (`["hostname","UNIQUE"]`).
pub fn meets_constraints(
    app: &AppDefinition,
    offer_hostname: &str,
    offer_attributes: &[Attribute],
    placed: &[Placement],
) -> Result<(), String> {
    match app.constraints.iter().find(|c| !meets_constraint(c, offer_hostname, offer_attributes, placed)) {
        Some(failed) => Err(constraint_text(failed)),
        None => Ok(()),
    }
}

/// Checks one constraint (see the module table). Unknown operators and unusable values (a `MAX_PER` value
/// that is not an integer, an invalid regex) never match.
pub fn meets_constraint(
    constraint: &Constraint,
    offer_hostname: &str,
    offer_attributes: &[Attribute],
    placed: &[Placement],
) -> bool {
    let field = constraint.field.as_str();
    let value = constraint.value.as_deref().unwrap_or("");
    if field == "hostname" {
        return check_field(
            constraint.operator.as_str(),
            value,
            offer_hostname,
            placed,
            |p| Some(p.hostname.clone()),
            true,
        );
    }
    match find_attribute(offer_attributes, field) {
        Some(attribute) => {
            let offered = attribute.value_text();
            check_field(constraint.operator.as_str(), value, &offered, placed, |p| p.attribute_text(field), false)
        }
        None => constraint.operator == "UNLIKE",
    }
}

/// The constraint as Marathon's JSON triple: `["rack","GROUP_BY","3"]`.
pub fn constraint_text(constraint: &Constraint) -> String {
    let mut parts =
        vec![serde_json::Value::from(constraint.field.as_str()), serde_json::Value::from(constraint.operator.as_str())];
    if let Some(value) = &constraint.value {
        parts.push(serde_json::Value::from(value.as_str()));
    }
    serde_json::Value::Array(parts).to_string()
}

/// Shared operator logic; `group` reads the compared value of a placed instance. LIKE/UNLIKE on attributes
/// need a non-empty regex, on hostnames an empty one simply matches nothing.
fn check_field(
    operator: &str,
    value: &str,
    offered: &str,
    placed: &[Placement],
    group: impl Fn(&Placement) -> Option<String>,
    is_hostname: bool,
) -> bool {
    match operator {
        "UNIQUE" => placed.iter().all(|p| group(p).as_deref() != Some(offered)),
        "CLUSTER" => {
            (value.is_empty() || value == offered) && placed.iter().all(|p| group(p).as_deref() == Some(offered))
        }
        "GROUP_BY" => check_group_by(value, offered, placed, group),
        "MAX_PER" => match value.trim().parse::<i64>() {
            Ok(max) => placed.iter().filter(|p| group(p).as_deref() == Some(offered)).count() < clamp_count(max),
            Err(_) => false,
        },
        "LIKE" => (is_hostname || !value.is_empty()) && full_match(value, offered).unwrap_or(false),
        "UNLIKE" => (is_hostname || !value.is_empty()) && full_match(value, offered).is_some_and(|m| !m),
        _ => false,
    }
}

/// GROUP_BY: instances are grouped by value (instances lacking the attribute form a group of their own, as
/// upstream's `groupBy` does); the offer is accepted when its value has no group yet, or when at least
/// `minimum` groups exist and its group is one of the smallest.
fn check_group_by(
    value: &str,
    offered: &str,
    placed: &[Placement],
    group: impl Fn(&Placement) -> Option<String>,
) -> bool {
    let minimum = match value.trim() {
        "inf" => usize::MAX,
        v => v.parse::<i64>().map(clamp_count).unwrap_or(0),
    };
    let mut groups: HashMap<Option<String>, usize> = HashMap::new();
    for p in placed {
        *groups.entry(group(p)).or_insert(0) += 1;
    }
    let min_count = groups.values().copied().min().unwrap_or(0);
    match groups.get(&Some(offered.to_string())) {
        None => true,
        Some(count) => groups.len() >= minimum && *count == min_count,
    }
}

/// Negative counts behave like zero.
fn clamp_count(n: i64) -> usize {
    usize::try_from(n.max(0)).unwrap_or(usize::MAX)
}

/// The first attribute named `name`.
fn find_attribute<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attributes.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use common::resources::{Attribute, Ranges};

    use super::*;
    use crate::app::PathId;

    fn constraint(field: &str, op: &str, value: Option<&str>) -> Constraint {
        Constraint { field: field.into(), operator: op.into(), value: value.map(str::to_string) }
    }

    fn app_with(constraints: Vec<Constraint>) -> AppDefinition {
        let mut app = AppDefinition::new(PathId::parse("/c"));
        app.constraints = constraints;
        app
    }

    fn on(host: &str) -> Placement {
        Placement::new(host, Vec::new())
    }

    fn in_rack(host: &str, rack: &str) -> Placement {
        Placement::new(host, vec![Attribute::new_text("rack", rack)])
    }

    fn check(c: Constraint, host: &str, attrs: &[Attribute], placed: &[Placement]) -> bool {
        meets_constraint(&c, host, attrs, placed)
    }

    #[test]
    fn unique_hostname() {
        let c = || constraint("hostname", "UNIQUE", None);
        assert!(check(c(), "a", &[], &[]));
        assert!(check(c(), "a", &[], &[on("b")]));
        assert!(!check(c(), "a", &[], &[on("b"), on("a")]));
    }

    #[test]
    fn unique_attribute() {
        let c = || constraint("rack", "UNIQUE", None);
        let r1 = [Attribute::new_text("rack", "r1")];
        assert!(check(c(), "a", &r1, &[in_rack("b", "r2")]));
        assert!(!check(c(), "a", &r1, &[in_rack("b", "r1")]));
        // A missing attribute only satisfies UNLIKE.
        assert!(!check(c(), "a", &[], &[]));
    }

    #[test]
    fn cluster_hostname_and_attribute() {
        assert!(check(constraint("hostname", "CLUSTER", Some("a")), "a", &[], &[on("a")]));
        assert!(!check(constraint("hostname", "CLUSTER", Some("a")), "b", &[], &[]));
        assert!(check(constraint("hostname", "CLUSTER", None), "b", &[], &[]));
        assert!(!check(constraint("hostname", "CLUSTER", None), "b", &[], &[on("a")]));
        let r1 = [Attribute::new_text("rack", "r1")];
        assert!(check(constraint("rack", "CLUSTER", Some("r1")), "x", &r1, &[in_rack("y", "r1")]));
        assert!(!check(constraint("rack", "CLUSTER", Some("r2")), "x", &r1, &[]));
        assert!(!check(constraint("rack", "CLUSTER", None), "x", &r1, &[in_rack("y", "r2")]));
        assert!(!check(constraint("rack", "CLUSTER", None), "x", &r1, &[on("y")]));
    }

    #[test]
    fn like_and_unlike_full_match() {
        let r1 = [Attribute::new_text("rack", "rack-1")];
        assert!(check(constraint("rack", "LIKE", Some("rack-[0-9]")), "h", &r1, &[]));
        assert!(!check(constraint("rack", "LIKE", Some("rack")), "h", &r1, &[]), "partial match is no match");
        assert!(!check(constraint("rack", "UNLIKE", Some("rack-[0-9]")), "h", &r1, &[]));
        assert!(check(constraint("rack", "UNLIKE", Some("rack")), "h", &r1, &[]));
        assert!(check(constraint("hostname", "LIKE", Some("agent-.*")), "agent-1", &[], &[]));
        assert!(!check(constraint("hostname", "UNLIKE", Some("agent-.*")), "agent-1", &[], &[]));
        // Missing attribute: only UNLIKE matches.
        assert!(!check(constraint("zone", "LIKE", Some(".*")), "h", &r1, &[]));
        assert!(check(constraint("zone", "UNLIKE", Some("a")), "h", &r1, &[]));
        // Invalid regex or missing value never match on attributes.
        assert!(!check(constraint("rack", "LIKE", Some("(")), "h", &r1, &[]));
        assert!(!check(constraint("rack", "UNLIKE", None), "h", &r1, &[]));
    }

    #[test]
    fn attribute_values_are_printed_like_marathon() {
        let scalar = [Attribute::new_scalar("level", 2.0)];
        assert!(check(constraint("level", "LIKE", Some("2")), "h", &scalar, &[]));
        let big = [Attribute::new_scalar("mem", 1234.5)];
        assert!(check(constraint("mem", "LIKE", Some("1,234.5")), "h", &big, &[]));
        let ranges = [Attribute::new_ranges("r", &Ranges::from_spans([(1, 2), (5, 9)]))];
        assert!(check(constraint("r", "CLUSTER", Some("[1-2,5-9]")), "h", &ranges, &[]));
        let mut set = Attribute::new_text("s", "");
        set.kind = common::resources::ValueType::Set;
        set.text = None;
        set.set = Some(common::resources::ValueSet { item: vec!["b".into(), "a".into()] });
        assert!(check(constraint("s", "LIKE", Some(r"\{a,b\}")), "h", &[set], &[]));
    }

    #[test]
    fn group_by_balances() {
        let c = |v: Option<&str>| constraint("rack", "GROUP_BY", v);
        let r = |x: &str| [Attribute::new_text("rack", x)];
        // Unseen value: always accepted.
        assert!(check(c(None), "h", &r("r3"), &[in_rack("a", "r1"), in_rack("b", "r2")]));
        // r1 has 2, r2 has 1: r1 is not the smallest group, r2 is.
        let placed = [in_rack("a", "r1"), in_rack("b", "r1"), in_rack("c", "r2")];
        assert!(!check(c(None), "h", &r("r1"), &placed));
        assert!(check(c(None), "h", &r("r2"), &placed));
        // With a minimum of 3 groups, seen values are refused until 3 groups exist.
        let two = [in_rack("a", "r1"), in_rack("b", "r2")];
        assert!(!check(c(Some("3")), "h", &r("r1"), &two));
        assert!(check(c(Some("3")), "h", &r("r3"), &two));
        assert!(check(c(Some("2")), "h", &r("r1"), &two));
        // Hostname grouping.
        assert!(!check(constraint("hostname", "GROUP_BY", None), "a", &[], &[on("a"), on("a"), on("b")]));
        assert!(check(constraint("hostname", "GROUP_BY", None), "b", &[], &[on("a"), on("a"), on("b")]));
    }

    #[test]
    fn max_per_counts() {
        let c = || constraint("rack", "MAX_PER", Some("2"));
        let r1 = [Attribute::new_text("rack", "r1")];
        assert!(check(c(), "h", &r1, &[in_rack("a", "r1"), in_rack("b", "r2")]));
        assert!(!check(c(), "h", &r1, &[in_rack("a", "r1"), in_rack("b", "r1")]));
        assert!(!check(constraint("hostname", "MAX_PER", Some("1")), "a", &[], &[on("a")]));
        assert!(check(constraint("hostname", "MAX_PER", Some("1")), "b", &[], &[on("a")]));
        assert!(!check(constraint("hostname", "MAX_PER", Some("x")), "b", &[], &[]));
    }

    #[test]
    fn all_constraints_and_failure_text() {
        let app =
            app_with(vec![constraint("hostname", "LIKE", Some("agent-.*")), constraint("hostname", "UNIQUE", None)]);
        assert_eq!(meets_constraints(&app, "agent-1", &[], &[]), Ok(()));
        assert_eq!(
            meets_constraints(&app, "agent-1", &[], &[on("agent-1")]),
            Err(r#"["hostname","UNIQUE"]"#.to_string())
        );
        assert_eq!(meets_constraints(&app, "other", &[], &[]), Err(r#"["hostname","LIKE","agent-.*"]"#.to_string()));
        assert!(!check(constraint("hostname", "IS", Some("a")), "a", &[], &[]), "unknown operator");
    }
}
