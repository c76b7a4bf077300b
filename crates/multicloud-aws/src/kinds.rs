//! The kinds of the AWS provider: its own (VPC, subnets, roles, subnet groups…) and the
//! cloud-neutral ones it implements, with their families, typical durations (after
//! `STACK-GRAPH.md`) and wait timeouts — and, in `AwsKinds`, the one type handling each
//! kind: the provider's [`KindTable`] and the sweeper's deletions come from the same rows.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use multicloud_core::kind::{KindDef, NEUTRAL_CLOUD_KINDS, ResourceKind, ServiceFamily};
use multicloud_core::provider::{KindTable, ResourceOps};

use crate::cache::{CacheSubnetGroup, ReplicationGroup};
use crate::clients::AwsClients;
use crate::cluster::{EksCluster, NodeGroup};
use crate::database::{DbSubnetGroup, RdsInstance};
use crate::identity::{IrsaRole, OidcProvider, ServiceRole};
use crate::network::{
    ElasticIp, InternetGateway, LeftoverLoadBalancer, NatGateway, RouteTable, SecurityGroup,
    Subnet, Vpc, VpcEndpoint,
};
use crate::registry::EcrRegistry;
use crate::secrets::SecretsManager;
use crate::sweeper::SweepOps;

/// A VPC.
pub const VPC: ResourceKind = ResourceKind::new("vpc");
/// A subnet.
pub const SUBNET: ResourceKind = ResourceKind::new("subnet");
/// An internet gateway, attached to the VPC.
pub const INTERNET_GATEWAY: ResourceKind = ResourceKind::new("internet_gateway");
/// An Elastic IP (a NAT gateway's public address).
pub const ELASTIC_IP: ResourceKind = ResourceKind::new("elastic_ip");
/// A public NAT gateway: the private subnets' way out.
pub const NAT_GATEWAY: ResourceKind = ResourceKind::new("nat_gateway");
/// A VPC endpoint: an AWS service reached from the private subnets without the internet.
pub const VPC_ENDPOINT: ResourceKind = ResourceKind::new("vpc_endpoint");
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
    KindDef::new(ELASTIC_IP, ServiceFamily::Network).expected(secs(2)),
    // Pending for one to two minutes on AWS, about as long to delete.
    KindDef::new(NAT_GATEWAY, ServiceFamily::Network)
        .expected(secs(120))
        .timeout(secs(15 * 60)),
    KindDef::new(ROUTE_TABLE, ServiceFamily::Network).expected(secs(3)),
    KindDef::new(SECURITY_GROUP, ServiceFamily::Network).expected(secs(3)),
    // Interface endpoints are pending for a minute or two, about as long to delete.
    KindDef::new(VPC_ENDPOINT, ServiceFamily::Network)
        .expected(secs(90))
        .timeout(secs(10 * 60)),
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

/// Every AWS kind with the one value handling it: the provider's [`KindTable`] (what the
/// engine looks kinds up in) and, from the same values, the sweeper's deletions. Built once
/// per provider (and per sweeper) on the shared clients.
#[derive(Clone)]
pub(crate) struct AwsKinds {
    table: KindTable,
    sweep: HashMap<ResourceKind, Arc<dyn SweepOps>>,
    cluster: Arc<EksCluster>,
    registry: Arc<EcrRegistry>,
    secrets: Arc<SecretsManager>,
}

impl std::fmt::Debug for AwsKinds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.table.fmt(f)
    }
}

impl AwsKinds {
    /// The rows, in the order of [`defs`]; the load balancers Kubernetes leaves (never
    /// planned) for the sweeper only.
    pub(crate) fn new(c: &Arc<AwsClients>) -> Self {
        let cluster = Arc::new(EksCluster::new(c));
        let registry = Arc::new(EcrRegistry::new(c));
        let secrets = Arc::new(SecretsManager::new(c));
        let empty = Self {
            table: KindTable::new(),
            sweep: HashMap::new(),
            cluster: cluster.clone(),
            registry: registry.clone(),
            secrets: secrets.clone(),
        };
        empty
            .row(VPC, Arc::new(Vpc::new(c)))
            .row(SUBNET, Arc::new(Subnet::new(c)))
            .row(INTERNET_GATEWAY, Arc::new(InternetGateway::new(c)))
            .row(ELASTIC_IP, Arc::new(ElasticIp::new(c)))
            .row(NAT_GATEWAY, Arc::new(NatGateway::new(c)))
            .row(ROUTE_TABLE, Arc::new(RouteTable::new(c)))
            .row(SECURITY_GROUP, Arc::new(SecurityGroup::new(c)))
            .row(VPC_ENDPOINT, Arc::new(VpcEndpoint::new(c)))
            .row(CLUSTER_ROLE, Arc::new(ServiceRole::new(c)))
            .row(NODE_ROLE, Arc::new(ServiceRole::new(c)))
            .row(OIDC_PROVIDER, Arc::new(OidcProvider::new(c)))
            .row(DB_SUBNET_GROUP, Arc::new(DbSubnetGroup::new(c)))
            .row(CACHE_SUBNET_GROUP, Arc::new(CacheSubnetGroup::new(c)))
            .row(ResourceKind::CLUSTER, cluster)
            .row(ResourceKind::NODE_POOL, Arc::new(NodeGroup::new(c)))
            .row(ResourceKind::DATABASE, Arc::new(RdsInstance::new(c)))
            .row(ResourceKind::CACHE, Arc::new(ReplicationGroup::new(c)))
            .row(ResourceKind::REGISTRY, registry)
            .row(ResourceKind::SECRET, secrets)
            .row(ResourceKind::WORKLOAD_IDENTITY, Arc::new(IrsaRole::new(c)))
            .sweep_only(LOAD_BALANCER, Arc::new(LeftoverLoadBalancer::new(c)))
    }

    /// Adds `kind` (declared in [`defs`]) handled by `ops`, for the engine and the sweeper.
    fn row<T: ResourceOps + SweepOps + 'static>(mut self, kind: ResourceKind, ops: Arc<T>) -> Self {
        let def = defs().iter().find(|d| d.kind == kind);
        debug_assert!(def.is_some(), "{kind} is not declared in kinds::defs");
        if let Some(def) = def {
            self.table = self.table.row_shared(*def, ops.clone());
        }
        self.sweep_only(kind, ops)
    }

    /// Adds `kind` for the sweeper only.
    fn sweep_only(mut self, kind: ResourceKind, ops: Arc<dyn SweepOps>) -> Self {
        self.sweep.insert(kind, ops);
        self
    }

    /// The provider's kind table.
    pub(crate) fn table(&self) -> &KindTable {
        &self.table
    }

    /// How the sweeper deletes a found resource of `kind`.
    pub(crate) fn sweep_ops(&self, kind: ResourceKind) -> Option<&dyn SweepOps> {
        self.sweep.get(&kind).map(AsRef::as_ref)
    }

    /// The cluster kind's type, which also gives cluster credentials.
    pub(crate) fn cluster(&self) -> &EksCluster {
        &self.cluster
    }

    /// The registry kind's type, which also gives pull credentials.
    pub(crate) fn registry(&self) -> &EcrRegistry {
        &self.registry
    }

    /// The secret kind's type, which is also the secret store.
    pub(crate) fn secrets(&self) -> &SecretsManager {
        &self.secrets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_declared_kind_has_one_row_in_order() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let kinds = AwsKinds::new(&Arc::new(AwsClients::new(&sdk)));
        assert_eq!(kinds.table().defs(), defs());
        for def in defs() {
            assert!(kinds.table().ops(def.kind).is_some(), "{}", def.kind);
            assert!(kinds.sweep_ops(def.kind).is_some(), "{}", def.kind);
        }
        assert!(kinds.table().ops(LOAD_BALANCER).is_none());
        assert!(kinds.sweep_ops(LOAD_BALANCER).is_some());
    }
}
