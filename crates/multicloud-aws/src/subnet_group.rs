//! What the RDS DB subnet group ([`DbSubnetGroup`](crate::database::DbSubnetGroup)) and the
//! ElastiCache cache subnet group ([`CacheSubnetGroup`](crate::cache::CacheSubnetGroup))
//! share: one lifecycle (adopt ours or create, observe by name, delete) over the few calls
//! that differ ([`SubnetGroupApi`]).
//!
//! Config: [`SubnetGroupConfig`]. Outputs: [`SubnetGroupOutputs`] (`id` is the ARN).

use async_trait::async_trait;
use multicloud_core::provider::{Observation, OpContext, Outputs, Readiness};
use multicloud_core::{ErrorKind, ProviderError};

use crate::model::{SubnetGroupConfig, SubnetGroupOutputs};
use crate::support::{dep_ids, ensure_ours, observed, tag_pairs};

/// The ARN of a subnet group and its tags.
pub(crate) type Described = (String, Vec<(String, String)>);

/// The calls of one service's subnet groups.
#[async_trait]
pub(crate) trait SubnetGroupApi: Send + Sync {
    /// What it is, for messages (`DB subnet group`).
    const WHAT: &'static str;
    /// The ARN and tags of group `name`, `None` if absent.
    async fn describe(&self, name: &str) -> Result<Option<Described>, ProviderError>;
    /// Creates the group of `ctx` over `subnets`, tagged; its ARN if the answer has it.
    async fn create_group(
        &self,
        ctx: &OpContext<'_>,
        subnets: Vec<String>,
    ) -> Result<Option<String>, ProviderError>;
    /// Deletes group `name`. Succeeds if it does not exist.
    async fn delete_group(&self, name: &str) -> Result<(), ProviderError>;
}

/// The description of a group created by `ctx`.
pub(crate) fn description(ctx: &OpContext<'_>) -> String {
    format!("{} (multicloud)", ctx.resource.id)
}

pub(crate) async fn observe<A: SubnetGroupApi>(
    api: &A,
    ctx: &OpContext<'_>,
) -> Result<Observation, ProviderError> {
    let name = &ctx.resource.name;
    Ok(match api.describe(name).await? {
        None => Observation::Absent,
        Some((arn, tags)) => observed(
            ctx,
            Some(&arn),
            tag_pairs(&tags),
            SubnetGroupOutputs::of(name, &arn)?,
            false,
        ),
    })
}

/// Adopts the group of ours with that name, else creates it.
pub(crate) async fn create<A: SubnetGroupApi>(
    api: &A,
    ctx: &OpContext<'_>,
) -> Result<Outputs, ProviderError> {
    let name = &ctx.resource.name;
    if let Some((arn, tags)) = api.describe(name).await? {
        ensure_ours(ctx, tag_pairs(&tags))?;
        return SubnetGroupOutputs::of(name, &arn);
    }
    let cfg: SubnetGroupConfig = ctx.config()?;
    match api.create_group(ctx, dep_ids(ctx, &cfg.subnets)?).await? {
        Some(arn) => SubnetGroupOutputs::of(name, &arn),
        None => match api.describe(name).await? {
            Some((arn, _)) => SubnetGroupOutputs::of(name, &arn),
            None => Err(ProviderError::new(
                ErrorKind::EventualConsistency,
                format!("{} {name} was created but is not visible yet", A::WHAT),
            )),
        },
    }
}

pub(crate) async fn delete<A: SubnetGroupApi>(
    api: &A,
    ctx: &OpContext<'_>,
) -> Result<(), ProviderError> {
    api.delete_group(&ctx.resource.name).await
}

pub(crate) async fn gone<A: SubnetGroupApi>(
    api: &A,
    ctx: &OpContext<'_>,
) -> Result<Readiness, ProviderError> {
    Ok(match api.describe(&ctx.resource.name).await? {
        None => Readiness::ready(),
        Some(_) => Readiness::pending("exists"),
    })
}
