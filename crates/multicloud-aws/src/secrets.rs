//! Placeholder: replaced by the real implementation.

use std::sync::Arc;

use async_trait::async_trait;
use multicloud_core::provider::{SecretBackend, Observation, OpContext, Outputs, ResourceOps};
use multicloud_core::{ErrorKind, ProviderError};

use crate::clients::AwsClients;

/// Placeholder.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    clients: Arc<AwsClients>,
}

impl SecretsManager {
    pub(crate) fn new(clients: Arc<AwsClients>) -> Self {
        Self { clients }
    }
}

#[async_trait]
impl ResourceOps for SecretsManager {
    async fn observe(&self, _ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let _ = &self.clients;
        Err(ProviderError::new(ErrorKind::Unsupported, "not implemented"))
    }
    async fn create(&self, _ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        Err(ProviderError::new(ErrorKind::Unsupported, "not implemented"))
    }
    async fn delete(&self, _ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        Err(ProviderError::new(ErrorKind::Unsupported, "not implemented"))
    }
}
#[async_trait]
impl SecretBackend for SecretsManager {
    async fn put_secret(&self, _name: &str, _value: &multicloud_core::SecretString) -> Result<multicloud_core::provider::SecretRef, ProviderError> {
        Err(ProviderError::new(ErrorKind::Unsupported, "not implemented"))
    }
    async fn get_secret(&self, _name: &str) -> Result<multicloud_core::SecretString, ProviderError> {
        Err(ProviderError::new(ErrorKind::Unsupported, "not implemented"))
    }
    async fn list_secrets(&self, _prefix: &str) -> Result<Vec<multicloud_core::provider::SecretRef>, ProviderError> {
        Err(ProviderError::new(ErrorKind::Unsupported, "not implemented"))
    }
    async fn delete_secret(&self, _name: &str, _force: bool) -> Result<(), ProviderError> {
        Err(ProviderError::new(ErrorKind::Unsupported, "not implemented"))
    }
}
