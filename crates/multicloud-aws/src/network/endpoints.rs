//! VPC endpoints ([`VpcEndpoint`]): the AWS services the private subnets reach without the
//! internet (the spec's [`ServiceEndpoint`](multicloud_core::spec::ServiceEndpoint)s).
//! Interface endpoints put an address in each private subnet, with private DNS (the
//! service's usual host name resolves to them inside the VPC, which needs the VPC's DNS
//! support and host names, set when the VPC is made) behind a security group open on 443
//! to the VPC's range; the S3 gateway endpoint adds routes to the private route tables.
//!
//! An interface endpoint is `pending` for a minute or two: `ready` waits until it is
//! `available` (`failed` is an error). Deleting one takes about as long: `gone` waits while
//! it is `deleting`. EC2 spells endpoint states in lower case (`available`), which the SDK's
//! `State` enum does not parse: they are compared as text.

use aws_sdk_ec2::types::{self as ec2, ResourceType, VpcEndpointType};
use multicloud_core::ProviderError;
use multicloud_core::observation::{Drift, FieldDrift};
use multicloud_core::provider::{OpContext, Outputs};

use super::{Ec2Kind, Lookup, Progress, progress_of};
use super::{describe_lookup, ec2_kind};
use crate::clients::AwsClients;
use crate::error::{Op, classify, classify_code};
use crate::expand::ids;
use crate::model::{NetworkOutputs, VpcEndpointConfig};
use crate::support::{dep_ids, kind_ops, none_if_not_found, ok_if_not_found, sweep_with};
use crate::tagging::{desired_tags, ec2_tag_spec};

/// VPC endpoints matching `lookup` (by recorded id, else by `Name` tag within the VPC) that
/// are not deleted.
pub(crate) async fn find_vpc_endpoints(
    c: &AwsClients,
    lookup: Lookup<'_>,
) -> Result<Vec<ec2::VpcEndpoint>, ProviderError> {
    let all = describe_lookup!(
        lookup,
        c.ec2.describe_vpc_endpoints(),
        vpc_endpoint_ids,
        set_filters,
        in_vpc: true,
        vpc_endpoints,
        "ec2 DescribeVpcEndpoints"
    );
    Ok(all
        .into_iter()
        .filter(|e| lookup.admits(e.tags()) && lookup.vpc.is_none_or(|v| e.vpc_id() == Some(v)))
        .filter(|e| !state_of(e).eq_ignore_ascii_case("deleted"))
        .collect())
}

/// The endpoint's state as EC2 spells it.
fn state_of(e: &ec2::VpcEndpoint) -> &str {
    e.state().map(|s| s.as_str()).unwrap_or("pending")
}

fn endpoint_outputs(e: &ec2::VpcEndpoint) -> NetworkOutputs {
    NetworkOutputs {
        id: e.vpc_endpoint_id().unwrap_or_default().into(),
        vpc_id: e.vpc_id().map(str::to_string),
        name: e.service_name().map(str::to_string),
        ..NetworkOutputs::default()
    }
}

/// The full service name of `service` in the clients' region (`com.amazonaws.us-east-1.s3`).
fn service_name(c: &AwsClients, service: &str) -> String {
    format!("com.amazonaws.{}.{service}", c.region)
}

/// Deletes VPC endpoint `id`. EC2 answers per endpoint: a refusal in the answer is
/// classified as the error code it carries (an unknown endpoint is not an error).
pub(crate) async fn delete_vpc_endpoint(c: &AwsClients, id: &str) -> Result<(), ProviderError> {
    let out = none_if_not_found(
        c.ec2
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(id)
            .send()
            .await
            .map_err(|e| classify(e, Op::Delete, "ec2 DeleteVpcEndpoints")),
    )?;
    let refused = out
        .as_ref()
        .and_then(|o| o.unsuccessful().first())
        .and_then(|item| item.error());
    let Some(refusal) = refused else {
        return Ok(());
    };
    let code = refusal.code().unwrap_or("Unknown");
    ok_if_not_found(Err(ProviderError::new(
        classify_code(code, Op::Delete),
        format!(
            "ec2 DeleteVpcEndpoints: {id}: {code} {}",
            refusal.message().unwrap_or_default()
        ),
    )
    .with_code(code)))
}

/// VPC endpoint `id` until it is `deleted`.
pub(crate) async fn live_vpc_endpoint(
    c: &AwsClients,
    id: &str,
) -> Result<Option<ec2::VpcEndpoint>, ProviderError> {
    let lookup = Lookup {
        id: Some(id),
        name: "",
        vpc: None,
    };
    Ok(find_vpc_endpoints(c, lookup).await?.into_iter().next())
}

kind_ops! {
    /// A VPC endpoint ([`kinds::VPC_ENDPOINT`](crate::kinds::VPC_ENDPOINT)), interface or
    /// gateway: config [`VpcEndpointConfig`], outputs `id`, `vpc_id`, `name` (the service
    /// name); ready when `available`, gone when `deleted`.
    VpcEndpoint;
}

ec2_kind! {
    VpcEndpoint: ec2::VpcEndpoint, find find_vpc_endpoints, id vpc_endpoint_id,
    outputs endpoint_outputs, create create_endpoint, complete complete_endpoint,
    delete delete_vpc_endpoint;
    async fn drift(
        &self,
        ctx: &OpContext<'_>,
        live: &ec2::VpcEndpoint,
    ) -> Result<Option<Drift>, ProviderError> {
        endpoint_drift(ctx, live)
    }
    fn progress(live: &ec2::VpcEndpoint) -> Progress {
        progress_of("VPC endpoint", Self::id(live), state_of(live), || {
            live.last_error()
                .map(|e| {
                    format!(
                        "{} {}",
                        e.code().unwrap_or_default(),
                        e.message().unwrap_or_default()
                    )
                })
                .unwrap_or_default()
        })
    }
}

/// What the endpoint of `ctx` attaches to: (subnet ids, route table ids, security group ids).
type Attachments = (Vec<String>, Vec<String>, Vec<String>);

fn attachments(
    ctx: &OpContext<'_>,
    config: &VpcEndpointConfig,
) -> Result<Attachments, ProviderError> {
    let groups = match &config.security_group {
        Some(sg) => vec![ctx.dep_str(sg, "id")?.to_string()],
        None => Vec::new(),
    };
    Ok((
        dep_ids(ctx, &config.subnets)?,
        dep_ids(ctx, &config.route_tables)?,
        groups,
    ))
}

/// Creates the endpoint of config `service` in the VPC, tagged: an interface endpoint with
/// private DNS in config `subnets` behind config `security_group`, or a gateway endpoint on
/// config `route_tables`.
async fn create_endpoint(c: &AwsClients, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
    let config: VpcEndpointConfig = ctx.config()?;
    let (subnets, tables, groups) = attachments(ctx, &config)?;
    let tags = desired_tags(&ctx.resource.name, &ctx.resource.tags, &[]);
    let req = c
        .ec2
        .create_vpc_endpoint()
        .vpc_id(ctx.dep_str(&ids::vpc(), "id")?)
        .service_name(service_name(c, &config.service))
        .tag_specifications(ec2_tag_spec(ResourceType::VpcEndpoint, &tags));
    let req = if config.gateway {
        req.vpc_endpoint_type(VpcEndpointType::Gateway)
            .set_route_table_ids(Some(tables))
    } else {
        req.vpc_endpoint_type(VpcEndpointType::Interface)
            .set_subnet_ids(Some(subnets))
            .set_security_group_ids(Some(groups))
            .private_dns_enabled(true)
    };
    let out = req
        .send()
        .await
        .map_err(|e| classify(e, Op::Create, "ec2 CreateVpcEndpoint"))?;
    let endpoint = out
        .vpc_endpoint
        .ok_or_else(|| ProviderError::invalid("ec2 CreateVpcEndpoint returned no endpoint"))?;
    Outputs::of(&endpoint_outputs(&endpoint))
}

/// The subnets (interface endpoint) or route tables (gateway endpoint) of the config of
/// `ctx` that endpoint `live` lacks.
fn endpoint_drift(
    ctx: &OpContext<'_>,
    live: &ec2::VpcEndpoint,
) -> Result<Option<Drift>, ProviderError> {
    let config: VpcEndpointConfig = ctx.config()?;
    let (subnets, tables, _) = attachments(ctx, &config)?;
    let (field, want, have) = if config.gateway {
        ("route_tables", tables, live.route_table_ids())
    } else {
        ("subnets", subnets, live.subnet_ids())
    };
    Ok(Drift::of(
        want.into_iter()
            .filter(|w| !have.contains(w))
            .map(|w| FieldDrift::missing(format!("{field}[{w}]"), "attached")),
    ))
}

/// Adds the subnets or route tables an interrupted run (or a hand edit) left off an adopted
/// endpoint.
async fn complete_endpoint(
    c: &AwsClients,
    ctx: &OpContext<'_>,
    live: &ec2::VpcEndpoint,
) -> Result<(), ProviderError> {
    let config: VpcEndpointConfig = ctx.config()?;
    let (subnets, tables, _) = attachments(ctx, &config)?;
    let missing = |want: Vec<String>, have: &[String]| -> Vec<String> {
        want.into_iter().filter(|w| !have.contains(w)).collect()
    };
    let subnets = missing(subnets, live.subnet_ids());
    let tables = missing(tables, live.route_table_ids());
    if (config.gateway && tables.is_empty()) || (!config.gateway && subnets.is_empty()) {
        return Ok(());
    }
    let req = c
        .ec2
        .modify_vpc_endpoint()
        .vpc_endpoint_id(VpcEndpoint::id(live));
    let req = if config.gateway {
        req.set_add_route_table_ids(Some(tables))
    } else {
        req.set_add_subnet_ids(Some(subnets))
    };
    req.send()
        .await
        .map(|_| ())
        .map_err(|e| classify(e, Op::Update, "ec2 ModifyVpcEndpoint"))
}

sweep_with!(VpcEndpoint => delete_vpc_endpoint(id), awaiting live_vpc_endpoint(id));
