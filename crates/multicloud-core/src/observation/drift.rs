//! [`Drift`]: how a live resource differs from what the stack applies, field by field
//! (`spec.replicas: 2 -> 5`), as the plan shows it and `up` repairs it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a field reads as when it is not there at all.
const NONE: &str = "(none)";

/// One field of a live resource that is not what the stack applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDrift {
    /// The field, as a path (`spec.replicas`, `spec.template.spec.containers[api].image`,
    /// `routes[0.0.0.0/0]`).
    pub field: String,
    /// What the stack applies there (`None`: nothing).
    pub expected: Option<String>,
    /// What the live resource has there (`None`: nothing, the field or item is missing).
    pub live: Option<String>,
    /// Who or what changed it, when known (`managed by kubectl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The field cannot be changed in place: repairing it replaces the resource.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replaces: bool,
}

impl FieldDrift {
    /// `field` is `live` where the stack applies `expected`.
    pub fn changed(
        field: impl Into<String>,
        expected: impl fmt::Display,
        live: impl fmt::Display,
    ) -> Self {
        Self {
            field: field.into(),
            expected: Some(expected.to_string()),
            live: Some(live.to_string()),
            note: None,
            replaces: false,
        }
    }

    /// `field` (a setting, a rule, a route) the stack applies as `expected` is missing.
    pub fn missing(field: impl Into<String>, expected: impl fmt::Display) -> Self {
        Self {
            field: field.into(),
            expected: Some(expected.to_string()),
            live: None,
            note: None,
            replaces: false,
        }
    }

    /// A drift of `field` when `live` is not `expected`.
    pub fn compare<T: PartialEq + fmt::Display + ?Sized>(
        field: &str,
        expected: &T,
        live: &T,
    ) -> Option<Self> {
        (expected != live).then(|| Self::changed(field, expected, live))
    }

    /// A drift of `field` when `live` (`None`: the resource does not say) is not
    /// `expected`.
    pub fn compare_live<T: PartialEq + fmt::Display + ?Sized>(
        field: &str,
        expected: &T,
        live: Option<&T>,
    ) -> Option<Self> {
        match live {
            Some(live) => Self::compare(field, expected, live),
            None => Some(Self::missing(field, expected)),
        }
    }

    /// The same drift, which replaces the resource.
    #[must_use]
    pub fn replacing(mut self) -> Self {
        self.replaces = true;
        self
    }

    /// The same drift with a note (`managed by kubectl`).
    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

impl fmt::Display for FieldDrift {
    /// `field: expected -> live`, or `field: value (note)` when only the note differs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expected = self.expected.as_deref().unwrap_or(NONE);
        let live = self.live.as_deref().unwrap_or(NONE);
        if self.expected == self.live {
            write!(f, "{}: {expected}", self.field)?;
        } else {
            write!(f, "{}: {expected} -> {live}", self.field)?;
        }
        if let Some(note) = &self.note {
            write!(f, " ({note})")?;
        }
        if self.replaces {
            f.write_str(" [forces replacement]")?;
        }
        Ok(())
    }
}

/// How a live resource differs from what the stack applies: one [`FieldDrift`] per field,
/// never none (a resource without drift has no `Drift`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Drift {
    fields: Vec<FieldDrift>,
}

impl Drift {
    /// The drift of these fields; `None` when there are none.
    pub fn of(fields: impl IntoIterator<Item = FieldDrift>) -> Option<Self> {
        let fields: Vec<FieldDrift> = fields.into_iter().collect();
        (!fields.is_empty()).then_some(Self { fields })
    }

    /// A drift of one field.
    pub fn field(field: FieldDrift) -> Self {
        Self {
            fields: vec![field],
        }
    }

    /// The fields that drifted.
    pub fn fields(&self) -> &[FieldDrift] {
        &self.fields
    }

    /// Whether repairing it replaces the resource (a field that cannot change in place).
    pub fn requires_replacement(&self) -> bool {
        self.fields.iter().any(|f| f.replaces)
    }

    /// Both drifts (either may be none).
    pub fn join(a: Option<Drift>, b: Option<Drift>) -> Option<Drift> {
        match (a, b) {
            (Some(mut a), Some(b)) => {
                a.fields.extend(b.fields);
                Some(a)
            }
            (a, b) => a.or(b),
        }
    }
}

impl fmt::Display for Drift {
    /// The fields, `; `-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{field}")?;
        }
        Ok(())
    }
}

/// How [`json_drift`] compares two JSON documents.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonCompare {
    /// Strings compare without regard to ASCII case (ARM normalizes enum values' casing).
    pub ignore_case: bool,
}

/// The drift of `live` from `desired` at each of `pointers` (JSON pointers,
/// `/properties/subnets`): every value `desired` sets there must hold in `live`; what `live`
/// adds (read-only properties, defaults) is not drift, nor is a pointer `live` does not
/// return at all. Arrays of objects with a `name` are matched by name
/// (`properties.subnets[db].properties.addressPrefix`), other arrays item by item.
pub fn json_drift(
    pointers: &[&str],
    desired: &Value,
    live: &Value,
    how: JsonCompare,
) -> Option<Drift> {
    let mut out = Vec::new();
    for p in pointers {
        if let (Some(want), Some(have)) = (desired.pointer(p), live.pointer(p)) {
            subset(&pointer_path(p), want, have, how, &mut out);
        }
    }
    Drift::of(out)
}

/// `properties.addressSpace` of `/properties/addressSpace`.
pub fn pointer_path(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// A JSON value as a drift shows it: strings bare, the rest as compact JSON.
pub fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Adds to `out` where `have` does not hold what `want` sets, at `path`.
fn subset(path: &str, want: &Value, have: &Value, how: JsonCompare, out: &mut Vec<FieldDrift>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => {
            for (k, v) in w {
                match h.get(k) {
                    Some(hv) => subset(&join(k), v, hv, how, out),
                    None if v.is_null() => {}
                    None => out.push(FieldDrift::missing(join(k), render(v))),
                }
            }
        }
        (Value::Array(w), Value::Array(h)) if w.iter().all(named) && !w.is_empty() => {
            for item in w {
                let name = item.get("name").map(render).unwrap_or_default();
                let here = format!("{path}[{name}]");
                match h.iter().find(|x| x.get("name") == item.get("name")) {
                    Some(found) => subset(&here, item, found, how, out),
                    None => out.push(FieldDrift::missing(here, "present")),
                }
            }
        }
        (Value::Array(w), Value::Array(h))
            if w.len() == h.len() && w.iter().all(Value::is_object) =>
        {
            for (i, (wi, hi)) in w.iter().zip(h).enumerate() {
                subset(&format!("{path}[{i}]"), wi, hi, how, out);
            }
        }
        (Value::String(w), Value::String(h)) if how.ignore_case && w.eq_ignore_ascii_case(h) => {}
        (Value::Array(w), Value::Array(h)) if how.ignore_case && same_ignoring_case(w, h) => {}
        (w, h) if w == h => {}
        (w, h) => out.push(FieldDrift::changed(path, render(w), render(h))),
    }
}

/// An object with a `name`.
fn named(v: &Value) -> bool {
    v.get("name").is_some_and(Value::is_string)
}

/// Arrays equal but for the ASCII case of their strings.
fn same_ignoring_case(w: &[Value], h: &[Value]) -> bool {
    w.len() == h.len()
        && w.iter().zip(h).all(|(a, b)| match (a, b) {
            (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_field_drift_reads_old_to_new_with_its_note() {
        let f = FieldDrift::changed("spec.replicas", 2, 5).with_note("managed by kubectl");
        assert_eq!(f.to_string(), "spec.replicas: 2 -> 5 (managed by kubectl)");
        let gone = FieldDrift::missing("ingress[tcp/5432 from sg-1]", "allowed").replacing();
        assert_eq!(
            gone.to_string(),
            "ingress[tcp/5432 from sg-1]: allowed -> (none) [forces replacement]"
        );
        let taken = FieldDrift::changed("spec.replicas", 2, 2).with_note("taken by evil");
        assert_eq!(taken.to_string(), "spec.replicas: 2 (taken by evil)");
        assert!(FieldDrift::compare("cidr", "10.0.0.0/16", "10.0.0.0/16").is_none());
    }

    #[test]
    fn a_drift_has_fields_and_says_whether_it_replaces() {
        assert!(Drift::of([]).is_none());
        let d = Drift::of([
            FieldDrift::changed("a", 1, 2),
            FieldDrift::changed("b", "x", "y").replacing(),
        ])
        .expect("two fields");
        assert!(d.requires_replacement());
        assert_eq!(d.to_string(), "a: 1 -> 2; b: x -> y [forces replacement]");
        let joined = Drift::join(Some(Drift::field(FieldDrift::changed("c", 1, 3))), Some(d));
        assert_eq!(joined.map(|d| d.fields().len()), Some(3));
    }

    #[test]
    fn json_drift_checks_what_the_desired_body_sets_and_nothing_else() {
        let desired = json!({"properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [
                {"name": "nodes", "properties": {"addressPrefix": "10.0.0.0/20", "delegations": []}},
                {"name": "db", "properties": {"addressPrefix": "10.0.16.0/24",
                 "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.DBforPostgreSQL/flexibleServers"}}]}},
            ],
            "publicNetworkAccess": "Disabled",
        }});
        let live = json!({"id": "x", "properties": {
            "provisioningState": "Succeeded",
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [
                {"name": "db", "id": "y", "properties": {"addressPrefix": "10.0.16.0/24",
                 "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.DBforPostgreSQL/flexibleServers"}}]}},
                {"name": "nodes", "properties": {"addressPrefix": "10.0.0.0/20", "delegations": []}},
            ],
            "publicNetworkAccess": "disabled",
        }});
        let all = [
            "/properties/addressSpace",
            "/properties/subnets",
            "/properties/publicNetworkAccess",
        ];
        let how = JsonCompare { ignore_case: true };
        assert_eq!(json_drift(&all, &desired, &live, how), None);
        let mut changed = live.clone();
        changed["properties"]["subnets"][1]["properties"]["addressPrefix"] = json!("10.0.32.0/20");
        changed["properties"]["subnets"][0]["properties"]["delegations"] = json!([]);
        let drift = json_drift(&all, &desired, &changed, how).expect("drift");
        let text = drift.to_string();
        assert!(
            text.contains(
                "properties.subnets[nodes].properties.addressPrefix: 10.0.0.0/20 -> 10.0.32.0/20"
            ),
            "{text}"
        );
        assert!(
            text.contains("properties.subnets[db].properties.delegations[d]: "),
            "{text}"
        );
        let strict = json_drift(&all, &desired, &live, JsonCompare::default()).expect("case");
        assert_eq!(
            strict.to_string(),
            "properties.publicNetworkAccess: Disabled -> disabled"
        );
        let unreported = json!({"properties": {}});
        assert_eq!(json_drift(&all, &desired, &unreported, how), None);
    }
}
