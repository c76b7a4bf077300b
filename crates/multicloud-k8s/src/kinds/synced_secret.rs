//! `synced_secret/<ns>.<secret>`: a Kubernetes Secret holding the current value of a stack
//! secret, read straight from the provider's `SecretBackend` (no webhook on the critical path).
//! The source version is an annotation, so a new version in the cloud makes the next `up`
//! sync again. The value is under the key [`VALUE_KEY`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::Api;
use multicloud_core::ProviderError;
use multicloud_core::expand::SyncedSecretConfig;
use multicloud_core::outputs::SecretOutputs;
use multicloud_core::provider::OpContext;
use multicloud_core::resource::{ResourceId, ResourceKind};

use crate::object::ObjectKind;

/// The data key holding the secret's value (what `secretKeyRef.key` names).
pub const VALUE_KEY: &str = "value";
/// Annotation: the version of the cloud secret the value was read from.
pub const ANNOTATION_SOURCE_VERSION: &str = "multicloud.dev/source-version";

/// The synced secret kind.
pub(crate) struct SyncedSecretKind;

fn source(ctx: &OpContext<'_>) -> Result<SecretOutputs, ProviderError> {
    let config: SyncedSecretConfig = ctx.config()?;
    ctx.dep(&ResourceId::new(ResourceKind::SECRET, &config.secret))
}

#[async_trait]
impl ObjectKind for SyncedSecretKind {
    type K = Secret;
    const WHAT: &'static str = "synced secret";

    fn api(client: Client, namespace: &str) -> Api<Secret> {
        Api::namespaced(client, namespace)
    }
    fn namespace(ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        Ok(ctx.config::<SyncedSecretConfig>()?.namespace)
    }
    fn build(ctx: &OpContext<'_>, mut meta: ObjectMeta) -> Result<Secret, ProviderError> {
        let version = source(ctx)?.version.unwrap_or_default();
        meta.annotations = Some(BTreeMap::from([(
            ANNOTATION_SOURCE_VERSION.to_string(),
            version,
        )]));
        Ok(Secret {
            metadata: meta,
            type_: Some("Opaque".to_string()),
            ..Secret::default()
        })
    }
    async fn fill(ctx: &OpContext<'_>, secret: &mut Secret) -> Result<(), ProviderError> {
        let name = source(ctx)?.name;
        let value = ctx.run()?.cloud.secrets().get_secret(&name).await?;
        secret.data = Some(BTreeMap::from([(
            VALUE_KEY.to_string(),
            ByteString(value.expose().as_bytes().to_vec()),
        )]));
        Ok(())
    }
}
