//! EKS managed node groups ([`NodeGroup`]).

use async_trait::async_trait;
use aws_sdk_eks::types::{Nodegroup, NodegroupScalingConfig};
use multicloud_core::observation::{Drift, FieldDrift};
use multicloud_core::outputs::NodePoolOutputs;
use multicloud_core::provider::{Observation, OpContext, Outputs, Readiness, ResourceOps};
use multicloud_core::resource::ResourceId;
use multicloud_core::{ErrorKind, ProviderError};
use serde::Serialize;
use serde_json::Value;

use super::hash_tags;
use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::expand::ids;
use crate::model::{NodePoolConfig, RoleOutputs};
use crate::support::{
    any_changed, deleted, dep_ids, ensure_ours, kind_ops, none_if_not_found, observed,
};
use crate::sweeper::{SweepOps, SweptResource};

kind_ops! {
    /// A managed node group ([`ResourceKind::NODE_POOL`]) of the stack's cluster.
    ///
    /// [`ResourceKind::NODE_POOL`]: multicloud_core::resource::ResourceKind::NODE_POOL
    NodeGroup;
}

async fn describe_nodegroup(
    c: &AwsClients,
    cluster: &str,
    name: &str,
) -> Result<Option<Nodegroup>, ProviderError> {
    let res = c
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

/// The cluster a node pool belongs to: the cluster dependency's `name`, else the one
/// recorded for the node pool.
fn pool_cluster<'c>(ctx: &'c OpContext<'_>) -> Option<&'c str> {
    ctx.dep_str(&ids::cluster(), "name")
        .ok()
        .or_else(|| ctx.recorded_str("cluster"))
}

fn pool_cluster_required<'c>(ctx: &'c OpContext<'_>) -> Result<&'c str, ProviderError> {
    pool_cluster(ctx).ok_or_else(|| {
        ProviderError::invalid(format!(
            "{}: no cluster name (dependency {} has no output `name` and none is recorded)",
            ctx.resource.id,
            ids::cluster()
        ))
    })
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
    deleted(res, "eks DeleteNodegroup")
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

/// How the live scaling config differs from the desired one.
fn scaling_drift(cfg: &NodePoolConfig, ng: &Nodegroup) -> Option<Drift> {
    let live = ng.scaling_config();
    let pairs = [
        (
            "scaling_config.min_size",
            cfg.min,
            live.and_then(|s| s.min_size()),
        ),
        (
            "scaling_config.max_size",
            cfg.max,
            live.and_then(|s| s.max_size()),
        ),
        (
            "scaling_config.desired_size",
            cfg.desired,
            live.and_then(|s| s.desired_size()),
        ),
    ];
    Drift::of(pairs.iter().filter_map(|(field, want, have)| {
        FieldDrift::compare_live(field, &i64::from(*want), have.map(i64::from).as_ref())
    }))
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

fn pool_missing(name: &str, cluster: &str) -> ProviderError {
    ProviderError::not_found(format!("node group {name} of {cluster} does not exist"))
}

#[async_trait]
impl ResourceOps for NodeGroup {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let Some(cluster) = pool_cluster(ctx) else {
            // The cluster is not known yet, so neither can its node groups be.
            return Ok(Observation::Absent);
        };
        let name = &ctx.resource.name;
        let Some(ng) = describe_nodegroup(&self.clients, cluster, name).await? else {
            return Ok(Observation::Absent);
        };
        let drift = ctx
            .config::<NodePoolConfig>()
            .ok()
            .and_then(|cfg| scaling_drift(&cfg, &ng));
        Ok(observed(
            ctx,
            ng.nodegroup_arn(),
            ng.tags().into_iter().flatten(),
            nodegroup_outputs(cluster, name, Some(&ng))?,
            drift,
        ))
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let cluster = pool_cluster_required(ctx)?;
        let name = &ctx.resource.name;
        if let Some(existing) = describe_nodegroup(&self.clients, cluster, name).await? {
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

    /// `UpdateNodegroupConfig` with the desired scaling.
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let cluster = pool_cluster_required(ctx)?;
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
        match describe_nodegroup(&self.clients, cluster, name).await? {
            Some(ng) => nodegroup_outputs(cluster, name, Some(&ng)),
            None => Err(ProviderError::not_found(format!(
                "node group {name} of {cluster} vanished during update"
            ))),
        }
    }

    fn supports_update(&self) -> bool {
        true
    }

    /// In place: the scaling (`min`, `max`, `desired`). The instance type or the subnets
    /// replace the node group.
    fn requires_replacement(&self, old: &Value, new: &Value) -> bool {
        any_changed(&["instance_type", "subnets"], old, new)
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        let cluster = pool_cluster_required(ctx)?;
        delete_nodegroup(&self.clients, cluster, &ctx.resource.name).await
    }

    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let cluster = pool_cluster_required(ctx)?;
        let name = &ctx.resource.name;
        let Some(ng) = describe_nodegroup(&self.clients, cluster, name).await? else {
            return Err(pool_missing(name, cluster));
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

    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let Some(cluster) = pool_cluster(ctx) else {
            return Ok(Readiness::ready());
        };
        let name = &ctx.resource.name;
        let Some(ng) = describe_nodegroup(&self.clients, cluster, name).await? else {
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

/// Node groups are found with their cluster (`parent`).
#[async_trait]
impl SweepOps for NodeGroup {
    async fn delete_found(&self, found: &SweptResource) -> Result<(), ProviderError> {
        let cluster = found.parent.as_deref().unwrap_or_default();
        delete_nodegroup(&self.clients, cluster, &found.name).await
    }
    fn awaited(&self) -> bool {
        true
    }
    async fn exists(&self, found: &SweptResource) -> Result<bool, ProviderError> {
        let cluster = found.parent.as_deref().unwrap_or_default();
        Ok(describe_nodegroup(&self.clients, cluster, &found.name)
            .await?
            .is_some())
    }
}
