//! [`AzureOps`]: every service family of the Azure provider behind one dispatch by kind, and
//! the family traits' own operations (secrets, pull credentials, cluster credentials).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use multicloud_core::provider::{
    CacheOps, ClusterCredentials, ClusterOps, DatabaseOps, IdentityOps, NetworkOps, Observation,
    OpContext, Outputs, Readiness, Registry, RegistryCredentials, ResourceOps, SecretBackend,
    SecretRef,
};
use multicloud_core::resource::ResourceKind;
use multicloud_core::secret::SecretString;
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::Value;

use crate::arm_ops::Arm;
use crate::context::AzureContext;
use crate::kinds;
use crate::resources::{
    cluster, dns, group, identity, network, postgres, redis, registry, role, secret, vault,
};

/// The operations of every Azure kind, by kind.
pub struct AzureOps {
    az: Arc<AzureContext>,
    table: HashMap<ResourceKind, Box<dyn ResourceOps>>,
    admin_pull_credentials: bool,
}

impl std::fmt::Debug for AzureOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureOps")
            .field("kinds", &self.table.len())
            .finish_non_exhaustive()
    }
}

impl AzureOps {
    /// The operations on `az`; `admin_pull_credentials` makes `pull_credentials` use
    /// `listCredentials` instead of the token exchange.
    pub fn new(az: Arc<AzureContext>, admin_pull_credentials: bool) -> Self {
        let mut table: HashMap<ResourceKind, Box<dyn ResourceOps>> = HashMap::new();
        let a = &az;
        table.insert(
            kinds::RESOURCE_GROUP,
            Box::new(Arm::new(a.clone(), group::ResourceGroup)),
        );
        table.insert(
            kinds::VIRTUAL_NETWORK,
            Box::new(Arm::new(a.clone(), network::VirtualNetwork)),
        );
        table.insert(
            kinds::PRIVATE_DNS_ZONE,
            Box::new(Arm::new(a.clone(), dns::PrivateDnsZone)),
        );
        table.insert(
            kinds::DNS_ZONE_LINK,
            Box::new(Arm::new(a.clone(), dns::DnsZoneLink)),
        );
        table.insert(
            kinds::KEY_VAULT,
            Box::new(Arm::new(a.clone(), vault::KeyVault)),
        );
        table.insert(
            kinds::VAULT_PURGE,
            Box::new(vault::VaultPurge::new(a.clone())),
        );
        table.insert(
            ResourceKind::SECRET,
            Box::new(secret::KeyVaultSecret::new(a.clone())),
        );
        table.insert(
            kinds::CONTAINER_REGISTRY,
            Box::new(Arm::new(a.clone(), registry::ContainerRegistry)),
        );
        table.insert(
            ResourceKind::REGISTRY,
            Box::new(registry::Repository::new(a.clone())),
        );
        table.insert(
            ResourceKind::WORKLOAD_IDENTITY,
            Box::new(Arm::new(a.clone(), identity::ManagedIdentity)),
        );
        table.insert(
            kinds::FEDERATED_CREDENTIAL,
            Box::new(Arm::new(a.clone(), identity::FederatedCredential)),
        );
        table.insert(
            kinds::ROLE_ASSIGNMENT,
            Box::new(Arm::new(a.clone(), role::RoleAssignment)),
        );
        table.insert(
            ResourceKind::CLUSTER,
            Box::new(Arm::new(a.clone(), cluster::ManagedCluster)),
        );
        table.insert(
            ResourceKind::NODE_POOL,
            Box::new(Arm::new(a.clone(), cluster::AgentPool)),
        );
        table.insert(
            ResourceKind::DATABASE,
            Box::new(Arm::new(a.clone(), postgres::FlexibleServer)),
        );
        table.insert(
            kinds::POSTGRES_DATABASE,
            Box::new(Arm::new(a.clone(), postgres::PostgresDatabase)),
        );
        table.insert(
            ResourceKind::CACHE,
            Box::new(Arm::new(a.clone(), redis::RedisCluster)),
        );
        table.insert(
            kinds::REDIS_DATABASE,
            Box::new(Arm::new(a.clone(), redis::RedisDatabase)),
        );
        Self {
            az,
            table,
            admin_pull_credentials,
        }
    }

    /// The shared context.
    pub fn context(&self) -> &Arc<AzureContext> {
        &self.az
    }

    fn ops(&self, kind: ResourceKind) -> Result<&dyn ResourceOps, ProviderError> {
        self.table.get(&kind).map(|b| b.as_ref()).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Unsupported,
                format!("the Azure provider has no kind `{kind}`"),
            )
        })
    }
}

#[async_trait]
impl ResourceOps for AzureOps {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        self.ops(ctx.resource.kind)?.observe(ctx).await
    }
    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        self.ops(ctx.resource.kind)?.create(ctx).await
    }
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        self.ops(ctx.resource.kind)?.update(ctx).await
    }
    fn requires_replacement(&self, kind: ResourceKind, old: &Value, new: &Value) -> bool {
        self.ops(kind)
            .map(|o| o.requires_replacement(kind, old, new))
            .unwrap_or(true)
    }
    fn supports_update(&self, kind: ResourceKind) -> bool {
        self.ops(kind).is_ok_and(|o| o.supports_update(kind))
    }
    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        self.ops(ctx.resource.kind)?.delete(ctx).await
    }
    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        self.ops(ctx.resource.kind)?.ready(ctx).await
    }
    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        self.ops(ctx.resource.kind)?.gone(ctx).await
    }
}

impl NetworkOps for AzureOps {}
impl IdentityOps for AzureOps {}
impl DatabaseOps for AzureOps {}
impl CacheOps for AzureOps {}

#[async_trait]
impl ClusterOps for AzureOps {
    /// Endpoint, CA and token from the cluster's `listClusterUserCredential` kubeconfig.
    async fn credentials(&self, cluster: &Outputs) -> Result<ClusterCredentials, ProviderError> {
        cluster::credentials(&self.az, cluster).await
    }
}

#[async_trait]
impl Registry for AzureOps {
    async fn pull_credentials(
        &self,
        registry: &Outputs,
    ) -> Result<RegistryCredentials, ProviderError> {
        registry::pull_credentials(&self.az, registry, self.admin_pull_credentials).await
    }
}

/// Secrets are named `<vault>/<secret>` on Azure (see [`crate::resources::secret`]).
#[async_trait]
impl SecretBackend for AzureOps {
    async fn put_secret(
        &self,
        name: &str,
        value: &SecretString,
    ) -> Result<SecretRef, ProviderError> {
        let (vault, name) = secret::split_name(name)?;
        secret::write(&self.az, vault, name, value, None).await
    }
    async fn get_secret(&self, name: &str) -> Result<SecretString, ProviderError> {
        let (vault, name) = secret::split_name(name)?;
        secret::value(&self.az, vault, name).await
    }
    /// `prefix` is `<vault>/<name prefix>`.
    async fn list_secrets(&self, prefix: &str) -> Result<Vec<SecretRef>, ProviderError> {
        let (vault, prefix) = secret::split_name(prefix)?;
        secret::list(&self.az, vault, prefix).await
    }
    /// With `force`, the soft-deleted secret is purged as well (its name free at once).
    async fn delete_secret(&self, name: &str, force: bool) -> Result<(), ProviderError> {
        let (vault, name) = secret::split_name(name)?;
        secret::remove(&self.az, vault, name, force).await
    }
}
