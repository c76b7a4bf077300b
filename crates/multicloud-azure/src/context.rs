//! What every Azure resource operation shares: the ARM client, the subscription and tenant,
//! the operations in flight, and one Key Vault client per vault (so the challenge handshake
//! happens once per vault, not once per call).

use std::collections::HashMap;
use std::sync::Mutex;

use azure_security_keyvault_secrets::SecretClient;
use multicloud_core::ProviderError;

use crate::arm::ArmClient;
use crate::arm::lro::LroTracker;
use crate::error::{Op, classify};

/// The shared state of one [`AzureProvider`](crate::AzureProvider).
pub struct AzureContext {
    /// The ARM client (and its API-call counter).
    pub arm: ArmClient,
    /// The subscription id.
    pub subscription: String,
    /// The tenant id (vaults name it).
    pub tenant: String,
    /// Long-running operations in flight, by resource URL.
    pub tracker: LroTracker,
    secret_clients: Mutex<HashMap<String, std::sync::Arc<SecretClient>>>,
}

impl std::fmt::Debug for AzureContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureContext")
            .field("subscription", &self.subscription)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl AzureContext {
    /// A context for `subscription` in `tenant`.
    pub fn new(arm: ArmClient, subscription: String, tenant: String) -> Self {
        Self {
            arm,
            subscription,
            tenant,
            tracker: LroTracker::new(),
            secret_clients: Mutex::new(HashMap::new()),
        }
    }

    /// `/subscriptions/<sub>/resourceGroups/<rg>`.
    pub fn group_path(&self, rg: &str) -> String {
        format!("/subscriptions/{}/resourceGroups/{rg}", self.subscription)
    }

    /// `/subscriptions/<sub>/resourceGroups/<rg>/providers/<provider_type>/<name>`
    /// (`provider_type` like `Microsoft.KeyVault/vaults`).
    pub fn resource_path(&self, rg: &str, provider_type: &str, name: &str) -> String {
        format!("{}/providers/{provider_type}/{name}", self.group_path(rg))
    }

    /// The (cached) data-plane client of vault `name`.
    pub fn secret_client(&self, name: &str) -> Result<std::sync::Arc<SecretClient>, ProviderError> {
        let url = self.arm.cloud().vault_url(name);
        let mut clients = self
            .secret_clients
            .lock()
            .map_err(|_| ProviderError::invalid("secret client cache poisoned"))?;
        if let Some(c) = clients.get(&url) {
            return Ok(c.clone());
        }
        let client = std::sync::Arc::new(
            self.arm
                .secret_client(&url)
                .map_err(|e| classify(e, Op::Read, "Key Vault client"))?,
        );
        clients.insert(url, client.clone());
        Ok(client)
    }
}
