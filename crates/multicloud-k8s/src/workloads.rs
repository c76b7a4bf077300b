//! [`KubernetesWorkloads`]: the [`WorkloadOps`] of the six app kinds, dispatching each
//! operation to the kind's [`ObjectKind`](crate::object::ObjectKind).

use std::time::Duration;

use async_trait::async_trait;
use kube::Client;
use multicloud_core::kind::{KindDef, ServiceFamily};
use multicloud_core::provider::{
    Observation, OpContext, Outputs, Readiness, ResourceOps, WorkloadOps,
};
use multicloud_core::resource::ResourceKind;
use multicloud_core::{ErrorKind, ProviderError};

use crate::client::ClientCache;
use crate::kinds::deployment::DeploymentKind;
use crate::kinds::external_secrets;
use crate::kinds::manifest;
use crate::kinds::namespace::NamespaceKind;
use crate::kinds::pull_secret::PullSecretKind;
use crate::kinds::service::ServiceKind;
use crate::kinds::service_account::ServiceAccountKind;
use crate::kinds::synced_secret::SyncedSecretKind;
use crate::object;

/// The app kinds with their expected durations and wait timeouts: a rollout may take
/// minutes (image pulls), a namespace's deletion waits for everything in it.
static KINDS: &[KindDef] = &[
    KindDef::new(ResourceKind::NAMESPACE, ServiceFamily::Workloads)
        .expected(Duration::from_secs(1))
        .timeout(Duration::from_secs(600)),
    KindDef::new(ResourceKind::PULL_SECRET, ServiceFamily::Workloads)
        .expected(Duration::from_millis(200))
        .timeout(Duration::from_secs(60)),
    KindDef::new(ResourceKind::SERVICE_ACCOUNT, ServiceFamily::Workloads)
        .expected(Duration::from_millis(200))
        .timeout(Duration::from_secs(60)),
    KindDef::new(ResourceKind::SYNCED_SECRET, ServiceFamily::Workloads)
        .expected(Duration::from_millis(200))
        .timeout(Duration::from_secs(60)),
    KindDef::new(ResourceKind::DEPLOYMENT, ServiceFamily::Workloads)
        .expected(Duration::from_secs(30))
        .timeout(Duration::from_secs(600)),
    KindDef::new(ResourceKind::SERVICE, ServiceFamily::Workloads)
        .expected(Duration::from_secs(2))
        .timeout(Duration::from_secs(600)),
    KindDef::new(ResourceKind::MANIFEST, ServiceFamily::Workloads)
        .expected(Duration::from_secs(5))
        .timeout(Duration::from_secs(600)),
];

/// The app on the stack's cluster, applied with server-side apply (field manager
/// `multicloud`) and the stack's ownership labels. Attach it with
/// [`Stack::workloads`](multicloud_core::Stack::workloads); it reaches the cluster with the
/// run's cluster credentials (the provider's, or [`Stack::cluster_access`](multicloud_core::Stack::cluster_access)).
#[derive(Default)]
pub struct KubernetesWorkloads {
    clients: ClientCache,
    external_secrets: bool,
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
    pub fn with_external_secrets(mut self) -> Self {
        self.external_secrets = true;
        self
    }

    /// Whether the ESO companions apply to the resource of `ctx`.
    fn eso(&self, ctx: &OpContext<'_>) -> bool {
        self.external_secrets && ctx.resource.kind == ResourceKind::SYNCED_SECRET
    }

    async fn client(&self, ctx: &OpContext<'_>) -> Result<Client, ProviderError> {
        let creds = ctx.cluster_credentials().await?;
        self.clients.get(&creds).await
    }
}

impl std::fmt::Debug for KubernetesWorkloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesWorkloads")
            .field("external_secrets", &self.external_secrets)
            .finish_non_exhaustive()
    }
}

fn unsupported(kind: ResourceKind) -> ProviderError {
    ProviderError::new(
        ErrorKind::Unsupported,
        format!("multicloud-k8s does not handle kind {kind}"),
    )
}

/// Runs `$op::<Kind>(ctx, client)` for the kind of `ctx.resource`.
macro_rules! dispatch {
    ($op:ident, $ctx:expr, $client:expr) => {
        match $ctx.resource.kind {
            ResourceKind::NAMESPACE => object::$op::<NamespaceKind>($ctx, $client).await,
            ResourceKind::PULL_SECRET => object::$op::<PullSecretKind>($ctx, $client).await,
            ResourceKind::SERVICE_ACCOUNT => object::$op::<ServiceAccountKind>($ctx, $client).await,
            ResourceKind::SYNCED_SECRET => object::$op::<SyncedSecretKind>($ctx, $client).await,
            ResourceKind::DEPLOYMENT => object::$op::<DeploymentKind>($ctx, $client).await,
            ResourceKind::SERVICE => object::$op::<ServiceKind>($ctx, $client).await,
            ResourceKind::MANIFEST => manifest::$op($ctx, $client).await,
            other => Err(unsupported(other)),
        }
    };
}

#[async_trait]
impl ResourceOps for KubernetesWorkloads {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let client = self.client(ctx).await?;
        let mut observation = dispatch!(observe, ctx, &client)?;
        if self.eso(ctx)
            && let Observation::Present(observed) = &mut observation
            && !observed.drifted
        {
            observed.drifted = external_secrets::drifted(ctx, &client).await?;
        }
        Ok(observation)
    }
    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        self.apply(ctx).await
    }
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        self.apply(ctx).await
    }
    fn supports_update(&self, _kind: ResourceKind) -> bool {
        true
    }
    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        let client = self.client(ctx).await?;
        // ESO companions go first, whether or not the switch is still on (only ours).
        if ctx.resource.kind == ResourceKind::SYNCED_SECRET {
            external_secrets::delete(ctx, &client).await?;
        }
        dispatch!(delete, ctx, &client)
    }
    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let client = self.client(ctx).await?;
        dispatch!(ready, ctx, &client)
    }
    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let client = self.client(ctx).await?;
        let readiness = dispatch!(gone, ctx, &client)?;
        if ctx.resource.kind == ResourceKind::SYNCED_SECRET
            && matches!(readiness, Readiness::Ready(_))
            && let Some(pending) = external_secrets::pending_ours(ctx, &client).await?
        {
            return Ok(Readiness::pending(pending));
        }
        Ok(readiness)
    }
}

impl KubernetesWorkloads {
    /// Create or update: the kind's object, then (synced secrets with the switch on) the ESO
    /// companions, which merge into the Secret and so come after it.
    async fn apply(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let client = self.client(ctx).await?;
        let outputs = dispatch!(apply, ctx, &client)?;
        if self.eso(ctx) {
            external_secrets::apply(ctx, &client).await?;
        }
        Ok(outputs)
    }
}

impl WorkloadOps for KubernetesWorkloads {
    fn kinds(&self) -> &[KindDef] {
        KINDS
    }
}
