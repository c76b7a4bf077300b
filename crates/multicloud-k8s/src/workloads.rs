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
}

impl KubernetesWorkloads {
    /// The workloads backend.
    pub fn new() -> Self {
        Self::default()
    }

    async fn client(&self, ctx: &OpContext<'_>) -> Result<Client, ProviderError> {
        let creds = ctx.cluster_credentials().await?;
        self.clients.get(&creds).await
    }
}

impl std::fmt::Debug for KubernetesWorkloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesWorkloads")
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
        dispatch!(observe, ctx, &client)
    }
    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let client = self.client(ctx).await?;
        dispatch!(apply, ctx, &client)
    }
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let client = self.client(ctx).await?;
        dispatch!(apply, ctx, &client)
    }
    fn supports_update(&self, _kind: ResourceKind) -> bool {
        true
    }
    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        let client = self.client(ctx).await?;
        dispatch!(delete, ctx, &client)
    }
    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let client = self.client(ctx).await?;
        dispatch!(ready, ctx, &client)
    }
    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let client = self.client(ctx).await?;
        dispatch!(gone, ctx, &client)
    }
}

impl WorkloadOps for KubernetesWorkloads {
    fn kinds(&self) -> &[KindDef] {
        KINDS
    }
}
