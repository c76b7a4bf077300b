//! [`BlobStateStore`] against Azurite (3.35, started by the tests on a free port, installed
//! by `scripts/install-azurite.sh` when missing): the store contract every object store
//! keeps (`multicloud_core::testing::store_contract`: ETag-conditioned saves, the lock,
//! listing, force-unlock and migration) with the blob lease under the lock, a SIGKILLed
//! holder, credentials and retries. The tests share one Azurite and use one container each.

use std::sync::Arc;

use azure_core::http::RequestContent;
use azure_storage_blob::BlobContainerClient;
use azure_storage_blob::models::BlobClientGetPropertiesResultHeaders;
use multicloud_azure::BlobStateStore;
use multicloud_azure::testing::Azurite;
use multicloud_core::state::{LockInfo, StateError, StateKey, StateStore};
use multicloud_core::testing::store_contract::{LOCK_OBJECT, ObjectWorld, PREFIX, info, key};

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

/// A container of its own on the shared Azurite.
impl ObjectWorld for World {
    type Store = BlobStateStore;

    fn store(&self) -> BlobStateStore {
        self.azurite
            .store_builder(&self.container)
            .prefix(PREFIX)
            .build()
            .expect("store")
    }

    fn state_object(store: &BlobStateStore, key: &StateKey) -> String {
        store.state_blob(key).expect("state blob name")
    }

    fn lock_object(store: &BlobStateStore, key: &StateKey) -> String {
        store.lock_blob(key).expect("lock blob name")
    }

    async fn lock_holder(store: &BlobStateStore, key: &StateKey) -> Option<LockInfo> {
        store.lock_holder(key).await.expect("lock holder")
    }

    fn location(&self, blob: &str) -> String {
        format!("azblob://{}/{blob}", self.container)
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

    /// The lock blob is under a blob lease: nobody without it can overwrite the blob.
    async fn assert_lock_held(&self, lock_blob: &str) {
        assert_eq!(self.lease_state(lock_blob).await, "leased");
        let other = self
            .client
            .blob_client(lock_blob)
            .upload(RequestContent::from(b"{}".to_vec()), None)
            .await;
        assert_eq!(
            other
                .expect_err("refused without the lease")
                .http_status()
                .map(u16::from),
            Some(412)
        );
    }
}

multicloud_core::store_contract_tests!(World::new);

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
        let key = multicloud_core::testing::example_key();
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
        assert_eq!(w.lease_state(LOCK_OBJECT).await, "leased");
        assert!(matches!(
            w.store().lock(&key(), info("bob@desktop", 2)).await,
            Err(StateError::Locked { holder, .. }) if holder.id == held.info().id
        ));
        held.release().await.unwrap();
        assert_eq!(w.get(LOCK_OBJECT).await, None);
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
