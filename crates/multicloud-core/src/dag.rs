//! A bounded-concurrency DAG runner: each node starts the moment all its dependencies have
//! finished (not in waves), at most `parallelism` at a time, longest remaining chain first.
//! After a failure or cancellation no new node starts; running ones finish.

use std::collections::BinaryHeap;
use std::future::Future;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio_util::sync::CancellationToken;

/// How a run ended, per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeState {
    /// Never started (a dependency failed, or the run stopped).
    NotStarted,
    /// Finished successfully.
    Done,
    /// Failed.
    Failed,
}

/// Runs `work(i)` for every node `i` of the graph whose dependencies are `deps[i]`.
/// `work` returns `true` on success. Returns each node's state and whether the run was
/// cancelled.
pub(crate) async fn run<F, Fut>(
    deps: &[Vec<usize>],
    parallelism: usize,
    cancel: &CancellationToken,
    mut work: F,
) -> (Vec<NodeState>, bool)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = bool>,
{
    let n = deps.len();
    let mut dependents = vec![Vec::new(); n];
    let mut waiting = vec![0usize; n];
    for (i, ds) in deps.iter().enumerate() {
        waiting[i] = ds.len();
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let priority = longest_chain(deps, &dependents);
    let mut ready: BinaryHeap<(u32, std::cmp::Reverse<usize>)> = (0..n)
        .filter(|&i| waiting[i] == 0)
        .map(|i| (priority[i], std::cmp::Reverse(i)))
        .collect();
    let mut states = vec![NodeState::NotStarted; n];
    let mut running = FuturesUnordered::new();
    let mut stop = false;
    let mut cancelled = false;
    let bound = parallelism.max(1);
    loop {
        while !stop && running.len() < bound {
            let Some((_, std::cmp::Reverse(i))) = ready.pop() else {
                break;
            };
            let fut = work(i);
            running.push(async move { (i, fut.await) });
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            Some((i, ok)) = running.next() => {
                if ok {
                    states[i] = NodeState::Done;
                    for &j in &dependents[i] {
                        waiting[j] -= 1;
                        if waiting[j] == 0 {
                            ready.push((priority[j], std::cmp::Reverse(j)));
                        }
                    }
                } else {
                    states[i] = NodeState::Failed;
                    stop = true;
                }
            }
            _ = cancel.cancelled(), if !stop => {
                stop = true;
                cancelled = true;
            }
        }
    }
    (states, cancelled)
}

/// For each node, the number of nodes on the longest chain from it to a sink (itself
/// included): nodes on the critical path start first when the bound is reached.
fn longest_chain(deps: &[Vec<usize>], dependents: &[Vec<usize>]) -> Vec<u32> {
    let n = deps.len();
    let mut out_left: Vec<usize> = dependents.iter().map(Vec::len).collect();
    let mut stack: Vec<usize> = (0..n).filter(|&i| out_left[i] == 0).collect();
    let mut level = vec![1u32; n];
    while let Some(i) = stack.pop() {
        for &d in &deps[i] {
            level[d] = level[d].max(level[i] + 1);
            out_left[d] -= 1;
            if out_left[d] == 0 {
                stack.push(d);
            }
        }
    }
    level
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn nodes_start_as_soon_as_their_own_dependencies_finish() {
        // a(1) -> c ; b(5) ; c(1). With waves, c would wait for b; here it starts at t=1.
        let deps = vec![vec![], vec![], vec![0]];
        let cost = [1u64, 5, 1];
        let starts = Arc::new(Mutex::new(vec![0u64; 3]));
        let t0 = tokio::time::Instant::now();
        let (states, cancelled) = run(&deps, 10, &CancellationToken::new(), |i| {
            let starts = starts.clone();
            async move {
                starts
                    .lock()
                    .map(|mut s| s[i] = t0.elapsed().as_secs())
                    .ok();
                tokio::time::sleep(Duration::from_secs(cost[i])).await;
                true
            }
        })
        .await;
        assert!(!cancelled);
        assert!(states.iter().all(|s| *s == NodeState::Done));
        assert_eq!(*starts.lock().expect("lock"), vec![0, 0, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_stops_new_work_and_skips_dependents() {
        let deps = vec![vec![], vec![0], vec![]];
        let (states, _) = run(
            &deps,
            1,
            &CancellationToken::new(),
            |i| async move { i != 0 },
        )
        .await;
        assert_eq!(states[0], NodeState::Failed);
        assert_eq!(states[1], NodeState::NotStarted);
    }
}
