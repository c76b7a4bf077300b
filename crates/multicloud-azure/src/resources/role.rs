//! Role assignments (`Microsoft.Authorization/roleAssignments`, api-version
//! [`AUTHORIZATION`](crate::arm::api_versions::AUTHORIZATION), after
//! `RoleAssignments_CreateForResourceGroup.json`, `RoleAssignments_Get.json` and
//! `RoleAssignments_Delete.json`): an extension resource at exactly its scope, named by a
//! GUID derived from the stack (role assignments take no tags: the ownership is written in
//! their `description`).

use async_trait::async_trait;
use multicloud_core::ProviderError;
use multicloud_core::provider::{OpContext, Outputs, Owner};
use multicloud_core::tags::{TAG_ENV, TAG_STACK};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::arm::api_versions;
use crate::arm_ops::{ArmResource, field};
use crate::context::AzureContext;
use crate::model::{Principal, RoleAssignmentConfig, RoleAssignmentOutputs};

/// `AcrPull`.
pub const ACR_PULL: (&str, &str) = ("AcrPull", "7f951dda-4ed3-4680-a7ca-43fe172d538d");
/// `Key Vault Secrets Officer` (what the deployer needs to write secrets in an RBAC vault).
pub const KEY_VAULT_SECRETS_OFFICER: (&str, &str) = (
    "Key Vault Secrets Officer",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
);
/// `Key Vault Secrets User`.
pub const KEY_VAULT_SECRETS_USER: (&str, &str) = (
    "Key Vault Secrets User",
    "4633458b-17de-408a-b874-0445c86b69e6",
);

/// A GUID derived from `parts` (role assignment names are GUIDs).
pub fn guid(parts: &[&str]) -> String {
    let h = hex::encode(Sha256::digest(parts.join("\n").as_bytes()));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The full id of built-in role definition `guid` in `subscription`.
pub fn role_definition_id(subscription: &str, guid: &str) -> String {
    format!(
        "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    )
}

/// The ownership note written in a role assignment's description.
fn description(ctx: &OpContext<'_>) -> String {
    let o = &ctx.stack.ownership;
    format!("{TAG_STACK}={} {TAG_ENV}={}", o.stack, o.environment)
}

/// [`ROLE_ASSIGNMENT`](crate::kinds::ROLE_ASSIGNMENT).
#[derive(Debug, Clone, Copy, Default)]
pub struct RoleAssignment;

impl RoleAssignment {
    fn principal(ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        let c: RoleAssignmentConfig = ctx.config()?;
        Ok(match &c.principal {
            Principal::WorkloadIdentity { identity } => ctx.dep_str(identity, "principal_id")?,
            Principal::Kubelet { cluster } => ctx.dep_str(cluster, "kubelet_object_id")?,
            Principal::Object { object_id, .. } => object_id.as_str(),
        }
        .to_string())
    }
}

#[async_trait]
impl ArmResource for RoleAssignment {
    fn provider_type(&self) -> &'static str {
        "Microsoft.Authorization/roleAssignments"
    }
    fn api_version(&self) -> &'static str {
        api_versions::AUTHORIZATION
    }
    fn path(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        let c: RoleAssignmentConfig = ctx.config()?;
        let scope = ctx.dep_str(&c.scope, "id")?;
        Ok(format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments/{}",
            ctx.resource.name
        ))
    }
    async fn body(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: RoleAssignmentConfig = ctx.config()?;
        Ok(json!({
            "properties": {
                "roleDefinitionId": role_definition_id(&az.subscription, &c.role_definition),
                "principalId": Self::principal(ctx)?,
                "principalType": match &c.principal {
                    Principal::Object { principal_type, .. } => principal_type.as_str(),
                    _ => "ServicePrincipal",
                },
                "description": description(ctx),
            }
        }))
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        let f = |p: &str| field(body, p, "role assignment").map(str::to_string);
        Outputs::of(&RoleAssignmentOutputs {
            id: f("/id")?,
            scope: f("/properties/scope")?,
            role_definition_id: f("/properties/roleDefinitionId")?,
            principal_id: f("/properties/principalId")?,
        })
    }
    /// Role assignments are immutable: a changed one is replaced.
    fn updatable(&self) -> bool {
        false
    }
    fn owner(&self, ctx: &OpContext<'_>, body: &Value) -> Owner {
        let note = body
            .pointer("/properties/description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let pairs = note.split_whitespace().filter_map(|kv| kv.split_once('='));
        ctx.stack.ownership.judge(pairs)
    }
}
