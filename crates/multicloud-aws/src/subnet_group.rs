//! What the RDS DB subnet group ([`DbSubnetGroup`](crate::database::DbSubnetGroup)) and the
//! ElastiCache cache subnet group ([`CacheSubnetGroup`](crate::cache::CacheSubnetGroup))
//! share: one lifecycle (adopt ours or create, observe by name, delete) over the few calls
//! that differ ([`SubnetGroupApi`]). A group of ours found over subnets that are not the
//! stack's (an earlier network's, another VPC's) is reported as unhealthy by `observe`, so
//! the plan replaces it (neither service moves a group to another VPC), and `create` refuses
//! to adopt it as it is.
//!
//! Config: [`SubnetGroupConfig`]. Outputs: [`SubnetGroupOutputs`] (`id` is the ARN).

use async_trait::async_trait;
use multicloud_core::provider::{Observation, OpContext, Outputs, Readiness};
use multicloud_core::{ErrorKind, ProviderError};

use crate::model::{SubnetGroupConfig, SubnetGroupOutputs};
use crate::support::{dep_ids, ensure_ours, observed, tag_pairs};

/// A subnet group as described: its ARN, tags and subnet ids.
#[derive(Debug, Clone)]
pub(crate) struct Described {
    pub arn: String,
    pub tags: Vec<(String, String)>,
    pub subnets: Vec<String>,
}

impl Described {
    /// A group with ARN `arn`, `tags` and the subnets whose ids `subnets` gives.
    pub(crate) fn new<'a>(
        arn: &str,
        tags: impl Iterator<Item = (&'a str, &'a str)>,
        subnets: impl Iterator<Item = Option<&'a str>>,
    ) -> Self {
        Self {
            arn: arn.to_string(),
            tags: tags.map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            subnets: subnets.flatten().map(str::to_string).collect(),
        }
    }
}

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

/// The stack's subnets for the group of `ctx`, when its dependencies' outputs are known.
fn desired_subnets(ctx: &OpContext<'_>) -> Option<Vec<String>> {
    let cfg: SubnetGroupConfig = ctx.config().ok()?;
    let mut ids = dep_ids(ctx, &cfg.subnets).ok()?;
    ids.sort();
    Some(ids)
}

/// What is wrong with an adopted group: subnets other than the stack's (left over from an
/// earlier network, or another VPC's), which a database or cache must never be put in.
fn mismatch<A: SubnetGroupApi>(ctx: &OpContext<'_>, live: &Described) -> Option<String> {
    let want = desired_subnets(ctx)?;
    let mut have = live.subnets.clone();
    have.sort();
    (have != want).then(|| {
        format!(
            "{} {} over subnets [{}], not the stack's [{}]",
            A::WHAT,
            ctx.resource.name,
            have.join(", "),
            want.join(", ")
        )
    })
}

/// Refuses to adopt a group of ours over subnets that are not the stack's: RDS and
/// ElastiCache cannot move a subnet group to another VPC, so the plan replaces it (its
/// observation says why); adopting it as it is would put the database or cache elsewhere.
fn refuse_mismatch<A: SubnetGroupApi>(
    ctx: &OpContext<'_>,
    live: &Described,
) -> Result<(), ProviderError> {
    match mismatch::<A>(ctx, live) {
        None => Ok(()),
        Some(why) => Err(ProviderError::new(
            ErrorKind::Failed,
            format!(
                "{}: {why}; it is not adopted as it is: a new plan replaces it (or delete it)",
                ctx.resource.id
            ),
        )),
    }
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
        Some(live) => {
            let mut o = observed(
                ctx,
                Some(&live.arn),
                tag_pairs(&live.tags),
                SubnetGroupOutputs::of(name, &live.arn)?,
                None,
            );
            if let Observation::Present(found) = &mut o {
                found.unhealthy = mismatch::<A>(ctx, &live);
            }
            o
        }
    })
}

/// Adopts the group of ours with that name (over the stack's subnets), else creates it.
pub(crate) async fn create<A: SubnetGroupApi>(
    api: &A,
    ctx: &OpContext<'_>,
) -> Result<Outputs, ProviderError> {
    let name = &ctx.resource.name;
    if let Some(live) = api.describe(name).await? {
        ensure_ours(ctx, tag_pairs(&live.tags))?;
        refuse_mismatch::<A>(ctx, &live)?;
        return SubnetGroupOutputs::of(name, &live.arn);
    }
    let cfg: SubnetGroupConfig = ctx.config()?;
    match api.create_group(ctx, dep_ids(ctx, &cfg.subnets)?).await? {
        Some(arn) => SubnetGroupOutputs::of(name, &arn),
        None => match api.describe(name).await? {
            Some(live) => SubnetGroupOutputs::of(name, &live.arn),
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

/// Declares one service's subnet-group calls for `$kind` (a [`kind_ops!`] type): the
/// describe function (`describe_subnet_group`: the group, its tags read with
/// `ListTagsForResource` on its ARN, and its subnets), the delete function `$delete_fn`
/// (succeeds if the group does not exist), their [`SubnetGroupApi`], the generic lifecycle
/// of this module as its `ResourceOps`, and its sweep. The SDKs of RDS and ElastiCache
/// name the same calls apart: each name is given (`describe_db_subnet_groups`...), with
/// the call's name in errors (`rds DescribeDBSubnetGroups`...).
///
/// [`kind_ops!`]: crate::support::kind_ops
macro_rules! subnet_group_api {
    (
        $kind:ident, $what:literal, client $client:ident, tags $tags:ident;
        describe $describe:ident($describe_name:ident) -> $groups:ident . $arn:ident, $describe_what:literal;
        list_tags $list_what:literal;
        create $create:ident($create_name:ident, $create_description:ident)
            -> $created:ident, $create_what:literal;
        $(#[$delete_doc:meta])*
        delete $delete_fn:ident = $delete:ident($delete_name:ident), $delete_what:literal;
    ) => {
        /// The group `name` (ARN, tags, subnets), `None` if it does not exist.
        async fn describe_subnet_group(
            clients: &crate::clients::AwsClients,
            name: &str,
        ) -> Result<Option<crate::subnet_group::Described>, multicloud_core::ProviderError> {
            let res = clients.$client.$describe().$describe_name(name).send().await;
            let out = crate::support::read_or_none(res, $describe_what)?;
            let Some(group) = out.as_ref().and_then(|o| o.$groups().first()) else {
                return Ok(None);
            };
            let Some(arn) = group.$arn() else {
                return Ok(None);
            };
            let tags = clients
                .$client
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .map_err(|e| crate::error::classify(e, crate::error::Op::Read, $list_what))?;
            let subnets = group.subnets().iter().map(|s| s.subnet_identifier());
            Ok(Some(crate::subnet_group::Described::new(
                arn,
                crate::support::tag_pairs(tags.tag_list()),
                subnets,
            )))
        }

        $(#[$delete_doc])*
        pub(crate) async fn $delete_fn(
            clients: &crate::clients::AwsClients,
            name: &str,
        ) -> Result<(), multicloud_core::ProviderError> {
            let res = clients.$client.$delete().$delete_name(name).send().await;
            crate::support::deleted(res, $delete_what)
        }

        #[async_trait::async_trait]
        impl crate::subnet_group::SubnetGroupApi for $kind {
            const WHAT: &'static str = $what;
            async fn describe(
                &self,
                name: &str,
            ) -> Result<Option<crate::subnet_group::Described>, multicloud_core::ProviderError>
            {
                describe_subnet_group(&self.clients, name).await
            }
            async fn create_group(
                &self,
                ctx: &multicloud_core::provider::OpContext<'_>,
                subnets: Vec<String>,
            ) -> Result<Option<String>, multicloud_core::ProviderError> {
                let out = self
                    .clients
                    .$client
                    .$create()
                    .$create_name(&ctx.resource.name)
                    .$create_description(crate::subnet_group::description(ctx))
                    .set_subnet_ids(Some(subnets))
                    .set_tags(Some($tags(ctx)))
                    .send()
                    .await
                    .map_err(|e| {
                        crate::error::classify(e, crate::error::Op::Create, $create_what)
                    })?;
                Ok(out.$created().and_then(|g| g.$arn()).map(str::to_string))
            }
            async fn delete_group(&self, name: &str) -> Result<(), multicloud_core::ProviderError> {
                $delete_fn(&self.clients, name).await
            }
        }

        crate::support::generic_resource_ops!(subnet_group: $kind);
        crate::support::sweep_with!($kind => $delete_fn(name));
    };
}
pub(crate) use subnet_group_api;
