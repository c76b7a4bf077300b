//! The state lock and write contract (`multicloud_core::testing::lock_contract`) on
//! [`LocalStateStore`]; the S3 store runs the same suite on moto.

use std::sync::Arc;

use multicloud_core::state::{LocalStateStore, StateKey, StateStore};
use multicloud_core::testing::lock_contract;

fn key(name: &str) -> StateKey {
    StateKey::new("contract", name)
}

#[tokio::test]
async fn local_lease_expiry_and_takeover() {
    let dir = tempfile::tempdir().expect("tempdir");
    lock_contract::lease_expiry_and_takeover(&LocalStateStore::new(dir.path()), &key("lease"))
        .await;
}

#[tokio::test]
async fn local_renewal_keeps_the_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    lock_contract::renewal_keeps_the_lock(&LocalStateStore::new(dir.path()), &key("renew")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_racing_tasks_hold_it_one_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn StateStore> = Arc::new(LocalStateStore::new(dir.path()));
    lock_contract::racing_tasks_hold_it_one_at_a_time(store, &key("race"), 8, 5).await;
}

#[tokio::test]
async fn local_stale_write_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    lock_contract::a_stale_write_is_refused(&LocalStateStore::new(dir.path()), &key("stale")).await;
}

/// Listing shows each stack with its serial and lock; migrating moves the state whole.
#[tokio::test]
async fn local_list_and_migrate() {
    use multicloud_core::state::{LockInfo, StackState};
    let (a, b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let (from, to) = (
        LocalStateStore::new(a.path()),
        LocalStateStore::new(b.path()),
    );
    let mut state = StackState::new(key("moved"), "local", "memory");
    state.serial = 7;
    from.save(&state).await.expect("save");
    let held = from
        .lock(&key("locked-only"), LockInfo::for_current_process("up"))
        .await
        .expect("lock");
    let listed = from.list().await.expect("list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let moved = listed
        .iter()
        .find(|l| l.key == key("moved"))
        .expect("listed");
    assert_eq!((moved.serial, moved.lock.is_none()), (Some(7), true));
    let locked = listed
        .iter()
        .find(|l| l.key == key("locked-only"))
        .expect("listed");
    assert_eq!(locked.serial, None);
    assert_eq!(locked.lock.as_ref().map(|l| &l.id), Some(&held.info().id));
    held.release().await.expect("release");

    assert!(
        multicloud_core::state::migrate(&from, &to, &key("moved"))
            .await
            .expect("migrate")
    );
    assert_eq!(
        to.load(&key("moved")).await.expect("load"),
        Some(state.clone())
    );
    assert_eq!(
        from.load(&key("moved")).await.expect("load"),
        None,
        "moved, not copied"
    );
    assert!(
        !multicloud_core::state::migrate(&from, &to, &key("moved"))
            .await
            .expect("nothing left")
    );
    // Back again onto a store that has it already: refused, nothing lost.
    from.save(&state).await.expect("save");
    assert!(matches!(
        multicloud_core::state::migrate(&from, &to, &key("moved")).await,
        Err(multicloud_core::state::StateError::Conflict { .. })
    ));
    assert_eq!(from.load(&key("moved")).await.expect("load"), Some(state));
    assert!(
        from.list()
            .await
            .expect("list")
            .iter()
            .all(|l| l.lock.is_none()),
        "locks released"
    );
}

/// The cloud in the key (`testing::scope_contract`): two clouds keep two states, bad scopes
/// are refused, a state under the old key migrates.
#[tokio::test]
async fn local_scope_contract() {
    use multicloud_core::testing::scope_contract;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStateStore::new(dir.path());
    scope_contract::clouds_keep_separate_states(&store).await;
    scope_contract::bad_scopes_are_refused(&store).await;
    scope_contract::unscoped_state_migrates(&store).await;
}

#[tokio::test]
async fn local_no_secret_value_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn StateStore> = Arc::new(LocalStateStore::new(dir.path()));
    let file = dir.path().join("shop.pr-1234").join("memory.local.json");
    lock_contract::no_secret_value_is_stored(store, || {
        let file = file.clone();
        async move { std::fs::read(file).expect("state file") }
    })
    .await;
}
