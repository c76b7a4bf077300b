//! The Azure provider against the in-process emulator with real operation durations (a
//! 1 s unit: the cluster 3 s, agent pools, PostgreSQL and Redis 2 s, the rest 1 s; ARM's
//! `Retry-After: 1`): up and down wall time beside the DAG's critical path under those
//! durations, API calls per up / no-op plan / down, and the time of a no-op plan (criterion).
//! Run with `cargo bench -p multicloud-benches --bench azure`.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use multicloud_azure::AzureProvider;
use multicloud_azure::emulator::{Emulator, EmulatorConfig};
use multicloud_azure::kinds;
use multicloud_core::prelude::*;
use multicloud_core::provider::CloudProvider;
use multicloud_core::retry::Poller;

const UNIT: Duration = Duration::from_secs(1);

fn spec() -> StackSpec {
    StackSpec::builder("bench")
        .environment("azure")
        .region("westeurope")
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "Standard_D4s_v5", 2, 5)))
        .database(Postgres::new("16"))
        .cache(Redis::new("7.4"))
        .registry(RegistrySpec::new("api"))
        .secret(SecretSpec::generated("api-token", 32))
        .workload_identity(WorkloadIdentity::new("bench", "api").can_read_secret("api-token"))
        .build()
        .expect("valid spec")
}

/// The ARM type of each kind whose operations take time on the emulator, and how long.
fn durations() -> Vec<(ResourceKind, &'static str, Duration)> {
    vec![
        (
            ResourceKind::CLUSTER,
            "Microsoft.ContainerService/managedClusters",
            UNIT * 3,
        ),
        (
            ResourceKind::NODE_POOL,
            "Microsoft.ContainerService/managedClusters/agentPools",
            UNIT * 2,
        ),
        (
            ResourceKind::DATABASE,
            "Microsoft.DBforPostgreSQL/flexibleServers",
            UNIT * 2,
        ),
        (
            ResourceKind::CACHE,
            "Microsoft.Cache/redisEnterprise",
            UNIT * 2,
        ),
        (
            kinds::REDIS_DATABASE,
            "Microsoft.Cache/redisEnterprise/databases",
            UNIT,
        ),
        (
            kinds::VIRTUAL_NETWORK,
            "Microsoft.Network/virtualNetworks",
            UNIT,
        ),
        (
            kinds::PRIVATE_DNS_ZONE,
            "Microsoft.Network/privateDnsZones",
            UNIT,
        ),
        (
            kinds::CONTAINER_REGISTRY,
            "Microsoft.ContainerRegistry/registries",
            UNIT,
        ),
        (
            ResourceKind::WORKLOAD_IDENTITY,
            "Microsoft.ManagedIdentity/userAssignedIdentities",
            UNIT,
        ),
    ]
}

fn emulator_config() -> EmulatorConfig {
    let mut config = EmulatorConfig::default();
    for (_, rtype, d) in durations() {
        config = config.duration(rtype, d);
    }
    // Resource groups are created synchronously and deleted in a unit.
    config.duration("Microsoft.Resources/resourceGroups", UNIT)
}

fn options() -> ApplyOptions {
    ApplyOptions {
        poller: Poller {
            interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(1),
        },
        ..ApplyOptions::default()
    }
}

fn azure_on_emulator(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let emu = rt
        .block_on(Emulator::start(emulator_config()))
        .expect("emulator");
    let provider = Arc::new(AzureProvider::emulator(&emu).build().expect("provider"));
    let calls = provider.api_calls().clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::new(spec(), provider.clone())
        .state(LocalStateStore::new(dir.path()))
        .options(options());

    let graph = provider.expand(&spec()).expect("expands");
    let table = durations();
    let weight = |r: &multicloud_core::resource::Resource| {
        table
            .iter()
            .find(|(k, _, _)| *k == r.kind)
            .map_or(0.0, |(_, _, d)| d.as_secs_f64())
    };
    let critical = graph.critical_path(weight);
    let group_delete = UNIT.as_secs_f64();

    calls.reset();
    let t = Instant::now();
    rt.block_on(stack.up()).expect("up");
    eprintln!(
        "azure: up of {} resources: {:.1} s (critical path {critical:.1} s); {} API calls ({} mutating)",
        graph.len(),
        t.elapsed().as_secs_f64(),
        calls.total(),
        calls.mutating()
    );
    support::report_noop_plan("azure", &rt, &stack, &calls);
    c.bench_function("azure_noop_plan_on_emulator", |b| {
        b.iter(|| rt.block_on(stack.plan()).expect("plan"))
    });
    calls.reset();
    let t = Instant::now();
    rt.block_on(stack.down()).expect("down");
    eprintln!(
        "azure: down: {:.1} s (critical path {:.1} s); {} API calls ({} mutating)",
        t.elapsed().as_secs_f64(),
        critical + group_delete,
        calls.total(),
        calls.mutating()
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = azure_on_emulator
}
criterion_main!(benches);
