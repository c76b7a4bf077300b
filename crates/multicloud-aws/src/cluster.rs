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

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_eks::types::{
    Cluster as EksCluster, Nodegroup, NodegroupScalingConfig, VpcConfigRequest,
};
use multicloud_core::outputs::{ClusterOutputs, NodePoolOutputs};
use multicloud_core::provider::{
    ClusterCredentials, ClusterOps, Observation, OpContext, Outputs, Readiness, ResourceOps,
};
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_core::{ErrorKind, ProviderError};
use serde::Serialize;
use serde_json::Value;

use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::expand::ids;
use crate::model::{ClusterConfig, NodePoolConfig, RoleOutputs};
use crate::support::{
    dep_id, dep_ids, ensure_ours, none_if_not_found, observed, ok_if_not_found, unsupported,
};

/// EKS clusters and managed node groups.
#[derive(Debug, Clone)]
pub struct ClusterService {
    clients: Arc<AwsClients>,
}

impl ClusterService {
    pub(crate) fn new(clients: Arc<AwsClients>) -> Self {
        Self { clients }
    }

    async fn describe_cluster(&self, name: &str) -> Result<Option<EksCluster>, ProviderError> {
        let res = self.clients.eks.describe_cluster().name(name).send().await;
        none_if_not_found(
            res.map(|o| o.cluster)
                .map_err(|e| classify(e, Op::Read, "eks DescribeCluster")),
        )
        .map(Option::flatten)
    }

    async fn describe_nodegroup(
        &self,
        cluster: &str,
        name: &str,
    ) -> Result<Option<Nodegroup>, ProviderError> {
        let res = self
            .clients
            .eks
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await;
        none_if_not_found(
            res.map(|o| o.nodegroup)
                .map_err(|e| classify(e, Op::Read, "eks DescribeNodegroup")),
        )
        .map(Option::flatten)
    }

    // ----- cluster -----

    async fn create_cluster(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
        if let Some(existing) = self.describe_cluster(name).await? {
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

    async fn cluster_ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let name = &ctx.resource.name;
        let Some(c) = self.describe_cluster(name).await? else {
            return Err(ProviderError::not_found(format!(
                "EKS cluster {name} does not exist"
            )));
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

    async fn update_cluster(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
        let cfg: ClusterConfig = ctx.config()?;
        let Some(c) = self.describe_cluster(name).await? else {
            return Err(ProviderError::not_found(format!(
                "EKS cluster {name} does not exist"
            )));
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

    // ----- node group -----

    /// The cluster a node pool belongs to: the cluster dependency's `name`, else the one
    /// recorded for the node pool.
    fn pool_cluster<'c>(ctx: &'c OpContext<'_>) -> Option<&'c str> {
        ctx.dep_str(&ids::cluster(), "name")
            .ok()
            .or_else(|| ctx.recorded_str("cluster"))
    }

    fn pool_cluster_required<'c>(ctx: &'c OpContext<'_>) -> Result<&'c str, ProviderError> {
        Self::pool_cluster(ctx).ok_or_else(|| {
            ProviderError::invalid(format!(
                "{}: no cluster name (dependency {} has no output `name` and none is recorded)",
                ctx.resource.id,
                ids::cluster()
            ))
        })
    }

    async fn create_nodegroup(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let cluster = Self::pool_cluster_required(ctx)?;
        let name = &ctx.resource.name;
        if let Some(existing) = self.describe_nodegroup(cluster, name).await? {
            ensure_ours(ctx, existing.tags().into_iter().flatten())?;
            return nodegroup_outputs(cluster, name, Some(&existing));
        }
        let cfg: NodePoolConfig = ctx.config()?;
        let role: RoleOutputs = ctx.dep(&ids::node_role())?;
        let out = self
            .clients
            .eks
            .create_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .node_role(role.id)
            .set_subnets(Some(dep_ids(ctx, &cfg.subnets)?))
            .scaling_config(scaling(&cfg, &ctx.resource.id)?)
            .instance_types(&cfg.instance_type)
            .set_tags(Some(hash_tags(ctx)))
            .send()
            .await
            .map_err(|e| classify(e, Op::Create, "eks CreateNodegroup"))?;
        nodegroup_outputs(cluster, name, out.nodegroup())
    }

    async fn update_nodegroup(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let cluster = Self::pool_cluster_required(ctx)?;
        let cfg: NodePoolConfig = ctx.config()?;
        let name = &ctx.resource.name;
        self.clients
            .eks
            .update_nodegroup_config()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .scaling_config(scaling(&cfg, &ctx.resource.id)?)
            .send()
            .await
            .map_err(|e| classify(e, Op::Update, "eks UpdateNodegroupConfig"))?;
        match self.describe_nodegroup(cluster, name).await? {
            Some(ng) => nodegroup_outputs(cluster, name, Some(&ng)),
            None => Err(ProviderError::not_found(format!(
                "node group {name} of {cluster} vanished during update"
            ))),
        }
    }

    async fn nodegroup_ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let cluster = Self::pool_cluster_required(ctx)?;
        let name = &ctx.resource.name;
        let Some(ng) = self.describe_nodegroup(cluster, name).await? else {
            return Err(ProviderError::not_found(format!(
                "node group {name} of {cluster} does not exist"
            )));
        };
        let status = ng.status().map(|s| s.as_str()).unwrap_or("UNKNOWN");
        match status {
            "ACTIVE" => Ok(Readiness::Ready(nodegroup_outputs(
                cluster,
                name,
                Some(&ng),
            )?)),
            "CREATE_FAILED" | "DEGRADED" | "DELETING" | "DELETE_FAILED" => Err(ProviderError::new(
                ErrorKind::Failed,
                format!(
                    "node group {name} of {cluster} is {status} {:?}",
                    health_issues(&ng)
                ),
            )
            .with_code(status)),
            other => Ok(Readiness::pending(other)),
        }
    }

    async fn observe_cluster(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let name = &ctx.resource.name;
        let Some(c) = self.describe_cluster(name).await? else {
            return Ok(Observation::Absent);
        };
        let drifted = ctx
            .config::<ClusterConfig>()
            .is_ok_and(|cfg| c.version() != Some(cfg.version.as_str()));
        Ok(observed(
            ctx,
            c.arn(),
            c.tags().into_iter().flatten(),
            cluster_outputs(name, &c)?,
            drifted,
        ))
    }

    async fn observe_nodegroup(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let Some(cluster) = Self::pool_cluster(ctx) else {
            // The cluster is not known yet, so neither can its node groups be.
            return Ok(Observation::Absent);
        };
        let name = &ctx.resource.name;
        let Some(ng) = self.describe_nodegroup(cluster, name).await? else {
            return Ok(Observation::Absent);
        };
        let drifted = ctx
            .config::<NodePoolConfig>()
            .is_ok_and(|cfg| scaling_drifted(&cfg, &ng));
        Ok(observed(
            ctx,
            ng.nodegroup_arn(),
            ng.tags().into_iter().flatten(),
            nodegroup_outputs(cluster, name, Some(&ng))?,
            drifted,
        ))
    }

    async fn nodegroup_gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let Some(cluster) = Self::pool_cluster(ctx) else {
            return Ok(Readiness::ready());
        };
        let name = &ctx.resource.name;
        let Some(ng) = self.describe_nodegroup(cluster, name).await? else {
            return Ok(Readiness::ready());
        };
        match ng.status().map(|s| s.as_str()) {
            Some("DELETE_FAILED") => Err(ProviderError::new(
                ErrorKind::Failed,
                format!("node group {name} of {cluster} failed to delete"),
            )
            .with_code("DELETE_FAILED")),
            status => Ok(Readiness::pending(status.unwrap_or("DELETING"))),
        }
    }
}

/// Deletes EKS cluster `name`. Succeeds if it does not exist; fails with a retryable
/// [`ErrorKind::DependencyViolation`] while node groups are still attached.
pub(crate) async fn delete_cluster_by_name(
    clients: &AwsClients,
    name: &str,
) -> Result<(), ProviderError> {
    let res = clients.eks.delete_cluster().name(name).send().await;
    ok_if_not_found(
        res.map(|_| ())
            .map_err(|e| classify(e, Op::Delete, "eks DeleteCluster")),
    )
}

/// Deletes node group `name` of cluster `cluster`. Succeeds if it (or the cluster) does not
/// exist.
pub(crate) async fn delete_nodegroup(
    clients: &AwsClients,
    cluster: &str,
    name: &str,
) -> Result<(), ProviderError> {
    let res = clients
        .eks
        .delete_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .send()
        .await;
    ok_if_not_found(
        res.map(|_| ())
            .map_err(|e| classify(e, Op::Delete, "eks DeleteNodegroup")),
    )
}

fn hash_tags(ctx: &OpContext<'_>) -> HashMap<String, String> {
    ctx.resource
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A size of the config as the `i32` EKS takes; [`ErrorKind::InvalidInput`] when too large.
fn size(value: u32, field: &str, id: &ResourceId) -> Result<i32, ProviderError> {
    i32::try_from(value)
        .map_err(|_| ProviderError::invalid(format!("{id}: `{field}` ({value}) is out of range")))
}

fn scaling(cfg: &NodePoolConfig, id: &ResourceId) -> Result<NodegroupScalingConfig, ProviderError> {
    Ok(NodegroupScalingConfig::builder()
        .min_size(size(cfg.min, "min", id)?)
        .max_size(size(cfg.max, "max", id)?)
        .desired_size(size(cfg.desired, "desired", id)?)
        .build())
}

/// Whether the live scaling config differs from the desired one.
fn scaling_drifted(cfg: &NodePoolConfig, ng: &Nodegroup) -> bool {
    let live = ng.scaling_config();
    let pairs = [
        (cfg.min, live.and_then(|s| s.min_size())),
        (cfg.max, live.and_then(|s| s.max_size())),
        (cfg.desired, live.and_then(|s| s.desired_size())),
    ];
    pairs
        .iter()
        .any(|(want, have)| i32::try_from(*want).ok() != *have)
}

/// The health issues of a node group, as `CODE: message`.
fn health_issues(ng: &Nodegroup) -> Vec<String> {
    ng.health()
        .map(|h| h.issues())
        .unwrap_or_default()
        .iter()
        .map(|i| {
            format!(
                "{}: {}",
                i.code().map(|c| c.as_str()).unwrap_or("?"),
                i.message().unwrap_or("")
            )
        })
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
fn cluster_outputs(name: &str, c: &EksCluster) -> Result<Outputs, ProviderError> {
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

/// What a node pool records: the neutral outputs and the name of its cluster.
#[derive(Serialize)]
struct PoolRecord<'a> {
    #[serde(flatten)]
    neutral: NodePoolOutputs,
    cluster: &'a str,
}

/// What a node pool records while its ARN is not known.
#[derive(Serialize)]
struct PoolFacts<'a> {
    name: &'a str,
    cluster: &'a str,
}

/// The outputs of node group `name` of `cluster`.
fn nodegroup_outputs(
    cluster: &str,
    name: &str,
    ng: Option<&Nodegroup>,
) -> Result<Outputs, ProviderError> {
    match ng.and_then(Nodegroup::nodegroup_arn) {
        Some(arn) => Outputs::of(&PoolRecord {
            neutral: NodePoolOutputs {
                id: arn.to_string(),
                name: name.to_string(),
            },
            cluster,
        }),
        None => Outputs::of(&PoolFacts { name, cluster }),
    }
}

#[async_trait]
impl ResourceOps for ClusterService {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::CLUSTER => self.observe_cluster(ctx).await,
            ResourceKind::NODE_POOL => self.observe_nodegroup(ctx).await,
            _ => Err(unsupported("cluster", ctx.resource.kind)),
        }
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::CLUSTER => self.create_cluster(ctx).await,
            ResourceKind::NODE_POOL => self.create_nodegroup(ctx).await,
            _ => Err(unsupported("cluster", ctx.resource.kind)),
        }
    }

    /// Clusters: `UpdateClusterVersion` when the version differs (EKS upgrades one minor
    /// version at a time). Node pools: `UpdateNodegroupConfig` with the desired scaling.
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::CLUSTER => self.update_cluster(ctx).await,
            ResourceKind::NODE_POOL => self.update_nodegroup(ctx).await,
            _ => Err(unsupported("cluster", ctx.resource.kind)),
        }
    }

    fn supports_update(&self, kind: ResourceKind) -> bool {
        matches!(kind, ResourceKind::CLUSTER | ResourceKind::NODE_POOL)
    }

    /// In place: a cluster's `version`, a node pool's scaling (`min`, `max`, `desired`).
    /// Anything else (subnets, security group, instance type) replaces the resource.
    fn requires_replacement(&self, kind: ResourceKind, old: &Value, new: &Value) -> bool {
        let fixed: &[&str] = match kind {
            ResourceKind::CLUSTER => &["subnets", "security_group"],
            ResourceKind::NODE_POOL => &["instance_type", "subnets"],
            _ => return true,
        };
        fixed.iter().any(|k| old.get(k) != new.get(k))
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        match ctx.resource.kind {
            ResourceKind::CLUSTER => {
                delete_cluster_by_name(&self.clients, &ctx.resource.name).await
            }
            ResourceKind::NODE_POOL => {
                let cluster = Self::pool_cluster_required(ctx)?;
                delete_nodegroup(&self.clients, cluster, &ctx.resource.name).await
            }
            _ => Err(unsupported("cluster", ctx.resource.kind)),
        }
    }

    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::CLUSTER => self.cluster_ready(ctx).await,
            ResourceKind::NODE_POOL => self.nodegroup_ready(ctx).await,
            _ => Err(unsupported("cluster", ctx.resource.kind)),
        }
    }

    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::CLUSTER => Ok(match self.describe_cluster(&ctx.resource.name).await? {
                None => Readiness::ready(),
                Some(c) => Readiness::pending(c.status().map(|s| s.as_str()).unwrap_or("DELETING")),
            }),
            ResourceKind::NODE_POOL => self.nodegroup_gone(ctx).await,
            _ => Err(unsupported("cluster", ctx.resource.kind)),
        }
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
impl ClusterOps for ClusterService {
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
