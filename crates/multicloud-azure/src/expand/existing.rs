//! An existing AKS cluster (spec `existing_cluster: {id: <ARM id>}`): `cluster/main`
//! adopted read-only by its ARM id — read for its endpoint, OIDC issuer, kubelet identity
//! and (with the user kubeconfig) CA, never modified or deleted — plus `AcrPull` on the
//! stack's ACR for its kubelet identity when the stack has registries (a role assignment of
//! the stack, deleted with it). An existing virtual network (spec `existing_network`):
//! `virtual_network/main` adopted read-only the same way, its outputs naming the subnets the
//! spec gives.

use multicloud_core::expand::{ExistingConfig, ExpandError};
use multicloud_core::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use multicloud_core::spec::{ExistingCluster, ExistingNetwork, Rule, StackSpec, ValidationError};

use super::{Names, compute, ids, spec_error};
use crate::kinds;
use crate::model::ExistingNetworkConfig;

/// The read-only virtual network of `existing`: its first private subnet is the cluster's;
/// a database needs the spec's `database_subnet` (delegated to PostgreSQL).
pub(super) fn network(
    spec: &StackSpec,
    existing: &ExistingNetwork,
    g: &mut ResourceGraph,
) -> Result<(), ExpandError> {
    let at = "spec.existing_network";
    if spec.database.is_some() && existing.database_subnet.is_none() {
        return Err(spec_error(ValidationError::new(
            format!("{at}.database_subnet"),
            Rule::Required,
            "on Azure a database needs a subnet delegated to \
             Microsoft.DBforPostgreSQL/flexibleServers: name it with `database_subnet`",
        )));
    }
    let Some(cluster_subnet) = existing.private_subnets.first() else {
        return Err(spec_error(ValidationError::new(
            format!("{at}.private_subnets"),
            Rule::Required,
            "name the subnet of the cluster's nodes",
        )));
    };
    let name = existing.id.rsplit('/').next().unwrap_or(&existing.id);
    g.add(
        Resource::new(kinds::VIRTUAL_NETWORK, ids::vnet().key(), name)
            .read_only()
            .with_config(&ExistingNetworkConfig {
                existing: existing.id.clone(),
                cluster_subnet: cluster_subnet.clone(),
                database_subnet: existing.database_subnet.clone(),
            })?,
    )?;
    Ok(())
}

/// The read-only cluster node and the kubelet's `AcrPull`; returns what apps wait for.
pub(super) fn cluster(
    spec: &StackSpec,
    n: &Names,
    g: &mut ResourceGraph,
) -> Result<Vec<ResourceId>, ExpandError> {
    let Some(ExistingCluster::Id(id)) = &spec.existing_cluster else {
        return Ok(Vec::new());
    };
    let name = id.rsplit('/').next().unwrap_or(id);
    g.add(
        Resource::new(ResourceKind::CLUSTER, "main", name)
            .read_only()
            .with_config(&ExistingConfig {
                existing: id.clone(),
            })?,
    )?;
    compute::kubelet_acr_pull(spec, n, g)?;
    Ok(vec![ids::cluster()])
}

/// The resource group of ARM id `id` (`/subscriptions/<s>/resourceGroups/<rg>/...`).
pub(crate) fn resource_group_of(id: &str) -> Option<&str> {
    let mut parts = id.split('/');
    parts
        .by_ref()
        .find(|p| p.eq_ignore_ascii_case("resourceGroups"))?;
    parts.next().filter(|rg| !rg.is_empty())
}

/// Whether `id` is an AKS cluster's ARM id
/// (`/subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<name>`).
pub(crate) fn is_aks_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    parts.len() == 9
        && parts[0].is_empty()
        && parts[1].eq_ignore_ascii_case("subscriptions")
        && parts[3].eq_ignore_ascii_case("resourceGroups")
        && parts[5].eq_ignore_ascii_case("providers")
        && parts[6].eq_ignore_ascii_case("Microsoft.ContainerService")
        && parts[7].eq_ignore_ascii_case("managedClusters")
        && [2, 4, 8].iter().all(|&i| !parts[i].is_empty())
}
