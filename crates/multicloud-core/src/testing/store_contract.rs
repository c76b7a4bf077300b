//! The contract of every object-backed [`StateStore`] (S3 on moto, Azure Blob on Azurite),
//! written once: state round trips, conditional writes, corrupt and newer state, the lock
//! object and its holder, force-unlock, key checks, listing and migration, and the cloud in
//! the key ([`scope_contract`](super::scope_contract)).
//!
//! A backend's tests describe their bucket or container with an [`ObjectWorld`] (a fresh
//! store on it, and raw access to its objects) and call [`store_contract_tests!`], which
//! writes one `#[tokio::test]` per check here and per check of
//! [`lock_contract`](super::lock_contract).
//!
//! [`store_contract_tests!`]: crate::store_contract_tests

use std::sync::Arc;
use std::time::Duration;

use crate::state::{LockInfo, SCHEMA_VERSION, StackState, StateError, StateKey, StateStore};

/// The prefix an [`ObjectWorld`]'s stores put their objects under.
pub const PREFIX: &str = "teams/platform";

/// The state object of [`key`] under [`PREFIX`].
pub const STATE_OBJECT: &str = "teams/platform/app/dev/state.json";

/// The lock object of [`key`] under [`PREFIX`].
pub const LOCK_OBJECT: &str = "teams/platform/app/dev/lock.json";

/// One bucket (or container) of a backend, seen from the test's side: it makes stores on
/// it and reads and writes its objects behind the store's back.
#[allow(async_fn_in_trait)]
pub trait ObjectWorld {
    /// The store under test.
    type Store: StateStore + 'static;
    /// A new store (a new run's) on this bucket, keeping its objects under [`PREFIX`].
    fn store(&self) -> Self::Store;
    /// The name `store` gives the state object of `key`.
    fn state_object(store: &Self::Store, key: &StateKey) -> String;
    /// The name `store` gives the lock object of `key`.
    fn lock_object(store: &Self::Store, key: &StateKey) -> String;
    /// Who holds the lock of `key` in `store`, without taking it.
    async fn lock_holder(store: &Self::Store, key: &StateKey) -> Option<LockInfo>;
    /// How the store names `object` in its errors (`s3://bucket/object`...).
    fn location(&self, object: &str) -> String;
    /// Writes `body` to `object`, unconditionally.
    async fn put(&self, object: &str, body: Vec<u8>);
    /// The text of `object`, `None` if absent.
    async fn get(&self, object: &str) -> Option<String>;
    /// Asserts what the backend keeps besides the lock object while the lock of
    /// `lock_object` is held (Azure: a blob lease nobody else may write under).
    async fn assert_lock_held(&self, lock_object: &str) {
        assert!(self.get(lock_object).await.is_some(), "{lock_object} held");
    }
}

/// The stack every check uses (`app`/`dev`).
pub fn key() -> StateKey {
    StateKey::new("app", "dev")
}

/// A state of [`key`] at `serial`.
pub fn state(serial: u64) -> StackState {
    let mut state = StackState::new(key(), "local", "memory");
    state.serial = serial;
    state
}

/// A lock holder on this machine named `owner` with process id `pid`, running `up`.
pub fn info(owner: &str, pid: u32) -> LockInfo {
    LockInfo {
        owner: owner.into(),
        pid,
        ..LockInfo::for_current_process("up")
    }
}

/// Objects are named under [`PREFIX`]; a saved state loads back equal, overwrites
/// succeed, a fresh store reads what another wrote, and the stored JSON has one line per
/// field.
pub async fn save_then_load_round_trips<W: ObjectWorld>(w: &W) {
    let store = w.store();
    assert_eq!(W::state_object(&store, &key()), STATE_OBJECT);
    assert_eq!(W::lock_object(&store, &key()), LOCK_OBJECT);

    assert_eq!(store.load(&key()).await.expect("load"), None);
    let mut saved = state(1);
    saved.expires_at = Some(saved.created_at);
    store.save(&saved).await.expect("save");
    assert_eq!(store.load(&key()).await.expect("load"), Some(saved.clone()));
    // Overwrites (conditioned on the ETag of the last save) succeed.
    saved.serial = 2;
    store.save(&saved).await.expect("save 2");
    saved.serial = 3;
    store.save(&saved).await.expect("save 3");
    // A fresh store reads what the first wrote.
    assert_eq!(w.store().load(&key()).await.expect("load"), Some(saved));

    let text = w.get(STATE_OBJECT).await.expect("state object");
    assert!(
        text.contains(&format!("\n  \"schema_version\":{SCHEMA_VERSION},\n")),
        "{text}"
    );
    assert!(text.contains("\n  \"serial\":3,\n"), "{text}");
}

/// A missing state loads as `None`; delete is idempotent and removes the object; after a
/// delete, a save is a first write again.
pub async fn missing_state_is_none_and_delete_is_idempotent<W: ObjectWorld>(w: &W) {
    let store = w.store();
    assert_eq!(store.load(&key()).await.expect("load"), None);
    store
        .delete(&key())
        .await
        .expect("deleting nothing is fine");
    store.save(&state(1)).await.expect("save");
    assert_eq!(
        store
            .load(&StateKey::new("app", "prod"))
            .await
            .expect("load"),
        None
    );
    store.delete(&key()).await.expect("delete");
    assert_eq!(store.load(&key()).await.expect("load"), None);
    assert_eq!(w.get(STATE_OBJECT).await, None);
    store.delete(&key()).await.expect("delete again");
    store.save(&state(1)).await.expect("save after delete");
    assert!(store.load(&key()).await.expect("load").is_some());
}

/// Unparsable state, or the state of another stack, is [`StateError::Corrupt`] naming the
/// object's location, and is left untouched.
pub async fn corrupt_state_is_reported_with_its_location<W: ObjectWorld>(w: &W) {
    let store = w.store();
    let garbage = "{\"schema_version\": 1, \"key\": ";
    w.put(STATE_OBJECT, garbage.into()).await;
    match &store.load(&key()).await.expect_err("corrupt") {
        StateError::Corrupt { location, message } => {
            assert_eq!(location, &w.location(STATE_OBJECT));
            assert!(message.contains("EOF"), "{message}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Left untouched.
    assert_eq!(w.get(STATE_OBJECT).await.as_deref(), Some(garbage));

    // The state of another stack is corrupt too.
    let other = StackState::new(StateKey::new("other", "dev"), "local", "memory");
    let body = serde_json::to_vec(&other).expect("json");
    w.put(STATE_OBJECT, body).await;
    let err = store.load(&key()).await.expect_err("another stack's");
    assert!(
        matches!(&err, StateError::Corrupt { message, .. } if message.contains("other/dev")),
        "{err:?}"
    );
}

/// State written by a newer schema is [`StateError::UnsupportedVersion`] naming its
/// location and both versions.
pub async fn newer_schema_is_unsupported<W: ObjectWorld>(w: &W) {
    let mut value = serde_json::to_value(state(1)).expect("json");
    value["schema_version"] = (SCHEMA_VERSION + 1).into();
    value["resources"] = "something new".into();
    w.put(STATE_OBJECT, serde_json::to_vec(&value).expect("json"))
        .await;
    match w.store().load(&key()).await.expect_err("newer") {
        StateError::UnsupportedVersion {
            location,
            found,
            supported,
        } => {
            assert_eq!(location, w.location(STATE_OBJECT));
            assert_eq!(found, SCHEMA_VERSION + 1);
            assert_eq!(supported, SCHEMA_VERSION);
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
}

/// Two stores saving the same stack never lose an update: a create over existing state,
/// an overwrite from a stale version and a write over a state deleted underneath are all
/// [`StateError::Conflict`]; after reloading, a store may write again.
pub async fn concurrent_saves_never_lose_an_update<W: ObjectWorld>(w: &W) {
    let (a, b) = (w.store(), w.store());
    // Both saw no state; a writes first, b's create (If-None-Match: *) is refused.
    assert_eq!(a.load(&key()).await.expect("load"), None);
    assert_eq!(b.load(&key()).await.expect("load"), None);
    a.save(&state(1)).await.expect("a creates");
    let err = b.save(&state(1)).await.expect_err("b's create");
    assert!(
        matches!(&err, StateError::Conflict { location, message }
            if location.contains(STATE_OBJECT) && message.contains("expected no state")),
        "{err:?}"
    );
    assert!(err.to_string().contains("changed underneath"), "{err}");

    // Both read serial 1; a saves serial 2; b's overwrite (If-Match: old ETag) is refused.
    let serial = |s: Option<StackState>| s.expect("present").serial;
    assert_eq!(serial(b.load(&key()).await.expect("load")), 1);
    a.save(&state(2)).await.expect("a saves 2");
    let err = b.save(&state(2)).await.expect_err("b's stale overwrite");
    assert!(
        matches!(&err, StateError::Conflict { message, .. } if message.contains("ETag")),
        "{err:?}"
    );
    assert_eq!(serial(w.store().load(&key()).await.expect("load")), 2);

    // After reloading, b may write.
    assert_eq!(serial(b.load(&key()).await.expect("load")), 2);
    b.save(&state(3)).await.expect("b saves 3");
    // a's knowledge is stale now, and a delete underneath is detected as well.
    assert!(a.save(&state(4)).await.is_err());
    b.delete(&key()).await.expect("delete");
    assert_eq!(a.load(&key()).await.expect("load"), None);
    a.save(&state(5)).await.expect("a saves 5");
    w.store().delete(&key()).await.expect("delete underneath");
    let err = a
        .save(&state(6))
        .await
        .expect_err("write over a deleted state");
    assert!(err.to_string().contains("changed underneath"), "{err}");
}

/// The lock object holds the holder's [`LockInfo`]; another run is refused with
/// [`StateError::Locked`] naming the holder; other keys are independent; release removes
/// the lock object.
pub async fn lock_contention_names_the_first_holder<W: ObjectWorld>(w: &W) {
    let store = w.store();
    let first = store
        .lock(&key(), info("alice@laptop", 11))
        .await
        .expect("lock");
    assert_eq!(first.info().owner, "alice@laptop");
    let stored: LockInfo =
        serde_json::from_str(&w.get(LOCK_OBJECT).await.expect("lock object")).expect("json");
    assert_eq!(&stored, first.info());
    w.assert_lock_held(LOCK_OBJECT).await;

    // Another store instance (another run) is refused and told who holds it.
    let err = w
        .store()
        .lock(&key(), info("bob@desktop", 22))
        .await
        .expect_err("held");
    match &err {
        StateError::Locked { key: k, holder } => {
            assert_eq!(k, &key());
            assert_eq!(holder.as_ref(), first.info());
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert!(
        err.to_string().contains("alice@laptop pid 11 (up)"),
        "{err}"
    );
    assert_eq!(
        W::lock_holder(&store, &key()).await.as_ref(),
        Some(first.info())
    );
    // Other keys are independent.
    let prod = store
        .lock(&StateKey::new("app", "prod"), info("bob@desktop", 22))
        .await
        .expect("another key");
    prod.release().await.expect("release prod");
    first.release().await.expect("release");
    assert_eq!(
        w.get(LOCK_OBJECT).await,
        None,
        "released: the object is gone"
    );
}

/// A released lock leaves no lock object and no holder, and the next run gets it.
pub async fn release_then_relock<W: ObjectWorld>(w: &W) {
    let store = w.store();
    let lock = store
        .lock(&key(), info("alice@laptop", 1))
        .await
        .expect("lock");
    lock.release().await.expect("release");
    assert_eq!(w.get(LOCK_OBJECT).await, None);
    assert_eq!(W::lock_holder(&store, &key()).await, None);
    let again = store
        .lock(&key(), info("bob@desktop", 2))
        .await
        .expect("relock");
    let holder = W::lock_holder(&store, &key()).await;
    assert_eq!(holder.expect("held").owner, "bob@desktop");
    again.release().await.expect("release");
}

/// A guard dropped without release frees the lock in the background.
pub async fn a_dropped_guard_frees_the_lock<W: ObjectWorld>(w: &W) {
    let store = w.store();
    drop(store.lock(&key(), info("carol@ci", 3)).await.expect("lock"));
    let mut freed = false;
    for _ in 0..100 {
        if w.get(LOCK_OBJECT).await.is_none() {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(freed, "lock still held after the guard was dropped");
    store
        .lock(&key(), info("dave@ci", 4))
        .await
        .expect("lock again")
        .release()
        .await
        .expect("release");
}

/// Force-unlock returns the holder and removes the lock; the old guard can then neither
/// renew nor remove the next holder's lock; an unreadable lock object is still reported,
/// and removed.
pub async fn force_unlock_returns_the_holder_and_the_old_guard_loses_its_lock<W: ObjectWorld>(
    w: &W,
) {
    let store = w.store();
    assert_eq!(store.force_unlock(&key()).await.expect("unlock"), None);

    let mut stale = store
        .lock(&key(), info("alice@laptop", 7))
        .await
        .expect("lock");
    let holder = w.store().force_unlock(&key()).await.expect("unlock");
    assert_eq!(holder.as_ref(), Some(stale.info()));
    assert_eq!(w.get(LOCK_OBJECT).await, None);

    // Someone else takes it; the stale guard can neither renew nor remove their lock.
    let fresh = store
        .lock(&key(), info("bob@desktop", 8))
        .await
        .expect("lock");
    assert!(matches!(
        stale.renew().await,
        Err(StateError::LockLost { .. })
    ));
    let err = stale.release().await.expect_err("lost");
    assert!(matches!(err, StateError::LockLost { .. }), "{err:?}");
    assert_eq!(
        W::lock_holder(&store, &key()).await.as_ref(),
        Some(fresh.info())
    );
    w.assert_lock_held(LOCK_OBJECT).await;
    fresh.release().await.expect("release");

    // An unreadable lock object is still reported, and removed.
    w.put(LOCK_OBJECT, b"not json".to_vec()).await;
    let holder = store
        .force_unlock(&key())
        .await
        .expect("unlock")
        .expect("a holder");
    assert!(holder.owner.contains("unreadable"), "{holder:?}");
    assert_eq!(w.get(LOCK_OBJECT).await, None);
}

/// Empty keys and keys with path separators or `..` are refused before any request.
pub async fn unsafe_keys_are_rejected<W: ObjectWorld>(w: &W) {
    let store = w.store();
    for bad in [
        StateKey::new("", "dev"),
        StateKey::new("app", ""),
        StateKey::new("a/b", "dev"),
        StateKey::new("app", "dev/../x"),
    ] {
        assert!(
            matches!(store.load(&bad).await, Err(StateError::Backend { .. })),
            "{bad:?}"
        );
        assert!(store.lock(&bad, info("x", 1)).await.is_err());
    }
}

/// `migrate` moves a stack from `local` to the world's store and back (only under the
/// lock: a held lock refuses, and nothing moves); `list` shows each stack with its serial
/// and lock holder, a lock-only stack too.
pub async fn migrate_and_list<W: ObjectWorld>(w: &W, local: &dyn StateStore) {
    use crate::state::migrate;
    let remote = w.store();
    let st = state(9);
    local.save(&st).await.expect("local save");
    assert!(migrate(local, &remote, &key()).await.expect("migrate"));
    assert_eq!(remote.load(&key()).await.expect("load"), Some(st.clone()));
    assert_eq!(local.load(&key()).await.expect("load"), None);

    // Listed with its serial and who holds its lock; a lock-only stack too.
    let held = remote
        .lock(&key(), info("ci@runner", 1))
        .await
        .expect("lock");
    let other = StateKey::new("other", "qa");
    let other_lock = remote
        .lock(&other, info("qa@runner", 2))
        .await
        .expect("lock other");
    let listed = remote.list().await.expect("list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0].key, key());
    assert_eq!(listed[0].serial, Some(9));
    assert_eq!(
        listed[0].lock.as_ref().map(|l| l.id.clone()),
        Some(held.info().id.clone())
    );
    assert_eq!((listed[1].key.clone(), listed[1].serial), (other, None));
    assert_eq!(
        listed[1].lock.as_ref().map(|l| l.owner.clone()),
        Some("qa@runner".into())
    );
    other_lock.release().await.expect("release other");

    // Migrating needs the lock: a held one refuses, and nothing moves.
    assert!(matches!(
        migrate(&remote, local, &key()).await,
        Err(StateError::Locked { .. })
    ));
    held.release().await.expect("release");
    assert!(migrate(&remote, local, &key()).await.expect("migrate back"));
    assert_eq!(local.load(&key()).await.expect("load"), Some(st));
    assert!(w.store().list().await.expect("list").is_empty());
}

/// The [`scope_contract`](super::scope_contract) on the world's store: a scoped key's
/// objects are under `<stack>/<env>/<scope segment>/`, one spec on two clouds keeps two
/// states, bad scopes are refused, and a state under the old key migrates.
pub async fn clouds_keep_separate_states<W: ObjectWorld>(w: &W) {
    use super::scope_contract as scope;
    let store = w.store();
    let aws = scope::aws_key();
    let base = "teams/platform/app/dev/aws.123456789012.us-east-1";
    assert_eq!(W::state_object(&store, &aws), format!("{base}/state.json"));
    assert_eq!(W::lock_object(&store, &aws), format!("{base}/lock.json"));
    scope::clouds_keep_separate_states(&store).await;
    scope::bad_scopes_are_refused(&store).await;
    scope::unscoped_state_migrates(&store).await;
}

/// [`lock_contract::lease_expiry_and_takeover`](super::lock_contract::lease_expiry_and_takeover)
/// on the world's store; the lock object is gone at the end.
pub async fn lease_expiry_and_takeover<W: ObjectWorld>(w: &W) {
    super::lock_contract::lease_expiry_and_takeover(&w.store(), &key()).await;
    assert_eq!(w.get(LOCK_OBJECT).await, None, "released at the end");
}

/// [`lock_contract::no_secret_value_is_stored`](super::lock_contract::no_secret_value_is_stored)
/// on the world's store, reading the example stack's state object raw.
pub async fn no_secret_value_is_stored<W: ObjectWorld>(w: &W) {
    let store: Arc<dyn StateStore> = Arc::new(w.store());
    let object = "teams/platform/shop/pr-1234/memory.local/state.json";
    super::lock_contract::no_secret_value_is_stored(store, || async {
        w.get(object).await.expect("state object").into_bytes()
    })
    .await;
}

/// One `#[tokio::test]` per check of [`store_contract`](crate::testing::store_contract)
/// and [`lock_contract`](crate::testing::lock_contract), each on a world of its own:
/// `$world` is an async function from a bucket (or container) name to an
/// [`ObjectWorld`](crate::testing::store_contract::ObjectWorld). The calling crate needs
/// `tokio` and `tempfile`.
#[macro_export]
macro_rules! store_contract_tests {
    ($world:expr) => {
        $crate::store_contract_tests!(@each $world;
            save_then_load_round_trips = "contract-round-trip",
            missing_state_is_none_and_delete_is_idempotent = "contract-missing",
            corrupt_state_is_reported_with_its_location = "contract-corrupt",
            newer_schema_is_unsupported = "contract-newer",
            concurrent_saves_never_lose_an_update = "contract-optimistic",
            lock_contention_names_the_first_holder = "contract-lock",
            release_then_relock = "contract-relock",
            a_dropped_guard_frees_the_lock = "contract-drop",
            force_unlock_returns_the_holder_and_the_old_guard_loses_its_lock = "contract-force",
            unsafe_keys_are_rejected = "contract-keys",
            lease_expiry_and_takeover = "contract-lease",
            no_secret_value_is_stored = "contract-secrets",
            clouds_keep_separate_states = "contract-clouds",
        );

        #[::tokio::test]
        async fn renewal_keeps_the_lock() {
            let w = ($world)("contract-renew").await;
            let store = $crate::testing::store_contract::ObjectWorld::store(&w);
            let key = $crate::testing::store_contract::key();
            $crate::testing::lock_contract::renewal_keeps_the_lock(&store, &key).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn racing_tasks_hold_it_one_at_a_time() {
            let w = ($world)("contract-race").await;
            let store = $crate::testing::store_contract::ObjectWorld::store(&w);
            let store: ::std::sync::Arc<dyn $crate::state::StateStore> =
                ::std::sync::Arc::new(store);
            let key = $crate::testing::store_contract::key();
            $crate::testing::lock_contract::racing_tasks_hold_it_one_at_a_time(store, &key, 8, 3)
                .await;
        }

        #[::tokio::test]
        async fn a_stale_write_is_refused() {
            let w = ($world)("contract-stale").await;
            let store = $crate::testing::store_contract::ObjectWorld::store(&w);
            let key = $crate::testing::store_contract::key();
            $crate::testing::lock_contract::a_stale_write_is_refused(&store, &key).await;
        }

        #[::tokio::test]
        async fn migrate_local_and_back_and_list() {
            let w = ($world)("contract-migrate").await;
            let dir = ::tempfile::tempdir().expect("tempdir");
            let local = $crate::state::LocalStateStore::new(dir.path());
            $crate::testing::store_contract::migrate_and_list(&w, &local).await;
        }
    };
    (@each $world:expr; $($check:ident = $bucket:literal,)*) => {
        $(
            #[::tokio::test]
            async fn $check() {
                let w = ($world)($bucket).await;
                $crate::testing::store_contract::$check(&w).await;
            }
        )*
    };
}
