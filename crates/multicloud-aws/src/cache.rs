//! Placeholder: replaced by the real implementation.

use std::sync::Arc;

use async_trait::async_trait;
use multicloud_core::provider::{CacheOps, Observation, OpContext, Outputs, ResourceOps};
use multicloud_core::{ErrorKind, ProviderError};

use crate::clients::AwsClients;

/// Placeholder.
#[derive(Debug, Clone)]
pub struct CacheService {
    clients: Arc<AwsClients>,
}

impl CacheService {
    pub(crate) fn new(clients: Arc<AwsClients>) -> Self {
        Self { clients }
    }
}

#[async_trait]
impl ResourceOps for CacheService {
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
impl CacheOps for CacheService {}
