//! The private DNS zone of the database (`Microsoft.Network/privateDnsZones`, api-version
//! [`PRIVATE_DNS`](crate::arm::api_versions::PRIVATE_DNS), after `PrivateZonePut.json`) and
//! its link to the virtual network (`virtualNetworkLinks`, after `VirtualNetworkLinkPut.json`).

use multicloud_core::ProviderError;
use multicloud_core::provider::{OpContext, Outputs};
use serde_json::{Value, json};

use crate::arm::api_versions;
use crate::arm_ops::{arm_kind, field, tags};
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

arm_kind! {
    /// [`PRIVATE_DNS_ZONE`](crate::kinds::PRIVATE_DNS_ZONE).
    PrivateDnsZone: ZONES, api_versions::PRIVATE_DNS, named in the group of PrivateDnsZoneConfig;
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        Ok(json!({"location": "global", "tags": tags(ctx), "properties": {}}))
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        arm_outputs(body, "private DNS zone")
    }
}

arm_kind! {
    /// [`DNS_ZONE_LINK`](crate::kinds::DNS_ZONE_LINK).
    DnsZoneLink: "Microsoft.Network/privateDnsZones/virtualNetworkLinks", api_versions::PRIVATE_DNS;
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
