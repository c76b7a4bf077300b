//! EKS: the control plane ([`ResourceKind::CLUSTER`]) and managed node groups
//! ([`ResourceKind::NODE_POOL`]), plus in-process cluster credentials.
//!
//! Config contract (see [`crate::expand`] and [`crate::model`]):
//! - `cluster`: [`ClusterConfig`]; depends on `cluster_role/main` ([`RoleOutputs`]), its
//!   subnets and security group ([`NetworkOutputs`]). Outputs: [`ClusterOutputs`] (`id` is
//!   the cluster ARN) plus `version`; until the cluster is `ACTIVE` only `id`, `name` and
//!   `version` (the endpoint and CA come with readiness).
//! - `node_pool`: [`NodePoolConfig`]; depends on `cluster/main` (output `name`) and
//!   `node_role/main` ([`RoleOutputs`]). Outputs: [`NodePoolOutputs`] (`id` is the node
//!   group ARN) plus `cluster`, the cluster's name (what deletion uses once the cluster's
//!   outputs are gone).
//!
//! Ownership is read from the tags `DescribeCluster` / `DescribeNodegroup` return. Observe,
//! delete and the deletion check do not need the config (a resource removed from the spec
//! may carry a config of an older shape).
//!
//! [`NetworkOutputs`]: crate::model::NetworkOutputs

mod node_group;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_eks::types::{self as eks, VpcConfigRequest};
use multicloud_core::observation::{Drift, FieldDrift};
use multicloud_core::outputs::ClusterOutputs;
use multicloud_core::provider::{
    ClusterCredentials, ClusterOps, Observation, OpContext, Outputs, Readiness, ResourceOps,
};
use multicloud_core::{ErrorKind, ProviderError};
use serde::Serialize;
use serde_json::Value;

use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::expand::ids;
use crate::model::{ClusterConfig, RoleOutputs};
use crate::support::{
    any_changed, deleted, dep_id, dep_ids, ensure_ours, kind_ops, none_if_not_found, observed,
    sweep_with,
};

pub use node_group::NodeGroup;

kind_ops! {
    /// The EKS control plane ([`ResourceKind::CLUSTER`]); also the provider's
    /// [`ClusterOps`] (in-process credentials).
    ///
    /// [`ResourceKind::CLUSTER`]: multicloud_core::resource::ResourceKind::CLUSTER
    EksCluster;
}

async fn describe_cluster(
    c: &AwsClients,
    name: &str,
) -> Result<Option<eks::Cluster>, ProviderError> {
    let res = c.eks.describe_cluster().name(name).send().await;
    none_if_not_found(
        res.map(|o| o.cluster)
            .map_err(|e| classify(e, Op::Read, "eks DescribeCluster")),
    )
    .map(Option::flatten)
}

fn cluster_missing(name: &str) -> ProviderError {
    ProviderError::not_found(format!("EKS cluster {name} does not exist"))
}

/// Deletes EKS cluster `name`. Succeeds if it does not exist; fails with a retryable
/// [`ErrorKind::DependencyViolation`] while node groups are still attached.
pub(crate) async fn delete_cluster_by_name(
    clients: &AwsClients,
    name: &str,
) -> Result<(), ProviderError> {
    let res = clients.eks.delete_cluster().name(name).send().await;
    deleted(res, "eks DeleteCluster")
}

fn hash_tags(ctx: &OpContext<'_>) -> HashMap<String, String> {
    ctx.resource
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What a cluster records once `ACTIVE`: the neutral outputs and its Kubernetes version.
#[derive(Serialize)]
struct ClusterRecord<'a> {
    #[serde(flatten)]
    neutral: ClusterOutputs,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
}

/// What a cluster records before it has an endpoint and a CA.
#[derive(Serialize)]
struct ClusterFacts<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
}

/// The outputs of cluster `name`: a [`ClusterRecord`] once it has an endpoint and a CA,
/// else [`ClusterFacts`].
fn cluster_outputs(name: &str, c: &eks::Cluster) -> Result<Outputs, ProviderError> {
    let ca = c.certificate_authority().and_then(|a| a.data());
    match (c.arn(), c.endpoint(), ca) {
        (Some(arn), Some(endpoint), Some(ca)) => Outputs::of(&ClusterRecord {
            neutral: ClusterOutputs {
                id: arn.to_string(),
                name: name.to_string(),
                endpoint: endpoint.to_string(),
                ca_data: ca.to_string(),
                oidc_issuer: c
                    .identity()
                    .and_then(|i| i.oidc())
                    .and_then(|o| o.issuer())
                    .map(str::to_string),
            },
            version: c.version(),
        }),
        (id, ..) => Outputs::of(&ClusterFacts {
            id,
            name,
            version: c.version(),
        }),
    }
}

#[async_trait]
impl ResourceOps for EksCluster {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let name = &ctx.resource.name;
        let Some(c) = describe_cluster(&self.clients, name).await? else {
            return Ok(Observation::Absent);
        };
        let drift = ctx.config::<ClusterConfig>().ok().and_then(|cfg| {
            FieldDrift::compare_live("version", cfg.version.as_str(), c.version()).map(Drift::field)
        });
        Ok(observed(
            ctx,
            c.arn(),
            c.tags().into_iter().flatten(),
            cluster_outputs(name, &c)?,
            drift,
        ))
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
        if let Some(existing) = describe_cluster(&self.clients, name).await? {
            ensure_ours(ctx, existing.tags().into_iter().flatten())?;
            return cluster_outputs(name, &existing);
        }
        let cfg: ClusterConfig = ctx.config()?;
        let role: RoleOutputs = ctx.dep(&ids::cluster_role())?;
        let vpc = VpcConfigRequest::builder()
            .set_subnet_ids(Some(dep_ids(ctx, &cfg.subnets)?))
            .security_group_ids(dep_id(ctx, &cfg.security_group)?)
            .endpoint_public_access(true)
            .endpoint_private_access(true)
            .build();
        let out = self
            .clients
            .eks
            .create_cluster()
            .name(name)
            .version(&cfg.version)
            .role_arn(role.id)
            .resources_vpc_config(vpc)
            .set_tags(Some(hash_tags(ctx)))
            .send()
            .await
            .map_err(|e| classify(e, Op::Create, "eks CreateCluster"))?;
        match out.cluster() {
            Some(c) => cluster_outputs(name, c),
            None => Outputs::of(&ClusterFacts {
                id: None,
                name,
                version: None,
            }),
        }
    }

    /// `UpdateClusterVersion` when the version differs (EKS upgrades one minor version at a
    /// time).
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
        let cfg: ClusterConfig = ctx.config()?;
        let Some(c) = describe_cluster(&self.clients, name).await? else {
            return Err(cluster_missing(name));
        };
        if c.version() != Some(cfg.version.as_str()) {
            self.clients
                .eks
                .update_cluster_version()
                .name(name)
                .version(&cfg.version)
                .send()
                .await
                .map_err(|e| classify(e, Op::Update, "eks UpdateClusterVersion"))?;
        }
        cluster_outputs(name, &c)
    }

    fn supports_update(&self) -> bool {
        true
    }

    /// In place: the `version`. Its subnets or security group replace the cluster.
    fn requires_replacement(&self, old: &Value, new: &Value) -> bool {
        any_changed(&["subnets", "security_group"], old, new)
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        delete_cluster_by_name(&self.clients, &ctx.resource.name).await
    }

    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let name = &ctx.resource.name;
        let Some(c) = describe_cluster(&self.clients, name).await? else {
            return Err(cluster_missing(name));
        };
        let status = c.status().map(|s| s.as_str()).unwrap_or("UNKNOWN");
        match status {
            "ACTIVE" => Ok(Readiness::Ready(cluster_outputs(name, &c)?)),
            "FAILED" | "DELETING" => Err(ProviderError::new(
                ErrorKind::Failed,
                format!("EKS cluster {name} is {status}"),
            )
            .with_code(status)),
            other => Ok(Readiness::pending(other)),
        }
    }

    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        Ok(
            match describe_cluster(&self.clients, &ctx.resource.name).await? {
                None => Readiness::ready(),
                Some(c) => Readiness::pending(c.status().map(|s| s.as_str()).unwrap_or("DELETING")),
            },
        )
    }
}

/// Maps a token error to the kind the engine acts on.
fn token_error(name: &str, e: crate::eks_token::TokenError) -> ProviderError {
    use crate::eks_token::TokenError;
    let kind = match &e {
        TokenError::InvalidClusterName { .. }
        | TokenError::InvalidRegion { .. }
        | TokenError::NoRegion => ErrorKind::InvalidInput,
        TokenError::NoCredentialsProvider | TokenError::Credentials(_) => ErrorKind::Unauthorized,
        _ => ErrorKind::Other,
    };
    ProviderError::new(kind, format!("EKS token for {name}: {e}")).with_source(e)
}

#[async_trait]
impl ClusterOps for EksCluster {
    /// Endpoint and CA from the recorded [`ClusterOutputs`]; a bearer token signed
    /// in-process with the provider's credentials (like `aws eks get-token`).
    async fn credentials(&self, cluster: &Outputs) -> Result<ClusterCredentials, ProviderError> {
        let c: ClusterOutputs = cluster.read(&ids::cluster())?;
        let token = crate::eks_token::token(&self.clients.sdk, &c.name)
            .await
            .map_err(|e| token_error(&c.name, e))?;
        Ok(ClusterCredentials::bearer(
            c.endpoint,
            c.ca_data,
            token.token,
            Some(token.expires_at),
        ))
    }
}

sweep_with!(EksCluster => delete_cluster_by_name(name), awaiting describe_cluster(name));
