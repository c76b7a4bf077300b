//! [`S3StateStore`] against moto (5.2.5 honours `If-None-Match: *` and `If-Match` on
//! PutObject and `If-Match` on DeleteObject, so the conditional-write protocol is exercised
//! for real). The tests share one moto server and use one bucket each.

use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use multicloud_aws::S3StateStore;
use multicloud_aws::testing::MotoServer;
use multicloud_core::Stack;
use multicloud_core::state::{
    LockInfo, SCHEMA_VERSION, StackState, StateError, StateKey, StateStore,
};
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud, example_spec};

const REGION: &str = "us-east-1";
const PREFIX: &str = "teams/platform";

struct World {
    _moto: Arc<MotoServer>,
    client: Client,
    bucket: String,
}

impl World {
    async fn new(bucket: &str) -> World {
        let moto = MotoServer::shared().await.expect("moto starts");
        let client = Client::from_conf(moto.s3_config(REGION).await);
        client
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("bucket created");
        World {
            _moto: moto,
            client,
            bucket: bucket.into(),
        }
    }

    fn store(&self) -> S3StateStore {
        S3StateStore::new(self.client.clone(), &self.bucket, PREFIX)
    }

    async fn put(&self, object: &str, body: Vec<u8>) {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(object)
            .body(ByteStream::from(body))
            .send()
            .await
            .expect("put");
    }

    async fn get(&self, object: &str) -> Option<String> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(object)
            .send()
            .await
        {
            Ok(out) => Some(
                String::from_utf8(
                    out.body
                        .collect()
                        .await
                        .expect("body")
                        .into_bytes()
                        .to_vec(),
                )
                .expect("utf-8"),
            ),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
            Err(e) => panic!("get {object}: {e:?}"),
        }
    }
}

fn key() -> StateKey {
    StateKey::new("app", "dev")
}

const STATE_OBJECT: &str = "teams/platform/app/dev/state.json";
const LOCK_OBJECT: &str = "teams/platform/app/dev/lock.json";

fn state(serial: u64) -> StackState {
    let mut state = StackState::new(key(), REGION, "aws");
    state.serial = serial;
    state
}

fn info(owner: &str, pid: u32) -> LockInfo {
    LockInfo {
        owner: owner.into(),
        pid,
        ..LockInfo::for_current_process("up")
    }
}

#[tokio::test]
async fn save_then_load_round_trips_one_line_per_field_and_record() {
    let w = World::new("state-round-trip").await;
    let store = w.store();
    assert_eq!(store.state_key(&key()).unwrap(), STATE_OBJECT);
    assert_eq!(store.lock_key(&key()).unwrap(), LOCK_OBJECT);

    assert_eq!(store.load(&key()).await.unwrap(), None);
    let mut saved = state(1);
    saved.expires_at = Some(saved.created_at);
    store.save(&saved).await.unwrap();
    assert_eq!(store.load(&key()).await.unwrap(), Some(saved.clone()));
    // Overwrites (If-Match on the ETag of the last save) succeed.
    saved.serial = 2;
    store.save(&saved).await.unwrap();
    saved.serial = 3;
    store.save(&saved).await.unwrap();
    // A fresh store reads what the first wrote.
    assert_eq!(w.store().load(&key()).await.unwrap(), Some(saved));

    let text = w.get(STATE_OBJECT).await.expect("state object");
    assert!(
        text.contains(&format!("\n  \"schema_version\":{SCHEMA_VERSION},\n")),
        "{text}"
    );
    assert!(text.contains("\n  \"serial\":3,\n"), "{text}");
}

#[tokio::test]
async fn missing_state_is_none_and_delete_is_idempotent() {
    let w = World::new("state-missing").await;
    let store = w.store();
    assert_eq!(store.load(&key()).await.unwrap(), None);
    store.delete(&key()).await.unwrap();
    store.save(&state(1)).await.unwrap();
    assert_eq!(
        store.load(&StateKey::new("app", "prod")).await.unwrap(),
        None
    );
    store.delete(&key()).await.unwrap();
    assert_eq!(store.load(&key()).await.unwrap(), None);
    assert_eq!(w.get(STATE_OBJECT).await, None);
    store.delete(&key()).await.unwrap();
    // After a delete, a save is a first write again.
    store.save(&state(1)).await.unwrap();
    assert!(store.load(&key()).await.unwrap().is_some());
}

#[tokio::test]
async fn corrupt_state_is_reported_with_its_s3_location() {
    let w = World::new("state-corrupt").await;
    let store = w.store();
    let garbage = "{\"schema_version\": 1, \"key\": ";
    w.put(STATE_OBJECT, garbage.into()).await;
    let err = store.load(&key()).await.unwrap_err();
    match &err {
        StateError::Corrupt { location, message } => {
            assert_eq!(location, &format!("s3://state-corrupt/{STATE_OBJECT}"));
            assert!(message.contains("EOF"), "{message}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Left untouched.
    assert_eq!(w.get(STATE_OBJECT).await.as_deref(), Some(garbage));

    // The state of another stack is corrupt too.
    let other = StackState::new(StateKey::new("other", "dev"), REGION, "aws");
    w.put(STATE_OBJECT, serde_json::to_vec(&other).unwrap())
        .await;
    let err = store.load(&key()).await.unwrap_err();
    assert!(
        matches!(&err, StateError::Corrupt { message, .. } if message.contains("other/dev")),
        "{err:?}"
    );
}

#[tokio::test]
async fn newer_schema_is_unsupported() {
    let w = World::new("state-newer").await;
    let mut value = serde_json::to_value(state(1)).unwrap();
    value["schema_version"] = (SCHEMA_VERSION + 1).into();
    value["resources"] = "something new".into();
    w.put(STATE_OBJECT, serde_json::to_vec(&value).unwrap())
        .await;
    match w.store().load(&key()).await.unwrap_err() {
        StateError::UnsupportedVersion {
            location,
            found,
            supported,
        } => {
            assert_eq!(location, format!("s3://state-newer/{STATE_OBJECT}"));
            assert_eq!(found, SCHEMA_VERSION + 1);
            assert_eq!(supported, SCHEMA_VERSION);
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
}

#[tokio::test]
async fn concurrent_saves_never_lose_an_update() {
    let w = World::new("state-optimistic").await;
    let (a, b) = (w.store(), w.store());
    // Both saw no state; a writes first, b's first write (If-None-Match: *) fails.
    assert_eq!(a.load(&key()).await.unwrap(), None);
    assert_eq!(b.load(&key()).await.unwrap(), None);
    a.save(&state(1)).await.unwrap();
    let err = b.save(&state(1)).await.unwrap_err();
    assert!(
        matches!(&err, StateError::Conflict { location, message }
            if location.contains(STATE_OBJECT) && message.contains("expected no state")),
        "{err:?}"
    );
    assert!(err.to_string().contains("changed underneath"), "{err}");

    // Both read serial 1; a saves serial 2; b's overwrite (If-Match: old ETag) fails.
    assert_eq!(b.load(&key()).await.unwrap().unwrap().serial, 1);
    a.save(&state(2)).await.unwrap();
    let err = b.save(&state(2)).await.unwrap_err();
    assert!(
        matches!(&err, StateError::Conflict { message, .. } if message.contains("ETag")),
        "{err:?}"
    );
    assert_eq!(w.store().load(&key()).await.unwrap().unwrap().serial, 2);

    // After reloading, b may write.
    assert_eq!(b.load(&key()).await.unwrap().unwrap().serial, 2);
    b.save(&state(3)).await.unwrap();
    // a's knowledge is stale now, and a delete underneath is detected as well.
    assert!(a.save(&state(4)).await.is_err());
    b.delete(&key()).await.unwrap();
    assert_eq!(a.load(&key()).await.unwrap(), None);
    a.save(&state(5)).await.unwrap();
    w.store().delete(&key()).await.unwrap();
    let err = a.save(&state(6)).await.unwrap_err();
    assert!(err.to_string().contains("changed underneath"), "{err}");
}

#[tokio::test]
async fn lock_contention_names_the_first_holder() {
    let w = World::new("state-lock").await;
    let store = w.store();
    let first = store.lock(&key(), info("alice@laptop", 11)).await.unwrap();
    assert_eq!(first.info().owner, "alice@laptop");
    let stored: LockInfo =
        serde_json::from_str(&w.get(LOCK_OBJECT).await.expect("lock object")).unwrap();
    assert_eq!(&stored, first.info());

    // Another store instance (another run) is refused and told who holds it.
    let err = w
        .store()
        .lock(&key(), info("bob@desktop", 22))
        .await
        .unwrap_err();
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
        store.lock_holder(&key()).await.unwrap().as_ref(),
        Some(first.info())
    );
    // Other keys are independent.
    let prod = store
        .lock(&StateKey::new("app", "prod"), info("bob@desktop", 22))
        .await
        .unwrap();
    prod.release().await.unwrap();
    first.release().await.unwrap();
}

#[tokio::test]
async fn release_then_relock() {
    let w = World::new("state-relock").await;
    let store = w.store();
    let lock = store.lock(&key(), info("alice@laptop", 1)).await.unwrap();
    lock.release().await.unwrap();
    assert_eq!(w.get(LOCK_OBJECT).await, None);
    assert_eq!(store.lock_holder(&key()).await.unwrap(), None);
    let again = store.lock(&key(), info("bob@desktop", 2)).await.unwrap();
    assert_eq!(
        store.lock_holder(&key()).await.unwrap().unwrap().owner,
        "bob@desktop"
    );
    again.release().await.unwrap();

    // A guard dropped without release frees the lock in the background.
    let dropped = store.lock(&key(), info("carol@ci", 3)).await.unwrap();
    drop(dropped);
    let mut freed = false;
    for _ in 0..100 {
        if w.get(LOCK_OBJECT).await.is_none() {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(freed, "lock still held after the guard was dropped");
    store
        .lock(&key(), info("dave@ci", 4))
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
}

#[tokio::test]
async fn force_unlock_returns_the_holder_and_the_old_guard_loses_its_lock() {
    let w = World::new("state-force").await;
    let store = w.store();
    assert_eq!(store.force_unlock(&key()).await.unwrap(), None);

    let stale = store.lock(&key(), info("alice@laptop", 7)).await.unwrap();
    let holder = w.store().force_unlock(&key()).await.unwrap();
    assert_eq!(holder.as_ref(), Some(stale.info()));
    assert_eq!(w.get(LOCK_OBJECT).await, None);

    // Someone else takes it; the stale guard's release must not remove their lock.
    let fresh = store.lock(&key(), info("bob@desktop", 8)).await.unwrap();
    let err = stale.release().await.unwrap_err();
    assert!(matches!(err, StateError::LockLost { .. }), "{err:?}");
    assert_eq!(
        store.lock_holder(&key()).await.unwrap().as_ref(),
        Some(fresh.info())
    );
    fresh.release().await.unwrap();

    // An unreadable lock object is still reported, and removed.
    w.put(LOCK_OBJECT, b"not json".to_vec()).await;
    let holder = store.force_unlock(&key()).await.unwrap().expect("a holder");
    assert!(holder.owner.contains("unreadable"), "{holder:?}");
    assert_eq!(w.get(LOCK_OBJECT).await, None);
}

#[tokio::test]
async fn unsafe_keys_are_rejected() {
    let w = World::new("state-keys").await;
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

#[tokio::test]
async fn stack_up_replan_down_with_s3_state() {
    let w = World::new("state-e2e").await;
    let cloud = MemoryCloud::new(Latencies::zero());
    let spec = example_spec();
    let stack_key = StateKey::new(&spec.name, &spec.environment);
    let object = w.store().state_key(&stack_key).unwrap();
    let lock_object = w.store().lock_key(&stack_key).unwrap();
    let memory = InMemoryProvider::new(cloud.clone());
    let stack = Stack::new(spec, memory.clone())
        .workloads(memory.workloads())
        .state(w.store());

    let outputs = stack.up().await.expect("up");
    drop(outputs);
    let saved = w
        .store()
        .load(&stack_key)
        .await
        .unwrap()
        .expect("state saved");
    assert!(!saved.resources.is_empty());
    assert!(!cloud.resources().is_empty());
    assert_eq!(w.get(&lock_object).await, None, "lock released after up");

    let plan = stack.plan().await.expect("plan");
    assert!(plan.is_noop(), "{plan}");
    // A second up on an unchanged stack writes nothing.
    stack.up().await.expect("second up");
    assert_eq!(
        w.store().load(&stack_key).await.unwrap().unwrap().serial,
        saved.serial
    );

    stack.down().await.expect("down");
    assert_eq!(w.get(&object).await, None, "state object removed");
    assert_eq!(w.get(&lock_object).await, None, "lock released after down");
    assert!(cloud.resources().is_empty(), "{:?}", cloud.resources());
}

/// The lock and write contract every store keeps (written once in multicloud-core).
mod contract {
    use super::*;
    use multicloud_core::state::StateStore;
    use multicloud_core::testing::lock_contract;

    #[tokio::test]
    async fn s3_lease_expiry_and_takeover() {
        let w = World::new("contract-lease").await;
        lock_contract::lease_expiry_and_takeover(&w.store(), &key()).await;
    }

    #[tokio::test]
    async fn s3_renewal_keeps_the_lock() {
        let w = World::new("contract-renew").await;
        lock_contract::renewal_keeps_the_lock(&w.store(), &key()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn s3_racing_tasks_hold_it_one_at_a_time() {
        let w = World::new("contract-race").await;
        let store: Arc<dyn StateStore> = Arc::new(w.store());
        lock_contract::racing_tasks_hold_it_one_at_a_time(store, &key(), 8, 3).await;
    }

    #[tokio::test]
    async fn migrate_local_to_s3_and_back_and_list() {
        let w = World::new("contract-migrate").await;
        let s3 = w.store();
        let dir = tempfile::tempdir().expect("tempdir");
        let local = multicloud_core::state::LocalStateStore::new(dir.path());
        let st = state(9);
        local.save(&st).await.unwrap();
        assert!(
            multicloud_core::state::migrate(&local, &s3, &key())
                .await
                .unwrap()
        );
        assert_eq!(s3.load(&key()).await.unwrap(), Some(st.clone()));
        assert_eq!(local.load(&key()).await.unwrap(), None);
        let held = s3.lock(&key(), info("ci@runner", 1)).await.unwrap();
        let listed = s3.list().await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].key, key());
        assert_eq!(listed[0].serial, Some(9));
        assert_eq!(
            listed[0].lock.as_ref().map(|l| l.id.clone()),
            Some(held.info().id.clone())
        );
        // Migrating needs the lock: a held one refuses, and nothing moves.
        assert!(matches!(
            multicloud_core::state::migrate(&s3, &local, &key()).await,
            Err(StateError::Locked { .. })
        ));
        held.release().await.unwrap();
        assert!(
            multicloud_core::state::migrate(&s3, &local, &key())
                .await
                .unwrap()
        );
        assert_eq!(local.load(&key()).await.unwrap(), Some(st));
        assert!(w.store().list().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn s3_no_secret_value_is_stored() {
        let w = World::new("contract-secrets").await;
        let store: Arc<dyn StateStore> = Arc::new(w.store());
        let object = "teams/platform/shop/pr-1234/state.json";
        lock_contract::no_secret_value_is_stored(store, || async {
            w.get(object).await.expect("state object").into_bytes()
        })
        .await;
    }

    #[tokio::test]
    async fn s3_stale_write_is_refused() {
        let w = World::new("contract-stale").await;
        lock_contract::a_stale_write_is_refused(&w.store(), &key()).await;
    }
}
