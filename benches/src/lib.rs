//! Shared pieces of the multicloud benches: a large spec generator and the apply-efficiency
//! measurement (wall time against the DAG's critical path and a sequential order).

use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod polling;

use multicloud_core::prelude::*;
use multicloud_core::provider::CloudProvider;
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud};

/// The example stack (without the TTL), in environment `bench`.
pub fn full_stack() -> StackSpec {
    let mut spec = multicloud_core::testing::example_spec();
    spec.environment = "bench".into();
    spec.ttl = None;
    spec.validate().expect("valid spec");
    spec
}

/// A stack that expands to at least `resources` resources: the full stack plus many
/// secrets, registries, identities and apps.
pub fn large_spec(resources: usize) -> StackSpec {
    let mut b = StackSpec::builder("big")
        .environment("bench")
        .network(Network::default())
        .cluster(
            Cluster::new("1.31")
                .node_pool(NodePool::new("general", "t3.medium", 2, 5))
                .node_pool(NodePool::new("batch", "t3.large", 0, 10)),
        )
        .database(Postgres::new("16"))
        .cache(Redis::new("7.1"));
    // Each group adds a registry, two secrets, an identity and an app (deployment, service,
    // service account, two synced secrets): 9 resources.
    let groups = resources.div_ceil(9);
    for i in 0..groups {
        let ns = format!("team{}", i % 20);
        b = b
            .registry(RegistrySpec::new(format!("svc-{i}")))
            .secret(SecretSpec::generated(format!("s-{i}-a"), 32))
            .secret(SecretSpec::generated(format!("s-{i}-b"), 32))
            .workload_identity(
                WorkloadIdentity::new(&ns, format!("svc-{i}")).can_read_secret(format!("s-{i}-a")),
            )
            .app(
                App::new(format!("svc-{i}"))
                    .namespace(&ns)
                    .image_from_registry(format!("svc-{i}"), "v1")
                    .env_from_secret("A", format!("s-{i}-a"))
                    .env_from_secret("B", format!("s-{i}-b")),
            );
    }
    b.build().expect("valid large spec")
}

/// Result of one measured apply.
#[derive(Debug, Clone, Copy)]
pub struct ApplyReport {
    /// Resources created.
    pub resources: usize,
    /// Wall time of the executor (first resource started to last one recorded), from the
    /// `Finished` event.
    pub wall: Duration,
    /// Wall time of the whole `up` (lock, state load, plan, apply, final save, unlock).
    pub up_wall: Duration,
    /// The longest dependency chain, by latency.
    pub critical_path: Duration,
    /// The sum of all latencies (a sequential order).
    pub sequential: Duration,
}

impl ApplyReport {
    /// Executor wall time / critical path (1.0 is perfect).
    pub fn vs_critical_path(&self) -> f64 {
        self.wall.as_secs_f64() / self.critical_path.as_secs_f64()
    }
    /// Whole `up` wall time / critical path.
    pub fn up_vs_critical_path(&self) -> f64 {
        self.up_wall.as_secs_f64() / self.critical_path.as_secs_f64()
    }
    /// Wall time / sequential time.
    pub fn vs_sequential(&self) -> f64 {
        self.wall.as_secs_f64() / self.sequential.as_secs_f64()
    }
}

/// Applies `spec` on a fresh memory cloud whose time unit is `unit` (real time) and measures
/// it against the graph's critical path.
pub async fn measure_apply(spec: &StackSpec, unit: Duration) -> ApplyReport {
    let latencies = Latencies::realistic(unit);
    let cloud = MemoryCloud::new(latencies.clone());
    let provider = Arc::new(InMemoryProvider::new(cloud));
    let graph = provider.expand(spec).expect("expand");
    let critical_path =
        Duration::from_secs_f64(graph.critical_path(|r| latencies.of(r.kind).as_secs_f64()));
    let sequential = graph.resources().iter().map(|r| latencies.of(r.kind)).sum();
    let dir = std::env::temp_dir().join(format!(
        "multicloud-bench-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let stack = Stack::new(spec.clone(), provider.clone())
        .workloads(provider.workloads())
        .state(LocalStateStore::new(&dir));
    let mut events = stack.event_bus().subscribe();
    let start = Instant::now();
    stack.up().await.expect("up");
    let up_wall = start.elapsed();
    let mut wall = up_wall;
    while let Ok(ev) = events.try_recv() {
        if let multicloud_core::events::Event::Finished { elapsed, .. } = ev {
            wall = elapsed;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    ApplyReport {
        resources: graph.len(),
        wall,
        up_wall,
        critical_path,
        sequential,
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}
