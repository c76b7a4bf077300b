//! The kinds of the Azure provider: its own (resource group, virtual network, private DNS,
//! Key Vault, ACR, federated credentials, role assignments…) and the cloud-neutral ones it
//! implements, with their families, typical durations and wait timeouts.

use std::sync::OnceLock;
use std::time::Duration;

use multicloud_core::kind::{KindDef, NEUTRAL_CLOUD_KINDS, ResourceKind, ServiceFamily};

/// A resource group: everything of the stack lives in it.
pub const RESOURCE_GROUP: ResourceKind = ResourceKind::new("resource_group");
/// A virtual network with its subnets (cluster, and one delegated to PostgreSQL).
pub const VIRTUAL_NETWORK: ResourceKind = ResourceKind::new("virtual_network");
/// A private DNS zone (`<name>.private.postgres.database.azure.com`).
pub const PRIVATE_DNS_ZONE: ResourceKind = ResourceKind::new("private_dns_zone");
/// The link of a private DNS zone to the virtual network.
pub const DNS_ZONE_LINK: ResourceKind = ResourceKind::new("dns_zone_link");
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

/// The Azure provider's own kinds, with their families and durations.
pub const OWN: &[KindDef] = &[
    KindDef::new(RESOURCE_GROUP, ServiceFamily::Network)
        .expected(secs(2))
        .timeout(mins(30)),
    KindDef::new(VIRTUAL_NETWORK, ServiceFamily::Network).expected(secs(10)),
    KindDef::new(PRIVATE_DNS_ZONE, ServiceFamily::Network).expected(secs(30)),
    KindDef::new(DNS_ZONE_LINK, ServiceFamily::Network).expected(secs(30)),
    KindDef::new(KEY_VAULT, ServiceFamily::Secrets).expected(secs(20)),
    KindDef::new(VAULT_PURGE, ServiceFamily::Secrets).expected(secs(1)),
    KindDef::new(CONTAINER_REGISTRY, ServiceFamily::Registry).expected(secs(20)),
    KindDef::new(FEDERATED_CREDENTIAL, ServiceFamily::Identity).expected(secs(3)),
    KindDef::new(ROLE_ASSIGNMENT, ServiceFamily::Identity).expected(secs(3)),
    KindDef::new(POSTGRES_DATABASE, ServiceFamily::Database).expected(secs(20)),
    KindDef::new(REDIS_DATABASE, ServiceFamily::Cache).expected(mins(2)),
];

/// Every kind the Azure provider manages: [`OWN`] and the cloud-neutral ones of
/// [`NEUTRAL_CLOUD_KINDS`].
pub fn defs() -> &'static [KindDef] {
    static DEFS: OnceLock<Vec<KindDef>> = OnceLock::new();
    DEFS.get_or_init(|| OWN.iter().chain(NEUTRAL_CLOUD_KINDS).copied().collect())
}
