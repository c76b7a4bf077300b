//! [`KubernetesWorkloads`]: the [`WorkloadOps`] of the app kinds, one kind table row each:
//! the kind's `ObjectKind` (or the manifest set) run by a
//! generic `Objects` ops value, and synced secrets wrapped with their ESO companions.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use multicloud_core::ProviderError;
use multicloud_core::kind::{KindDef, ServiceFamily};
use multicloud_core::observation::Drift;
use multicloud_core::provider::{
    KindTable, Observation, OpContext, Outputs, Owner, Readiness, ResourceOps, WorkloadOps,
};
use multicloud_core::resource::ResourceKind;

use crate::client::ClientCache;
use crate::kinds::connection::ConnectionKind;
use crate::kinds::deployment::DeploymentKind;
use crate::kinds::external_secrets;
use crate::kinds::manifest::ManifestKind;
use crate::kinds::namespace::NamespaceKind;
use crate::kinds::pull_secret::PullSecretKind;
use crate::kinds::service::ServiceKind;
use crate::kinds::service_account::ServiceAccountKind;
use crate::kinds::synced_secret::SyncedSecretKind;
use crate::object::{self, Objects};

/// An app kind's declaration: its expected duration and wait timeout (a rollout may take
/// minutes for image pulls; a namespace's deletion waits for everything in it).
const fn def(kind: ResourceKind, expected_ms: u64, timeout_s: u64) -> KindDef {
    KindDef::new(kind, ServiceFamily::Workloads)
        .expected(Duration::from_millis(expected_ms))
        .timeout(Duration::from_secs(timeout_s))
}

/// The app on the stack's cluster, applied with server-side apply (field manager
/// `multicloud`) and the stack's ownership labels. Attach it with
/// [`Stack::workloads`](multicloud_core::Stack::workloads); it reaches the cluster with the
/// run's cluster credentials (the provider's, or [`Stack::cluster_access`](multicloud_core::Stack::cluster_access)).
pub struct KubernetesWorkloads {
    table: KindTable,
    external_secrets: bool,
}

impl Default for KubernetesWorkloads {
    fn default() -> Self {
        Self::with_eso(false)
    }
}

impl KubernetesWorkloads {
    /// The workloads backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also emits External Secrets Operator `SecretStore` and `ExternalSecret` objects next to
    /// each synced secret, for clusters that run ESO (its CRDs must be installed). The direct
    /// sync stays: ESO only refreshes the same Secret in the background. See
    /// [`kinds::external_secrets`](crate::kinds::external_secrets).
    #[must_use]
    pub fn with_external_secrets(self) -> Self {
        Self::with_eso(true)
    }

    /// The backend's kind table, every row on one client cache.
    fn with_eso(external_secrets: bool) -> Self {
        let clients = Arc::new(ClientCache::default());
        use ResourceKind as K;
        let table = KindTable::new()
            .row(
                def(K::NAMESPACE, 1_000, 600),
                Objects::<NamespaceKind>::new(clients.clone()),
            )
            .row(
                def(K::PULL_SECRET, 200, 60),
                Objects::<PullSecretKind>::new(clients.clone()),
            )
            .row(
                def(K::SERVICE_ACCOUNT, 200, 60),
                Objects::<ServiceAccountKind>::new(clients.clone()),
            )
            .row(
                def(K::SYNCED_SECRET, 200, 60),
                SyncedSecrets {
                    objects: Objects::new(clients.clone()),
                    external_secrets,
                },
            )
            .row(
                def(K::CONNECTION, 200, 60),
                Objects::<ConnectionKind>::new(clients.clone()),
            )
            .row(
                def(K::DEPLOYMENT, 30_000, 600),
                Objects::<DeploymentKind>::new(clients.clone()),
            )
            .row(
                def(K::SERVICE, 2_000, 600),
                Objects::<ServiceKind>::new(clients.clone()),
            )
            .row(
                def(K::MANIFEST, 5_000, 600),
                Objects::<ManifestKind>::new(clients),
            );
        Self {
            table,
            external_secrets,
        }
    }
}

impl std::fmt::Debug for KubernetesWorkloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesWorkloads")
            .field("external_secrets", &self.external_secrets)
            .finish_non_exhaustive()
    }
}

impl WorkloadOps for KubernetesWorkloads {
    fn kind_table(&self) -> &KindTable {
        &self.table
    }
}

/// The ops of synced secrets: the Secret itself, plus (with the switch on) the ESO
/// companions next to it.
struct SyncedSecrets {
    objects: Objects<SyncedSecretKind>,
    external_secrets: bool,
}

impl SyncedSecrets {
    /// Create or update: the Secret, then (with the switch on) the ESO companions, which
    /// merge into the Secret and so come after it.
    async fn apply(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let client = self.objects.client(ctx).await?;
        let outputs = object::apply::<SyncedSecretKind>(ctx, &client).await?;
        if self.external_secrets {
            external_secrets::apply(ctx, &client).await?;
        }
        Ok(outputs)
    }
}

#[async_trait]
impl ResourceOps for SyncedSecrets {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let client = self.objects.client(ctx).await?;
        let mut observation = object::observe::<SyncedSecretKind>(ctx, &client).await?;
        if self.external_secrets
            && let Observation::Present(observed) = &mut observation
            && observed.owner == Owner::Us
        {
            let companions = external_secrets::drift(ctx, &client).await?;
            observed.drift = Drift::join(observed.drift.take(), companions);
        }
        Ok(observation)
    }
    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        self.apply(ctx).await
    }
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        self.apply(ctx).await
    }
    fn supports_update(&self) -> bool {
        true
    }
    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        let client = self.objects.client(ctx).await?;
        // ESO companions go first, whether or not the switch is still on (only ours).
        external_secrets::delete(ctx, &client).await?;
        object::delete::<SyncedSecretKind>(ctx, &client).await
    }
    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        self.objects.ready(ctx).await
    }
    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let client = self.objects.client(ctx).await?;
        let readiness = object::gone::<SyncedSecretKind>(ctx, &client).await?;
        if matches!(readiness, Readiness::Ready(_))
            && let Some(pending) = external_secrets::pending_ours(ctx, &client).await?
        {
            return Ok(Readiness::pending(pending));
        }
        Ok(readiness)
    }
}
