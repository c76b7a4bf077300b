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
