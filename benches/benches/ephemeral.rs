//! Ephemeral environments at once: 1, 5 and 20 `EphemeralEnv`s of the README's example
//! stack (with its app) brought up and torn down concurrently on one memory cloud with
//! realistic relative latencies; prints the wall time against one environment's, what was
//! created, what is left (0 expected) and the process's peak memory. Figures only, nothing
//! asserted about time. Run with `cargo bench -p multicloud-benches --bench ephemeral`.

use std::time::{Duration, Instant};

use multicloud_core::EphemeralEnv;
use multicloud_core::state::{LocalStateStore, StateStore};
use multicloud_core::sweep::{SweepFilter, Sweeper};
use multicloud_core::testing::{
    InMemoryProvider, Latencies, MemoryCloud, MemorySweeper, example_spec,
};

/// Peak resident memory of this process (`VmHWM`), where the system says.
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Brings `n` environments up and down at once; returns the wall time, the resources
/// created and the leaks (what the sweeper finds plus state records left).
async fn run(n: usize) -> (Duration, usize, usize) {
    let cloud = MemoryCloud::new(Latencies::realistic(Duration::from_millis(20)));
    let provider = InMemoryProvider::new(cloud.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let runs: Vec<_> = (0..n)
        .map(|_| {
            let provider = provider.clone();
            let store = LocalStateStore::new(dir.path());
            tokio::spawn(async move {
                let env = EphemeralEnv::builder(example_spec(), provider.clone())
                    .workloads(provider.workloads())
                    .state(store)
                    .keep(false)
                    .up()
                    .await
                    .expect("up");
                env.down().await.expect("down");
            })
        })
        .collect();
    for r in runs {
        r.await.expect("run");
    }
    let elapsed = started.elapsed();
    let left = MemorySweeper::new(cloud.clone())
        .find(&SweepFilter::all())
        .await
        .expect("find")
        .len();
    let states = LocalStateStore::new(dir.path())
        .list()
        .await
        .expect("list")
        .len();
    (elapsed, cloud.creations().len(), left + states)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut one = None;
    for n in [1, 5, 20] {
        let (elapsed, created, leaks) = rt.block_on(run(n));
        let single = *one.get_or_insert(elapsed);
        eprintln!(
            "ephemeral: {n:>2} environment(s) up and down at once: {elapsed:.2?} ({:.2} x one \
             environment), {created} resources created, {leaks} leaked, peak memory {}",
            elapsed.as_secs_f64() / single.as_secs_f64(),
            peak_memory()
        );
    }
}
