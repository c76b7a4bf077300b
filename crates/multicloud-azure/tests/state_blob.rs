//! [`BlobStateStore`] against Azurite (3.35, started by the tests on a free port, installed
//! by `scripts/install-azurite.sh` when missing): the shared lock contract, ETag-conditioned
//! saves, the blob lease under the lock, listing, force-unlock and migration. The tests
//! share one Azurite and use one container each.

use std::sync::Arc;

use azure_core::http::RequestContent;
use azure_storage_blob::BlobContainerClient;
use azure_storage_blob::models::BlobClientGetPropertiesResultHeaders;
use multicloud_azure::BlobStateStore;
use multicloud_azure::testing::Azurite;
use multicloud_core::state::{
    LockInfo, SCHEMA_VERSION, StackState, StateError, StateKey, StateStore,
};

const PREFIX: &str = "teams/platform";
const STATE_BLOB: &str = "teams/platform/app/dev/state.json";
const LOCK_BLOB: &str = "teams/platform/app/dev/lock.json";

struct World {
    azurite: Arc<Azurite>,
    container: String,
    client: BlobContainerClient,
}

impl World {
    async fn new(container: &str) -> World {
        let azurite = Azurite::shared().await.expect("Azurite starts");
        azurite
            .create_container(container)
            .await
            .expect("container created");
        let client = azurite.container_client(container).expect("client");
        World {
            azurite,
            container: container.into(),
            client,
        }
    }

    fn store(&self) -> BlobStateStore {
        self.azurite
            .store_builder(&self.container)
            .prefix(PREFIX)
            .build()
            .expect("store")
    }

    async fn put(&self, blob: &str, body: Vec<u8>) {
        self.client
            .blob_client(blob)
            .upload(RequestContent::from(body), None)
            .await
            .expect("put");
    }

    async fn get(&self, blob: &str) -> Option<String> {
        match self.client.blob_client(blob).download(None).await {
            Ok(out) => Some(
                String::from_utf8(out.body.collect().await.expect("body").to_vec()).expect("utf-8"),
            ),
            Err(e) if e.http_status().map(u16::from) == Some(404) => None,
            Err(e) => panic!("get {blob}: {e:?}"),
        }
    }

    /// The lease state of a blob (`leased`, `broken`, `available`...).
    async fn lease_state(&self, blob: &str) -> String {
        let props = self
            .client
            .blob_client(blob)
            .get_properties(None)
            .await
            .expect("properties");
        props
            .lease_state()
            .expect("header")
            .map(|s| s.to_string())
            .unwrap_or_default()
    }
}

fn key() -> StateKey {
    StateKey::new("app", "dev")
}

fn state(serial: u64) -> StackState {
    let mut state = StackState::new(key(), "westeurope", "azure");
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
async fn save_then_load_round_trips_and_delete_removes() {
    let w = World::new("round-trip").await;
    let store = w.store();
    assert_eq!(store.state_blob(&key()).unwrap(), STATE_BLOB);
    assert_eq!(store.lock_blob(&key()).unwrap(), LOCK_BLOB);

    assert_eq!(store.load(&key()).await.unwrap(), None);
    store
        .delete(&key())
        .await
        .expect("deleting nothing is fine");
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

    let text = w.get(STATE_BLOB).await.expect("state blob");
    assert!(
        text.contains(&format!("\n  \"schema_version\":{SCHEMA_VERSION},\n")),
        "{text}"
    );
    assert!(text.contains("\n  \"serial\":3,\n"), "{text}");

    store.delete(&key()).await.unwrap();
    assert_eq!(w.get(STATE_BLOB).await, None);
    assert_eq!(store.load(&key()).await.unwrap(), None);
    // After a delete, a save is a first write again.
    store.save(&state(1)).await.unwrap();
    assert!(store.load(&key()).await.unwrap().is_some());
}

#[tokio::test]
async fn a_create_over_existing_state_and_a_stale_write_are_conflicts() {
    let w = World::new("conditions").await;
    let (a, b) = (w.store(), w.store());
    // Both saw no state; a writes first, b's create (If-None-Match: *) is refused.
    assert_eq!(a.load(&key()).await.unwrap(), None);
    assert_eq!(b.load(&key()).await.unwrap(), None);
    a.save(&state(1)).await.unwrap();
    let err = b.save(&state(1)).await.unwrap_err();
    assert!(
        matches!(&err, StateError::Conflict { location, message }
            if location.contains(STATE_BLOB) && message.contains("expected no state")),
        "{err:?}"
    );

    // Both read serial 1; a saves serial 2; b's overwrite (If-Match: old ETag) is refused.
    assert_eq!(b.load(&key()).await.unwrap().unwrap().serial, 1);
    a.save(&state(2)).await.unwrap();
    let err = b.save(&state(2)).await.unwrap_err();
    assert!(
        matches!(&err, StateError::Conflict { message, .. } if message.contains("ETag")),
        "{err:?}"
    );
    assert_eq!(w.store().load(&key()).await.unwrap().unwrap().serial, 2);

    // After reloading, b may write; a delete underneath is detected as well.
    assert_eq!(b.load(&key()).await.unwrap().unwrap().serial, 2);
    b.save(&state(3)).await.unwrap();
    w.store().delete(&key()).await.unwrap();
    let err = b.save(&state(4)).await.unwrap_err();
    assert!(err.to_string().contains("changed underneath"), "{err}");
}

#[tokio::test]
async fn corrupt_and_newer_state_are_reported_with_their_location() {
    let w = World::new("corrupt").await;
    w.put(STATE_BLOB, b"{\"schema_version\": 1, \"key\": ".to_vec())
        .await;
    match w.store().load(&key()).await.unwrap_err() {
        StateError::Corrupt { location, .. } => {
            assert_eq!(location, format!("azblob://corrupt/{STATE_BLOB}"));
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let mut value = serde_json::to_value(state(1)).unwrap();
    value["schema_version"] = (SCHEMA_VERSION + 1).into();
    w.put(STATE_BLOB, serde_json::to_vec(&value).unwrap()).await;
    assert!(matches!(
        w.store().load(&key()).await.unwrap_err(),
        StateError::UnsupportedVersion { found, .. } if found == SCHEMA_VERSION + 1
    ));
}

#[tokio::test]
async fn the_lock_blob_holds_the_lock_info_under_a_blob_lease() {
    let w = World::new("lease").await;
    let store = w.store();
    let first = store.lock(&key(), info("alice@laptop", 11)).await.unwrap();
    let stored: LockInfo =
        serde_json::from_str(&w.get(LOCK_BLOB).await.expect("lock blob")).unwrap();
    assert_eq!(&stored, first.info());
    assert_eq!(w.lease_state(LOCK_BLOB).await, "leased");

    // Nobody without the lease can overwrite the lock blob.
    let other = w
        .client
        .blob_client(LOCK_BLOB)
        .upload(RequestContent::from(b"{}".to_vec()), None)
        .await;
    assert_eq!(other.unwrap_err().http_status().map(u16::from), Some(412));

    // Another run is refused and told who holds it.
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
    // Other keys are independent.
    let prod = store
        .lock(&StateKey::new("app", "prod"), info("bob@desktop", 22))
        .await
        .unwrap();
    prod.release().await.unwrap();
    first.release().await.unwrap();
    assert_eq!(
        w.get(LOCK_BLOB).await,
        None,
        "released: the lock blob is gone"
    );
}

#[tokio::test]
async fn a_dropped_guard_frees_the_lock_in_the_background() {
    let w = World::new("drop").await;
    let store = w.store();
    drop(store.lock(&key(), info("carol@ci", 3)).await.unwrap());
    let mut freed = false;
    for _ in 0..100 {
        if w.get(LOCK_BLOB).await.is_none() {
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
async fn force_unlock_breaks_the_lease_and_the_old_guard_loses_its_lock() {
    let w = World::new("force").await;
    let store = w.store();
    assert_eq!(store.force_unlock(&key()).await.unwrap(), None);

    let mut stale = store.lock(&key(), info("alice@laptop", 7)).await.unwrap();
    let holder = w.store().force_unlock(&key()).await.unwrap();
    assert_eq!(holder.as_ref(), Some(stale.info()));
    assert_eq!(w.get(LOCK_BLOB).await, None);

    // Someone else takes it; the stale guard can neither renew nor remove their lock.
    let fresh = store.lock(&key(), info("bob@desktop", 8)).await.unwrap();
    assert!(matches!(
        stale.renew().await,
        Err(StateError::LockLost { .. })
    ));
    let err = stale.release().await.unwrap_err();
    assert!(matches!(err, StateError::LockLost { .. }), "{err:?}");
    assert_eq!(
        store.lock_holder(&key()).await.unwrap().as_ref(),
        Some(fresh.info())
    );
    assert_eq!(w.lease_state(LOCK_BLOB).await, "leased");
    fresh.release().await.unwrap();

    // An unreadable lock blob is still reported, and removed.
    w.put(LOCK_BLOB, b"not json".to_vec()).await;
    let holder = store.force_unlock(&key()).await.unwrap().expect("a holder");
    assert!(holder.owner.contains("unreadable"), "{holder:?}");
    assert_eq!(w.get(LOCK_BLOB).await, None);
}

#[tokio::test]
async fn unsafe_keys_are_rejected() {
    let w = World::new("keys").await;
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
async fn a_wrong_account_key_is_refused_as_unauthorized() {
    let w = World::new("wrong-key").await;
    let store = BlobStateStore::builder(w.azurite.account_url(), "wrong-key")
        .shared_key(
            multicloud_azure::testing::ACCOUNT,
            multicloud_core::secret::SecretString::new("d3Jvbmcga2V5"),
        )
        .build()
        .unwrap();
    let err = store.load(&key()).await.unwrap_err();
    assert!(
        matches!(&err, StateError::Backend { message, .. } if message.contains("HTTP 403")),
        "{err:?}"
    );
}

/// The lock and write contract every store keeps (written once in multicloud-core).
mod contract {
    use super::*;
    use multicloud_core::state::{LocalStateStore, migrate};
    use multicloud_core::testing::lock_contract;

    #[tokio::test]
    async fn blob_lease_expiry_and_takeover() {
        let w = World::new("contract-lease").await;
        lock_contract::lease_expiry_and_takeover(&w.store(), &key()).await;
        assert_eq!(w.get(LOCK_BLOB).await, None, "released at the end");
    }

    #[tokio::test]
    async fn blob_renewal_keeps_the_lock() {
        let w = World::new("contract-renew").await;
        lock_contract::renewal_keeps_the_lock(&w.store(), &key()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn blob_racing_tasks_hold_it_one_at_a_time() {
        let w = World::new("contract-race").await;
        let store: Arc<dyn StateStore> = Arc::new(w.store());
        lock_contract::racing_tasks_hold_it_one_at_a_time(store, &key(), 8, 3).await;
    }

    #[tokio::test]
    async fn blob_stale_write_is_refused() {
        let w = World::new("contract-stale").await;
        lock_contract::a_stale_write_is_refused(&w.store(), &key()).await;
    }

    #[tokio::test]
    async fn blob_no_secret_value_is_stored() {
        let w = World::new("contract-secrets").await;
        let store: Arc<dyn StateStore> = Arc::new(w.store());
        let blob = "teams/platform/shop/pr-1234/state.json";
        lock_contract::no_secret_value_is_stored(store, || async {
            w.get(blob).await.expect("state blob").into_bytes()
        })
        .await;
    }

    #[tokio::test]
    async fn migrate_local_to_blob_and_back_and_list() {
        let w = World::new("contract-migrate").await;
        let blob = w.store();
        let dir = tempfile::tempdir().expect("tempdir");
        let local = LocalStateStore::new(dir.path());
        let st = state(9);
        local.save(&st).await.unwrap();
        assert!(migrate(&local, &blob, &key()).await.unwrap());
        assert_eq!(blob.load(&key()).await.unwrap(), Some(st.clone()));
        assert_eq!(local.load(&key()).await.unwrap(), None);

        // Listed with its serial and who holds its lock; a lock-only stack too.
        let held = blob.lock(&key(), info("ci@runner", 1)).await.unwrap();
        let other = StateKey::new("other", "qa");
        let other_lock = blob.lock(&other, info("qa@runner", 2)).await.unwrap();
        let listed = blob.list().await.unwrap();
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
        other_lock.release().await.unwrap();

        // Migrating needs the lock: a held one refuses, and nothing moves.
        assert!(matches!(
            migrate(&blob, &local, &key()).await,
            Err(StateError::Locked { .. })
        ));
        held.release().await.unwrap();
        assert!(migrate(&blob, &local, &key()).await.unwrap());
        assert_eq!(local.load(&key()).await.unwrap(), Some(st));
        assert!(w.store().list().await.unwrap().is_empty());
    }
}

/// A run killed with SIGKILL while holding the lock (a real `Stack::up`, renewing its lease,
/// in the `hold-blob-lock` process) leaves the lock blob under an infinite blob lease; the
/// next run is refused until the lock's lease runs out, then breaks the blob lease and takes
/// the lock over, told whom from.
mod sigkill {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use multicloud_core::Stack;
    use multicloud_core::events::Event;
    use multicloud_core::testing::{
        InMemoryProvider, Latencies, MemoryCloud, example_spec, memory_stack,
    };

    use super::*;

    const LEASE_MS: &str = "2000";

    #[tokio::test]
    async fn blob_a_sigkilled_holder_is_taken_over_after_its_lease() {
        let w = World::new("lease-sigkill").await;
        let mut child = Command::new(env!("CARGO_BIN_EXE_hold-blob-lock"))
            .args([&w.azurite.account_url(), &w.container, "lease", LEASE_MS])
            .stdout(Stdio::piped())
            .spawn()
            .expect("hold-blob-lock starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read hold-blob-lock's output");
        assert_eq!(line.trim(), "running", "hold-blob-lock holds the lock");
        let pid = child.id();
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        let killed = Instant::now();

        let store = || {
            w.azurite
                .store_builder(&w.container)
                .prefix("lease")
                .build()
                .expect("store")
        };
        let spec = example_spec();
        let key = StateKey::new(&spec.name, &spec.environment);
        let lock_blob = store().lock_blob(&key).expect("name");
        assert_eq!(w.lease_state(&lock_blob).await, "leased", "left leased");
        // Until the lease runs out the lock is held by the dead run...
        match store()
            .lock(&key, LockInfo::for_current_process("up"))
            .await
        {
            Err(StateError::Locked { holder, .. }) => assert_eq!(holder.pid, pid),
            other => panic!("expected Locked during the lease, got {other:?}"),
        }
        // ...then the next run takes it over.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let stack: Stack = memory_stack(
            spec,
            InMemoryProvider::new(MemoryCloud::new(Latencies::zero())),
        )
        .state(store());
        let mut events = stack.event_bus().subscribe();
        stack.up().await.expect("the next run proceeds");
        let mut previous = None;
        while let Ok(e) = events.try_recv() {
            if let Event::LockTakenOver { previous: p, .. } = e {
                previous = Some(p);
            }
        }
        let previous = previous.expect("the dead run's lock was taken over");
        assert!(previous.contains(&format!("pid {pid} ")), "{previous}");
        assert!(killed.elapsed() >= Duration::from_secs(2));
        stack.down().await.expect("down");
        assert_eq!(w.get(&lock_blob).await, None, "released after down");
    }
}

/// The SDK never retries by itself: a `503 ServerBusy` answer (from a per-try policy, which
/// sits behind the SDK's retry policy) is retried by the store's `RetryPolicy` alone, exactly
/// as often as it allows.
mod retries {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use azure_core::http::headers::Headers;
    use azure_core::http::policies::{Policy, PolicyResult};
    use azure_core::http::{AsyncRawResponse, ClientOptions, Context, Request, StatusCode};
    use multicloud_core::retry::RetryPolicy;

    use super::*;

    /// Answers `503 ServerBusy` to the first `busy` tries, then lets requests through.
    #[derive(Debug)]
    struct Busy {
        busy: u32,
        tries: AtomicU32,
    }

    #[async_trait::async_trait]
    impl Policy for Busy {
        async fn send(
            &self,
            ctx: &Context,
            request: &mut Request,
            next: &[Arc<dyn Policy>],
        ) -> PolicyResult {
            if self.tries.fetch_add(1, Ordering::SeqCst) < self.busy {
                let mut headers = Headers::new();
                headers.insert("x-ms-error-code", "ServerBusy");
                return Ok(AsyncRawResponse::from_bytes(
                    StatusCode::ServiceUnavailable,
                    headers,
                    Vec::new(),
                ));
            }
            next[0].send(ctx, request, &next[1..]).await
        }
    }

    fn store(w: &World, busy: &Arc<Busy>, attempts: u32) -> BlobStateStore {
        let mut options = ClientOptions::default();
        options.per_try_policies.push(busy.clone());
        w.azurite
            .store_builder(&w.container)
            .prefix(PREFIX)
            .client_options(options)
            .retry(RetryPolicy {
                max_attempts: attempts,
                base: Duration::from_millis(1),
                cap: Duration::from_millis(5),
            })
            .build()
            .expect("store")
    }

    /// Lets the first write of the lock blob through, then loses its answer (as a broken
    /// connection would).
    #[derive(Debug, Default)]
    struct LoseFirstLockAnswer {
        lost: AtomicU32,
    }

    #[async_trait::async_trait]
    impl Policy for LoseFirstLockAnswer {
        async fn send(
            &self,
            ctx: &Context,
            request: &mut Request,
            next: &[Arc<dyn Policy>],
        ) -> PolicyResult {
            let answer = next[0].send(ctx, request, &next[1..]).await;
            let lock_write = request.method() == azure_core::http::Method::Put
                && request.url().path().ends_with("lock.json")
                && request.url().query().is_none();
            if lock_write && self.lost.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Io,
                    "connection reset (simulated)",
                ));
            }
            answer
        }
    }

    #[tokio::test]
    async fn a_lock_write_whose_answer_was_lost_is_still_ours() {
        let w = World::new("lost-answer").await;
        let lose = Arc::new(LoseFirstLockAnswer::default());
        let mut options = ClientOptions::default();
        options.per_try_policies.push(lose.clone());
        let store = w
            .azurite
            .store_builder(&w.container)
            .prefix(PREFIX)
            .client_options(options)
            .build()
            .expect("store");
        let held = store.lock(&key(), info("alice@laptop", 1)).await.unwrap();
        assert_eq!(
            lose.lost.load(Ordering::SeqCst),
            2,
            "written, lost, retried"
        );
        assert!(held.taken_over().is_none());
        assert_eq!(w.lease_state(LOCK_BLOB).await, "leased");
        assert!(matches!(
            w.store().lock(&key(), info("bob@desktop", 2)).await,
            Err(StateError::Locked { holder, .. }) if holder.id == held.info().id
        ));
        held.release().await.unwrap();
        assert_eq!(w.get(LOCK_BLOB).await, None);
    }

    #[tokio::test]
    async fn server_busy_is_retried_by_the_store_only() {
        let w = World::new("retries").await;
        let busy = Arc::new(Busy {
            busy: 2,
            tries: AtomicU32::new(0),
        });
        assert_eq!(store(&w, &busy, 3).load(&key()).await.unwrap(), None);
        assert_eq!(
            busy.tries.load(Ordering::SeqCst),
            3,
            "two refused, one through"
        );

        let busy = Arc::new(Busy {
            busy: 5,
            tries: AtomicU32::new(0),
        });
        let err = store(&w, &busy, 2).load(&key()).await.unwrap_err();
        assert!(
            matches!(&err, StateError::Backend { message, .. } if message.contains("ServerBusy")),
            "{err:?}"
        );
        assert_eq!(
            busy.tries.load(Ordering::SeqCst),
            2,
            "no retry beyond the policy's"
        );
    }
}
