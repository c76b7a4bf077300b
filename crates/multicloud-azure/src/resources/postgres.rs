//! The PostgreSQL flexible server (`Microsoft.DBforPostgreSQL/flexibleServers`, api-version
//! [`POSTGRESQL`](crate::arm::api_versions::POSTGRESQL), after
//! `ServersCreateInMicrosoftOwnedVirtualNetworkWithZoneRedundantHighAvailability.json`,
//! `ServersGet.json` and `ServersDelete.json`) with private access: the delegated subnet and
//! the private DNS zone, public network access disabled. Its administrator password is read
//! from Key Vault (the `secret` it depends on) for the PUT and never recorded.

use multicloud_core::ProviderError;
use multicloud_core::outputs::{DatabaseOutputs, SecretOutputs};
use multicloud_core::provider::{OpContext, Outputs, Owner};
use serde_json::{Value, json};

use crate::arm::api_versions;
use crate::arm_ops::{arm_kind, field, tags};
use crate::context::AzureContext;
use crate::model::{ArmOutputs, DatabaseConfig, NetworkOutputs, PostgresDatabaseConfig};

/// The PostgreSQL port.
pub const PORT: u16 = 5432;

const SERVERS: &str = "Microsoft.DBforPostgreSQL/flexibleServers";

/// The server's PUT body but for its administrator password.
fn settings(ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
    let c: DatabaseConfig = ctx.config()?;
    let net: NetworkOutputs = ctx.dep(&c.network)?;
    let subnet = net.database_subnet_id.ok_or_else(|| {
        ProviderError::invalid(format!("{}: no delegated subnet", ctx.resource.id))
    })?;
    let zone = ctx.dep_str(&c.dns_zone, "id")?;
    Ok(json!({
        "location": ctx.stack.region,
        "tags": tags(ctx),
        "sku": {"name": c.sku, "tier": c.tier},
        "properties": {
            "createMode": "Create",
            "version": c.version,
            "administratorLogin": c.username,
            "storage": {"storageSizeGB": c.storage_gb},
            "network": {
                "publicNetworkAccess": "Disabled",
                "delegatedSubnetResourceId": subnet,
                "privateDnsZoneArmResourceId": zone,
            },
            "highAvailability": {"mode": "Disabled"},
            "backup": {"backupRetentionDays": 7, "geoRedundantBackup": "Disabled"},
            "authConfig": {"passwordAuth": "Enabled", "activeDirectoryAuth": "Disabled"},
        }
    }))
}

arm_kind! {
    /// [`ResourceKind::DATABASE`](multicloud_core::resource::ResourceKind::DATABASE).
    FlexibleServer: SERVERS, api_versions::POSTGRESQL, named in the group of DatabaseConfig;
    async fn body(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: DatabaseConfig = ctx.config()?;
        let secret: SecretOutputs = ctx.dep(&c.password_secret)?;
        let (vault, name) = super::secret::split_name(&secret.name)?;
        let password = super::secret::value(az, vault, name).await?;
        let mut body = settings(ctx)?;
        body["properties"]["administratorLoginPassword"] = json!(password.expose());
        Ok(body)
    }
    /// The version and the size (what the spec decides, and what `up` can put back).
    fn drift_checked(&self) -> &'static [&'static str] {
        &[
            "/sku",
            "/properties/version",
            "/properties/storage/storageSizeGB",
        ]
    }
    /// The body without the administrator password (no Key Vault read to observe).
    async fn drift_body(
        &self,
        _az: &AzureContext,
        ctx: &OpContext<'_>,
    ) -> Result<Value, ProviderError> {
        settings(ctx)
    }
    fn outputs(&self, ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        let c: DatabaseConfig = ctx.config()?;
        let secret = match ctx.recorded_str("password_secret") {
            Some(s) => s.to_string(),
            None => ctx.dep_str(&c.password_secret, "name")?.to_string(),
        };
        Outputs::of(&DatabaseOutputs {
            id: field(body, "/id", "flexible server")?.to_string(),
            host: field(
                body,
                "/properties/fullyQualifiedDomainName",
                "flexible server",
            )?
            .to_string(),
            port: PORT,
            database: c.database_name,
            username: c.username,
            password_secret: secret,
        })
    }
}

arm_kind! {
    /// [`POSTGRES_DATABASE`](crate::kinds::POSTGRES_DATABASE): the spec's database in the
    /// server (no tags of its own; it lives in our server).
    PostgresDatabase: "Microsoft.DBforPostgreSQL/flexibleServers/databases", api_versions::POSTGRESQL;
    fn path(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        let c: PostgresDatabaseConfig = ctx.config()?;
        let server = az.resource_path(&c.resource_group, SERVERS, &c.server);
        Ok(format!("{server}/databases/{}", ctx.resource.name))
    }
    async fn body(&self, _az: &AzureContext, _ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        Ok(json!({"properties": {"charset": "UTF8", "collation": "en_US.utf8"}}))
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        Outputs::of(&ArmOutputs {
            id: field(body, "/id", "database")?.to_string(),
            name: field(body, "/name", "database")?.to_string(),
        })
    }
    fn owner(&self, _ctx: &OpContext<'_>, _body: &Value) -> Owner {
        Owner::Us
    }
}
