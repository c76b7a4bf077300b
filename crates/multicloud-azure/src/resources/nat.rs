//! The AKS nodes' NAT gateway (spec `network.azure.outbound: nat_gateway`): a Standard static
//! public IP (`Microsoft.Network/publicIPAddresses`, after `PublicIpAddressCreateDefaults.json`)
//! and a Standard NAT gateway using it (`Microsoft.Network/natGateways`, after
//! `NatGatewayCreateOrUpdate.json`), both api-version [`NETWORK`](crate::arm::api_versions::NETWORK).
//! The cluster subnet names the gateway and the cluster's `outboundType` is
//! `userAssignedNATGateway`: the nodes leave through one stable address.

use multicloud_core::ProviderError;
use multicloud_core::provider::{OpContext, Outputs};
use serde_json::{Value, json};

use super::dns::arm_outputs;
use crate::arm::api_versions;
use crate::arm_ops::{arm_kind, tags};
use crate::context::AzureContext;
use crate::model::{NatGatewayConfig, PublicIpConfig};

const PUBLIC_IPS: &str = "Microsoft.Network/publicIPAddresses";
const NAT_GATEWAYS: &str = "Microsoft.Network/natGateways";

arm_kind! {
    /// [`PUBLIC_IP`](crate::kinds::PUBLIC_IP).
    PublicIp: PUBLIC_IPS, api_versions::NETWORK, named in the group of PublicIpConfig;
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        Ok(json!({
            "location": ctx.stack.region,
            "tags": tags(ctx),
            // A NAT gateway takes Standard static addresses only.
            "sku": {"name": "Standard", "tier": "Regional"},
            "properties": {
                "publicIPAllocationMethod": "Static",
                "publicIPAddressVersion": "IPv4",
            },
        }))
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        arm_outputs(body, "public IP address")
    }
}

arm_kind! {
    /// [`NAT_GATEWAY`](crate::kinds::NAT_GATEWAY).
    NatGateway: NAT_GATEWAYS, api_versions::NETWORK, named in the group of NatGatewayConfig;
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: NatGatewayConfig = ctx.config()?;
        let address = ctx.dep_str(&c.public_ip, "id")?;
        Ok(json!({
            "location": ctx.stack.region,
            "tags": tags(ctx),
            "sku": {"name": "Standard"},
            "properties": {
                "idleTimeoutInMinutes": 4,
                "publicIpAddresses": [{"id": address}],
            },
        }))
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        arm_outputs(body, "NAT gateway")
    }
}
