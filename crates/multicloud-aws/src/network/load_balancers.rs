//! Load balancers Kubernetes created in the VPC — ELBv2 (NLBs and ALBs) with their target
//! groups, and Classic ELBs ([`classic_elb`](super::classic_elb)). A balancer's network interfaces keep its subnets from being deleted, and an
//! internet-facing balancer's public addresses keep the internet gateway from being
//! detached; a balancer the cluster did not delete (its `LoadBalancer` Service or Ingress was
//! not deleted before the cluster, or the controller was gone) would block the network
//! teardown for good. So the network deletion removes them first:
//!
//! - deleting a subnet removes the cluster's balancers with an interface in it, and deleting
//!   the internet gateway the cluster's internet-facing balancers in its VPC — but only once
//!   the EKS cluster is gone or being deleted: the balancers of a running cluster belong to
//!   its Services, and deleting the subnet is refused (a retryable `DependencyViolation`
//!   naming them) until Kubernetes removes them;
//! - deleting the VPC removes every balancer of the cluster left in it, then the cluster's
//!   target groups in it that no remaining balancer uses;
//! - the [`Sweeper`](crate::sweeper::Sweeper) does the same in the VPCs it sweeps, for any
//!   cluster.
//!
//! Both APIs' balancers are listed as [`Candidate`]s and go through the same selection (scope,
//! tags, cluster guard); only listing, tag reading and the delete call differ by API.
//!
//! A balancer (or target group) belongs to cluster `<name>` when it carries
//! `kubernetes.io/cluster/<name>` = `owned` (the in-tree cloud provider) or
//! `elbv2.k8s.aws/cluster` = `<name>` (the AWS Load Balancer Controller); without a cluster
//! name, any `kubernetes.io/cluster/*` or `elbv2.k8s.aws/cluster` key will do.
//!
//! Deleting a balancer deletes its listeners and rules. A target group still referenced by a
//! listener (AWS takes a moment after the balancer's deletion) answers `ResourceInUse`, a
//! retryable `DependencyViolation`; so does the subnet or VPC deletion while the balancer's
//! interfaces are being released. A balancer with deletion protection on is not forced: its
//! deletion fails with AWS's `OperationNotPermitted`.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_eks::types::ClusterStatus;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancer, LoadBalancerSchemeEnum};
use multicloud_core::{ErrorKind, ProviderError};

use super::classic_elb;
use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::support::{all_items, deleted, none_if_not_found, ok_if_not_found, read_or_none};

/// The prefix of the in-tree cloud provider's cluster tag, `kubernetes.io/cluster/<name>`.
pub(crate) const K8S_CLUSTER_TAG_PREFIX: &str = "kubernetes.io/cluster/";
/// The AWS Load Balancer Controller's cluster tag (value: the cluster name).
pub(crate) const LBC_CLUSTER_TAG: &str = "elbv2.k8s.aws/cluster";
/// The most resources `DescribeTags` takes per call.
const TAGS_PER_CALL: usize = 20;

/// The API a load balancer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `elasticloadbalancingv2` (NLB, ALB): named by its ARN.
    V2,
    /// `elasticloadbalancing` (Classic ELB): named by its name.
    Classic,
}

impl Api {
    /// The API of the load balancer `id` names: an ARN is ELBv2's, a bare name a classic
    /// ELB's (whose names hold only letters, digits and hyphens).
    pub(crate) fn of_id(id: &str) -> Self {
        if id.starts_with("arn:") {
            Api::V2
        } else {
            Api::Classic
        }
    }
}

/// A load balancer of either API, as the selection sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// Its API.
    pub api: Api,
    /// What its API's calls take: the ARN (ELBv2) or the name (Classic).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its VPC.
    pub vpc_id: Option<String>,
    /// The subnets it has an interface in.
    pub subnets: Vec<String>,
    /// Whether it is internet-facing (holds public addresses).
    pub internet_facing: bool,
}

impl Candidate {
    /// An ELBv2 load balancer as the selection sees it; `None` without an ARN.
    fn from_v2(lb: &LoadBalancer) -> Option<Self> {
        let arn = lb.load_balancer_arn()?.to_string();
        Some(Self {
            api: Api::V2,
            name: lb.load_balancer_name().unwrap_or(&arn).to_string(),
            id: arn,
            vpc_id: lb.vpc_id().map(str::to_string),
            subnets: lb
                .availability_zones()
                .iter()
                .filter_map(|z| z.subnet_id().map(str::to_string))
                .collect(),
            internet_facing: lb.scheme() == Some(&LoadBalancerSchemeEnum::InternetFacing),
        })
    }
}

/// Which load balancers a deletion looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    /// Every one in the VPC.
    Vpc(&'a str),
    /// Those with an interface in the subnet.
    Subnet(&'a str),
    /// The internet-facing ones in the VPC (they hold public addresses).
    InternetFacing(&'a str),
}

impl Scope<'_> {
    fn holds(&self, lb: &Candidate) -> bool {
        match *self {
            Scope::Vpc(vpc) => lb.vpc_id.as_deref() == Some(vpc),
            Scope::Subnet(subnet) => lb.subnets.iter().any(|s| s == subnet),
            Scope::InternetFacing(vpc) => lb.vpc_id.as_deref() == Some(vpc) && lb.internet_facing,
        }
    }

    fn describe(&self) -> String {
        match *self {
            Scope::Vpc(vpc) => format!("VPC {vpc}"),
            Scope::Subnet(subnet) => format!("subnet {subnet}"),
            Scope::InternetFacing(vpc) => format!("the internet gateway of VPC {vpc}"),
        }
    }
}

/// Whether a load balancer or target group carrying `tags` was made by Kubernetes for
/// `cluster` (for any cluster when `None`).
pub(crate) fn made_by_kubernetes(tags: &BTreeMap<String, String>, cluster: Option<&str>) -> bool {
    match cluster {
        Some(name) => {
            tags.get(&format!("{K8S_CLUSTER_TAG_PREFIX}{name}"))
                .is_some_and(|v| v == "owned")
                || tags.get(LBC_CLUSTER_TAG).is_some_and(|v| v == name)
        }
        None => {
            tags.keys().any(|k| {
                k.strip_prefix(K8S_CLUSTER_TAG_PREFIX)
                    .is_some_and(|name| !name.is_empty())
            }) || tags.contains_key(LBC_CLUSTER_TAG)
        }
    }
}

/// A load balancer (ELBv2 or Classic) Kubernetes made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KubernetesLoadBalancer {
    /// Its name.
    pub name: String,
    /// Its ARN (ELBv2) or name (Classic): what [`delete_load_balancer`] takes.
    pub id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// Every load balancer of the region, of both APIs.
async fn list_load_balancers(c: &AwsClients) -> Result<Vec<Candidate>, ProviderError> {
    let v2: Vec<LoadBalancer> = all_items!(
        c.elb.describe_load_balancers(),
        "elbv2 DescribeLoadBalancers"
    )?;
    let mut all: Vec<Candidate> = v2.iter().filter_map(Candidate::from_v2).collect();
    all.extend(classic_elb::list(c).await?);
    Ok(all)
}

/// The tags of `ids` (ARNs of ELBv2 load balancers or target groups, or names of classic
/// ELBs), at most [`TAGS_PER_CALL`].
async fn describe_tags(
    c: &AwsClients,
    api: Api,
    ids: &[String],
) -> Result<Vec<(String, BTreeMap<String, String>)>, ProviderError> {
    if api == Api::Classic {
        return classic_elb::describe_tags(c, ids).await;
    }
    let out = c
        .elb
        .describe_tags()
        .set_resource_arns(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| classify(e, Op::Read, "elbv2 DescribeTags"))?;
    Ok(out
        .tag_descriptions()
        .iter()
        .filter_map(|d| {
            Some((
                d.resource_arn()?.to_string(),
                crate::support::tag_map(d.tags()),
            ))
        })
        .collect())
}

/// The tags of `ids` (of `api`: see [`describe_tags`]), [`TAGS_PER_CALL`] per call. Those
/// deleted since they were listed are left out.
async fn tags_of(
    c: &AwsClients,
    api: Api,
    ids: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, ProviderError> {
    let mut all = BTreeMap::new();
    for chunk in ids.chunks(TAGS_PER_CALL) {
        match none_if_not_found(describe_tags(c, api, chunk).await)? {
            Some(found) => all.extend(found),
            // One of them is gone, which fails the whole call: ask one by one.
            None => {
                for id in chunk {
                    if let Some(found) =
                        none_if_not_found(describe_tags(c, api, std::slice::from_ref(id)).await)?
                    {
                        all.extend(found);
                    }
                }
            }
        }
    }
    Ok(all)
}

/// The load balancers (of both APIs) `keep` selects that Kubernetes made for `cluster` (any
/// cluster when `None`), and the ids of every load balancer listed.
async fn find(
    c: &AwsClients,
    keep: impl Fn(&Candidate) -> bool,
    cluster: Option<&str>,
) -> Result<(Vec<KubernetesLoadBalancer>, BTreeSet<String>), ProviderError> {
    let all = list_load_balancers(c).await?;
    let listed: BTreeSet<String> = all.iter().map(|lb| lb.id.clone()).collect();
    let candidates: Vec<&Candidate> = all.iter().filter(|lb| keep(lb)).collect();
    let mut tags = BTreeMap::new();
    for api in [Api::V2, Api::Classic] {
        let ids: Vec<String> = candidates
            .iter()
            .filter(|lb| lb.api == api)
            .map(|lb| lb.id.clone())
            .collect();
        if !ids.is_empty() {
            tags.extend(tags_of(c, api, &ids).await?);
        }
    }
    let found = candidates
        .into_iter()
        .filter_map(|lb| {
            let tags = tags.remove(&lb.id)?;
            made_by_kubernetes(&tags, cluster).then(|| KubernetesLoadBalancer {
                name: lb.name.clone(),
                id: lb.id.clone(),
                vpc_id: lb.vpc_id.clone().unwrap_or_default(),
                tags,
            })
        })
        .collect();
    Ok((found, listed))
}

/// The load balancers Kubernetes made (for any cluster) in the VPCs `in_vpc` selects.
pub(crate) async fn find_kubernetes_load_balancers(
    c: &AwsClients,
    in_vpc: impl Fn(&str) -> bool,
) -> Result<Vec<KubernetesLoadBalancer>, ProviderError> {
    let (found, _) = find(c, |lb| lb.vpc_id.as_deref().is_some_and(&in_vpc), None).await?;
    Ok(found)
}

/// Deletes load balancer `id`: an ELBv2 one by its ARN (with its listeners and rules) or a
/// classic ELB by its name (see [`Api::of_id`]). A missing one is deleted.
pub(crate) async fn delete_load_balancer(c: &AwsClients, id: &str) -> Result<(), ProviderError> {
    ok_if_not_found(match Api::of_id(id) {
        Api::Classic => classic_elb::delete(c, id).await,
        Api::V2 => c
            .elb
            .delete_load_balancer()
            .load_balancer_arn(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, Op::Delete, "elbv2 DeleteLoadBalancer")),
    })
}

async fn delete_all(
    c: &AwsClients,
    found: &[KubernetesLoadBalancer],
    scope: Scope<'_>,
) -> Result<(), ProviderError> {
    for lb in found {
        tracing::info!(
            load_balancer = %lb.name,
            vpc = %lb.vpc_id,
            "deleting a load balancer Kubernetes left in {}",
            scope.describe()
        );
        delete_load_balancer(c, &lb.id).await?;
    }
    Ok(())
}

/// Deletes the load balancers (ELBv2 and Classic) Kubernetes made for `cluster` (for any
/// cluster when `None`) in VPC `vpc_id`, then the cluster's target groups in the VPC that no
/// remaining load balancer uses. Returns how many load balancers were deleted.
pub(crate) async fn delete_cluster_load_balancers(
    clients: &AwsClients,
    vpc_id: &str,
    cluster_name: Option<&str>,
) -> Result<usize, ProviderError> {
    let scope = Scope::Vpc(vpc_id);
    let (found, listed) = find(clients, |lb| scope.holds(lb), cluster_name).await?;
    delete_all(clients, &found, scope).await?;
    let deleted: BTreeSet<&str> = found.iter().map(|lb| lb.id.as_str()).collect();
    let remaining: BTreeSet<&str> = listed
        .iter()
        .map(String::as_str)
        .filter(|arn| !deleted.contains(arn))
        .collect();
    delete_cluster_target_groups(clients, vpc_id, cluster_name, &remaining).await?;
    Ok(found.len())
}

/// Deletes the target groups Kubernetes made for `cluster` in VPC `vpc_id`, except those a
/// load balancer of `remaining` uses. A target group whose listener is still being removed
/// answers `ResourceInUse`: a retryable error.
async fn delete_cluster_target_groups(
    c: &AwsClients,
    vpc_id: &str,
    cluster: Option<&str>,
    remaining: &BTreeSet<&str>,
) -> Result<(), ProviderError> {
    let groups = all_items!(c.elb.describe_target_groups(), "elbv2 DescribeTargetGroups")?;
    let candidates: Vec<_> = groups
        .iter()
        .filter(|tg| tg.vpc_id() == Some(vpc_id))
        .filter(|tg| {
            !tg.load_balancer_arns()
                .iter()
                .any(|lb| remaining.contains(lb.as_str()))
        })
        .filter_map(|tg| {
            Some((
                tg.target_group_arn()?.to_string(),
                tg.target_group_name().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    let arns: Vec<String> = candidates.iter().map(|(arn, _)| arn.clone()).collect();
    let tags = tags_of(c, Api::V2, &arns).await?;
    for (arn, name) in &candidates {
        if !tags
            .get(arn)
            .is_some_and(|t| made_by_kubernetes(t, cluster))
        {
            continue;
        }
        tracing::info!(target_group = %name, vpc = %vpc_id, "deleting a target group Kubernetes left in the VPC");
        deleted(
            c.elb
                .delete_target_group()
                .target_group_arn(arn)
                .send()
                .await,
            "elbv2 DeleteTargetGroup",
        )?;
    }
    Ok(())
}

/// Whether EKS cluster `name` exists and is neither being deleted nor failed.
async fn cluster_is_running(c: &AwsClients, name: &str) -> Result<bool, ProviderError> {
    let out = read_or_none(
        c.eks.describe_cluster().name(name).send().await,
        "eks DescribeCluster",
    )?;
    Ok(out.and_then(|o| o.cluster).is_some_and(|cluster| {
        !matches!(
            cluster.status(),
            Some(ClusterStatus::Deleting | ClusterStatus::Failed)
        )
    }))
}

/// Deletes the load balancers (ELBv2 and Classic) Kubernetes made for `cluster` that `scope`
/// (a subnet, or the
/// internet-facing ones of a VPC) selects, once the cluster is gone or being deleted. While
/// it runs, they are its Services': a retryable
/// [`ErrorKind::DependencyViolation`] names them. Returns how many were deleted.
pub(crate) async fn delete_orphaned_load_balancers(
    clients: &AwsClients,
    scope: Scope<'_>,
    cluster: &str,
) -> Result<usize, ProviderError> {
    let (found, _) = find(clients, |lb| scope.holds(lb), Some(cluster)).await?;
    if found.is_empty() {
        return Ok(0);
    }
    if cluster_is_running(clients, cluster).await? {
        let names: Vec<&str> = found.iter().map(|lb| lb.name.as_str()).collect();
        return Err(ProviderError::new(
            ErrorKind::DependencyViolation,
            format!(
                "{} is used by load balancer(s) {} of EKS cluster `{cluster}`, which is still \
                 running: delete their Kubernetes `LoadBalancer` Services and Ingresses first",
                scope.describe(),
                names.join(", ")
            ),
        )
        .with_code("DependencyViolation"));
    }
    delete_all(clients, &found, scope).await?;
    Ok(found.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::support::tag_map as tags;

    #[test]
    fn the_cluster_tags_select_what_kubernetes_made() {
        let in_tree = tags(&[("kubernetes.io/cluster/shop-dev", "owned")]);
        let controller = tags(&[(LBC_CLUSTER_TAG, "shop-dev")]);
        let shared = tags(&[("kubernetes.io/cluster/shop-dev", "shared")]);
        let other = tags(&[("kubernetes.io/cluster/other", "owned")]);
        let none = tags(&[("Name", "x")]);
        assert!(made_by_kubernetes(&in_tree, Some("shop-dev")));
        assert!(made_by_kubernetes(&controller, Some("shop-dev")));
        assert!(!made_by_kubernetes(&shared, Some("shop-dev")));
        assert!(!made_by_kubernetes(&other, Some("shop-dev")));
        assert!(!made_by_kubernetes(&controller, Some("shop")));
        assert!(!made_by_kubernetes(&none, Some("shop-dev")));
        for t in [&in_tree, &controller, &shared, &other] {
            assert!(made_by_kubernetes(t, None), "{t:?}");
        }
        assert!(!made_by_kubernetes(&none, None));
        assert!(!made_by_kubernetes(
            &tags(&[("kubernetes.io/cluster/", "owned")]),
            None
        ));
    }

    #[test]
    fn scopes_select_by_vpc_subnet_and_scheme() {
        use aws_sdk_elasticloadbalancingv2::types::AvailabilityZone;
        let lb = |scheme: LoadBalancerSchemeEnum| {
            Candidate::from_v2(
                &LoadBalancer::builder()
                    .load_balancer_arn(
                        "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/a/1",
                    )
                    .vpc_id("vpc-1")
                    .scheme(scheme)
                    .availability_zones(AvailabilityZone::builder().subnet_id("subnet-a").build())
                    .build(),
            )
            .expect("an ARN")
        };
        let public = lb(LoadBalancerSchemeEnum::InternetFacing);
        let internal = lb(LoadBalancerSchemeEnum::Internal);
        assert_eq!(public.api, Api::V2);
        assert_eq!(public.name, public.id, "named by its ARN without a name");
        assert!(Scope::Vpc("vpc-1").holds(&internal));
        assert!(!Scope::Vpc("vpc-2").holds(&internal));
        assert!(Scope::Subnet("subnet-a").holds(&internal));
        assert!(!Scope::Subnet("subnet-b").holds(&internal));
        assert!(Scope::InternetFacing("vpc-1").holds(&public));
        assert!(!Scope::InternetFacing("vpc-1").holds(&internal));
        // A classic ELB goes through the same scopes.
        let classic = Candidate {
            api: Api::Classic,
            id: "a1b2".into(),
            name: "a1b2".into(),
            vpc_id: Some("vpc-1".into()),
            subnets: vec!["subnet-a".into()],
            internet_facing: true,
        };
        assert!(Scope::Vpc("vpc-1").holds(&classic));
        assert!(Scope::Subnet("subnet-a").holds(&classic));
        assert!(!Scope::Subnet("subnet-b").holds(&classic));
        assert!(Scope::InternetFacing("vpc-1").holds(&classic));
        assert!(!Scope::InternetFacing("vpc-2").holds(&classic));
    }

    #[test]
    fn an_id_names_its_api() {
        assert_eq!(
            Api::of_id("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/x/1"),
            Api::V2
        );
        assert_eq!(Api::of_id("a1b2c3d4e5f6"), Api::Classic);
    }
}

crate::support::kind_ops! {
    /// The load balancers Kubernetes left behind ([`kinds::LOAD_BALANCER`](crate::kinds::LOAD_BALANCER)):
    /// never in a plan, so only the sweeper deletes them one by one (by id: an ELBv2 ARN or
    /// a classic ELB name).
    LeftoverLoadBalancer;
}

crate::support::sweep_with!(LeftoverLoadBalancer => delete_load_balancer(id));
