//! Private access to a service of the stack (`Microsoft.Network/privateEndpoints`, api-version
//! [`NETWORK`](crate::arm::api_versions::NETWORK), after `PrivateEndpointCreate.json`): a
//! private endpoint in the cluster subnet to the service's private link (Azure Managed
//! Redis: sub-resource `redisEnterprise`), and its DNS zone group
//! (`privateEndpoints/<name>/privateDnsZoneGroups/default`, after
//! `PrivateEndpointDnsZoneGroupCreate.json`) through which Azure keeps the endpoint's `A`
//! record in the `privatelink` zone linked to the virtual network, so the service's usual
//! host name resolves to the private address inside the network.

use multicloud_core::ProviderError;
use multicloud_core::provider::{OpContext, Outputs, Owner};
use serde_json::{Value, json};

use super::dns::arm_outputs;
use crate::arm::api_versions;
use crate::arm_ops::{arm_kind, tags};
use crate::context::AzureContext;
use crate::model::{DnsZoneGroupConfig, NetworkOutputs, PrivateEndpointConfig};

const ENDPOINTS: &str = "Microsoft.Network/privateEndpoints";

/// The private DNS zone of Azure Managed Redis private endpoints.
pub const REDIS_PRIVATE_ZONE: &str = "privatelink.redis.azure.net";
/// The private link sub-resource of an Azure Managed Redis cluster.
pub const REDIS_GROUP_ID: &str = "redisEnterprise";

arm_kind! {
    /// [`PRIVATE_ENDPOINT`](crate::kinds::PRIVATE_ENDPOINT).
    PrivateEndpoint: ENDPOINTS, api_versions::NETWORK, named in the group of PrivateEndpointConfig;
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: PrivateEndpointConfig = ctx.config()?;
        let target = ctx.dep_str(&c.target, "id")?;
        let network: NetworkOutputs = ctx.dep(&c.virtual_network)?;
        Ok(json!({
            "location": ctx.stack.region,
            "tags": tags(ctx),
            "properties": {
                "subnet": {"id": network.cluster_subnet_id},
                "privateLinkServiceConnections": [{
                    "name": ctx.resource.name,
                    "properties": {"privateLinkServiceId": target, "groupIds": [c.group_id]},
                }],
            },
        }))
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        arm_outputs(body, "private endpoint")
    }
}

arm_kind! {
    /// [`PRIVATE_DNS_ZONE_GROUP`](crate::kinds::PRIVATE_DNS_ZONE_GROUP) (no tags of its own).
    DnsZoneGroup: "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", api_versions::NETWORK;
    fn path(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        let c: DnsZoneGroupConfig = ctx.config()?;
        let endpoint = az.resource_path(&c.resource_group, ENDPOINTS, &c.endpoint);
        Ok(format!(
            "{endpoint}/privateDnsZoneGroups/{}",
            ctx.resource.name
        ))
    }
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: DnsZoneGroupConfig = ctx.config()?;
        let zone = ctx.dep_str(&c.zone, "id")?;
        Ok(json!({
            "properties": {
                "privateDnsZoneConfigs": [{"name": "zone", "properties": {"privateDnsZoneId": zone}}],
            },
        }))
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        arm_outputs(body, "private DNS zone group")
    }
    /// A child of our private endpoint (which carries the tags), ours by construction.
    fn owner(&self, _ctx: &OpContext<'_>, _body: &Value) -> Owner {
        Owner::Us
    }
}
