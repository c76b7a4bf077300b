//! The Azure shape of a stack: [`expand`] turns a [`StackSpec`] into the Azure resources with
//! their dependencies, deterministic names and typed configs ([`crate::model`]). The graph
//! is the one description of what depends on what: the engine's create and teardown orders
//! and the sweeper's order ([`crate::order`]) come from it.

use multicloud_core::expand::ExpandError;
use multicloud_core::expand::ServiceAnchor;
use multicloud_core::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use multicloud_core::spec::{
    AksOutbound, Connection, Network, SecretSource, SpecErrors, StackSpec, Tier, ValidationError,
};
use multicloud_core::tags::{NameStyle, Naming};

use crate::kinds;
use crate::model::{
    ContainerRegistryConfig, DnsZoneLinkConfig, KeyVaultConfig, NatGatewayConfig,
    PrivateDnsZoneConfig, PublicIpConfig, RepositoryConfig, ResourceGroupConfig, SecretConfig,
    SecretSourceConfig, SubnetConfig, VaultPurgeConfig, VirtualNetworkConfig,
};
use crate::naming::{AzureNamingRules, NameOverrides};
use crate::resources::network::POSTGRES_DELEGATION;

pub mod compute;
pub(crate) mod existing;
mod private;
pub mod resolve;

/// What the provider was told beyond the spec (names, sizes, switches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureSettings {
    /// Names to use instead of the derived ones.
    pub names: NameOverrides,
    /// Turn the cluster's local accounts off (Entra ID and Azure RBAC only).
    pub disable_local_accounts: bool,
    /// The system pool's VM size.
    pub system_vm_size: String,
    /// The ACR SKU.
    pub registry_sku: String,
    /// The Redis SKU when the spec gives no `tier`, `node_type` or `azure.sku` (the `dev`
    /// tier's, `Balanced_B0`, by default; see [`resolve`]).
    pub redis_sku: String,
    /// The PostgreSQL SKU when the spec gives no `tier`, `instance_class` or `azure.sku`
    /// (the `dev` tier's, `Standard_B1ms`, by default; see [`resolve`]).
    pub postgres_sku: String,
    /// Key Vault soft-delete retention in days (7-90).
    pub soft_delete_days: u32,
    /// Who runs `up` (Entra object id and principal type): given `Key Vault Secrets
    /// Officer` on exactly the stack's vault, which an RBAC vault needs before secrets can
    /// be written. `None` when the caller already has a data-plane role (or on the emulator).
    pub deployer: Option<(String, String)>,
}

impl Default for AzureSettings {
    /// `Standard_D2s_v5` system nodes, a `Basic` ACR, `Balanced_B0` Redis, `Standard_B1ms`
    /// PostgreSQL, 7 days of Key Vault soft delete, local accounts on.
    fn default() -> Self {
        Self {
            names: NameOverrides::default(),
            disable_local_accounts: false,
            system_vm_size: "Standard_D2s_v5".into(),
            registry_sku: "Basic".into(),
            redis_sku: resolve::redis_sku_of(Tier::Dev).into(),
            postgres_sku: resolve::postgres_sku_of(Tier::Dev).into(),
            soft_delete_days: 7,
            deployer: None,
        }
    }
}

/// Well-known ids of the Azure graph.
pub mod ids {
    use multicloud_core::resource::{ResourceId, ResourceKind};

    use crate::kinds;

    /// `resource_group/main`.
    pub fn group() -> ResourceId {
        ResourceId::single(kinds::RESOURCE_GROUP)
    }
    /// `public_ip/nat`: the NAT gateway's address.
    pub fn public_ip() -> ResourceId {
        ResourceId::new(kinds::PUBLIC_IP, "nat")
    }
    /// `nat_gateway/main`.
    pub fn nat_gateway() -> ResourceId {
        ResourceId::single(kinds::NAT_GATEWAY)
    }
    /// `virtual_network/main`.
    pub fn vnet() -> ResourceId {
        ResourceId::single(kinds::VIRTUAL_NETWORK)
    }
    /// `private_dns_zone/main`.
    pub fn zone() -> ResourceId {
        ResourceId::single(kinds::PRIVATE_DNS_ZONE)
    }
    /// `dns_zone_link/main`.
    pub fn zone_link() -> ResourceId {
        ResourceId::single(kinds::DNS_ZONE_LINK)
    }
    /// `key_vault/main`.
    pub fn vault() -> ResourceId {
        ResourceId::single(kinds::KEY_VAULT)
    }
    /// `role_assignment/deployer-secrets-officer`.
    pub fn deployer_role() -> ResourceId {
        ResourceId::new(kinds::ROLE_ASSIGNMENT, "deployer-secrets-officer")
    }
    /// `vault_purge/main`.
    pub fn vault_purge() -> ResourceId {
        ResourceId::single(kinds::VAULT_PURGE)
    }
    /// `container_registry/main`.
    pub fn acr() -> ResourceId {
        ResourceId::single(kinds::CONTAINER_REGISTRY)
    }
    /// `cluster/main`.
    pub fn cluster() -> ResourceId {
        ResourceId::single(ResourceKind::CLUSTER)
    }
    /// `database/main`.
    pub fn database() -> ResourceId {
        ResourceId::single(ResourceKind::DATABASE)
    }
    /// `cache/main`.
    pub fn cache() -> ResourceId {
        ResourceId::single(ResourceKind::CACHE)
    }
    /// `redis_database/default`.
    pub fn redis_database() -> ResourceId {
        ResourceId::new(kinds::REDIS_DATABASE, "default")
    }
    /// `private_dns_zone/redis`: `privatelink.redis.azure.net`.
    pub fn redis_zone() -> ResourceId {
        ResourceId::new(kinds::PRIVATE_DNS_ZONE, "redis")
    }
    /// `dns_zone_link/redis`.
    pub fn redis_zone_link() -> ResourceId {
        ResourceId::new(kinds::DNS_ZONE_LINK, "redis")
    }
    /// `private_endpoint/cache`.
    pub fn cache_endpoint() -> ResourceId {
        ResourceId::new(kinds::PRIVATE_ENDPOINT, "cache")
    }
    /// `private_dns_zone_group/cache`.
    pub fn cache_zone_group() -> ResourceId {
        ResourceId::new(kinds::PRIVATE_DNS_ZONE_GROUP, "cache")
    }
}

/// The Key Vault secret holding the database administrator password.
pub const DB_PASSWORD_SECRET: &str = "database-admin-password";
/// The Key Vault secret holding the Redis access key.
pub const CACHE_KEY_SECRET: &str = "cache-access-key";

/// The names of one stack's Azure resources.
#[derive(Debug, Clone)]
pub struct Names {
    naming: Naming,
    /// The resource group.
    pub group: String,
    /// The Key Vault.
    pub vault: String,
    /// The ACR.
    pub registry: String,
}

impl Names {
    /// The names of `spec` with `overrides`.
    pub fn new(spec: &StackSpec, overrides: &NameOverrides) -> Self {
        let naming = Naming::new(&spec.name, &spec.environment);
        Self {
            group: naming.name("rg", NameStyle::hyphenated(90)),
            vault: overrides
                .key_vault
                .clone()
                .unwrap_or_else(|| AzureNamingRules::key_vault_name(&spec.name, &spec.environment)),
            registry: overrides
                .registry
                .clone()
                .unwrap_or_else(|| AzureNamingRules::registry_name(&spec.name, &spec.environment)),
            naming,
        }
    }
    /// `<stack>-<env>-<part>` fitted to `max` characters.
    pub fn name(&self, part: &str, max: usize) -> String {
        self.naming.name(part, NameStyle::hyphenated(max))
    }
}

/// A value the spec lacks for Azure, as the typed spec error validation gives.
pub(crate) fn spec_error(error: ValidationError) -> ExpandError {
    ExpandError::Spec(SpecErrors::new(vec![error]))
}

/// Expands `spec` into the Azure resource graph, apps included. Names overridden in
/// `settings` are checked first (a typed [`ExpandError::Spec`] before any call). The location and
/// sizes are the values [`resolve`] picks for Azure; a missing location or a node pool
/// without a size is a typed [`ExpandError::Spec`] too.
pub fn expand(spec: &StackSpec, settings: &AzureSettings) -> Result<ResourceGraph, ExpandError> {
    let mut errors = Vec::new();
    settings.names.check(&mut errors);
    if !errors.is_empty() {
        return Err(ExpandError::Spec(SpecErrors::new(errors)));
    }
    let location = resolve::location(spec).map_err(spec_error)?.value;
    let n = Names::new(spec, &settings.names);
    let mut g = ResourceGraph::new();
    g.add(
        Resource::new(kinds::RESOURCE_GROUP, "main", &n.group).with_config(
            &ResourceGroupConfig {
                location: location.clone(),
            },
        )?,
    )?;
    network(spec, &n, &mut g)?;
    secrets(spec, &n, settings, &location, &mut g)?;
    registries(spec, &n, settings, &mut g)?;
    let mut cluster_ready = compute::cluster(spec, &n, settings, &mut g)?;
    cluster_ready.extend(existing::cluster(spec, &n, &mut g)?);
    compute::database(spec, &n, settings, &mut g)?;
    compute::cache(spec, &n, settings, &mut g)?;
    private::cache(spec, &n, &mut g)?;
    compute::identities(spec, &n, &mut g)?;
    multicloud_core::expand::apps(spec, &mut g, cluster_ready, data_service)?;
    // The engine checks the graph (known dependencies, no cycle) before planning.
    Ok(g)
}

/// Data service `service` of `spec` as apps (and `Stack::database_url` / `cache_url`) reach
/// it: `database/main` with its admin-password secret ([`DB_PASSWORD_SECRET`]), `cache/main`
/// with its access-key secret ([`CACHE_KEY_SECRET`]); what `AzureProvider`'s
/// `CloudProvider::data_service` answers.
pub fn data_service(spec: &StackSpec, service: Connection) -> Option<ServiceAnchor> {
    let credential = match service {
        Connection::Database => DB_PASSWORD_SECRET,
        Connection::Cache => CACHE_KEY_SECRET,
    };
    ServiceAnchor::neutral(spec, service)
        .map(|a| a.with_credential(ResourceId::new(ResourceKind::SECRET, credential)))
}

/// The virtual network (cluster subnet, database subnet delegated to PostgreSQL) and, with a
/// database, the private DNS zone and its link.
fn network(spec: &StackSpec, n: &Names, g: &mut ResourceGraph) -> Result<(), ExpandError> {
    if let Some(existing) = &spec.existing_network {
        existing::network(spec, existing, g)?;
        return private_dns(spec, n, g);
    }
    let Some(net) = &spec.network else {
        return Ok(());
    };
    let prefixes: Vec<&String> = net
        .private_subnets
        .iter()
        .chain(&net.public_subnets)
        .collect();
    let nat_gateway = nat_gateway(net, n, g)?;
    let mut subnets = vec![SubnetConfig {
        name: "cluster".into(),
        prefix: prefixes.first().map(|s| s.to_string()).unwrap_or_default(),
        delegation: None,
        nat_gateway: nat_gateway.clone(),
    }];
    if spec.database.is_some() {
        subnets.push(SubnetConfig {
            name: "database".into(),
            prefix: prefixes.get(1).map(|s| s.to_string()).unwrap_or_default(),
            delegation: Some(POSTGRES_DELEGATION.into()),
            nat_gateway: None,
        });
    }
    g.add(
        Resource::new(kinds::VIRTUAL_NETWORK, "main", n.name("vnet", 64))
            .depends_on(&ids::group())
            .depends_on_all(nat_gateway.as_slice())
            .with_config(&VirtualNetworkConfig {
                resource_group: n.group.clone(),
                address_space: net.cidr.clone(),
                subnets,
            })?,
    )?;
    private_dns(spec, n, g)
}

/// With `network.azure.outbound: nat_gateway`, the nodes' NAT gateway and its public IP;
/// returns the gateway.
fn nat_gateway(
    net: &Network,
    n: &Names,
    g: &mut ResourceGraph,
) -> Result<Option<ResourceId>, ExpandError> {
    if net.azure.outbound != AksOutbound::NatGateway {
        return Ok(None);
    }
    g.add(
        Resource::new(kinds::PUBLIC_IP, "nat", n.name("nat-ip", 80))
            .depends_on(&ids::group())
            .with_config(&PublicIpConfig {
                resource_group: n.group.clone(),
            })?,
    )?;
    g.add(
        Resource::new(kinds::NAT_GATEWAY, "main", n.name("nat", 80))
            .depends_on(&ids::group())
            .depends_on(&ids::public_ip())
            .with_config(&NatGatewayConfig {
                resource_group: n.group.clone(),
                public_ip: ids::public_ip(),
            })?,
    )?;
    Ok(Some(ids::nat_gateway()))
}

/// With a database, the private DNS zone of its private access and the zone's link to the
/// virtual network.
fn private_dns(spec: &StackSpec, n: &Names, g: &mut ResourceGraph) -> Result<(), ExpandError> {
    if spec.database.is_none() {
        return Ok(());
    }
    let zone = format!("{}.private.postgres.database.azure.com", n.name("pg", 63));
    g.add(
        Resource::new(kinds::PRIVATE_DNS_ZONE, "main", &zone)
            .depends_on(&ids::group())
            .with_config(&PrivateDnsZoneConfig {
                resource_group: n.group.clone(),
            })?,
    )?;
    g.add(
        Resource::new(kinds::DNS_ZONE_LINK, "main", n.name("link", 80))
            .depends_on(&ids::zone())
            .depends_on(&ids::vnet())
            .with_config(&DnsZoneLinkConfig {
                resource_group: n.group.clone(),
                zone,
                virtual_network: ids::vnet(),
            })?,
    )?;
    Ok(())
}

/// Whether the stack needs a Key Vault (secrets, the database password, the cache key).
fn needs_vault(spec: &StackSpec) -> bool {
    !spec.secrets.is_empty() || spec.database.is_some() || spec.cache.is_some()
}

/// The Key Vault in `location` (after the purge of its name) and the spec's secrets.
fn secrets(
    spec: &StackSpec,
    n: &Names,
    settings: &AzureSettings,
    location: &str,
    g: &mut ResourceGraph,
) -> Result<(), ExpandError> {
    if !needs_vault(spec) {
        return Ok(());
    }
    g.add(
        Resource::new(kinds::VAULT_PURGE, "main", &n.vault).with_config(&VaultPurgeConfig {
            location: location.to_string(),
        })?,
    )?;
    g.add(
        Resource::new(kinds::KEY_VAULT, "main", &n.vault)
            .depends_on(&ids::group())
            .depends_on(&ids::vault_purge())
            .with_config(&KeyVaultConfig {
                resource_group: n.group.clone(),
                sku: "standard".into(),
                soft_delete_retention_days: settings.soft_delete_days,
            })?,
    )?;
    if let Some((object_id, principal_type)) = &settings.deployer {
        g.add(compute::deployer_role(n, object_id, principal_type)?)?;
    }
    for s in &spec.secrets {
        let source = match &s.source {
            SecretSource::Generated { length } => SecretSourceConfig::Generated { length: *length },
            SecretSource::FromEnv { var } => SecretSourceConfig::FromEnv { var: var.clone() },
        };
        g.add(secret(&s.name, source, &[], deployer_dep(settings))?)?;
    }
    Ok(())
}

/// The deployer's role assignment, when there is one (secrets wait for it).
pub(crate) fn deployer_dep(settings: &AzureSettings) -> Option<ResourceId> {
    settings.deployer.as_ref().map(|_| ids::deployer_role())
}

/// `secret/<name>`: a Key Vault secret in the stack's vault, after `deps` (and the
/// deployer's role assignment, when there is one).
pub(crate) fn secret(
    name: &str,
    source: SecretSourceConfig,
    deps: &[ResourceId],
    deployer: Option<ResourceId>,
) -> Result<Resource, ExpandError> {
    Ok(Resource::new(ResourceKind::SECRET, name, name)
        .depends_on(&ids::vault())
        .depends_on_all(deps)
        .depends_on_all(deployer.iter())
        .with_config(&SecretConfig {
            vault: ids::vault(),
            source,
        })?)
}

/// The ACR and one repository per spec registry.
fn registries(
    spec: &StackSpec,
    n: &Names,
    settings: &AzureSettings,
    g: &mut ResourceGraph,
) -> Result<(), ExpandError> {
    if spec.registries.is_empty() {
        return Ok(());
    }
    g.add(
        Resource::new(kinds::CONTAINER_REGISTRY, "main", &n.registry)
            .depends_on(&ids::group())
            .with_config(&ContainerRegistryConfig {
                resource_group: n.group.clone(),
                sku: settings.registry_sku.clone(),
            })?,
    )?;
    for reg in &spec.registries {
        g.add(
            Resource::new(ResourceKind::REGISTRY, &reg.name, &reg.name)
                .depends_on(&ids::acr())
                .with_config(&RepositoryConfig {
                    registry: ids::acr(),
                    keep_images: reg.keep_images,
                })?,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use multicloud_core::spec::WorkloadIdentity;
    use multicloud_core::spec::{App, Cluster, Network, NodePool, RegistrySpec, SecretSpec};

    use super::*;

    fn deps(g: &ResourceGraph, id: &str) -> Vec<String> {
        g.get(&ResourceId::from(id))
            .map(|r| r.depends_on.iter().map(ToString::to_string).collect())
            .unwrap_or_else(|| panic!("{id} not in the graph"))
    }

    #[test]
    fn apps_hang_off_the_pools_and_their_identity_through_the_core_expansion() {
        let spec = StackSpec::builder("shop")
            .environment("dev")
            .region("westeurope")
            .network(Network::default())
            .cluster(Cluster::new("1.31").node_pool(NodePool::new(
                "general",
                "Standard_D4s_v5",
                1,
                3,
            )))
            .registry(RegistrySpec::new("api"))
            .secret(SecretSpec::generated("token", 16))
            .workload_identity(WorkloadIdentity::new("shop", "api").can_read_secret("token"))
            .app(
                App::new("api")
                    .namespace("shop")
                    .service_account("api")
                    .image_from_registry("api", "v1")
                    .env_from_secret("TOKEN", "token"),
            )
            .build_unchecked();
        let g = expand(&spec, &AzureSettings::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(deps(&g, "namespace/shop"), ["node_pool/general"]);
        assert!(
            deps(&g, "service_account/shop.api").contains(&"workload_identity/shop-api".into())
        );
        assert!(deps(&g, "pull_secret/shop").contains(&"registry/api".into()));
        assert!(deps(&g, "synced_secret/shop.token").contains(&"secret/token".into()));
        assert!(deps(&g, "federated_credential/shop-api").contains(&"cluster/main".into()));
        assert_eq!(
            deps(&g, "role_assignment/shop-api-secrets"),
            [
                "key_vault/main",
                "workload_identity/shop-api",
                "secret/token"
            ]
        );
        let vault = g.get(&ids::vault()).unwrap_or_else(|| panic!("vault"));
        assert_eq!(vault.name, "shop-dev-kv");
        assert!(vault.depends_on.contains(&ids::vault_purge()));
    }

    #[test]
    fn overridden_names_are_checked_before_anything() {
        let spec = StackSpec::builder("shop")
            .region("westeurope")
            .build_unchecked();
        let mut settings = AzureSettings::default();
        settings.names.key_vault = Some("x".repeat(25));
        settings.names.registry = Some("my-acr".into());
        match expand(&spec, &settings) {
            Err(ExpandError::Spec(e)) => {
                assert!(
                    e.at("azure.key_vault_name").is_some() && e.at("azure.registry_name").is_some()
                );
            }
            other => panic!("expected a spec error, got {other:?}"),
        }
    }

    #[test]
    fn a_cache_is_private_with_a_network_and_public_without_one() {
        use multicloud_core::spec::Redis;
        let spec = |network: bool| {
            let b = StackSpec::builder("shop")
                .environment("dev")
                .region("westeurope")
                .cache(Redis::new("7.4"));
            let b = if network {
                b.network(Network::default())
            } else {
                b
            };
            b.build_unchecked()
        };
        let private =
            expand(&spec(true), &AzureSettings::default()).unwrap_or_else(|e| panic!("{e}"));
        let cache = private
            .get(&ids::cache())
            .unwrap_or_else(|| panic!("cache"));
        let config: crate::model::CacheConfig = cache.config_as().unwrap_or_else(|e| panic!("{e}"));
        assert!(config.private);
        assert_eq!(
            deps(&private, "private_endpoint/cache"),
            ["cache/main", "virtual_network/main"]
        );
        assert_eq!(
            deps(&private, "private_dns_zone_group/cache"),
            [
                "private_endpoint/cache",
                "private_dns_zone/redis",
                "dns_zone_link/redis"
            ]
        );
        let zone = private
            .get(&ids::redis_zone())
            .unwrap_or_else(|| panic!("zone"));
        assert_eq!(zone.name, "privatelink.redis.azure.net");

        let public =
            expand(&spec(false), &AzureSettings::default()).unwrap_or_else(|e| panic!("{e}"));
        let cache = public.get(&ids::cache()).unwrap_or_else(|| panic!("cache"));
        let config: crate::model::CacheConfig = cache.config_as().unwrap_or_else(|e| panic!("{e}"));
        assert!(!config.private, "no network: no way in but the public one");
        assert!(public.get(&ids::cache_endpoint()).is_none());
    }
}
