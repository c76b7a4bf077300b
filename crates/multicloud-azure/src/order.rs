//! The deletion order of Azure kinds, derived from the expansion (the one description of
//! what depends on what): the engine orders a stack's teardown by its graph; the sweeper,
//! which finds resources by tag without a graph, orders them by [`teardown_order`], computed
//! from the graph of a spec that has every part.

use std::sync::OnceLock;

use multicloud_core::kind::ResourceKind;
use multicloud_core::spec::{AksOutbound, StackSpec};
use multicloud_core::teardown::{self, kind_graph, reverse_kind_order};

use crate::expand::AzureSettings;

/// A spec with one of every Azure part, whose graph holds every Azure kind.
pub fn full_spec() -> StackSpec {
    let mut spec = teardown::full_spec("westeurope", "Standard_D4s_v5", "7.4");
    if let Some(net) = spec.network.as_mut() {
        net.azure.outbound = AksOutbound::NatGateway;
    }
    spec
}

/// The Azure kinds in deletion order ([`reverse_kind_order`] of [`full_spec`]'s graph).
pub fn teardown_order() -> &'static [ResourceKind] {
    static ORDER: OnceLock<Vec<ResourceKind>> = OnceLock::new();
    ORDER.get_or_init(
        || match crate::expand::expand(&full_spec(), &AzureSettings::default()) {
            Ok(graph) => reverse_kind_order(&kind_graph(&graph, [])),
            Err(_) => Vec::new(),
        },
    )
}

/// Position of `kind` in [`teardown_order`]; unknown kinds go last.
pub fn rank(kind: ResourceKind) -> usize {
    teardown::rank(teardown_order(), kind)
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
