//! The Azure emulator serving the local control plane as its AKS clusters' API server, and
//! the short retries and polls the tests on it use (`azure_app.rs`, `connections.rs`,
//! `existing_cluster.rs`).

use std::sync::Arc;

use multicloud_azure::AzureProvider;
use multicloud_azure::emulator::{ClusterAccess, Emulator, EmulatorConfig};
use multicloud_core::ApplyOptions;
use multicloud_k8s::testing::ControlPlane;

/// An emulator whose AKS credentials point at `plane`, and a provider on it.
pub async fn emulator_for(plane: &ControlPlane) -> (Emulator, Arc<AzureProvider>) {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let bearer = plane.bearer_credentials();
    emu.set_cluster_access(ClusterAccess {
        server: bearer.endpoint.clone(),
        ca_data: bearer.ca_data.clone(),
        token: bearer.token().expect("a token").expose().to_string(),
    });
    let provider = Arc::new(AzureProvider::emulator(&emu).build().expect("provider"));
    (emu, provider)
}

/// Retries and polls fit for the emulator's millisecond operations.
pub fn fast_options() -> ApplyOptions {
    multicloud_azure::emulator::engine_options()
}
