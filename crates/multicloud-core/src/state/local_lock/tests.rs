//! The lock files of the local store: take-over of dead and expired holders, contention,
//! release, force-unlock, unreadable files and races.

use std::sync::Arc;

use super::*;
use crate::state::{LocalStateStore, StackState, StateStore};

fn key() -> StateKey {
    StateKey::new("app", "dev")
}

/// A live holder on another machine (its pid cannot be checked from here).
fn info(owner: &str, pid: u32) -> LockInfo {
    LockInfo {
        owner: owner.into(),
        pid,
        host: "another-machine".into(),
        ..LockInfo::for_current_process("up")
    }
}

#[tokio::test]
async fn a_lock_of_a_dead_process_on_this_machine_is_taken_over_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    // pid 0 is never a user process; u32::MAX - 1 is above any pid_max.
    let dead = LockInfo {
        pid: u32::MAX - 1,
        ..LockInfo::for_current_process("up")
    };
    std::mem::forget(store.lock(&key(), dead.clone()).await.unwrap());
    let next = store
        .lock(&key(), LockInfo::for_current_process("down"))
        .await
        .unwrap();
    assert_eq!(
        next.taken_over().map(|p| p.id.as_str()),
        Some(dead.id.as_str())
    );
    assert_eq!(
        store.lock_holder(&key()).unwrap().map(|h| h.id),
        Some(next.info().id.clone())
    );
    next.release().await.unwrap();
}

#[tokio::test]
async fn a_live_holder_on_this_machine_blocks_until_its_lease_runs_out() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    let short = LockInfo::for_current_process("up").with_lease(Duration::from_millis(200));
    let mut held = store.lock(&key(), short).await.unwrap();
    // This very process is alive: only the lease can free it.
    let err = store
        .lock(&key(), LockInfo::for_current_process("down"))
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::Locked { .. }), "{err}");
    held.renew().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let next = store
        .lock(&key(), LockInfo::for_current_process("down"))
        .await
        .unwrap();
    assert!(next.taken_over().is_some());
    assert!(matches!(
        held.renew().await,
        Err(StateError::LockLost { .. })
    ));
    assert!(matches!(
        held.release().await,
        Err(StateError::LockLost { .. })
    ));
    assert_eq!(
        store.lock_holder(&key()).unwrap().map(|h| h.id),
        Some(next.info().id.clone())
    );
    next.release().await.unwrap();
}

#[tokio::test]
async fn second_lock_reports_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path().join("state"));
    let first = store
        .lock(&key(), info("alice@laptop", 4242))
        .await
        .unwrap();
    assert!(tmp.path().join("state").join("app.dev.lock").is_file());

    match store.lock(&key(), info("bob@ci", 7)).await.unwrap_err() {
        StateError::Locked { key: k, holder } => {
            assert_eq!(k, key());
            assert_eq!(&*holder, first.info());
            assert_eq!(holder.owner, "alice@laptop");
            assert_eq!(holder.pid, 4242);
            assert_eq!(holder.since, first.info().since);
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert_eq!(
        store.lock_holder(&key()).unwrap().as_ref(),
        Some(first.info())
    );
    first.release().await.unwrap();
    assert_eq!(store.lock_holder(&key()).unwrap(), None);
}

#[tokio::test]
async fn locks_of_different_keys_are_independent() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    let dev = store.lock(&key(), info("a@h", 1)).await.unwrap();
    let prod = store
        .lock(&StateKey::new("app", "prod"), info("b@h", 2))
        .await
        .unwrap();
    let other = store
        .lock(&StateKey::new("other", "dev"), info("c@h", 3))
        .await
        .unwrap();
    dev.release().await.unwrap();
    prod.release().await.unwrap();
    other.release().await.unwrap();
}

#[tokio::test]
async fn release_then_relock_works() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    for _ in 0..3 {
        let lock = store.lock(&key(), info("a@h", 1)).await.unwrap();
        lock.release().await.unwrap();
    }
    assert!(!tmp.path().join("app.dev.lock").exists());
}

#[tokio::test]
async fn drop_releases() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    let lock = store.lock(&key(), info("a@h", 1)).await.unwrap();
    drop(lock);
    assert!(!tmp.path().join("app.dev.lock").exists());
    let again = store.lock(&key(), info("b@h", 2)).await.unwrap();
    again.release().await.unwrap();
}

#[tokio::test]
async fn force_unlock_returns_the_holder_and_frees_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    assert_eq!(store.force_unlock(&key()).await.unwrap(), None);

    let stale = store.lock(&key(), info("crashed@host", 99)).await.unwrap();
    let stale_info = stale.info().clone();
    // A crashed process never releases: its guard is not dropped either.
    std::mem::forget(stale);

    assert!(matches!(
        store.lock(&key(), info("b@h", 2)).await,
        Err(StateError::Locked { .. })
    ));
    assert_eq!(store.force_unlock(&key()).await.unwrap(), Some(stale_info));
    let fresh = store.lock(&key(), info("b@h", 2)).await.unwrap();
    fresh.release().await.unwrap();
    // The broken lock was renamed away then removed: nothing left but the guard.
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["app.dev.lock.guard"]);
}

#[tokio::test]
async fn release_after_lock_was_broken_and_retaken_is_lock_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    let ours = store.lock(&key(), info("slow@host", 1)).await.unwrap();
    store.force_unlock(&key()).await.unwrap();
    let theirs = store.lock(&key(), info("other@host", 2)).await.unwrap();

    match ours.release().await.unwrap_err() {
        StateError::LockLost { key: k } => assert_eq!(k, key()),
        other => panic!("expected LockLost, got {other:?}"),
    }
    // Their lock is intact.
    assert_eq!(
        store.lock_holder(&key()).unwrap().as_ref(),
        Some(theirs.info())
    );
    assert!(matches!(
        store.lock(&key(), info("third@host", 3)).await,
        Err(StateError::Locked { holder, .. }) if holder.owner == "other@host"
    ));

    // Nor does a lost guard's drop remove it.
    let lost = {
        let theirs_info = theirs.info().clone();
        std::mem::forget(theirs);
        store.force_unlock(&key()).await.unwrap();
        let newest = store.lock(&key(), info("newest@host", 4)).await.unwrap();
        drop(LocalLock {
            key: key(),
            path: tmp.path().join("app.dev.lock"),
            info: theirs_info,
            previous: None,
            released: false,
        });
        newest
    };
    assert_eq!(
        store.lock_holder(&key()).unwrap().as_ref(),
        Some(lost.info())
    );
    lost.release().await.unwrap();
}

#[tokio::test]
async fn unreadable_lock_file_still_counts_as_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    let path = tmp.path().join("app.dev.lock");
    std::fs::write(&path, "not json").unwrap();
    let mtime = DateTime::<Utc>::from(std::fs::metadata(&path).unwrap().modified().unwrap());

    match store.lock(&key(), info("a@h", 1)).await.unwrap_err() {
        StateError::Locked { holder, .. } => {
            assert_eq!(holder.owner, UNREADABLE_OWNER);
            assert_eq!(holder.since, mtime);
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not json");
    let holder = store.lock_holder(&key()).unwrap().unwrap();
    assert_eq!(holder.owner, UNREADABLE_OWNER);

    let broken = store.force_unlock(&key()).await.unwrap().unwrap();
    assert_eq!(broken.owner, UNREADABLE_OWNER);
    assert_eq!(broken.since, mtime);
    store
        .lock(&key(), info("a@h", 1))
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_lockers_exactly_one_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStateStore::new(tmp.path().join("state")));
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .lock(&key(), info(&format!("racer-{i}@host"), i))
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = 0;
    // Winners' guards are kept until every task has finished, so nobody can take the
    // lock after a release.
    for task in tasks {
        match task.await.unwrap() {
            Ok(lock) => winners.push(lock),
            Err(StateError::Locked { key: k, .. }) => {
                assert_eq!(k, key());
                losers += 1;
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(losers, 15);
    let holder = store.lock_holder(&key()).unwrap();
    assert_eq!(holder.as_ref(), Some(winners[0].info()));
    for lock in winners {
        lock.release().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn locked_read_modify_write_loses_no_update() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStateStore::new(tmp.path()));
    store
        .save(&StackState::new(key(), "us-east-1", "aws"))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for _ in 0..25 {
                    let lock = loop {
                        match store.lock(&key(), info(&format!("w{i}@host"), i)).await {
                            Ok(lock) => break lock,
                            Err(StateError::Locked { .. }) => {
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                            Err(other) => panic!("lock: {other:?}"),
                        }
                    };
                    let mut state = store.load(&key()).await.unwrap().unwrap();
                    state.serial += 1;
                    store.save(&state).await.unwrap();
                    lock.release().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let state = store.load(&key()).await.unwrap().unwrap();
    assert_eq!(state.serial, 200);
    let mut names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // No temporary or lock file left behind; the guard of the lock file stays (it is
    // only ever locked, never holds data).
    assert_eq!(
        names,
        ["app.dev.json", "app.dev.json.backup", "app.dev.lock.guard"]
    );
}
