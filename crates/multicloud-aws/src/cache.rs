//! ElastiCache: the cache subnet group ([`ResourceKind::CacheSubnetGroup`]) and the Redis
//! replication group ([`ResourceKind::Cache`]).
//!
//! Config contract (see [`crate::expand`]):
//! - `cache_subnet_group`: `{subnets: [subnet ids]}`. Outputs: `name`, `arn`.
//! - `cache`: `{engine_version, node_type, replicas, security_group, subnet_group}`.
//!   Outputs: `host`, `port` (once available), `arn`, `name`.
//!
//! Ownership is read with `ListTagsForResource` on the group's ARN.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_elasticache::types::{ReplicationGroup, Tag};
use multicloud_core::provider::{
    CacheOps, Observation, OpContext, Outputs, Readiness, ResourceOps,
};
use multicloud_core::resource::ResourceKind;
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::{Value, json};

use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::support::{
    dep_id, dep_ids, dep_output, ensure_ours, none_if_not_found, observed, ok_if_not_found,
    outputs, tag_pairs, unsupported,
};

/// ElastiCache Redis replication groups and their subnet groups.
#[derive(Debug, Clone)]
pub struct CacheService {
    clients: Arc<AwsClients>,
}

impl CacheService {
    pub(crate) fn new(clients: Arc<AwsClients>) -> Self {
        Self { clients }
    }
}

fn tags(ctx: &OpContext<'_>) -> Vec<Tag> {
    ctx.resource
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

async fn list_tags(clients: &AwsClients, arn: &str) -> Result<Vec<Tag>, ProviderError> {
    let out = clients
        .elasticache
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| classify(e, Op::Read, "elasticache ListTagsForResource"))?;
    Ok(out.tag_list().to_vec())
}

/// The replica count of the config (`replicas`), 0 when absent.
fn replicas(ctx: &OpContext<'_>) -> Result<i32, ProviderError> {
    match ctx.resource.config.get("replicas") {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_u64()
            .and_then(|r| i32::try_from(r).ok())
            .filter(|r| *r <= 5)
            .ok_or_else(|| {
                ProviderError::invalid(format!("{}: `replicas` must be 0 to 5", ctx.resource.id))
            }),
    }
}

// ----- subnet group -----

async fn describe_subnet_group(
    clients: &AwsClients,
    name: &str,
) -> Result<Option<(String, Vec<Tag>)>, ProviderError> {
    let res = clients
        .elasticache
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(name)
        .send()
        .await;
    let out = none_if_not_found(
        res.map_err(|e| classify(e, Op::Read, "elasticache DescribeCacheSubnetGroups")),
    )?;
    let Some(arn) = out
        .as_ref()
        .and_then(|o| o.cache_subnet_groups().first())
        .and_then(|g| g.arn())
    else {
        return Ok(None);
    };
    Ok(Some((arn.to_string(), list_tags(clients, arn).await?)))
}

fn subnet_group_outputs(name: &str, arn: &str) -> Outputs {
    outputs([("name", json!(name)), ("arn", json!(arn))])
}

/// Deletes cache subnet group `name`. Succeeds if it does not exist;
/// `CacheSubnetGroupInUse` is retryable. (moto does not implement this call: the error it
/// returns is passed on as is.)
pub(crate) async fn delete_cache_subnet_group(
    clients: &AwsClients,
    name: &str,
) -> Result<(), ProviderError> {
    let res = clients
        .elasticache
        .delete_cache_subnet_group()
        .cache_subnet_group_name(name)
        .send()
        .await;
    ok_if_not_found(
        res.map(|_| ())
            .map_err(|e| classify(e, Op::Delete, "elasticache DeleteCacheSubnetGroup")),
    )
}

// ----- replication group -----

async fn describe_group(
    clients: &AwsClients,
    name: &str,
) -> Result<Option<ReplicationGroup>, ProviderError> {
    let res = clients
        .elasticache
        .describe_replication_groups()
        .replication_group_id(name)
        .send()
        .await;
    let out = none_if_not_found(
        res.map_err(|e| classify(e, Op::Read, "elasticache DescribeReplicationGroups")),
    )?;
    Ok(out.and_then(|o| o.replication_groups().first().cloned()))
}

/// Deletes replication group `name` (primary included). Succeeds if it does not exist or
/// is already being deleted.
pub(crate) async fn delete_replication_group(
    clients: &AwsClients,
    name: &str,
) -> Result<(), ProviderError> {
    match describe_group(clients, name).await? {
        None => return Ok(()),
        Some(g) if g.status() == Some("deleting") => return Ok(()),
        Some(_) => {}
    }
    let res = clients
        .elasticache
        .delete_replication_group()
        .replication_group_id(name)
        .retain_primary_cluster(false)
        .send()
        .await;
    ok_if_not_found(
        res.map(|_| ())
            .map_err(|e| classify(e, Op::Delete, "elasticache DeleteReplicationGroup")),
    )
}

/// Outputs of a group: the primary endpoint (cluster mode disabled) or the configuration
/// endpoint (cluster mode enabled), once known.
fn group_outputs(name: &str, g: &ReplicationGroup) -> Outputs {
    let endpoint = g
        .node_groups()
        .first()
        .and_then(|n| n.primary_endpoint())
        .or_else(|| g.configuration_endpoint());
    outputs([
        ("name", json!(name)),
        ("host", json!(endpoint.and_then(|e| e.address()))),
        ("port", json!(endpoint.and_then(|e| e.port()))),
        ("arn", json!(g.arn())),
    ])
}

fn group_drifted(ctx: &OpContext<'_>, g: &ReplicationGroup) -> bool {
    let nodes = replicas(ctx).ok().and_then(|r| usize::try_from(r + 1).ok());
    ctx.config_str("node_type").ok() != g.cache_node_type()
        || nodes != Some(g.member_clusters().len())
}

impl CacheService {
    async fn create_subnet_group(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
        if let Some((arn, tags)) = describe_subnet_group(&self.clients, name).await? {
            ensure_ours(ctx, tag_pairs(&tags))?;
            return Ok(subnet_group_outputs(name, &arn));
        }
        let out = self
            .clients
            .elasticache
            .create_cache_subnet_group()
            .cache_subnet_group_name(name)
            .cache_subnet_group_description(format!("{} (multicloud)", ctx.resource.id))
            .set_subnet_ids(Some(dep_ids(ctx, "subnets")?))
            .set_tags(Some(tags(ctx)))
            .send()
            .await
            .map_err(|e| classify(e, Op::Create, "elasticache CreateCacheSubnetGroup"))?;
        let arn = out
            .cache_subnet_group()
            .and_then(|g| g.arn())
            .unwrap_or_default();
        Ok(subnet_group_outputs(name, arn))
    }

    async fn create_group(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
        if let Some(g) = describe_group(&self.clients, name).await? {
            let arn = g.arn().unwrap_or_default();
            ensure_ours(ctx, tag_pairs(&list_tags(&self.clients, arn).await?))?;
            return Ok(group_outputs(name, &g));
        }
        let replicas = replicas(ctx)?;
        let failover = replicas >= 1;
        let out = self
            .clients
            .elasticache
            .create_replication_group()
            .replication_group_id(name)
            .replication_group_description(format!("{} (multicloud)", ctx.resource.id))
            .engine("redis")
            .engine_version(ctx.config_str("engine_version")?)
            .cache_node_type(ctx.config_str("node_type")?)
            .num_cache_clusters(1 + replicas)
            .automatic_failover_enabled(failover)
            .multi_az_enabled(failover)
            .cache_subnet_group_name(dep_output(ctx, "subnet_group", "name")?)
            .security_group_ids(dep_id(ctx, "security_group")?)
            .at_rest_encryption_enabled(true)
            .transit_encryption_enabled(true)
            .set_tags(Some(tags(ctx)))
            .send()
            .await
            .map_err(|e| classify(e, Op::Create, "elasticache CreateReplicationGroup"))?;
        Ok(match out.replication_group() {
            Some(g) => group_outputs(name, g),
            None => outputs([("name", json!(name))]),
        })
    }

    async fn group_ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let name = &ctx.resource.name;
        let Some(g) = describe_group(&self.clients, name).await? else {
            return Err(ProviderError::not_found(format!(
                "replication group {name} does not exist"
            )));
        };
        match g.status().unwrap_or("unknown") {
            "available" => Ok(Readiness::Ready(group_outputs(name, &g))),
            status @ ("create-failed" | "deleting") => Err(ProviderError::new(
                ErrorKind::Failed,
                format!("replication group {name} is {status}"),
            )
            .with_code(status)),
            other => Ok(Readiness::pending(other)),
        }
    }
}

#[async_trait]
impl ResourceOps for CacheService {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let name = &ctx.resource.name;
        match ctx.resource.kind {
            ResourceKind::CacheSubnetGroup => {
                Ok(match describe_subnet_group(&self.clients, name).await? {
                    None => Observation::Absent,
                    Some((arn, tags)) => observed(
                        ctx,
                        Some(&arn),
                        tag_pairs(&tags),
                        subnet_group_outputs(name, &arn),
                        false,
                    ),
                })
            }
            ResourceKind::Cache => match describe_group(&self.clients, name).await? {
                None => Ok(Observation::Absent),
                Some(g) => {
                    let tags = list_tags(&self.clients, g.arn().unwrap_or_default()).await?;
                    Ok(observed(
                        ctx,
                        g.arn(),
                        tag_pairs(&tags),
                        group_outputs(name, &g),
                        group_drifted(ctx, &g),
                    ))
                }
            },
            _ => Err(unsupported("cache", ctx.resource.kind)),
        }
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::CacheSubnetGroup => self.create_subnet_group(ctx).await,
            ResourceKind::Cache => self.create_group(ctx).await,
            _ => Err(unsupported("cache", ctx.resource.kind)),
        }
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        match ctx.resource.kind {
            ResourceKind::CacheSubnetGroup => {
                delete_cache_subnet_group(&self.clients, &ctx.resource.name).await
            }
            ResourceKind::Cache => {
                delete_replication_group(&self.clients, &ctx.resource.name).await
            }
            _ => Err(unsupported("cache", ctx.resource.kind)),
        }
    }

    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::CacheSubnetGroup => Ok(Readiness::ready()),
            ResourceKind::Cache => self.group_ready(ctx).await,
            _ => Err(unsupported("cache", ctx.resource.kind)),
        }
    }

    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let name = &ctx.resource.name;
        match ctx.resource.kind {
            ResourceKind::CacheSubnetGroup => {
                Ok(match describe_subnet_group(&self.clients, name).await? {
                    None => Readiness::ready(),
                    Some(_) => Readiness::pending("exists"),
                })
            }
            ResourceKind::Cache => Ok(match describe_group(&self.clients, name).await? {
                None => Readiness::ready(),
                Some(g) => Readiness::pending(g.status().unwrap_or("deleting")),
            }),
            _ => Err(unsupported("cache", ctx.resource.kind)),
        }
    }
}

impl CacheOps for CacheService {}
