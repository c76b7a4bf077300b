//! Secrets Manager ([`SecretsManager`]): secret resources and the [`SecretBackend`] data
//! plane.
//!
//! Config contract (see [`crate::expand`]): `{source: {generated: {length}} | {from_env:
//! {var}}, force_delete}`; the physical name is `<stack>/<env>/<name>`. Outputs: `name`,
//! `arn`, `version` (the `AWSCURRENT` version id).
//!
//! Values never leave this module except as [`SecretString`]: they are not put in outputs,
//! config, errors or logs. Adopting an existing secret (ours) never changes its value; a
//! secret of ours that is scheduled for deletion is restored (with its value) on create.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use multicloud_core::outputs::SecretOutputs;
use multicloud_core::provider::{
    Observation, OpContext, Outputs, Readiness, ResourceOps, SecretBackend, SecretRef,
};
use multicloud_core::{ProviderError, SecretString};

use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::model::{SecretConfig, SecretSourceConfig};
use crate::support::{
    deleted, ensure_ours, kind_ops, observed, read_or_none, sweep_with, tag_pairs,
};

/// Recovery window of a secret deleted without `force_delete`.
pub const RECOVERY_WINDOW_DAYS: i64 = 7;

kind_ops! {
    /// Secrets Manager secrets ([`ResourceKind::SECRET`]); also the provider's
    /// [`SecretBackend`] (secret values).
    ///
    /// [`ResourceKind::SECRET`]: multicloud_core::resource::ResourceKind::SECRET
    SecretsManager;
}

/// What `DescribeSecret` says about a secret (never its value).
#[derive(Debug, Clone)]
pub(crate) struct SecretInfo {
    /// Name.
    pub(crate) name: String,
    /// ARN.
    pub(crate) arn: String,
    /// The `AWSCURRENT` version id.
    pub(crate) version: Option<String>,
    /// Scheduled for deletion (`DeletedDate` set).
    pub(crate) deleted: bool,
    /// Tags.
    pub(crate) tags: Vec<(String, String)>,
}

impl SecretInfo {
    pub(crate) fn secret_ref(&self) -> SecretRef {
        SecretRef {
            name: self.name.clone(),
            id: self.arn.clone(),
            version: self.version.clone(),
        }
    }
}

/// The outputs of a secret resource.
pub(crate) fn secret_outputs(r: &SecretRef) -> Result<Outputs, ProviderError> {
    Outputs::of(&SecretOutputs {
        id: r.id.clone(),
        name: r.name.clone(),
        version: r.version.clone(),
    })
}

fn current_version<'a, I: IntoIterator<Item = (&'a String, &'a Vec<String>)>>(
    versions: I,
) -> Option<String> {
    versions
        .into_iter()
        .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
        .map(|(v, _)| v.clone())
}

/// `DescribeSecret`, `None` when there is no secret with that name.
pub(crate) async fn describe_secret(
    clients: &AwsClients,
    name: &str,
) -> Result<Option<SecretInfo>, ProviderError> {
    let res = clients
        .secrets
        .describe_secret()
        .secret_id(name)
        .send()
        .await;
    let Some(out) = read_or_none(res, "secretsmanager DescribeSecret")? else {
        return Ok(None);
    };
    Ok(Some(SecretInfo {
        name: out.name().unwrap_or(name).to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
        version: out.version_ids_to_stages().and_then(current_version),
        deleted: out.deleted_date().is_some(),
        tags: out
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
    }))
}

/// `CreateSecret` with `value` and `tags`.
pub(crate) async fn create_secret(
    clients: &AwsClients,
    name: &str,
    value: &SecretString,
    tags: &BTreeMap<String, String>,
) -> Result<SecretRef, ProviderError> {
    let tags = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let out = clients
        .secrets
        .create_secret()
        .name(name)
        .secret_string(value.expose())
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| classify(e, Op::Create, "secretsmanager CreateSecret"))?;
    Ok(SecretRef {
        name: out.name().unwrap_or(name).to_string(),
        id: out.arn().unwrap_or_default().to_string(),
        version: out.version_id().map(str::to_string),
    })
}

/// `PutSecretValue`: a new `AWSCURRENT` version.
pub(crate) async fn put_secret_value(
    clients: &AwsClients,
    name: &str,
    value: &SecretString,
) -> Result<SecretRef, ProviderError> {
    let out = clients
        .secrets
        .put_secret_value()
        .secret_id(name)
        .secret_string(value.expose())
        .send()
        .await
        .map_err(|e| classify(e, Op::Update, "secretsmanager PutSecretValue"))?;
    Ok(SecretRef {
        name: out.name().unwrap_or(name).to_string(),
        id: out.arn().unwrap_or_default().to_string(),
        version: out.version_id().map(str::to_string),
    })
}

/// `RestoreSecret`: cancels a scheduled deletion.
pub(crate) async fn restore_secret(clients: &AwsClients, name: &str) -> Result<(), ProviderError> {
    clients
        .secrets
        .restore_secret()
        .secret_id(name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify(e, Op::Update, "secretsmanager RestoreSecret"))
}

/// `GetSecretValue` of the current version.
pub(crate) async fn get_secret_value(
    clients: &AwsClients,
    name: &str,
) -> Result<SecretString, ProviderError> {
    let out = clients
        .secrets
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| classify(e, Op::Read, "secretsmanager GetSecretValue"))?;
    out.secret_string().map(SecretString::new).ok_or_else(|| {
        ProviderError::invalid(format!("secret {name} holds a binary value, not a string"))
    })
}

/// Deletes secret `name`: at once when `force`, else with a
/// [`RECOVERY_WINDOW_DAYS`]-day recovery window. Succeeds if it does not exist, or (without
/// `force`) is already scheduled for deletion.
pub(crate) async fn delete_secret(
    clients: &AwsClients,
    name: &str,
    force: bool,
) -> Result<(), ProviderError> {
    if force {
        return delete_secret_force(clients, name).await;
    }
    match describe_secret(clients, name).await? {
        None => return Ok(()),
        Some(info) if info.deleted => return Ok(()),
        Some(_) => {}
    }
    let res = clients
        .secrets
        .delete_secret()
        .secret_id(name)
        .recovery_window_in_days(RECOVERY_WINDOW_DAYS)
        .send()
        .await;
    deleted(res, "secretsmanager DeleteSecret")
}

/// Deletes secret `name` at once, without recovery window (also one already scheduled for
/// deletion). Succeeds if it does not exist.
pub(crate) async fn delete_secret_force(
    clients: &AwsClients,
    name: &str,
) -> Result<(), ProviderError> {
    let res = clients
        .secrets
        .delete_secret()
        .secret_id(name)
        .force_delete_without_recovery(true)
        .send()
        .await;
    deleted(res, "secretsmanager DeleteSecret")
}

/// The value a secret resource is created with, from its config `source`. A missing
/// environment variable is an `InvalidInput` error naming the variable.
fn source_value(ctx: &OpContext<'_>) -> Result<SecretString, ProviderError> {
    let SecretConfig { source, .. } = ctx.config()?;
    let var = match source {
        SecretSourceConfig::Generated { length } if length > 0 => {
            return Ok(SecretString::generate(length as usize));
        }
        SecretSourceConfig::Generated { .. } => {
            return Err(ProviderError::invalid(format!(
                "{}: source.generated.length must be a positive integer",
                ctx.resource.id
            )));
        }
        SecretSourceConfig::FromEnv { var } => var,
    };
    match std::env::var(&var) {
        Ok(v) if !v.is_empty() => Ok(SecretString::new(v)),
        Ok(_) => Err(ProviderError::invalid(format!(
            "{}: environment variable `{var}` (the source of secret {}) is empty",
            ctx.resource.id, ctx.resource.name
        ))),
        Err(std::env::VarError::NotPresent) => Err(ProviderError::invalid(format!(
            "{}: environment variable `{var}` (the source of secret {}) is not set",
            ctx.resource.id, ctx.resource.name
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(ProviderError::invalid(format!(
            "{}: environment variable `{var}` (the source of secret {}) is not valid UTF-8",
            ctx.resource.id, ctx.resource.name
        ))),
    }
}

/// Adopts the secret `info` when it is ours (restoring it if it is scheduled for deletion,
/// never touching its value), else fails with `ForeignResource`.
pub(crate) async fn adopt_secret(
    clients: &AwsClients,
    ctx: &OpContext<'_>,
    info: &SecretInfo,
) -> Result<SecretRef, ProviderError> {
    ensure_ours(ctx, tag_pairs(&info.tags))?;
    if info.deleted {
        restore_secret(clients, &info.name).await?;
    }
    Ok(info.secret_ref())
}

#[async_trait]
impl ResourceOps for SecretsManager {
    /// A secret scheduled for deletion is reported `Absent` (creating it restores it).
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        Ok(
            match describe_secret(&self.clients, &ctx.resource.name).await? {
                Some(info) if !info.deleted => observed(
                    ctx,
                    Some(&info.arn),
                    tag_pairs(&info.tags),
                    secret_outputs(&info.secret_ref())?,
                    None,
                ),
                _ => Observation::Absent,
            },
        )
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        if let Some(info) = describe_secret(&self.clients, &ctx.resource.name).await? {
            return secret_outputs(&adopt_secret(&self.clients, ctx, &info).await?);
        }
        let value = source_value(ctx)?;
        let r = create_secret(
            &self.clients,
            &ctx.resource.name,
            &value,
            &ctx.resource.tags,
        )
        .await?;
        secret_outputs(&r)
    }

    /// Config changes (`force_delete`, the source) never rewrite the value: the update only
    /// reads the current outputs. Rotate a value with [`SecretBackend::put_secret`].
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        match describe_secret(&self.clients, &ctx.resource.name).await? {
            Some(info) if !info.deleted => secret_outputs(&info.secret_ref()),
            _ => Err(ProviderError::not_found(format!(
                "secret {} does not exist",
                ctx.resource.name
            ))),
        }
    }

    fn supports_update(&self) -> bool {
        true
    }

    /// `force_delete` config: delete at once; else schedule deletion with a 7-day window.
    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        let SecretConfig { force_delete, .. } = ctx.config()?;
        delete_secret(&self.clients, &ctx.resource.name, force_delete).await
    }

    /// Gone when it does not exist or is scheduled for deletion.
    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        Ok(
            match describe_secret(&self.clients, &ctx.resource.name).await? {
                Some(info) if !info.deleted => Readiness::pending("exists"),
                _ => Readiness::ready(),
            },
        )
    }
}

// The sweeper deletes at once: what it sweeps is left behind.
sweep_with!(SecretsManager => delete_secret_force(name));

#[async_trait]
impl SecretBackend for SecretsManager {
    /// Puts a new version (restoring the secret if it is scheduled for deletion). A secret
    /// that does not exist is created **without ownership tags**: this data-plane call has
    /// no stack context. Stack secrets are created (tagged) as `secret` resources; use this
    /// to write values into them.
    async fn put_secret(
        &self,
        name: &str,
        value: &SecretString,
    ) -> Result<SecretRef, ProviderError> {
        match describe_secret(&self.clients, name).await? {
            None => create_secret(&self.clients, name, value, &BTreeMap::new()).await,
            Some(info) => {
                if info.deleted {
                    restore_secret(&self.clients, name).await?;
                }
                put_secret_value(&self.clients, name, value).await
            }
        }
    }

    async fn get_secret(&self, name: &str) -> Result<SecretString, ProviderError> {
        get_secret_value(&self.clients, name).await
    }

    /// Secrets (not scheduled for deletion) whose name starts with `prefix`.
    async fn list_secrets(&self, prefix: &str) -> Result<Vec<SecretRef>, ProviderError> {
        let mut req = self.clients.secrets.list_secrets();
        if !prefix.is_empty() {
            req = req.filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(prefix)
                    .build(),
            );
        }
        let mut pages = req.into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(e, Op::Read, "secretsmanager ListSecrets"))?;
            for s in page.secret_list() {
                let Some(name) = s.name() else { continue };
                if !name.starts_with(prefix) || s.deleted_date().is_some() {
                    continue;
                }
                found.push(SecretRef {
                    name: name.to_string(),
                    id: s.arn().unwrap_or_default().to_string(),
                    version: s.secret_versions_to_stages().and_then(current_version),
                });
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    async fn delete_secret(&self, name: &str, force: bool) -> Result<(), ProviderError> {
        delete_secret(&self.clients, name, force).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_version_is_the_one_staged_awscurrent() {
        let a = ("v1".to_string(), vec!["AWSPREVIOUS".to_string()]);
        let b = ("v2".to_string(), vec!["AWSCURRENT".to_string()]);
        let versions = [(&a.0, &a.1), (&b.0, &b.1)];
        assert_eq!(current_version(versions).as_deref(), Some("v2"));
        assert_eq!(current_version([(&a.0, &a.1)]), None);
    }
}
