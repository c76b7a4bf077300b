//! The resource group (`Microsoft.Resources/resourceGroups`, api-version
//! [`RESOURCES`](crate::arm::api_versions::RESOURCES), after `CreateResourceGroup.json`).

use multicloud_core::ProviderError;
use multicloud_core::provider::{OpContext, Outputs};
use serde_json::{Value, json};

use crate::arm::api_versions;
use crate::arm_ops::{arm_kind, field, tags};
use crate::context::AzureContext;
use crate::model::{ArmOutputs, ResourceGroupConfig};

arm_kind! {
    /// [`RESOURCE_GROUP`](crate::kinds::RESOURCE_GROUP).
    ResourceGroup: "Microsoft.Resources/resourceGroups", api_versions::RESOURCES;
    fn path(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        Ok(az.group_path(&ctx.resource.name))
    }
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: ResourceGroupConfig = ctx.config()?;
        Ok(json!({"location": c.location, "tags": tags(ctx)}))
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        Outputs::of(&ArmOutputs {
            id: field(body, "/id", "resource group")?.to_string(),
            name: field(body, "/name", "resource group")?.to_string(),
        })
    }
}
