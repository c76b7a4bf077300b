//! Azure Managed Redis (`Microsoft.Cache/redisEnterprise`, api-version
//! [`REDIS_ENTERPRISE`](crate::arm::api_versions::REDIS_ENTERPRISE), after
//! `RedisEnterpriseCreate.json`, `RedisEnterpriseDatabasesCreate.json` and
//! `RedisEnterpriseDatabasesListKeys.json`): the cluster (the stack's `cache`) and its
//! database; the access key is read with `listKeys` into a Key Vault secret, never state.
//! With a network the cluster takes no public traffic (`publicNetworkAccess: Disabled`):
//! apps reach it through a private endpoint ([`crate::resources::endpoint`]).

use multicloud_core::ProviderError;
use multicloud_core::outputs::CacheOutputs;
use multicloud_core::provider::{OpContext, Outputs, Owner};
use multicloud_core::secret::SecretString;
use serde_json::{Value, json};

use crate::arm::api_versions;
use crate::arm_ops::{arm_kind, field, tags};
use crate::context::AzureContext;
use crate::error::{Op, classify};
use crate::model::{ArmOutputs, CacheConfig, RedisDatabaseConfig};

/// The port of the database (Azure Managed Redis serves TLS on 10000).
pub const PORT: u16 = 10000;

const CLUSTERS: &str = "Microsoft.Cache/redisEnterprise";

arm_kind! {
    /// [`ResourceKind::CACHE`](multicloud_core::resource::ResourceKind::CACHE).
    RedisCluster: CLUSTERS, api_versions::REDIS_ENTERPRISE, named in the group of CacheConfig;
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: CacheConfig = ctx.config()?;
        let access = if c.private { "Disabled" } else { "Enabled" };
        Ok(json!({
            "location": ctx.stack.region,
            "tags": tags(ctx),
            "sku": {"name": c.sku},
            "properties": {"minimumTlsVersion": "1.2", "highAvailability": "Disabled",
                           "publicNetworkAccess": access},
        }))
    }
    fn drift_checked(&self) -> &'static [&'static str] {
        // Public access turned on by hand opens the cache to the internet; the size is the
        // spec's.
        &["/sku", "/properties/publicNetworkAccess"]
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        Outputs::of(&CacheOutputs {
            id: field(body, "/id", "redisEnterprise")?.to_string(),
            host: field(body, "/properties/hostName", "redisEnterprise")?.to_string(),
            port: PORT,
            // Azure Managed Redis takes TLS connections only (`clientProtocol: Encrypted`).
            tls: true,
        })
    }
}

arm_kind! {
    /// [`REDIS_DATABASE`](crate::kinds::REDIS_DATABASE) (no tags of its own).
    RedisDatabase: "Microsoft.Cache/redisEnterprise/databases", api_versions::REDIS_ENTERPRISE;
    fn path(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        let c: RedisDatabaseConfig = ctx.config()?;
        let cluster = az.resource_path(&c.resource_group, CLUSTERS, &c.cluster);
        Ok(format!("{cluster}/databases/{}", ctx.resource.name))
    }
    async fn body(&self, _az: &AzureContext, _ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        Ok(json!({
            "properties": {
                "clientProtocol": "Encrypted",
                "port": PORT,
                "clusteringPolicy": "OSSCluster",
                "evictionPolicy": "NoEviction",
                "accessKeysAuthentication": "Enabled",
            }
        }))
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        Outputs::of(&ArmOutputs {
            id: field(body, "/id", "redis database")?.to_string(),
            name: field(body, "/name", "redis database")?.to_string(),
        })
    }
    fn owner(&self, _ctx: &OpContext<'_>, _body: &Value) -> Owner {
        Owner::Us
    }
}

/// The primary access key of the database with ARM id `database_id` (`POST .../listKeys`).
pub async fn access_key(
    az: &AzureContext,
    database_id: &str,
) -> Result<SecretString, ProviderError> {
    let body = az
        .arm
        .post_action(database_id, "listKeys", api_versions::REDIS_ENTERPRISE)
        .await
        .map_err(|e| classify(e, Op::Read, "redisEnterprise listKeys"))?;
    Ok(SecretString::new(field(&body, "/primaryKey", "listKeys")?))
}
