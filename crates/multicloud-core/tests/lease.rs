//! Leases seen from a `Stack`: a run that finds its lock taken over stops with a typed error;
//! a run that takes over a dead holder's lock says so.

use std::sync::Arc;
use std::time::Duration;

use multicloud_core::events::Event;
use multicloud_core::prelude::*;
use multicloud_core::state::{LockInfo, StateError, StateKey};
use multicloud_core::testing::lock_contract::remote_holder;
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud, memory_stack};

fn key() -> StateKey {
    multicloud_core::testing::example_key()
}

#[tokio::test(start_paused = true)]
async fn a_run_whose_lock_is_taken_over_stops_with_lock_lost() {
    let cloud = MemoryCloud::new(Latencies::realistic(Duration::from_secs(60)));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(LocalStateStore::new(dir.path()));
    let stack = memory_stack(
        multicloud_core::testing::example_spec(),
        InMemoryProvider::new(cloud.clone()),
    )
    .state_arc(store.clone())
    .options(ApplyOptions {
        lock_lease: Duration::from_secs(30),
        ..ApplyOptions::default()
    });
    let run = tokio::spawn(async move { stack.up().await });
    // Mid-run (the cluster takes 12 minutes here), someone breaks the lock and takes it.
    tokio::time::sleep(Duration::from_secs(120)).await;
    let broken = store.force_unlock(&key()).await.expect("force-unlock");
    assert_eq!(broken.map(|h| h.operation), Some("up".to_string()));
    let intruder = store
        .lock(&key(), remote_holder("down", Duration::from_secs(600)))
        .await
        .expect("the intruder takes the free lock");
    match run.await.expect("join") {
        Err(Error::State(StateError::LockLost { key: k })) => assert_eq!(k, key()),
        other => panic!("expected LockLost, got {other:?}"),
    }
    // The stopped run left the intruder's lock alone.
    assert_eq!(
        store.lock_holder(&key()).expect("read").map(|h| h.id),
        Some(intruder.info().id.clone())
    );
    intruder.release().await.expect("release");
}

#[tokio::test]
async fn a_dead_holders_lock_is_taken_over_with_an_event() {
    let cloud = MemoryCloud::new(Latencies::zero());
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(LocalStateStore::new(dir.path()));
    // A run on this machine killed while holding the lock: its pid no longer exists.
    let dead = LockInfo {
        pid: u32::MAX - 1,
        ..LockInfo::for_current_process("up")
    };
    std::mem::forget(store.lock(&key(), dead.clone()).await.expect("lock"));
    let stack = memory_stack(
        multicloud_core::testing::example_spec(),
        InMemoryProvider::new(cloud),
    )
    .state_arc(store.clone());
    let mut events = stack.event_bus().subscribe();
    stack.up().await.expect("up proceeds at once");
    let mut taken = None;
    while let Ok(e) = events.try_recv() {
        if let Event::LockTakenOver { previous, .. } = e {
            taken = Some(previous);
        }
    }
    assert_eq!(taken, Some(dead.holder()));
    assert_eq!(
        store.lock_holder(&key()).expect("read"),
        None,
        "released after the run"
    );
}
