//! Key Vault secrets through the official data-plane client
//! (`azure_security_keyvault_secrets::SecretClient`, api-version
//! [`KEY_VAULT_SECRETS`](crate::arm::api_versions::KEY_VAULT_SECRETS)): the
//! [`ResourceKind::SECRET`](multicloud_core::resource::ResourceKind::SECRET) resources and the
//! provider's [`SecretBackend`](multicloud_core::provider::SecretBackend) operations.
//!
//! On Azure a secret's name in the secret store is `<vault>/<secret>` (the vault is part of
//! the address): that is what [`SecretOutputs::name`] records and what
//! `get_secret`/`put_secret` take.

use std::collections::HashMap;

use async_trait::async_trait;
use azure_security_keyvault_secrets::models::{Secret, SetSecretParameters};
use futures::TryStreamExt;
use multicloud_core::outputs::SecretOutputs;
use multicloud_core::provider::{
    Observation, Observed, OpContext, Outputs, Owner, Readiness, ResourceOps, SecretBackend,
    SecretRef,
};
use multicloud_core::secret::SecretString;
use multicloud_core::{ErrorKind, ProviderError};

use crate::arm_ops::foreign;
use crate::context::AzureContext;
use crate::error::{ArmError, Op, classify};
use crate::model::{SecretConfig, SecretSourceConfig, VaultOutputs};

/// A data-plane error as a classified [`ProviderError`].
pub fn kv_error(e: azure_core::Error, op: Op, what: &str) -> ProviderError {
    let arm = match e.kind() {
        azure_core::error::ErrorKind::HttpResponse {
            status,
            error_code,
            raw_response,
        } => {
            // azure_core finds no code in a body whose strings hold escapes (Key Vault's
            // messages do, `\r\n`) and falls back to the status; the body's own innermost
            // code (`ForbiddenByRbac` under `Forbidden`) is the precise one.
            let from_body = raw_response
                .as_ref()
                .and_then(|r| crate::error::error_body(r.body()).0);
            ArmError::Service {
                status: u16::from(*status),
                code: from_body
                    .or_else(|| error_code.clone())
                    .unwrap_or_else(|| format!("HttpStatus{}", u16::from(*status))),
                message: e.to_string(),
                retry_after: None,
            }
        }
        azure_core::error::ErrorKind::Credential => ArmError::Credential {
            message: e.to_string(),
        },
        _ => ArmError::Transport {
            message: e.to_string(),
        },
    };
    classify(arm, op, what)
}

/// `<vault>/<secret>` split in two.
pub fn split_name(name: &str) -> Result<(&str, &str), ProviderError> {
    name.split_once('/').ok_or_else(|| {
        ProviderError::invalid(format!(
            "Azure secret names are `<vault>/<secret>`, got `{name}`"
        ))
    })
}

/// The reference of `secret` in `vault`.
fn reference(vault: &str, name: &str, secret: &Secret) -> SecretRef {
    let id = secret.id.clone().unwrap_or_default();
    let version = id
        .rsplit('/')
        .next()
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    SecretRef {
        name: format!("{vault}/{name}"),
        id,
        version,
    }
}

/// GET of secret `name` in `vault`; `None` when absent.
pub async fn read(
    az: &AzureContext,
    vault: &str,
    name: &str,
) -> Result<Option<Secret>, ProviderError> {
    let client = az.secret_client(vault)?;
    match client.get_secret(name, None).await {
        Ok(r) => r
            .into_model()
            .map(Some)
            .map_err(|e| kv_error(e, Op::Read, "Key Vault secret")),
        Err(e) => {
            let pe = kv_error(e, Op::Read, &format!("GET secret {vault}/{name}"));
            if pe.kind() == ErrorKind::NotFound {
                Ok(None)
            } else {
                Err(pe)
            }
        }
    }
}

/// Sets a new version of `name` in `vault` with `tags`.
pub async fn write(
    az: &AzureContext,
    vault: &str,
    name: &str,
    value: &SecretString,
    tags: Option<HashMap<String, String>>,
) -> Result<SecretRef, ProviderError> {
    let client = az.secret_client(vault)?;
    let what = format!("SET secret {vault}/{name}");
    let params = SetSecretParameters {
        value: Some(value.expose().to_string()),
        tags,
        ..Default::default()
    };
    let content = params
        .try_into()
        .map_err(|e| kv_error(e, Op::Create, &what))?;
    let secret = client
        .set_secret(name, content, None)
        .await
        .map_err(|e| kv_error(e, Op::Create, &what))?
        .into_model()
        .map_err(|e| kv_error(e, Op::Create, &what))?;
    Ok(reference(vault, name, &secret))
}

/// The value of `name` in `vault`.
pub async fn value(
    az: &AzureContext,
    vault: &str,
    name: &str,
) -> Result<SecretString, ProviderError> {
    let secret = read(az, vault, name)
        .await?
        .ok_or_else(|| ProviderError::not_found(format!("secret {vault}/{name} does not exist")))?;
    Ok(SecretString::new(secret.value.unwrap_or_default()))
}

/// The secrets of `vault` whose name starts with `prefix`.
pub async fn list(
    az: &AzureContext,
    vault: &str,
    prefix: &str,
) -> Result<Vec<SecretRef>, ProviderError> {
    let client = az.secret_client(vault)?;
    let what = format!("LIST secrets of {vault}");
    let items: Vec<_> = client
        .list_secret_properties(None)
        .map_err(|e| kv_error(e, Op::Read, &what))?
        .try_collect()
        .await
        .map_err(|e| kv_error(e, Op::Read, &what))?;
    let mut refs: Vec<SecretRef> = items
        .into_iter()
        .filter_map(|p| p.id)
        .filter_map(|id| {
            let name = id.trim_end_matches('/').rsplit('/').next()?.to_string();
            name.starts_with(prefix).then(|| SecretRef {
                name: format!("{vault}/{name}"),
                id,
                version: None,
            })
        })
        .collect();
    refs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(refs)
}

/// Deletes `name` (soft delete); with `purge`, purges it as well. Absent is success.
pub async fn remove(
    az: &AzureContext,
    vault: &str,
    name: &str,
    purge: bool,
) -> Result<(), ProviderError> {
    let client = az.secret_client(vault)?;
    let what = format!("DELETE secret {vault}/{name}");
    if let Err(e) = client.delete_secret(name, None).await {
        let pe = kv_error(e, Op::Delete, &what);
        if pe.kind() != ErrorKind::NotFound {
            return Err(pe);
        }
    }
    if purge {
        purge_deleted(az, vault, name).await?;
    }
    Ok(())
}

/// Purges soft-deleted secret `name`; absent is success.
pub async fn purge_deleted(
    az: &AzureContext,
    vault: &str,
    name: &str,
) -> Result<(), ProviderError> {
    let client = az.secret_client(vault)?;
    match client.purge_deleted_secret(name, None).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let pe = kv_error(e, Op::Delete, &format!("PURGE secret {vault}/{name}"));
            if pe.kind() == ErrorKind::NotFound {
                Ok(())
            } else {
                Err(pe)
            }
        }
    }
}

/// [`ResourceKind::SECRET`](multicloud_core::resource::ResourceKind::SECRET): a Key Vault
/// secret whose value is generated, read from the environment, or a Redis access key.
#[derive(Debug)]
pub struct KeyVaultSecret {
    az: std::sync::Arc<AzureContext>,
}

impl KeyVaultSecret {
    /// On the shared context.
    pub fn new(az: std::sync::Arc<AzureContext>) -> Self {
        Self { az }
    }

    fn vault(&self, ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        let c: SecretConfig = ctx.config()?;
        if let Some(name) = ctx.recorded_str("name").and_then(|n| n.split_once('/')) {
            return Ok(name.0.to_string());
        }
        Ok(ctx.dep::<VaultOutputs>(&c.vault)?.name)
    }

    fn outputs(&self, r: &SecretRef) -> Result<Outputs, ProviderError> {
        Outputs::of(&SecretOutputs {
            id: r.id.clone(),
            name: r.name.clone(),
            version: r.version.clone(),
        })
    }

    fn owner(&self, ctx: &OpContext<'_>, s: &Secret) -> Owner {
        ctx.stack.ownership.judge(
            s.tags
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }

    async fn source_value(&self, ctx: &OpContext<'_>) -> Result<SecretString, ProviderError> {
        let c: SecretConfig = ctx.config()?;
        match c.source {
            SecretSourceConfig::Generated { length } => Ok(generate(length as usize)),
            SecretSourceConfig::FromEnv { var } => {
                std::env::var(&var).map(SecretString::new).map_err(|_| {
                    ProviderError::invalid(format!(
                        "{}: environment variable {var} is not set",
                        ctx.resource.id
                    ))
                })
            }
            SecretSourceConfig::RedisAccessKey { database } => {
                let id = ctx.dep_str(&database, "id")?.to_string();
                super::redis::access_key(&self.az, &id).await
            }
        }
    }
}

/// A generated value with a lower-case letter, an upper-case letter, a digit and a symbol
/// (PostgreSQL flexible server wants three of the four).
pub fn generate(length: usize) -> SecretString {
    let body = SecretString::generate(length.saturating_sub(4).max(4));
    SecretString::new(format!("{}aZ7-", body.expose()))
}

#[async_trait]
impl ResourceOps for KeyVaultSecret {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let vault = self.vault(ctx)?;
        Ok(match read(&self.az, &vault, &ctx.resource.name).await? {
            None => Observation::Absent,
            Some(s) => {
                let r = reference(&vault, &ctx.resource.name, &s);
                Observation::Present(Observed {
                    provider_id: Some(r.id.clone()),
                    owner: self.owner(ctx, &s),
                    outputs: self.outputs(&r)?,
                    drift: None,
                    expires_at: None,
                    unhealthy: None,
                })
            }
        })
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let vault = self.vault(ctx)?;
        let name = &ctx.resource.name;
        if let Some(s) = read(&self.az, &vault, name).await? {
            return match self.owner(ctx, &s) {
                Owner::Us => self.outputs(&reference(&vault, name, &s)),
                owner => Err(foreign(ctx, &owner)),
            };
        }
        let value = self.source_value(ctx).await?;
        let tags = ctx.resource.tags.clone().into_iter().collect();
        match write(&self.az, &vault, name, &value, Some(tags)).await {
            Ok(r) => self.outputs(&r),
            // A soft-deleted secret of the same name holds it: purge, then the engine retries.
            Err(e) if e.kind() == ErrorKind::DependencyViolation => {
                purge_deleted(&self.az, &vault, name).await?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        let vault = self.vault(ctx)?;
        remove(&self.az, &vault, &ctx.resource.name, false).await
    }

    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let vault = self.vault(ctx)?;
        Ok(match read(&self.az, &vault, &ctx.resource.name).await? {
            None => Readiness::ready(),
            Some(_) => Readiness::pending("deleting"),
        })
    }
}

/// The secrets' ops are also the provider's secret store; secrets are named
/// `<vault>/<secret>` on Azure (see the module docs).
#[async_trait]
impl SecretBackend for KeyVaultSecret {
    async fn put_secret(
        &self,
        name: &str,
        value: &SecretString,
    ) -> Result<SecretRef, ProviderError> {
        let (vault, name) = split_name(name)?;
        write(&self.az, vault, name, value, None).await
    }
    async fn get_secret(&self, name: &str) -> Result<SecretString, ProviderError> {
        let (vault, name) = split_name(name)?;
        value(&self.az, vault, name).await
    }
    /// `prefix` is `<vault>/<name prefix>`.
    async fn list_secrets(&self, prefix: &str) -> Result<Vec<SecretRef>, ProviderError> {
        let (vault, prefix) = split_name(prefix)?;
        list(&self.az, vault, prefix).await
    }
    /// With `force`, the soft-deleted secret is purged as well (its name free at once).
    async fn delete_secret(&self, name: &str, force: bool) -> Result<(), ProviderError> {
        let (vault, name) = split_name(name)?;
        remove(&self.az, vault, name, force).await
    }
}
