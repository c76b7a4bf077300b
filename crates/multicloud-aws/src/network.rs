//! The EC2 network kinds, one type each: [`Vpc`], [`Subnet`], [`InternetGateway`],
//! [`ElasticIp`], [`NatGateway`], [`RouteTable`], [`SecurityGroup`] and [`VpcEndpoint`],
//! sharing one lifecycle.
//!
//! Every resource is tagged at creation (`TagSpecifications`: `Name` = the resource's
//! physical name plus the stack's ownership tags), found again by its recorded id or else by
//! its `Name` tag within the stack's VPC, and judged by its ownership tags: `create` adopts a
//! resource of ours (finishing any step an interrupted run left undone — VPC DNS attributes,
//! gateway attachment, routes and associations, ingress rules) and refuses one that is not.
//!
//! ## Teardown
//! Deletion removes what blocks each resource first: gateways are detached, route tables
//! disassociated, security-group ingress revoked, and network interfaces left `available` in
//! a subnet, security group or VPC (by the VPC CNI or by load balancers) deleted. The load
//! balancers (ELBv2 and Classic) Kubernetes created for the stack's cluster and left behind
//! (found by the tags `kubernetes.io/cluster/<cluster>` = `owned` or `elbv2.k8s.aws/cluster`
//! = `<cluster>`) are deleted with the subnet they sit in and the internet gateway their
//! public addresses hold — once the cluster is gone — and with the VPC, with the cluster's
//! target groups and the security groups Kubernetes made (after revoking the rules of the
//! VPC's other groups that reference them); the [`Sweeper`](crate::sweeper::Sweeper) handles
//! stacks left behind. A `DependencyViolation` is returned classified as retryable: the
//! engine retries it with backoff.

mod classic_elb;
mod endpoints;
mod enis;
mod k8s_security_groups;
pub(crate) mod load_balancers;
mod nat;
mod routes;
mod security_groups;
mod subnets;
mod vpc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, Tag};
use multicloud_core::expand::ExistingConfig;
use multicloud_core::observation::Drift;
use multicloud_core::provider::{Observation, Observed, OpContext, Outputs, Owner, Readiness};
use multicloud_core::{ErrorKind, ProviderError};

use crate::expand::ids;
use crate::model::NetworkOutputs;
use crate::support::foreign;
use crate::tagging::{TAG_NAME, ec2_filter, ec2_tag_map, judge};

pub use endpoints::VpcEndpoint;
pub(crate) use enis::delete_leftover_enis;
pub(crate) use k8s_security_groups::delete_kubernetes_security_groups;
pub(crate) use load_balancers::LeftoverLoadBalancer;
pub(crate) use load_balancers::{delete_cluster_load_balancers, find_kubernetes_load_balancers};
pub use nat::{ElasticIp, NatGateway};
pub use routes::RouteTable;
pub use security_groups::SecurityGroup;
pub(crate) use security_groups::revoke_security_group_ingress;
pub use subnets::Subnet;
pub use vpc::{InternetGateway, Vpc};

/// Where to look for a resource: its recorded id, else its `Name` tag (within the VPC).
#[derive(Debug, Clone, Copy)]
struct Lookup<'a> {
    id: Option<&'a str>,
    name: &'a str,
    vpc: Option<&'a str>,
}

impl Lookup<'_> {
    /// The filters of a describe call by `Name` tag: the name, and the VPC when `in_vpc`
    /// and it is known.
    fn filters(&self, in_vpc: bool) -> Vec<Filter> {
        let mut filters = vec![ec2_filter("tag:Name", self.name)];
        if let Some(vpc) = self.vpc.filter(|_| in_vpc) {
            filters.push(ec2_filter("vpc-id", vpc));
        }
        filters
    }

    /// Whether a resource with `tags` is one this lookup asks for: any, by recorded id;
    /// else one whose `Name` tag is the name (checked here too, as not every EC2 describe
    /// call of every EC2 implementation honours a `tag:Name` filter).
    fn admits(&self, tags: &[Tag]) -> bool {
        self.id.is_some()
            || tags
                .iter()
                .any(|t| t.key() == Some(TAG_NAME) && t.value() == Some(self.name))
    }
}

/// What differs between the EC2 network kinds; the lifecycle below is the same for all of
/// them: find by recorded id or `Name` tag (ours first), adopt (completing what an
/// interrupted run left undone) or create, delete by id (the recorded one, else the one our
/// tags say is ours).
#[async_trait]
trait Ec2Kind: Send + Sync {
    /// The resource as EC2 describes it.
    type Live: Send + Sync;
    /// Every resource matching `lookup`.
    async fn find(&self, lookup: Lookup<'_>) -> Result<Vec<Self::Live>, ProviderError>;
    /// Its EC2 id.
    fn id(live: &Self::Live) -> &str;
    /// Its tags.
    fn tags(live: &Self::Live) -> &[Tag];
    /// Its outputs.
    fn outputs(live: &Self::Live) -> NetworkOutputs;
    /// Finishes the set-up of an adopted resource (steps an interrupted run left undone;
    /// default: none).
    async fn complete(&self, ctx: &OpContext<'_>, live: &Self::Live) -> Result<(), ProviderError> {
        let _ = (ctx, live);
        Ok(())
    }
    /// Creates it (nothing of that name exists).
    async fn create_new(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError>;
    /// Deletes resource `id` of ours, with what blocks it.
    async fn delete_id(&self, ctx: &OpContext<'_>, id: &str) -> Result<(), ProviderError>;
    /// How a resource of ours drifted from its config, field by field: the settings the
    /// kind sets (default: none). An update repairs it with [`Ec2Kind::complete`]; a field
    /// that cannot change in place ([`FieldDrift::replacing`](multicloud_core::observation::FieldDrift::replacing)) replaces the resource.
    async fn drift(
        &self,
        ctx: &OpContext<'_>,
        live: &Self::Live,
    ) -> Result<Option<Drift>, ProviderError> {
        let _ = (ctx, live);
        Ok(None)
    }
    /// Where a found resource stands: usable once it exists (the default); NAT gateways and
    /// VPC endpoints have states of their own.
    fn progress(live: &Self::Live) -> Progress {
        let _ = live;
        Progress::Ready
    }
    /// Whether a change of the config from `old` to `new` replaces the resource (default:
    /// any change does; the config holds what EC2 cannot change: ranges, zones, targets).
    fn requires_replacement(old: &serde_json::Value, new: &serde_json::Value) -> bool {
        let _ = (old, new);
        true
    }
}

/// The resources an EC2 describe request `$req` finds for `$lookup`: by recorded id (the
/// request's `$ids` setter), else by `Name` tag (its `$filters` setter; within the VPC
/// when `in_vpc` is true and the VPC is known); none when EC2 says the id does not exist.
/// The list is the output's `$field`; `$what` names the call in errors.
macro_rules! describe_lookup {
    ($lookup:expr, $req:expr, $ids:ident, $filters:ident, in_vpc: $in_vpc:expr,
     $field:ident, $what:literal) => {{
        let lookup: super::Lookup<'_> = $lookup;
        let req = $req;
        let req = match lookup.id {
            Some(id) => req.$ids(id),
            None => req.$filters(Some(lookup.filters($in_vpc))),
        };
        crate::support::none_if_not_found(
            req.send()
                .await
                .map_err(|e| crate::error::classify(e, crate::error::Op::Read, $what)),
        )?
        .and_then(|o| o.$field)
        .unwrap_or_default()
    }};
}
use describe_lookup;

/// Implements [`Ec2Kind`] for `$kind`, whose live resource `$live` is found by `$find` (a
/// function of the clients and a [`Lookup`]), known by its `$id` accessor and described by
/// `$outputs`; created by `create` (a function of the clients and the context), completed
/// by `complete` (of the clients, the context and the live resource) and deleted by
/// `delete` (of the clients and the id) where the kind names them; its other methods
/// follow (those of `create_new`, `complete` and `delete_id` it does not name, `drift`,
/// `progress`, `requires_replacement`).
macro_rules! ec2_kind {
    ($kind:ty: $live:ty, find $find:ident, id $id:ident, outputs $outputs:ident
     $(, create $create:ident)? $(, complete $complete:ident)? $(, delete $delete:ident)?;
     $($methods:tt)*) => {
        #[async_trait::async_trait]
        impl super::Ec2Kind for $kind {
            type Live = $live;
            async fn find(
                &self,
                lookup: super::Lookup<'_>,
            ) -> Result<Vec<$live>, multicloud_core::ProviderError> {
                $find(&self.clients, lookup).await
            }
            fn id(live: &$live) -> &str {
                live.$id().unwrap_or_default()
            }
            fn tags(live: &$live) -> &[aws_sdk_ec2::types::Tag] {
                live.tags()
            }
            fn outputs(live: &$live) -> crate::model::NetworkOutputs {
                $outputs(live)
            }
            $(
                async fn create_new(
                    &self,
                    ctx: &multicloud_core::provider::OpContext<'_>,
                ) -> Result<multicloud_core::provider::Outputs, multicloud_core::ProviderError> {
                    $create(&self.clients, ctx).await
                }
            )?
            $(
                async fn complete(
                    &self,
                    ctx: &multicloud_core::provider::OpContext<'_>,
                    live: &$live,
                ) -> Result<(), multicloud_core::ProviderError> {
                    $complete(&self.clients, ctx, live).await
                }
            )?
            $(
                async fn delete_id(
                    &self,
                    _: &multicloud_core::provider::OpContext<'_>,
                    id: &str,
                ) -> Result<(), multicloud_core::ProviderError> {
                    $delete(&self.clients, id).await
                }
            )?
            $($methods)*
        }
    };
}
use ec2_kind;

/// Where an EC2 resource stands ([`Ec2Kind::progress`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Progress {
    /// Usable.
    Ready,
    /// On its way up (AWS's state).
    Pending(String),
    /// Failed (AWS's reason): an error, not something to wait for.
    Failed(String),
    /// Being deleted: no longer a candidate to adopt, not yet gone.
    Deleting(String),
}

/// `state`, a lifecycle state as EC2 spells it (`available`, `pending`…; NAT gateways and
/// VPC endpoints, whose SDK enums do not always parse AWS's spelling), as a [`Progress`].
fn progress_of(what: &str, id: &str, state: &str, reason: impl FnOnce() -> String) -> Progress {
    match state.to_ascii_lowercase().as_str() {
        "available" => Progress::Ready,
        "failed" | "rejected" | "expired" => {
            Progress::Failed(format!("{what} {id} is {state}: {}", reason()))
        }
        "deleting" | "deleted" => Progress::Deleting(format!("{what} {id} is {state}")),
        _ => Progress::Pending(format!("{what} {id} is {state}")),
    }
}

/// The candidate for the resource of `ctx`, the one of ours first; one being deleted only
/// when `deleting` says so.
async fn find_any<K: Ec2Kind>(
    k: &K,
    ctx: &OpContext<'_>,
    deleting: bool,
) -> Result<Option<K::Live>, ProviderError> {
    // A read-only resource (an existing network's) is found by the id the spec names.
    let existing = ctx
        .resource
        .read_only
        .then(|| ctx.config::<ExistingConfig>().ok())
        .flatten();
    let lookup = Lookup {
        id: existing
            .as_ref()
            .map(|e| e.existing.as_str())
            .or(ctx.recorded_str("id")),
        name: &ctx.resource.name,
        vpc: ctx.dep_str(&ids::vpc(), "id").ok(),
    };
    let found: Vec<K::Live> = k
        .find(lookup)
        .await?
        .into_iter()
        .filter(|l| deleting || !matches!(K::progress(l), Progress::Deleting(_)))
        .collect();
    // Several resources may carry the same Name tag: prefer ours.
    let ours = found
        .iter()
        .position(|l| owner_of::<K>(ctx, l) == Owner::Us);
    Ok(match ours {
        Some(i) => found.into_iter().nth(i),
        None => found.into_iter().next(),
    })
}

/// The candidate for the resource of `ctx` (not being deleted), the one of ours first.
async fn find<K: Ec2Kind>(k: &K, ctx: &OpContext<'_>) -> Result<Option<K::Live>, ProviderError> {
    find_any(k, ctx, false).await
}

fn owner_of<K: Ec2Kind>(ctx: &OpContext<'_>, live: &K::Live) -> Owner {
    judge(&ctx.stack.ownership, &ec2_tag_map(K::tags(live)))
}

/// One read; the drift of a resource of ours that the stack manages (not a read-only one).
async fn observe<K: Ec2Kind>(k: &K, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
    let Some(live) = find(k, ctx).await? else {
        return Ok(Observation::Absent);
    };
    let owner = owner_of::<K>(ctx, &live);
    let drift = if owner == Owner::Us && !ctx.resource.read_only {
        k.drift(ctx, &live).await?
    } else {
        None
    };
    Ok(Observation::Present(Observed {
        provider_id: Some(K::id(&live).to_string()),
        owner,
        outputs: Outputs::of(&K::outputs(&live))?,
        drift,
        expires_at: None,
        unhealthy: None,
    }))
}

/// Repairs a resource of ours in place (what drifted and can change: an attribute, a route,
/// a rule, an association) with [`Ec2Kind::complete`].
async fn update<K: Ec2Kind>(k: &K, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
    let Some(live) = find(k, ctx).await? else {
        return Err(ProviderError::new(
            ErrorKind::NotFound,
            format!("{}: the resource to repair is gone", ctx.resource.id),
        ));
    };
    k.complete(ctx, &live).await?;
    Outputs::of(&K::outputs(&live))
}

async fn create<K: Ec2Kind>(k: &K, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
    if let Some(live) = find(k, ctx).await? {
        return match owner_of::<K>(ctx, &live) {
            Owner::Us => {
                k.complete(ctx, &live).await?;
                Outputs::of(&K::outputs(&live))
            }
            owner => Err(foreign(ctx.resource.id.as_str(), K::id(&live), &owner)),
        };
    }
    k.create_new(ctx).await
}

async fn delete<K: Ec2Kind>(k: &K, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
    // The recorded id is ours by construction; without one, only delete what our tags say
    // is ours.
    let id = match ctx.recorded_str("id") {
        Some(id) => id.to_string(),
        None => match find(k, ctx).await? {
            None => return Ok(()),
            Some(live) => match owner_of::<K>(ctx, &live) {
                Owner::Us => K::id(&live).to_string(),
                owner => return Err(foreign(ctx.resource.id.as_str(), K::id(&live), &owner)),
            },
        },
    };
    k.delete_id(ctx, &id).await
}

/// Gone when it is not found any more, not even being deleted.
async fn gone<K: Ec2Kind>(k: &K, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
    Ok(match find_any(k, ctx, true).await? {
        None => Readiness::ready(),
        Some(live) => Readiness::pending(match K::progress(&live) {
            Progress::Deleting(state) | Progress::Pending(state) | Progress::Failed(state) => state,
            Progress::Ready => format!("{} is still there", K::id(&live)),
        }),
    })
}

/// Ready when AWS says it is usable ([`Ec2Kind::progress`]); a failed one is an error with
/// AWS's reason.
async fn ready<K: Ec2Kind>(k: &K, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
    let Some(live) = find(k, ctx).await? else {
        return Ok(Readiness::pending(format!(
            "{} not visible yet",
            ctx.resource.id
        )));
    };
    match K::progress(&live) {
        Progress::Ready => Ok(Readiness::Ready(Outputs::of(&K::outputs(&live))?)),
        Progress::Pending(state) | Progress::Deleting(state) => Ok(Readiness::pending(state)),
        Progress::Failed(reason) => Err(ProviderError::new(ErrorKind::Other, reason)),
    }
}

/// The network kinds' [`ResourceOps`](multicloud_core::provider::ResourceOps): the
/// lifecycle above; an update repairs drift ([`update`]) while a config change replaces
/// as [`Ec2Kind::requires_replacement`] says.
macro_rules! ec2_ops {
    ($($t:ty),+ ; with ready: $($w:ty),+) => {
        $(ec2_ops!(@impl $t,);)+
        $(ec2_ops!(@impl $w,
            async fn ready(
                &self,
                ctx: &OpContext<'_>,
            ) -> Result<Readiness, ProviderError> {
                ready(self, ctx).await
            }
        );)+
    };
    (@impl $t:ty, $($ready:tt)*) => {
        #[async_trait]
        impl multicloud_core::provider::ResourceOps for $t {
            async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
                observe(self, ctx).await
            }
            async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
                create(self, ctx).await
            }
            async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
                update(self, ctx).await
            }
            fn supports_update(&self) -> bool {
                true
            }
            fn requires_replacement(
                &self,
                old: &serde_json::Value,
                new: &serde_json::Value,
            ) -> bool {
                <$t as Ec2Kind>::requires_replacement(old, new)
            }
            async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
                delete(self, ctx).await
            }
            async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
                gone(self, ctx).await
            }
            $($ready)*
        }
    };
}

ec2_ops!(
    Vpc, Subnet, InternetGateway, ElasticIp, RouteTable, SecurityGroup;
    with ready: NatGateway, VpcEndpoint
);
