//! Drift of a live object from what we apply, field by field, from server-side apply's
//! managed fields. A dry run of our apply (field manager `multicloud`, forced) says which
//! fields we apply and what they read as once the API server has defaulted and normalized
//! them (`0.5` CPU is `500m`); each is compared with the live object's value. A field we
//! applied that another manager took is drift too, even with our value. Fields we do not
//! apply (a label someone added, what controllers write) are never drift.

use std::collections::BTreeSet;

use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use multicloud_core::ProviderError;
use multicloud_core::observation::{Drift, FieldDrift, render};
use multicloud_core::tags::{ANNOTATION_CREATED_AT, ANNOTATION_EXPIRES_AT, LABEL_EXPIRES_AT};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Op, classify};
use crate::object::{ANNOTATION_FINGERPRINT, FIELD_MANAGER};

/// One step of a managed-fields path (`f:spec`, `k:{"name":"api"}`, `v:"x"`, `i:0`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// A field of an object.
    Field(String),
    /// The item of an associative list with these key fields.
    Key(String),
    /// The item of a set with this value.
    Value(String),
    /// The item at this index of an atomic list.
    Index(usize),
}

/// A path of steps from the object's root.
type Path = Vec<Step>;

/// Ownership metadata that moves when a stack is recreated or adopted: never drift.
const MOVING: [(&str, &str); 3] = [
    ("labels", LABEL_EXPIRES_AT),
    ("annotations", ANNOTATION_CREATED_AT),
    ("annotations", ANNOTATION_EXPIRES_AT),
];

/// How object `live` (of ours, `what` in messages) drifted from `want`, the object we
/// apply: [`field_drift`] on a dry run of our apply (nothing changes). When the server
/// refuses the dry run (an invalid or immutable change), the fingerprint annotation tells,
/// as one field; an error worth retrying is returned.
pub(crate) async fn object_drift<K>(
    api: &Api<K>,
    want: &K,
    live: &K,
    what: &str,
) -> Result<Vec<FieldDrift>, ProviderError>
where
    K: kube::Resource + Clone + std::fmt::Debug + Serialize + DeserializeOwned,
{
    let params = PatchParams::apply(FIELD_MANAGER).force().dry_run();
    let applied = match api
        .patch(&want.name_any(), &params, &Patch::Apply(want))
        .await
    {
        Ok(applied) => applied,
        Err(e) => {
            let e = classify(e, Op::Apply, &format!("a dry run of {what}"));
            if e.retryable() {
                return Err(e);
            }
            tracing::warn!(error = %e, "drift of {what} told by its fingerprint only");
            return Ok(fingerprint_drift(want, live).into_iter().collect());
        }
    };
    let as_json = |k: &K| serde_json::to_value(k).unwrap_or(Value::Null);
    Ok(field_drift(&as_json(&applied), &as_json(live)))
}

/// The fingerprint annotation of `live` when it is not the one of `want`.
pub(crate) fn fingerprint_drift<K: kube::Resource>(want: &K, live: &K) -> Option<FieldDrift> {
    let want = want.annotations().get(ANNOTATION_FINGERPRINT)?;
    let field = format!("metadata.annotations[{ANNOTATION_FINGERPRINT}]");
    FieldDrift::compare_live(&field, want, live.annotations().get(ANNOTATION_FINGERPRINT))
}

/// The drifts of several objects in one, each field prefixed with its object
/// (`ConfigMap shop/settings data.mode: a -> b`).
pub(crate) fn prefixed(what: &str, fields: Vec<FieldDrift>) -> impl Iterator<Item = FieldDrift> {
    fields.into_iter().map(move |mut f| {
        f.field = format!("{what} {}", f.field);
        f
    })
}

/// A drift of these fields, if any.
pub(crate) fn of(fields: Vec<FieldDrift>) -> Option<Drift> {
    Drift::of(fields)
}

/// How `live` differs from `applied` (the [`dry_run`] of our apply) in the fields we apply,
/// each named by its path (`spec.template.spec.containers[api].image`).
pub(crate) fn field_drift(applied: &Value, live: &Value) -> Vec<FieldDrift> {
    let ours_live: BTreeSet<Path> = managed(live, is_our_apply).into_iter().collect();
    let mut out = Vec::new();
    for path in managed(applied, is_our_apply) {
        if moving(&path) {
            continue;
        }
        let want = lookup(applied, &path);
        let have = lookup(live, &path);
        let field = display(&path);
        let taken = if ours_live.contains(&path) {
            None
        } else {
            taken_by(live, &path)
        };
        let same = match path.last() {
            // An item of a list counts by its presence; its fields are paths of their own.
            Some(Step::Key(_) | Step::Value(_) | Step::Index(_)) => {
                want.is_some() == have.is_some()
            }
            _ => want == have,
        };
        if !same {
            let mut drift = FieldDrift {
                field,
                expected: want.map(render),
                live: have.map(render),
                note: None,
                replaces: false,
            };
            if let Some(m) = taken {
                drift = drift.with_note(format!("managed by {m}"));
            }
            out.push(drift);
        } else if let (Some(m), Some(want)) = (taken, want) {
            let value = render(want);
            out.push(
                FieldDrift::changed(field, &value, &value)
                    .with_note(format!("taken over by field manager {m}")),
            );
        }
    }
    out
}

/// Whether a managed-fields entry is our apply.
fn is_our_apply(entry: &Value) -> bool {
    entry.get("manager").and_then(Value::as_str) == Some(FIELD_MANAGER)
        && entry.get("operation").and_then(Value::as_str) == Some("Apply")
        && entry
            .get("subresource")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
}

/// The leaf paths of the managed-fields entries of `object` that `pick` selects.
fn managed(object: &Value, pick: impl Fn(&Value) -> bool) -> Vec<Path> {
    let mut out = Vec::new();
    for entry in entries(object).filter(|e| pick(e)) {
        if let Some(fields) = entry.get("fieldsV1") {
            leaves(fields, &mut Vec::new(), &mut out);
        }
    }
    out
}

/// The managed-fields entries of `object`.
fn entries(object: &Value) -> impl Iterator<Item = &Value> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The manager (other than us) whose fields hold `path` in `live`.
fn taken_by(live: &Value, path: &Path) -> Option<String> {
    entries(live).find_map(|e| {
        let manager = e.get("manager").and_then(Value::as_str)?;
        if manager == FIELD_MANAGER && e.get("operation").and_then(Value::as_str) == Some("Apply") {
            return None;
        }
        let mut paths = Vec::new();
        leaves(e.get("fieldsV1")?, &mut Vec::new(), &mut paths);
        paths.contains(path).then(|| manager.to_string())
    })
}

/// Adds the leaf paths of the `fieldsV1` set `fields` under `prefix` to `out`.
fn leaves(fields: &Value, prefix: &mut Path, out: &mut Vec<Path>) {
    let Some(map) = fields.as_object() else {
        return;
    };
    for (key, child) in map {
        let Some(step) = parse(key) else {
            continue;
        };
        prefix.push(step);
        let inner = child
            .as_object()
            .is_some_and(|c| c.keys().any(|k| k != "."));
        if inner {
            leaves(child, prefix, out);
        } else {
            out.push(prefix.clone());
        }
        prefix.pop();
    }
}

/// A `fieldsV1` key as a step (`.`, the item itself, is none).
fn parse(key: &str) -> Option<Step> {
    let (kind, rest) = key.split_once(':')?;
    Some(match kind {
        "f" => Step::Field(rest.to_string()),
        "k" => Step::Key(rest.to_string()),
        "v" => Step::Value(rest.to_string()),
        "i" => Step::Index(rest.parse().ok()?),
        _ => return None,
    })
}

/// The value at `path` in `object`.
fn lookup<'v>(object: &'v Value, path: &Path) -> Option<&'v Value> {
    path.iter().try_fold(object, |at, step| match step {
        Step::Field(name) => at.get(name),
        Step::Index(i) => at.get(*i),
        Step::Key(keys) => {
            let keys: Map<String, Value> = serde_json::from_str(keys).ok()?;
            at.as_array()?
                .iter()
                .find(|item| keys.iter().all(|(k, v)| item.get(k) == Some(v)))
        }
        Step::Value(v) => {
            let v: Value = serde_json::from_str(v).ok()?;
            at.as_array()?.iter().find(|item| **item == v)
        }
    })
}

/// Whether `path` is ownership metadata that moves ([`MOVING`]).
fn moving(path: &Path) -> bool {
    MOVING.iter().any(|(map, key)| {
        matches!(path.as_slice(),
            [Step::Field(m), Step::Field(x), Step::Field(k)]
                if m == "metadata" && x == map && k == key)
    })
}

/// `spec.template.spec.containers[api].image`, `metadata.labels[app.kubernetes.io/name]`.
fn display(path: &Path) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Field(name) if name.contains(['.', '/']) => out.push_str(&format!("[{name}]")),
            Step::Field(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
            Step::Value(v) => out.push_str(&format!("[{}]", bare(v))),
            Step::Key(keys) => out.push_str(&format!("[{}]", key_text(keys))),
        }
    }
    out
}

/// The JSON text `v` as shown: a string without its quotes.
fn bare(v: &str) -> String {
    serde_json::from_str::<Value>(v).map_or_else(|_| v.to_string(), |v| render(&v))
}

/// `api` for `{"name":"api"}`, `containerPort=8080,protocol=TCP` for several keys.
fn key_text(keys: &str) -> String {
    match serde_json::from_str::<Map<String, Value>>(keys) {
        Ok(map) if map.len() == 1 => map.values().map(render).collect(),
        Ok(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", render(v)))
            .collect::<Vec<_>>()
            .join(","),
        Err(_) => keys.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A Deployment as the server keeps it, with `managedFields` entries.
    fn object(image: &str, replicas: u32, entries: Value) -> Value {
        json!({
            "metadata": {"name": "api", "labels": {"app.kubernetes.io/name": "api", "extra": "x"},
                         "managedFields": entries},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "api", "image": image, "imagePullPolicy": "Always"}]}}},
        })
    }

    fn ours() -> Value {
        json!({"manager": "multicloud", "operation": "Apply", "fieldsV1": {
            "f:metadata": {"f:labels": {"f:app.kubernetes.io/name": {}}},
            "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"api\"}": {".": {}, "f:name": {}, "f:image": {}}}}}}}})
    }

    #[test]
    fn fields_we_apply_that_changed_or_were_taken_are_drift_and_others_are_not() {
        let applied = object("nginx:1.27", 2, json!([ours()]));
        let untouched = object(
            "nginx:1.27",
            2,
            json!([ours(),
            {"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {"f:extra": {}}}}}]),
        );
        assert!(field_drift(&applied, &untouched).is_empty());

        let theirs = json!({"manager": "evil", "operation": "Apply", "fieldsV1": {"f:spec": {
            "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"api\"}": {"f:image": {}}}}}}}});
        let mut our_rest = ours();
        our_rest["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"api\"}"]
            .as_object_mut()
            .expect("item")
            .remove("f:image");
        let scaled = json!({"manager": "kubectl", "operation": "Update", "subresource": "scale",
                            "fieldsV1": {"f:spec": {"f:replicas": {}}}});
        our_rest["fieldsV1"]["f:spec"]
            .as_object_mut()
            .expect("spec")
            .remove("f:replicas");
        let live = object("evil/miner:latest", 5, json!([our_rest, theirs, scaled]));
        let text: Vec<String> = field_drift(&applied, &live)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            text,
            [
                "spec.replicas: 2 -> 5 (managed by kubectl)",
                "spec.template.spec.containers[api].image: nginx:1.27 -> evil/miner:latest (managed by evil)",
            ]
        );

        let same_value = object("nginx:1.27", 2, json!([our_rest, theirs]));
        let text: Vec<String> = field_drift(&applied, &same_value)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            text,
            [
                "spec.template.spec.containers[api].image: nginx:1.27 (taken over by field manager evil)"
            ]
        );
    }

    #[test]
    fn paths_read_as_people_write_them() {
        let path = vec![
            Step::Field("spec".into()),
            Step::Field("ports".into()),
            Step::Key(r#"{"containerPort":8080,"protocol":"TCP"}"#.into()),
            Step::Field("name".into()),
        ];
        assert_eq!(
            display(&path),
            "spec.ports[containerPort=8080,protocol=TCP].name"
        );
        let label = vec![
            Step::Field("metadata".into()),
            Step::Field("labels".into()),
            Step::Field(LABEL_EXPIRES_AT.into()),
        ];
        assert_eq!(
            display(&label),
            "metadata.labels[multicloud.dev/expires-at]"
        );
        assert!(moving(&label));
    }
}
