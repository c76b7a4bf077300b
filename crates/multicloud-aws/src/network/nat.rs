//! The way out of the private subnets: an Elastic IP ([`ElasticIp`]) and a public NAT
//! gateway ([`NatGateway`]) in a public subnet, per zone or one shared (the spec's
//! [`Nat`](multicloud_core::spec::Nat)); the private route tables send `0.0.0.0/0` to them.
//!
//! A NAT gateway is `pending` for a minute or two on AWS: `ready` waits until it is
//! `available` (a `failed` one is an error naming AWS's reason). Deleting one takes about
//! as long and keeps its address associated until it is `deleted`: `gone` waits for that,
//! and the graph deletes the gateway before its address, its subnet and the internet
//! gateway. Deleted gateways stay visible for about an hour in state `deleted`: they are
//! never found again.

use aws_sdk_ec2::types::{
    self as ec2, ConnectivityType, DomainType, NatGatewayState, ResourceType,
};
use multicloud_core::ProviderError;
use multicloud_core::observation::{Drift, FieldDrift};
use multicloud_core::provider::{OpContext, Outputs};

use super::{Lookup, Progress, progress_of};
use super::{describe_lookup, ec2_kind};
use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::model::{NatGatewayConfig, NetworkOutputs};
use crate::support::{deleted, kind_ops, sweep_with};
use crate::tagging::{desired_tags, ec2_tag_spec};

/// Elastic IPs matching `lookup` (by recorded allocation id, else by `Name` tag).
pub(super) async fn find_addresses(
    c: &AwsClients,
    lookup: Lookup<'_>,
) -> Result<Vec<ec2::Address>, ProviderError> {
    Ok(describe_lookup!(
        lookup,
        c.ec2.describe_addresses(),
        allocation_ids,
        set_filters,
        in_vpc: false,
        addresses,
        "ec2 DescribeAddresses"
    ))
}

fn address_outputs(a: &ec2::Address) -> NetworkOutputs {
    NetworkOutputs {
        id: a.allocation_id().unwrap_or_default().into(),
        public_ip: a.public_ip().map(str::to_string),
        ..NetworkOutputs::default()
    }
}

/// Releases Elastic IP `allocation_id` (retried while a NAT gateway being deleted still
/// holds it).
pub(crate) async fn release_address(
    c: &AwsClients,
    allocation_id: &str,
) -> Result<(), ProviderError> {
    deleted(
        c.ec2
            .release_address()
            .allocation_id(allocation_id)
            .send()
            .await,
        "ec2 ReleaseAddress",
    )
}

/// NAT gateways matching `lookup` (by recorded id, else by `Name` tag within the VPC) that
/// are not deleted (those being deleted too: [`Ec2Kind::progress`] tells them apart).
pub(super) async fn find_nat_gateways(
    c: &AwsClients,
    lookup: Lookup<'_>,
) -> Result<Vec<ec2::NatGateway>, ProviderError> {
    let all = describe_lookup!(
        lookup,
        c.ec2.describe_nat_gateways(),
        nat_gateway_ids,
        set_filter,
        in_vpc: true,
        nat_gateways,
        "ec2 DescribeNatGateways"
    );
    Ok(all
        .into_iter()
        .filter(|g| lookup.admits(g.tags()) && lookup.vpc.is_none_or(|v| g.vpc_id() == Some(v)))
        .filter(|g| g.state() != Some(&NatGatewayState::Deleted))
        .collect())
}

fn nat_outputs(g: &ec2::NatGateway) -> NetworkOutputs {
    NetworkOutputs {
        id: g.nat_gateway_id().unwrap_or_default().into(),
        vpc_id: g.vpc_id().map(str::to_string),
        public_ip: g
            .nat_gateway_addresses()
            .iter()
            .find_map(|a| a.public_ip())
            .map(str::to_string),
        ..NetworkOutputs::default()
    }
}

/// Deletes NAT gateway `id` (its address stays associated until it is `deleted`).
pub(crate) async fn delete_nat_gateway(c: &AwsClients, id: &str) -> Result<(), ProviderError> {
    deleted(
        c.ec2.delete_nat_gateway().nat_gateway_id(id).send().await,
        "ec2 DeleteNatGateway",
    )
}

/// NAT gateway `id` until it is `deleted` (while `deleting` too: it still holds its
/// address and its subnet).
pub(crate) async fn live_nat_gateway(
    c: &AwsClients,
    id: &str,
) -> Result<Option<ec2::NatGateway>, ProviderError> {
    let lookup = Lookup {
        id: Some(id),
        name: "",
        vpc: None,
    };
    Ok(find_nat_gateways(c, lookup).await?.into_iter().next())
}

kind_ops! {
    /// An Elastic IP ([`kinds::ELASTIC_IP`](crate::kinds::ELASTIC_IP)) for a NAT gateway:
    /// config [`ElasticIpConfig`](crate::model::ElasticIpConfig), outputs `id` (allocation
    /// id) and `public_ip`.
    ElasticIp;
    /// A public NAT gateway ([`kinds::NAT_GATEWAY`](crate::kinds::NAT_GATEWAY)): config
    /// [`NatGatewayConfig`], outputs `id`, `vpc_id`, `public_ip`; ready when `available`,
    /// gone when `deleted`.
    NatGateway;
}

ec2_kind! {
    ElasticIp: ec2::Address, find find_addresses, id allocation_id, outputs address_outputs,
    delete release_address;
    async fn create_new(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let tags = desired_tags(&ctx.resource.name, &ctx.resource.tags, &[]);
        let out = self
            .clients
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(ec2_tag_spec(ResourceType::ElasticIp, &tags))
            .send()
            .await
            .map_err(|e| classify(e, Op::Create, "ec2 AllocateAddress"))?;
        Outputs::of(&NetworkOutputs {
            id: out.allocation_id().unwrap_or_default().into(),
            public_ip: out.public_ip().map(str::to_string),
            ..NetworkOutputs::default()
        })
    }
}

ec2_kind! {
    NatGateway: ec2::NatGateway, find find_nat_gateways, id nat_gateway_id, outputs nat_outputs,
    delete delete_nat_gateway;
    /// In another subnet than its config's (a gateway cannot move: it is replaced).
    async fn drift(
        &self,
        ctx: &OpContext<'_>,
        live: &ec2::NatGateway,
    ) -> Result<Option<Drift>, ProviderError> {
        let NatGatewayConfig { subnet, .. } = ctx.config()?;
        let Ok(want) = ctx.dep_str(&subnet, "id") else {
            return Ok(None);
        };
        Ok(FieldDrift::compare_live("subnet", want, live.subnet_id())
            .map(|f| Drift::field(f.replacing())))
    }
    async fn create_new(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let NatGatewayConfig { subnet, address } = ctx.config()?;
        let tags = desired_tags(&ctx.resource.name, &ctx.resource.tags, &[]);
        let out = self
            .clients
            .ec2
            .create_nat_gateway()
            .subnet_id(ctx.dep_str(&subnet, "id")?)
            .allocation_id(ctx.dep_str(&address, "id")?)
            .connectivity_type(ConnectivityType::Public)
            .tag_specifications(ec2_tag_spec(ResourceType::Natgateway, &tags))
            .send()
            .await
            .map_err(|e| classify(e, Op::Create, "ec2 CreateNatGateway"))?;
        let gateway = out
            .nat_gateway
            .ok_or_else(|| ProviderError::invalid("ec2 CreateNatGateway returned no gateway"))?;
        Outputs::of(&nat_outputs(&gateway))
    }
    fn progress(live: &ec2::NatGateway) -> Progress {
        let state = live
            .state()
            .map(NatGatewayState::as_str)
            .unwrap_or("pending");
        progress_of("NAT gateway", Self::id(live), state, || {
            format!(
                "{} {}",
                live.failure_code().unwrap_or_default(),
                live.failure_message().unwrap_or_default()
            )
        })
    }
}

sweep_with!(ElasticIp => release_address(id));
sweep_with!(NatGateway => delete_nat_gateway(id), awaiting live_nat_gateway(id));
