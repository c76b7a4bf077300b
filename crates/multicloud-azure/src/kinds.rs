//! The kinds of the Azure provider: its own (resource group, virtual network, private DNS,
//! Key Vault, ACR, federated credentials, role assignments…) and the cloud-neutral ones it
//! implements, with their families, typical durations and wait timeouts, and the provider's
//! [`KindTable`]: the one place a kind finds its ops.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use multicloud_core::kind::{KindDef, NEUTRAL_CLOUD_KINDS, ResourceKind, ServiceFamily, neutral};
use multicloud_core::provider::KindTable;

use crate::arm_ops::Arm;
use crate::context::AzureContext;
use crate::resources::{
    cluster, dns, endpoint, group, identity, nat, network, postgres, redis, registry, role, secret,
    vault,
};

/// A resource group: everything of the stack lives in it.
pub const RESOURCE_GROUP: ResourceKind = ResourceKind::new("resource_group");
/// A virtual network with its subnets (cluster, and one delegated to PostgreSQL).
pub const VIRTUAL_NETWORK: ResourceKind = ResourceKind::new("virtual_network");
/// A Standard static public IP address (the NAT gateway's).
pub const PUBLIC_IP: ResourceKind = ResourceKind::new("public_ip");
/// A NAT gateway: the AKS nodes' way out (spec `network.azure.outbound: nat_gateway`).
pub const NAT_GATEWAY: ResourceKind = ResourceKind::new("nat_gateway");
/// A private DNS zone (`<name>.private.postgres.database.azure.com`,
/// `privatelink.redis.azure.net`).
pub const PRIVATE_DNS_ZONE: ResourceKind = ResourceKind::new("private_dns_zone");
/// The link of a private DNS zone to the virtual network.
pub const DNS_ZONE_LINK: ResourceKind = ResourceKind::new("dns_zone_link");
/// A private endpoint to a service of the stack (Azure Managed Redis), in the cluster subnet.
pub const PRIVATE_ENDPOINT: ResourceKind = ResourceKind::new("private_endpoint");
/// The DNS zone group of a private endpoint: its `A` records in a `privatelink` zone.
pub const PRIVATE_DNS_ZONE_GROUP: ResourceKind = ResourceKind::new("private_dns_zone_group");
/// A Key Vault (RBAC authorization, soft delete on).
pub const KEY_VAULT: ResourceKind = ResourceKind::new("key_vault");
/// The purge of the Key Vault's name: created before the vault (a soft-deleted vault of ours
/// under the name is purged), deleted after it (the soft-deleted vault is purged, so the
/// name is reusable at once).
pub const VAULT_PURGE: ResourceKind = ResourceKind::new("vault_purge");
/// The container registry (ACR); spec registries are repositories in it.
pub const CONTAINER_REGISTRY: ResourceKind = ResourceKind::new("container_registry");
/// A federated identity credential of a workload identity (trusting the cluster's issuer).
pub const FEDERATED_CREDENTIAL: ResourceKind = ResourceKind::new("federated_credential");
/// A role assignment (`AcrPull`, `Key Vault Secrets User`…) at one scope.
pub const ROLE_ASSIGNMENT: ResourceKind = ResourceKind::new("role_assignment");
/// A database in the PostgreSQL flexible server.
pub const POSTGRES_DATABASE: ResourceKind = ResourceKind::new("postgres_database");
/// The database of the Azure Managed Redis cluster (what clients connect to).
pub const REDIS_DATABASE: ResourceKind = ResourceKind::new("redis_database");

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const fn mins(m: u64) -> Duration {
    Duration::from_secs(60 * m)
}

/// The declaration of [`RESOURCE_GROUP`].
pub const RESOURCE_GROUP_DEF: KindDef = KindDef::new(RESOURCE_GROUP, ServiceFamily::Network)
    .expected(secs(2))
    .timeout(mins(30));
/// The declaration of [`VIRTUAL_NETWORK`].
pub const VIRTUAL_NETWORK_DEF: KindDef =
    KindDef::new(VIRTUAL_NETWORK, ServiceFamily::Network).expected(secs(10));
/// The declaration of [`PUBLIC_IP`].
pub const PUBLIC_IP_DEF: KindDef =
    KindDef::new(PUBLIC_IP, ServiceFamily::Network).expected(secs(5));
/// The declaration of [`NAT_GATEWAY`].
pub const NAT_GATEWAY_DEF: KindDef =
    KindDef::new(NAT_GATEWAY, ServiceFamily::Network).expected(secs(20));
/// The declaration of [`PRIVATE_DNS_ZONE`].
pub const PRIVATE_DNS_ZONE_DEF: KindDef =
    KindDef::new(PRIVATE_DNS_ZONE, ServiceFamily::Network).expected(secs(30));
/// The declaration of [`DNS_ZONE_LINK`].
pub const DNS_ZONE_LINK_DEF: KindDef =
    KindDef::new(DNS_ZONE_LINK, ServiceFamily::Network).expected(secs(30));
/// The declaration of [`PRIVATE_ENDPOINT`].
pub const PRIVATE_ENDPOINT_DEF: KindDef =
    KindDef::new(PRIVATE_ENDPOINT, ServiceFamily::Network).expected(secs(60));
/// The declaration of [`PRIVATE_DNS_ZONE_GROUP`].
pub const PRIVATE_DNS_ZONE_GROUP_DEF: KindDef =
    KindDef::new(PRIVATE_DNS_ZONE_GROUP, ServiceFamily::Network).expected(secs(10));
/// The declaration of [`KEY_VAULT`].
pub const KEY_VAULT_DEF: KindDef =
    KindDef::new(KEY_VAULT, ServiceFamily::Secrets).expected(secs(20));
/// The declaration of [`VAULT_PURGE`].
pub const VAULT_PURGE_DEF: KindDef = KindDef::new(VAULT_PURGE, ServiceFamily::Secrets)
    .expected(secs(1))
    .step("purge a soft-deleted vault of ours holding the vault's name, if any");
/// The declaration of [`CONTAINER_REGISTRY`].
pub const CONTAINER_REGISTRY_DEF: KindDef =
    KindDef::new(CONTAINER_REGISTRY, ServiceFamily::Registry).expected(secs(20));
/// The declaration of [`FEDERATED_CREDENTIAL`].
pub const FEDERATED_CREDENTIAL_DEF: KindDef =
    KindDef::new(FEDERATED_CREDENTIAL, ServiceFamily::Identity).expected(secs(3));
/// The declaration of [`ROLE_ASSIGNMENT`].
pub const ROLE_ASSIGNMENT_DEF: KindDef =
    KindDef::new(ROLE_ASSIGNMENT, ServiceFamily::Identity).expected(secs(3));
/// The declaration of [`POSTGRES_DATABASE`].
pub const POSTGRES_DATABASE_DEF: KindDef =
    KindDef::new(POSTGRES_DATABASE, ServiceFamily::Database).expected(secs(20));
/// The declaration of [`REDIS_DATABASE`].
pub const REDIS_DATABASE_DEF: KindDef =
    KindDef::new(REDIS_DATABASE, ServiceFamily::Cache).expected(mins(2));

/// The Azure provider's own kinds, with their families and durations.
pub const OWN: &[KindDef] = &[
    RESOURCE_GROUP_DEF,
    PUBLIC_IP_DEF,
    NAT_GATEWAY_DEF,
    VIRTUAL_NETWORK_DEF,
    PRIVATE_DNS_ZONE_DEF,
    DNS_ZONE_LINK_DEF,
    PRIVATE_ENDPOINT_DEF,
    PRIVATE_DNS_ZONE_GROUP_DEF,
    KEY_VAULT_DEF,
    VAULT_PURGE_DEF,
    CONTAINER_REGISTRY_DEF,
    FEDERATED_CREDENTIAL_DEF,
    ROLE_ASSIGNMENT_DEF,
    POSTGRES_DATABASE_DEF,
    REDIS_DATABASE_DEF,
];

/// Every kind the Azure provider manages: [`OWN`] and the cloud-neutral ones of
/// [`NEUTRAL_CLOUD_KINDS`].
pub fn defs() -> &'static [KindDef] {
    static DEFS: OnceLock<Vec<KindDef>> = OnceLock::new();
    DEFS.get_or_init(|| OWN.iter().chain(NEUTRAL_CLOUD_KINDS).copied().collect())
}

/// The ops column: one ops value per kind, in the order of [`defs`].
pub(crate) struct Ops {
    /// The context every ARM kind works on.
    pub az: Arc<AzureContext>,
    /// The cluster's ops, also the provider's cluster credentials.
    pub cluster: Arc<Arm<cluster::ManagedCluster>>,
    /// The repositories' ops, also the provider's pull credentials.
    pub repository: Arc<registry::Repository>,
    /// The secrets' ops, also the provider's secret store.
    pub secret: Arc<secret::KeyVaultSecret>,
}

/// The Azure kind table: every kind of [`defs`] with the ops that handle it.
pub(crate) fn table(ops: &Ops) -> KindTable {
    let a = &ops.az;
    KindTable::new()
        .row(
            RESOURCE_GROUP_DEF,
            Arm::new(a.clone(), group::ResourceGroup),
        )
        .row(PUBLIC_IP_DEF, Arm::new(a.clone(), nat::PublicIp))
        .row(NAT_GATEWAY_DEF, Arm::new(a.clone(), nat::NatGateway))
        .row(
            VIRTUAL_NETWORK_DEF,
            Arm::new(a.clone(), network::VirtualNetwork),
        )
        .row(
            PRIVATE_DNS_ZONE_DEF,
            Arm::new(a.clone(), dns::PrivateDnsZone),
        )
        .row(DNS_ZONE_LINK_DEF, Arm::new(a.clone(), dns::DnsZoneLink))
        .row(
            PRIVATE_ENDPOINT_DEF,
            Arm::new(a.clone(), endpoint::PrivateEndpoint),
        )
        .row(
            PRIVATE_DNS_ZONE_GROUP_DEF,
            Arm::new(a.clone(), endpoint::DnsZoneGroup),
        )
        .row(KEY_VAULT_DEF, Arm::new(a.clone(), vault::KeyVault))
        .row(VAULT_PURGE_DEF, vault::VaultPurge::new(a.clone()))
        .row(
            CONTAINER_REGISTRY_DEF,
            Arm::new(a.clone(), registry::ContainerRegistry),
        )
        .row(
            FEDERATED_CREDENTIAL_DEF,
            Arm::new(a.clone(), identity::FederatedCredential),
        )
        .row(
            ROLE_ASSIGNMENT_DEF,
            Arm::new(a.clone(), role::RoleAssignment),
        )
        .row(
            POSTGRES_DATABASE_DEF,
            Arm::new(a.clone(), postgres::PostgresDatabase),
        )
        .row(
            REDIS_DATABASE_DEF,
            Arm::new(a.clone(), redis::RedisDatabase),
        )
        .row_shared(neutral::CLUSTER, ops.cluster.clone())
        .row(neutral::NODE_POOL, Arm::new(a.clone(), cluster::AgentPool))
        .row(
            neutral::DATABASE,
            Arm::new(a.clone(), postgres::FlexibleServer),
        )
        .row(neutral::CACHE, Arm::new(a.clone(), redis::RedisCluster))
        .row_shared(neutral::REGISTRY, ops.repository.clone())
        .row_shared(neutral::SECRET, ops.secret.clone())
        .row(
            neutral::WORKLOAD_IDENTITY,
            Arm::new(a.clone(), identity::ManagedIdentity),
        )
}
