//! [`AzureProvider`]: the [`CloudProvider`] for Azure.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::HttpClient;
use multicloud_core::provider::{
    CloudProvider, ClusterOps, KindTable, ProviderScope, Registry, ScopeFuture, SecretBackend,
};
use multicloud_core::resource::ResourceGraph;
use multicloud_core::spec::{NamingRules, StackSpec};

use crate::arm::{ApiCalls, ArmClient, AzureCloud, CredentialSource};
use crate::context::AzureContext;
use crate::error::ArmError;
use crate::expand::AzureSettings;
use crate::kinds::Ops;
use crate::naming::StackNamingRules;
use crate::resources::{registry::Repository, secret::KeyVaultSecret};

/// The Azure provider: every kind over ARM (and the Key Vault data plane) with one shared
/// client, call counter and LRO tracker; its [`KindTable`] is built once, in
/// [`AzureProviderBuilder::build`].
pub struct AzureProvider {
    ops: Ops,
    table: KindTable,
    settings: AzureSettings,
    rules: StackNamingRules,
}

impl std::fmt::Debug for AzureProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureProvider")
            .field("subscription", &self.ops.az.subscription)
            .finish_non_exhaustive()
    }
}

/// Builds an [`AzureProvider`]: the subscription and tenant (else `AZURE_SUBSCRIPTION_ID` /
/// `AZURE_TENANT_ID`), credentials (else from the `AZURE_*` variables or the developer CLI),
/// cloud, transport, and the settings beyond the spec.
#[derive(Debug, Default)]
#[must_use]
pub struct AzureProviderBuilder {
    arm: crate::arm::ArmClientBuilder,
    subscription: Option<String>,
    tenant: Option<String>,
    settings: AzureSettings,
    admin_pull_credentials: bool,
}

impl AzureProviderBuilder {
    /// The subscription id.
    pub fn subscription(mut self, id: impl Into<String>) -> Self {
        self.subscription = Some(id.into());
        self
    }
    /// The tenant id (vaults name it).
    pub fn tenant(mut self, id: impl Into<String>) -> Self {
        self.tenant = Some(id.into());
        self
    }
    /// The cloud (default: Azure public).
    pub fn cloud(mut self, cloud: AzureCloud) -> Self {
        self.arm = self.arm.cloud(cloud);
        self
    }
    /// Where tokens come from.
    pub fn credential(mut self, source: CredentialSource) -> Self {
        self.arm = self.arm.credential(source);
        self
    }
    /// A credential object built elsewhere.
    pub fn token_credential(mut self, credential: Arc<dyn TokenCredential>) -> Self {
        self.arm = self.arm.token_credential(credential);
        self
    }
    /// The HTTP transport (the emulator's keeps the real URLs).
    pub fn transport(mut self, http: Arc<dyn HttpClient>) -> Self {
        self.arm = self.arm.transport(http);
        self
    }
    /// The Key Vault's name instead of `<stack>-<env>-kv` (checked before any call).
    pub fn key_vault_name(mut self, name: impl Into<String>) -> Self {
        self.settings.names.key_vault = Some(name.into());
        self
    }
    /// The ACR's name instead of `<stack><env>acr` (checked before any call).
    pub fn registry_name(mut self, name: impl Into<String>) -> Self {
        self.settings.names.registry = Some(name.into());
        self
    }
    /// Turns the cluster's local accounts off (Entra ID with Azure RBAC only).
    pub fn disable_local_accounts(mut self, off: bool) -> Self {
        self.settings.disable_local_accounts = off;
        self
    }
    /// Makes `pull_credentials` use the registry's admin user (`listCredentials`) instead of
    /// the token exchange. The admin user stays off, so this fails unless it is turned on
    /// outside multicloud.
    pub fn admin_pull_credentials(mut self, on: bool) -> Self {
        self.admin_pull_credentials = on;
        self
    }
    /// The Entra object id and principal type (`User`, `ServicePrincipal`) of whoever runs
    /// `up`: it gets `Key Vault Secrets Officer` on exactly the stack's vault before any
    /// secret is written (an RBAC vault grants nothing to its creator).
    pub fn deployer(
        mut self,
        object_id: impl Into<String>,
        principal_type: impl Into<String>,
    ) -> Self {
        self.settings.deployer = Some((object_id.into(), principal_type.into()));
        self
    }
    /// Every setting at once.
    pub fn settings(mut self, settings: AzureSettings) -> Self {
        self.settings = settings;
        self
    }
    /// Builds the provider.
    pub fn build(self) -> Result<AzureProvider, ArmError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let subscription = self
            .subscription
            .or_else(|| env("AZURE_SUBSCRIPTION_ID"))
            .ok_or_else(|| ArmError::Credential {
                message: "no subscription: set AZURE_SUBSCRIPTION_ID or call .subscription()"
                    .into(),
            })?;
        let tenant = self
            .tenant
            .or_else(|| env("AZURE_TENANT_ID"))
            .unwrap_or_default();
        let arm = self.arm.build()?;
        let az = Arc::new(AzureContext::new(arm, subscription, tenant));
        let ops = Ops {
            cluster: Arc::new(crate::arm_ops::Arm::new(
                az.clone(),
                crate::resources::cluster::ManagedCluster,
            )),
            repository: Arc::new(
                Repository::new(az.clone())
                    .with_admin_pull_credentials(self.admin_pull_credentials),
            ),
            secret: Arc::new(KeyVaultSecret::new(az.clone())),
            az,
        };
        Ok(AzureProvider {
            table: crate::kinds::table(&ops),
            ops,
            rules: StackNamingRules {
                overrides: self.settings.names.clone(),
            },
            settings: self.settings,
        })
    }
}

impl AzureProvider {
    /// A builder.
    pub fn builder() -> AzureProviderBuilder {
        AzureProviderBuilder::default()
    }

    /// A builder for the emulator: its subscription and tenant, a fake credential and its
    /// real-URL transport.
    #[cfg(feature = "emulator")]
    pub fn emulator(emu: &crate::emulator::Emulator) -> AzureProviderBuilder {
        Self::emulator_at(emu.port(), emu.subscription(), emu.tenant())
    }

    /// A builder for an emulator another process runs on `port` of 127.0.0.1 (a
    /// `multicloud local` session), with the subscription and tenant it pretends to be.
    #[cfg(feature = "emulator")]
    pub fn emulator_at(
        port: u16,
        subscription: impl Into<String>,
        tenant: impl Into<String>,
    ) -> AzureProviderBuilder {
        Self::builder()
            .subscription(subscription)
            .tenant(tenant)
            .token_credential(crate::emulator::FakeCredential::new())
            .transport(std::sync::Arc::new(
                crate::emulator::EmulatorTransport::new(port),
            ))
    }

    /// The ARM client.
    pub fn arm(&self) -> &ArmClient {
        &self.ops.az.arm
    }

    /// The API-call counter (ARM and Key Vault).
    pub fn api_calls(&self) -> &ApiCalls {
        self.arm().calls()
    }

    /// The shared context (subscription, tenant, clients).
    pub fn context(&self) -> &Arc<AzureContext> {
        &self.ops.az
    }

    /// The sweeper on this provider's context (see [`crate::sweeper`]).
    pub fn sweeper(&self) -> crate::sweeper::AzureSweeper {
        crate::sweeper::AzureSweeper::new(self.context().clone())
    }

    /// Sweeps what `filter` selects, waiting as `poller` says (see [`crate::sweeper`]); with
    /// `dry_run`, only reports.
    pub async fn sweep(
        &self,
        filter: &crate::sweeper::SweepFilter,
        dry_run: bool,
        poller: &multicloud_core::retry::Poller,
    ) -> Result<crate::sweeper::SweepReport, multicloud_core::ProviderError> {
        use multicloud_core::sweep::Sweeper;
        self.sweeper()
            .with_poller(*poller)
            .sweep(filter, dry_run)
            .await
    }

    /// The settings beyond the spec.
    pub fn settings(&self) -> &AzureSettings {
        &self.settings
    }
}

impl CloudProvider for AzureProvider {
    fn name(&self) -> &str {
        "azure"
    }
    fn kind_table(&self) -> &KindTable {
        &self.table
    }
    fn naming_rules(&self) -> &dyn NamingRules {
        &self.rules
    }
    fn region(&self, spec: &StackSpec) -> String {
        crate::expand::resolve::location(spec).map_or_else(|_| spec.region.clone(), |r| r.value)
    }
    /// The subscription (resource names are unique across its locations).
    fn scope<'a>(&'a self, _spec: &'a StackSpec) -> ScopeFuture<'a> {
        let scope = ProviderScope::new("azure", &self.ops.az.subscription);
        Box::pin(std::future::ready(Ok(scope)))
    }
    fn expand(
        &self,
        spec: &StackSpec,
    ) -> Result<ResourceGraph, multicloud_core::expand::ExpandError> {
        crate::expand::expand(spec, &self.settings)
    }
    fn data_service(
        &self,
        spec: &StackSpec,
        service: multicloud_core::spec::Connection,
    ) -> Option<multicloud_core::expand::ServiceAnchor> {
        crate::expand::data_service(spec, service)
    }
    fn cluster(&self) -> &dyn ClusterOps {
        self.ops.cluster.as_ref()
    }
    fn registry(&self) -> &dyn Registry {
        self.ops.repository.as_ref()
    }
    fn secrets(&self) -> &dyn SecretBackend {
        self.ops.secret.as_ref()
    }
}
