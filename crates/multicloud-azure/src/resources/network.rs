//! The virtual network with its subnets inline (`Microsoft.Network/virtualNetworks`,
//! api-version [`NETWORK`](crate::arm::api_versions::NETWORK), after
//! `VirtualNetworkCreateSubnetWithDelegation.json`): the cluster subnet and the subnet
//! delegated to `Microsoft.DBforPostgreSQL/flexibleServers`; the cluster subnet names the
//! stack's NAT gateway when the nodes leave through one. An existing network (spec
//! `existing_network`) is read where its ARM id says, never written: its outputs name the
//! subnets the spec gives.

use async_trait::async_trait;
use multicloud_core::ProviderError;
use multicloud_core::provider::{OpContext, Outputs};
use serde_json::{Value, json};

use crate::arm::api_versions;
use crate::arm_ops::{ArmResource, field, tags};
use crate::context::AzureContext;
use crate::model::{ExistingNetworkConfig, NetworkOutputs, SubnetConfig, VirtualNetworkConfig};

/// The service the database subnet is delegated to.
pub const POSTGRES_DELEGATION: &str = "Microsoft.DBforPostgreSQL/flexibleServers";

/// [`VIRTUAL_NETWORK`](crate::kinds::VIRTUAL_NETWORK).
#[derive(Debug, Clone, Copy, Default)]
pub struct VirtualNetwork;

fn subnet(ctx: &OpContext<'_>, s: &SubnetConfig) -> Result<Value, ProviderError> {
    let delegations: Vec<Value> = s
        .delegation
        .iter()
        .map(|service| json!({"name": "delegation", "properties": {"serviceName": service}}))
        .collect();
    let mut properties = json!({"addressPrefix": s.prefix, "delegations": delegations});
    if let Some(nat) = &s.nat_gateway {
        properties["natGateway"] = json!({"id": ctx.dep_str(nat, "id")?});
    }
    Ok(json!({"name": s.name, "properties": properties}))
}

#[async_trait]
impl ArmResource for VirtualNetwork {
    fn provider_type(&self) -> &'static str {
        "Microsoft.Network/virtualNetworks"
    }
    fn api_version(&self) -> &'static str {
        api_versions::NETWORK
    }
    fn path(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<String, ProviderError> {
        // An existing network (read-only) is where its ARM id says.
        if let Ok(e) = ctx.config::<ExistingNetworkConfig>() {
            return Ok(e.existing);
        }
        let c: VirtualNetworkConfig = ctx.config()?;
        Ok(az.resource_path(&c.resource_group, self.provider_type(), &ctx.resource.name))
    }
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: VirtualNetworkConfig = ctx.config()?;
        let subnets = c
            .subnets
            .iter()
            .map(|s| subnet(ctx, s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(json!({
            "location": ctx.stack.region,
            "tags": tags(ctx),
            "properties": {
                "addressSpace": {"addressPrefixes": [c.address_space]},
                "subnets": subnets,
            }
        }))
    }
    /// The address space and each subnet's range, delegation and NAT gateway.
    fn drift_checked(&self) -> &'static [&'static str] {
        &["/properties/addressSpace", "/properties/subnets"]
    }
    fn outputs(&self, ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        let id = field(body, "/id", "virtual network")?.to_string();
        if let Ok(e) = ctx.config::<ExistingNetworkConfig>() {
            return Outputs::of(&NetworkOutputs {
                cluster_subnet_id: e.cluster_subnet,
                database_subnet_id: e.database_subnet,
                name: field(body, "/name", "virtual network")?.to_string(),
                id,
            });
        }
        let c: VirtualNetworkConfig = ctx.config()?;
        let subnet_id = |s: &SubnetConfig| format!("{id}/subnets/{}", s.name);
        Outputs::of(&NetworkOutputs {
            cluster_subnet_id: c.subnets.first().map(subnet_id).unwrap_or_default(),
            database_subnet_id: c
                .subnets
                .iter()
                .find(|s| s.delegation.as_deref() == Some(POSTGRES_DELEGATION))
                .map(subnet_id),
            name: field(body, "/name", "virtual network")?.to_string(),
            id,
        })
    }
}
