//! `connection/<ns>.<service>`: the Kubernetes Secret `<stack>-<service>` holding an app's
//! connection to a data service of the stack — the variables of
//! [`multicloud_core::connect`] (`DATABASE_URL`, `PGPASSWORD`…, `REDIS_URL`…), built from the
//! service's outputs and its credential read from the cloud's secret store (the database's
//! real master password, the cache's key) at apply time, never from state. Apps take it with
//! `envFrom`.
//!
//! The annotation [`ANNOTATION_CONNECTION_VERSION`] is a hash of where the service is and
//! which version of its credential the values were read from: a rotated password or a moved
//! endpoint changes it, so the next `up` writes the Secret again, and the Deployments that
//! read it carry the same hash in their pod template, so they roll.

use std::collections::BTreeMap;

use async_trait::async_trait;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::Api;
use multicloud_core::ProviderError;
use multicloud_core::connect::ConnectionEnv;
use multicloud_core::expand::ConnectionConfig;
use multicloud_core::outputs::{CacheOutputs, DatabaseOutputs, SecretOutputs};
use multicloud_core::provider::OpContext;
use multicloud_core::secret::SecretString;
use multicloud_core::spec::Connection;
use serde_json::json;

use crate::object::{ObjectKind, fingerprint};

/// Annotation: the hash of the service's outputs and its credential's version.
pub const ANNOTATION_CONNECTION_VERSION: &str = "multicloud.dev/connection-version";

/// The connection kind.
pub(crate) struct ConnectionKind;

/// The credential's outputs (name in the secret store, version), if the service has one.
fn credential(
    ctx: &OpContext<'_>,
    config: &ConnectionConfig,
) -> Result<Option<SecretOutputs>, ProviderError> {
    config.credential.as_ref().map(|id| ctx.dep(id)).transpose()
}

/// The hash of where `config`'s service is and of its credential's version (what the
/// Secret and the pod templates of the apps reading it carry).
pub(crate) fn version(
    ctx: &OpContext<'_>,
    config: &ConnectionConfig,
) -> Result<String, ProviderError> {
    // The typed outputs only: what the variables are made of, not whatever else a cloud
    // records about the service (which may differ between a create and a later read).
    let target = match config.service {
        Connection::Database => json!(ctx.dep::<DatabaseOutputs>(&config.target)?),
        Connection::Cache => json!(ctx.dep::<CacheOutputs>(&config.target)?),
    };
    let credential = credential(ctx, config)?.map(|s| (s.name, s.version));
    fingerprint(&json!({ "service": target, "credential": credential }))
}

/// The variables of the connection, the credential read from the cloud's secret store.
async fn env(
    ctx: &OpContext<'_>,
    config: &ConnectionConfig,
) -> Result<ConnectionEnv, ProviderError> {
    let secrets = ctx.run()?.cloud.secrets();
    let credential = match credential(ctx, config)? {
        Some(s) => Some(secrets.get_secret(&s.name).await?),
        None => None,
    };
    match config.service {
        Connection::Database => {
            let db: DatabaseOutputs = ctx.dep(&config.target)?;
            let password = match credential {
                Some(p) => p,
                // The service's own reference to its password (an ARN, a vault secret name).
                None => secrets.get_secret(&db.password_secret).await?,
            };
            Ok(db.env(&password))
        }
        Connection::Cache => {
            let cache: CacheOutputs = ctx.dep(&config.target)?;
            Ok(cache.env(credential.as_ref()))
        }
    }
}

fn data(env: &ConnectionEnv) -> BTreeMap<String, ByteString> {
    env.iter()
        .map(|(k, v): (&String, &SecretString)| {
            (k.clone(), ByteString(v.expose().as_bytes().to_vec()))
        })
        .collect()
}

#[async_trait]
impl ObjectKind for ConnectionKind {
    type K = Secret;
    const WHAT: &'static str = "connection secret";

    fn api(client: Client, namespace: &str) -> Api<Secret> {
        Api::namespaced(client, namespace)
    }
    fn namespace(ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        Ok(ctx.config::<ConnectionConfig>()?.namespace)
    }
    fn build(ctx: &OpContext<'_>, mut meta: ObjectMeta) -> Result<Secret, ProviderError> {
        let config: ConnectionConfig = ctx.config()?;
        meta.annotations = Some(BTreeMap::from([(
            ANNOTATION_CONNECTION_VERSION.to_string(),
            version(ctx, &config)?,
        )]));
        Ok(Secret {
            metadata: meta,
            type_: Some("Opaque".to_string()),
            ..Secret::default()
        })
    }
    async fn fill(ctx: &OpContext<'_>, secret: &mut Secret) -> Result<(), ProviderError> {
        let config: ConnectionConfig = ctx.config()?;
        secret.data = Some(data(&env(ctx, &config).await?));
        Ok(())
    }
}
