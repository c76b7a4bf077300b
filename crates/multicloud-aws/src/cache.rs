//! ElastiCache: the cache subnet group ([`CacheSubnetGroup`]) and the Redis replication
//! group ([`ReplicationGroup`]).
//!
//! Config contract (see [`crate::expand`] and [`crate::model`]):
//! - `cache_subnet_group`: see [`subnet_group`].
//! - `cache`: [`CacheConfig`]; depends on its subnet group and security group. Outputs:
//!   [`CacheOutputs`] (`id` is the replication group ARN); `host` and `port` once the
//!   group is available (only `id` before).
//!
//! Ownership is read with `ListTagsForResource` on the group's ARN. Observe, delete and the
//! deletion check do not need the config (a resource removed from the spec may carry a
//! config of an older shape).

use async_trait::async_trait;
use aws_sdk_elasticache::types::{self as elasticache, Tag};
use multicloud_core::observation::{Drift, FieldDrift};
use multicloud_core::outputs::{CacheOutputs, SecretOutputs};
use multicloud_core::provider::{Observation, OpContext, Outputs, Readiness, ResourceOps};
use multicloud_core::resource::ResourceId;
use multicloud_core::{ErrorKind, ProviderError};
use serde::Serialize;

use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::model::{CacheConfig, SubnetGroupOutputs};
use crate::subnet_group::{self};
use crate::support::{
    deleted, dep_id, ensure_ours, kind_ops, observed, read_or_none, sweep_with, tag_pairs,
};

kind_ops! {
    /// The ElastiCache cache subnet group
    /// ([`kinds::CACHE_SUBNET_GROUP`](crate::kinds::CACHE_SUBNET_GROUP)).
    CacheSubnetGroup;
    /// The ElastiCache Redis replication group ([`ResourceKind::CACHE`]).
    ///
    /// [`ResourceKind::CACHE`]: multicloud_core::resource::ResourceKind::CACHE
    ReplicationGroup;
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

/// Most read replicas of a replication group (cluster mode disabled).
const MAX_REPLICAS: u32 = 5;

/// The replica count of the config as the `i32` ElastiCache takes;
/// [`ErrorKind::InvalidInput`] beyond [`MAX_REPLICAS`].
fn replicas(cfg: &CacheConfig, id: &ResourceId) -> Result<i32, ProviderError> {
    i32::try_from(cfg.replicas)
        .ok()
        .filter(|_| cfg.replicas <= MAX_REPLICAS)
        .ok_or_else(|| {
            ProviderError::invalid(format!(
                "{id}: `replicas` must be 0 to {MAX_REPLICAS}, not {}",
                cfg.replicas
            ))
        })
}

// ----- subnet group -----

subnet_group::subnet_group_api! {
    CacheSubnetGroup, "cache subnet group", client elasticache, tags tags;
    describe describe_cache_subnet_groups(cache_subnet_group_name)
        -> cache_subnet_groups.arn, "elasticache DescribeCacheSubnetGroups";
    list_tags "elasticache ListTagsForResource";
    create create_cache_subnet_group(cache_subnet_group_name, cache_subnet_group_description)
        -> cache_subnet_group, "elasticache CreateCacheSubnetGroup";
    /// Deletes cache subnet group `name`. Succeeds if it does not exist;
    /// `CacheSubnetGroupInUse` (while a replication group, a deleting one included, uses it)
    /// is retryable.
    delete delete_cache_subnet_group = delete_cache_subnet_group(cache_subnet_group_name),
        "elasticache DeleteCacheSubnetGroup";
}

// ----- replication group -----

async fn describe_group(
    clients: &AwsClients,
    name: &str,
) -> Result<Option<elasticache::ReplicationGroup>, ProviderError> {
    let res = clients
        .elasticache
        .describe_replication_groups()
        .replication_group_id(name)
        .send()
        .await;
    let out = read_or_none(res, "elasticache DescribeReplicationGroups")?;
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
    deleted(res, "elasticache DeleteReplicationGroup")
}

/// What a group records before its endpoint is known: its ARN, if known.
#[derive(Serialize)]
struct PendingGroup<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
}

/// Outputs of a group: [`CacheOutputs`] with the primary endpoint (cluster mode disabled)
/// or the configuration endpoint (cluster mode enabled) once known, else [`PendingGroup`].
fn group_outputs(g: &elasticache::ReplicationGroup) -> Result<Outputs, ProviderError> {
    let endpoint = g
        .node_groups()
        .first()
        .and_then(|n| n.primary_endpoint())
        .or_else(|| g.configuration_endpoint());
    let host = endpoint.and_then(|e| e.address());
    let port = endpoint
        .and_then(|e| e.port())
        .and_then(|p| u16::try_from(p).ok());
    match (g.arn(), host, port) {
        (Some(id), Some(host), Some(port)) => Outputs::of(&CacheOutputs {
            id: id.to_string(),
            host: host.to_string(),
            port,
            tls: g.transit_encryption_enabled().unwrap_or(false),
        }),
        (id, ..) => Outputs::of(&PendingGroup { id }),
    }
}

/// How the live group differs from the config: its node type, its number of nodes.
fn group_drift(cfg: &CacheConfig, g: &elasticache::ReplicationGroup) -> Option<Drift> {
    let nodes = u64::from(cfg.replicas) + 1;
    let live = u64::try_from(g.member_clusters().len()).unwrap_or(u64::MAX);
    Drift::of(
        [
            FieldDrift::compare_live("node_type", cfg.node_type.as_str(), g.cache_node_type()),
            FieldDrift::compare("nodes", &nodes, &live),
        ]
        .into_iter()
        .flatten(),
    )
}

impl ReplicationGroup {
    async fn create_replication_group(
        &self,
        ctx: &OpContext<'_>,
    ) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
        if let Some(g) = describe_group(&self.clients, name).await? {
            let arn = g.arn().unwrap_or_default();
            ensure_ours(ctx, tag_pairs(&list_tags(&self.clients, arn).await?))?;
            return group_outputs(&g);
        }
        let cfg: CacheConfig = ctx.config()?;
        let replicas = replicas(&cfg, &ctx.resource.id)?;
        let subnet_group: SubnetGroupOutputs = ctx.dep(&cfg.subnet_group)?;
        let failover = replicas >= 1;
        let auth_token = match &cfg.auth_token_secret {
            Some(id) => {
                let secret: SecretOutputs = ctx.dep(id)?;
                Some(crate::secrets::get_secret_value(&self.clients, &secret.id).await?)
            }
            None => None,
        };
        let out = self
            .clients
            .elasticache
            .create_replication_group()
            .replication_group_id(name)
            .replication_group_description(format!("{} (multicloud)", ctx.resource.id))
            .engine("redis")
            .engine_version(&cfg.engine_version)
            .cache_node_type(&cfg.node_type)
            .num_cache_clusters(1 + replicas)
            .automatic_failover_enabled(failover)
            .multi_az_enabled(failover)
            .cache_subnet_group_name(subnet_group.name)
            .security_group_ids(dep_id(ctx, &cfg.security_group)?)
            .at_rest_encryption_enabled(true)
            .transit_encryption_enabled(true)
            .set_auth_token(auth_token.as_ref().map(|t| t.expose().to_string()))
            .set_tags(Some(tags(ctx)))
            .send()
            .await
            .map_err(|e| classify(e, Op::Create, "elasticache CreateReplicationGroup"))?;
        match out.replication_group() {
            Some(g) => group_outputs(g),
            None => Outputs::of(&PendingGroup { id: None }),
        }
    }

    async fn group_ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let name = &ctx.resource.name;
        let Some(g) = describe_group(&self.clients, name).await? else {
            return Err(ProviderError::not_found(format!(
                "replication group {name} does not exist"
            )));
        };
        match g.status().unwrap_or("unknown") {
            "available" => Ok(Readiness::Ready(group_outputs(&g)?)),
            status @ ("create-failed" | "deleting") => Err(ProviderError::new(
                ErrorKind::Failed,
                format!("replication group {name} is {status}"),
            )
            .with_code(status)),
            other => Ok(Readiness::pending(other)),
        }
    }

    async fn observe_group(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let Some(g) = describe_group(&self.clients, &ctx.resource.name).await? else {
            return Ok(Observation::Absent);
        };
        let tags = list_tags(&self.clients, g.arn().unwrap_or_default()).await?;
        let drift = ctx
            .config::<CacheConfig>()
            .ok()
            .and_then(|cfg| group_drift(&cfg, &g));
        Ok(observed(
            ctx,
            g.arn(),
            tag_pairs(&tags),
            group_outputs(&g)?,
            drift,
        ))
    }
}

#[async_trait]
impl ResourceOps for ReplicationGroup {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        self.observe_group(ctx).await
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        self.create_replication_group(ctx).await
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        delete_replication_group(&self.clients, &ctx.resource.name).await
    }

    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        self.group_ready(ctx).await
    }

    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        Ok(
            match describe_group(&self.clients, &ctx.resource.name).await? {
                None => Readiness::ready(),
                Some(g) => Readiness::pending(g.status().unwrap_or("deleting")),
            },
        )
    }
}

sweep_with!(ReplicationGroup => delete_replication_group(name), awaiting describe_group(name));
