//! The deletion order of Azure kinds, derived from the expansion (the one description of
//! what depends on what): the engine orders a stack's teardown by its graph; the sweeper,
//! which finds resources by tag without a graph, orders them by [`teardown_order`], computed
//! from the graph of a spec that has every part.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::Duration;

use multicloud_core::kind::ResourceKind;
use multicloud_core::resource::ResourceGraph;
use multicloud_core::spec::{
    Cluster, Network, NodePool, Postgres, Redis, RegistrySpec, SecretSpec, StackSpec,
    WorkloadIdentity,
};

use crate::expand::AzureSettings;

/// A spec with one of every Azure part, whose graph holds every Azure kind.
pub fn full_spec() -> StackSpec {
    let mut spec = StackSpec::builder("order")
        .environment("all")
        .region("westeurope")
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "Standard_D4s_v5", 1, 2)))
        .database(Postgres::new("16"))
        .cache(Redis::new("7.4"))
        .registry(RegistrySpec::new("app"))
        .secret(SecretSpec::generated("token", 32))
        .workload_identity(
            WorkloadIdentity::new("app", "api")
                .can_read_secret("token")
                .can_pull("app"),
        )
        .ttl(Duration::from_secs(3600))
        .build_unchecked();
    spec.apps.clear();
    spec
}

/// Kind-level dependencies: `a -> {b…}` when a resource of kind `a` depends on one of kind
/// `b`.
pub type KindGraph = BTreeMap<ResourceKind, BTreeSet<ResourceKind>>;

/// The kind-level dependencies of `graph`.
pub fn kind_graph(graph: &ResourceGraph) -> KindGraph {
    let mut deps = KindGraph::new();
    for r in graph.resources() {
        let entry = deps.entry(r.kind).or_default();
        for d in &r.depends_on {
            if let Some(dep) = graph.get(d)
                && dep.kind != r.kind
            {
                entry.insert(dep.kind);
            }
        }
    }
    deps
}

/// Kinds in deletion order: a kind comes once every kind depending on it has come, in
/// rounds, each round in name order.
pub fn reverse_kind_order(deps: &KindGraph) -> Vec<ResourceKind> {
    let mut all: BTreeSet<ResourceKind> = deps.keys().copied().collect();
    all.extend(deps.values().flatten().copied());
    let mut dependents = KindGraph::new();
    for (kind, on) in deps {
        for dep in on {
            dependents.entry(*dep).or_default().insert(*kind);
        }
    }
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    while done.len() < all.len() {
        let ready: Vec<ResourceKind> = all
            .iter()
            .filter(|k| !done.contains(*k))
            .filter(|k| dependents.get(k).is_none_or(|ds| ds.is_subset(&done)))
            .copied()
            .collect();
        if ready.is_empty() {
            order.extend(all.iter().filter(|k| !done.contains(*k)));
            break;
        }
        done.extend(ready.iter().copied());
        order.extend(ready);
    }
    order
}

/// The Azure kinds in deletion order ([`reverse_kind_order`] of [`full_spec`]'s graph).
pub fn teardown_order() -> &'static [ResourceKind] {
    static ORDER: OnceLock<Vec<ResourceKind>> = OnceLock::new();
    ORDER.get_or_init(
        || match crate::expand::expand(&full_spec(), &AzureSettings::default()) {
            Ok(graph) => reverse_kind_order(&kind_graph(&graph)),
            Err(_) => Vec::new(),
        },
    )
}

/// Position of `kind` in [`teardown_order`]; unknown kinds go last.
pub fn rank(kind: ResourceKind) -> usize {
    let order = teardown_order();
    order.iter().position(|k| *k == kind).unwrap_or(order.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_place_and_dependents_go_first() {
        let graph = crate::expand::expand(&full_spec(), &AzureSettings::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let order = teardown_order();
        for def in crate::kinds::defs() {
            assert!(order.contains(&def.kind), "{} has no place", def.kind);
        }
        for r in graph.resources() {
            for d in &r.depends_on {
                let dep = graph.get(d).unwrap_or_else(|| panic!("{d}"));
                if dep.kind != r.kind {
                    assert!(
                        rank(r.kind) < rank(dep.kind),
                        "{} before {}: {order:?}",
                        r.id,
                        dep.id
                    );
                }
            }
        }
        // The order: identities and roles, pools, cluster, database, cache, registry,
        // vault (+ purge), DNS, vnet, resource group.
        let pos = |k| rank(k);
        assert!(pos(crate::kinds::ROLE_ASSIGNMENT) < pos(ResourceKind::CLUSTER));
        assert!(pos(ResourceKind::NODE_POOL) < pos(ResourceKind::CLUSTER));
        assert!(pos(crate::kinds::KEY_VAULT) < pos(crate::kinds::VAULT_PURGE));
        assert!(pos(crate::kinds::DNS_ZONE_LINK) < pos(crate::kinds::PRIVATE_DNS_ZONE));
        assert!(pos(crate::kinds::VIRTUAL_NETWORK) < pos(crate::kinds::RESOURCE_GROUP));
    }
}
