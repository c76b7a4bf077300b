//! An existing EKS cluster (spec `existing_cluster: {id: <name>}`): `cluster/main` adopted
//! read-only by its name — read for its endpoint, CA and OIDC issuer, never modified or
//! deleted — and, when workload identities need it, the IAM OIDC provider of its issuer,
//! read-only too (an EKS cluster used with IRSA has one: `eksctl utils
//! associate-iam-oidc-provider`; a missing one stops the plan with its ARN named).

use multicloud_core::expand::{ExistingConfig, ExpandError};
use multicloud_core::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use multicloud_core::spec::{ExistingCluster, StackSpec};

use super::ids;
use crate::kinds;
use crate::model::OidcConfig;

/// The read-only nodes of an existing cluster; returns what apps wait for (the cluster).
pub(super) fn cluster(
    spec: &StackSpec,
    g: &mut ResourceGraph,
) -> Result<Vec<ResourceId>, ExpandError> {
    let Some(ExistingCluster::Id(name)) = &spec.existing_cluster else {
        return Ok(Vec::new());
    };
    g.add(
        Resource::new(ResourceKind::CLUSTER, "main", name)
            .read_only()
            .with_config(&ExistingConfig {
                existing: name.clone(),
            })?,
    )?;
    if !spec.workload_identities.is_empty() {
        g.add(
            Resource::new(kinds::OIDC_PROVIDER, "main", name)
                .read_only()
                .depends_on(&ids::cluster())
                .with_config(&OidcConfig {
                    audience: "sts.amazonaws.com".into(),
                })?,
        )?;
    }
    Ok(vec![ids::cluster()])
}
