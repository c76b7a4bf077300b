//! External Secrets Operator companions of a synced secret, for clusters that run ESO
//! (switched on with [`KubernetesWorkloads::with_external_secrets`](crate::KubernetesWorkloads::with_external_secrets)).
//!
//! Next to the Secret that `up` syncs directly (no webhook or operator on the critical path),
//! each synced secret gets, in its namespace and under its name, a `SecretStore` and an
//! `ExternalSecret` (`external-secrets.io/v1`). The ExternalSecret targets the same Secret
//! with `creationPolicy: Merge` and `deletionPolicy: Retain`, so ESO refreshes the value in the
//! background between runs while the Secret stays ours. Both are server-side applied with the
//! stack's labels and fingerprint, and deleted with the synced secret (only when they carry our
//! labels; any others are left alone).
//!
//! The store's provider block depends on the cloud:
//! - `aws` (and the in-memory test cloud `memory`, which stands for AWS here):
//!   `aws { service: SecretsManager, region: <stack region>, auth.jwt.serviceAccountRef }`,
//!   the remote key being the secret's name in Secrets Manager;
//! - `azure`: `azurekv { vaultUrl: <scheme and host of the secret id>, authType:
//!   WorkloadIdentity, serviceAccountRef }`, the remote key being the secret's name in the vault.
//!
//! The service account is the one in the namespace whose workload identity may read the secret
//! (`spec.workload_identities[].read_secrets`). Without one, or on another cloud, no ESO objects
//! are emitted for that secret (the reason is logged) and the direct sync alone keeps it.

use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use multicloud_core::ProviderError;
use multicloud_core::expand::SyncedSecretConfig;
use multicloud_core::observation::{Drift, FieldDrift};
use multicloud_core::outputs::SecretOutputs;
use multicloud_core::provider::{OpContext, Owner};
use multicloud_core::resource::{ResourceId, ResourceKind};
use serde_json::{Value, json};

use super::synced_secret::VALUE_KEY;
use crate::drift;
use crate::dynamic::{Target, apply_all, delete_ours, still_ours};
use crate::object::{owner_of, stamp};

/// The API group and version of the objects.
pub const API_VERSION: &str = "external-secrets.io/v1";
/// How often ESO refreshes the Secret from the cloud.
pub const REFRESH_INTERVAL: &str = "1h";

/// Where a `SecretStore` reads from: its provider block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreProvider {
    /// AWS Secrets Manager in `region`, authenticated as `service_account` (IRSA).
    AwsSecretsManager {
        /// The stack's region.
        region: String,
        /// The service account whose role may read the secret.
        service_account: String,
    },
    /// Azure Key Vault at `vault_url`, authenticated as `service_account` (workload identity).
    AzureKeyVault {
        /// `https://<vault>.vault.azure.net`.
        vault_url: String,
        /// The service account whose managed identity may read the secret.
        service_account: String,
    },
}

impl StoreProvider {
    /// The provider block and the remote key of `secret` on `cloud`, or why there is none.
    pub fn for_cloud(
        cloud: &str,
        region: &str,
        secret: &SecretOutputs,
        service_account: &str,
    ) -> Result<(Self, String), String> {
        let service_account = service_account.to_string();
        match cloud {
            "aws" | "memory" => Ok((
                Self::AwsSecretsManager {
                    region: region.to_string(),
                    service_account,
                },
                secret.name.clone(),
            )),
            "azure" => {
                let uri: http::Uri = secret.id.parse().map_err(|e| {
                    format!("the Key Vault secret id `{}` is not a URL: {e}", secret.id)
                })?;
                let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.authority()) else {
                    return Err(format!(
                        "the Key Vault secret id `{}` has no scheme and host",
                        secret.id
                    ));
                };
                // The name is `<vault>/<secret>`; the vault is in the URL.
                let key = secret.name.rsplit('/').next().unwrap_or(&secret.name);
                Ok((
                    Self::AzureKeyVault {
                        vault_url: format!("{scheme}://{host}"),
                        service_account,
                    },
                    key.to_string(),
                ))
            }
            other => Err(format!(
                "no External Secrets Operator provider for cloud `{other}`"
            )),
        }
    }

    /// The `spec.provider` block.
    pub fn block(&self) -> Value {
        match self {
            Self::AwsSecretsManager {
                region,
                service_account,
            } => json!({ "aws": {
                "service": "SecretsManager",
                "region": region,
                "auth": { "jwt": { "serviceAccountRef": { "name": service_account } } },
            }}),
            Self::AzureKeyVault {
                vault_url,
                service_account,
            } => json!({ "azurekv": {
                "vaultUrl": vault_url,
                "authType": "WorkloadIdentity",
                "serviceAccountRef": { "name": service_account },
            }}),
        }
    }
}

fn api_resource(kind: &str, plural: &str) -> ApiResource {
    let gvk = GroupVersionKind::gvk("external-secrets.io", "v1", kind);
    ApiResource::from_gvk_with_plural(&gvk, plural)
}

/// The `SecretStore` type.
pub fn secret_store_resource() -> ApiResource {
    api_resource("SecretStore", "secretstores")
}

/// The `ExternalSecret` type.
pub fn external_secret_resource() -> ApiResource {
    api_resource("ExternalSecret", "externalsecrets")
}

/// The `SecretStore` `name` in `namespace` (without labels).
pub fn secret_store(name: &str, namespace: &str, provider: &StoreProvider) -> DynamicObject {
    DynamicObject::new(name, &secret_store_resource())
        .within(namespace)
        .data(json!({ "spec": { "provider": provider.block() } }))
}

/// The `ExternalSecret` `name` in `namespace` (without labels): the value of `remote_key`
/// from store `name` into key [`VALUE_KEY`] of the existing Secret `name`, merged.
pub fn external_secret(name: &str, namespace: &str, remote_key: &str) -> DynamicObject {
    DynamicObject::new(name, &external_secret_resource())
        .within(namespace)
        .data(json!({ "spec": {
            "refreshInterval": REFRESH_INTERVAL,
            "secretStoreRef": { "kind": "SecretStore", "name": name },
            "target": { "name": name, "creationPolicy": "Merge", "deletionPolicy": "Retain" },
            "data": [{ "secretKey": VALUE_KEY, "remoteRef": { "key": remote_key } }],
        }}))
}

/// The companions of the synced secret of `ctx` (store first), with or without their spec.
fn targets(ctx: &OpContext<'_>, client: &Client) -> Result<Vec<Target>, ProviderError> {
    let config: SyncedSecretConfig = ctx.config()?;
    let ns = config.namespace.as_str();
    let name = ctx.resource.name.as_str();
    Ok([
        ("SecretStore", secret_store_resource()),
        ("ExternalSecret", external_secret_resource()),
    ]
    .into_iter()
    .map(|(kind, ar)| Target {
        api: Api::namespaced_with(client.clone(), ns, &ar),
        object: DynamicObject::new(name, &ar).within(ns),
        what: format!("{kind} {ns}/{name}"),
    })
    .collect())
}

/// The desired companions, stamped; `Err` holds why there are none.
fn desired(
    ctx: &OpContext<'_>,
    client: &Client,
) -> Result<Result<Vec<Target>, String>, ProviderError> {
    let config: SyncedSecretConfig = ctx.config()?;
    let Some(sa) = config.service_account.as_deref() else {
        return Ok(Err(format!(
            "no workload identity of namespace {} may read secret {}",
            config.namespace, config.secret
        )));
    };
    let source: SecretOutputs = ctx.dep(&ResourceId::new(ResourceKind::SECRET, &config.secret))?;
    let cloud = ctx.run()?.cloud.name();
    let (provider, key) = match StoreProvider::for_cloud(cloud, &ctx.stack.region, &source, sa) {
        Ok(p) => p,
        Err(reason) => return Ok(Err(reason)),
    };
    let name = ctx.resource.name.as_str();
    let mut targets = targets(ctx, client)?;
    let built = [
        secret_store(name, &config.namespace, &provider),
        external_secret(name, &config.namespace, &key),
    ];
    for (t, mut object) in targets.iter_mut().zip(built) {
        stamp(ctx, &mut object)?;
        t.object = object;
    }
    Ok(Ok(targets))
}

/// How the companions differ from what is wanted: one missing or drifted in the fields we
/// apply, or ours still there when none are wanted.
pub(crate) async fn drift(
    ctx: &OpContext<'_>,
    client: &Client,
) -> Result<Option<Drift>, ProviderError> {
    let targets = match desired(ctx, client)? {
        Ok(targets) => targets,
        Err(_) => {
            return Ok(pending_ours(ctx, client).await?.map(|still| {
                Drift::field(FieldDrift {
                    field: "External Secrets companions".into(),
                    expected: None,
                    live: Some(still),
                    note: None,
                    replaces: false,
                })
            }));
        }
    };
    let mut fields = Vec::new();
    for t in &targets {
        match t.live().await? {
            None => fields.push(FieldDrift::missing(&t.what, "present")),
            Some(live) if owner_of(ctx, &live) == Owner::Us => {
                let found = drift::object_drift(&t.api, &t.object, &live, &t.what).await?;
                fields.extend(drift::prefixed(&t.what, found));
            }
            Some(_) => {}
        }
    }
    Ok(Drift::of(fields))
}

/// Applies the companions (refusing any that exists without our labels); when none are
/// wanted, logs why and removes ours left from an earlier run.
pub(crate) async fn apply(ctx: &OpContext<'_>, client: &Client) -> Result<(), ProviderError> {
    let targets = match desired(ctx, client)? {
        Ok(targets) => targets,
        Err(reason) => {
            tracing::warn!(
                resource = %ctx.resource.id,
                "no External Secrets Operator objects: {reason}; the direct sync alone keeps the Secret"
            );
            return delete(ctx, client).await;
        }
    };
    apply_all(ctx, &targets).await
}

/// Deletes the companions that carry our labels (the ExternalSecret first); others are left
/// alone. Absent ones, or a cluster without the ESO types, are fine (so `down` cleans up even
/// when the switch was turned off after an `up` that emitted them).
pub(crate) async fn delete(ctx: &OpContext<'_>, client: &Client) -> Result<(), ProviderError> {
    delete_ours(ctx, &targets(ctx, client)?).await
}

/// What of ours is still there: `Some(message)` while a companion with our labels exists.
pub(crate) async fn pending_ours(
    ctx: &OpContext<'_>,
    client: &Client,
) -> Result<Option<String>, ProviderError> {
    still_ours(ctx, &targets(ctx, client)?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(id: &str, name: &str) -> SecretOutputs {
        SecretOutputs {
            id: id.into(),
            name: name.into(),
            version: None,
        }
    }

    #[test]
    fn aws_reads_secrets_manager_as_the_service_account() {
        let s = secret(
            "arn:aws:secretsmanager:eu-west-1:1:secret:shop/prod/db",
            "shop/prod/db",
        );
        let (p, key) = StoreProvider::for_cloud("aws", "eu-west-1", &s, "api").expect("aws");
        assert_eq!(key, "shop/prod/db");
        assert_eq!(
            p.block(),
            json!({ "aws": { "service": "SecretsManager", "region": "eu-west-1",
                "auth": { "jwt": { "serviceAccountRef": { "name": "api" } } } } })
        );
    }

    #[test]
    fn azure_reads_the_vault_of_the_secret_id_with_workload_identity() {
        let s = secret(
            "https://kv-shop.vault.azure.net/secrets/db/0123abcd",
            "kv-shop/db",
        );
        let (p, key) = StoreProvider::for_cloud("azure", "westeurope", &s, "api").expect("azure");
        assert_eq!(key, "db");
        assert_eq!(
            p.block(),
            json!({ "azurekv": { "vaultUrl": "https://kv-shop.vault.azure.net",
                "authType": "WorkloadIdentity", "serviceAccountRef": { "name": "api" } } })
        );
        let bad = secret("not a url", "kv/db");
        assert!(StoreProvider::for_cloud("azure", "westeurope", &bad, "api").is_err());
    }

    #[test]
    fn other_clouds_have_no_provider() {
        let s = secret("x", "y");
        let err = StoreProvider::for_cloud("gcp", "r", &s, "api").expect_err("none");
        assert!(err.contains("gcp"), "{err}");
    }
}
