//! [`S3StateStore`] against moto (5.2.5 honours `If-None-Match: *` and `If-Match` on
//! PutObject and `If-Match` on DeleteObject, so the conditional-write protocol is exercised
//! for real): the store contract every object store keeps
//! (`multicloud_core::testing::store_contract`), and a stack's whole life on S3 state. The
//! tests share one moto server and use one bucket each.

use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use multicloud_aws::S3StateStore;
use multicloud_aws::testing::MotoServer;
use multicloud_core::Stack;
use multicloud_core::state::{LockInfo, StateKey, StateStore};
use multicloud_core::testing::store_contract::{ObjectWorld, PREFIX};
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud, example_spec};

const REGION: &str = "us-east-1";

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
}

/// A bucket of its own on the shared moto.
impl ObjectWorld for World {
    type Store = S3StateStore;

    fn store(&self) -> S3StateStore {
        S3StateStore::new(self.client.clone(), &self.bucket, PREFIX)
    }

    fn state_object(store: &S3StateStore, key: &StateKey) -> String {
        store.state_key(key).expect("state object name")
    }

    fn lock_object(store: &S3StateStore, key: &StateKey) -> String {
        store.lock_key(key).expect("lock object name")
    }

    async fn lock_holder(store: &S3StateStore, key: &StateKey) -> Option<LockInfo> {
        store.lock_holder(key).await.expect("lock holder")
    }

    fn location(&self, object: &str) -> String {
        format!("s3://{}/{object}", self.bucket)
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

multicloud_core::store_contract_tests!(World::new);

#[tokio::test]
async fn stack_up_replan_down_with_s3_state() {
    let w = World::new("state-e2e").await;
    let cloud = MemoryCloud::new(Latencies::zero());
    let spec = example_spec();
    let memory = InMemoryProvider::new(cloud.clone());
    let stack = Stack::new(spec, memory.clone())
        .workloads(memory.workloads())
        .state(w.store());
    let stack_key = stack.key().await.expect("key");
    assert_eq!(stack_key, multicloud_core::testing::example_key());
    let object = w.store().state_key(&stack_key).unwrap();
    let lock_object = w.store().lock_key(&stack_key).unwrap();

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
