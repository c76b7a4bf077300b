//! Key Vault (`Microsoft.KeyVault/vaults`, api-version
//! [`KEY_VAULT`](crate::arm::api_versions::KEY_VAULT), after `createVault.json`,
//! `getVault.json`, `deleteVault.json`, `getDeletedVault.json` and `purgeDeletedVault.json`):
//! RBAC authorization and soft delete on; and the purge of its name ([`VaultPurge`]), so a
//! torn-down stack's vault name is reusable at once.

use async_trait::async_trait;
use azure_core::http::Method;
use multicloud_core::provider::{
    Observation, Observed, OpContext, Outputs, Owner, Readiness, ResourceOps,
};
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::{Value, json};

use crate::arm::api_versions;
use crate::arm::lro::{self, LroHandle, LroMethod};
use crate::arm_ops::{arm_kind, field, foreign, owner_by_tags, tags};
use crate::context::AzureContext;
use crate::error::{Op, classify};
use crate::model::{KeyVaultConfig, VaultOutputs, VaultPurgeConfig};

arm_kind! {
    /// [`KEY_VAULT`](crate::kinds::KEY_VAULT).
    KeyVault: "Microsoft.KeyVault/vaults", api_versions::KEY_VAULT, named in the group of KeyVaultConfig;
    async fn body(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: KeyVaultConfig = ctx.config()?;
        Ok(json!({
            "location": ctx.stack.region,
            "tags": tags(ctx),
            "properties": {
                "tenantId": az.tenant,
                "sku": {"family": "A", "name": c.sku},
                "enableRbacAuthorization": true,
                "enableSoftDelete": true,
                "softDeleteRetentionInDays": c.soft_delete_retention_days,
                "publicNetworkAccess": "Enabled",
                "accessPolicies": [],
            }
        }))
    }
    /// Access stays RBAC-only (the role assignments the stack makes are the whole grant).
    fn drift_checked(&self) -> &'static [&'static str] {
        &["/properties/enableRbacAuthorization"]
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        Outputs::of(&VaultOutputs {
            id: field(body, "/id", "vault")?.to_string(),
            name: field(body, "/name", "vault")?.to_string(),
            uri: field(body, "/properties/vaultUri", "vault")?.to_string(),
        })
    }
}

/// [`VAULT_PURGE`](crate::kinds::VAULT_PURGE), an internal step: present while the name
/// is free of a soft-deleted vault; create purges a soft-deleted vault of ours under the name (a foreign
/// one is refused); delete (after the vault's) purges it.
#[derive(Debug)]
pub struct VaultPurge {
    az: std::sync::Arc<AzureContext>,
}

impl VaultPurge {
    /// On the shared context.
    pub fn new(az: std::sync::Arc<AzureContext>) -> Self {
        Self { az }
    }

    fn path(&self, ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        let c: VaultPurgeConfig = ctx.config()?;
        Ok(deleted_vault_path(
            &self.az,
            &c.location,
            &ctx.resource.name,
        ))
    }

    /// The soft-deleted vault under the name, if any.
    async fn deleted(&self, ctx: &OpContext<'_>) -> Result<Option<Value>, ProviderError> {
        deleted_vault(&self.az, &self.path(ctx)?).await
    }

    /// Purges the soft-deleted vault (one POST; its operation tracked).
    async fn purge(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        let path = format!("{}/purge", self.path(ctx)?);
        let url = self
            .az
            .arm
            .url(&path, api_versions::KEY_VAULT)
            .map_err(|e| classify(e, Op::Delete, "purge vault"))?;
        match lro::start(&self.az.arm, LroMethod::Post, url, None).await {
            Ok(started) => {
                self.az.tracker.track(&path, &started);
                Ok(())
            }
            Err(e) if e.kind(Op::Delete) == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(classify(
                e,
                Op::Delete,
                &format!("purge vault {}", ctx.resource.name),
            )),
        }
    }

    /// Done once nothing is soft-deleted under the name (the purge's operation first).
    async fn purged(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let path = format!("{}/purge", self.path(ctx)?);
        if let Some(handle) = self.az.tracker.get(&path) {
            let step = self
                .az
                .tracker
                .poll(&self.az.arm, &path, handle)
                .await
                .map_err(|e| classify(e, Op::Read, "purge vault"))?;
            if let r @ Readiness::Pending { .. } = step.into_readiness(|_| Ok(Outputs::new()))? {
                return Ok(r);
            }
        }
        Ok(match self.deleted(ctx).await? {
            None => Readiness::ready(),
            Some(_) => Readiness::pending("purging"),
        })
    }
}

/// `/subscriptions/<sub>/providers/Microsoft.KeyVault/locations/<loc>/deletedVaults/<name>`.
pub fn deleted_vault_path(az: &AzureContext, location: &str, name: &str) -> String {
    format!(
        "/subscriptions/{}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}",
        az.subscription
    )
}

/// GET of a soft-deleted vault; `None` on 404.
pub async fn deleted_vault(az: &AzureContext, path: &str) -> Result<Option<Value>, ProviderError> {
    az.arm
        .get_optional::<Value>(path, api_versions::KEY_VAULT)
        .await
        .map_err(|e| classify(e, Op::Read, "GET deleted vault"))
}

/// The owner of a soft-deleted vault, from the tags it had.
fn deleted_owner(ctx: &OpContext<'_>, body: &Value) -> Owner {
    let tags = body
        .pointer("/properties/tags")
        .cloned()
        .unwrap_or(Value::Null);
    owner_by_tags(ctx, &json!({ "tags": tags }))
}

#[async_trait]
impl ResourceOps for VaultPurge {
    /// Present (nothing to do) while the name is free of a soft-deleted vault, absent
    /// otherwise. The engine plans it as the internal step it is
    /// ([`KindDef::step`](multicloud_core::kind::KindDef::step)) until it is recorded.
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        Ok(match self.deleted(ctx).await? {
            Some(_) => Observation::Absent,
            None => Observation::Present(Observed::ours(Outputs::new())),
        })
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        if let Some(body) = self.deleted(ctx).await? {
            match deleted_owner(ctx, &body) {
                Owner::Us => self.purge(ctx).await?,
                owner => return Err(foreign(ctx, &owner)),
            }
        }
        Ok(Outputs::new())
    }

    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        self.purged(ctx).await
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        match self.deleted(ctx).await? {
            Some(body) if deleted_owner(ctx, &body) == Owner::Us => self.purge(ctx).await,
            _ => Ok(()),
        }
    }

    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        self.purged(ctx).await
    }
}

/// Purges the soft-deleted vault at `path` (the sweeper): one POST, waited for by
/// `LroHandle` polling outside the engine is the caller's business.
pub async fn start_purge(
    az: &AzureContext,
    path: &str,
) -> Result<Option<LroHandle>, ProviderError> {
    let url = az
        .arm
        .url(&format!("{path}/purge"), api_versions::KEY_VAULT)
        .map_err(|e| classify(e, Op::Delete, "purge vault"))?;
    let response = az
        .arm
        .send(Method::Post, url.clone(), None)
        .await
        .map_err(|e| classify(e, Op::Delete, "purge vault"))?;
    if response.status == 404 {
        return Ok(None);
    }
    match lro::begin(LroMethod::Post, url.as_str(), response) {
        Ok(lro::Started::Pending(h)) => Ok(Some(h)),
        Ok(lro::Started::Done(_)) => Ok(None),
        Err(e) => Err(classify(e, Op::Delete, "purge vault")),
    }
}
