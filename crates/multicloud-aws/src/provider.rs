//! [`AwsProvider`]: the [`CloudProvider`] for AWS.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use multicloud_core::provider::{
    CloudProvider, ClusterOps, KindTable, ProviderScope, Registry, ScopeFuture, SecretBackend,
};
use multicloud_core::resource::ResourceGraph;
use multicloud_core::spec::{NamingRules, StackSpec};

use crate::clients::AwsClients;
use crate::kinds::AwsKinds;
use crate::naming::AwsNamingRules;
use multicloud_core::calls::ApiCalls;

/// The AWS provider: one type per kind on the official aws-sdk-rust clients, in the kind
/// table of [`kinds`](crate::kinds).
pub struct AwsProvider {
    clients: Arc<AwsClients>,
    kinds: AwsKinds,
}

impl std::fmt::Debug for AwsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsProvider")
            .field("region", &self.clients.region)
            .finish_non_exhaustive()
    }
}

/// Builds an [`AwsProvider`] through aws-config's default chain (environment, profile, SSO,
/// IMDS…), with optional region, profile and endpoint overrides.
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct AwsProviderBuilder {
    region: Option<String>,
    profile: Option<String>,
    endpoint_url: Option<String>,
}

impl AwsProviderBuilder {
    /// Sets the region (else the default chain's).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
    /// Uses a named profile from the shared config files.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }
    /// Sends every call to `url` (tests against moto, AWS-compatible endpoints).
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }
    /// Loads the config and builds the provider.
    pub async fn build(self) -> AwsProvider {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = self.region {
            loader = loader.region(Region::new(region));
        }
        if let Some(profile) = self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        AwsProvider::from_sdk_config(&loader.load().await)
    }
}

impl AwsProvider {
    /// A builder using aws-config's default chain.
    pub fn builder() -> AwsProviderBuilder {
        AwsProviderBuilder::default()
    }

    /// A provider on an already loaded config.
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        let clients = Arc::new(AwsClients::new(sdk));
        Self {
            kinds: AwsKinds::new(&clients),
            clients,
        }
    }

    /// The SDK clients.
    pub fn clients(&self) -> &Arc<AwsClients> {
        &self.clients
    }

    /// The API call counter shared by every client.
    pub fn api_calls(&self) -> &ApiCalls {
        &self.clients.calls
    }

    /// The sweeper on this provider's clients (see [`crate::sweeper`]).
    pub fn sweeper(&self) -> crate::sweeper::AwsSweeper {
        crate::sweeper::AwsSweeper::new(&self.clients)
    }
}

impl CloudProvider for AwsProvider {
    fn name(&self) -> &str {
        "aws"
    }
    fn kind_table(&self) -> &KindTable {
        self.kinds.table()
    }
    fn naming_rules(&self) -> &dyn NamingRules {
        &AwsNamingRules
    }
    fn region(&self, spec: &StackSpec) -> String {
        crate::expand::resolve::region(spec).map_or_else(|_| spec.region.clone(), |r| r.value)
    }
    /// The account id (STS, once per provider) and the region of `spec`.
    fn scope<'a>(&'a self, spec: &'a StackSpec) -> ScopeFuture<'a> {
        Box::pin(async move {
            let account = self.clients.account_id().await?;
            Ok(ProviderScope::new("aws", account).in_region(self.region(spec)))
        })
    }
    fn expand(
        &self,
        spec: &StackSpec,
    ) -> Result<ResourceGraph, multicloud_core::expand::ExpandError> {
        crate::expand::expand(spec)
    }
    fn data_service(
        &self,
        spec: &StackSpec,
        service: multicloud_core::spec::Connection,
    ) -> Option<multicloud_core::expand::ServiceAnchor> {
        crate::expand::data_service(spec, service)
    }
    fn cluster(&self) -> &dyn ClusterOps {
        self.kinds.cluster()
    }
    fn registry(&self) -> &dyn Registry {
        self.kinds.registry()
    }
    fn secrets(&self) -> &dyn SecretBackend {
        self.kinds.secrets()
    }
}
