//! Network interfaces left behind in the VPC by Kubernetes: the VPC CNI's secondary
//! interfaces (`aws-K8S-*`) that outlive their node, and the interfaces of load balancers
//! once the balancer is deleted. They block deleting subnets, security groups and the VPC.
//!
//! Interfaces still held by a live load balancer are requester-managed and cannot be removed
//! here: they go with the balancer, which Kubernetes deletes with its `LoadBalancer` Service
//! (deleted before the network), or else the network deletion or the sweeper removes (see
//! [`load_balancers`](super::load_balancers)).

use aws_sdk_ec2::types::{NetworkInterface, NetworkInterfaceStatus};
use multicloud_core::{ErrorKind, ProviderError};

use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::support::{all_items, deleted, none_if_not_found, ok_if_not_found};
use crate::tagging::ec2_filter;

/// The description prefix of the VPC CNI's interfaces.
const CNI_PREFIX: &str = "aws-K8S-";

/// Interfaces matching EC2 filter `filter` = `value` (`vpc-id`, `subnet-id`, `group-id`).
pub(crate) async fn list_enis(
    c: &AwsClients,
    filter: &str,
    value: &str,
) -> Result<Vec<NetworkInterface>, ProviderError> {
    none_if_not_found(all_items!(
        c.ec2
            .describe_network_interfaces()
            .filters(ec2_filter(filter, value)),
        "ec2 DescribeNetworkInterfaces"
    ))
    .map(Option::unwrap_or_default)
}

/// Deletes the interfaces matching `filter` = `value` that are `available`, and force-detaches
/// the VPC CNI's interfaces still attached (their node is gone or going: the node groups are
/// deleted before the network). A detached interface takes a moment to become `available`:
/// the call then answers a retryable [`ErrorKind::DependencyViolation`] and the next attempt
/// deletes it.
pub(crate) async fn delete_leftover_enis(
    c: &AwsClients,
    filter: &str,
    value: &str,
) -> Result<(), ProviderError> {
    let mut detaching = Vec::new();
    for eni in list_enis(c, filter, value).await? {
        let Some(eni_id) = eni.network_interface_id() else {
            continue;
        };
        match eni.status() {
            Some(NetworkInterfaceStatus::Available) => delete_eni(c, eni_id).await?,
            Some(NetworkInterfaceStatus::InUse)
                if eni.description().is_some_and(|d| d.starts_with(CNI_PREFIX))
                    && eni.requester_managed() != Some(true) =>
            {
                if let Some(attachment) = eni.attachment().and_then(|a| a.attachment_id()) {
                    deleted(
                        c.ec2
                            .detach_network_interface()
                            .attachment_id(attachment)
                            .force(true)
                            .send()
                            .await,
                        "ec2 DetachNetworkInterface",
                    )?;
                    detaching.push(eni_id.to_string());
                }
            }
            _ => {}
        }
    }
    if detaching.is_empty() {
        Ok(())
    } else {
        Err(ProviderError::new(
            ErrorKind::DependencyViolation,
            format!(
                "detaching leftover network interfaces {}; retry",
                detaching.join(", ")
            ),
        )
        .with_code("DependencyViolation"))
    }
}

async fn delete_eni(c: &AwsClients, eni_id: &str) -> Result<(), ProviderError> {
    let r = c
        .ec2
        .delete_network_interface()
        .network_interface_id(eni_id)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify(e, Op::Delete, "ec2 DeleteNetworkInterface"));
    match ok_if_not_found(r) {
        // Attached again or still detaching: wait and retry.
        Err(e) if e.code() == Some("InvalidNetworkInterface.InUse") => Err(ProviderError::new(
            ErrorKind::DependencyViolation,
            format!(
                "network interface {eni_id} is still in use: {}",
                e.message()
            ),
        )
        .with_code("InvalidNetworkInterface.InUse")),
        r => r,
    }
}
