//! A stack (network + registry + secret) up and down through the fault proxy
//! ([`multicloud_testing::fault`]) with 10 % of the requests faulted (the service's
//! throttling answer, 500, 503, or a reset after the stand-in did the work), on moto and on
//! the Azure emulator: it converges with the SDK's retry layers, leaves nothing behind, and
//! the extra requests and wall time are printed beside a fault-free run through the same
//! proxy. Figures are printed, never asserted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use multicloud_aws::AwsProvider;
use multicloud_aws::sweeper::Sweeper as _;
use multicloud_aws::testing::{MotoServer, sdk_config_at};
use multicloud_azure::AzureProvider;
use multicloud_azure::emulator::{Emulator, EmulatorConfig};
use multicloud_core::prelude::*;
use multicloud_testing::fault::{FaultPlan, FaultProxy, FaultStats, Profile};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// The share of requests faulted.
const RATE: f64 = 0.10;
/// The seed of the faulted runs.
const SEED: u64 = 18;

fn spec(environment: &str, region: &str) -> TestResult<StackSpec> {
    Ok(StackSpec::builder("faults")
        .environment(environment)
        .region(region)
        .network(Network::default())
        .registry(RegistrySpec::new("api"))
        .secret(SecretSpec::generated("token", 32))
        .build()?)
}

/// What one run (up then down) through a proxy took.
struct Run {
    stats: FaultStats,
    wall: Duration,
    sdk_calls: u64,
}

fn report(cloud: &str, clean: &Run, faulty: &Run) {
    let extra = faulty.stats.requests.saturating_sub(clean.stats.requests);
    println!(
        "{cloud}: fault-free {} requests ({} SDK calls) in {:.2?}; {:.0} % faults {} requests \
         ({} SDK calls) in {:.2?}: {extra} extra requests, {} failed by faults, {:+.2?} wall\n\
         {cloud}: faulted run: {}",
        clean.stats.requests,
        clean.sdk_calls,
        clean.wall,
        RATE * 100.0,
        faulty.stats.requests,
        faulty.sdk_calls,
        faulty.wall,
        faulty.stats.failed_attempts(),
        faulty.wall.as_secs_f64() - clean.wall.as_secs_f64(),
        faulty.stats,
    );
}

/// The AWS faults of the faulted run: throttling, 500, 503 (EC2's `Unavailable`, transient
/// since `classify_kind` reads a 5xx status) and resets, 10 % in all.
fn aws_plan() -> FaultPlan {
    FaultPlan::mixed(Profile::Aws, SEED, RATE)
}

async fn aws_run(moto: SocketAddr, plan: FaultPlan, environment: &str) -> TestResult<Run> {
    let proxy = FaultProxy::start(moto, plan).await?;
    let sdk = sdk_config_at(&proxy.endpoint(), "us-east-1").await;
    let provider = Arc::new(AwsProvider::from_sdk_config(&sdk));
    let dir = tempfile::tempdir()?;
    let stack = Stack::new(spec(environment, "us-east-1")?, provider.clone())
        .state(LocalStateStore::new(dir.path()));
    let started = Instant::now();
    let out = stack.up().await?;
    assert!(out.registries.contains_key("api"));
    assert!(out.secrets.contains_key("token"));
    stack.down().await?;
    let wall = started.elapsed();
    Ok(Run {
        stats: proxy.stats(),
        wall,
        sdk_calls: provider.api_calls().total(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_stack_converges_through_ten_percent_faults() -> TestResult {
    let moto = MotoServer::start().await?;
    let upstream = SocketAddr::from(([127, 0, 0, 1], moto.port()));
    let clean = aws_run(upstream, FaultPlan::new(Profile::Aws, SEED), "clean").await?;
    assert_eq!(clean.stats.failed_attempts(), 0);
    let faulty = aws_run(upstream, aws_plan(), "faulty").await?;
    report("aws", &clean, &faulty);
    assert!(faulty.stats.failed_attempts() > 0, "{}", faulty.stats);

    // Nothing of either run is left (a reset create retried must not leave a duplicate).
    let direct = AwsProvider::from_sdk_config(&moto.sdk_config("us-east-1").await);
    for environment in ["clean", "faulty"] {
        let filter = multicloud_aws::sweeper::SweepFilter::stack("faults", environment);
        let left = direct.sweeper().find(&filter).await?;
        assert!(left.is_empty(), "{environment}: left behind {left:?}");
    }
    Ok(())
}

async fn azure_run(emu: &Emulator, plan: FaultPlan, environment: &str) -> TestResult<Run> {
    let upstream = SocketAddr::from(([127, 0, 0, 1], emu.port()));
    let proxy = FaultProxy::start(upstream, plan).await?;
    let provider = Arc::new(
        AzureProvider::emulator_at(proxy.port(), emu.subscription(), emu.tenant()).build()?,
    );
    let dir = tempfile::tempdir()?;
    let stack = Stack::new(spec(environment, "westeurope")?, provider.clone())
        .state(LocalStateStore::new(dir.path()))
        .options(multicloud_azure::emulator::engine_options());
    let started = Instant::now();
    let out = stack.up().await?;
    assert!(out.registries.contains_key("api"));
    assert!(out.secrets.contains_key("token"));
    stack.down().await?;
    let wall = started.elapsed();
    Ok(Run {
        stats: proxy.stats(),
        wall,
        sdk_calls: provider.api_calls().total(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_stack_converges_through_ten_percent_faults() -> TestResult {
    let emu = Emulator::start(EmulatorConfig {
        retry_after: 1,
        ..EmulatorConfig::default()
    })
    .await?;
    let clean = azure_run(&emu, FaultPlan::new(Profile::Azure, SEED), "clean").await?;
    assert_eq!(clean.stats.failed_attempts(), 0);
    let faulty = azure_run(&emu, FaultPlan::mixed(Profile::Azure, SEED, RATE), "faulty").await?;
    report("azure", &clean, &faulty);
    assert!(faulty.stats.failed_attempts() > 0, "{}", faulty.stats);

    let direct = AzureProvider::emulator(&emu).build()?;
    for environment in ["clean", "faulty"] {
        let filter = multicloud_azure::sweeper::SweepFilter::stack("faults", environment);
        let poller = multicloud_azure::emulator::engine_options().poller;
        let left = direct.sweep(&filter, true, &poller).await?;
        assert!(left.is_empty(), "{environment}: left behind {left:?}");
    }
    Ok(())
}
