//! The AWS provider against a local moto server: API calls per `up` and per no-op `plan`
//! (counted by the SDK interceptor), and the time of a no-op plan. moto answers at once, so
//! the times measure our overhead plus moto's, not AWS's. Run with
//! `cargo bench -p multicloud-benches --bench aws`.

use std::sync::Arc;
use std::time::Duration;

mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use multicloud_aws::AwsProvider;
use multicloud_aws::testing::MotoServer;
use multicloud_core::prelude::*;

fn spec() -> StackSpec {
    // The full stack without apps (no Kubernetes backend on moto).
    StackSpec::builder("bench")
        .environment("aws")
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "t3.medium", 2, 5)))
        .database(Postgres::new("16"))
        .cache(Redis::new("7.1"))
        .registry(RegistrySpec::new("api"))
        .secret(SecretSpec::generated("db-password", 32))
        .workload_identity(WorkloadIdentity::new("bench", "api").can_read_secret("db-password"))
        .build()
        .expect("valid spec")
}

fn aws_on_moto(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let moto = rt.block_on(MotoServer::start()).expect("moto");
    let sdk = rt.block_on(moto.sdk_config("us-east-1"));
    let provider = Arc::new(AwsProvider::from_sdk_config(&sdk));
    let calls = provider.api_calls().clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::new(spec(), provider.clone()).state(LocalStateStore::new(dir.path()));

    calls.reset();
    let plan = rt.block_on(stack.plan()).expect("plan");
    eprintln!(
        "aws: fresh plan of {} resources: {} API calls",
        plan.actions.len(),
        calls.total()
    );
    calls.reset();
    rt.block_on(stack.up()).expect("up");
    eprintln!(
        "aws: up: {} API calls ({} mutating)",
        calls.total(),
        calls.mutating()
    );
    support::report_noop_plan("aws", &rt, &stack, &calls);

    let mut group = c.benchmark_group("aws_moto");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("noop_plan", |b| {
        b.to_async(&rt)
            .iter(|| async { stack.plan().await.expect("plan") })
    });
    group.finish();
    calls.reset();
    rt.block_on(stack.down()).expect("down");
    eprintln!("aws: down: {} API calls", calls.total());
}

criterion_group!(benches, aws_on_moto);
criterion_main!(benches);
