//! `service_account/<ns>.<sa>`: the app's service account, annotated for the cloud's workload
//! identity from the identity's outputs: `eks.amazonaws.com/role-arn` on AWS;
//! `azure.workload.identity/client-id` on Azure, whose pods also need the label
//! `azure.workload.identity/use: "true"` (reported in the outputs for the Deployment).

use std::collections::BTreeMap;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;
use kube::{Client, ResourceExt};
use multicloud_core::expand::ServiceAccountConfig;
use multicloud_core::outputs::IdentityOutputs;
use multicloud_core::provider::{OpContext, Outputs};
use multicloud_core::{ErrorKind, ProviderError};
use serde::{Deserialize, Serialize};

use crate::object::ObjectKind;

/// The IRSA annotation (AWS).
pub const AWS_ROLE_ARN: &str = "eks.amazonaws.com/role-arn";
/// The workload identity annotation (Azure).
pub const AZURE_CLIENT_ID: &str = "azure.workload.identity/client-id";
/// The pod label Azure's workload identity webhook acts on.
pub const AZURE_USE_LABEL: &str = "azure.workload.identity/use";
/// The annotation for clouds without a native one (the in-memory test cloud).
pub const GENERIC_IDENTITY: &str = "multicloud.dev/identity";

/// What a service account reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccountOutputs {
    /// Its name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Labels its pods must carry for the identity to work.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
}

/// The annotation (key, value) naming `identity` on `cloud`.
pub fn identity_annotation(cloud: &str, identity: &IdentityOutputs) -> (String, String) {
    let key = match cloud {
        "aws" => AWS_ROLE_ARN,
        "azure" => AZURE_CLIENT_ID,
        _ => GENERIC_IDENTITY,
    };
    (key.to_string(), identity.identity.clone())
}

/// The service account kind.
pub(crate) struct ServiceAccountKind;

#[async_trait]
impl ObjectKind for ServiceAccountKind {
    type K = ServiceAccount;
    const WHAT: &'static str = "service account";

    fn api(client: Client, namespace: &str) -> Api<ServiceAccount> {
        Api::namespaced(client, namespace)
    }
    fn namespace(ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        Ok(ctx.config::<ServiceAccountConfig>()?.namespace)
    }
    fn build(ctx: &OpContext<'_>, mut meta: ObjectMeta) -> Result<ServiceAccount, ProviderError> {
        let config: ServiceAccountConfig = ctx.config()?;
        if let Some(id) = &config.identity {
            let identity: IdentityOutputs = ctx.dep(id)?;
            if identity.identity.is_empty() {
                return Err(ProviderError::new(
                    ErrorKind::InvalidConfig,
                    format!(
                        "{}: identity {id} has an empty identity output",
                        ctx.resource.id
                    ),
                ));
            }
            let (k, v) = identity_annotation(ctx.run()?.cloud.name(), &identity);
            meta.annotations = Some(BTreeMap::from([(k, v)]));
        }
        Ok(ServiceAccount {
            metadata: meta,
            ..ServiceAccount::default()
        })
    }
    fn outputs(live: &ServiceAccount) -> Result<Outputs, ProviderError> {
        let pod_labels = if live.annotations().contains_key(AZURE_CLIENT_ID) {
            BTreeMap::from([(AZURE_USE_LABEL.to_string(), "true".to_string())])
        } else {
            BTreeMap::new()
        };
        Outputs::of(&ServiceAccountOutputs {
            name: live.name_any(),
            namespace: live.namespace().unwrap_or_default(),
            pod_labels,
        })
    }
}
