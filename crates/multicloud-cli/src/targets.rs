//! The clouds a command runs on: for each, its provider, sweeper and [`Stack`] of the spec,
//! on the real cloud or on the local stand-ins.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use multicloud_aws::AwsProvider;
use multicloud_azure::AzureProvider;
use multicloud_core::access::ClusterCredentials;
use multicloud_core::provider::{CloudProvider, WorkloadOps};
use multicloud_core::state::StateStore;
use multicloud_core::sweep::Sweeper;
use multicloud_core::{ApplyOptions, Stack, StackSpec};
use multicloud_k8s::KubernetesWorkloads;
use tokio_util::sync::CancellationToken;

use crate::cli::Cloud;
use crate::exit::CliError;
use crate::local::{self, Running};
use crate::session::SessionFile;

/// A cloud's provider and what goes with it.
pub struct Backend {
    /// The provider.
    pub provider: Arc<dyn CloudProvider>,
    /// Its sweeper.
    pub sweeper: Box<dyn Sweeper>,
    /// How to reach the cluster instead of the provider's credentials (a local plane).
    pub access: Option<ClusterCredentials>,
    /// Engine options other than the defaults (the emulator's short polls).
    pub options: Option<ApplyOptions>,
}

/// One cloud a command runs on.
pub struct Target {
    /// Which cloud.
    pub cloud: Cloud,
    /// The stack of the spec on it.
    pub stack: Stack,
    /// Its sweeper.
    pub sweeper: Box<dyn Sweeper>,
    /// Expected duration of each kind (`KindDef::expected`), by kind name.
    pub expected: BTreeMap<&'static str, Duration>,
}

/// The targets of a run, and the stand-ins they run on (stopped when this is dropped).
pub struct Session {
    /// One per cloud, in `--cloud` order.
    pub targets: Vec<Target>,
    _running: Vec<Running>,
}

/// What every target is built from.
pub struct Setup<'a> {
    /// The validated spec.
    pub spec: &'a StackSpec,
    /// The state store.
    pub store: Arc<dyn StateStore>,
    /// Cancels the runs (Ctrl-C).
    pub cancel: CancellationToken,
    /// Use the local stand-ins.
    pub local: bool,
    /// The running `multicloud local` session they belong to, if any.
    pub session: Option<SessionFile>,
}

/// Whether the spec puts anything on a cluster.
pub fn has_apps(spec: &StackSpec) -> bool {
    !spec.apps.is_empty() || !spec.manifests.is_empty()
}

impl Session {
    /// Builds a target per cloud of `clouds` (starting their stand-ins at once with
    /// `--local`).
    pub async fn open(setup: &Setup<'_>, clouds: &[Cloud]) -> Result<Self, CliError> {
        let backends = futures::future::join_all(clouds.iter().map(|&c| backend(setup, c))).await;
        let mut targets = Vec::new();
        let mut running = Vec::new();
        for (&cloud, built) in clouds.iter().zip(backends) {
            let (backend, run) = built?;
            running.extend(run);
            targets.push(target(setup, cloud, backend));
        }
        Ok(Self {
            targets,
            _running: running,
        })
    }
}

/// The backend of `cloud`: its stand-ins with `--local`, else the real cloud configured from
/// the environment.
async fn backend(setup: &Setup<'_>, cloud: Cloud) -> Result<(Backend, Option<Running>), CliError> {
    let apps = has_apps(setup.spec);
    let region = aws_region(setup.spec);
    let session = setup.session.as_ref();
    match (cloud, setup.local) {
        (Cloud::Aws, true) => local::aws(&region, apps, session).await,
        (Cloud::Azure, true) => local::azure(apps, session).await,
        (Cloud::Aws, false) => {
            let provider = Arc::new(AwsProvider::builder().region(region).build().await);
            let sweeper: Box<dyn Sweeper> = Box::new(provider.sweeper());
            Ok((plain(provider, sweeper), None))
        }
        (Cloud::Azure, false) => {
            let provider = AzureProvider::builder()
                .build()
                .map_err(|e| CliError::setup("the Azure provider", e))?;
            let provider = Arc::new(provider);
            let sweeper: Box<dyn Sweeper> = Box::new(provider.sweeper());
            Ok((plain(provider, sweeper), None))
        }
    }
}

fn plain(provider: Arc<dyn CloudProvider>, sweeper: Box<dyn Sweeper>) -> Backend {
    Backend {
        provider,
        sweeper,
        access: None,
        options: None,
    }
}

/// The AWS region of `spec`: `aws.region`, else `region`.
fn aws_region(spec: &StackSpec) -> String {
    multicloud_aws::expand::resolve::region(spec).map_or_else(|_| spec.region.clone(), |r| r.value)
}

fn target(setup: &Setup<'_>, cloud: Cloud, backend: Backend) -> Target {
    let workloads = KubernetesWorkloads::new();
    let expected = backend
        .provider
        .kinds()
        .iter()
        .chain(workloads.kind_table().defs())
        .map(|def| (def.kind.as_str(), def.expected))
        .collect();
    let mut stack = Stack::new(setup.spec.clone(), backend.provider)
        .state_arc(setup.store.clone())
        .cancellation(setup.cancel.clone());
    if let Some(options) = backend.options {
        stack = stack.options(options);
    }
    if has_apps(setup.spec) {
        stack = stack.workloads(workloads);
    }
    if let Some(access) = backend.access {
        stack = stack.cluster_access(access);
    }
    Target {
        cloud,
        stack,
        sweeper: backend.sweeper,
        expected,
    }
}
