//! The main demo: a full stack up -> deploy -> down against the local stand-ins.
//!
//! `cargo run -p multicloud-examples --bin demo -- [--cloud memory|aws|all]`
//!
//! - `memory`: the whole stack, apps included, on the engine's in-memory cloud with
//!   realistic relative latencies (1 unit = 50 ms), showing the plan, live progress, outputs,
//!   the no-op re-plan, and the wall time against the critical path.
//! - `aws`: the infrastructure on a local moto server through the official aws-sdk-rust
//!   clients and the app on a real local Kubernetes control plane (kube-apiserver, etcd,
//!   controller-manager, scheduler, kwok) through kube-rs, in one plan: plan, up, the rolled-out
//!   Deployment, API calls per `up` and per re-plan, adoption after the state file is deleted,
//!   down (the app first), and a sweep that must find nothing.
//! - `azure`: the same stack on the in-process ARM + Key Vault emulator (AKS 1.5 s, databases
//!   and caches 1 s, everything else 0.5 s per operation, all three LRO patterns), the app on
//!   the local control plane reached through the cluster's `listClusterUserCredential`
//!   kubeconfig, as on real AKS: up, re-plan, down, sweep.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use futures::StreamExt;
use multicloud_core::events::Event;
use multicloud_core::plan::Action;
use multicloud_core::prelude::*;
use multicloud_core::provider::CloudProvider;
use multicloud_core::spec::NodeSize;
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud};
use multicloud_k8s::KubernetesWorkloads;
use multicloud_k8s::testing::ControlPlane;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Cloud {
    Memory,
    Aws,
    Azure,
    All,
}

#[derive(Debug, Parser)]
#[command(about = "multicloud full-stack demo against local stand-ins")]
struct Args {
    /// Which stand-in to run against.
    #[arg(long, value_enum, default_value = "all")]
    cloud: Cloud,
    /// Print every progress event, not only starts and completions.
    #[arg(long)]
    verbose: bool,
}

fn spec(app: Option<Expose>) -> anyhow::Result<StackSpec> {
    let mut b = StackSpec::builder("shop")
        .environment("demo")
        // One spec for every cloud: a region per cloud and neutral sizes each maps.
        .aws_region("us-east-1")
        .azure_location("westeurope")
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(NodePool::sized("general", NodeSize::Medium, 2, 5)))
        .database(Postgres::new("16").storage_gb(20))
        .cache(Redis::new("7.1"))
        .registry(RegistrySpec::new("shop-api"))
        .secret(SecretSpec::generated("api-token", 32))
        .workload_identity(WorkloadIdentity::new("shop", "api").can_read_secret("api-token"))
        .ttl(Duration::from_secs(4 * 3600));
    if let Some(expose) = app {
        // The app gets DATABASE_URL, PG* (and REDIS_* with a cache) from the stack's own
        // database and cache, read from the cloud's secret store at apply time.
        let api = App::new("api")
            .image_from_registry("shop-api", "v1")
            .port(8080)
            .env_from_secret("API_TOKEN", "api-token")
            .connect_database()
            .resources("250m", "256Mi")
            .expose(expose);
        b = b.app(api.connect_cache());
    }
    Ok(b.build()?)
}

fn print_events(stack: &Stack, verbose: bool) -> tokio::task::JoinHandle<()> {
    let mut events = stack.events();
    let start = Instant::now();
    tokio::spawn(async move {
        while let Some(ev) = events.next().await {
            let t = start.elapsed().as_secs_f64();
            let shown = match ev {
                Event::ResourceProgress { .. } => verbose,
                Event::ResourceStarted { .. }
                | Event::ResourceSucceeded { .. }
                | Event::ResourceFailed { .. }
                | Event::ResourceRetrying { .. }
                | Event::Finished { .. } => true,
                _ => false,
            };
            if shown {
                println!("  [{t:7.2}s] {ev}");
            }
        }
    })
}

async fn memory_demo(verbose: bool) -> anyhow::Result<()> {
    println!("\n=== in-memory cloud: full stack with the app (1 time unit = 50 ms) ===");
    let latencies = Latencies::realistic(Duration::from_millis(50));
    let cloud = MemoryCloud::new(latencies.clone());
    let provider = Arc::new(InMemoryProvider::new(cloud.clone()));
    let spec = spec(Some(Expose::LoadBalancer))?;
    let graph = provider.expand(&spec)?;
    let critical = graph.critical_path(|r| latencies.of(r.kind).as_secs_f64());
    let sequential: f64 = graph
        .resources()
        .iter()
        .map(|r| latencies.of(r.kind).as_secs_f64())
        .sum();
    let dir = tempfile::tempdir()?;
    let stack = Stack::new(spec, provider.clone())
        .workloads(provider.workloads())
        .state(LocalStateStore::new(dir.path()));
    let plan = stack.plan().await?;
    println!("{plan}");
    let printer = print_events(&stack, verbose);
    let start = Instant::now();
    let outputs = stack.up().await?;
    let wall = start.elapsed().as_secs_f64();
    println!("\noutputs:\n{}", serde_json::to_string_pretty(&outputs)?);
    println!(
        "\nup took {wall:.2}s; critical path {critical:.2}s (ratio {:.3}); sequential {sequential:.2}s (ratio {:.3})",
        wall / critical,
        wall / sequential
    );
    let replan = stack.plan().await?;
    println!("re-plan: {}", replan.summary());
    if !replan.is_noop() {
        bail!("re-plan after up is not a no-op:\n{replan}");
    }
    println!("\ndown:");
    stack.down().await?;
    if !cloud.resources().is_empty() {
        bail!("resources left after down: {:?}", cloud.resources());
    }
    println!(
        "down complete: the memory cloud is empty; dependency violations: {}",
        cloud.dependency_violations()
    );
    printer.abort();
    Ok(())
}

async fn aws_demo(verbose: bool) -> anyhow::Result<()> {
    use multicloud_aws::AwsProvider;
    use multicloud_aws::sweeper::{SweepFilter, Sweeper};
    use multicloud_aws::testing::MotoServer;

    println!("\n=== AWS on a local moto server (official aws-sdk-rust clients) ===");
    let moto = MotoServer::start().await.context("starting moto")?;
    println!("moto listening on {}", moto.endpoint());
    let provider = Arc::new(AwsProvider::from_sdk_config(
        &moto.sdk_config("us-east-1").await,
    ));
    // moto's EKS endpoint is not a Kubernetes server: the app goes onto a real local control
    // plane instead (`cluster_access`). The Service is a LoadBalancer: the plane's own
    // load-balancer controller plays the cloud (a loopback address and the cleanup finalizer
    // that `down` waits for).
    let plane = ControlPlane::start()
        .await
        .context("starting the local Kubernetes control plane (scripts/install-k8s.sh)")?;
    println!("Kubernetes control plane listening on {}", plane.endpoint());
    let spec = spec(Some(Expose::LoadBalancer))?;
    let dir = tempfile::tempdir()?;
    let stack = Stack::new(spec, provider.clone())
        .workloads(KubernetesWorkloads::new())
        .cluster_access(plane.credentials())
        .state(LocalStateStore::new(dir.path()));
    let printer = print_events(&stack, verbose);

    let calls = provider.api_calls();
    let plan = stack.plan().await?;
    println!("{plan}");
    println!("API calls for the first plan: {}", calls.total());
    calls.reset();
    let start = Instant::now();
    let outputs = stack.up().await?;
    println!(
        "\nup took {:.2}s with {} API calls ({} mutating)",
        start.elapsed().as_secs_f64(),
        calls.total(),
        calls.mutating()
    );
    println!("outputs:\n{}", serde_json::to_string_pretty(&outputs)?);
    print_app(&plane).await?;

    calls.reset();
    let replan = stack.plan().await?;
    println!(
        "re-plan: {} — {} API calls, {} mutating",
        replan.summary(),
        calls.total(),
        calls.mutating()
    );
    // moto's ECR tokens carry a fixed expiry in the past, so the pull secret is renewed on
    // every plan; anything else changing is a bug.
    let unexpected: Vec<_> = replan
        .actions
        .iter()
        .filter(|a| a.action != Action::NoOp && a.id.kind_name() != "pull_secret")
        .collect();
    if !unexpected.is_empty() {
        bail!("re-plan after up changes more than the pull secret:\n{replan}");
    }

    std::fs::remove_dir_all(dir.path())?;
    let adopt = stack.plan().await?;
    println!("after deleting the state file: {}", adopt.summary());
    stack.up().await?;
    println!(
        "up adopted everything; re-plan: {}",
        stack.plan().await?.summary()
    );

    println!("\ndown (the app first, then the infrastructure):");
    calls.reset();
    stack.down().await?;
    println!("down made {} API calls", calls.total());
    let sweeper = provider.sweeper();
    let left = sweeper.find(&SweepFilter::stack("shop", "demo")).await?;
    println!("sweeper finds {} resource(s) left", left.len());
    for r in &left {
        println!("  - {} {}", r.kind, r.name);
    }
    printer.abort();
    Ok(())
}

async fn azure_demo(verbose: bool) -> anyhow::Result<()> {
    use multicloud_azure::AzureProvider;
    use multicloud_azure::emulator::{Emulator, cluster_access, paced_config};
    use multicloud_azure::sweeper::SweepFilter;

    println!(
        "\n=== Azure on the ARM + Key Vault emulator (azure_core pipeline, official SecretClient) ==="
    );
    let emu = Emulator::start(paced_config(Duration::from_millis(500)))
        .await
        .context("starting the emulator")?;
    let plane = ControlPlane::start()
        .await
        .context("starting the local Kubernetes control plane (scripts/install-k8s.sh)")?;
    // The emulated AKS hands out a kubeconfig for the local plane, as real AKS does for its own.
    emu.set_cluster_access(cluster_access(&plane.bearer_credentials()));
    let provider = Arc::new(AzureProvider::emulator(&emu).build()?);
    // The same spec as the AWS run: `azure.location` and the neutral sizes apply here.
    let spec = spec(Some(Expose::ClusterIp))?;
    let dir = tempfile::tempdir()?;
    let stack = Stack::new(spec, provider.clone())
        .workloads(KubernetesWorkloads::new())
        .state(LocalStateStore::new(dir.path()));
    let printer = print_events(&stack, verbose);
    let calls = provider.api_calls();
    let plan = stack.plan().await?;
    println!("{plan}");
    calls.reset();
    let start = Instant::now();
    let outputs = stack.up().await?;
    println!(
        "\nup took {:.2}s with {} ARM/Key Vault calls",
        start.elapsed().as_secs_f64(),
        calls.total()
    );
    println!("outputs:\n{}", serde_json::to_string_pretty(&outputs)?);
    print_app(&plane).await?;
    calls.reset();
    let replan = stack.plan().await?;
    println!("re-plan: {} — {} calls", replan.summary(), calls.total());
    if !replan.is_noop() {
        bail!("re-plan after up is not a no-op:\n{replan}");
    }
    println!("\ndown (the app first, then the infrastructure):");
    calls.reset();
    let start = Instant::now();
    stack.down().await?;
    println!(
        "down took {:.2}s with {} calls",
        start.elapsed().as_secs_f64(),
        calls.total()
    );
    let poller = multicloud_core::retry::Poller::default();
    let left = provider
        .sweep(&SweepFilter::stack("shop", "demo"), true, &poller)
        .await?;
    println!(
        "sweeper (dry run) finds anything left: {}",
        !left.is_empty()
    );
    printer.abort();
    Ok(())
}

/// What `kubectl get deploy,svc -n shop` would show, read with kube-rs.
async fn print_app(plane: &ControlPlane) -> anyhow::Result<()> {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Service;
    use kube::api::{Api, ListParams};
    let client = plane.client().await?;
    for d in Api::<Deployment>::namespaced(client.clone(), "shop")
        .list(&ListParams::default())
        .await?
    {
        let s = d.status.unwrap_or_default();
        let image = d.spec.template.spec.map(|p| p.containers[0].image.clone());
        println!(
            "deployment/{}: {}/{} available, image {}",
            d.metadata.name.unwrap_or_default(),
            s.available_replicas.unwrap_or(0),
            d.spec.replicas.unwrap_or(1),
            image.flatten().unwrap_or_default()
        );
    }
    for svc in Api::<Service>::namespaced(client, "shop")
        .list(&ListParams::default())
        .await?
    {
        let spec = svc.spec.unwrap_or_default();
        let external = svc
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|lb| lb.ingress)
            .and_then(|i| i.into_iter().find_map(|i| i.ip))
            .map(|ip| format!(", load balancer {ip}"));
        println!(
            "service/{}: {} {}{}",
            svc.metadata.name.unwrap_or_default(),
            spec.type_.unwrap_or_default(),
            spec.cluster_ip.unwrap_or_default(),
            external.unwrap_or_default()
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            // kube logs every failed request at ERROR; the control plane's start-up probes
            // (503/500 until it is ready) are expected failures.
            tracing_subscriber::EnvFilter::try_from_env("MULTICLOUD_LOG")
                .unwrap_or_else(|_| "warn,kube_client::client::builder=off".into()),
        )
        .init();
    let args = Args::parse();
    if matches!(args.cloud, Cloud::Memory | Cloud::All) {
        memory_demo(args.verbose).await?;
    }
    if matches!(args.cloud, Cloud::Aws | Cloud::All) {
        aws_demo(args.verbose).await?;
    }
    if matches!(args.cloud, Cloud::Azure | Cloud::All) {
        azure_demo(args.verbose).await?;
    }
    println!("\ndemo finished");
    Ok(())
}
