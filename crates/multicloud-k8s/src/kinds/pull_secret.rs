//! `pull_secret/<ns>`: a `kubernetes.io/dockerconfigjson` Secret with pull credentials for
//! every registry of the stack, from the provider's `Registry::pull_credentials`. Its value
//! never reaches state; its expiry (ECR tokens last 12 h) is an annotation, so `up` renews it
//! before it runs out.

use std::collections::BTreeMap;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;
use kube::{Client, ResourceExt};
use multicloud_core::expand::NamespaceConfig;
use multicloud_core::outputs::RegistryOutputs;
use multicloud_core::provider::{OpContext, Outputs, RegistryCredentials};
use multicloud_core::resource::ResourceKind;
use multicloud_core::{ErrorKind, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::object::ObjectKind;

/// Annotation: the registries the secret holds credentials for (`{spec name: url}`, JSON).
pub const ANNOTATION_REGISTRIES: &str = "multicloud.dev/registries";
/// Annotation: when the earliest of its credentials expires (RFC 3339).
pub const ANNOTATION_CREDENTIALS_EXPIRE: &str = "multicloud.dev/credentials-expire-at";
/// The Secret type of image pull secrets.
pub const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";

/// What a pull secret reports: its name and the image URL of each registry, which the
/// Deployments read to name their images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullSecretOutputs {
    /// Secret name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Repository URL by the registry's spec name.
    pub registries: BTreeMap<String, String>,
}

/// The pull secret kind.
pub(crate) struct PullSecretKind;

/// `{spec name: url}` of the registries the resource depends on.
fn registries(ctx: &OpContext<'_>) -> Result<BTreeMap<String, RegistryOutputs>, ProviderError> {
    ctx.deps_of_kind(ResourceKind::REGISTRY)
        .map(|(id, outputs)| Ok((id.key().to_string(), outputs.read::<RegistryOutputs>(id)?)))
        .collect()
}

/// The `.dockerconfigjson` document for `creds`.
pub(crate) fn docker_config(creds: &[RegistryCredentials]) -> serde_json::Value {
    let auths: serde_json::Map<String, serde_json::Value> = creds
        .iter()
        .map(|c| {
            let auth = STANDARD.encode(format!("{}:{}", c.username, c.password.expose()));
            (
                c.server.clone(),
                json!({ "username": c.username, "password": c.password.expose(), "auth": auth }),
            )
        })
        .collect();
    json!({ "auths": auths })
}

#[async_trait]
impl ObjectKind for PullSecretKind {
    type K = Secret;
    const WHAT: &'static str = "pull secret";
    // Refused without its `.dockerconfigjson`, which only `fill` reads (from the cloud).
    const DRIFT_BY_DRY_RUN: bool = false;

    fn api(client: Client, namespace: &str) -> Api<Secret> {
        Api::namespaced(client, namespace)
    }
    fn namespace(ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        Ok(ctx.config::<NamespaceConfig>()?.namespace)
    }
    fn build(ctx: &OpContext<'_>, mut meta: ObjectMeta) -> Result<Secret, ProviderError> {
        let urls: BTreeMap<String, String> = registries(ctx)?
            .into_iter()
            .map(|(name, r)| (name, r.url))
            .collect();
        let urls = serde_json::to_string(&urls)
            .map_err(|e| ProviderError::new(ErrorKind::Other, e.to_string()))?;
        meta.annotations = Some(BTreeMap::from([(ANNOTATION_REGISTRIES.to_string(), urls)]));
        Ok(Secret {
            metadata: meta,
            type_: Some(DOCKER_CONFIG_JSON.to_string()),
            ..Secret::default()
        })
    }
    async fn fill(ctx: &OpContext<'_>, secret: &mut Secret) -> Result<(), ProviderError> {
        let registry = ctx.run()?.cloud.registry();
        let mut creds = Vec::new();
        for (_, outputs) in ctx.deps_of_kind(ResourceKind::REGISTRY) {
            creds.push(registry.pull_credentials(outputs).await?);
        }
        let config = serde_json::to_vec(&docker_config(&creds))
            .map_err(|e| ProviderError::new(ErrorKind::Other, e.to_string()))?;
        secret.data = Some(BTreeMap::from([(
            ".dockerconfigjson".to_string(),
            ByteString(config),
        )]));
        if let Some(first) = creds.iter().filter_map(|c| c.expires_at).min() {
            secret.annotations_mut().insert(
                ANNOTATION_CREDENTIALS_EXPIRE.to_string(),
                first.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        }
        Ok(())
    }
    fn outputs(live: &Secret) -> Result<Outputs, ProviderError> {
        let registries = live
            .annotations()
            .get(ANNOTATION_REGISTRIES)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        Outputs::of(&PullSecretOutputs {
            name: live.name_any(),
            namespace: live.namespace().unwrap_or_default(),
            registries,
        })
    }
    fn expires_at(live: &Secret) -> Option<DateTime<Utc>> {
        live.annotations()
            .get(ANNOTATION_CREDENTIALS_EXPIRE)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use multicloud_core::secret::SecretString;

    #[test]
    fn the_docker_config_has_one_auth_per_registry() {
        let creds = [RegistryCredentials {
            server: "123456789012.dkr.ecr.us-east-1.amazonaws.com".into(),
            username: "AWS".into(),
            password: SecretString::new("tok"),
            expires_at: None,
        }];
        let doc = docker_config(&creds);
        let auth = &doc["auths"]["123456789012.dkr.ecr.us-east-1.amazonaws.com"];
        assert_eq!(auth["username"], "AWS");
        assert_eq!(auth["auth"], STANDARD.encode("AWS:tok"));
    }
}
