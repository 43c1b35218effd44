//! Resources and attributes: the v1 JSON wire types, a compact arithmetic model, text parsing and the
//! flat v0 JSON rendering used by `/state`.
//!
//! - [`Resource`] / [`Attribute`]: the v1 JSON objects as frameworks and operators see them.
//! - [`Resources`]: the internal model (one entry per name, reservation role and type) with exact
//!   arithmetic: scalars are kept in fixed point at three decimals, as Mesos does, so `0.1 + 0.2 == 0.3`;
//!   ranges are kept sorted and coalesced (overlapping and adjacent spans merge); sets are sorted.
//! - Text forms: `cpus:2;mem:1024;ports:[31000-32000];disks:{a,b}` with optional `name(role):value`
//!   reservations ([`Resources::parse_text`]) and `rack:r1;zone:a` attributes ([`parse_attributes`]).
//! - Agent defaults: [`default_agent_resources`] and [`merge_agent_resources`].
//!
//! Only what Mesos' allocator and task matching need is modelled: name, type, value and the
//! (static) reservation role. Disk, revocable, shared and provider information of v1 objects is not kept.

use crate::mesos::AllocationInfo;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Name of the port resource.
pub const PORTS: &str = "ports";

/// The resources every flat (v0) rendering contains, even when zero.
const V0_ALWAYS: [&str; 4] = ["cpus", "gpus", "mem", "disk"];

// ---------------------------------------------------------------------------------------------------------
// v1 wire types
// ---------------------------------------------------------------------------------------------------------

/// `Value.Type` of a resource or attribute.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ValueType {
    /// A number (`scalar.value`).
    #[default]
    Scalar,
    /// Integer ranges (`ranges.range[]`).
    Ranges,
    /// A set of strings (`set.item[]`).
    Set,
    /// A string (`text.value`); attributes only.
    Text,
}

/// `Value.Scalar`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq)]
pub struct Scalar {
    /// The number.
    pub value: f64,
}

/// `Value.Range`: the inclusive span `begin..=end`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    /// First value.
    pub begin: u64,
    /// Last value (inclusive).
    pub end: u64,
}

/// `Value.Ranges`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ValueRanges {
    /// The spans.
    #[serde(default)]
    pub range: Vec<Range>,
}

/// `Value.Set`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ValueSet {
    /// The items.
    #[serde(default)]
    pub item: Vec<String>,
}

/// `Value.Text`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    /// The string.
    pub value: String,
}

/// `Resource.ReservationInfo` (post-refinement format; one element per reservation level).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ReservationInfo {
    /// `STATIC` or `DYNAMIC`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Role reserved for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Principal that made a dynamic reservation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Labels (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Json>,
}

/// A v1 `Resource` object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Resource {
    /// Resource name (`cpus`, `mem`, `disk`, `ports`, `gpus`, ...).
    pub name: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: ValueType,
    /// Value of a SCALAR resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scalar: Option<Scalar>,
    /// Value of a RANGES resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<ValueRanges>,
    /// Value of a SET resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<ValueSet>,
    /// Reservation role in the pre-refinement format (`"*"` = unreserved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Role the resource is allocated to (offers, tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_info: Option<AllocationInfo>,
    /// Dynamic reservation details in the pre-refinement format (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<Json>,
    /// Reservation stack in the post-refinement format.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reservations: Vec<ReservationInfo>,
    /// Disk information (passed through, not modelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<Json>,
    /// Revocable marker (passed through, not modelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocable: Option<Json>,
    /// Shared marker (passed through, not modelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<Json>,
    /// Resource provider (passed through, not modelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<Json>,
}

impl Resource {
    /// The reservation role this object carries, if reserved: the last `reservations[].role`, else a
    /// `role` other than `"*"`.
    pub fn reservation_role(&self) -> Option<&str> {
        if let Some(role) = self.reservations.iter().rev().find_map(|r| r.role.as_deref()) {
            return Some(role).filter(|r| *r != "*");
        }
        self.role.as_deref().filter(|r| !r.is_empty() && *r != "*")
    }
}

/// A v1 `Attribute` object (agent attribute).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Attribute {
    /// Attribute name.
    pub name: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: ValueType,
    /// SCALAR value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scalar: Option<Scalar>,
    /// RANGES value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<ValueRanges>,
    /// SET value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<ValueSet>,
    /// TEXT value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
}

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

/// What went wrong parsing or computing with resources and attributes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// Resource text (or JSON) that cannot be parsed.
    #[error(
        "invalid resources '{input}': {reason}; expected 'name:value;...' (or 'name(role):value') with value \
         a number, [a-b,...] or {{a,b}}, or a JSON array of v1 Resource objects"
    )]
    Parse {
        /// The offending token (or whole input).
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A v1 Resource object that is not valid.
    #[error("invalid resource '{name}': {reason}")]
    InvalidResource {
        /// Resource name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An attribute token without `:` or with an empty name or value.
    #[error("Invalid attribute key:value pair '{0}'; expected 'name:value' pairs separated by ';' or newlines")]
    AttributePair(String),
    /// An attribute value that cannot be used.
    #[error("invalid attribute '{name}' value '{value}': {reason}; expected a number, [a-b,...] ranges or text")]
    AttributeValue {
        /// Attribute name.
        name: String,
        /// The value text.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A checked subtraction of resources that are not all there.
    #[error("insufficient resources: '{available}' does not contain '{requested}'")]
    Insufficient {
        /// What was asked for (text form).
        requested: String,
        /// What there is (text form).
        available: String,
    },
    /// Specific ports that are not available.
    #[error("ports {ports} are not available (available ports: {available})")]
    PortsUnavailable {
        /// The missing ports.
        ports: String,
        /// The ports there are.
        available: String,
    },
    /// Fewer free ports than requested.
    #[error("not enough ports: {requested} requested, {available} available")]
    NotEnoughPorts {
        /// Number of ports asked for.
        requested: usize,
        /// Number of free ports.
        available: u64,
    },
}

fn parse_error(input: &str, reason: impl Into<String>) -> ResourceError {
    ResourceError::Parse { input: input.to_string(), reason: reason.into() }
}

fn invalid(name: &str, reason: impl Into<String>) -> ResourceError {
    ResourceError::InvalidResource { name: name.to_string(), reason: reason.into() }
}

// ---------------------------------------------------------------------------------------------------------
// Fixed-point scalars
// ---------------------------------------------------------------------------------------------------------

/// Fixed-point scale: Mesos keeps three decimal digits of scalar precision.
const SCALE: f64 = 1000.0;

/// Largest magnitude kept exactly (well inside both `i64` and the exact `f64` integers).
const MAX_FIXED: f64 = 9.0e15;

/// A non-negative scalar amount in fixed point (thousandths), exact under addition and subtraction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fixed(i64);

impl Fixed {
    /// Zero.
    pub const ZERO: Fixed = Fixed(0);

    /// Rounds a float to three decimals; `None` if it is not finite or absurdly large.
    pub fn from_f64(value: f64) -> Option<Fixed> {
        if !value.is_finite() {
            return None;
        }
        let scaled = (value * SCALE).round();
        (scaled.abs() <= MAX_FIXED).then_some(Fixed(scaled as i64))
    }

    /// The amount in thousandths.
    pub fn milli(self) -> i64 {
        self.0
    }

    /// The amount as a float (exactly `milli / 1000` rounded to the nearest `f64`).
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / SCALE
    }

    fn saturating_add(self, other: Fixed) -> Fixed {
        Fixed(self.0.saturating_add(other.0))
    }

    fn saturating_sub(self, other: Fixed) -> Fixed {
        Fixed(self.0.saturating_sub(other.0).max(0))
    }
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_f64())
    }
}

/// Rounds a scalar to Mesos' three-decimal precision (non-finite values become 0).
pub fn round_scalar(value: f64) -> f64 {
    Fixed::from_f64(value).map(Fixed::as_f64).unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------------------------
// Ranges
// ---------------------------------------------------------------------------------------------------------

/// A normalised set of inclusive integer spans: sorted, disjoint and never adjacent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ranges {
    spans: Vec<(u64, u64)>,
}

impl Ranges {
    /// No values.
    pub fn new() -> Ranges {
        Ranges::default()
    }

    /// Builds from `(begin, end)` spans in any order; spans with `begin > end` are ignored.
    pub fn from_spans(spans: impl IntoIterator<Item = (u64, u64)>) -> Ranges {
        let mut spans: Vec<(u64, u64)> = spans.into_iter().filter(|(b, e)| b <= e).collect();
        spans.sort_unstable();
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(spans.len());
        for (b, e) in spans {
            match out.last_mut() {
                Some(last) if b <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => out.push((b, e)),
            }
        }
        Ranges { spans: out }
    }

    /// Builds from single values (e.g. port numbers).
    pub fn from_values(values: impl IntoIterator<Item = u64>) -> Ranges {
        Ranges::from_spans(values.into_iter().map(|v| (v, v)))
    }

    /// The spans, sorted.
    pub fn spans(&self) -> &[(u64, u64)] {
        &self.spans
    }

    /// Every value, ascending.
    pub fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.spans.iter().flat_map(|&(b, e)| b..=e)
    }

    /// True if there are no values.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Number of values (saturating).
    pub fn count(&self) -> u64 {
        self.spans.iter().fold(0u64, |n, &(b, e)| n.saturating_add(e - b).saturating_add(1))
    }

    /// True if `value` is in one of the spans.
    pub fn contains_value(&self, value: u64) -> bool {
        self.covering(value).is_some()
    }

    fn covering(&self, value: u64) -> Option<usize> {
        let idx = self.spans.partition_point(|&(_, e)| e < value);
        self.spans.get(idx).filter(|&&(b, _)| b <= value).map(|_| idx)
    }

    /// True if every value of `other` is in `self`.
    pub fn contains(&self, other: &Ranges) -> bool {
        other.spans.iter().all(|&(b, e)| match self.covering(b) {
            Some(i) => self.spans[i].1 >= e,
            None => false,
        })
    }

    /// Union.
    pub fn union(&self, other: &Ranges) -> Ranges {
        Ranges::from_spans(self.spans.iter().chain(other.spans.iter()).copied())
    }

    /// Values of `self` not in `other`.
    pub fn difference(&self, other: &Ranges) -> Ranges {
        let mut out = Vec::with_capacity(self.spans.len() + 1);
        let mut j = 0;
        for &(b, e) in &self.spans {
            let mut cur = b;
            let mut done = false;
            while j < other.spans.len() && other.spans[j].1 < cur {
                j += 1;
            }
            let mut k = j;
            while k < other.spans.len() && other.spans[k].0 <= e {
                let (ob, oe) = other.spans[k];
                if ob > cur {
                    out.push((cur, ob - 1));
                }
                if oe >= e {
                    done = true;
                    break;
                }
                cur = oe + 1;
                k += 1;
            }
            if !done {
                out.push((cur, e));
            }
        }
        Ranges { spans: out }
    }

    /// Values in both.
    pub fn intersection(&self, other: &Ranges) -> Ranges {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.spans.len() && j < other.spans.len() {
            let (a, b) = (self.spans[i], other.spans[j]);
            let lo = a.0.max(b.0);
            let hi = a.1.min(b.1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a.1 < b.1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Ranges { spans: out }
    }

    /// The `n` lowest values, or `None` if there are fewer.
    pub fn lowest(&self, n: u64) -> Option<Ranges> {
        let mut left = n;
        let mut out = Vec::new();
        for &(b, e) in &self.spans {
            if left == 0 {
                break;
            }
            let len = (e - b).saturating_add(1);
            if len >= left {
                out.push((b, b + (left - 1)));
                left = 0;
            } else {
                out.push((b, e));
                left -= len;
            }
        }
        (left == 0).then_some(Ranges { spans: out })
    }

    /// Text without spaces, as Marathon prints range attributes: `[1-2,5-9]`.
    pub fn to_compact_string(&self) -> String {
        let inner: Vec<String> = self.spans.iter().map(|(b, e)| format!("{b}-{e}")).collect();
        format!("[{}]", inner.join(","))
    }

    fn to_wire(&self) -> ValueRanges {
        ValueRanges { range: self.spans.iter().map(|&(begin, end)| Range { begin, end }).collect() }
    }

    fn from_wire(name: &str, wire: &ValueRanges) -> Result<Ranges, ResourceError> {
        if let Some(r) = wire.range.iter().find(|r| r.begin > r.end) {
            return Err(invalid(name, format!("range begin {} is greater than end {}", r.begin, r.end)));
        }
        Ok(Ranges::from_spans(wire.range.iter().map(|r| (r.begin, r.end))))
    }
}

/// The Mesos rendering: `[31000-32000, 33000-33010]`.
impl fmt::Display for Ranges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, (b, e)) in self.spans.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{b}-{e}")?;
        }
        f.write_str("]")
    }
}

fn set_to_string(items: &BTreeSet<String>) -> String {
    let inner: Vec<&str> = items.iter().map(String::as_str).collect();
    format!("{{{}}}", inner.join(", "))
}

// ---------------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------------

/// The value of one [`ResourceEntry`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResourceValue {
    /// An amount.
    Scalar(Fixed),
    /// Integer spans (ports).
    Ranges(Ranges),
    /// Named items.
    Set(BTreeSet<String>),
}

impl ResourceValue {
    /// The wire type of this value.
    pub fn kind(&self) -> ValueType {
        match self {
            ResourceValue::Scalar(_) => ValueType::Scalar,
            ResourceValue::Ranges(_) => ValueType::Ranges,
            ResourceValue::Set(_) => ValueType::Set,
        }
    }

    /// True for a zero scalar, no spans or no items.
    pub fn is_empty(&self) -> bool {
        match self {
            ResourceValue::Scalar(v) => v.0 <= 0,
            ResourceValue::Ranges(r) => r.is_empty(),
            ResourceValue::Set(s) => s.is_empty(),
        }
    }

    fn contains(&self, other: &ResourceValue) -> bool {
        match (self, other) {
            (ResourceValue::Scalar(a), ResourceValue::Scalar(b)) => a >= b,
            (ResourceValue::Ranges(a), ResourceValue::Ranges(b)) => a.contains(b),
            (ResourceValue::Set(a), ResourceValue::Set(b)) => b.is_subset(a),
            _ => other.is_empty(),
        }
    }

    fn add(&mut self, other: &ResourceValue) {
        match (self, other) {
            (ResourceValue::Scalar(a), ResourceValue::Scalar(b)) => *a = a.saturating_add(*b),
            (ResourceValue::Ranges(a), ResourceValue::Ranges(b)) => *a = a.union(b),
            (ResourceValue::Set(a), ResourceValue::Set(b)) => a.extend(b.iter().cloned()),
            _ => {}
        }
    }

    fn subtract(&mut self, other: &ResourceValue) {
        match (self, other) {
            (ResourceValue::Scalar(a), ResourceValue::Scalar(b)) => *a = a.saturating_sub(*b),
            (ResourceValue::Ranges(a), ResourceValue::Ranges(b)) => *a = a.difference(b),
            (ResourceValue::Set(a), ResourceValue::Set(b)) => a.retain(|i| !b.contains(i)),
            _ => {}
        }
    }

    /// Text form as in `--resources` and the v0 JSON strings: `2`, `[1-2, 4-5]`, `{a, b}`.
    fn text(&self) -> String {
        match self {
            ResourceValue::Scalar(v) => v.to_string(),
            ResourceValue::Ranges(r) => r.to_string(),
            ResourceValue::Set(s) => set_to_string(s),
        }
    }
}

/// One named resource with its reservation role (`None` = unreserved, `"*"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceEntry {
    name: String,
    role: Option<String>,
    value: ResourceValue,
}

impl ResourceEntry {
    /// An unreserved scalar; non-finite or negative amounts become zero (an empty entry).
    pub fn scalar(name: impl Into<String>, value: f64) -> ResourceEntry {
        let v = Fixed::from_f64(value).filter(|v| v.0 > 0).unwrap_or(Fixed::ZERO);
        ResourceEntry { name: name.into(), role: None, value: ResourceValue::Scalar(v) }
    }

    /// An unreserved ranges resource.
    pub fn ranges(name: impl Into<String>, ranges: Ranges) -> ResourceEntry {
        ResourceEntry { name: name.into(), role: None, value: ResourceValue::Ranges(ranges) }
    }

    /// An unreserved set resource.
    pub fn set<I, S>(name: impl Into<String>, items: I) -> ResourceEntry
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let items = items.into_iter().map(Into::into).collect();
        ResourceEntry { name: name.into(), role: None, value: ResourceValue::Set(items) }
    }

    /// The same entry reserved for `role` (`"*"` or empty means unreserved).
    pub fn reserved_for(mut self, role: &str) -> ResourceEntry {
        self.role = (!role.is_empty() && role != "*").then(|| role.to_string());
        self
    }

    /// Resource name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reservation role, `None` if unreserved.
    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }

    /// The value.
    pub fn value(&self) -> &ResourceValue {
        &self.value
    }

    /// True if a framework in `role` may be offered this entry: unreserved, or reserved for `role` or
    /// one of its ancestors (`a` for `a/b`).
    pub fn is_allocatable_to(&self, role: &str) -> bool {
        match &self.role {
            None => true,
            Some(r) => {
                role == r || (role.len() > r.len() && role.starts_with(r.as_str()) && role.as_bytes()[r.len()] == b'/')
            }
        }
    }

    fn key(&self) -> (&str, Option<&str>, ValueType) {
        (&self.name, self.role.as_deref(), self.value.kind())
    }

    fn to_v1(&self, format: ReservationFormat, allocation_role: Option<&str>) -> Resource {
        let mut r = Resource { name: self.name.clone(), kind: self.value.kind(), ..Resource::default() };
        match &self.value {
            ResourceValue::Scalar(v) => r.scalar = Some(Scalar { value: v.as_f64() }),
            ResourceValue::Ranges(v) => r.ranges = Some(v.to_wire()),
            ResourceValue::Set(v) => r.set = Some(ValueSet { item: v.iter().cloned().collect() }),
        }
        match format {
            ReservationFormat::PreRefinement => r.role = Some(self.role.clone().unwrap_or_else(|| "*".to_string())),
            ReservationFormat::PostRefinement => {
                if let Some(role) = &self.role {
                    r.reservations = vec![ReservationInfo {
                        kind: Some("STATIC".to_string()),
                        role: Some(role.clone()),
                        ..ReservationInfo::default()
                    }];
                }
            }
        }
        r.allocation_info = allocation_role.map(|role| AllocationInfo { role: role.to_string() });
        r
    }
}

/// How reservations are rendered in v1 JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReservationFormat {
    /// `role` is always set (`"*"` when unreserved): for frameworks without RESERVATION_REFINEMENT.
    PreRefinement,
    /// No `role`; reserved resources carry `reservations[{type:"STATIC",role}]`.
    PostRefinement,
}

/// A bag of resources with exact arithmetic.
///
/// Entries are kept sorted by (name, reservation role, type), one per key, and never empty (zero scalars,
/// empty ranges and empty sets are dropped), so `==` compares contents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    entries: Vec<ResourceEntry>,
}

impl Resources {
    /// No resources.
    pub fn new() -> Resources {
        Resources::default()
    }

    /// Parses the `--resources` text form `name[(role)]:value;...` (value `2.5`, `[a-b,c-d]` or `{a,b}`;
    /// spaces ignored; `;` or newline separated; repeated names add up), or a JSON array of v1 Resource
    /// objects when the text starts with `[`.
    pub fn parse_text(text: &str) -> Result<Resources, ResourceError> {
        let trimmed = text.trim();
        if trimmed.starts_with('[') {
            let wire: Vec<Resource> = serde_json::from_str(trimmed)
                .map_err(|e| parse_error(trimmed, format!("not a JSON array of Resource objects ({e})")))?;
            return Resources::from_v1(&wire);
        }
        let mut out = Resources::new();
        for token in trimmed.split([';', '\n']).map(str::trim).filter(|t| !t.is_empty()) {
            let (head, value) = token.split_once(':').ok_or_else(|| parse_error(token, "missing ':'"))?;
            let (name, role) = parse_name_and_role(token, head)?;
            let value = parse_resource_value(token, value)?;
            out.push_checked(ResourceEntry { name: name.to_string(), role: role.map(str::to_string), value })
                .map_err(|reason| parse_error(token, reason))?;
        }
        Ok(out)
    }

    /// Converts v1 Resource objects, validating types and values; unreserved unless they carry a
    /// reservation (`reservations[]` or a `role` other than `"*"`).
    pub fn from_v1(resources: &[Resource]) -> Result<Resources, ResourceError> {
        let mut out = Resources::new();
        for r in resources {
            if r.name.trim().is_empty() {
                return Err(invalid(&r.name, "empty name"));
            }
            let value = match r.kind {
                ValueType::Scalar => {
                    let s = r.scalar.ok_or_else(|| invalid(&r.name, "type SCALAR without 'scalar'"))?;
                    ResourceValue::Scalar(scalar_amount(s.value).map_err(|e| invalid(&r.name, e))?)
                }
                ValueType::Ranges => {
                    let wire = r.ranges.as_ref().ok_or_else(|| invalid(&r.name, "type RANGES without 'ranges'"))?;
                    ResourceValue::Ranges(Ranges::from_wire(&r.name, wire)?)
                }
                ValueType::Set => {
                    let wire = r.set.as_ref().ok_or_else(|| invalid(&r.name, "type SET without 'set'"))?;
                    ResourceValue::Set(wire.item.iter().cloned().collect())
                }
                ValueType::Text => return Err(invalid(&r.name, "resources cannot be of type TEXT")),
            };
            let entry = ResourceEntry { name: r.name.clone(), role: r.reservation_role().map(str::to_string), value };
            out.push_checked(entry).map_err(|reason| invalid(&r.name, reason))?;
        }
        Ok(out)
    }

    /// Renders as v1 Resource objects.
    pub fn to_v1(&self, format: ReservationFormat) -> Vec<Resource> {
        self.entries.iter().map(|e| e.to_v1(format, None)).collect()
    }

    /// Renders as v1 Resource objects allocated to `role` (`allocation_info.role`), as in offers and tasks.
    pub fn to_v1_allocated(&self, format: ReservationFormat, role: &str) -> Vec<Resource> {
        self.entries.iter().map(|e| e.to_v1(format, Some(role))).collect()
    }

    /// The flat v0 JSON object of `/state`: `{"cpus":4.0,"disk":35164.0,"gpus":0.0,"mem":15006.0,
    /// "ports":"[31000-32000]"}`. cpus, gpus, mem and disk are always present; reservations are summed in.
    pub fn to_v0_json(&self) -> Json {
        let mut map = Map::new();
        for name in V0_ALWAYS {
            map.insert(name.to_string(), Json::from(0.0));
        }
        for name in self.names() {
            let value = match self.merged(name) {
                Some(ResourceValue::Scalar(v)) => Json::from(v.as_f64()),
                Some(other) => Json::String(other.text()),
                None => continue,
            };
            map.insert(name.to_string(), value);
        }
        Json::Object(map)
    }

    /// The entries, sorted by name, role and type.
    pub fn entries(&self) -> &[ResourceEntry] {
        &self.entries
    }

    /// The distinct names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        let mut last: Option<&str> = None;
        self.entries.iter().filter_map(move |e| {
            let n = e.name.as_str();
            (last != Some(n)).then(|| {
                last = Some(n);
                n
            })
        })
    }

    /// True if there is nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total scalar amount named `name` across reservations (0 if absent).
    pub fn scalar(&self, name: &str) -> f64 {
        self.scalar_fixed(name).as_f64()
    }

    /// Like [`Resources::scalar`], in fixed point.
    pub fn scalar_fixed(&self, name: &str) -> Fixed {
        self.entries.iter().filter(|e| e.name == name).fold(Fixed::ZERO, |acc, e| match e.value {
            ResourceValue::Scalar(v) => acc.saturating_add(v),
            _ => acc,
        })
    }

    /// Union of the ranges named `name` across reservations.
    pub fn ranges(&self, name: &str) -> Ranges {
        match self.merged(name) {
            Some(ResourceValue::Ranges(r)) => r,
            _ => Ranges::new(),
        }
    }

    /// Union of the sets named `name` across reservations.
    pub fn set(&self, name: &str) -> BTreeSet<String> {
        match self.merged(name) {
            Some(ResourceValue::Set(s)) => s,
            _ => BTreeSet::new(),
        }
    }

    /// The free ports (`ports` ranges).
    pub fn ports(&self) -> Ranges {
        self.ranges(PORTS)
    }

    /// All values named `name` merged across reservations (first type found wins).
    fn merged(&self, name: &str) -> Option<ResourceValue> {
        let mut it = self.entries.iter().filter(|e| e.name == name);
        let mut acc = it.next()?.value.clone();
        for e in it {
            acc.add(&e.value);
        }
        Some(acc)
    }

    /// Adds one entry (merging with an existing entry of the same name, role and type).
    pub fn push(&mut self, entry: ResourceEntry) {
        if entry.value.is_empty() {
            return;
        }
        match self.entries.binary_search_by(|e| e.key().cmp(&entry.key())) {
            Ok(i) => self.entries[i].value.add(&entry.value),
            Err(i) => self.entries.insert(i, entry),
        }
    }

    /// [`Resources::push`], refusing a name already present with another type.
    fn push_checked(&mut self, entry: ResourceEntry) -> Result<(), String> {
        if let Some(other) = self.entries.iter().find(|e| e.name == entry.name && e.value.kind() != entry.value.kind())
        {
            return Err(format!(
                "'{}' is given both as {:?} and {:?}",
                entry.name,
                other.value.kind(),
                entry.value.kind()
            ));
        }
        self.push(entry);
        Ok(())
    }

    /// Builder form of [`Resources::push`].
    pub fn with(mut self, entry: ResourceEntry) -> Resources {
        self.push(entry);
        self
    }

    /// Adds everything in `other`.
    pub fn add(&mut self, other: &Resources) {
        for e in &other.entries {
            match self.entries.binary_search_by(|x| x.key().cmp(&e.key())) {
                Ok(i) => self.entries[i].value.add(&e.value),
                Err(i) => self.entries.insert(i, e.clone()),
            }
        }
    }

    /// True if every entry of `other` is covered by the entry of the same name, role and type here.
    pub fn contains(&self, other: &Resources) -> bool {
        other.entries.iter().all(|e| match self.entries.binary_search_by(|x| x.key().cmp(&e.key())) {
            Ok(i) => self.entries[i].value.contains(&e.value),
            Err(_) => e.value.is_empty(),
        })
    }

    /// Removes `other`; fails (leaving `self` unchanged) unless `self` contains it.
    pub fn subtract(&mut self, other: &Resources) -> Result<(), ResourceError> {
        if !self.contains(other) {
            return Err(ResourceError::Insufficient { requested: other.to_string(), available: self.to_string() });
        }
        self.subtract_saturating(other);
        Ok(())
    }

    /// `self - other`, failing unless `self` contains `other`.
    pub fn checked_sub(&self, other: &Resources) -> Result<Resources, ResourceError> {
        let mut out = self.clone();
        out.subtract(other)?;
        Ok(out)
    }

    /// `self - other`, ignoring what is not there (scalars stop at zero).
    pub fn saturating_sub(&self, other: &Resources) -> Resources {
        let mut out = self.clone();
        out.subtract_saturating(other);
        out
    }

    /// In-place [`Resources::saturating_sub`].
    pub fn subtract_saturating(&mut self, other: &Resources) {
        for e in &other.entries {
            if let Ok(i) = self.entries.binary_search_by(|x| x.key().cmp(&e.key())) {
                self.entries[i].value.subtract(&e.value);
                if self.entries[i].value.is_empty() {
                    self.entries.remove(i);
                }
            }
        }
    }

    /// True if some entry is reserved for a role.
    pub fn has_reservations(&self) -> bool {
        self.entries.iter().any(|e| e.role.is_some())
    }

    /// The distinct reservation roles, sorted.
    pub fn reservation_roles(&self) -> BTreeSet<&str> {
        self.entries.iter().filter_map(|e| e.role.as_deref()).collect()
    }

    /// The unreserved part.
    pub fn unreserved(&self) -> Resources {
        self.filter(|e| e.role.is_none())
    }

    /// The part reserved for exactly `role`.
    pub fn reserved(&self, role: &str) -> Resources {
        self.filter(|e| e.role.as_deref() == Some(role))
    }

    /// What a framework in `role` may be offered: unreserved plus reserved for `role` or its ancestors.
    pub fn allocatable_to(&self, role: &str) -> Resources {
        self.filter(|e| e.is_allocatable_to(role))
    }

    /// Like [`Resources::allocatable_to`] but borrows when nothing is reserved.
    pub fn allocatable_to_cow(&self, role: &str) -> Cow<'_, Resources> {
        if self.has_reservations() {
            Cow::Owned(self.allocatable_to(role))
        } else {
            Cow::Borrowed(self)
        }
    }

    /// The entries for which `keep` is true.
    pub fn filter(&self, keep: impl Fn(&ResourceEntry) -> bool) -> Resources {
        Resources { entries: self.entries.iter().filter(|e| keep(e)).cloned().collect() }
    }

    /// Removes the given port numbers (from whichever `ports` entries hold them, unreserved first) and
    /// returns them as resources; fails, leaving `self` unchanged, if any is not free.
    pub fn allocate_ports(&mut self, ports: &[u64]) -> Result<Resources, ResourceError> {
        self.take_port_ranges(Ranges::from_values(ports.iter().copied()))
    }

    /// Removes `n` free ports (the lowest ones) and returns them as resources; fails, leaving `self`
    /// unchanged, if there are fewer. Read the numbers with `taken.ports().values()`.
    pub fn take_ports(&mut self, n: usize) -> Result<Resources, ResourceError> {
        let free = self.ports();
        let chosen =
            free.lowest(n as u64).ok_or(ResourceError::NotEnoughPorts { requested: n, available: free.count() })?;
        self.take_port_ranges(chosen)
    }

    fn take_port_ranges(&mut self, wanted: Ranges) -> Result<Resources, ResourceError> {
        let mut remaining = wanted;
        let mut taken = Resources::new();
        for e in self.entries.iter().filter(|e| e.name == PORTS) {
            if let ResourceValue::Ranges(r) = &e.value {
                let hit = r.intersection(&remaining);
                if !hit.is_empty() {
                    remaining = remaining.difference(&hit);
                    taken.push(ResourceEntry {
                        name: PORTS.to_string(),
                        role: e.role.clone(),
                        value: ResourceValue::Ranges(hit),
                    });
                }
            }
        }
        if !remaining.is_empty() {
            return Err(ResourceError::PortsUnavailable {
                ports: remaining.to_string(),
                available: self.ports().to_string(),
            });
        }
        self.subtract_saturating(&taken);
        Ok(taken)
    }
}

impl FromIterator<ResourceEntry> for Resources {
    fn from_iter<T: IntoIterator<Item = ResourceEntry>>(iter: T) -> Resources {
        let mut out = Resources::new();
        for e in iter {
            out.push(e);
        }
        out
    }
}

/// The `--resources` text form, e.g. `cpus:2;mem:1024;ports:[31000-32000]` (reserved: `cpus(r):1`);
/// [`Resources::parse_text`] reads it back.
impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            f.write_str(&e.name)?;
            if let Some(role) = &e.role {
                write!(f, "({role})")?;
            }
            write!(f, ":{}", e.value.text())?;
        }
        Ok(())
    }
}

impl FromStr for Resources {
    type Err = ResourceError;

    fn from_str(s: &str) -> Result<Resources, ResourceError> {
        Resources::parse_text(s)
    }
}

fn parse_name_and_role<'a>(token: &str, head: &'a str) -> Result<(&'a str, Option<&'a str>), ResourceError> {
    let head = head.trim();
    let (name, role) = match head.split_once('(') {
        None => (head, None),
        Some((name, rest)) => {
            let role =
                rest.strip_suffix(')').ok_or_else(|| parse_error(token, "a role must be written 'name(role)'"))?.trim();
            if role.is_empty() || role.contains(['(', ')']) {
                return Err(parse_error(token, "a role must be written 'name(role)' with a non-empty role"));
            }
            (name.trim(), (role != "*").then_some(role))
        }
    };
    if name.is_empty() || name.contains([')', '[', ']', '{', '}', ',']) {
        return Err(parse_error(token, "missing or malformed resource name"));
    }
    Ok((name, role))
}

fn scalar_amount(value: f64) -> Result<Fixed, String> {
    if value < 0.0 {
        return Err(format!("scalar value {value} is negative"));
    }
    Fixed::from_f64(value).ok_or_else(|| format!("scalar value {value} is not a finite number"))
}

/// Parses a resource value the way Mesos does: spaces are ignored; `[` starts ranges, `{` a set, else a
/// number (text is not a resource value).
fn parse_resource_value(token: &str, raw: &str) -> Result<ResourceValue, ResourceError> {
    let text: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if text.is_empty() {
        return Err(parse_error(token, "empty value"));
    }
    if text.starts_with('[') {
        return parse_ranges_text(&text).map(ResourceValue::Ranges).map_err(|r| parse_error(token, r));
    }
    if let Some(inner) = text.strip_prefix('{') {
        let inner = inner.strip_suffix('}').ok_or_else(|| parse_error(token, "set is missing its closing '}'"))?;
        let items: Vec<&str> = if inner.is_empty() { Vec::new() } else { inner.split(',').collect() };
        if items.iter().any(|i| i.is_empty() || i.contains(['{', '}', '[', ']'])) {
            return Err(parse_error(token, format!("malformed set '{text}'")));
        }
        return Ok(ResourceValue::Set(items.into_iter().map(str::to_string).collect()));
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => scalar_amount(v).map(ResourceValue::Scalar).map_err(|r| parse_error(token, r)),
        _ => Err(parse_error(token, format!("value '{text}' is not a number, [a-b,...] ranges or {{a,b}} set"))),
    }
}

/// Parses `[a-b,c-d]` (spaces already removed).
fn parse_ranges_text(text: &str) -> Result<Ranges, String> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| format!("ranges '{text}' must be written [a-b,c-d]"))?;
    if inner.is_empty() {
        return Ok(Ranges::new());
    }
    let mut spans = Vec::new();
    for part in inner.split(',') {
        let (b, e) = part.split_once('-').ok_or_else(|| format!("range '{part}' in '{text}' must be written a-b"))?;
        let parse = |s: &str| {
            s.parse::<u64>().map_err(|_| format!("range bound '{s}' in '{text}' is not a non-negative integer"))
        };
        let (b, e) = (parse(b)?, parse(e)?);
        if b > e {
            return Err(format!("range '{part}' in '{text}' has begin > end"));
        }
        spans.push((b, e));
    }
    Ok(Ranges::from_spans(spans))
}

// ---------------------------------------------------------------------------------------------------------
// Agent resources
// ---------------------------------------------------------------------------------------------------------

const GB_IN_MB: u64 = 1024;

/// What an agent offers when `--resources` does not say: `cpus` = number of cores; `mem` = total − 1 GB
/// (half if total < 2 GB); `disk` = size − 5 GB (half if size < 10 GB); `ports` = `[31000-32000]`.
pub fn default_agent_resources(cpus: usize, mem_total_mb: u64, disk_total_mb: u64) -> Resources {
    let mem = if mem_total_mb >= 2 * GB_IN_MB { (mem_total_mb - GB_IN_MB) as f64 } else { mem_total_mb as f64 / 2.0 };
    let disk =
        if disk_total_mb >= 10 * GB_IN_MB { (disk_total_mb - 5 * GB_IN_MB) as f64 } else { disk_total_mb as f64 / 2.0 };
    Resources::new()
        .with(ResourceEntry::scalar("cpus", cpus as f64))
        .with(ResourceEntry::scalar("mem", mem))
        .with(ResourceEntry::scalar("disk", disk))
        .with(ResourceEntry::ranges(PORTS, Ranges::from_spans([(31000, 32000)])))
}

/// An agent's total: the explicit `--resources`, plus every detected resource whose name the explicit
/// ones do not mention (explicit names override detected ones, whatever their role).
pub fn merge_agent_resources(explicit: &Resources, detected: &Resources) -> Resources {
    let mut out = explicit.clone();
    for e in detected.entries() {
        if !explicit.entries().iter().any(|x| x.name == e.name) {
            out.push(e.clone());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Attributes
// ---------------------------------------------------------------------------------------------------------

/// Parses `--attributes`: `name:value` pairs separated by `;` or newlines. A value is SCALAR if numeric,
/// RANGES if `[a-b,...]`, TEXT otherwise (spaces are dropped, as Mesos does); sets are rejected.
pub fn parse_attributes(text: &str) -> Result<Vec<Attribute>, ResourceError> {
    let mut out = Vec::new();
    for token in text.split([';', '\n']).filter(|t| !t.is_empty()) {
        let (name, value) = match token.split_once(':') {
            Some((n, v)) if !n.is_empty() && !v.is_empty() => (n, v),
            _ => return Err(ResourceError::AttributePair(token.to_string())),
        };
        out.push(parse_attribute(name, value)?);
    }
    Ok(out)
}

fn parse_attribute(name: &str, raw: &str) -> Result<Attribute, ResourceError> {
    let value: String = raw.chars().filter(|&c| c != ' ').collect();
    let bad = |reason: &str| ResourceError::AttributeValue {
        name: name.to_string(),
        value: raw.to_string(),
        reason: reason.to_string(),
    };
    if value.is_empty() {
        return Err(bad("empty value"));
    }
    if value.starts_with('[') {
        let ranges = parse_ranges_text(&value).map_err(|r| bad(&r))?;
        return Ok(Attribute::new_ranges(name, &ranges));
    }
    if value.starts_with('{') {
        return Err(bad("SET attributes are not supported"));
    }
    if value.contains(['[', ']', '{', '}']) {
        return Err(bad("unexpected bracket"));
    }
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Attribute::new_scalar(name, v)),
        _ => Ok(Attribute::new_text(name, value)),
    }
}

impl Attribute {
    /// A TEXT attribute.
    pub fn new_text(name: impl Into<String>, value: impl Into<String>) -> Attribute {
        Attribute {
            name: name.into(),
            kind: ValueType::Text,
            text: Some(Text { value: value.into() }),
            ..Attribute::default()
        }
    }

    /// A SCALAR attribute (rounded to three decimals).
    pub fn new_scalar(name: impl Into<String>, value: f64) -> Attribute {
        Attribute {
            name: name.into(),
            kind: ValueType::Scalar,
            scalar: Some(Scalar { value: round_scalar(value) }),
            ..Attribute::default()
        }
    }

    /// A RANGES attribute.
    pub fn new_ranges(name: impl Into<String>, ranges: &Ranges) -> Attribute {
        Attribute { name: name.into(), kind: ValueType::Ranges, ranges: Some(ranges.to_wire()), ..Attribute::default() }
    }

    /// The value for the flat v0 JSON: a number for SCALAR, else a string (`[a-b, c-d]`, `{a, b}`, text).
    pub fn v0_value(&self) -> Json {
        match self.kind {
            ValueType::Scalar => Json::from(self.scalar.map(|s| s.value).unwrap_or(0.0)),
            ValueType::Ranges => Json::String(self.wire_ranges().to_string()),
            ValueType::Set => Json::String(set_to_string(&self.wire_set())),
            ValueType::Text => Json::String(self.text.as_ref().map(|t| t.value.clone()).unwrap_or_default()),
        }
    }

    /// The value as Marathon constraints compare it: SCALAR formatted like Java's default `NumberFormat`
    /// (`1,234.5`, at most 3 decimals), RANGES `[1-2,5-9]`, SET `{a,b}`, TEXT as is.
    pub fn value_text(&self) -> String {
        match self.kind {
            ValueType::Scalar => java_number_format(self.scalar.map(|s| s.value).unwrap_or(0.0)),
            ValueType::Ranges => self.wire_ranges().to_compact_string(),
            ValueType::Set => {
                let items: Vec<String> = self.wire_set().into_iter().collect();
                format!("{{{}}}", items.join(","))
            }
            ValueType::Text => self.text.as_ref().map(|t| t.value.clone()).unwrap_or_default(),
        }
    }

    fn wire_ranges(&self) -> Ranges {
        self.ranges.as_ref().map(|r| Ranges::from_spans(r.range.iter().map(|x| (x.begin, x.end)))).unwrap_or_default()
    }

    fn wire_set(&self) -> BTreeSet<String> {
        self.set.as_ref().map(|s| s.item.iter().cloned().collect()).unwrap_or_default()
    }
}

/// The flat v0 JSON object of agent attributes: `{"rack":"r1","level":2.0}`.
pub fn attributes_to_v0(attributes: &[Attribute]) -> Json {
    Json::Object(attributes.iter().map(|a| (a.name.clone(), a.v0_value())).collect())
}

/// Java `NumberFormat.getInstance()` (en-US): grouping commas, at most three decimals, no trailing zeros.
fn java_number_format(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let fixed = format!("{:.3}", value.abs());
    let (int, frac) = fixed.split_once('.').unwrap_or((fixed.as_str(), ""));
    let frac = frac.trim_end_matches('0');
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if value.is_sign_negative() && (int != "0" || !frac.is_empty()) { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

// ---------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(text: &str) -> Resources {
        Resources::parse_text(text).expect("valid resources")
    }

    #[test]
    fn parses_text_form() {
        let r = res("cpus:2;mem:1024;disk:10000;ports:[31000-32000]");
        assert_eq!(r.scalar("cpus"), 2.0);
        assert_eq!(r.scalar("mem"), 1024.0);
        assert_eq!(r.scalar("disk"), 10000.0);
        assert_eq!(r.ports(), Ranges::from_spans([(31000, 32000)]));
        assert_eq!(r.scalar("gpus"), 0.0);
        assert_eq!(r.to_string(), "cpus:2;disk:10000;mem:1024;ports:[31000-32000]");
        assert_eq!(res(&r.to_string()), r);
    }

    #[test]
    fn parses_roles_sets_spaces_and_repeats() {
        let r = res(" cpus(web):1.5 ; cpus:0.5;cpus(*):1;disks:{ a , b };ports:[1-2, 3-5,10-12]\nmem:8");
        assert_eq!(r.scalar("cpus"), 3.0);
        assert_eq!(r.reserved("web").scalar("cpus"), 1.5);
        assert_eq!(r.unreserved().scalar("cpus"), 1.5);
        assert_eq!(r.set("disks"), ["a", "b"].iter().map(|s| s.to_string()).collect());
        assert_eq!(r.ports().spans(), &[(1, 5), (10, 12)]);
        assert_eq!(r.scalar("mem"), 8.0);
        assert_eq!(r.reservation_roles().into_iter().collect::<Vec<_>>(), vec!["web"]);
        assert_eq!(res(&r.to_string()), r);
        assert!(res("").is_empty());
        assert!(res("cpus:0").is_empty(), "zero scalars are dropped");
    }

    #[test]
    fn rejects_bad_text_with_expected_form() {
        for bad in [
            "cpus",
            "cpus:abc",
            "cpus:-1",
            ":2",
            "cpus(:2",
            "cpus():2",
            "ports:[1-]",
            "ports:[5-1]",
            "ports:[1-2",
            "s:{a,b",
            "cpus:nan",
            "x:1;x:[1-2]",
            "[{\"name\":1}]",
        ] {
            let err = Resources::parse_text(bad).expect_err(bad);
            let msg = err.to_string();
            assert!(msg.contains("expected 'name:value;...'") || msg.contains("invalid resource"), "{bad}: {msg}");
        }
        let msg = Resources::parse_text("cpus:abc").unwrap_err().to_string();
        assert!(msg.contains("'abc' is not a number, [a-b,...] ranges or {a,b} set"), "{msg}");
        assert!(msg.contains("with value a number, [a-b,...] or {a,b}"), "{msg}");
    }

    #[test]
    fn parses_json_array_form() {
        let text = r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":2}},
                       {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31010}]},"role":"*"},
                       {"name":"mem","type":"SCALAR","scalar":{"value":64},
                        "reservations":[{"type":"STATIC","role":"db"}]}]"#;
        let r = res(text);
        assert_eq!(r.scalar("cpus"), 2.0);
        assert_eq!(r.ports().count(), 11);
        assert_eq!(r.reserved("db").scalar("mem"), 64.0);
        assert!(Resources::parse_text(r#"[{"name":"x","type":"TEXT"}]"#).is_err());
        assert!(Resources::parse_text(r#"[{"name":"x","type":"SCALAR"}]"#).is_err());
        assert!(Resources::parse_text(r#"[{"name":"x","type":"SCALAR","scalar":{"value":-1}}]"#).is_err());
    }

    #[test]
    fn fixed_point_rounding() {
        let mut a = res("cpus:0.1");
        a.add(&res("cpus:0.2"));
        assert_eq!(a, res("cpus:0.3"));
        assert_eq!(a.scalar("cpus"), 0.3);
        assert_eq!(res("cpus:0.0001").scalar("cpus"), 0.0);
        assert_eq!(res("cpus:1.0005").scalar("cpus"), 1.001);
        let mut b = res("cpus:0.3");
        b.subtract(&res("cpus:0.1")).unwrap();
        b.subtract(&res("cpus:0.2")).unwrap();
        assert!(b.is_empty());
        assert_eq!(round_scalar(0.1 + 0.2), 0.3);
    }

    #[test]
    fn add_subtract_contains() {
        let total = res("cpus:4;mem:1024;ports:[31000-31009];s:{a,b,c}");
        let part = res("cpus:1.5;mem:1000;ports:[31002-31003];s:{b}");
        assert!(total.contains(&part));
        assert!(!part.contains(&total));
        let rest = total.checked_sub(&part).unwrap();
        assert_eq!(rest, res("cpus:2.5;mem:24;ports:[31000-31001,31004-31009];s:{a,c}"));
        let mut back = rest.clone();
        back.add(&part);
        assert_eq!(back, total);
        let too_much = res("cpus:5");
        let err = total.checked_sub(&too_much).unwrap_err();
        assert!(matches!(err, ResourceError::Insufficient { .. }));
        let mut unchanged = total.clone();
        assert!(unchanged.subtract(&res("cpus:1;gpus:1")).is_err());
        assert_eq!(unchanged, total);
        assert_eq!(total.saturating_sub(&res("cpus:9;gpus:1")), res("mem:1024;ports:[31000-31009];s:{a,b,c}"));
        // Reservations are distinct from unreserved resources.
        assert!(!res("cpus:4").contains(&res("cpus(r):1")));
        assert!(Resources::new().contains(&Resources::new()));
    }

    #[test]
    fn range_normalisation_and_ops() {
        let r = Ranges::from_spans([(10, 20), (1, 3), (4, 5), (15, 25), (30, 30), (9, 2)]);
        assert_eq!(r.spans(), &[(1, 5), (10, 25), (30, 30)]);
        assert_eq!(r.to_string(), "[1-5, 10-25, 30-30]");
        assert_eq!(r.to_compact_string(), "[1-5,10-25,30-30]");
        assert_eq!(r.count(), 5 + 16 + 1);
        assert!(r.contains(&Ranges::from_spans([(2, 4), (12, 20)])));
        assert!(!r.contains(&Ranges::from_spans([(5, 10)])));
        assert_eq!(r.difference(&Ranges::from_spans([(3, 12), (25, 40)])).spans(), &[(1, 2), (13, 24)]);
        assert_eq!(r.intersection(&Ranges::from_spans([(4, 11), (29, 31)])).spans(), &[(4, 5), (10, 11), (30, 30)]);
        assert_eq!(r.lowest(7).unwrap().spans(), &[(1, 5), (10, 11)]);
        assert!(r.lowest(100).is_none());
        assert_eq!(Ranges::from_spans([(u64::MAX - 1, u64::MAX), (0, 0)]).count(), 3);
        assert_eq!(Ranges::from_values([5, 3, 4, 9]).spans(), &[(3, 5), (9, 9)]);
    }

    #[test]
    fn port_operations() {
        let mut r = res("cpus:1;ports:[31000-31004];ports(web):[80-80]");
        let got = r.allocate_ports(&[31001, 80]).unwrap();
        assert_eq!(got.ports(), Ranges::from_values([80, 31001]));
        assert_eq!(got.reserved("web").ports(), Ranges::from_values([80]));
        assert_eq!(r.ports().spans(), &[(31000, 31000), (31002, 31004)]);
        let before = r.clone();
        let err = r.allocate_ports(&[31000, 31001]).unwrap_err();
        assert!(err.to_string().contains("[31001-31001]"), "{err}");
        assert_eq!(r, before);
        let taken = r.take_ports(2).unwrap();
        assert_eq!(taken.ports().values().collect::<Vec<_>>(), vec![31000, 31002]);
        assert_eq!(r.ports().spans(), &[(31003, 31004)]);
        assert_eq!(r.take_ports(3).unwrap_err(), ResourceError::NotEnoughPorts { requested: 3, available: 2 });
        assert!(r.take_ports(0).unwrap().is_empty());
    }

    #[test]
    fn v1_json_round_trip_and_formats() {
        let r = res("cpus:2;cpus(web):1;ports:[31000-32000];s:{a}");
        let pre = serde_json::to_value(r.to_v1(ReservationFormat::PreRefinement)).unwrap();
        assert_eq!(pre[0], json!({"name":"cpus","type":"SCALAR","scalar":{"value":2.0},"role":"*"}));
        assert_eq!(pre[1], json!({"name":"cpus","type":"SCALAR","scalar":{"value":1.0},"role":"web"}));
        assert_eq!(pre[2]["ranges"], json!({"range":[{"begin":31000,"end":32000}]}));
        assert_eq!(pre[3]["set"], json!({"item":["a"]}));
        let post = serde_json::to_value(r.to_v1_allocated(ReservationFormat::PostRefinement, "web")).unwrap();
        assert_eq!(
            post[1],
            json!({"name":"cpus","type":"SCALAR","scalar":{"value":1.0},"allocation_info":{"role":"web"},
                   "reservations":[{"type":"STATIC","role":"web"}]})
        );
        assert!(post[0].get("role").is_none());
        for format in [ReservationFormat::PreRefinement, ReservationFormat::PostRefinement] {
            let wire: Vec<Resource> = serde_json::from_value(serde_json::to_value(r.to_v1(format)).unwrap()).unwrap();
            assert_eq!(Resources::from_v1(&wire).unwrap(), r);
        }
    }

    #[test]
    fn v0_flat_rendering() {
        let r = res("cpus:4;mem:15006;disk:35164;ports:[31000-32000,33000-33010];s:{b,a};cpus(r):1");
        assert_eq!(
            r.to_v0_json(),
            json!({"cpus":5.0,"gpus":0.0,"mem":15006.0,"disk":35164.0,
                   "ports":"[31000-32000, 33000-33010]","s":"{a, b}"})
        );
        assert_eq!(
            serde_json::to_string(&Resources::new().to_v0_json()).unwrap(),
            r#"{"cpus":0.0,"disk":0.0,"gpus":0.0,"mem":0.0}"#
        );
    }

    #[test]
    fn allocatable_to_roles() {
        let r = res("cpus:1;cpus(a):2;cpus(a/b):4;cpus(c):8");
        assert_eq!(r.allocatable_to("a").scalar("cpus"), 3.0);
        assert_eq!(r.allocatable_to("a/b/c").scalar("cpus"), 7.0);
        assert_eq!(r.allocatable_to("ab").scalar("cpus"), 1.0);
        assert_eq!(r.allocatable_to("*").scalar("cpus"), 1.0);
        assert!(matches!(r.allocatable_to_cow("a"), Cow::Owned(_)));
        assert!(matches!(res("cpus:1").allocatable_to_cow("a"), Cow::Borrowed(_)));
    }

    #[test]
    fn agent_defaults_and_merge() {
        let d = default_agent_resources(4, 16030, 40284);
        assert_eq!(d.to_v0_json(), json!({"cpus":4.0,"gpus":0.0,"mem":15006.0,"disk":35164.0,"ports":"[31000-32000]"}));
        let small = default_agent_resources(1, 1025, 9000);
        assert_eq!(small.scalar("mem"), 512.5);
        assert_eq!(small.scalar("disk"), 4500.0);
        let edge = default_agent_resources(2, 2048, 10240);
        assert_eq!((edge.scalar("mem"), edge.scalar("disk")), (1024.0, 5120.0));
        let explicit = res("cpus(r):1;mem:512;gpus:1");
        let merged = merge_agent_resources(&explicit, &d);
        assert_eq!(merged, res("cpus(r):1;mem:512;gpus:1;disk:35164;ports:[31000-32000]"));
    }

    #[test]
    fn parses_attributes() {
        let attrs = parse_attributes("rack:r1;zone:a\nlevel:2.5;ports:[1-2,4-5];host: my host;n:1e3").unwrap();
        let v: Vec<(&str, ValueType)> = attrs.iter().map(|a| (a.name.as_str(), a.kind)).collect();
        assert_eq!(
            v,
            vec![
                ("rack", ValueType::Text),
                ("zone", ValueType::Text),
                ("level", ValueType::Scalar),
                ("ports", ValueType::Ranges),
                ("host", ValueType::Text),
                ("n", ValueType::Scalar),
            ]
        );
        assert_eq!(attrs[4].text.as_ref().unwrap().value, "myhost");
        assert_eq!(
            attributes_to_v0(&attrs),
            json!({"rack":"r1","zone":"a","level":2.5,"ports":"[1-2, 4-5]","host":"myhost","n":1000.0})
        );
        assert_eq!(
            serde_json::to_value(&attrs[0]).unwrap(),
            json!({"name":"rack","type":"TEXT","text":{"value":"r1"}})
        );
        assert_eq!(
            serde_json::to_value(&attrs[2]).unwrap(),
            json!({"name":"level","type":"SCALAR","scalar":{"value":2.5}})
        );
        assert!(parse_attributes("").unwrap().is_empty());
        assert_eq!(parse_attributes("a:1;;b:2").unwrap().len(), 2);
    }

    #[test]
    fn rejects_bad_attributes() {
        for (bad, token) in [("rack", "rack"), (":x", ":x"), ("rack:", "rack:"), ("a:1;zone", "zone")] {
            let err = parse_attributes(bad).unwrap_err();
            assert_eq!(err, ResourceError::AttributePair(token.to_string()));
            assert!(err.to_string().starts_with(&format!("Invalid attribute key:value pair '{token}'")));
        }
        assert!(matches!(parse_attributes("disks:{a,b}"), Err(ResourceError::AttributeValue { .. })));
        assert!(matches!(parse_attributes("p:[1-x]"), Err(ResourceError::AttributeValue { .. })));
        // A second ':' belongs to the value.
        assert_eq!(parse_attributes("url:a:b").unwrap()[0].text.as_ref().unwrap().value, "a:b");
    }

    #[test]
    fn attribute_value_text_like_marathon() {
        assert_eq!(Attribute::new_scalar("x", 1.0).value_text(), "1");
        assert_eq!(Attribute::new_scalar("x", 2.5).value_text(), "2.5");
        assert_eq!(Attribute::new_scalar("x", 1234567.891).value_text(), "1,234,567.891");
        assert_eq!(Attribute::new_scalar("x", 1000.0).value_text(), "1,000");
        assert_eq!(Attribute::new_scalar("x", 0.25).value_text(), "0.25");
        assert_eq!(Attribute::new_scalar("x", -12.0).value_text(), "-12");
        assert_eq!(Attribute::new_text("x", "r1").value_text(), "r1");
        assert_eq!(Attribute::new_ranges("x", &Ranges::from_spans([(5, 9), (1, 2)])).value_text(), "[1-2,5-9]");
        let set = Attribute {
            name: "s".into(),
            kind: ValueType::Set,
            set: Some(ValueSet { item: vec!["b".into(), "a".into()] }),
            ..Attribute::default()
        };
        assert_eq!(set.value_text(), "{a,b}");
        assert_eq!(set.v0_value(), json!("{a, b}"));
    }

    #[test]
    fn wire_resource_deserialises_with_unknown_fields() {
        let r: Resource = serde_json::from_value(json!({
            "name":"disk","type":"SCALAR","scalar":{"value":10.0},"role":"*",
            "disk":{"persistence":{"id":"x"}},"foo":1
        }))
        .unwrap();
        assert_eq!(r.reservation_role(), None);
        assert!(r.disk.is_some());
        assert_eq!(Resources::from_v1(&[r]).unwrap(), res("disk:10"));
    }
}
