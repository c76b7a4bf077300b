//! What the provider tests share: an emulator with operation durations, a provider on it,
//! fast engine options and a stack with its state in a temporary directory.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use multicloud_azure::AzureProvider;
use multicloud_azure::emulator::{Emulator, EmulatorConfig};
use multicloud_core::spec::{Cluster, Network, NodePool, StackSpecBuilder};
use multicloud_core::state::LocalStateStore;
use multicloud_core::{ApplyOptions, Stack, StackSpec};

/// The error type of the tests.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// An emulator where every operation on these types takes `unit` (the cluster 3 units, the
/// database and cache 2): [`paced_config`](multicloud_azure::emulator::paced_config), with
/// Redis databases, private DNS zones and resource groups taking a unit too, `Retry-After:
/// 1`, and the three LRO patterns.
pub fn config(unit: Duration) -> EmulatorConfig {
    use multicloud_azure::emulator::LroPattern::*;
    EmulatorConfig {
        retry_after: 1,
        ..multicloud_azure::emulator::paced_config(unit)
    }
    .duration("Microsoft.Cache/redisEnterprise/databases", unit)
    .duration("Microsoft.Network/privateDnsZones", unit)
    .duration("Microsoft.Resources/resourceGroups", unit)
    .patterns(
        "Microsoft.Network/virtualNetworks",
        AsyncOperation,
        Location,
    )
    .patterns("Microsoft.Network/privateDnsZones", Both, Both)
    .patterns("Microsoft.DBforPostgreSQL/flexibleServers", Both, Both)
    .patterns("Microsoft.Cache/redisEnterprise", Location, AsyncOperation)
}

/// The spec of stack `name` in environment `environment` of the tests: West Europe, with the
/// default network.
pub fn spec_in(name: &str, environment: &str) -> StackSpecBuilder {
    StackSpec::builder(name)
        .environment(environment)
        .region("westeurope")
        .network(Network::default())
}

/// A cluster of the tests: Kubernetes 1.31 with one pool `general` of 1 to 3 D4s v5 nodes.
pub fn small_cluster() -> Cluster {
    Cluster::new("1.31").node_pool(NodePool::new("general", "Standard_D4s_v5", 1, 3))
}

/// Engine options for tests: short polls (ARM's `Retry-After` still wins), many retries.
pub fn options() -> ApplyOptions {
    multicloud_azure::emulator::engine_options()
}

/// An emulator, a provider on it and a state directory.
pub struct World {
    /// The emulator.
    pub emu: Emulator,
    /// The provider.
    pub provider: Arc<AzureProvider>,
    /// State directory.
    pub dir: tempfile::TempDir,
}

impl World {
    /// Starts an emulator with `config` and a provider on it, built by `build`.
    pub async fn start(
        config: EmulatorConfig,
        build: impl FnOnce(
            multicloud_azure::AzureProviderBuilder,
        ) -> multicloud_azure::AzureProviderBuilder,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let emu = Emulator::start(config).await?;
        let provider = Arc::new(build(AzureProvider::emulator(&emu)).build()?);
        Ok(Self {
            emu,
            provider,
            dir: tempfile::tempdir()?,
        })
    }

    /// A stack of `spec` on the provider with state in the world's directory.
    pub fn stack(&self, spec: StackSpec) -> Stack {
        Stack::new(spec, self.provider.clone())
            .state(LocalStateStore::new(self.dir.path()))
            .options(options())
    }
}

/// Sends one request through `arm` exactly as given (panicking on a transport error) and
/// returns the response whatever its status: the emulator tests judge it.
pub async fn call(
    arm: &multicloud_azure::arm::ArmClient,
    method: azure_core::http::Method,
    path: &str,
    version: &str,
    body: Option<serde_json::Value>,
) -> multicloud_azure::arm::ArmResponse {
    let url = arm.url(path, version).unwrap_or_else(|e| panic!("{e}"));
    arm.send(method, url, body.as_ref())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}
