//! Route tables: the public one (a default route to the internet gateway, associated with
//! the public subnets) and the private ones (a default route to a NAT gateway, associated
//! with the private subnets it serves; or, without NAT, no default route at all: only the
//! VPC's range and the routes gateway endpoints add).

use aws_sdk_ec2::types::{self as ec2, ResourceType};
use multicloud_core::observation::{Drift, FieldDrift};
use multicloud_core::provider::{OpContext, Outputs};
use multicloud_core::{ErrorKind, ProviderError};

use super::Lookup;
use super::{describe_lookup, ec2_kind};
use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::expand::ids;
use crate::kinds;
use crate::model::{NetworkOutputs, RouteTableConfig};
use crate::support::dep_ids;
use crate::support::{deleted, kind_ops, read_or_none, sweep_with};
use crate::tagging::{desired_tags, ec2_tag_spec};

/// Route tables matching `lookup` (by `Name` tag within the VPC when it is known).
pub(super) async fn find_route_tables(
    c: &AwsClients,
    lookup: Lookup<'_>,
) -> Result<Vec<ec2::RouteTable>, ProviderError> {
    Ok(describe_lookup!(
        lookup,
        c.ec2.describe_route_tables(),
        route_table_ids,
        set_filters,
        in_vpc: true,
        route_tables,
        "ec2 DescribeRouteTables"
    ))
}

/// Outputs of a route table: `id`, `vpc_id`.
pub(super) fn route_table_outputs(r: &ec2::RouteTable) -> NetworkOutputs {
    NetworkOutputs {
        id: r.route_table_id().unwrap_or_default().into(),
        vpc_id: r.vpc_id().map(str::to_string),
        ..NetworkOutputs::default()
    }
}

/// Where a route goes: the internet gateway (public table) or a NAT gateway (private).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Internet(String),
    Nat(String),
}

impl Target {
    /// Whether `route` goes to this target.
    fn is_target_of(&self, route: &ec2::Route) -> bool {
        match self {
            Target::Internet(id) => route.gateway_id() == Some(id.as_str()),
            Target::Nat(id) => route.nat_gateway_id() == Some(id.as_str()),
        }
    }

    /// The gateway id.
    fn id(&self) -> &str {
        match self {
            Target::Internet(id) | Target::Nat(id) => id,
        }
    }
}

/// The route of `r` to `destination`, if any.
fn route_to<'r>(r: &'r ec2::RouteTable, destination: &str) -> Option<&'r ec2::Route> {
    r.routes().iter().find(|route| {
        route.destination_cidr_block() == Some(destination)
            || route.destination_ipv6_cidr_block() == Some(destination)
    })
}

/// Where table `r` stands against the desired route: `None` when it routes `destination`
/// to `target`, else `Some` of its route going elsewhere (`None` when it has none).
fn misrouted<'r>(
    r: &'r ec2::RouteTable,
    destination: &str,
    target: &Target,
) -> Option<Option<&'r ec2::Route>> {
    match route_to(r, destination) {
        Some(live) if target.is_target_of(live) => None,
        live => Some(live),
    }
}

/// The subnets of `subnets` table `r` is not associated with.
fn unassociated<'a>(
    r: &'a ec2::RouteTable,
    subnets: &'a [String],
) -> impl Iterator<Item = &'a String> + 'a {
    subnets.iter().filter(|subnet| {
        !r.associations()
            .iter()
            .any(|a| a.subnet_id() == Some(subnet.as_str()))
    })
}

/// Where `route` goes (a gateway, NAT gateway, interface… id).
fn target_of(route: &ec2::Route) -> &str {
    route
        .gateway_id()
        .or(route.nat_gateway_id())
        .or(route.network_interface_id())
        .or(route.transit_gateway_id())
        .or(route.vpc_peering_connection_id())
        .or(route.instance_id())
        .unwrap_or("(unknown target)")
}

/// How table `r` drifted from the config of `ctx`: its route missing or going elsewhere,
/// subnets no longer associated.
fn route_drift(ctx: &OpContext<'_>, r: &ec2::RouteTable) -> Result<Option<Drift>, ProviderError> {
    let (route, subnets) = desired(ctx)?;
    let mut fields = Vec::new();
    if let Some((destination, target)) = &route {
        let field = format!("routes[{destination}]");
        match misrouted(r, destination, target) {
            None => {}
            Some(None) => fields.push(FieldDrift::missing(field, target.id())),
            Some(Some(live)) => {
                fields.push(FieldDrift::changed(field, target.id(), target_of(live)));
            }
        }
    }
    for subnet in unassociated(r, &subnets) {
        fields.push(FieldDrift::missing(
            format!("associations[{subnet}]"),
            "associated",
        ));
    }
    Ok(Drift::of(fields))
}

/// The desired route, (destination, target) or none, and the subnet ids to associate.
type Desired = (Option<(String, Target)>, Vec<String>);

/// The desired route and associations of the table of `ctx`.
fn desired(ctx: &OpContext<'_>) -> Result<Desired, ProviderError> {
    let RouteTableConfig {
        destination,
        subnets,
        via,
    } = ctx.config()?;
    let subnets = dep_ids(ctx, &subnets)?;
    let Some(destination) = destination else {
        return Ok((None, subnets));
    };
    let target = match via {
        Some(nat) => Target::Nat(ctx.dep_str(&nat, "id")?.to_string()),
        None => Target::Internet(match ctx.dep_str(&ids::igw(), "id") {
            Ok(id) => id.to_string(),
            Err(e) => ctx
                .deps_of_kind(kinds::INTERNET_GATEWAY)
                .find_map(|(_, o)| o.cloud_id())
                .map(str::to_string)
                .ok_or(e)?,
        }),
    };
    Ok((Some((destination, target)), subnets))
}

/// Creates the route table in the VPC, tagged, with config `destination` (if any) routed to
/// the internet gateway or the config's NAT gateway and associated with each subnet of config
/// `subnets`.
pub(super) async fn create_route_table(
    c: &AwsClients,
    ctx: &OpContext<'_>,
) -> Result<Outputs, ProviderError> {
    let vpc_id = ctx.dep_str(&ids::vpc(), "id")?;
    let (route, subnets) = desired(ctx)?;
    let tags = desired_tags(&ctx.resource.name, &ctx.resource.tags, &[]);
    let out = c
        .ec2
        .create_route_table()
        .vpc_id(vpc_id)
        .tag_specifications(ec2_tag_spec(ResourceType::RouteTable, &tags))
        .send()
        .await
        .map_err(|e| classify(e, Op::Create, "ec2 CreateRouteTable"))?;
    let table = out
        .route_table
        .ok_or_else(|| ProviderError::invalid("ec2 CreateRouteTable returned no route table"))?;
    let rt_id = table.route_table_id().unwrap_or_default();
    if let Some((destination, target)) = &route {
        put_route(c, rt_id, (destination.as_str(), target), false).await?;
    }
    for subnet in &subnets {
        associate(c, rt_id, subnet).await?;
    }
    Outputs::of(&route_table_outputs(&table))
}

/// Adds the route and associations an interrupted run (or a hand edit) left out of a table
/// of ours, and points its route back at its target when someone pointed it elsewhere.
pub(super) async fn ensure_routes(
    c: &AwsClients,
    ctx: &OpContext<'_>,
    r: &ec2::RouteTable,
) -> Result<(), ProviderError> {
    let (route, subnets) = desired(ctx)?;
    let rt_id = r.route_table_id().unwrap_or_default();
    // A route going elsewhere is replaced; a missing one added.
    if let Some((destination, target)) = &route
        && let Some(live) = misrouted(r, destination, target)
    {
        put_route(c, rt_id, (destination.as_str(), target), live.is_some()).await?;
    }
    for subnet in unassociated(r, &subnets) {
        associate(c, rt_id, subnet).await?;
    }
    Ok(())
}

/// `$req` (a `CreateRoute` or `ReplaceRoute` request) sending `$destination` (an IPv4 or
/// IPv6 range) to `$target` (a [`Target`]).
macro_rules! routed {
    ($req:expr, $destination:expr, $target:expr) => {{
        let req = $req;
        let req = match $target {
            Target::Internet(igw) => req.gateway_id(igw),
            Target::Nat(nat) => req.nat_gateway_id(nat),
        };
        let destination: &str = $destination;
        if destination.contains(':') {
            req.destination_ipv6_cidr_block(destination)
        } else {
            req.destination_cidr_block(destination)
        }
    }};
}

/// Routes `destination` of table `rt_id` to `target`: a new route (one already there is
/// fine), or with `replace` the existing route pointed back at it (someone pointed it
/// elsewhere).
async fn put_route(
    c: &AwsClients,
    rt_id: &str,
    (destination, target): (&str, &Target),
    replace: bool,
) -> Result<(), ProviderError> {
    if replace {
        let req = routed!(
            c.ec2.replace_route().route_table_id(rt_id),
            destination,
            target
        );
        return req
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, Op::Update, "ec2 ReplaceRoute"));
    }
    let req = routed!(
        c.ec2.create_route().route_table_id(rt_id),
        destination,
        target
    );
    match req
        .send()
        .await
        .map_err(|e| classify(e, Op::Create, "ec2 CreateRoute"))
    {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        r => r.map(|_| ()),
    }
}

async fn associate(c: &AwsClients, rt_id: &str, subnet_id: &str) -> Result<(), ProviderError> {
    match c
        .ec2
        .associate_route_table()
        .route_table_id(rt_id)
        .subnet_id(subnet_id)
        .send()
        .await
        .map_err(|e| classify(e, Op::Create, "ec2 AssociateRouteTable"))
    {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        r => r.map(|_| ()),
    }
}

/// Disassociates route table `rt_id` from its subnets, then deletes it (its routes go with
/// it).
pub(crate) async fn delete_route_table(c: &AwsClients, rt_id: &str) -> Result<(), ProviderError> {
    let found = read_or_none(
        c.ec2
            .describe_route_tables()
            .route_table_ids(rt_id)
            .send()
            .await,
        "ec2 DescribeRouteTables",
    )?;
    let Some(table) = found.and_then(|o| o.route_tables.unwrap_or_default().into_iter().next())
    else {
        return Ok(());
    };
    for assoc in table
        .associations()
        .iter()
        .filter(|a| a.main() != Some(true))
    {
        let Some(assoc_id) = assoc.route_table_association_id() else {
            continue;
        };
        deleted(
            c.ec2
                .disassociate_route_table()
                .association_id(assoc_id)
                .send()
                .await,
            "ec2 DisassociateRouteTable",
        )?;
    }
    deleted(
        c.ec2
            .delete_route_table()
            .route_table_id(rt_id)
            .send()
            .await,
        "ec2 DeleteRouteTable",
    )
}

kind_ops! {
    /// A route table ([`kinds::ROUTE_TABLE`]), public or private: config [`RouteTableConfig`],
    /// outputs `id`, `vpc_id`.
    RouteTable;
}

ec2_kind! {
    RouteTable: ec2::RouteTable, find find_route_tables, id route_table_id,
    outputs route_table_outputs, create create_route_table, complete ensure_routes,
    delete delete_route_table;
    async fn drift(
        &self,
        ctx: &OpContext<'_>,
        live: &ec2::RouteTable,
    ) -> Result<Option<Drift>, ProviderError> {
        route_drift(ctx, live)
    }
}

sweep_with!(RouteTable => delete_route_table(id));
