//! The resource model: resources with explicit dependencies and typed configs, and the
//! dependency graph ([`ResourceGraph`]) the planner and executor work on.
//!
//! A resource's config is a Rust type declared by the crate that implements its kind
//! (`#[serde(deny_unknown_fields)]`, no silent defaults); it is stored as JSON in the
//! resource and in state, and read back with [`Resource::config_as`] (or
//! [`OpContext::config`](crate::provider::OpContext::config)), where a missing or unknown
//! field is an [`ErrorKind::InvalidConfig`] error naming the resource and the field.

use rustc_hash::FxHashMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{ErrorKind, ProviderError};
pub use crate::kind::{KindDef, ResourceKind, ServiceFamily};
use crate::tags::Tags;

/// A resource's logical id within a stack, stable across runs: `<kind>/<key>`
/// (`subnet/private-0`, `secret/db-password`). Shared, not copied, when cloned: the planner
/// and executor hand ids to many maps and actions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(std::sync::Arc<str>);

impl ResourceId {
    /// `<kind>/<key>`.
    pub fn new(kind: ResourceKind, key: impl fmt::Display) -> Self {
        use fmt::Write as _;
        let mut id = String::with_capacity(kind.as_str().len() + 24);
        id.push_str(kind.as_str());
        id.push('/');
        // Writing into a String cannot fail.
        let _ = write!(id, "{key}");
        Self(id.into())
    }
    /// The id of the only resource of `kind` in a stack (`vpc/main`).
    pub fn single(kind: ResourceKind) -> Self {
        Self::new(kind, "main")
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The kind part (`subnet` of `subnet/private-0`).
    pub fn kind_name(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(k, _)| k)
    }
    /// The key part (`private-0` of `subnet/private-0`).
    pub fn key(&self) -> &str {
        self.0.split_once('/').map_or("", |(_, k)| k)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ResourceId {
    fn from(s: &str) -> Self {
        Self(s.into())
    }
}

impl std::borrow::Borrow<str> for ResourceId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl Serialize for ResourceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ResourceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // One allocation: the shared text itself.
        crate::kind::deserialize_str_with(d, "a resource id", |s| ResourceId::from(s))
    }
}

/// One desired resource: what it is, its deterministic physical name, what it needs, and its
/// desired configuration. `config` must never hold a secret value (it is recorded in state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Logical id.
    pub id: ResourceId,
    /// Kind.
    pub kind: ResourceKind,
    /// Physical name in the cloud, derived from stack + environment.
    pub name: String,
    /// Resources that must exist before this one (and be deleted after it).
    #[serde(default)]
    pub depends_on: Vec<ResourceId>,
    /// Desired configuration: the JSON form of the kind's typed config (see
    /// [`Resource::with_config`]).
    #[serde(default)]
    pub config: Value,
    /// Tags to put on it: the spec's tags plus the ownership tags.
    #[serde(default)]
    pub tags: Tags,
    /// Something that exists outside the stack (an existing cluster): adopted read-only,
    /// never created, modified or deleted — `down` forgets it; absent, the plan fails.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Resource {
    /// A resource of `kind` with id `<kind>/<key>` and physical `name`.
    pub fn new(kind: ResourceKind, key: impl fmt::Display, name: impl Into<String>) -> Self {
        Self {
            id: ResourceId::new(kind, key),
            kind,
            name: name.into(),
            depends_on: Vec::new(),
            config: Value::Null,
            tags: Tags::new(),
            read_only: false,
        }
    }

    /// Marks it read-only (see [`Resource::read_only`](Resource#structfield.read_only)).
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }
    /// Adds a dependency.
    #[must_use]
    pub fn depends_on(mut self, id: &ResourceId) -> Self {
        if !self.depends_on.contains(id) {
            self.depends_on.push(id.clone());
        }
        self
    }
    /// Adds several dependencies (each once, in order; linear in their number).
    #[must_use]
    pub fn depends_on_all<'a>(mut self, ids: impl IntoIterator<Item = &'a ResourceId>) -> Self {
        let ids = ids.into_iter();
        if ids
            .size_hint()
            .1
            .is_some_and(|n| n + self.depends_on.len() <= 16)
        {
            // Short lists (nearly all): a linear check is cheaper than hashing.
            for id in ids {
                self = self.depends_on(id);
            }
            return self;
        }
        let mut seen: rustc_hash::FxHashSet<ResourceId> = self.depends_on.iter().cloned().collect();
        for id in ids {
            if seen.insert(id.clone()) {
                self.depends_on.push(id.clone());
            }
        }
        self
    }
    /// Sets the desired configuration from the kind's typed config.
    pub fn with_config<C: Serialize>(mut self, config: &C) -> Result<Self, ProviderError> {
        self.config = serde_json::to_value(config).map_err(|e| {
            ProviderError::new(
                ErrorKind::InvalidConfig,
                format!("{}: config does not serialize: {e}", self.id),
            )
        })?;
        Ok(self)
    }
    /// The desired configuration as the kind's typed config `C`; a missing, unknown or
    /// mistyped field is an [`ErrorKind::InvalidConfig`] error naming the resource and the
    /// field.
    pub fn config_as<C: DeserializeOwned>(&self) -> Result<C, ProviderError> {
        typed(&self.config, || format!("{}: config", self.id))
    }
    /// SHA-256 of the canonical JSON of `config` (object keys sorted), hex.
    pub fn config_hash(&self) -> String {
        config_hash(&self.config)
    }
}

/// SHA-256 of the canonical JSON of a config value (object keys sorted, no spaces), hex.
pub fn config_hash(config: &Value) -> String {
    static MAPS_SORTED: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
        let mut m = serde_json::Map::new();
        m.insert("b".into(), Value::Null);
        m.insert("a".into(), Value::Null);
        m.keys().next().is_some_and(|k| k == "a")
    });
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(canonical_json(config, *MAPS_SORTED));
    let mut hex = String::with_capacity(2 * digest.len());
    for b in digest {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}

/// The canonical JSON text of `value`. When serde_json's maps keep their keys sorted
/// (`maps_sorted`: unless its `preserve_order` feature is on somewhere in the build), that
/// is its compact text; otherwise objects are sorted here.
fn canonical_json(value: &Value, maps_sorted: bool) -> Vec<u8> {
    fn sorted(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push(b'{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    // Writing JSON into a Vec cannot fail.
                    drop(serde_json::to_writer(&mut *out, k));
                    out.push(b':');
                    sorted(v, out);
                }
                out.push(b'}');
            }
            Value::Array(items) => {
                out.push(b'[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    sorted(v, out);
                }
                out.push(b']');
            }
            other => drop(serde_json::to_writer(&mut *out, other)),
        }
    }
    let mut text = Vec::with_capacity(256);
    if maps_sorted {
        drop(serde_json::to_writer(&mut text, value));
    } else {
        sorted(value, &mut text);
    }
    text
}

/// Reads `value` as `T`; `what` names the value in the error.
pub(crate) fn typed<T: DeserializeOwned>(
    value: &Value,
    what: impl FnOnce() -> String,
) -> Result<T, ProviderError> {
    T::deserialize(value)
        .map_err(|e| ProviderError::new(ErrorKind::InvalidConfig, format!("{}: {e}", what())))
}

/// What is wrong with a resource graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// The graph has a cycle.
    #[error("dependency cycle: {}", cycle.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" -> "))]
    Cycle {
        /// The resources on the cycle, first repeated at the end.
        cycle: Vec<ResourceId>,
    },
    /// A resource depends on one that is not in the graph.
    #[error("{resource} depends on unknown resource {missing}")]
    UnknownDependency {
        /// The dependent.
        resource: ResourceId,
        /// The missing dependency.
        missing: ResourceId,
    },
    /// The same resource id was declared twice.
    #[error("resource {0} is declared twice")]
    DuplicateResource(ResourceId),
}
/// A validated dependency graph of resources (no unknown dependencies, no cycles).
#[derive(Debug, Clone, Default)]
pub struct ResourceGraph {
    nodes: Vec<Resource>,
    /// Position by id (a fast non-keyed hash: ids come from the stack's own spec).
    index: FxHashMap<ResourceId, usize>,
}

impl ResourceGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds and validates a graph from resources.
    pub fn from_resources(
        resources: impl IntoIterator<Item = Resource>,
    ) -> Result<Self, GraphError> {
        let mut g = Self::new();
        for r in resources {
            g.add(r)?;
        }
        g.validate()?;
        Ok(g)
    }

    /// Adds a resource; call [`ResourceGraph::validate`] once all are added.
    pub fn add(&mut self, resource: Resource) -> Result<&ResourceId, GraphError> {
        if self.index.contains_key(&resource.id) {
            return Err(GraphError::DuplicateResource(resource.id));
        }
        let i = self.nodes.len();
        self.index.insert(resource.id.clone(), i);
        self.nodes.push(resource);
        Ok(&self.nodes[i].id)
    }

    /// Checks that every dependency exists and that there is no cycle.
    pub fn validate(&self) -> Result<(), GraphError> {
        for r in &self.nodes {
            for d in &r.depends_on {
                if !self.index.contains_key(d) {
                    return Err(GraphError::UnknownDependency {
                        resource: r.id.clone(),
                        missing: d.clone(),
                    });
                }
            }
        }
        self.find_cycle()
            .map_or(Ok(()), |cycle| Err(GraphError::Cycle { cycle }))
    }

    fn find_cycle(&self) -> Option<Vec<ResourceId>> {
        // Iterative DFS with colours: 0 = new, 1 = on stack, 2 = done.
        let mut colour = vec![0u8; self.nodes.len()];
        let mut parent = vec![usize::MAX; self.nodes.len()];
        for start in 0..self.nodes.len() {
            if colour[start] != 0 {
                continue;
            }
            let mut stack = vec![(start, 0usize)];
            colour[start] = 1;
            while let Some((node, next)) = stack.pop() {
                let deps = &self.nodes[node].depends_on;
                if next < deps.len() {
                    stack.push((node, next + 1));
                    let Some(&d) = self.index.get(&deps[next]) else {
                        continue;
                    };
                    match colour[d] {
                        0 => {
                            colour[d] = 1;
                            parent[d] = node;
                            stack.push((d, 0));
                        }
                        1 => {
                            // Walk back from `node` to `d`.
                            let mut cycle = vec![self.nodes[d].id.clone()];
                            let mut cur = node;
                            let mut back = vec![];
                            while cur != d {
                                back.push(self.nodes[cur].id.clone());
                                cur = parent[cur];
                            }
                            back.reverse();
                            cycle.extend(back);
                            cycle.push(self.nodes[d].id.clone());
                            return Some(cycle);
                        }
                        _ => {}
                    }
                } else {
                    colour[node] = 2;
                }
            }
        }
        None
    }

    /// The resources, in insertion order.
    pub fn resources(&self) -> &[Resource] {
        &self.nodes
    }

    /// The resources, by value, in insertion order.
    pub fn into_resources(self) -> Vec<Resource> {
        self.nodes
    }

    /// The resource with `id`.
    pub fn get(&self, id: &ResourceId) -> Option<&Resource> {
        self.index.get(id).map(|&i| &self.nodes[i])
    }

    /// Position of `id` in [`ResourceGraph::resources`].
    pub fn position(&self, id: &ResourceId) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Number of resources.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Mutable access to every resource (to attach tags before planning).
    pub fn resources_mut(&mut self) -> impl Iterator<Item = &mut Resource> {
        self.nodes.iter_mut()
    }

    /// A topological order (dependencies first), stable with respect to insertion order.
    pub fn topological_order(&self) -> Vec<usize> {
        let n = self.nodes.len();
        let mut indegree = vec![0usize; n];
        let mut dependents = vec![Vec::new(); n];
        for (i, r) in self.nodes.iter().enumerate() {
            for d in &r.depends_on {
                if let Some(&j) = self.index.get(d) {
                    indegree[i] += 1;
                    dependents[j].push(i);
                }
            }
        }
        // The lowest ready position first, so the order is stable across runs.
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..n)
            .filter(|&i| indegree[i] == 0)
            .map(std::cmp::Reverse)
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(std::cmp::Reverse(i)) = ready.pop() {
            order.push(i);
            for &j in &dependents[i] {
                indegree[j] -= 1;
                if indegree[j] == 0 {
                    ready.push(std::cmp::Reverse(j));
                }
            }
        }
        order
    }

    /// Length of the longest dependency chain, weighting each resource by `weight`.
    pub fn critical_path(&self, weight: impl Fn(&Resource) -> f64) -> f64 {
        let mut finish = vec![0.0f64; self.nodes.len()];
        let mut longest = 0.0f64;
        for i in self.topological_order() {
            let r = &self.nodes[i];
            let start = r
                .depends_on
                .iter()
                .filter_map(|d| self.index.get(d))
                .map(|&j| finish[j])
                .fold(0.0, f64::max);
            finish[i] = start + weight(r);
            longest = longest.max(finish[i]);
        }
        longest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VPC: ResourceKind = ResourceKind::new("vpc");
    const SUBNET: ResourceKind = ResourceKind::new("subnet");

    /// A typed config as a provider crate declares one.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DbConfig {
        storage_gb: u32,
        deletion_protection: bool,
    }

    #[test]
    fn typed_configs_round_trip_and_reject_misspelled_or_missing_fields() {
        let wanted = DbConfig {
            storage_gb: 20,
            deletion_protection: true,
        };
        let r = Resource::new(ResourceKind::DATABASE, "main", "pg")
            .with_config(&wanted)
            .expect("serializes");
        assert_eq!(r.config_as::<DbConfig>().expect("reads back"), wanted);

        let typo = Resource {
            config: json!({ "storage_gb": 20, "deletion_protecton": true }),
            ..r.clone()
        };
        let err = typo.config_as::<DbConfig>().expect_err("misspelled field");
        assert_eq!(err.kind(), ErrorKind::InvalidConfig);
        assert!(err.message().contains("database/main"), "{err}");
        assert!(err.message().contains("deletion_protecton"), "{err}");

        let missing = Resource {
            config: json!({ "storage_gb": 20 }),
            ..r
        };
        let err = missing.config_as::<DbConfig>().expect_err("missing field");
        assert_eq!(err.kind(), ErrorKind::InvalidConfig);
        assert!(err.message().contains("deletion_protection"), "{err}");
    }

    fn r(kind: ResourceKind, key: &str, deps: &[&ResourceId]) -> Resource {
        Resource::new(kind, key, key).depends_on_all(deps.iter().copied())
    }

    #[test]
    fn topological_order_puts_dependencies_first() {
        let vpc = r(VPC, "main", &[]);
        let subnet = r(SUBNET, "a", &[&vpc.id]);
        let cluster = r(ResourceKind::CLUSTER, "main", &[&subnet.id]);
        let g = ResourceGraph::from_resources([cluster, subnet, vpc]).expect("valid graph");
        let order: Vec<_> = g
            .topological_order()
            .into_iter()
            .map(|i| g.resources()[i].id.to_string())
            .collect();
        assert_eq!(order, ["vpc/main", "subnet/a", "cluster/main"]);
        assert_eq!(g.critical_path(|_| 1.0), 3.0);
    }

    #[test]
    fn cycles_are_rejected_with_the_cycle_named() {
        let a_id = ResourceId::new(SUBNET, "a");
        let b = r(SUBNET, "b", &[&a_id]);
        let c = r(SUBNET, "c", &[&b.id]);
        let a = r(SUBNET, "a", &[&c.id]);
        let err = ResourceGraph::from_resources([a, b, c]).expect_err("cycle");
        match err {
            GraphError::Cycle { cycle } => {
                assert_eq!(cycle.first(), cycle.last());
                assert_eq!(cycle.len(), 4, "{cycle:?}");
            }
            other => panic!("expected a cycle error, got {other}"),
        }
    }

    #[test]
    fn unknown_dependencies_and_duplicates_are_rejected() {
        let ghost = ResourceId::new(VPC, "ghost");
        let s = r(SUBNET, "a", &[&ghost]);
        assert!(matches!(
            ResourceGraph::from_resources([s.clone()]),
            Err(GraphError::UnknownDependency { .. })
        ));
        let v = r(VPC, "main", &[]);
        assert!(matches!(
            ResourceGraph::from_resources([v.clone(), v]),
            Err(GraphError::DuplicateResource(_))
        ));
    }

    #[test]
    fn config_hash_is_sha256_of_the_canonical_json() {
        // sha256 of `{"a":1,"b":[true,"x"]}`
        assert_eq!(
            config_hash(&json!({"b": [true, "x"], "a": 1})),
            hex::encode(Sha256::digest(br#"{"a":1,"b":[true,"x"]}"#))
        );
    }

    #[test]
    fn canonical_json_sorts_keys_with_either_kind_of_map() {
        let v = json!({"b": {"y": "z", "x": [1, {"q": null, "p": 1.5}]}, "a": "\"é"});
        let want = r#"{"a":"\"é","b":{"x":[1,{"p":1.5,"q":null}],"y":"z"}}"#;
        assert_eq!(String::from_utf8(canonical_json(&v, false)).unwrap(), want);
        // This build's maps keep keys sorted, so the fast path gives the same text.
        assert_eq!(String::from_utf8(canonical_json(&v, true)).unwrap(), want);
    }

    #[test]
    fn config_hash_ignores_key_order() {
        let a = config_hash(&json!({"a": 1, "b": {"x": [1, 2], "y": "z"}}));
        let b = config_hash(&json!({"b": {"y": "z", "x": [1, 2]}, "a": 1}));
        assert_eq!(a, b);
        assert_ne!(a, config_hash(&json!({"a": 2})));
    }
}
