//! The memory cloud's clusters: each stack instance's Kubernetes objects live in its own
//! cluster, as on a cloud where every environment has its cluster. A cloud knows nothing of
//! what is inside a cluster, so Kubernetes objects never block a cloud deletion, and
//! deleting a cluster deletes everything inside it, objects of others included
//! ([`MemoryCloud::put_foreign_object`]).

use std::collections::BTreeMap;

use super::{Inner, MemResource, MemoryCloud, joined};
use crate::error::{ErrorKind, ProviderError};
use crate::kind::WORKLOAD_KINDS;
use crate::resource::ResourceKind;
use crate::tags::{TAG_ENV, TAG_STACK};

/// Whether `kind` is a Kubernetes object (it lives in a cluster).
pub(super) fn is_object(kind: ResourceKind) -> bool {
    WORKLOAD_KINDS.iter().any(|d| d.kind == kind)
}

/// The cluster a resource carrying `tags` belongs to: `<stack>.<environment>`.
pub(super) fn of(tags: &BTreeMap<String, String>) -> String {
    let tag = |k: &str| tags.get(k).map_or("", String::as_str);
    format!("{}.{}", tag(TAG_STACK), tag(TAG_ENV))
}

/// The memory cloud's key of namespace `namespace` in the cluster of `stack`/`environment`.
fn namespace_key(stack: &str, environment: &str, namespace: &str) -> String {
    let cluster = format!("{stack}.{environment}");
    joined(&[
        ResourceKind::NAMESPACE.as_str(),
        &cluster,
        namespace,
        namespace,
    ])
}

impl MemoryCloud {
    /// Puts an object someone else made (`configmap/theirs`) into namespace `namespace` of
    /// the cluster of `stack`/`environment`, as a test does by hand with `kubectl`. The
    /// namespace's `delete` then leaves it in place
    /// ([`ErrorKind::LeftBehind`], as the Kubernetes side does); deleting the cluster
    /// removes both.
    pub fn put_foreign_object(
        &self,
        stack: &str,
        environment: &str,
        namespace: &str,
        object: &str,
    ) {
        self.lock()
            .foreign_objects
            .entry(namespace_key(stack, environment, namespace))
            .or_default()
            .push(object.to_string());
    }

    /// The objects someone else made in the clusters that exist (`namespace key: objects`).
    pub fn foreign_objects(&self) -> BTreeMap<String, Vec<String>> {
        self.lock().foreign_objects.clone()
    }
}

impl Inner {
    /// The resources whose dependence on `key` (of `kind`) blocks its deletion: every one
    /// depending on it, except Kubernetes objects depending on a cloud resource (the cloud
    /// does not know them).
    pub(super) fn blocking_users(&self, key: &str, kind: ResourceKind) -> Vec<String> {
        self.resources
            .iter()
            .filter(|(_, m)| m.depends_on.iter().any(|d| d == key))
            .filter(|(_, m)| is_object(kind) || !is_object(m.kind))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Why the namespace at `key` is left in place, if it holds objects someone else made.
    pub(super) fn left_behind(&self, key: &str) -> Option<ProviderError> {
        let objects = self.foreign_objects.get(key)?;
        Some(ProviderError::new(
            ErrorKind::LeftBehind,
            format!(
                "{key} is not deleted: it holds objects multicloud does not own ({}); they \
                 and the namespace are left alone",
                objects.join(", ")
            ),
        ))
    }

    /// Removes what lived inside `cluster`, now gone: its Kubernetes objects, ours or not.
    pub(super) fn remove_contents(&mut self, cluster: &MemResource) {
        let inside = of(&cluster.tags);
        let prefix = |kind: &str| format!("{kind}/{inside}/");
        let within = |key: &str| {
            WORKLOAD_KINDS
                .iter()
                .any(|d| key.starts_with(&prefix(d.kind.as_str())))
        };
        self.resources
            .retain(|key, m| !(is_object(m.kind) && within(key)));
        self.foreign_objects.retain(|key, _| !within(key));
    }
}
