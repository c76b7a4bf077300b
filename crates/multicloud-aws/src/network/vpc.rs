//! The VPC ([`Vpc`]) and its internet gateway ([`InternetGateway`]).

use aws_sdk_ec2::types::{self as ec2, AttributeBooleanValue, ResourceType, VpcAttributeName};
use multicloud_core::ProviderError;
use multicloud_core::observation::{Drift, FieldDrift};
use multicloud_core::provider::{OpContext, Outputs};

use super::load_balancers::{self, Scope};
use super::{Lookup, delete_cluster_load_balancers, delete_kubernetes_security_groups};
use super::{describe_lookup, ec2_kind};
use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::expand::{cluster_name_of, ids};
use crate::model::{NetworkOutputs, VpcConfig};
use crate::support::{deleted, kind_ops, read_or_none, sweep_with};
use crate::tagging::{desired_tags, ec2_tag_spec};

/// VPCs matching `lookup`.
pub(super) async fn find_vpcs(
    c: &AwsClients,
    lookup: Lookup<'_>,
) -> Result<Vec<ec2::Vpc>, ProviderError> {
    Ok(describe_lookup!(
        lookup,
        c.ec2.describe_vpcs(),
        vpc_ids,
        set_filters,
        in_vpc: false,
        vpcs,
        "ec2 DescribeVpcs"
    ))
}

/// Outputs of a VPC: `id`, `cidr`.
pub(super) fn vpc_outputs(v: &ec2::Vpc) -> NetworkOutputs {
    NetworkOutputs {
        id: v.vpc_id().unwrap_or_default().into(),
        cidr: v.cidr_block().map(str::to_string),
        ..NetworkOutputs::default()
    }
}

/// Creates the VPC (config `cidr`), tagged, with DNS support and host names on (EKS needs
/// both for private endpoint resolution and node registration).
pub(super) async fn create_vpc(
    c: &AwsClients,
    ctx: &OpContext<'_>,
) -> Result<Outputs, ProviderError> {
    let VpcConfig { cidr } = ctx.config()?;
    let tags = desired_tags(&ctx.resource.name, &ctx.resource.tags, &[]);
    let out = c
        .ec2
        .create_vpc()
        .cidr_block(cidr)
        .tag_specifications(ec2_tag_spec(ResourceType::Vpc, &tags))
        .send()
        .await
        .map_err(|e| classify(e, Op::Create, "ec2 CreateVpc"))?;
    let vpc = out
        .vpc
        .ok_or_else(|| ProviderError::invalid("ec2 CreateVpc returned no VPC"))?;
    ensure_vpc_attributes(c, vpc.vpc_id().unwrap_or_default()).await?;
    Outputs::of(&vpc_outputs(&vpc))
}

/// Turns DNS support and DNS host names on (one attribute per call, as EC2 requires).
pub(super) async fn ensure_vpc_attributes(
    c: &AwsClients,
    vpc_id: &str,
) -> Result<(), ProviderError> {
    let on = || AttributeBooleanValue::builder().value(true).build();
    c.ec2
        .modify_vpc_attribute()
        .vpc_id(vpc_id)
        .enable_dns_support(on())
        .send()
        .await
        .map_err(|e| classify(e, Op::Update, "ec2 ModifyVpcAttribute enableDnsSupport"))?;
    c.ec2
        .modify_vpc_attribute()
        .vpc_id(vpc_id)
        .enable_dns_hostnames(on())
        .send()
        .await
        .map_err(|e| classify(e, Op::Update, "ec2 ModifyVpcAttribute enableDnsHostnames"))?;
    Ok(())
}

/// How VPC `live` drifted from the config of `ctx`: its range (which replaces it), its DNS
/// support and host names (one read each: EC2 describes attributes one at a time).
async fn vpc_drift(
    c: &AwsClients,
    ctx: &OpContext<'_>,
    live: &ec2::Vpc,
) -> Result<Option<Drift>, ProviderError> {
    let VpcConfig { cidr } = ctx.config()?;
    let id = live.vpc_id().unwrap_or_default();
    let mut fields: Vec<FieldDrift> =
        FieldDrift::compare_live("cidr", cidr.as_str(), live.cidr_block())
            .map(FieldDrift::replacing)
            .into_iter()
            .collect();
    for attribute in [
        VpcAttributeName::EnableDnsSupport,
        VpcAttributeName::EnableDnsHostnames,
    ] {
        let out = c
            .ec2
            .describe_vpc_attribute()
            .vpc_id(id)
            .attribute(attribute.clone())
            .send()
            .await
            .map_err(|e| classify(e, Op::Read, "ec2 DescribeVpcAttribute"))?;
        let (field, value) = match attribute {
            VpcAttributeName::EnableDnsSupport => ("enable_dns_support", out.enable_dns_support()),
            _ => ("enable_dns_hostnames", out.enable_dns_hostnames()),
        };
        let on = value.and_then(AttributeBooleanValue::value);
        fields.extend(FieldDrift::compare_live(field, &true, on.as_ref()));
    }
    Ok(Drift::of(fields))
}

/// Deletes VPC `vpc_id` after removing the network interfaces left `available` in it.
/// Subnets, gateways, route tables and security groups must be gone already (the engine's
/// order); otherwise EC2 answers `DependencyViolation`, classified retryable.
pub(crate) async fn delete_vpc(c: &AwsClients, vpc_id: &str) -> Result<(), ProviderError> {
    super::delete_leftover_enis(c, "vpc-id", vpc_id).await?;
    deleted(
        c.ec2.delete_vpc().vpc_id(vpc_id).send().await,
        "ec2 DeleteVpc",
    )
}

/// Internet gateways matching `lookup` (by `Name` tag, attached to the VPC or detached).
pub(super) async fn find_igws(
    c: &AwsClients,
    lookup: Lookup<'_>,
) -> Result<Vec<ec2::InternetGateway>, ProviderError> {
    let all = describe_lookup!(
        lookup,
        c.ec2.describe_internet_gateways(),
        internet_gateway_ids,
        set_filters,
        in_vpc: false,
        internet_gateways,
        "ec2 DescribeInternetGateways"
    );
    // A gateway attached to another VPC is not the one of this stack's VPC.
    Ok(match (lookup.id, lookup.vpc) {
        (None, Some(vpc)) => all
            .into_iter()
            .filter(|g| {
                g.attachments().is_empty()
                    || g.attachments().iter().any(|a| a.vpc_id() == Some(vpc))
            })
            .collect(),
        _ => all,
    })
}

/// Outputs of an internet gateway: `id`, and `vpc_id` when attached.
pub(super) fn igw_outputs(g: &ec2::InternetGateway) -> NetworkOutputs {
    NetworkOutputs {
        id: g.internet_gateway_id().unwrap_or_default().into(),
        vpc_id: g
            .attachments()
            .iter()
            .find_map(|a| a.vpc_id())
            .map(str::to_string),
        ..NetworkOutputs::default()
    }
}

/// Creates the internet gateway, tagged, and attaches it to the VPC.
pub(super) async fn create_igw(
    c: &AwsClients,
    ctx: &OpContext<'_>,
) -> Result<Outputs, ProviderError> {
    let vpc_id = ctx.dep_str(&ids::vpc(), "id")?;
    let tags = desired_tags(&ctx.resource.name, &ctx.resource.tags, &[]);
    let out = c
        .ec2
        .create_internet_gateway()
        .tag_specifications(ec2_tag_spec(ResourceType::InternetGateway, &tags))
        .send()
        .await
        .map_err(|e| classify(e, Op::Create, "ec2 CreateInternetGateway"))?;
    let igw = out
        .internet_gateway
        .ok_or_else(|| ProviderError::invalid("ec2 CreateInternetGateway returned no gateway"))?;
    let igw_id = igw.internet_gateway_id().unwrap_or_default();
    attach_igw(c, igw_id, vpc_id).await?;
    Outputs::of(&NetworkOutputs {
        vpc_id: Some(vpc_id.to_string()),
        ..igw_outputs(&igw)
    })
}

async fn attach_igw(c: &AwsClients, igw_id: &str, vpc_id: &str) -> Result<(), ProviderError> {
    c.ec2
        .attach_internet_gateway()
        .internet_gateway_id(igw_id)
        .vpc_id(vpc_id)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify(e, Op::Create, "ec2 AttachInternetGateway"))
}

/// Attaches an adopted gateway that an interrupted run left detached.
pub(super) async fn ensure_igw_attached(
    c: &AwsClients,
    ctx: &OpContext<'_>,
    g: &ec2::InternetGateway,
) -> Result<(), ProviderError> {
    let vpc_id = ctx.dep_str(&ids::vpc(), "id")?;
    if g.attachments().iter().any(|a| a.vpc_id() == Some(vpc_id)) {
        return Ok(());
    }
    attach_igw(c, g.internet_gateway_id().unwrap_or_default(), vpc_id).await
}

/// Detaches internet gateway `igw_id` from its VPCs, then deletes it.
pub(crate) async fn delete_internet_gateway(
    c: &AwsClients,
    igw_id: &str,
) -> Result<(), ProviderError> {
    let found = read_or_none(
        c.ec2
            .describe_internet_gateways()
            .internet_gateway_ids(igw_id)
            .send()
            .await,
        "ec2 DescribeInternetGateways",
    )?;
    let Some(igw) = found.and_then(|o| o.internet_gateways.unwrap_or_default().into_iter().next())
    else {
        return Ok(());
    };
    for vpc in igw.attachments().iter().filter_map(|a| a.vpc_id()) {
        deleted(
            c.ec2
                .detach_internet_gateway()
                .internet_gateway_id(igw_id)
                .vpc_id(vpc)
                .send()
                .await,
            "ec2 DetachInternetGateway",
        )?;
    }
    deleted(
        c.ec2
            .delete_internet_gateway()
            .internet_gateway_id(igw_id)
            .send()
            .await,
        "ec2 DeleteInternetGateway",
    )
}

kind_ops! {
    /// The VPC ([`kinds::VPC`](crate::kinds::VPC)): config [`VpcConfig`], outputs `id`,
    /// `cidr`. Deleting it first deletes the load balancers and security groups Kubernetes
    /// left in it for the stack's cluster.
    Vpc;
    /// The internet gateway ([`kinds::INTERNET_GATEWAY`](crate::kinds::INTERNET_GATEWAY)),
    /// attached to the VPC. Deleting it first deletes the stack cluster's internet-facing
    /// load balancers left in the VPC (their public addresses hold it).
    InternetGateway;
}

ec2_kind! {
    Vpc: ec2::Vpc, find find_vpcs, id vpc_id, outputs vpc_outputs, create create_vpc;
    async fn complete(&self, _: &OpContext<'_>, live: &ec2::Vpc) -> Result<(), ProviderError> {
        ensure_vpc_attributes(&self.clients, live.vpc_id().unwrap_or_default()).await
    }
    async fn drift(
        &self,
        ctx: &OpContext<'_>,
        live: &ec2::Vpc,
    ) -> Result<Option<Drift>, ProviderError> {
        vpc_drift(&self.clients, ctx, live).await
    }
    async fn delete_id(&self, ctx: &OpContext<'_>, id: &str) -> Result<(), ProviderError> {
        let c = &self.clients;
        // The stack's EKS cluster, whose leftover load balancers block the network.
        let cluster = cluster_name_of(&ctx.stack.stack, &ctx.stack.environment);
        delete_cluster_load_balancers(c, id, Some(&cluster)).await?;
        delete_kubernetes_security_groups(c, id, Some(&cluster)).await?;
        delete_vpc(c, id).await
    }
}

ec2_kind! {
    InternetGateway: ec2::InternetGateway, find find_igws, id internet_gateway_id,
    outputs igw_outputs, create create_igw, complete ensure_igw_attached;
    /// Detached from the stack's VPC.
    async fn drift(
        &self,
        ctx: &OpContext<'_>,
        live: &ec2::InternetGateway,
    ) -> Result<Option<Drift>, ProviderError> {
        let Ok(vpc) = ctx.dep_str(&ids::vpc(), "id") else {
            return Ok(None);
        };
        let attached = live.attachments().iter().any(|a| a.vpc_id() == Some(vpc));
        Ok((!attached).then(|| {
            Drift::field(FieldDrift::missing(
                format!("attachments[{vpc}]"),
                "attached",
            ))
        }))
    }
    async fn delete_id(&self, ctx: &OpContext<'_>, id: &str) -> Result<(), ProviderError> {
        let c = &self.clients;
        let vpc = ctx
            .recorded_str("vpc_id")
            .or_else(|| ctx.dep_str(&ids::vpc(), "id").ok());
        if let Some(vpc) = vpc {
            let cluster = cluster_name_of(&ctx.stack.stack, &ctx.stack.environment);
            load_balancers::delete_orphaned_load_balancers(c, Scope::InternetFacing(vpc), &cluster)
                .await?;
        }
        delete_internet_gateway(c, id).await
    }
}

sweep_with!(Vpc => delete_vpc(id), InternetGateway => delete_internet_gateway(id));
