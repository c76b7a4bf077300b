//! What the in-process scenarios share: a stand-in per cloud, a provider on it (directly or
//! through a port such as a fault proxy's), the sweeper the CLI uses on it, and the small
//! stack as a spec.

use std::net::SocketAddr;
use std::sync::Arc;

use multicloud_aws::testing::{MotoServer, fast_sweeper, sdk_config_at};
use multicloud_azure::emulator::{Emulator, EmulatorConfig, engine_options};
use multicloud_core::prelude::*;
use multicloud_core::sweep::{SweepFilter, Sweeper};

use crate::cli::Error;

/// One cloud's stand-in, started for a scenario (stopped on drop).
pub enum StandIn {
    /// moto.
    Aws(MotoServer),
    /// The ARM + Key Vault emulator (Retry-After of 1 s).
    Azure(Emulator),
}

/// A provider on a stand-in, with what a stack there needs.
pub struct Side {
    /// The provider.
    pub provider: Arc<dyn CloudProvider>,
    /// The engine options of the stand-in (the emulator's), if any.
    pub options: Option<ApplyOptions>,
    /// The sweeper the CLI uses on it.
    pub sweeper: Box<dyn Sweeper>,
    /// The SDK calls the provider made so far.
    pub calls: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl StandIn {
    /// Starts the stand-in of `cloud` (`aws` or `azure`).
    pub async fn start(cloud: &str) -> Result<Self, Error> {
        Ok(if cloud == "aws" {
            Self::Aws(MotoServer::start().await?)
        } else {
            Self::Azure(
                Emulator::start(EmulatorConfig {
                    retry_after: 1,
                    ..EmulatorConfig::default()
                })
                .await?,
            )
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        let port = match self {
            Self::Aws(moto) => moto.port(),
            Self::Azure(emulator) => emulator.port(),
        };
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// The region of its stacks.
    pub fn region(&self) -> &'static str {
        match self {
            Self::Aws(_) => "us-east-1",
            Self::Azure(_) => "westeurope",
        }
    }

    /// A provider reaching it through `port` on 127.0.0.1 (its own, or a proxy's).
    pub async fn side(&self, port: u16) -> Result<Side, Error> {
        match self {
            Self::Aws(_) => {
                let sdk = sdk_config_at(&format!("http://127.0.0.1:{port}"), "us-east-1").await;
                let provider = Arc::new(multicloud_aws::AwsProvider::from_sdk_config(&sdk));
                let sweeper = Box::new(fast_sweeper(provider.clients()));
                let counted = provider.clone();
                Ok(Side {
                    provider,
                    options: None,
                    sweeper,
                    calls: Box::new(move || counted.api_calls().total()),
                })
            }
            Self::Azure(emu) => {
                let provider = multicloud_azure::AzureProvider::emulator_at(
                    port,
                    emu.subscription(),
                    emu.tenant(),
                )
                .build()?;
                let provider = Arc::new(provider);
                let options = engine_options();
                let sweeper = Box::new(provider.sweeper().with_poller(options.poller));
                let counted = provider.clone();
                Ok(Side {
                    provider,
                    options: Some(options),
                    sweeper,
                    calls: Box::new(move || counted.api_calls().total()),
                })
            }
        }
    }
}

impl Side {
    /// What the sweeper finds of every environment of `stack`.
    pub async fn leftovers(&self, stack: &str) -> Result<Vec<String>, Error> {
        let report = self
            .sweeper
            .sweep(&SweepFilter::every_environment_of(stack), true)
            .await?;
        Ok(report
            .found
            .iter()
            .map(|r| format!("{} {}", r.kind, r.name))
            .collect())
    }

    /// A stack of `spec` on this side, its state in `dir`.
    pub fn stack(&self, spec: StackSpec, dir: &std::path::Path) -> Stack {
        let stack = Stack::new(spec, self.provider.clone()).state(LocalStateStore::new(dir));
        match &self.options {
            Some(options) => stack.options(options.clone()),
            None => stack,
        }
    }
}

/// The small stack (network + registry + secret + database) named `name`.
pub fn small_spec(name: &str, environment: &str, region: &str) -> Result<StackSpec, Error> {
    Ok(StackSpec::builder(name)
        .environment(environment)
        .region(region)
        .network(Network::default())
        .registry(RegistrySpec::new("api"))
        .secret(SecretSpec::generated("token", 32))
        .database(Postgres::new("16"))
        .build()?)
}

/// The peak resident memory of this process (VmHWM), in MiB.
pub fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
