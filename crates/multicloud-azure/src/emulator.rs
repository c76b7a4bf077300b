//! The ARM + Key Vault emulator (feature `emulator`): the crate
//! [`multicloud_azure_emulator`], re-exported here, plus what ties it to this provider:
//! [`EmulatorArmClient::arm_client`] and [`AzureProvider::emulator`](crate::AzureProvider::emulator).
//!
//! ```no_run
//! use multicloud_azure::emulator::{Emulator, EmulatorArmClient, EmulatorConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = Emulator::start(EmulatorConfig::default()).await?;
//! let arm = emu.arm_client()?;
//! let rg = serde_json::json!({"location": "westeurope"});
//! let url = arm.url(&format!("/subscriptions/{}/resourcegroups/shop-rg", emu.subscription()),
//!                   multicloud_azure::arm::api_versions::RESOURCES)?;
//! let created = arm.send(azure_core::http::Method::Put, url, Some(&rg)).await?;
//! assert_eq!(created.status, 201);
//! # Ok(()) }
//! ```

pub use multicloud_azure_emulator::*;

use std::time::Duration;

use multicloud_core::ApplyOptions;
use multicloud_core::access::ClusterCredentials;
use multicloud_core::retry::{Poller, RetryPolicy};

use crate::arm::ArmClient;
use crate::error::ArmError;

/// Engine options fit for the emulator's millisecond operations: polls from 50 ms up to
/// 300 ms (ARM's `Retry-After` still wins) and 12 attempts with backoff from 20 ms to 400 ms.
pub fn engine_options() -> ApplyOptions {
    ApplyOptions {
        retry: RetryPolicy {
            max_attempts: 12,
            base: Duration::from_millis(20),
            cap: Duration::from_millis(400),
        },
        poller: Poller {
            interval: Duration::from_millis(50),
            max_interval: Duration::from_millis(300),
        },
        ..ApplyOptions::default()
    }
}

/// An emulator paced like a real cloud, in units of `unit`: managed clusters take 3 units,
/// agent pools, PostgreSQL servers and Managed Redis 2, virtual networks, vaults and
/// registries 1 (everything else answers at once). What the demo and `multicloud --local`
/// run, so that progress shows.
pub fn paced_config(unit: Duration) -> EmulatorConfig {
    EmulatorConfig::default()
        .duration("Microsoft.ContainerService/managedClusters", unit * 3)
        .duration(
            "Microsoft.ContainerService/managedClusters/agentPools",
            unit * 2,
        )
        .duration("Microsoft.DBforPostgreSQL/flexibleServers", unit * 2)
        .duration("Microsoft.Cache/redisEnterprise", unit * 2)
        .duration("Microsoft.Network/virtualNetworks", unit)
        .duration("Microsoft.KeyVault/vaults", unit)
        .duration("Microsoft.ContainerRegistry/registries", unit)
}

/// What the emulated AKS clusters hand out as their user credential
/// ([`Emulator::set_cluster_access`]) so that apps land on another API server, such as a
/// local control plane (its bearer credentials), as real AKS hands out its own: the
/// endpoint, CA and bearer token of `credentials` (an empty token when they carry none).
pub fn cluster_access(credentials: &ClusterCredentials) -> ClusterAccess {
    ClusterAccess {
        server: credentials.endpoint.clone(),
        ca_data: credentials.ca_data.clone(),
        token: credentials
            .token()
            .map(|t| t.expose().to_string())
            .unwrap_or_default(),
    }
}

/// The provider's [`ArmClient`] on an [`Emulator`].
pub trait EmulatorArmClient {
    /// An [`ArmClient`] (public cloud URLs, a [`FakeCredential`]) talking to this emulator.
    fn arm_client(&self) -> Result<ArmClient, ArmError>;
}

impl EmulatorArmClient for Emulator {
    fn arm_client(&self) -> Result<ArmClient, ArmError> {
        ArmClient::builder()
            .token_credential(FakeCredential::new())
            .transport(self.transport())
            .build()
    }
}
