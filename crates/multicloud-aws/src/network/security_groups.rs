//! Security groups with ingress rules `{port, from}`: TCP `port` from the members of another
//! security group, or from the range of the VPC or of a subnet. The database accepts 5432
//! and the cache 6379 from the cluster's group and from the private subnets' ranges only
//! (EKS managed nodes carry the cluster security group EKS makes, not ours: the ranges are
//! what lets the nodes and their pods in); the VPC endpoints accept 443 from the VPC.

use aws_sdk_ec2::types::{self as ec2, IpPermission, IpRange, ResourceType, UserIdGroupPair};
use multicloud_core::observation::{Drift, FieldDrift};
use multicloud_core::provider::{OpContext, Outputs};
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::Value;

use super::Lookup;
use super::ec2_kind;
use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::expand::ids;
use crate::kinds;
use crate::model::{NetworkOutputs, SecurityGroupConfig};
use crate::support::{any_changed, deleted, dep_id};
use crate::support::{kind_ops, none_if_not_found, sweep_with};
use crate::tagging::{desired_tags, ec2_filter, ec2_tag_spec};

/// Security groups matching `lookup`: by id, else by `Name` tag within the VPC, else by group
/// name within the VPC (group names are unique per VPC, so a group holding our name blocks
/// creation whether or not it is tagged).
pub(super) async fn find_security_groups(
    c: &AwsClients,
    lookup: Lookup<'_>,
) -> Result<Vec<ec2::SecurityGroup>, ProviderError> {
    if let Some(id) = lookup.id {
        return describe(c.ec2.describe_security_groups().group_ids(id)).await;
    }
    for filter in ["tag:Name", "group-name"] {
        let req = c
            .ec2
            .describe_security_groups()
            .filters(ec2_filter(filter, lookup.name));
        let req = match lookup.vpc {
            Some(vpc) => req.filters(ec2_filter("vpc-id", vpc)),
            None => req,
        };
        let found = describe(req).await?;
        if !found.is_empty() {
            return Ok(found);
        }
    }
    Ok(Vec::new())
}

async fn describe(
    req: aws_sdk_ec2::operation::describe_security_groups::builders::DescribeSecurityGroupsFluentBuilder,
) -> Result<Vec<ec2::SecurityGroup>, ProviderError> {
    let out = none_if_not_found(
        req.send()
            .await
            .map_err(|e| classify(e, Op::Read, "ec2 DescribeSecurityGroups")),
    )?;
    Ok(out
        .map(|o| o.security_groups.unwrap_or_default())
        .unwrap_or_default())
}

/// Outputs of a security group: `id`, `vpc_id`, `name`.
pub(super) fn sg_outputs(g: &ec2::SecurityGroup) -> NetworkOutputs {
    NetworkOutputs {
        id: g.group_id().unwrap_or_default().into(),
        vpc_id: g.vpc_id().map(str::to_string),
        name: g.group_name().map(str::to_string),
        ..NetworkOutputs::default()
    }
}

/// Who an ingress rule lets in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// The members of security group (id).
    Group(String),
    /// Any address of a range (the VPC's).
    Range(String),
}

/// The desired ingress rules as (TCP port, source), resolved through the dependencies'
/// outputs: a security group's id, or the range of the VPC or subnet.
fn desired_ingress(ctx: &OpContext<'_>) -> Result<Vec<(i32, Source)>, ProviderError> {
    let config: SecurityGroupConfig = ctx.config()?;
    config
        .ingress
        .iter()
        .map(|rule| {
            let ranged = [kinds::VPC.as_str(), kinds::SUBNET.as_str()];
            let source = if ranged.contains(&rule.from.kind_name()) {
                Source::Range(ctx.dep_str(&rule.from, "cidr")?.to_string())
            } else {
                Source::Group(dep_id(ctx, &rule.from)?)
            };
            Ok((i32::from(rule.port), source))
        })
        .collect()
}

fn permission(port: i32, source: &Source) -> IpPermission {
    let p = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port);
    match source {
        Source::Group(group) => {
            p.user_id_group_pairs(UserIdGroupPair::builder().group_id(group).build())
        }
        Source::Range(cidr) => p.ip_ranges(IpRange::builder().cidr_ip(cidr).build()),
    }
    .build()
}

/// Whether `g` already allows TCP `port` from `source`.
fn allows(g: &ec2::SecurityGroup, port: i32, source: &Source) -> bool {
    g.ip_permissions().iter().any(|p| {
        p.ip_protocol() == Some("tcp")
            && p.from_port() == Some(port)
            && p.to_port() == Some(port)
            && match source {
                Source::Group(id) => p
                    .user_id_group_pairs()
                    .iter()
                    .any(|u| u.group_id() == Some(id.as_str())),
                Source::Range(cidr) => p
                    .ip_ranges()
                    .iter()
                    .any(|r| r.cidr_ip() == Some(cidr.as_str())),
            }
    })
}

async fn authorize(
    c: &AwsClients,
    group_id: &str,
    rules: &[(i32, Source)],
) -> Result<(), ProviderError> {
    if rules.is_empty() {
        return Ok(());
    }
    let perms = rules
        .iter()
        .map(|(port, source)| permission(*port, source))
        .collect();
    match c
        .ec2
        .authorize_security_group_ingress()
        .group_id(group_id)
        .set_ip_permissions(Some(perms))
        .send()
        .await
        .map_err(|e| classify(e, Op::Create, "ec2 AuthorizeSecurityGroupIngress"))
    {
        // `InvalidPermission.Duplicate`: already there.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        r => r.map(|_| ()),
    }
}

/// Creates the security group (config `description`, `ingress`) in the VPC, tagged, with its
/// ingress rules. Egress keeps EC2's default (all outbound).
pub(super) async fn create_security_group(
    c: &AwsClients,
    ctx: &OpContext<'_>,
) -> Result<Outputs, ProviderError> {
    let vpc_id = ctx.dep_str(&ids::vpc(), "id")?;
    let rules = desired_ingress(ctx)?;
    let SecurityGroupConfig { description, .. } = ctx.config()?;
    let tags = desired_tags(&ctx.resource.name, &ctx.resource.tags, &[]);
    let out = c
        .ec2
        .create_security_group()
        .group_name(&ctx.resource.name)
        .description(description)
        .vpc_id(vpc_id)
        .tag_specifications(ec2_tag_spec(ResourceType::SecurityGroup, &tags))
        .send()
        .await
        .map_err(|e| classify(e, Op::Create, "ec2 CreateSecurityGroup"))?;
    let group_id = out
        .group_id()
        .ok_or_else(|| ProviderError::invalid("ec2 CreateSecurityGroup returned no group id"))?;
    authorize(c, group_id, &rules).await?;
    Outputs::of(&NetworkOutputs {
        id: group_id.to_string(),
        vpc_id: Some(vpc_id.to_string()),
        name: Some(ctx.resource.name.clone()),
        ..NetworkOutputs::default()
    })
}

/// `tcp/5432 from sg-123`.
fn describe_rule(port: i32, source: &Source) -> String {
    match source {
        Source::Group(id) | Source::Range(id) => format!("tcp/{port} from {id}"),
    }
}

/// The ingress rules of the config of `ctx` that group `g` lacks.
fn ingress_drift(
    ctx: &OpContext<'_>,
    g: &ec2::SecurityGroup,
) -> Result<Option<Drift>, ProviderError> {
    Ok(Drift::of(
        desired_ingress(ctx)?
            .into_iter()
            .filter(|(port, src)| !allows(g, *port, src))
            .map(|(port, src)| {
                FieldDrift::missing(format!("ingress[{}]", describe_rule(port, &src)), "allowed")
            }),
    ))
}

/// Adds the ingress rules an interrupted run (or a hand edit) left out of a group of ours.
pub(super) async fn ensure_ingress(
    c: &AwsClients,
    ctx: &OpContext<'_>,
    g: &ec2::SecurityGroup,
) -> Result<(), ProviderError> {
    let missing: Vec<(i32, Source)> = desired_ingress(ctx)?
        .into_iter()
        .filter(|(port, src)| !allows(g, *port, src))
        .collect();
    authorize(c, g.group_id().unwrap_or_default(), &missing).await
}

/// Revokes every ingress rule of group `group_id`, so that groups it references can be
/// deleted. A missing group is not an error.
pub(crate) async fn revoke_security_group_ingress(
    c: &AwsClients,
    group_id: &str,
) -> Result<(), ProviderError> {
    let found = describe(c.ec2.describe_security_groups().group_ids(group_id)).await?;
    let Some(group) = found.into_iter().next() else {
        return Ok(());
    };
    if group.ip_permissions().is_empty() {
        return Ok(());
    }
    deleted(
        c.ec2
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(group.ip_permissions().to_vec()))
            .send()
            .await,
        "ec2 RevokeSecurityGroupIngress",
    )
}

/// Deletes security group `group_id`: deletes the network interfaces left `available` in it,
/// revokes its ingress rules, then deletes the group. A group still used by an instance,
/// interface or another group's rule answers `DependencyViolation` (retryable).
pub(crate) async fn delete_security_group(
    c: &AwsClients,
    group_id: &str,
) -> Result<(), ProviderError> {
    super::delete_leftover_enis(c, "group-id", group_id).await?;
    revoke_security_group_ingress(c, group_id).await?;
    deleted(
        c.ec2
            .delete_security_group()
            .group_id(group_id)
            .send()
            .await,
        "ec2 DeleteSecurityGroup",
    )
}

kind_ops! {
    /// A security group ([`kinds::SECURITY_GROUP`](crate::kinds::SECURITY_GROUP)): config [`SecurityGroupConfig`],
    /// outputs `id`, `vpc_id`, `name`.
    SecurityGroup;
}

ec2_kind! {
    SecurityGroup: ec2::SecurityGroup, find find_security_groups, id group_id, outputs sg_outputs,
    create create_security_group, complete ensure_ingress, delete delete_security_group;
    async fn drift(
        &self,
        ctx: &OpContext<'_>,
        live: &ec2::SecurityGroup,
    ) -> Result<Option<Drift>, ProviderError> {
        ingress_drift(ctx, live)
    }
    /// A new description, which EC2 cannot change, replaces the group; an update adds the
    /// ingress rules a changed config asks for.
    fn requires_replacement(old: &Value, new: &Value) -> bool {
        any_changed(&["description"], old, new)
    }
}

sweep_with!(SecurityGroup => delete_security_group(id));
