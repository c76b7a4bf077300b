//! The kinds of the AWS provider: its own (VPC, subnets, roles, subnet groups…) and the
//! cloud-neutral ones it implements, with their families, typical durations (after
//! `STACK-GRAPH.md`) and wait timeouts.

use std::sync::OnceLock;
use std::time::Duration;

use multicloud_core::kind::{KindDef, NEUTRAL_CLOUD_KINDS, ResourceKind, ServiceFamily};

/// A VPC.
pub const VPC: ResourceKind = ResourceKind::new("vpc");
/// A subnet.
pub const SUBNET: ResourceKind = ResourceKind::new("subnet");
/// An internet gateway, attached to the VPC.
pub const INTERNET_GATEWAY: ResourceKind = ResourceKind::new("internet_gateway");
/// A route table with its routes and subnet associations.
pub const ROUTE_TABLE: ResourceKind = ResourceKind::new("route_table");
/// A security group with its rules.
pub const SECURITY_GROUP: ResourceKind = ResourceKind::new("security_group");
/// The IAM role the EKS control plane assumes.
pub const CLUSTER_ROLE: ResourceKind = ResourceKind::new("cluster_role");
/// The IAM role the worker nodes assume.
pub const NODE_ROLE: ResourceKind = ResourceKind::new("node_role");
/// The cluster's IAM OIDC identity provider.
pub const OIDC_PROVIDER: ResourceKind = ResourceKind::new("oidc_provider");
/// An RDS DB subnet group.
pub const DB_SUBNET_GROUP: ResourceKind = ResourceKind::new("db_subnet_group");
/// An ElastiCache cache subnet group.
pub const CACHE_SUBNET_GROUP: ResourceKind = ResourceKind::new("cache_subnet_group");
/// A load balancer Kubernetes made for a `LoadBalancer` Service (never in a plan: the
/// sweeper finds them by their cluster tags).
pub const LOAD_BALANCER: ResourceKind = ResourceKind::new("load_balancer");

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The AWS provider's own kinds, with their families and durations.
pub const OWN: &[KindDef] = &[
    KindDef::new(VPC, ServiceFamily::Network).expected(secs(5)),
    KindDef::new(SUBNET, ServiceFamily::Network).expected(secs(3)),
    KindDef::new(INTERNET_GATEWAY, ServiceFamily::Network).expected(secs(3)),
    KindDef::new(ROUTE_TABLE, ServiceFamily::Network).expected(secs(3)),
    KindDef::new(SECURITY_GROUP, ServiceFamily::Network).expected(secs(3)),
    KindDef::new(CLUSTER_ROLE, ServiceFamily::Identity).expected(secs(10)),
    KindDef::new(NODE_ROLE, ServiceFamily::Identity).expected(secs(10)),
    KindDef::new(OIDC_PROVIDER, ServiceFamily::Identity).expected(secs(5)),
    KindDef::new(DB_SUBNET_GROUP, ServiceFamily::Database).expected(secs(3)),
    KindDef::new(CACHE_SUBNET_GROUP, ServiceFamily::Cache).expected(secs(3)),
];

/// Every kind the AWS provider manages: [`OWN`] and the cloud-neutral ones of
/// [`NEUTRAL_CLOUD_KINDS`] (whose durations and timeouts fit EKS, RDS and ElastiCache).
pub fn defs() -> &'static [KindDef] {
    static DEFS: OnceLock<Vec<KindDef>> = OnceLock::new();
    DEFS.get_or_init(|| OWN.iter().chain(NEUTRAL_CLOUD_KINDS).copied().collect())
}
