//! Helpers shared by the per-kind modules of this crate, each in one place with one
//! behaviour: NotFound handling, the error for foreign resources, ownership checks and
//! observations, dependency lookups, the tags of the SDKs whose tag type is a key/value
//! pair, and the declaration of the per-kind ops types ([`kind_ops!`]).

use std::collections::BTreeMap;

use multicloud_core::observation::Drift;
use multicloud_core::provider::{Observation, Observed, OpContext, Outputs, Owner};
use multicloud_core::resource::ResourceId;
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::Value;

use crate::error::{Classify, Op};

/// Whether `e` says "does not exist": [`ErrorKind::NotFound`], or an EC2 `*.NotFound` code.
///
/// The classification ([`crate::error::classify_code`]) already makes every `*.NotFound`
/// code [`ErrorKind::NotFound`] on reads, and every other service's "not found" codes
/// (`NoSuchEntity`, `DBInstanceNotFound`, `RepositoryNotFoundException`…) NotFound whatever
/// the call; but on a mutating call (a delete) the EC2 codes that can also mean "just
/// created, not visible yet" (`InvalidVpcID.NotFound`, `InvalidGroup.NotFound`…) are
/// classified as eventual consistency, so the code is checked too. For services other than
/// EC2 this is exactly the kind check.
fn is_not_found(e: &ProviderError) -> bool {
    e.kind() == ErrorKind::NotFound || e.code().is_some_and(|c| c.ends_with(".NotFound"))
}

/// `Ok(None)` for a "does not exist" error (see [`is_not_found`]), the value or the error
/// otherwise.
pub(crate) fn none_if_not_found<T>(
    r: Result<T, ProviderError>,
) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `Ok(())` for success or a "does not exist" error (see [`is_not_found`]): deleting what is
/// gone succeeds.
pub(crate) fn ok_if_not_found(r: Result<(), ProviderError>) -> Result<(), ProviderError> {
    none_if_not_found(r).map(|_| ())
}

/// The outcome of a deleting SDK call `what` (`ec2 DeleteSubnet`): done, also when what it
/// deletes does not exist ([`ok_if_not_found`]); any other error classified as the failure
/// of a delete.
pub(crate) fn deleted<T>(res: Result<T, impl Classify>, what: &str) -> Result<(), ProviderError> {
    ok_if_not_found(res.map(|_| ()).map_err(|e| e.classify(Op::Delete, what)))
}

/// The output of a reading SDK call `what` (`ec2 DescribeVpcs`), `None` when what it reads
/// does not exist ([`none_if_not_found`]); any other error classified as the failure of a
/// read.
pub(crate) fn read_or_none<T>(
    res: Result<T, impl Classify>,
    what: &str,
) -> Result<Option<T>, ProviderError> {
    none_if_not_found(res.map_err(|e| e.classify(Op::Read, what)))
}

/// The [`ErrorKind::ForeignResource`] error for resource `what` (`vpc/main`) found as `found`
/// (`vpc-0abc`, a name or an ARN) owned by `owner`.
pub(crate) fn foreign(what: &str, found: &str, owner: &Owner) -> ProviderError {
    let whose = match owner {
        Owner::Us => "this stack".to_string(),
        Owner::OtherStack { stack, environment } => {
            format!("stack `{stack}` environment `{environment}`")
        }
        Owner::Unowned => "nobody (no multicloud ownership tags)".to_string(),
    };
    ProviderError::new(
        ErrorKind::ForeignResource,
        format!(
            "{what}: `{found}` already exists under this name and belongs to {whose}; \
             refusing to take it over"
        ),
    )
    .with_code("ForeignResource")
}

/// A tag of an SDK whose tag type is a key/value pair (RDS, ElastiCache, ECR), or such a
/// pair itself; an absent key or value reads as `""`.
pub(crate) trait TagPair {
    /// The key and the value.
    fn pair(&self) -> (&str, &str);
}

/// Implements [`TagPair`] for SDK tag types whose key and value are both optional.
macro_rules! optional_tag_pair {
    ($($t:ty),+) => {$(
        impl TagPair for $t {
            fn pair(&self) -> (&str, &str) {
                (
                    self.key().unwrap_or_default(),
                    self.value().unwrap_or_default(),
                )
            }
        }
    )+};
}

optional_tag_pair!(
    aws_sdk_rds::types::Tag,
    aws_sdk_elasticache::types::Tag,
    aws_sdk_ec2::types::Tag,
    aws_sdk_elasticloadbalancingv2::types::Tag,
    aws_sdk_secretsmanager::types::Tag
);

impl TagPair for aws_sdk_elasticloadbalancing::types::Tag {
    fn pair(&self) -> (&str, &str) {
        (self.key(), self.value().unwrap_or_default())
    }
}

impl TagPair for aws_sdk_iam::types::Tag {
    fn pair(&self) -> (&str, &str) {
        (self.key(), self.value())
    }
}

impl TagPair for aws_sdk_ecr::types::Tag {
    fn pair(&self) -> (&str, &str) {
        (self.key(), self.value())
    }
}

impl TagPair for (&str, &str) {
    fn pair(&self) -> (&str, &str) {
        (self.0, self.1)
    }
}

impl TagPair for (String, String) {
    fn pair(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

/// `tags` as `(key, value)` pairs, to judge ownership from.
pub(crate) fn tag_pairs<T: TagPair>(tags: &[T]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().map(TagPair::pair)
}

/// `tags` as a map (tags without a key left out).
pub(crate) fn tag_map<T: TagPair>(tags: &[T]) -> BTreeMap<String, String> {
    tag_pairs(tags)
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Who owns a resource with these tags, from the stack's point of view.
pub(crate) fn owner<'a, K, V>(
    ctx: &OpContext<'_>,
    tags: impl IntoIterator<Item = (&'a K, &'a V)>,
) -> Owner
where
    K: AsRef<str> + ?Sized + 'a,
    V: AsRef<str> + ?Sized + 'a,
{
    ctx.stack
        .ownership
        .judge(tags.into_iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
}

/// `Ok` when the tags are ours, else [`ErrorKind::ForeignResource`] naming the resource
/// and who owns it (adoption contract of `create`).
pub(crate) fn ensure_ours<'a, K, V>(
    ctx: &OpContext<'_>,
    tags: impl IntoIterator<Item = (&'a K, &'a V)>,
) -> Result<(), ProviderError>
where
    K: AsRef<str> + ?Sized + 'a,
    V: AsRef<str> + ?Sized + 'a,
{
    match owner(ctx, tags) {
        Owner::Us => Ok(()),
        other => Err(foreign(
            ctx.resource.id.as_str(),
            &ctx.resource.name,
            &other,
        )),
    }
}

/// A `Present` observation.
pub(crate) fn observed<'a, K, V>(
    ctx: &OpContext<'_>,
    provider_id: Option<&str>,
    tags: impl IntoIterator<Item = (&'a K, &'a V)>,
    outputs: Outputs,
    drift: Option<Drift>,
) -> Observation
where
    K: AsRef<str> + ?Sized + 'a,
    V: AsRef<str> + ?Sized + 'a,
{
    Observation::Present(Observed {
        provider_id: provider_id.map(str::to_string),
        owner: owner(ctx, tags),
        outputs,
        drift,
        expires_at: None,
        unhealthy: None,
    })
}

/// The cloud ids (output `id`) of the dependencies `ids` (a typed config's list).
pub(crate) fn dep_ids(
    ctx: &OpContext<'_>,
    ids: &[ResourceId],
) -> Result<Vec<String>, ProviderError> {
    ids.iter()
        .map(|id| ctx.dep_str(id, "id").map(str::to_string))
        .collect()
}

/// The cloud id (output `id`) of dependency `id`.
pub(crate) fn dep_id(ctx: &OpContext<'_>, id: &ResourceId) -> Result<String, ProviderError> {
    ctx.dep_str(id, "id").map(str::to_string)
}

/// Whether any of the config `fields` differs between `old` and `new` (the fields whose
/// change replaces a resource).
pub(crate) fn any_changed(fields: &[&str], old: &Value, new: &Value) -> bool {
    fields.iter().any(|k| old.get(k) != new.get(k))
}

/// Every item of the paginated SDK listing `$req` (a request builder), or its error
/// classified as the failed read `$what` (`iam ListRoles`).
macro_rules! all_items {
    ($req:expr, $what:expr) => {
        $req.into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| $crate::error::classify(e, $crate::error::Op::Read, $what))
    };
}
pub(crate) use all_items;

/// Declares per-kind ops types: each a struct holding the shared SDK clients, built with
/// `new(&Arc<AwsClients>)` (see [`crate::kinds`], where they are put in the kind table).
macro_rules! kind_ops {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            clients: std::sync::Arc<crate::clients::AwsClients>,
        }

        impl $name {
            pub(crate) fn new(clients: &std::sync::Arc<crate::clients::AwsClients>) -> Self {
                Self {
                    clients: clients.clone(),
                }
            }
        }
    )+};
}
pub(crate) use kind_ops;

/// Implements `ResourceOps` for per-kind types whose lifecycle is one generic lifecycle of
/// module `$m` (`self` or a module name in scope; its `observe`, `create`, `delete` and
/// `gone` functions, generic over the kind): the EC2 network kinds, the RDS and
/// ElastiCache subnet groups. The types after `; with ready:` also wait on `$m::ready`
/// (resources with a state of their own: NAT gateways, VPC endpoints).
macro_rules! generic_resource_ops {
    (@impl $m:tt, $t:ty, $($ready:tt)*) => {
        #[async_trait::async_trait]
        impl multicloud_core::provider::ResourceOps for $t {
            async fn observe(
                &self,
                ctx: &multicloud_core::provider::OpContext<'_>,
            ) -> Result<multicloud_core::provider::Observation, multicloud_core::ProviderError> {
                $m::observe(self, ctx).await
            }
            async fn create(
                &self,
                ctx: &multicloud_core::provider::OpContext<'_>,
            ) -> Result<multicloud_core::provider::Outputs, multicloud_core::ProviderError> {
                $m::create(self, ctx).await
            }
            async fn delete(
                &self,
                ctx: &multicloud_core::provider::OpContext<'_>,
            ) -> Result<(), multicloud_core::ProviderError> {
                $m::delete(self, ctx).await
            }
            async fn gone(
                &self,
                ctx: &multicloud_core::provider::OpContext<'_>,
            ) -> Result<multicloud_core::provider::Readiness, multicloud_core::ProviderError> {
                $m::gone(self, ctx).await
            }
            $($ready)*
        }
    };
    ($m:tt: $($t:ty),+ $(,)?) => {$(
        crate::support::generic_resource_ops!(@impl $m, $t,);
    )+};
    ($m:tt: $($t:ty),+ ; with ready: $($w:ty),+ $(,)?) => {
        $(crate::support::generic_resource_ops!(@impl $m, $t,);)+
        $(crate::support::generic_resource_ops!(@impl $m, $w,
            async fn ready(
                &self,
                ctx: &multicloud_core::provider::OpContext<'_>,
            ) -> Result<multicloud_core::provider::Readiness, multicloud_core::ProviderError> {
                $m::ready(self, ctx).await
            }
        );)+
    };
}
pub(crate) use generic_resource_ops;

/// Implements the sweeper's [`SweepOps`](crate::sweeper::SweepOps) for per-kind types that
/// delete a found resource with one function of the clients and its `id` or `name`: not
/// waited for (`sweep_with!(Vpc => delete_vpc(id))`), or waited for until a describe
/// function of the clients and its name finds nothing
/// (`sweep_with!(EksCluster => delete_cluster_by_name(name), awaiting describe_cluster(name))`).
macro_rules! sweep_with {
    ($t:ty => $f:ident($field:ident), awaiting $d:ident($dfield:ident)) => {
        #[async_trait::async_trait]
        impl crate::sweeper::SweepOps for $t {
            async fn delete_found(
                &self,
                found: &crate::sweeper::SweptResource,
            ) -> Result<(), multicloud_core::ProviderError> {
                $f(&self.clients, &found.$field).await
            }
            fn awaited(&self) -> bool {
                true
            }
            async fn exists(
                &self,
                found: &crate::sweeper::SweptResource,
            ) -> Result<bool, multicloud_core::ProviderError> {
                Ok($d(&self.clients, &found.$dfield).await?.is_some())
            }
        }
    };
    ($($t:ty => $f:ident($field:ident)),+ $(,)?) => {$(
        #[async_trait::async_trait]
        impl crate::sweeper::SweepOps for $t {
            async fn delete_found(
                &self,
                found: &crate::sweeper::SweptResource,
            ) -> Result<(), multicloud_core::ProviderError> {
                $f(&self.clients, &found.$field).await
            }
        }
    )+};
}
pub(crate) use sweep_with;
