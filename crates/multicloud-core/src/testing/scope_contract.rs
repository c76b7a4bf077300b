//! The part of every store's contract that concerns the cloud in the state key
//! ([`ProviderScope`]), written once for any [`StateStore`]: the local store runs it in
//! `tests/lock_contract.rs`, the object stores through
//! [`store_contract_tests!`](crate::store_contract_tests).

use crate::state::{
    LockInfo, ProviderScope, StackState, StateError, StateKey, StateStore, migrate_unscoped,
};

/// `app`/`dev` on AWS (an account and a region).
pub fn aws_key() -> StateKey {
    StateKey::new("app", "dev").on(ProviderScope::new("aws", "123456789012").in_region("us-east-1"))
}

/// `app`/`dev` on Azure (a subscription).
pub fn azure_key() -> StateKey {
    StateKey::new("app", "dev").on(ProviderScope::new(
        "azure",
        "00000000-0000-0000-0000-000000000001",
    ))
}

/// A state of `key` at `serial` recorded by `provider` in `region`.
fn recorded(key: &StateKey, provider: &str, region: &str, serial: u64) -> StackState {
    let mut state = StackState::new(key.clone(), region, provider);
    state.serial = serial;
    state
}

/// One stack on two clouds and under the old key without a scope: three states that load,
/// lock and delete independently, each listed with its cloud.
pub async fn clouds_keep_separate_states(store: &dyn StateStore) {
    let (aws, azure, old) = (aws_key(), azure_key(), StateKey::new("app", "dev"));
    let states = [
        recorded(&aws, "aws", "us-east-1", 3),
        recorded(&azure, "azure", "westeurope", 5),
        recorded(&old, "aws", "us-east-1", 7),
    ];
    for state in &states {
        store.save(state).await.expect("save");
    }
    for state in &states {
        let loaded = store.load(&state.key).await.expect("load");
        assert_eq!(loaded.as_ref(), Some(state), "{}", state.key);
    }
    // The lock of one cloud's state does not hold the other's.
    let held = store
        .lock(&aws, LockInfo::for_current_process("up"))
        .await
        .expect("lock aws");
    let other = store
        .lock(&azure, LockInfo::for_current_process("up"))
        .await
        .expect("azure is not locked by aws");
    assert!(matches!(
        store.lock(&aws, LockInfo::for_current_process("up")).await,
        Err(StateError::Locked { key, .. }) if key == aws
    ));
    let listed = store.list().await.expect("list");
    let keys: Vec<(&StateKey, Option<u64>, bool)> = listed
        .iter()
        .map(|l| (&l.key, l.serial, l.lock.is_some()))
        .collect();
    let mut want = vec![
        (&old, Some(7), false),
        (&aws, Some(3), true),
        (&azure, Some(5), true),
    ];
    want.sort();
    assert_eq!(keys, want, "listed with their clouds");
    other.release().await.expect("release azure");
    held.release().await.expect("release aws");

    store.delete(&aws).await.expect("delete aws");
    assert_eq!(store.load(&aws).await.expect("load"), None);
    assert_eq!(
        store.load(&azure).await.expect("load"),
        Some(states[1].clone())
    );
    assert_eq!(
        store.load(&old).await.expect("load"),
        Some(states[2].clone())
    );
    store.delete(&azure).await.expect("delete azure");
    store.delete(&old).await.expect("delete old");
    assert!(store.list().await.expect("list").is_empty());
}

/// A scope whose parts cannot name a file or object is refused before any request.
pub async fn bad_scopes_are_refused(store: &dyn StateStore) {
    for scope in [
        ProviderScope::new("aws", ""),
        ProviderScope::new("aws", "a.b"),
        ProviderScope::new("a/ws", "1"),
        ProviderScope::new("aws", "1").in_region(""),
    ] {
        let key = StateKey::new("app", "dev").on(scope);
        assert!(store.load(&key).await.is_err(), "{key:?}");
        assert!(
            store
                .lock(&key, LockInfo::for_current_process("up"))
                .await
                .is_err(),
            "{key:?}"
        );
    }
}

/// [`migrate_unscoped`]: the old key's state moves to the scoped key (same serial, the
/// key rewritten) when the provider recorded it; another provider's stays where it is; a
/// held lock on the old key refuses and nothing moves; a caller holding the scoped key's
/// lock may move it; a scoped key that has state already refuses.
pub async fn unscoped_state_migrates(store: &dyn StateStore) {
    let (aws, old) = (aws_key(), StateKey::new("app", "dev"));
    let is_aws = |s: &StackState| s.provider == "aws";
    let is_azure = |s: &StackState| s.provider == "azure";
    assert!(
        !migrate_unscoped(store, &aws, &is_aws, false)
            .await
            .expect("nothing to move")
    );
    store
        .save(&recorded(&old, "aws", "us-east-1", 4))
        .await
        .expect("save old");

    // Not this provider's: left in place.
    assert!(
        !migrate_unscoped(store, &azure_key(), &is_azure, false)
            .await
            .expect("not ours")
    );
    assert!(store.load(&old).await.expect("load").is_some());

    // The old key's lock is held (an older build's run): refused, nothing moves.
    let old_lock = store
        .lock(&old, LockInfo::for_current_process("up"))
        .await
        .expect("lock old");
    assert!(matches!(
        migrate_unscoped(store, &aws, &is_aws, false).await,
        Err(StateError::Locked { .. })
    ));
    old_lock.release().await.expect("release");
    assert_eq!(store.load(&aws).await.expect("load"), None);

    // Moved, by a run holding the scoped key's lock.
    let run = store
        .lock(&aws, LockInfo::for_current_process("up"))
        .await
        .expect("lock");
    assert!(
        migrate_unscoped(store, &aws, &is_aws, true)
            .await
            .expect("moved")
    );
    run.release().await.expect("release");
    assert_eq!(store.load(&old).await.expect("load"), None);
    let moved = store.load(&aws).await.expect("load").expect("moved");
    assert_eq!((moved.key.clone(), moved.serial), (aws.clone(), 4));

    // Onto a scoped key that has state already: refused, the old state kept.
    store
        .save(&recorded(&old, "aws", "us-east-1", 1))
        .await
        .expect("save old again");
    assert!(matches!(
        migrate_unscoped(store, &aws, &is_aws, false).await,
        Err(StateError::Conflict { .. })
    ));
    assert!(store.load(&old).await.expect("load").is_some());
    store.delete(&old).await.expect("delete");
    store.delete(&aws).await.expect("delete");
    assert!(
        store.list().await.expect("list").is_empty(),
        "locks released"
    );
}
