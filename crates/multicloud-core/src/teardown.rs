//! Kind-level deletion order, derived from a resource graph (the one description of what
//! depends on what). The engine orders a stack's teardown by the graph itself; a sweeper,
//! which finds resources by tag without a graph, orders what it found by kind with
//! [`reverse_kind_order`] of [`kind_graph`] of a spec that holds every part. Providers keep
//! only their extra edges (what the cloud adds that no graph holds, e.g. the load balancers
//! Kubernetes makes).

use std::collections::{BTreeMap, BTreeSet};

use std::time::Duration;

use crate::kind::ResourceKind;
use crate::resource::ResourceGraph;
use crate::spec::{
    Cluster, Network, NodePool, Postgres, Redis, RegistrySpec, SecretSpec, StackSpec,
    WorkloadIdentity,
};

/// Kind-level dependencies: `a -> {b…}` when a resource of kind `a` depends on one of kind
/// `b`.
pub type KindGraph = BTreeMap<ResourceKind, BTreeSet<ResourceKind>>;

/// The kind-level dependencies of `graph`, plus `extra` edges (`(kind, kinds it depends
/// on)`).
pub fn kind_graph(
    graph: &ResourceGraph,
    extra: impl IntoIterator<Item = (ResourceKind, Vec<ResourceKind>)>,
) -> KindGraph {
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
    for (kind, on) in extra {
        deps.entry(kind).or_default().extend(on);
    }
    deps
}

/// Kinds in deletion order: a kind comes once every kind depending on it has come (a
/// reverse topological order of `deps`), taken in rounds, each round in name order. A
/// kind-level cycle (which providers' tests forbid) leaves the rest in name order.
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

/// A spec with one of every part (network, cluster with one node pool of `node_size`,
/// PostgreSQL, Redis `redis_version`, a registry, a secret and a workload identity that reads
/// and pulls them; no apps) in `region`: its expansion holds every kind of a provider and every
/// kind of dependency between them, so a provider's `order::full_spec` is this with its own
/// values.
pub fn full_spec(region: &str, node_size: &str, redis_version: &str) -> StackSpec {
    let mut spec = StackSpec::builder("order")
        .environment("all")
        .region(region)
        .network(Network::default().private_endpoints())
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", node_size, 1, 2)))
        .database(Postgres::new("16"))
        .cache(Redis::new(redis_version))
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

/// Position of `kind` in `order`; unknown kinds go last.
pub fn rank(order: &[ResourceKind], kind: ResourceKind) -> usize {
    order.iter().position(|k| *k == kind).unwrap_or(order.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependents_come_first_in_name_ordered_rounds() {
        let k = ResourceKind::new;
        let deps = KindGraph::from([
            (k("cluster"), BTreeSet::from([k("subnet"), k("role")])),
            (k("node_pool"), BTreeSet::from([k("cluster")])),
            (k("subnet"), BTreeSet::from([k("vpc")])),
        ]);
        let order = reverse_kind_order(&deps);
        assert_eq!(
            order,
            [
                k("node_pool"),
                k("cluster"),
                k("role"),
                k("subnet"),
                k("vpc")
            ]
        );
        assert_eq!(rank(&order, k("vpc")), 4);
        assert_eq!(rank(&order, k("unknown")), 5);
    }

    #[test]
    fn a_cycle_keeps_every_kind() {
        let k = ResourceKind::new;
        let deps = KindGraph::from([
            (k("a"), BTreeSet::from([k("b")])),
            (k("b"), BTreeSet::from([k("a")])),
        ]);
        assert_eq!(reverse_kind_order(&deps), [k("a"), k("b")]);
    }
}
