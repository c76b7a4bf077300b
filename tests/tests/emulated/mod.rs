//! The Azure emulator serving the local control plane as its AKS clusters' API server, and
//! the short retries and polls the tests on it use (`azure_app.rs`, `connections.rs`,
//! `existing_cluster.rs`).

use std::sync::Arc;

use multicloud_azure::AzureProvider;
use multicloud_azure::emulator::{Emulator, EmulatorConfig, cluster_access};
use multicloud_core::ApplyOptions;
use multicloud_k8s::testing::ControlPlane;

/// An emulator whose AKS credentials point at `plane`, and a provider on it.
pub async fn emulator_for(plane: &ControlPlane) -> (Emulator, Arc<AzureProvider>) {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let bearer = plane.bearer_credentials();
    assert!(
        bearer.token().is_some(),
        "the plane's bearer credentials carry a token"
    );
    emu.set_cluster_access(cluster_access(&bearer));
    let provider = Arc::new(AzureProvider::emulator(&emu).build().expect("provider"));
    (emu, provider)
}

/// Retries and polls fit for the emulator's millisecond operations.
pub fn fast_options() -> ApplyOptions {
    multicloud_azure::emulator::engine_options()
}
