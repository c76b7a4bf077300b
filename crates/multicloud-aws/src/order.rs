//! The deletion order of AWS kinds, derived from the expansion: the one description of what
//! depends on what. The engine orders a stack's teardown by its graph; the sweeper, which
//! finds resources by tag without a graph, orders them by [`teardown_order`], computed from
//! the graph of a spec that has every part.

use std::sync::OnceLock;

use multicloud_core::kind::ResourceKind;
use multicloud_core::resource::ResourceGraph;
use multicloud_core::spec::StackSpec;
use multicloud_core::teardown::{self, KindGraph, reverse_kind_order};

use crate::kinds;

/// A spec with one of every AWS part, whose graph holds every AWS kind and every kind of
/// dependency between them.
pub fn full_spec() -> StackSpec {
    teardown::full_spec("us-east-1", "t3.medium", "7.1")
}

/// The AWS kinds in deletion order: every kind comes before the kinds it depends on
/// ([`reverse_kind_order`] of the kind-level graph of [`full_spec`]'s expansion). [`kinds::LOAD_BALANCER`], which Kubernetes creates and
/// no graph holds, joins that graph with the edges of [`load_balancer_edges`].
pub fn teardown_order() -> &'static [ResourceKind] {
    static ORDER: OnceLock<Vec<ResourceKind>> = OnceLock::new();
    ORDER.get_or_init(|| match crate::expand::expand(&full_spec()) {
        Ok(graph) => reverse_kind_order(&kind_graph(&graph)),
        // The full spec always expands; a failure is a bug caught by the tests.
        Err(_) => Vec::new(),
    })
}

/// Position of `kind` in [`teardown_order`]; unknown kinds go last.
pub fn rank(kind: ResourceKind) -> usize {
    teardown::rank(teardown_order(), kind)
}

/// The kind-level dependencies of `graph`, plus [`load_balancer_edges`].
pub fn kind_graph(graph: &ResourceGraph) -> KindGraph {
    teardown::kind_graph(graph, load_balancer_edges())
}

/// What Kubernetes' load balancers add to the graph: the cluster makes them (so it goes
/// first: a live controller would make them again), and they sit on the network (their
/// interfaces in the subnets, their security groups' rules, internet-facing ones behind
/// the gateway), which must wait for them.
pub fn load_balancer_edges() -> Vec<(ResourceKind, Vec<ResourceKind>)> {
    vec![
        (ResourceKind::CLUSTER, vec![kinds::LOAD_BALANCER]),
        (
            kinds::LOAD_BALANCER,
            vec![
                kinds::SUBNET,
                kinds::SECURITY_GROUP,
                kinds::INTERNET_GATEWAY,
                kinds::VPC,
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweeper_order_is_the_reverse_of_the_expansion_order_for_every_kind() {
        let graph = crate::expand::expand(&full_spec()).expect("expands");
        let order = teardown_order();
        for def in crate::kinds::defs() {
            assert!(order.contains(&def.kind), "{} has no place", def.kind);
        }
        for r in graph.resources() {
            for d in &r.depends_on {
                let dep = graph.get(d).expect("known dependency");
                if dep.kind != r.kind {
                    assert!(
                        rank(r.kind) < rank(dep.kind),
                        "{} depends on {} so it must be deleted first: {order:?}",
                        r.id,
                        dep.id
                    );
                }
            }
        }
        for (kind, on) in load_balancer_edges() {
            for dep in on {
                assert!(rank(kind) < rank(dep), "{kind} before {dep}: {order:?}");
            }
        }
    }
}
