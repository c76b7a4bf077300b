//! The lock and write contract of every [`StateStore`], written once: each store's tests
//! call these functions on their own store (local files, S3 on moto, Azure Blob on
//! Azurite). They use real time (leases expire by the wall clock) with short leases; each
//! takes a key of its own so a store can run them side by side.
//!
//! A holder "on another machine" is simulated by a [`LockInfo`] whose `host` is not this
//! one, so only its lease can free it (its pid cannot be checked from here).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::state::{LockInfo, StackState, StateError, StateKey, StateStore};

/// A holder of `operation` on another machine with a lease of `lease`.
pub fn remote_holder(operation: &str, lease: Duration) -> LockInfo {
    LockInfo {
        host: "another-machine".into(),
        owner: "ci@another-machine".into(),
        ..LockInfo::for_current_process(operation)
    }
    .with_lease(lease)
}

/// A lock whose lease ran out is taken over (and the taker told whom from); until then
/// others get [`StateError::Locked`] naming the holder and the lease's end; the old holder
/// then gets [`StateError::LockLost`] on renewal and release, and never removes the new
/// holder's lock.
pub async fn lease_expiry_and_takeover(store: &dyn StateStore, key: &StateKey) {
    let lease = Duration::from_millis(600);
    let mut first = store
        .lock(key, remote_holder("up", lease))
        .await
        .expect("first lock");
    let first_id = first.info().id.clone();
    match store.lock(key, remote_holder("down", lease)).await {
        Err(StateError::Locked { holder, .. }) => {
            assert_eq!(holder.id, first_id);
            assert!(holder.expires.is_some(), "the lease's end is reported");
        }
        other => panic!("expected Locked while the lease runs, got {other:?}"),
    }
    tokio::time::sleep(lease + Duration::from_millis(300)).await;
    let second = store
        .lock(key, remote_holder("down", lease))
        .await
        .expect("the expired lock is taken over");
    assert_eq!(
        second.taken_over().map(|p| p.id.clone()),
        Some(first_id),
        "the new holder is told whom it took over from"
    );
    assert!(
        matches!(first.renew().await, Err(StateError::LockLost { .. })),
        "the old holder learns it lost the lock"
    );
    assert!(matches!(
        first.release().await,
        Err(StateError::LockLost { .. })
    ));
    match store.lock(key, remote_holder("plan", lease)).await {
        Err(StateError::Locked { holder, .. }) => assert_eq!(holder.id, second.info().id),
        other => panic!("the new holder must still hold the lock, got {other:?}"),
    }
    second.release().await.expect("release");
}

/// A holder that renews keeps the lock past its first lease; after release the next run
/// gets it without a take-over.
pub async fn renewal_keeps_the_lock(store: &dyn StateStore, key: &StateKey) {
    let lease = Duration::from_millis(600);
    let mut held = store
        .lock(key, remote_holder("up", lease))
        .await
        .expect("lock");
    let first_end = held.info().expires;
    for _ in 0..6 {
        tokio::time::sleep(lease / 3).await;
        held.renew().await.expect("renew");
        assert!(
            matches!(
                store.lock(key, remote_holder("down", lease)).await,
                Err(StateError::Locked { .. })
            ),
            "a renewed lock is not taken over"
        );
    }
    assert!(
        held.info().expires > first_end,
        "renewal moves the lease's end"
    );
    held.release().await.expect("release");
    let next = store
        .lock(key, remote_holder("down", lease))
        .await
        .expect("free after release");
    assert!(next.taken_over().is_none());
    next.release().await.expect("release");
}

/// `tasks` tasks race for the lock, each holding it briefly, for `rounds` rounds each:
/// never two holders at once, and every task gets it at least once.
pub async fn racing_tasks_hold_it_one_at_a_time(
    store: Arc<dyn StateStore>,
    key: &StateKey,
    tasks: usize,
    rounds: usize,
) {
    let holders = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, key) = (store.clone(), key.clone());
            let (holders, most) = (holders.clone(), most.clone());
            tokio::spawn(async move {
                let mut got = 0;
                while got < rounds {
                    match store
                        .lock(&key, remote_holder("up", Duration::from_secs(30)))
                        .await
                    {
                        Ok(lock) => {
                            let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            holders.fetch_sub(1, Ordering::SeqCst);
                            lock.release().await.expect("release");
                            got += 1;
                        }
                        Err(StateError::Locked { .. }) => {
                            tokio::time::sleep(Duration::from_millis(3)).await;
                        }
                        Err(e) => panic!("unexpected lock error: {e}"),
                    }
                }
                got
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.await.expect("task");
    }
    assert_eq!(total, tasks * rounds, "every task got the lock every round");
    assert_eq!(most.load(Ordering::SeqCst), 1, "never two holders at once");
}

/// A save made from a stale version is refused with [`StateError::Conflict`] and loses
/// nothing: the newer state stays.
pub async fn a_stale_write_is_refused(store: &dyn StateStore, key: &StateKey) {
    let mut base = StackState::new(key.clone(), "local", "memory");
    base.serial = 1;
    store.save(&base).await.expect("first save");
    let loaded = store.load(key).await.expect("load").expect("present");
    let mut newer = loaded.clone();
    newer.serial += 1;
    newer.region = "newer".into();
    let mut stale = loaded;
    stale.serial += 1;
    stale.region = "stale".into();
    store.save(&newer).await.expect("the first writer wins");
    match store.save(&stale).await {
        Err(StateError::Conflict { .. }) => {}
        other => panic!("expected Conflict for a stale write, got {other:?}"),
    }
    let kept = store.load(key).await.expect("load").expect("present");
    assert_eq!(kept.region, "newer", "nothing lost");
    store.delete(key).await.expect("delete");
}

/// A full `up` of the example stack (generated secrets, a database password) on the memory
/// cloud with state in `store` leaves no secret value in the stored state (read back raw
/// with `raw`, which returns the stored bytes of the state of `key`).
pub async fn no_secret_value_is_stored<F, Fut>(store: Arc<dyn StateStore>, raw: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<u8>>,
{
    let cloud = super::MemoryCloud::new(super::Latencies::zero());
    let stack = super::memory_stack(
        super::example_spec(),
        super::InMemoryProvider::new(cloud.clone()),
    )
    .state_arc(store);
    stack.up().await.expect("up");
    let stored = String::from_utf8_lossy(&raw().await).into_owned();
    assert!(stored.contains("\"resources\""), "the raw state was read");
    let secrets = cloud.secret_values();
    assert!(!secrets.is_empty(), "the stack made secrets");
    for secret in secrets {
        assert!(
            !stored.contains(secret.expose()),
            "a secret value is in the stored state"
        );
    }
    stack.down().await.expect("down");
}

/// The run the kill tests SIGKILL (the body of their `hold-lock` helper programs): `up` of
/// the example stack on a memory cloud so slow it never finishes, with its state in `store`
/// and a lock lease of `lease`, so it holds (and renews) the lock until killed. Prints
/// `running` on stdout once the run holds the lock (after its plan); returns only if `up`
/// fails.
pub async fn hold_until_killed(
    store: Arc<dyn StateStore>,
    lease: Duration,
) -> Result<(), crate::Error> {
    // One latency unit is an hour: the run holds the lock until it is killed.
    let cloud = super::MemoryCloud::new(super::Latencies::realistic(Duration::from_secs(3600)));
    let stack = super::memory_stack(super::example_spec(), super::InMemoryProvider::new(cloud))
        .state_arc(store)
        .options(crate::ApplyOptions {
            lock_lease: lease,
            ..crate::ApplyOptions::default()
        });
    let mut events = stack.event_bus().subscribe();
    tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            if matches!(e, crate::events::Event::PlanReady { .. }) {
                println!("running");
            }
        }
    });
    stack.up().await.map(drop)
}
