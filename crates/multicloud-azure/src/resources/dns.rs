//! The private DNS zone of the database (`Microsoft.Network/privateDnsZones`, api-version
//! [`PRIVATE_DNS`](crate::arm::api_versions::PRIVATE_DNS), after `PrivateZonePut.json`) and
//! its link to the virtual network (`virtualNetworkLinks`, after `VirtualNetworkLinkPut.json`).

use async_trait::async_trait;
use multicloud_core::ProviderError;
use multicloud_core::provider::{OpContext, Outputs};
use serde_json::{Value, json};

use crate::arm::api_versions;
use crate::arm_ops::{ArmResource, field, tags};
use crate::context::AzureContext;
use crate::model::{ArmOutputs, DnsZoneLinkConfig, PrivateDnsZoneConfig};

const ZONES: &str = "Microsoft.Network/privateDnsZones";

/// Outputs `id` and `name` of an ARM body (`what` names it in errors).
pub(crate) fn arm_outputs(body: &Value, what: &str) -> Result<Outputs, ProviderError> {
    Outputs::of(&ArmOutputs {
        id: field(body, "/id", what)?.to_string(),
        name: field(body, "/name", what)?.to_string(),
    })
}

/// [`PRIVATE_DNS_ZONE`](crate::kinds::PRIVATE_DNS_ZONE).
#[derive(Debug, Clone, Copy, Default)]
pub struct PrivateDnsZone;

#[async_trait]
impl ArmResource for PrivateDnsZone {
    fn provider_type(&self) -> &'static str {
        ZONES
    }
    fn api_version(&self) -> &'static str {
        api_versions::PRIVATE_DNS
    }
    fn path(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        let c: PrivateDnsZoneConfig = ctx.config()?;
        Ok(az.resource_path(&c.resource_group, ZONES, &ctx.resource.name))
    }
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        Ok(json!({"location": "global", "tags": tags(ctx), "properties": {}}))
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        arm_outputs(body, "private DNS zone")
    }
}

/// [`DNS_ZONE_LINK`](crate::kinds::DNS_ZONE_LINK).
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsZoneLink;

#[async_trait]
impl ArmResource for DnsZoneLink {
    fn provider_type(&self) -> &'static str {
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
    }
    fn api_version(&self) -> &'static str {
        api_versions::PRIVATE_DNS
    }
    fn path(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        let c: DnsZoneLinkConfig = ctx.config()?;
        let zone = az.resource_path(&c.resource_group, ZONES, &c.zone);
        Ok(format!("{zone}/virtualNetworkLinks/{}", ctx.resource.name))
    }
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: DnsZoneLinkConfig = ctx.config()?;
        let vnet = ctx.dep_str(&c.virtual_network, "id")?;
        Ok(json!({
            "location": "global",
            "tags": tags(ctx),
            "properties": {"registrationEnabled": false, "virtualNetwork": {"id": vnet}},
        }))
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        arm_outputs(body, "DNS zone link")
    }
}
