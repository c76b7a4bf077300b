//! How the poller follows resources' real durations: a stack applied on the memory cloud
//! with the realistic relative latencies (cluster 12, node pool 4, database 8, cache 6,
//! network 1 units) and no `Retry-After` in its pending answers, so every check is the
//! poller's own choice. Measures checks per operation, how late each finished operation is
//! noticed (as a share of its duration), and `up` against the graph's critical path.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use multicloud_core::ApplyOptions;
use multicloud_core::prelude::*;
use multicloud_core::provider::CloudProvider;
use multicloud_core::resource::ResourceId;
use multicloud_core::retry::Poller;
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud, Op};

/// What one measured `up` shows.
#[derive(Debug, Clone)]
pub struct PollReport {
    /// Operations that had to be waited for (latency above zero).
    pub operations: usize,
    /// Checks per operation: mean and largest.
    pub checks_mean: f64,
    /// The largest number of checks of one operation.
    pub checks_max: usize,
    /// How late a finished operation was noticed, as a share of its duration: mean.
    pub late_mean: f64,
    /// The largest such share.
    pub late_max: f64,
    /// The largest such share among the long operations (cluster, node pools, database,
    /// cache: four units or more), where a check's floor matters least.
    pub late_max_long: f64,
    /// The executor's wall time over the critical path.
    pub vs_critical_path: f64,
}

/// A poller scaled to `unit` as the default (2 s growing to 30 s) is to a minute.
pub fn scaled_default(unit: Duration) -> Poller {
    Poller {
        interval: unit / 30,
        max_interval: unit / 2,
    }
}

/// A fixed poller checking every `unit / 6` (10 s polling, with a minute as the unit).
pub fn scaled_fixed_10s(unit: Duration) -> Poller {
    Poller {
        interval: unit / 6,
        max_interval: unit / 6,
    }
}

/// Applies `spec` (environment `env`) with `poller` on a fresh memory cloud of time unit
/// `unit` whose pending answers carry no `Retry-After`, and measures the waits.
pub async fn measure_polling(
    spec: &StackSpec,
    env: &str,
    unit: Duration,
    poller: Poller,
) -> PollReport {
    let latencies = Latencies::realistic(unit).without_retry_after();
    let cloud = MemoryCloud::new(latencies.clone());
    let provider = Arc::new(InMemoryProvider::new(cloud.clone()));
    let mut spec = spec.clone();
    spec.environment = env.into();
    let graph = provider.expand(&spec).expect("expand");
    let critical_path = graph.critical_path(|r| latencies.of(r.kind).as_secs_f64());
    let dir = tempfile_dir(env);
    let stack = Stack::new(spec, provider.clone())
        .workloads(provider.workloads())
        .state(LocalStateStore::new(&dir))
        .options(ApplyOptions {
            poller,
            ..ApplyOptions::default()
        });
    let mut events = stack.event_bus().subscribe();
    stack.up().await.expect("up");
    let mut wall = Duration::ZERO;
    while let Ok(ev) = events.try_recv() {
        if let multicloud_core::events::Event::Finished { elapsed, .. } = ev {
            wall = elapsed;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let latency: BTreeMap<_, _> = graph
        .resources()
        .iter()
        .map(|r| (r.id.clone(), latencies.of(r.kind)))
        .collect();
    report(
        &cloud,
        &latency,
        unit * 4,
        wall.as_secs_f64() / critical_path,
    )
}

fn report(
    cloud: &MemoryCloud,
    latency: &BTreeMap<ResourceId, Duration>,
    long: Duration,
    vs_critical_path: f64,
) -> PollReport {
    let calls = cloud.calls();
    let seen = cloud.ready_times();
    let (mut checks, mut late, mut late_long) = (Vec::new(), Vec::new(), Vec::new());
    for (id, took) in latency.iter().filter(|(_, d)| !d.is_zero()) {
        let Some(created) = calls.iter().find(|c| &c.id == id && c.op == Op::Create) else {
            continue;
        };
        checks.push(
            calls
                .iter()
                .filter(|c| &c.id == id && c.op == Op::Ready)
                .count(),
        );
        if let Some(at) = seen.get(id) {
            let due = created.at + *took;
            let share = at.saturating_sub(due).as_secs_f64() / took.as_secs_f64();
            late.push(share);
            if *took >= long {
                late_long.push(share);
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let as_f64: Vec<f64> = checks.iter().map(|c| *c as f64).collect();
    PollReport {
        operations: checks.len(),
        checks_mean: mean(&as_f64),
        checks_max: checks.iter().copied().max().unwrap_or_default(),
        late_mean: mean(&late),
        late_max: late.iter().copied().fold(0.0, f64::max),
        late_max_long: late_long.iter().copied().fold(0.0, f64::max),
        vs_critical_path,
    }
}

fn tempfile_dir(env: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("multicloud-polling-{}-{env}", std::process::id()))
}
