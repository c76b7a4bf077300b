//! Engine benchmarks: planning a 1,000-resource graph from nothing and again as a no-op
//! against its recorded state (target < 15 ms), and applying the full stack on the in-memory
//! provider with realistic relative latencies (target: within 1.05 × the critical path).
//! Run with `cargo bench -p multicloud-benches`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use multicloud_benches::{full_stack, large_spec, measure_apply};
use multicloud_core::prelude::*;
use multicloud_core::provider::CloudProvider;
use multicloud_core::state::{StateKey, StateStore};
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud};

fn plan_1000(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let spec = large_spec(1000);
    let cloud = MemoryCloud::new(Latencies::zero());
    let provider = Arc::new(InMemoryProvider::new(cloud.clone()));
    let n = provider.expand(&spec).expect("expand").len();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStateStore::new(dir.path());
    let stack = Stack::new(spec.clone(), provider.clone())
        .workloads(provider.workloads())
        .state(store.clone());
    let t = std::time::Instant::now();
    for _ in 0..10 {
        spec.validate_for(provider.naming_rules()).expect("valid");
    }
    let validate = t.elapsed() / 10;
    let t = std::time::Instant::now();
    for _ in 0..10 {
        provider.expand(&spec).expect("expand");
    }
    let expand = t.elapsed() / 10;
    eprintln!("plan bench: {n} resources; validation {validate:?}, expansion {expand:?} per plan");
    // The memory cloud logs every call for tests to inspect; cleared before each measured
    // plan (outside the timing), so the bench measures planning, not a growing log.
    let reset = || cloud.reset_calls();
    c.bench_function(&format!("plan_{n}_resources_fresh"), |b| {
        b.to_async(&rt).iter_batched(
            reset,
            |()| async { stack.plan().await.expect("plan") },
            BatchSize::SmallInput,
        )
    });
    rt.block_on(stack.up()).expect("up");
    let key = rt.block_on(stack.key()).expect("key");
    print_state_load(&rt, &store, &key);
    c.bench_function(&format!("plan_{n}_resources_noop"), |b| {
        b.to_async(&rt).iter_batched(
            reset,
            |()| async {
                let plan = stack.plan().await.expect("plan");
                assert!(plan.is_noop());
                plan
            },
            BatchSize::SmallInput,
        )
    });
}

/// Prints the size of the stored state and the time to load it (read and parse), the part of
/// a no-op plan that runs beside the expansion.
fn print_state_load(rt: &tokio::runtime::Runtime, store: &LocalStateStore, key: &StateKey) {
    let bytes = std::fs::read(
        store
            .dir()
            .join(format!("{}.{}.json", key.stack, key.environment)),
    )
    .map_or(0, |b| b.len());
    let t = std::time::Instant::now();
    for _ in 0..10 {
        rt.block_on(store.load(key)).expect("load").expect("state");
    }
    eprintln!(
        "plan bench: state of {:.2} MB, loaded in {:?}",
        bytes as f64 / 1e6,
        t.elapsed() / 10
    );
}

fn apply_full_stack(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let spec = full_stack();
    let unit = Duration::from_millis(20);
    let report = rt.block_on(measure_apply(&spec, unit));
    eprintln!(
        "apply full stack ({} resources, unit {unit:?}): executor {:?}, critical path {:?} (ratio {:.3}; whole up {:?}, ratio {:.3}), sequential {:?} (ratio {:.3})",
        report.resources,
        report.wall,
        report.critical_path,
        report.vs_critical_path(),
        report.up_wall,
        report.up_vs_critical_path(),
        report.sequential,
        report.vs_sequential()
    );
    let mut group = c.benchmark_group("apply");
    group.sample_size(10);
    group.bench_function("full_stack_20ms_unit", |b| {
        b.to_async(&rt).iter(|| measure_apply(&spec, unit))
    });
    group.finish();
}

criterion_group!(benches, plan_1000, apply_full_stack);
criterion_main!(benches);
