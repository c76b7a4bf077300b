//! `--local`: the stand-ins (moto for AWS, the ARM + Key Vault emulator for Azure, a local
//! Kubernetes control plane per cloud for the apps), through the crates' own test kits:
//! those of a running `multicloud local` session when there is one, else started for the
//! command and stopped when it ends.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use multicloud_aws::AwsProvider;
use multicloud_aws::testing::{MotoServer, fast_sweeper, sdk_config_at};
use multicloud_azure::AzureProvider;
use multicloud_azure::emulator::{Emulator, cluster_access, engine_options, paced_config};
use multicloud_core::access::ClusterCredentials;
use multicloud_core::sweep::Sweeper;
use multicloud_k8s::testing::ControlPlane;

use crate::exit::CliError;
use crate::session::{AwsSide, SessionFile};
use crate::targets::Backend;

/// The stand-ins' pace: a unit of 250 ms (on the emulator AKS 0.75 s, databases 0.5 s,
/// networks 0.25 s; on moto an EKS cluster 1 s, node groups, databases and caches 0.75 s),
/// so that progress shows while runs stay short.
const UNIT: Duration = Duration::from_millis(250);

/// What keeps stand-ins running: they stop when this is dropped.
#[derive(Default)]
pub struct Running {
    pub(crate) moto: Option<MotoServer>,
    pub(crate) emulator: Option<Emulator>,
    pub(crate) planes: Vec<ControlPlane>,
}

impl Running {
    /// Stops the stand-ins (as dropping does): the control planes first, then the clouds.
    pub fn stop(self) {
        drop(self.planes);
        drop(self.emulator);
        drop(self.moto);
    }
}

/// The AWS backend for `region`: on the session's moto, or on one started now (with a
/// control plane if `apps`).
pub async fn aws(
    region: &str,
    apps: bool,
    session: Option<&SessionFile>,
) -> Result<(Backend, Option<Running>), CliError> {
    if let Some(session) = session {
        let side = session.aws.as_ref().ok_or_else(|| missing("AWS", "aws"))?;
        return Ok((attach_aws(side, region, apps).await?, None));
    }
    let (moto, plane) = tokio::join!(start_moto(), plane(apps));
    let (moto, plane) = (moto?, plane?);
    // moto's EKS endpoint is no Kubernetes server: the apps go onto the local plane.
    let access = plane.as_ref().map(ControlPlane::credentials);
    let backend = aws_backend(&sdk_config_at(&moto.endpoint(), region).await, access);
    let running = Running {
        moto: Some(moto),
        planes: plane.into_iter().collect(),
        ..Running::default()
    };
    Ok((backend, Some(running)))
}

/// The Azure backend: on the session's emulator, or on one started now (with a control
/// plane if `apps`, which the emulated AKS clusters hand out as their API server).
pub async fn azure(
    apps: bool,
    session: Option<&SessionFile>,
) -> Result<(Backend, Option<Running>), CliError> {
    if let Some(session) = session {
        let side = session
            .azure
            .as_ref()
            .ok_or_else(|| missing("Azure", "azure"))?;
        if apps && !side.apps {
            return Err(no_plane());
        }
        let builder = AzureProvider::emulator_at(side.port, &side.subscription, &side.tenant);
        return Ok((azure_backend(builder)?, None));
    }
    let (emulator, plane) = tokio::join!(start_emulator(), plane(apps));
    let (emulator, plane) = (emulator?, plane?);
    if let Some(plane) = &plane {
        emulator.set_cluster_access(cluster_access(&plane.bearer_credentials()));
    }
    let backend = azure_backend(AzureProvider::emulator(&emulator))?;
    let running = Running {
        emulator: Some(emulator),
        planes: plane.into_iter().collect(),
        ..Running::default()
    };
    Ok((backend, Some(running)))
}

fn aws_backend(sdk: &aws_config::SdkConfig, access: Option<ClusterCredentials>) -> Backend {
    let provider = Arc::new(AwsProvider::from_sdk_config(sdk));
    let sweeper: Box<dyn Sweeper> = Box::new(fast_sweeper(provider.clients()));
    Backend {
        provider,
        sweeper,
        access,
        options: None,
    }
}

fn azure_backend(builder: multicloud_azure::AzureProviderBuilder) -> Result<Backend, CliError> {
    let provider = builder
        .build()
        .map_err(|e| CliError::setup("the Azure provider on the emulator", e))?;
    let provider = Arc::new(provider);
    let options = engine_options();
    let sweeper: Box<dyn Sweeper> = Box::new(provider.sweeper().with_poller(options.poller));
    Ok(Backend {
        provider,
        sweeper,
        access: None,
        options: Some(options),
    })
}

/// The AWS backend on a session's moto; its control plane through its kubeconfig.
async fn attach_aws(side: &AwsSide, region: &str, apps: bool) -> Result<Backend, CliError> {
    let access = match (&side.kubeconfig, apps) {
        (_, false) => None,
        (None, true) => return Err(no_plane()),
        (Some(path), true) => Some(kubeconfig(path)?),
    };
    Ok(aws_backend(
        &sdk_config_at(&side.endpoint, region).await,
        access,
    ))
}

fn kubeconfig(path: &PathBuf) -> Result<ClusterCredentials, CliError> {
    let yaml = std::fs::read_to_string(path)
        .map_err(|e| CliError::setup(&format!("reading {}", path.display()), e))?;
    multicloud_k8s::credentials_from_kubeconfig(&yaml)
        .map_err(|e| CliError::setup("the local control plane's kubeconfig", e))
}

fn missing(cloud: &str, flag: &str) -> CliError {
    CliError::Usage(format!(
        "the running `multicloud local` session has no {cloud} stand-in: restart it with --cloud {flag} or both"
    ))
}

fn no_plane() -> CliError {
    CliError::Usage(
        "the spec has apps, and the running `multicloud local` session no control plane: restart it with --apps"
            .into(),
    )
}

/// Starts moto, paced.
pub async fn start_moto() -> Result<MotoServer, CliError> {
    MotoServer::start_paced(UNIT)
        .await
        .map_err(|e| CliError::setup("starting moto", e))
}

/// Starts the emulator, paced.
pub async fn start_emulator() -> Result<Emulator, CliError> {
    Emulator::start(paced_config(UNIT))
        .await
        .map_err(|e| CliError::setup("starting the Azure emulator", e))
}

/// A local control plane when `apps`.
pub async fn plane(apps: bool) -> Result<Option<ControlPlane>, CliError> {
    if !apps {
        return Ok(None);
    }
    ControlPlane::start().await.map(Some).map_err(|e| {
        CliError::setup(
            "starting the local Kubernetes control plane (scripts/install-k8s.sh)",
            e,
        )
    })
}
