//! The compute and data parts of the Azure graph: the AKS cluster and its agent pools (with
//! `AcrPull` for the kubelet identity), the PostgreSQL server, Azure Managed Redis, and the
//! workload identities with their federated credentials and role assignments.

use multicloud_core::expand::ExpandError;
use multicloud_core::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use multicloud_core::spec::{AksOutbound, StackSpec};
use multicloud_core::tags::{NameStyle, fit};

use super::{AzureSettings, CACHE_KEY_SECRET, DB_PASSWORD_SECRET, Names, ids, secret};
use crate::kinds;
use crate::model::{
    CacheConfig, ClusterConfig, DatabaseConfig, FederatedCredentialConfig, NodePoolConfig,
    PoolConfig, PostgresDatabaseConfig, Principal, RedisDatabaseConfig, RoleAssignmentConfig,
    SecretSourceConfig, WorkloadIdentityConfig,
};
use crate::resources::identity::AUDIENCE;
use crate::resources::role::{ACR_PULL, KEY_VAULT_SECRETS_OFFICER, KEY_VAULT_SECRETS_USER, guid};

/// `role_assignment/<key>`: `role` for `principal` at exactly `scope`, named by a GUID of
/// the stack, the key and the role.
fn role(
    n: &Names,
    key: &str,
    role: (&str, &str),
    scope: &ResourceId,
    principal: Principal,
    deps: &[ResourceId],
) -> Result<Resource, ExpandError> {
    let name = guid(&[&n.name("", 200), key, role.1]);
    Ok(Resource::new(kinds::ROLE_ASSIGNMENT, key, name)
        .depends_on(scope)
        .depends_on_all(deps)
        .with_config(&RoleAssignmentConfig {
            scope: scope.clone(),
            role: role.0.to_string(),
            role_definition: role.1.to_string(),
            principal,
        })?)
}

/// `Key Vault Secrets Officer` for the deployer on exactly the vault.
pub(super) fn deployer_role(
    n: &Names,
    object_id: &str,
    principal_type: &str,
) -> Result<Resource, ExpandError> {
    role(
        n,
        ids::deployer_role().key(),
        KEY_VAULT_SECRETS_OFFICER,
        &ids::vault(),
        Principal::Object {
            object_id: object_id.to_string(),
            principal_type: principal_type.to_string(),
        },
        &[],
    )
}

/// The AKS cluster, its user pools and `AcrPull` for its kubelet identity; returns the pools
/// (what the apps wait for).
pub(super) fn cluster(
    spec: &StackSpec,
    n: &Names,
    settings: &AzureSettings,
    g: &mut ResourceGraph,
) -> Result<Vec<ResourceId>, ExpandError> {
    let Some(cluster) = &spec.cluster else {
        return Ok(Vec::new());
    };
    let name = n.name("", 63);
    g.add(
        Resource::new(ResourceKind::CLUSTER, "main", &name)
            .depends_on(&ids::group())
            .depends_on(&ids::vnet())
            .with_config(&ClusterConfig {
                resource_group: n.group.clone(),
                version: cluster.version.clone(),
                dns_prefix: name.clone(),
                system_pool: PoolConfig {
                    vm_size: settings.system_vm_size.clone(),
                    min: 1,
                    max: 3,
                    count: 1,
                },
                network: ids::vnet(),
                disable_local_accounts: settings.disable_local_accounts,
                nat_gateway: spec
                    .network
                    .as_ref()
                    .is_some_and(|n| n.azure.outbound == AksOutbound::NatGateway),
            })?,
    )?;
    let mut pools = Vec::new();
    for (i, pool) in cluster.node_pools.iter().enumerate() {
        let vm_size = super::resolve::vm_size(pool, i).map_err(super::spec_error)?;
        let r = Resource::new(ResourceKind::NODE_POOL, &pool.name, &pool.name)
            .depends_on(&ids::cluster())
            .depends_on(&ids::vnet())
            .with_config(&NodePoolConfig {
                resource_group: n.group.clone(),
                cluster: name.clone(),
                pool: PoolConfig {
                    vm_size: vm_size.value,
                    min: pool.min,
                    max: pool.max,
                    count: pool.desired_count(),
                },
                network: ids::vnet(),
            })?;
        pools.push(r.id.clone());
        g.add(r)?;
    }
    kubelet_acr_pull(spec, n, g)?;
    Ok(pools)
}

/// `AcrPull` on the stack's ACR for the cluster's kubelet identity, when there are
/// registries (the stack's own cluster or an existing one).
pub(super) fn kubelet_acr_pull(
    spec: &StackSpec,
    n: &Names,
    g: &mut ResourceGraph,
) -> Result<(), ExpandError> {
    if !spec.registries.is_empty() {
        g.add(role(
            n,
            "kubelet-acr-pull",
            ACR_PULL,
            &ids::acr(),
            Principal::Kubelet {
                cluster: ids::cluster(),
            },
            &[ids::cluster()],
        )?)?;
    }
    Ok(())
}

/// The PostgreSQL tier of SKU `sku` (`Standard_B1ms` -> `Burstable`).
pub fn postgres_tier(sku: &str) -> &'static str {
    match sku.strip_prefix("Standard_").and_then(|s| s.chars().next()) {
        Some('B') => "Burstable",
        Some('E') => "MemoryOptimized",
        _ => "GeneralPurpose",
    }
}

/// The password secret, the flexible server and its database.
pub(super) fn database(
    spec: &StackSpec,
    n: &Names,
    settings: &AzureSettings,
    g: &mut ResourceGraph,
) -> Result<(), ExpandError> {
    let Some(db) = &spec.database else {
        return Ok(());
    };
    g.add(secret(
        DB_PASSWORD_SECRET,
        SecretSourceConfig::Generated { length: 32 },
        &[],
        super::deployer_dep(settings),
    )?)?;
    let sku = super::resolve::postgres_sku(db, &settings.postgres_sku).value;
    let server = n.name("pg", 63);
    let password = ResourceId::new(ResourceKind::SECRET, DB_PASSWORD_SECRET);
    g.add(
        Resource::new(ResourceKind::DATABASE, "main", &server)
            .depends_on(&ids::group())
            .depends_on(&ids::vnet())
            .depends_on(&ids::zone())
            .depends_on(&ids::zone_link())
            .depends_on(&password)
            .with_config(&DatabaseConfig {
                resource_group: n.group.clone(),
                version: db.version.clone(),
                tier: postgres_tier(&sku).to_string(),
                sku,
                storage_gb: db.storage_gb.max(32),
                username: db.username.clone(),
                password_secret: password,
                network: ids::vnet(),
                dns_zone: ids::zone(),
                database_name: db.database_name.clone(),
            })?,
    )?;
    g.add(
        Resource::new(
            kinds::POSTGRES_DATABASE,
            &db.database_name,
            &db.database_name,
        )
        .depends_on(&ids::database())
        .with_config(&PostgresDatabaseConfig {
            resource_group: n.group.clone(),
            server,
        })?,
    )?;
    Ok(())
}

/// The Azure Managed Redis cluster, its database and the access-key secret.
pub(super) fn cache(
    spec: &StackSpec,
    n: &Names,
    settings: &AzureSettings,
    g: &mut ResourceGraph,
) -> Result<(), ExpandError> {
    let Some(cache) = &spec.cache else {
        return Ok(());
    };
    let sku = super::resolve::redis_sku(cache, &settings.redis_sku).value;
    let name = n.name("redis", 60);
    g.add(
        Resource::new(ResourceKind::CACHE, "main", &name)
            .depends_on(&ids::group())
            .with_config(&CacheConfig {
                resource_group: n.group.clone(),
                sku,
                database: "default".into(),
                // With a network, reached through its private endpoint only.
                private: spec.has_network(),
            })?,
    )?;
    g.add(
        Resource::new(kinds::REDIS_DATABASE, "default", "default")
            .depends_on(&ids::cache())
            .with_config(&RedisDatabaseConfig {
                resource_group: n.group.clone(),
                cluster: name,
            })?,
    )?;
    g.add(secret(
        CACHE_KEY_SECRET,
        SecretSourceConfig::RedisAccessKey {
            database: ids::redis_database(),
        },
        &[ids::redis_database()],
        super::deployer_dep(settings),
    )?)?;
    Ok(())
}

/// One managed identity per workload identity, its federated credential, `Key Vault Secrets
/// User` on exactly the vault when it reads secrets, `AcrPull` on the ACR when it pulls.
pub(super) fn identities(
    spec: &StackSpec,
    n: &Names,
    g: &mut ResourceGraph,
) -> Result<(), ExpandError> {
    for w in &spec.workload_identities {
        let key = w.key();
        let id = ResourceId::new(ResourceKind::WORKLOAD_IDENTITY, &key);
        g.add(
            Resource::new(ResourceKind::WORKLOAD_IDENTITY, &key, n.name(&key, 128))
                .depends_on(&ids::group())
                .with_config(&WorkloadIdentityConfig {
                    resource_group: n.group.clone(),
                    namespace: w.namespace.clone(),
                    service_account: w.service_account.clone(),
                })?,
        )?;
        g.add(
            Resource::new(
                kinds::FEDERATED_CREDENTIAL,
                &key,
                // Federated credential names: 3-120 characters.
                fit(&format!("kubernetes-{key}"), NameStyle::hyphenated(120)),
            )
            .depends_on(&id)
            .depends_on(&ids::cluster())
            .with_config(&FederatedCredentialConfig {
                resource_group: n.group.clone(),
                identity: id.clone(),
                cluster: ids::cluster(),
                subject: w.subject(),
                audience: AUDIENCE.into(),
            })?,
        )?;
        let principal = || Principal::WorkloadIdentity {
            identity: id.clone(),
        };
        if !w.read_secrets.is_empty() {
            let secrets: Vec<ResourceId> = w
                .read_secrets
                .iter()
                .map(|s| ResourceId::new(ResourceKind::SECRET, s))
                .collect();
            let mut deps = vec![id.clone()];
            deps.extend(secrets);
            let r = role(
                n,
                &format!("{key}-secrets"),
                KEY_VAULT_SECRETS_USER,
                &ids::vault(),
                principal(),
                &deps,
            )?;
            g.add(r)?;
        }
        if !w.pull_registries.is_empty() {
            let r = role(
                n,
                &format!("{key}-acr-pull"),
                ACR_PULL,
                &ids::acr(),
                principal(),
                std::slice::from_ref(&id),
            )?;
            g.add(r)?;
        }
    }
    Ok(())
}
