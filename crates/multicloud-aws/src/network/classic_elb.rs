//! Classic ELBs (the `elasticloadbalancing` v1 API): what the in-tree Kubernetes cloud
//! provider creates for a plain `type: LoadBalancer` Service (tagged
//! `kubernetes.io/cluster/<cluster>` = `owned` and `kubernetes.io/service-name` =
//! `<namespace>/<name>`). Only the calls live here: listing them as [`Candidate`]s, reading
//! their tags and deleting one. Which of them are deleted, and when, is decided with the
//! ELBv2 ones in [`load_balancers`](super::load_balancers).
//!
//! A classic ELB is named, not ARN'd: its [`Candidate::id`] is its name. It has no listeners
//! or target groups of its own to clean up; deleting it releases its interfaces (AWS takes
//! a moment, during which the subnet deletion answers a retryable `DependencyViolation`).

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancing::types::LoadBalancerDescription;
use multicloud_core::ProviderError;

use super::load_balancers::{Api, Candidate};
use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::support::all_items;

/// The `Scheme` of an internet-facing classic ELB.
const INTERNET_FACING: &str = "internet-facing";

impl Candidate {
    /// A classic ELB as the selection sees it; `None` without a name.
    pub(super) fn from_classic(lb: &LoadBalancerDescription) -> Option<Self> {
        let name = lb.load_balancer_name()?.to_string();
        Some(Self {
            api: Api::Classic,
            id: name.clone(),
            name,
            vpc_id: lb.vpc_id().map(str::to_string),
            subnets: lb.subnets().to_vec(),
            internet_facing: lb.scheme() == Some(INTERNET_FACING),
        })
    }
}

/// Every classic ELB of the region.
pub(super) async fn list(c: &AwsClients) -> Result<Vec<Candidate>, ProviderError> {
    let all: Vec<LoadBalancerDescription> = all_items!(
        c.elb_classic.describe_load_balancers(),
        "elb DescribeLoadBalancers"
    )?;
    Ok(all.iter().filter_map(Candidate::from_classic).collect())
}

/// The tags of the classic ELBs `names` (at most 20); one of them missing fails the call
/// with `LoadBalancerNotFound`.
pub(super) async fn describe_tags(
    c: &AwsClients,
    names: &[String],
) -> Result<Vec<(String, BTreeMap<String, String>)>, ProviderError> {
    let out = c
        .elb_classic
        .describe_tags()
        .set_load_balancer_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(|e| classify(e, Op::Read, "elb DescribeTags"))?;
    Ok(out
        .tag_descriptions()
        .iter()
        .filter_map(|d| {
            Some((
                d.load_balancer_name()?.to_string(),
                crate::support::tag_map(d.tags()),
            ))
        })
        .collect())
}

/// Deletes classic ELB `name` (AWS answers success for a missing one; the caller also takes
/// `LoadBalancerNotFound`/`AccessPointNotFound` as success).
pub(super) async fn delete(c: &AwsClients, name: &str) -> Result<(), ProviderError> {
    c.elb_classic
        .delete_load_balancer()
        .load_balancer_name(name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify(e, Op::Delete, "elb DeleteLoadBalancer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_classic_elb_is_a_candidate_named_by_its_name() {
        let lb = LoadBalancerDescription::builder()
            .load_balancer_name("a1b2c3")
            .vpc_id("vpc-1")
            .subnets("subnet-a")
            .subnets("subnet-b")
            .scheme(INTERNET_FACING)
            .build();
        let c = Candidate::from_classic(&lb).expect("named");
        assert_eq!(c.api, Api::Classic);
        assert_eq!(c.id, "a1b2c3");
        assert_eq!(c.name, "a1b2c3");
        assert_eq!(c.vpc_id.as_deref(), Some("vpc-1"));
        assert_eq!(c.subnets, ["subnet-a", "subnet-b"]);
        assert!(c.internet_facing);
        let internal = LoadBalancerDescription::builder()
            .load_balancer_name("x")
            .scheme("internal")
            .build();
        assert!(
            !Candidate::from_classic(&internal)
                .expect("named")
                .internet_facing
        );
        assert!(Candidate::from_classic(&LoadBalancerDescription::builder().build()).is_none());
    }
}
