//! Placeholder: replaced by the real implementation.

use std::sync::Arc;

use async_trait::async_trait;
use multicloud_core::provider::{Registry, Observation, OpContext, Outputs, ResourceOps};
use multicloud_core::{ErrorKind, ProviderError};

use crate::clients::AwsClients;

/// Placeholder.
#[derive(Debug, Clone)]
pub struct EcrRegistry {
    clients: Arc<AwsClients>,
}

impl EcrRegistry {
    pub(crate) fn new(clients: Arc<AwsClients>) -> Self {
        Self { clients }
    }
}

#[async_trait]
impl ResourceOps for EcrRegistry {
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
impl Registry for EcrRegistry {
    async fn pull_credentials(&self, _registry: &Outputs) -> Result<multicloud_core::provider::RegistryCredentials, ProviderError> {
        Err(ProviderError::new(ErrorKind::Unsupported, "not implemented"))
    }
}
