//! Workload identities: a user-assigned managed identity per declared workload identity
//! (`Microsoft.ManagedIdentity/userAssignedIdentities`, api-version
//! [`MANAGED_IDENTITY`](crate::arm::api_versions::MANAGED_IDENTITY), after
//! `IdentityCreate.json`/`IdentityGet.json`/`IdentityDelete.json`) and its federated identity
//! credential trusting the cluster's OIDC issuer for exactly
//! `system:serviceaccount:<ns>:<sa>` with audience `api://AzureADTokenExchange` (after
//! `FederatedIdentityCredentialCreate.json`).

use multicloud_core::ProviderError;
use multicloud_core::outputs::ClusterOutputs;
use multicloud_core::provider::{OpContext, Outputs, Owner};
use serde_json::{Value, json};

use crate::arm::api_versions;
use crate::arm_ops::{arm_kind, field, tags};
use crate::context::AzureContext;
use crate::model::{
    FederatedCredentialConfig, FederatedCredentialOutputs, ManagedIdentityOutputs,
    WorkloadIdentityConfig,
};

/// The audience Entra workload identity federation expects.
pub const AUDIENCE: &str = "api://AzureADTokenExchange";

const IDENTITIES: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";

arm_kind! {
    /// [`ResourceKind::WORKLOAD_IDENTITY`](multicloud_core::resource::ResourceKind::WORKLOAD_IDENTITY).
    ManagedIdentity: IDENTITIES, api_versions::MANAGED_IDENTITY, named in the group of WorkloadIdentityConfig;
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        Ok(json!({"location": ctx.stack.region, "tags": tags(ctx)}))
    }
    fn outputs(&self, ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        let c: WorkloadIdentityConfig = ctx.config()?;
        Outputs::of(&ManagedIdentityOutputs {
            id: field(body, "/id", "managed identity")?.to_string(),
            identity: field(body, "/properties/clientId", "managed identity")?.to_string(),
            subject: Some(format!(
                "system:serviceaccount:{}:{}",
                c.namespace, c.service_account
            )),
            principal_id: field(body, "/properties/principalId", "managed identity")?.to_string(),
        })
    }
}

arm_kind! {
    /// [`FEDERATED_CREDENTIAL`](crate::kinds::FEDERATED_CREDENTIAL). It takes no tags; it lives
    /// under our identity, which is judged by its own.
    FederatedCredential: "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials", api_versions::MANAGED_IDENTITY;
    fn path(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        let c: FederatedCredentialConfig = ctx.config()?;
        let identity = match ctx.dep_str(&c.identity, "id") {
            Ok(id) => id.to_string(),
            Err(_) => az.resource_path(&c.resource_group, IDENTITIES, c.identity.key()),
        };
        Ok(format!(
            "{identity}/federatedIdentityCredentials/{}",
            ctx.resource.name
        ))
    }
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: FederatedCredentialConfig = ctx.config()?;
        let cluster: ClusterOutputs = ctx.dep(&c.cluster)?;
        let issuer = cluster.oidc_issuer.ok_or_else(|| {
            ProviderError::invalid(format!(
                "{}: the cluster has no OIDC issuer",
                ctx.resource.id
            ))
        })?;
        Ok(json!({
            "properties": {"issuer": issuer, "subject": c.subject, "audiences": [c.audience]},
        }))
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        let audiences = body
            .pointer("/properties/audiences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Outputs::of(&FederatedCredentialOutputs {
            id: field(body, "/id", "federated credential")?.to_string(),
            issuer: field(body, "/properties/issuer", "federated credential")?.to_string(),
            subject: field(body, "/properties/subject", "federated credential")?.to_string(),
            audiences,
        })
    }
    fn owner(&self, _ctx: &OpContext<'_>, _body: &Value) -> Owner {
        Owner::Us
    }
}
