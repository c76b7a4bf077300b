//! The typed configs of the Azure kinds (what [`crate::expand`] records in each resource,
//! `deny_unknown_fields`, no silent defaults) and the typed outputs of the Azure-only kinds.
//! The neutral kinds record the core's output types ([`ClusterOutputs`]…),
//! flattened into the Azure types below where Azure adds fields.

use multicloud_core::outputs::{ClusterOutputs, DatabaseOutputs};
use multicloud_core::resource::ResourceId;
use serde::{Deserialize, Serialize};

/// Config of [`RESOURCE_GROUP`](crate::kinds::RESOURCE_GROUP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceGroupConfig {
    /// The Azure location (`westeurope`).
    pub location: String,
}

/// A subnet of the virtual network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetConfig {
    /// Subnet name.
    pub name: String,
    /// Its address prefix.
    pub prefix: String,
    /// The service it is delegated to (`Microsoft.DBforPostgreSQL/flexibleServers`), if any.
    pub delegation: Option<String>,
    /// The NAT gateway its traffic leaves through (a `nat_gateway` resource id), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway: Option<ResourceId>,
}

/// Config of [`VIRTUAL_NETWORK`](crate::kinds::VIRTUAL_NETWORK).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualNetworkConfig {
    /// Its resource group.
    pub resource_group: String,
    /// The address space (`10.0.0.0/16`).
    pub address_space: String,
    /// The subnets, the cluster's first.
    pub subnets: Vec<SubnetConfig>,
}

/// Config of a read-only [`VIRTUAL_NETWORK`](crate::kinds::VIRTUAL_NETWORK): an existing
/// virtual network (spec `existing_network`) and the subnets of it the stack uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExistingNetworkConfig {
    /// The virtual network's ARM id.
    pub existing: String,
    /// The subnet (ARM id) of the cluster's nodes and the cache's private endpoint.
    pub cluster_subnet: String,
    /// The subnet (ARM id) delegated to PostgreSQL, with a database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_subnet: Option<String>,
}

/// Config of [`PUBLIC_IP`](crate::kinds::PUBLIC_IP): a Standard static address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicIpConfig {
    /// Its resource group.
    pub resource_group: String,
}

/// Config of [`NAT_GATEWAY`](crate::kinds::NAT_GATEWAY).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatGatewayConfig {
    /// Its resource group.
    pub resource_group: String,
    /// Its address (a `public_ip` resource id).
    pub public_ip: ResourceId,
}

/// Config of [`PRIVATE_DNS_ZONE`](crate::kinds::PRIVATE_DNS_ZONE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateDnsZoneConfig {
    /// Its resource group.
    pub resource_group: String,
}

/// Config of [`DNS_ZONE_LINK`](crate::kinds::DNS_ZONE_LINK).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsZoneLinkConfig {
    /// Its resource group.
    pub resource_group: String,
    /// The zone's name.
    pub zone: String,
    /// The linked virtual network (a dependency).
    pub virtual_network: ResourceId,
}

/// Config of [`KEY_VAULT`](crate::kinds::KEY_VAULT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyVaultConfig {
    /// Its resource group.
    pub resource_group: String,
    /// `standard` or `premium`.
    pub sku: String,
    /// Soft-delete retention (7-90 days).
    pub soft_delete_retention_days: u32,
}

/// Config of [`VAULT_PURGE`](crate::kinds::VAULT_PURGE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultPurgeConfig {
    /// The vault's location (soft-deleted vaults are found by location and name).
    pub location: String,
}

/// Where a Key Vault secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretSourceConfig {
    /// Generated once at creation.
    Generated {
        /// Number of characters.
        length: u32,
    },
    /// Read from an environment variable of the process running `up`.
    FromEnv {
        /// The variable.
        var: String,
    },
    /// The primary access key of an Azure Managed Redis database (a dependency).
    RedisAccessKey {
        /// The `redis_database` resource.
        database: ResourceId,
    },
}

/// Config of [`ResourceKind::SECRET`](multicloud_core::resource::ResourceKind::SECRET) on
/// Azure: a Key Vault secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    /// The vault (a dependency).
    pub vault: ResourceId,
    /// Where the value comes from.
    pub source: SecretSourceConfig,
}

/// Config of [`CONTAINER_REGISTRY`](crate::kinds::CONTAINER_REGISTRY).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerRegistryConfig {
    /// Its resource group.
    pub resource_group: String,
    /// `Basic`, `Standard` or `Premium`.
    pub sku: String,
}

/// Config of [`ResourceKind::REGISTRY`](multicloud_core::resource::ResourceKind::REGISTRY) on
/// Azure: a repository of the stack's ACR (repositories appear on first push).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    /// The ACR (a dependency).
    pub registry: ResourceId,
    /// How many images to keep (documented; ACR retention is a Premium feature).
    pub keep_images: u32,
}

/// Config of [`ResourceKind::WORKLOAD_IDENTITY`](multicloud_core::resource::ResourceKind::WORKLOAD_IDENTITY)
/// on Azure: a user-assigned managed identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadIdentityConfig {
    /// Its resource group.
    pub resource_group: String,
    /// The Kubernetes namespace of its service account.
    pub namespace: String,
    /// The service account.
    pub service_account: String,
}

/// Config of [`FEDERATED_CREDENTIAL`](crate::kinds::FEDERATED_CREDENTIAL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederatedCredentialConfig {
    /// Its resource group.
    pub resource_group: String,
    /// The managed identity (a dependency).
    pub identity: ResourceId,
    /// The cluster whose OIDC issuer it trusts (a dependency).
    pub cluster: ResourceId,
    /// `system:serviceaccount:<ns>:<sa>`.
    pub subject: String,
    /// `api://AzureADTokenExchange`.
    pub audience: String,
}

/// Whose role assignment it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Principal {
    /// A workload identity's managed identity (its `principal_id` output).
    WorkloadIdentity {
        /// The `workload_identity` resource.
        identity: ResourceId,
    },
    /// The kubelet identity of the cluster (its `kubelet_object_id` output).
    Kubelet {
        /// The cluster.
        cluster: ResourceId,
    },
    /// A principal known by its object id (the deployer).
    Object {
        /// The Entra object id.
        object_id: String,
        /// `User`, `Group` or `ServicePrincipal`.
        principal_type: String,
    },
}

/// Config of [`ROLE_ASSIGNMENT`](crate::kinds::ROLE_ASSIGNMENT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignmentConfig {
    /// The resource it is scoped to exactly (a dependency; its `id` output is the scope).
    pub scope: ResourceId,
    /// The built-in role's name (`AcrPull`).
    pub role: String,
    /// The built-in role definition's GUID.
    pub role_definition: String,
    /// Who gets it.
    pub principal: Principal,
}

/// An agent pool's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// VM size (`Standard_D4s_v5`).
    pub vm_size: String,
    /// Minimum nodes (autoscaler).
    pub min: u32,
    /// Maximum nodes.
    pub max: u32,
    /// Nodes at creation.
    pub count: u32,
}

/// Config of [`ResourceKind::CLUSTER`](multicloud_core::resource::ResourceKind::CLUSTER) on
/// Azure: an AKS managed cluster with its system pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Its resource group.
    pub resource_group: String,
    /// Kubernetes version (`1.31`).
    pub version: String,
    /// DNS prefix of the API server.
    pub dns_prefix: String,
    /// The system pool (`system`).
    pub system_pool: PoolConfig,
    /// The virtual network whose cluster subnet the nodes use (a dependency).
    pub network: ResourceId,
    /// Local accounts (the admin kubeconfig) disabled.
    pub disable_local_accounts: bool,
    /// The nodes leave through the cluster subnet's NAT gateway (`userAssignedNATGateway`)
    /// rather than the cluster's load balancer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nat_gateway: bool,
}

/// Config of [`ResourceKind::NODE_POOL`](multicloud_core::resource::ResourceKind::NODE_POOL)
/// on Azure: a user agent pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePoolConfig {
    /// Its resource group.
    pub resource_group: String,
    /// The cluster's name.
    pub cluster: String,
    /// The pool's shape.
    pub pool: PoolConfig,
    /// The virtual network whose cluster subnet the nodes use (a dependency).
    pub network: ResourceId,
}

/// Config of [`ResourceKind::DATABASE`](multicloud_core::resource::ResourceKind::DATABASE) on
/// Azure: a PostgreSQL flexible server with private access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Its resource group.
    pub resource_group: String,
    /// Major version (`16`).
    pub version: String,
    /// SKU (`Standard_B1ms`).
    pub sku: String,
    /// SKU tier (`Burstable`, `GeneralPurpose`, `MemoryOptimized`).
    pub tier: String,
    /// Storage in GiB.
    pub storage_gb: u32,
    /// Administrator login.
    pub username: String,
    /// The secret holding the administrator password (a dependency).
    pub password_secret: ResourceId,
    /// The virtual network with the delegated subnet (a dependency).
    pub network: ResourceId,
    /// The private DNS zone (a dependency).
    pub dns_zone: ResourceId,
    /// The initial database's name (see [`PostgresDatabaseConfig`]).
    pub database_name: String,
}

/// Config of [`POSTGRES_DATABASE`](crate::kinds::POSTGRES_DATABASE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresDatabaseConfig {
    /// Its resource group.
    pub resource_group: String,
    /// The server's name.
    pub server: String,
}

/// Config of [`ResourceKind::CACHE`](multicloud_core::resource::ResourceKind::CACHE) on Azure:
/// an Azure Managed Redis (`Microsoft.Cache/redisEnterprise`) cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Its resource group.
    pub resource_group: String,
    /// SKU (`Balanced_B0`).
    pub sku: String,
    /// The database (see [`RedisDatabaseConfig`]).
    pub database: String,
    /// Reached only through a private endpoint in the stack's virtual network
    /// (`publicNetworkAccess: Disabled`); a stack without a network keeps the public one.
    #[serde(default)]
    pub private: bool,
}

/// Config of [`PRIVATE_ENDPOINT`](crate::kinds::PRIVATE_ENDPOINT): a private endpoint in the
/// cluster subnet to a service of the stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateEndpointConfig {
    /// Its resource group.
    pub resource_group: String,
    /// The service it reaches (a dependency: its `id` output is the private link target).
    pub target: ResourceId,
    /// The target's private link sub-resource (`redisEnterprise`).
    pub group_id: String,
    /// The virtual network whose cluster subnet it sits in (a dependency).
    pub virtual_network: ResourceId,
}

/// Config of [`PRIVATE_DNS_ZONE_GROUP`](crate::kinds::PRIVATE_DNS_ZONE_GROUP): the records of
/// a private endpoint in a private DNS zone, kept by Azure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsZoneGroupConfig {
    /// Its resource group.
    pub resource_group: String,
    /// The private endpoint's name (its parent).
    pub endpoint: String,
    /// The private DNS zone (a dependency).
    pub zone: ResourceId,
}

/// Config of [`REDIS_DATABASE`](crate::kinds::REDIS_DATABASE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisDatabaseConfig {
    /// Its resource group.
    pub resource_group: String,
    /// The cluster's name.
    pub cluster: String,
}

/// Outputs of any Azure resource without more to say: its ARM id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArmOutputs {
    /// ARM id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// Outputs of [`VIRTUAL_NETWORK`](crate::kinds::VIRTUAL_NETWORK).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkOutputs {
    /// ARM id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The cluster subnet's id.
    pub cluster_subnet_id: String,
    /// The delegated database subnet's id, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_subnet_id: Option<String>,
}

/// Outputs of [`KEY_VAULT`](crate::kinds::KEY_VAULT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultOutputs {
    /// ARM id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `https://<name>.vault.azure.net/`.
    pub uri: String,
}

/// Outputs of [`CONTAINER_REGISTRY`](crate::kinds::CONTAINER_REGISTRY).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcrOutputs {
    /// ARM id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `<name>.azurecr.io`.
    pub login_server: String,
}

/// Outputs of a workload identity on Azure: the neutral fields plus what role assignments
/// need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedIdentityOutputs {
    /// ARM id.
    pub id: String,
    /// The client id (the service account's `azure.workload.identity/client-id`).
    pub identity: String,
    /// `system:serviceaccount:<ns>:<sa>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The service principal's object id (what role assignments name).
    pub principal_id: String,
}

/// Outputs of [`FEDERATED_CREDENTIAL`](crate::kinds::FEDERATED_CREDENTIAL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedCredentialOutputs {
    /// ARM id.
    pub id: String,
    /// The trusted issuer.
    pub issuer: String,
    /// The trusted subject.
    pub subject: String,
    /// The audiences.
    pub audiences: Vec<String>,
}

/// Outputs of [`ROLE_ASSIGNMENT`](crate::kinds::ROLE_ASSIGNMENT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleAssignmentOutputs {
    /// ARM id.
    pub id: String,
    /// The scope.
    pub scope: String,
    /// The full role definition id.
    pub role_definition_id: String,
    /// The principal's object id.
    pub principal_id: String,
}

/// Outputs of the AKS cluster: the neutral ones plus the kubelet identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AksOutputs {
    /// The neutral cluster outputs.
    #[serde(flatten)]
    pub cluster: ClusterOutputs,
    /// The kubelet identity's object id (for `AcrPull`).
    pub kubelet_object_id: String,
    /// Its resource group (for `listClusterUserCredential`).
    pub resource_group: String,
}

/// Outputs of the PostgreSQL server: the neutral ones.
pub type PostgresOutputs = DatabaseOutputs;
