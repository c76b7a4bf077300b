//! Security groups Kubernetes created in the VPC: the in-tree cloud provider's
//! `k8s-elb-<lb-name>` groups of Classic ELBs (tagged `kubernetes.io/cluster/<cluster>` =
//! `owned`) and the AWS Load Balancer Controller's `k8s-<ns>-<name>-<hash>` and
//! `k8s-traffic-<cluster>-<hash>` groups (tagged `elbv2.k8s.aws/cluster` = `<cluster>`).
//! Left behind, they keep the VPC from being deleted; rules of other groups referencing them
//! (the cluster's and nodes' groups allow traffic from the balancers' groups) keep them from
//! being deleted.
//!
//! So, after the load balancers are gone, each such group has every rule of the VPC's other
//! groups that references it revoked, then its own rules, and is deleted. A group still used
//! (by a balancer's interface being released) answers `DependencyViolation`, retryable.

use aws_sdk_ec2::types::{IpPermission, SecurityGroup, UserIdGroupPair};
use multicloud_core::ProviderError;

use super::load_balancers::{K8S_CLUSTER_TAG_PREFIX, LBC_CLUSTER_TAG, made_by_kubernetes};
use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::support::{deleted, none_if_not_found, ok_if_not_found};
use crate::tagging::{ec2_filter, ec2_tag_map};

/// The security groups of VPC `vpc_id`, narrowed by `tag_keys` (any of them) when given.
async fn list_groups(
    c: &AwsClients,
    vpc_id: &str,
    tag_keys: Option<&[String]>,
) -> Result<Vec<SecurityGroup>, ProviderError> {
    let mut req = c
        .ec2
        .describe_security_groups()
        .filters(ec2_filter("vpc-id", vpc_id));
    if let Some(keys) = tag_keys {
        req = req.filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag-key")
                .set_values(Some(keys.to_vec()))
                .build(),
        );
    }
    let pages = req.into_paginator().items().send().try_collect().await;
    none_if_not_found(pages.map_err(|e| classify(e, Op::Read, "ec2 DescribeSecurityGroups")))
        .map(Option::unwrap_or_default)
}

/// The rules of `perms` that reference group `group_id`, narrowed to that reference (the
/// rule's other sources stay).
fn referencing(perms: &[IpPermission], group_id: &str) -> Vec<IpPermission> {
    perms
        .iter()
        .filter(|p| {
            p.user_id_group_pairs()
                .iter()
                .any(|u| u.group_id() == Some(group_id))
        })
        .map(|p| {
            IpPermission::builder()
                .set_ip_protocol(p.ip_protocol().map(str::to_string))
                .set_from_port(p.from_port())
                .set_to_port(p.to_port())
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(group_id).build())
                .build()
        })
        .collect()
}

/// Revokes `perms` from group `group_id` (ingress, or egress when `egress`). A missing group
/// or rule is not an error.
async fn revoke(
    c: &AwsClients,
    group_id: &str,
    perms: Vec<IpPermission>,
    egress: bool,
) -> Result<(), ProviderError> {
    if perms.is_empty() {
        return Ok(());
    }
    let r = if egress {
        c.ec2
            .revoke_security_group_egress()
            .group_id(group_id)
            .set_ip_permissions(Some(perms))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, Op::Delete, "ec2 RevokeSecurityGroupEgress"))
    } else {
        c.ec2
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(perms))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, Op::Delete, "ec2 RevokeSecurityGroupIngress"))
    };
    ok_if_not_found(r)
}

/// Deletes the security groups Kubernetes made for `cluster_name` (for any cluster when
/// `None`) in VPC `vpc_id`, after revoking the rules of the VPC's other groups that reference
/// them and their own rules. Returns how many groups were deleted.
pub(crate) async fn delete_kubernetes_security_groups(
    clients: &AwsClients,
    vpc_id: &str,
    cluster_name: Option<&str>,
) -> Result<usize, ProviderError> {
    let keys = vec![
        match cluster_name {
            Some(name) => format!("{K8S_CLUSTER_TAG_PREFIX}{name}"),
            None => format!("{K8S_CLUSTER_TAG_PREFIX}*"),
        },
        LBC_CLUSTER_TAG.to_string(),
    ];
    let selected: Vec<SecurityGroup> = list_groups(clients, vpc_id, Some(&keys))
        .await?
        .into_iter()
        .filter(|g| {
            g.vpc_id() == Some(vpc_id) && made_by_kubernetes(&ec2_tag_map(g.tags()), cluster_name)
        })
        .collect();
    if selected.is_empty() {
        return Ok(0);
    }
    let all = list_groups(clients, vpc_id, None).await?;
    for group in &selected {
        let Some(group_id) = group.group_id() else {
            continue;
        };
        tracing::info!(
            group = %group_id,
            name = group.group_name().unwrap_or_default(),
            vpc = %vpc_id,
            "deleting a security group Kubernetes left in the VPC"
        );
        for other in all.iter().filter(|o| o.group_id() != Some(group_id)) {
            let Some(other_id) = other.group_id() else {
                continue;
            };
            revoke(
                clients,
                other_id,
                referencing(other.ip_permissions(), group_id),
                false,
            )
            .await?;
            revoke(
                clients,
                other_id,
                referencing(other.ip_permissions_egress(), group_id),
                true,
            )
            .await?;
        }
        revoke(clients, group_id, group.ip_permissions().to_vec(), false).await?;
        revoke(
            clients,
            group_id,
            group.ip_permissions_egress().to_vec(),
            true,
        )
        .await?;
        deleted(
            clients
                .ec2
                .delete_security_group()
                .group_id(group_id)
                .send()
                .await,
            "ec2 DeleteSecurityGroup",
        )?;
    }
    Ok(selected.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_reference_to_the_group_is_revoked() {
        let perms = vec![
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(80)
                .to_port(80)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-k8s").build())
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-other").build())
                .build(),
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-other").build())
                .build(),
        ];
        let r = referencing(&perms, "sg-k8s");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].from_port(), Some(80));
        assert_eq!(r[0].user_id_group_pairs().len(), 1);
        assert_eq!(r[0].user_id_group_pairs()[0].group_id(), Some("sg-k8s"));
    }
}
