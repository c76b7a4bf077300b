//! Listing every resource that carries a `multicloud:stack` tag, service by service (the
//! Resource Groups Tagging API is not used: it misses IAM, and moto does not cover EKS or
//! ECR there). Resources already being deleted (EKS `DELETING`, RDS and ElastiCache
//! `deleting`, secrets scheduled for deletion) are not listed: they go on their own.

use std::collections::BTreeMap;

use multicloud_core::ProviderError;
use multicloud_core::resource::ResourceKind;
use multicloud_core::tags::{TAG_CREATED_AT, TAG_ENV, TAG_EXPIRES_AT, TAG_STACK};

use super::SweptResource;
use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::identity::{decode_policy_document, get_provider, list_provider_arns, role_tags};
use crate::kinds;
use crate::network::find_kubernetes_load_balancers;
use crate::support::{all_items, none_if_not_found, read_or_none, tag_map};
use crate::tagging::{TAG_NAME, ec2_owned_filter, ec2_tag_map};

/// One service's listing; `find` runs each, retrying it as a whole.
#[derive(Debug, Clone, Copy)]
pub(super) enum Listing {
    Ec2,
    LoadBalancers,
    Eks,
    Rds,
    Elasticache,
    Ecr,
    Secrets,
    Iam,
}

impl Listing {
    /// Every listing, in the order `find` runs them.
    pub(super) const ALL: [Listing; 8] = [
        Listing::Ec2,
        Listing::LoadBalancers,
        Listing::Eks,
        Listing::Rds,
        Listing::Elasticache,
        Listing::Ecr,
        Listing::Secrets,
        Listing::Iam,
    ];

    /// The resources this listing finds; `earlier` is what the listings before it found (the
    /// load balancers are looked for in the VPCs listed there).
    pub(super) async fn run(
        self,
        c: &AwsClients,
        earlier: &[SweptResource],
    ) -> Result<Vec<SweptResource>, ProviderError> {
        let mut out = Vec::new();
        match self {
            Listing::Ec2 => ec2(c, &mut out).await?,
            Listing::LoadBalancers => load_balancers(c, earlier, &mut out).await?,
            Listing::Eks => eks(c, &mut out).await?,
            Listing::Rds => rds(c, &mut out).await?,
            Listing::Elasticache => elasticache(c, &mut out).await?,
            Listing::Ecr => ecr(c, &mut out).await?,
            Listing::Secrets => secrets(c, &mut out).await?,
            Listing::Iam => iam(c, &mut out).await?,
        }
        Ok(out)
    }
}

/// The ownership tags a load balancer takes from its VPC.
const OWNERSHIP_TAGS: &[&str] = &[TAG_STACK, TAG_ENV, TAG_CREATED_AT, TAG_EXPIRES_AT];

fn swept(
    kind: ResourceKind,
    name: &str,
    id: &str,
    tags: BTreeMap<String, String>,
) -> SweptResource {
    SweptResource {
        kind: kind.as_str().to_string(),
        name: name.to_string(),
        id: id.to_string(),
        parent: None,
        tags,
    }
}

/// Name of an EC2 resource: its `Name` tag, else its id.
fn ec2_named(
    kind: ResourceKind,
    id: Option<&str>,
    tags: &[aws_sdk_ec2::types::Tag],
) -> SweptResource {
    let tags = ec2_tag_map(tags);
    let id = id.unwrap_or_default();
    let name = tags
        .get(TAG_NAME)
        .map(String::as_str)
        .unwrap_or(id)
        .to_string();
    swept(kind, &name, id, tags)
}

/// VPCs, subnets, internet gateways, route tables, NAT gateways, Elastic IPs, VPC endpoints
/// and security groups carrying our tag.
async fn ec2(c: &AwsClients, out: &mut Vec<SweptResource>) -> Result<(), ProviderError> {
    for v in all_items!(
        c.ec2.describe_vpcs().filters(ec2_owned_filter()),
        "ec2 DescribeVpcs"
    )? {
        out.push(ec2_named(kinds::VPC, v.vpc_id(), v.tags()));
    }
    for s in all_items!(
        c.ec2.describe_subnets().filters(ec2_owned_filter()),
        "ec2 DescribeSubnets"
    )? {
        out.push(ec2_named(kinds::SUBNET, s.subnet_id(), s.tags()));
    }
    for g in all_items!(
        c.ec2
            .describe_internet_gateways()
            .filters(ec2_owned_filter()),
        "ec2 DescribeInternetGateways"
    )? {
        out.push(ec2_named(
            kinds::INTERNET_GATEWAY,
            g.internet_gateway_id(),
            g.tags(),
        ));
    }
    for r in all_items!(
        c.ec2.describe_route_tables().filters(ec2_owned_filter()),
        "ec2 DescribeRouteTables"
    )? {
        out.push(ec2_named(kinds::ROUTE_TABLE, r.route_table_id(), r.tags()));
    }
    nat(c, out).await?;
    endpoints(c, out).await?;
    for g in all_items!(
        c.ec2.describe_security_groups().filters(ec2_owned_filter()),
        "ec2 DescribeSecurityGroups"
    )? {
        out.push(ec2_named(kinds::SECURITY_GROUP, g.group_id(), g.tags()));
    }
    Ok(())
}

/// NAT gateways (not deleted) and Elastic IPs carrying our tag.
async fn nat(c: &AwsClients, out: &mut Vec<SweptResource>) -> Result<(), ProviderError> {
    for g in all_items!(
        c.ec2.describe_nat_gateways().filter(ec2_owned_filter()),
        "ec2 DescribeNatGateways"
    )? {
        if g.state() != Some(&aws_sdk_ec2::types::NatGatewayState::Deleted) {
            out.push(ec2_named(kinds::NAT_GATEWAY, g.nat_gateway_id(), g.tags()));
        }
    }
    let addresses = c
        .ec2
        .describe_addresses()
        .filters(ec2_owned_filter())
        .send()
        .await
        .map_err(|e| classify(e, Op::Read, "ec2 DescribeAddresses"))?;
    for a in addresses.addresses() {
        out.push(ec2_named(kinds::ELASTIC_IP, a.allocation_id(), a.tags()));
    }
    Ok(())
}

/// VPC endpoints (not deleted) carrying our tag.
async fn endpoints(c: &AwsClients, out: &mut Vec<SweptResource>) -> Result<(), ProviderError> {
    for e in all_items!(
        c.ec2.describe_vpc_endpoints().filters(ec2_owned_filter()),
        "ec2 DescribeVpcEndpoints"
    )? {
        let state = e.state().map(|s| s.as_str()).unwrap_or_default();
        if !state.eq_ignore_ascii_case("deleted") {
            out.push(ec2_named(
                kinds::VPC_ENDPOINT,
                e.vpc_endpoint_id(),
                e.tags(),
            ));
        }
    }
    Ok(())
}

/// The load balancers (ELBv2 and Classic) Kubernetes made in the VPCs listed in `earlier`
/// (those carrying our tags), as [`kinds::LOAD_BALANCER`] named by the balancer, with its
/// id (ARN, or a classic ELB's name) as id and its VPC as `parent`. Their
/// tags are the balancer's plus its VPC's ownership tags (`multicloud:stack`…), so they are
/// selected with their VPC.
async fn load_balancers(
    c: &AwsClients,
    earlier: &[SweptResource],
    out: &mut Vec<SweptResource>,
) -> Result<(), ProviderError> {
    let vpcs: BTreeMap<String, BTreeMap<String, String>> = earlier
        .iter()
        .filter(|r| super::kind_of(r) == kinds::VPC)
        .map(|r| {
            let ours = r
                .tags
                .iter()
                .filter(|(k, _)| OWNERSHIP_TAGS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (r.id.clone(), ours)
        })
        .collect();
    if vpcs.is_empty() {
        return Ok(());
    }
    for lb in find_kubernetes_load_balancers(c, |vpc| vpcs.contains_key(vpc)).await? {
        let mut tags = lb.tags;
        if let Some(ours) = vpcs.get(&lb.vpc_id) {
            tags.extend(ours.clone());
        }
        let mut r = swept(kinds::LOAD_BALANCER, &lb.name, &lb.id, tags);
        r.parent = Some(lb.vpc_id);
        out.push(r);
    }
    Ok(())
}

fn hash_tags(tags: Option<&std::collections::HashMap<String, String>>) -> BTreeMap<String, String> {
    tags.map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// EKS clusters and their node groups (with the cluster as `parent`).
async fn eks(c: &AwsClients, out: &mut Vec<SweptResource>) -> Result<(), ProviderError> {
    let names = all_items!(c.eks.list_clusters(), "eks ListClusters")?;
    for name in names {
        let described = read_or_none(
            c.eks.describe_cluster().name(&name).send().await,
            "eks DescribeCluster",
        )?;
        let Some(cluster) = described.and_then(|o| o.cluster) else {
            continue;
        };
        if cluster.status().is_some_and(|s| s.as_str() == "DELETING") {
            continue;
        }
        out.push(swept(
            ResourceKind::CLUSTER,
            &name,
            cluster.arn().unwrap_or(&name),
            hash_tags(cluster.tags()),
        ));
        let groups = none_if_not_found(all_items!(
            c.eks.list_nodegroups().cluster_name(&name),
            "eks ListNodegroups"
        ))?
        .unwrap_or_default();
        for group in groups {
            let described = read_or_none(
                c.eks
                    .describe_nodegroup()
                    .cluster_name(&name)
                    .nodegroup_name(&group)
                    .send()
                    .await,
                "eks DescribeNodegroup",
            )?;
            let Some(ng) = described.and_then(|o| o.nodegroup) else {
                continue;
            };
            if ng.status().is_some_and(|s| s.as_str() == "DELETING") {
                continue;
            }
            let mut r = swept(
                ResourceKind::NODE_POOL,
                &group,
                ng.nodegroup_arn().unwrap_or(&group),
                hash_tags(ng.tags()),
            );
            r.parent = Some(name.clone());
            out.push(r);
        }
    }
    Ok(())
}

async fn rds_tags(c: &AwsClients, arn: &str) -> Result<BTreeMap<String, String>, ProviderError> {
    let out = read_or_none(
        c.rds
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await,
        "rds ListTagsForResource",
    )?;
    Ok(out.map(|o| tag_map(o.tag_list())).unwrap_or_default())
}

/// RDS instances and DB subnet groups.
async fn rds(c: &AwsClients, out: &mut Vec<SweptResource>) -> Result<(), ProviderError> {
    let instances = all_items!(c.rds.describe_db_instances(), "rds DescribeDBInstances")?;
    for db in instances {
        let (Some(name), Some(arn)) = (db.db_instance_identifier(), db.db_instance_arn()) else {
            continue;
        };
        if db.db_instance_status() == Some("deleting") {
            continue;
        }
        let tags = if db.tag_list().is_empty() {
            rds_tags(c, arn).await?
        } else {
            tag_map(db.tag_list())
        };
        out.push(swept(ResourceKind::DATABASE, name, arn, tags));
    }
    let groups = all_items!(
        c.rds.describe_db_subnet_groups(),
        "rds DescribeDBSubnetGroups"
    )?;
    for g in groups {
        let (Some(name), Some(arn)) = (g.db_subnet_group_name(), g.db_subnet_group_arn()) else {
            continue;
        };
        if name != "default" {
            out.push(swept(
                kinds::DB_SUBNET_GROUP,
                name,
                arn,
                rds_tags(c, arn).await?,
            ));
        }
    }
    Ok(())
}

async fn elasticache_tags(
    c: &AwsClients,
    arn: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let out = read_or_none(
        c.elasticache
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await,
        "elasticache ListTagsForResource",
    )?;
    Ok(out.map(|o| tag_map(o.tag_list())).unwrap_or_default())
}

/// ElastiCache replication groups and cache subnet groups.
async fn elasticache(c: &AwsClients, out: &mut Vec<SweptResource>) -> Result<(), ProviderError> {
    let groups = all_items!(
        c.elasticache.describe_replication_groups(),
        "elasticache DescribeReplicationGroups"
    )?;
    for g in groups {
        let (Some(name), Some(arn)) = (g.replication_group_id(), g.arn()) else {
            continue;
        };
        if g.status() == Some("deleting") {
            continue;
        }
        out.push(swept(
            ResourceKind::CACHE,
            name,
            arn,
            elasticache_tags(c, arn).await?,
        ));
    }
    let subnet_groups = all_items!(
        c.elasticache.describe_cache_subnet_groups(),
        "elasticache DescribeCacheSubnetGroups"
    )?;
    for g in subnet_groups {
        let (Some(name), Some(arn)) = (g.cache_subnet_group_name(), g.arn()) else {
            continue;
        };
        if name != "default" {
            out.push(swept(
                kinds::CACHE_SUBNET_GROUP,
                name,
                arn,
                elasticache_tags(c, arn).await?,
            ));
        }
    }
    Ok(())
}

/// ECR repositories.
async fn ecr(c: &AwsClients, out: &mut Vec<SweptResource>) -> Result<(), ProviderError> {
    let repos = all_items!(c.ecr.describe_repositories(), "ecr DescribeRepositories")?;
    for repo in repos {
        let (Some(name), Some(arn)) = (repo.repository_name(), repo.repository_arn()) else {
            continue;
        };
        let listed = read_or_none(
            c.ecr
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await,
            "ecr ListTagsForResource",
        )?;
        let tags = listed.map(|o| tag_map(o.tags())).unwrap_or_default();
        out.push(swept(ResourceKind::REGISTRY, name, arn, tags));
    }
    Ok(())
}

/// Secrets Manager secrets with our tag key (secrets already scheduled for deletion are not
/// listed).
async fn secrets(c: &AwsClients, out: &mut Vec<SweptResource>) -> Result<(), ProviderError> {
    use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
    let filter = Filter::builder()
        .key(FilterNameStringType::TagKey)
        .values(TAG_STACK)
        .build();
    let pages = c
        .secrets
        .list_secrets()
        .filters(filter)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| classify(e, Op::Read, "secretsmanager ListSecrets"))?;
    for s in pages.iter().flat_map(|p| p.secret_list()) {
        let (Some(name), Some(arn)) = (s.name(), s.arn()) else {
            continue;
        };
        let tags = tag_map(s.tags());
        out.push(swept(ResourceKind::SECRET, name, arn, tags));
    }
    Ok(())
}

/// The kind of a role, told from its trust policy: EKS → cluster role, EC2 → node role,
/// a federated web identity → workload identity.
fn role_kind(trust: Option<&str>) -> ResourceKind {
    let doc = trust
        .and_then(|d| decode_policy_document(d).ok())
        .map(|d| d.to_string());
    match doc {
        Some(d) if d.contains("eks.amazonaws.com") => kinds::CLUSTER_ROLE,
        Some(d) if d.contains("ec2.amazonaws.com") => kinds::NODE_ROLE,
        _ => ResourceKind::WORKLOAD_IDENTITY,
    }
}

/// IAM roles (outside the service-linked and SSO paths) and OIDC providers.
async fn iam(c: &AwsClients, out: &mut Vec<SweptResource>) -> Result<(), ProviderError> {
    let roles = all_items!(c.iam.list_roles(), "iam ListRoles")?;
    for role in roles {
        if role.path().starts_with("/aws-service-role/")
            || role.path().starts_with("/aws-reserved/")
        {
            continue;
        }
        let Some(tags) = none_if_not_found(role_tags(c, role.role_name()).await)? else {
            continue;
        };
        if tags.contains_key(TAG_STACK) {
            let kind = role_kind(role.assume_role_policy_document());
            out.push(swept(kind, role.role_name(), role.arn(), tags));
        }
    }
    for arn in list_provider_arns(c).await? {
        if let Some(p) = get_provider(c, &arn).await? {
            out.push(swept(kinds::OIDC_PROVIDER, &p.url, &arn, p.tags));
        }
    }
    Ok(())
}
