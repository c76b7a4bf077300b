//! Subnets, spread over the region's availability zones and tagged for Kubernetes load
//! balancer discovery.

use aws_sdk_ec2::types::{self as ec2, AttributeBooleanValue, ResourceType};
use multicloud_core::ProviderError;
use multicloud_core::observation::{Drift, FieldDrift};
use multicloud_core::provider::{OpContext, Outputs};

use super::Lookup;
use super::load_balancers::{self, Scope};
use super::{describe_lookup, ec2_kind};
use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::expand::ids;
use crate::model::{NetworkOutputs, SubnetConfig};
use crate::support::{deleted, kind_ops, sweep_with};
use crate::tagging::{desired_tags, ec2_tag_spec};

/// Subnets matching `lookup` (by `Name` tag within the VPC when it is known).
pub(super) async fn find_subnets(
    c: &AwsClients,
    lookup: Lookup<'_>,
) -> Result<Vec<ec2::Subnet>, ProviderError> {
    Ok(describe_lookup!(
        lookup,
        c.ec2.describe_subnets(),
        subnet_ids,
        set_filters,
        in_vpc: true,
        subnets,
        "ec2 DescribeSubnets"
    ))
}

/// Outputs of a subnet: `id`, `zone`, `vpc_id`, `cidr`.
pub(super) fn subnet_outputs(s: &ec2::Subnet) -> NetworkOutputs {
    NetworkOutputs {
        id: s.subnet_id().unwrap_or_default().into(),
        zone: s.availability_zone().map(str::to_string),
        vpc_id: s.vpc_id().map(str::to_string),
        cidr: s.cidr_block().map(str::to_string),
        ..NetworkOutputs::default()
    }
}

/// The region's availability zones (not local or wavelength zones), sorted by name.
pub(crate) async fn availability_zones(c: &AwsClients) -> Result<Vec<String>, ProviderError> {
    let out = c
        .ec2
        .describe_availability_zones()
        .send()
        .await
        .map_err(|e| classify(e, Op::Read, "ec2 DescribeAvailabilityZones"))?;
    let mut zones: Vec<String> = out
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter(|z| z.state().is_none_or(|s| s.as_str() == "available"))
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    zones.sort();
    zones.dedup();
    Ok(zones)
}

/// The Kubernetes discovery tags of a subnet: `kubernetes.io/role/elb` (public) or
/// `kubernetes.io/role/internal-elb` (private), and `kubernetes.io/cluster/<name>=shared`.
pub(crate) fn kubernetes_subnet_tags(
    public: bool,
    cluster_name: Option<&str>,
) -> Vec<(String, String)> {
    let role = if public {
        "kubernetes.io/role/elb"
    } else {
        "kubernetes.io/role/internal-elb"
    };
    let mut tags = vec![(role.to_string(), "1".to_string())];
    if let Some(cluster) = cluster_name.filter(|c| !c.is_empty()) {
        tags.push((
            format!("kubernetes.io/cluster/{cluster}"),
            "shared".to_string(),
        ));
    }
    tags
}

fn is_public(ctx: &OpContext<'_>) -> Result<bool, ProviderError> {
    Ok(ctx.config::<SubnetConfig>()?.public)
}

/// Creates a subnet (config `cidr`, `zone_index`, `public`, `cluster_name`) in the zone at
/// `zone_index` of the sorted zone names; public subnets map public IPs on launch.
pub(super) async fn create_subnet(
    c: &AwsClients,
    ctx: &OpContext<'_>,
) -> Result<Outputs, ProviderError> {
    let vpc_id = ctx.dep_str(&ids::vpc(), "id")?;
    let SubnetConfig {
        cidr,
        zone_index: index,
        public,
        cluster_name,
    } = ctx.config()?;
    let cluster_name = Some(cluster_name.as_str());
    let zones = availability_zones(c).await?;
    let zone = zones.get(index).ok_or_else(|| {
        ProviderError::invalid(format!(
            "{}: zone_index {index} but region {} has {} availability zone(s)",
            ctx.resource.id,
            c.region,
            zones.len()
        ))
    })?;
    let tags = desired_tags(
        &ctx.resource.name,
        &ctx.resource.tags,
        &kubernetes_subnet_tags(public, cluster_name),
    );
    let out = c
        .ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block(cidr)
        .availability_zone(zone)
        .tag_specifications(ec2_tag_spec(ResourceType::Subnet, &tags))
        .send()
        .await
        .map_err(|e| classify(e, Op::Create, "ec2 CreateSubnet"))?;
    let subnet = out
        .subnet
        .ok_or_else(|| ProviderError::invalid("ec2 CreateSubnet returned no subnet"))?;
    if public {
        map_public_ips(c, subnet.subnet_id().unwrap_or_default(), true).await?;
    }
    Outputs::of(&subnet_outputs(&subnet))
}

/// Sets whether instances launched in subnet `subnet_id` get a public address.
async fn map_public_ips(c: &AwsClients, subnet_id: &str, on: bool) -> Result<(), ProviderError> {
    c.ec2
        .modify_subnet_attribute()
        .subnet_id(subnet_id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            classify(
                e,
                Op::Update,
                "ec2 ModifySubnetAttribute mapPublicIpOnLaunch",
            )
        })
}

/// Maps public IPs on an adopted public subnet an interrupted run left without (and stops
/// mapping them on a private one where someone turned it on).
pub(super) async fn ensure_subnet(
    c: &AwsClients,
    ctx: &OpContext<'_>,
    s: &ec2::Subnet,
) -> Result<(), ProviderError> {
    let public = is_public(ctx)?;
    if s.map_public_ip_on_launch().unwrap_or(false) != public {
        map_public_ips(c, s.subnet_id().unwrap_or_default(), public).await?;
    }
    Ok(())
}

/// How subnet `s` drifted from the config of `ctx`: its range and zone (which replace it),
/// whether it maps public addresses (public subnets only).
async fn subnet_drift(
    c: &AwsClients,
    ctx: &OpContext<'_>,
    s: &ec2::Subnet,
) -> Result<Option<Drift>, ProviderError> {
    let SubnetConfig {
        cidr,
        zone_index,
        public,
        ..
    } = ctx.config()?;
    let zones = availability_zones(c).await?;
    let zone = zones.get(zone_index).map(String::as_str);
    let live_public = s.map_public_ip_on_launch().unwrap_or(false);
    Ok(Drift::of(
        [
            FieldDrift::compare_live("cidr", cidr.as_str(), s.cidr_block())
                .map(FieldDrift::replacing),
            zone.and_then(|z| {
                FieldDrift::compare_live("availability_zone", z, s.availability_zone())
            })
            .map(FieldDrift::replacing),
            FieldDrift::compare("map_public_ip_on_launch", &public, &live_public),
        ]
        .into_iter()
        .flatten(),
    ))
}

/// Deletes subnet `subnet_id` after removing the network interfaces left `available` in it.
pub(crate) async fn delete_subnet(c: &AwsClients, subnet_id: &str) -> Result<(), ProviderError> {
    super::delete_leftover_enis(c, "subnet-id", subnet_id).await?;
    deleted(
        c.ec2.delete_subnet().subnet_id(subnet_id).send().await,
        "ec2 DeleteSubnet",
    )
}

kind_ops! {
    /// A subnet ([`kinds::SUBNET`](crate::kinds::SUBNET)): config [`SubnetConfig`], outputs
    /// `id`, `zone`, `vpc_id`, `cidr`. Deleting it first deletes the load balancers the
    /// stack's cluster left in it.
    Subnet;
}

ec2_kind! {
    Subnet: ec2::Subnet, find find_subnets, id subnet_id, outputs subnet_outputs,
    create create_subnet, complete ensure_subnet;
    async fn drift(
        &self,
        ctx: &OpContext<'_>,
        live: &ec2::Subnet,
    ) -> Result<Option<Drift>, ProviderError> {
        subnet_drift(&self.clients, ctx, live).await
    }
    async fn delete_id(&self, ctx: &OpContext<'_>, id: &str) -> Result<(), ProviderError> {
        let config: SubnetConfig = ctx.config()?;
        let c = &self.clients;
        load_balancers::delete_orphaned_load_balancers(c, Scope::Subnet(id), &config.cluster_name)
            .await?;
        delete_subnet(c, id).await
    }
}

sweep_with!(Subnet => delete_subnet(id));
