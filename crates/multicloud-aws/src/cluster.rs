//! EKS: the control plane ([`ResourceKind::Cluster`]) and managed node groups
//! ([`ResourceKind::NodePool`]), plus in-process cluster credentials.
//!
//! Config contract (see [`crate::expand`]):
//! - `cluster`: `{version, subnets: [subnet ids], security_group: sg id}`; depends on
//!   `cluster_role/main` (output `arn`). Outputs: `name`, `arn`, `endpoint`, `ca_data`,
//!   `oidc_issuer`, `version` (the last four once `ACTIVE`).
//! - `node_pool`: `{instance_type, min, max, desired, subnets}`; depends on `cluster/main`
//!   (output `name`) and `node_role/main` (output `arn`). Outputs: `name`, `arn`, `cluster`.
//!
//! Ownership is read from the tags `DescribeCluster` / `DescribeNodegroup` return.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_eks::types::{
    Cluster as EksCluster, Nodegroup, NodegroupScalingConfig, VpcConfigRequest,
};
use multicloud_core::provider::{
    ClusterCredentials, ClusterOps, Observation, OpContext, Outputs, Readiness, ResourceOps,
};
use multicloud_core::resource::ResourceKind;
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::{Value, json};

use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::expand::ids;
use crate::support::{
    dep_id, dep_ids, ensure_ours, none_if_not_found, observed, ok_if_not_found, outputs,
    unsupported,
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
            return Ok(cluster_outputs(&existing));
        }
        let role_arn = ctx.dep_str(&ids::cluster_role(), "arn")?;
        let vpc = VpcConfigRequest::builder()
            .set_subnet_ids(Some(dep_ids(ctx, "subnets")?))
            .security_group_ids(dep_id(ctx, "security_group")?)
            .endpoint_public_access(true)
            .endpoint_private_access(true)
            .build();
        let out = self
            .clients
            .eks
            .create_cluster()
            .name(name)
            .version(ctx.config_str("version")?)
            .role_arn(role_arn)
            .resources_vpc_config(vpc)
            .set_tags(Some(hash_tags(ctx)))
            .send()
            .await
            .map_err(|e| classify(e, Op::Create, "eks CreateCluster"))?;
        Ok(out
            .cluster()
            .map(cluster_outputs)
            .unwrap_or_else(|| outputs([("name", json!(name))])))
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
            "ACTIVE" => Ok(Readiness::Ready(cluster_outputs(&c))),
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
        let Some(c) = self.describe_cluster(name).await? else {
            return Err(ProviderError::not_found(format!(
                "EKS cluster {name} does not exist"
            )));
        };
        let version = ctx.config_str("version")?;
        if c.version() != Some(version) {
            self.clients
                .eks
                .update_cluster_version()
                .name(name)
                .version(version)
                .send()
                .await
                .map_err(|e| classify(e, Op::Update, "eks UpdateClusterVersion"))?;
        }
        Ok(cluster_outputs(&c))
    }

    async fn update_nodegroup(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let cluster = Self::pool_cluster_required(ctx)?;
        self.clients
            .eks
            .update_nodegroup_config()
            .cluster_name(cluster)
            .nodegroup_name(&ctx.resource.name)
            .scaling_config(scaling(ctx)?)
            .send()
            .await
            .map_err(|e| classify(e, Op::Update, "eks UpdateNodegroupConfig"))?;
        match self.describe_nodegroup(cluster, &ctx.resource.name).await? {
            Some(ng) => Ok(nodegroup_outputs(cluster, &ng)),
            None => Err(ProviderError::not_found(format!(
                "node group {} of {cluster} vanished during update",
                ctx.resource.name
            ))),
        }
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
            return Ok(nodegroup_outputs(cluster, &existing));
        }
        let out = self
            .clients
            .eks
            .create_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .node_role(ctx.dep_str(&ids::node_role(), "arn")?)
            .set_subnets(Some(dep_ids(ctx, "subnets")?))
            .scaling_config(scaling(ctx)?)
            .instance_types(ctx.config_str("instance_type")?)
            .set_tags(Some(hash_tags(ctx)))
            .send()
            .await
            .map_err(|e| classify(e, Op::Create, "eks CreateNodegroup"))?;
        Ok(match out.nodegroup() {
            Some(ng) => nodegroup_outputs(cluster, ng),
            None => outputs([("name", json!(name)), ("cluster", json!(cluster))]),
        })
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
            "ACTIVE" => Ok(Readiness::Ready(nodegroup_outputs(cluster, &ng))),
            "CREATE_FAILED" | "DEGRADED" | "DELETING" | "DELETE_FAILED" => {
                let issues: Vec<String> = ng
                    .health()
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
                    .collect();
                Err(ProviderError::new(
                    ErrorKind::Failed,
                    format!("node group {name} of {cluster} is {status} {issues:?}"),
                )
                .with_code(status))
            }
            other => Ok(Readiness::pending(other)),
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

fn config_i32(ctx: &OpContext<'_>, key: &str) -> Result<i32, ProviderError> {
    ctx.resource
        .config
        .get(key)
        .and_then(Value::as_u64)
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| {
            ProviderError::invalid(format!(
                "{}: config has no integer `{key}`",
                ctx.resource.id
            ))
        })
}

fn scaling(ctx: &OpContext<'_>) -> Result<NodegroupScalingConfig, ProviderError> {
    Ok(NodegroupScalingConfig::builder()
        .min_size(config_i32(ctx, "min")?)
        .max_size(config_i32(ctx, "max")?)
        .desired_size(config_i32(ctx, "desired")?)
        .build())
}

fn cluster_outputs(c: &EksCluster) -> Outputs {
    let mut o = outputs([("name", json!(c.name())), ("arn", json!(c.arn()))]);
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            o.insert(k.to_string(), json!(v));
        }
    };
    put("endpoint", c.endpoint());
    put("ca_data", c.certificate_authority().and_then(|a| a.data()));
    put(
        "oidc_issuer",
        c.identity().and_then(|i| i.oidc()).and_then(|o| o.issuer()),
    );
    put("version", c.version());
    o
}

fn nodegroup_outputs(cluster: &str, ng: &Nodegroup) -> Outputs {
    outputs([
        ("name", json!(ng.nodegroup_name())),
        ("arn", json!(ng.nodegroup_arn())),
        ("cluster", json!(cluster)),
    ])
}

/// Whether the live scaling config differs from the desired one.
fn scaling_drifted(ctx: &OpContext<'_>, ng: &Nodegroup) -> bool {
    let live = ng.scaling_config();
    let pairs = [
        ("min", live.and_then(|s| s.min_size())),
        ("max", live.and_then(|s| s.max_size())),
        ("desired", live.and_then(|s| s.desired_size())),
    ];
    pairs.iter().any(|(k, v)| config_i32(ctx, k).ok() != *v)
}

#[async_trait]
impl ResourceOps for ClusterService {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::Cluster => Ok(match self.describe_cluster(&ctx.resource.name).await? {
                None => Observation::Absent,
                Some(c) => {
                    let drifted = ctx
                        .config_str("version")
                        .is_ok_and(|v| c.version() != Some(v));
                    observed(
                        ctx,
                        c.arn(),
                        c.tags().into_iter().flatten(),
                        cluster_outputs(&c),
                        drifted,
                    )
                }
            }),
            ResourceKind::NodePool => {
                let Some(cluster) = Self::pool_cluster(ctx) else {
                    // The cluster is not known yet, so neither can its node groups be.
                    return Ok(Observation::Absent);
                };
                Ok(
                    match self.describe_nodegroup(cluster, &ctx.resource.name).await? {
                        None => Observation::Absent,
                        Some(ng) => observed(
                            ctx,
                            ng.nodegroup_arn(),
                            ng.tags().into_iter().flatten(),
                            nodegroup_outputs(cluster, &ng),
                            scaling_drifted(ctx, &ng),
                        ),
                    },
                )
            }
            _ => Err(unsupported("cluster", ctx.resource.kind)),
        }
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::Cluster => self.create_cluster(ctx).await,
            ResourceKind::NodePool => self.create_nodegroup(ctx).await,
            _ => Err(unsupported("cluster", ctx.resource.kind)),
        }
    }

    /// Clusters: `UpdateClusterVersion` when the version differs (EKS upgrades one minor
    /// version at a time). Node pools: `UpdateNodegroupConfig` with the desired scaling.
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::Cluster => self.update_cluster(ctx).await,
            ResourceKind::NodePool => self.update_nodegroup(ctx).await,
            _ => Err(unsupported("cluster", ctx.resource.kind)),
        }
    }

    fn supports_update(&self, kind: ResourceKind) -> bool {
        matches!(kind, ResourceKind::Cluster | ResourceKind::NodePool)
    }

    /// In place: a cluster's `version`, a node pool's scaling (`min`, `max`, `desired`).
    /// Anything else (subnets, security group, instance type) replaces the resource.
    fn requires_replacement(&self, kind: ResourceKind, old: &Value, new: &Value) -> bool {
        let fixed: &[&str] = match kind {
            ResourceKind::Cluster => &["subnets", "security_group"],
            ResourceKind::NodePool => &["instance_type", "subnets"],
            _ => return true,
        };
        fixed.iter().any(|k| old.get(k) != new.get(k))
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        match ctx.resource.kind {
            ResourceKind::Cluster => {
                delete_cluster_by_name(&self.clients, &ctx.resource.name).await
            }
            ResourceKind::NodePool => {
                let cluster = Self::pool_cluster_required(ctx)?;
                delete_nodegroup(&self.clients, cluster, &ctx.resource.name).await
            }
            _ => Err(unsupported("cluster", ctx.resource.kind)),
        }
    }

    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::Cluster => self.cluster_ready(ctx).await,
            ResourceKind::NodePool => self.nodegroup_ready(ctx).await,
            _ => Err(unsupported("cluster", ctx.resource.kind)),
        }
    }

    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::Cluster => Ok(match self.describe_cluster(&ctx.resource.name).await? {
                None => Readiness::ready(),
                Some(c) => Readiness::pending(c.status().map(|s| s.as_str()).unwrap_or("DELETING")),
            }),
            ResourceKind::NodePool => {
                let Some(cluster) = Self::pool_cluster(ctx) else {
                    return Ok(Readiness::ready());
                };
                match self.describe_nodegroup(cluster, &ctx.resource.name).await? {
                    None => Ok(Readiness::ready()),
                    Some(ng) => match ng.status().map(|s| s.as_str()) {
                        Some("DELETE_FAILED") => Err(ProviderError::new(
                            ErrorKind::Failed,
                            format!(
                                "node group {} of {cluster} failed to delete",
                                ctx.resource.name
                            ),
                        )
                        .with_code("DELETE_FAILED")),
                        status => Ok(Readiness::pending(status.unwrap_or("DELETING"))),
                    },
                }
            }
            _ => Err(unsupported("cluster", ctx.resource.kind)),
        }
    }
}

#[async_trait]
impl ClusterOps for ClusterService {
    /// Endpoint and CA from the recorded outputs; a bearer token signed in-process with the
    /// provider's credentials (like `aws eks get-token`).
    async fn credentials(&self, cluster: &Outputs) -> Result<ClusterCredentials, ProviderError> {
        let get = |key: &str| {
            cluster
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ProviderError::invalid(format!("cluster outputs have no `{key}`")))
        };
        let name = get("name")?;
        let endpoint = get("endpoint")?;
        let ca_data = get("ca_data")?;
        let token = crate::eks_token::token(&self.clients.sdk, &name)
            .await
            .map_err(|e| {
                let kind = match &e {
                    crate::eks_token::TokenError::InvalidClusterName { .. }
                    | crate::eks_token::TokenError::InvalidRegion { .. }
                    | crate::eks_token::TokenError::NoRegion => ErrorKind::InvalidInput,
                    crate::eks_token::TokenError::NoCredentialsProvider
                    | crate::eks_token::TokenError::Credentials(_) => ErrorKind::Unauthorized,
                    _ => ErrorKind::Other,
                };
                ProviderError::new(kind, format!("EKS token for {name}: {e}")).with_source(e)
            })?;
        Ok(ClusterCredentials {
            endpoint,
            ca_data,
            token: token.token,
            expires_at: Some(token.expires_at),
        })
    }
}
