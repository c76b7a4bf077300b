//! [`NetworkService`]: the VPC, its subnets, the internet gateway, the public route table and
//! the security groups, on EC2.
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
mod enis;
mod k8s_security_groups;
pub(crate) mod load_balancers;
mod routes;
mod security_groups;
mod subnets;
mod vpc;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{InternetGateway, RouteTable, SecurityGroup, Subnet, Vpc};
use multicloud_core::ProviderError;
use multicloud_core::provider::{
    NetworkOps, Observation, Observed, OpContext, Outputs, Owner, ResourceOps,
};

use crate::clients::AwsClients;
use crate::expand::{cluster_name_of, ids};
use crate::kinds;
use crate::model::SubnetConfig;
use crate::support::{foreign, unsupported};
use crate::tagging::{ec2_tag_map, judge};

pub(crate) use enis::delete_leftover_enis;
pub(crate) use k8s_security_groups::delete_kubernetes_security_groups;
pub(crate) use load_balancers::{
    delete_cluster_load_balancers, delete_load_balancer, find_kubernetes_load_balancers,
};
pub(crate) use routes::delete_route_table;
pub(crate) use security_groups::{delete_security_group, revoke_security_group_ingress};
pub(crate) use subnets::delete_subnet;
pub(crate) use vpc::{delete_internet_gateway, delete_vpc};

/// A network resource as EC2 describes it.
#[derive(Debug, Clone)]
enum Live {
    Vpc(Box<Vpc>),
    Subnet(Box<Subnet>),
    Igw(Box<InternetGateway>),
    RouteTable(Box<RouteTable>),
    SecurityGroup(Box<SecurityGroup>),
}

impl Live {
    fn id(&self) -> &str {
        match self {
            Live::Vpc(v) => v.vpc_id(),
            Live::Subnet(s) => s.subnet_id(),
            Live::Igw(g) => g.internet_gateway_id(),
            Live::RouteTable(r) => r.route_table_id(),
            Live::SecurityGroup(g) => g.group_id(),
        }
        .unwrap_or_default()
    }

    fn tags(&self) -> BTreeMap<String, String> {
        ec2_tag_map(match self {
            Live::Vpc(v) => v.tags(),
            Live::Subnet(s) => s.tags(),
            Live::Igw(g) => g.tags(),
            Live::RouteTable(r) => r.tags(),
            Live::SecurityGroup(g) => g.tags(),
        })
    }

    fn outputs(&self) -> Result<Outputs, ProviderError> {
        Outputs::of(&match self {
            Live::Vpc(v) => vpc::vpc_outputs(v),
            Live::Subnet(s) => subnets::subnet_outputs(s),
            Live::Igw(g) => vpc::igw_outputs(g),
            Live::RouteTable(r) => routes::route_table_outputs(r),
            Live::SecurityGroup(g) => security_groups::sg_outputs(g),
        })
    }
}

/// Where to look for a resource: its recorded id, else its `Name` tag (within the VPC).
#[derive(Debug, Clone, Copy)]
struct Lookup<'a> {
    id: Option<&'a str>,
    name: &'a str,
    vpc: Option<&'a str>,
}

/// The network family on EC2: VPC, subnets, internet gateway, route tables and security
/// groups. Resource groups are Azure's and are refused.
#[derive(Debug, Clone)]
pub struct NetworkService {
    clients: Arc<AwsClients>,
}

impl NetworkService {
    pub(crate) fn new(clients: Arc<AwsClients>) -> Self {
        Self { clients }
    }

    /// Every candidate for the resource of `ctx`, the one of ours first.
    async fn find(&self, ctx: &OpContext<'_>) -> Result<Option<Live>, ProviderError> {
        let c = &self.clients;
        let lookup = Lookup {
            id: ctx.recorded_str("id"),
            name: &ctx.resource.name,
            vpc: ctx.dep_str(&ids::vpc(), "id").ok(),
        };
        let found: Vec<Live> = match ctx.resource.kind {
            kinds::VPC => vpc::find_vpcs(c, lookup)
                .await?
                .into_iter()
                .map(|x| Live::Vpc(Box::new(x)))
                .collect(),
            kinds::SUBNET => subnets::find_subnets(c, lookup)
                .await?
                .into_iter()
                .map(|x| Live::Subnet(Box::new(x)))
                .collect(),
            kinds::INTERNET_GATEWAY => vpc::find_igws(c, lookup)
                .await?
                .into_iter()
                .map(|x| Live::Igw(Box::new(x)))
                .collect(),
            kinds::ROUTE_TABLE => routes::find_route_tables(c, lookup)
                .await?
                .into_iter()
                .map(|x| Live::RouteTable(Box::new(x)))
                .collect(),
            kinds::SECURITY_GROUP => security_groups::find_security_groups(c, lookup)
                .await?
                .into_iter()
                .map(|x| Live::SecurityGroup(Box::new(x)))
                .collect(),
            kind => return Err(unsupported("network", kind)),
        };
        // Several resources may carry the same Name tag: prefer ours.
        let ours = found
            .iter()
            .position(|l| judge(&ctx.stack.ownership, &l.tags()) == Owner::Us);
        Ok(match ours {
            Some(i) => found.into_iter().nth(i),
            None => found.into_iter().next(),
        })
    }

    /// Finishes the set-up of an adopted resource (steps an interrupted run left undone).
    async fn complete(&self, ctx: &OpContext<'_>, live: &Live) -> Result<(), ProviderError> {
        let c = &self.clients;
        match live {
            Live::Vpc(v) => vpc::ensure_vpc_attributes(c, v.vpc_id().unwrap_or_default()).await,
            Live::Subnet(s) => subnets::ensure_subnet(c, ctx, s).await,
            Live::Igw(g) => vpc::ensure_igw_attached(c, ctx, g).await,
            Live::RouteTable(r) => routes::ensure_routes(c, ctx, r).await,
            Live::SecurityGroup(g) => security_groups::ensure_ingress(c, ctx, g).await,
        }
    }
}

#[async_trait]
impl ResourceOps for NetworkService {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        Ok(match self.find(ctx).await? {
            None => Observation::Absent,
            Some(live) => Observation::Present(Observed {
                provider_id: Some(live.id().to_string()),
                owner: judge(&ctx.stack.ownership, &live.tags()),
                outputs: live.outputs()?,
                drifted: false,
                expires_at: None,
            }),
        })
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        if let Some(live) = self.find(ctx).await? {
            return match judge(&ctx.stack.ownership, &live.tags()) {
                Owner::Us => {
                    self.complete(ctx, &live).await?;
                    live.outputs()
                }
                owner => Err(foreign(ctx.resource.id.as_str(), live.id(), &owner)),
            };
        }
        let c = &self.clients;
        match ctx.resource.kind {
            kinds::VPC => vpc::create_vpc(c, ctx).await,
            kinds::SUBNET => subnets::create_subnet(c, ctx).await,
            kinds::INTERNET_GATEWAY => vpc::create_igw(c, ctx).await,
            kinds::ROUTE_TABLE => routes::create_route_table(c, ctx).await,
            kinds::SECURITY_GROUP => security_groups::create_security_group(c, ctx).await,
            kind => Err(unsupported("network", kind)),
        }
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        let kind = ctx.resource.kind;
        if !matches!(
            kind,
            kinds::VPC
                | kinds::SUBNET
                | kinds::INTERNET_GATEWAY
                | kinds::ROUTE_TABLE
                | kinds::SECURITY_GROUP
        ) {
            return Err(unsupported("network", kind));
        }
        // The recorded id is ours by construction; without one, only delete what our tags
        // say is ours.
        let id = match ctx.recorded_str("id") {
            Some(id) => id.to_string(),
            None => match self.find(ctx).await? {
                None => return Ok(()),
                Some(live) => match judge(&ctx.stack.ownership, &live.tags()) {
                    Owner::Us => live.id().to_string(),
                    owner => return Err(foreign(ctx.resource.id.as_str(), live.id(), &owner)),
                },
            },
        };
        let c = &self.clients;
        // The stack's EKS cluster, whose leftover load balancers block the network.
        let cluster = cluster_name_of(&ctx.stack.stack, &ctx.stack.environment);
        match kind {
            kinds::VPC => {
                delete_cluster_load_balancers(c, &id, Some(&cluster)).await?;
                delete_kubernetes_security_groups(c, &id, Some(&cluster)).await?;
                delete_vpc(c, &id).await
            }
            kinds::SUBNET => {
                let config: SubnetConfig = ctx.config()?;
                load_balancers::delete_orphaned_load_balancers(
                    c,
                    load_balancers::Scope::Subnet(&id),
                    &config.cluster_name,
                )
                .await?;
                delete_subnet(c, &id).await
            }
            kinds::INTERNET_GATEWAY => {
                let vpc = ctx
                    .recorded_str("vpc_id")
                    .or_else(|| ctx.dep_str(&ids::vpc(), "id").ok());
                if let Some(vpc) = vpc {
                    load_balancers::delete_orphaned_load_balancers(
                        c,
                        load_balancers::Scope::InternetFacing(vpc),
                        &cluster,
                    )
                    .await?;
                }
                delete_internet_gateway(c, &id).await
            }
            kinds::ROUTE_TABLE => delete_route_table(c, &id).await,
            _ => delete_security_group(c, &id).await,
        }
    }
}

impl NetworkOps for NetworkService {}
