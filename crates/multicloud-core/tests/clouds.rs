//! One spec on several clouds with one state store: the state key names the cloud
//! (`ProviderScope`), a state another provider recorded is refused, and a state written
//! before keys named their cloud moves to the new key.

use std::sync::Arc;
use std::time::Duration;

use multicloud_core::prelude::*;
use multicloud_core::state::{ProviderScope, StackState, StateKey};
use multicloud_core::testing::{
    InMemoryProvider, Latencies, MemoryCloud, example_key, example_spec, memory_stack,
};

fn aws() -> ProviderScope {
    ProviderScope::new("aws", "123456789012").in_region("us-east-1")
}

fn azure() -> ProviderScope {
    ProviderScope::new("azure", "00000000-0000-0000-0000-000000000001")
}

/// The example spec on a memory cloud playing `scope`, its state in `store`.
fn stack_on(
    scope: Option<ProviderScope>,
    cloud: &Arc<MemoryCloud>,
    store: &Arc<LocalStateStore>,
) -> Stack {
    let provider = InMemoryProvider::new(cloud.clone());
    let provider = match scope {
        Some(scope) => provider.with_scope(scope),
        None => provider,
    };
    memory_stack(example_spec(), provider).state_arc(store.clone())
}

#[tokio::test(start_paused = true)]
async fn one_spec_on_two_clouds_in_one_store_goes_up_and_down_concurrently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(LocalStateStore::new(dir.path()));
    let latencies = || Latencies::realistic(Duration::from_secs(60));
    let (aws_cloud, azure_cloud) = (MemoryCloud::new(latencies()), MemoryCloud::new(latencies()));
    let on_aws = stack_on(Some(aws()), &aws_cloud, &store);
    let on_azure = stack_on(Some(azure()), &azure_cloud, &store);

    let (a, b) = tokio::join!(on_aws.up(), on_azure.up());
    a.expect("up on aws");
    b.expect("up on azure");
    let (aws_key, azure_key) = (
        on_aws.key().await.expect("key"),
        on_azure.key().await.expect("key"),
    );
    assert_ne!(aws_key, azure_key);
    assert_eq!(aws_key.scope.as_deref(), Some(&aws()));
    let listed = store.list().await.expect("list");
    let keys: Vec<&StateKey> = listed.iter().map(|l| &l.key).collect();
    assert_eq!(
        keys,
        [&aws_key, &azure_key],
        "one state per cloud, listed with it"
    );
    for (key, cloud, provider) in [
        (&aws_key, &aws_cloud, "aws"),
        (&azure_key, &azure_cloud, "azure"),
    ] {
        let state = store.load(key).await.expect("load").expect("recorded");
        assert_eq!(state.provider, provider);
        assert_eq!(state.resources.len(), cloud.resources().len(), "{provider}");
        assert!(
            cloud.creations().values().all(|&c| c == 1),
            "no duplicates on {provider}"
        );
    }
    let (a, b) = tokio::join!(on_aws.plan(), on_azure.plan());
    assert!(a.expect("plan").is_noop() && b.expect("plan").is_noop());

    let (a, b) = tokio::join!(on_aws.down(), on_azure.down());
    a.expect("down on aws");
    b.expect("down on azure");
    assert!(aws_cloud.resources().is_empty() && azure_cloud.resources().is_empty());
    assert!(
        store.list().await.expect("list").is_empty(),
        "states and locks gone"
    );
}

#[tokio::test]
async fn a_state_another_provider_recorded_is_refused_naming_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(LocalStateStore::new(dir.path()));
    let cloud = MemoryCloud::new(Latencies::zero());
    let stack = stack_on(Some(aws()), &cloud, &store);
    let key = stack.key().await.expect("key");
    // Copied by hand from another cloud's stack, say.
    let mut foreign = StackState::new(key.clone(), "westeurope", "azure");
    foreign.serial = 3;
    store.save(&foreign).await.expect("save");

    for err in [
        stack.plan().await.expect_err("plan refused"),
        stack.up().await.map(|_| ()).expect_err("up refused"),
        stack
            .outputs()
            .await
            .map(|_| ())
            .expect_err("outputs refused"),
    ] {
        match &err {
            Error::ProviderMismatch {
                key: k,
                recorded,
                current,
            } => {
                assert_eq!(k, &key);
                assert_eq!(recorded, "azure (westeurope)");
                assert_eq!(current, "aws (us-east-1)");
            }
            other => panic!("expected ProviderMismatch, got {other}"),
        }
        assert!(err.to_string().contains("azure (westeurope)"), "{err}");
    }
    assert!(cloud.resources().is_empty(), "nothing was made");
    assert_eq!(
        store.load(&key).await.expect("load"),
        Some(foreign),
        "left as it was"
    );
}

/// Moves the stack's state back to where builds before the cloud-in-the-key wrote it.
async fn as_written_before_keys_named_the_cloud(store: &LocalStateStore, key: &StateKey) {
    let state = store.load(key).await.expect("load").expect("state");
    store.delete(key).await.expect("delete");
    let old = StackState {
        key: key.unscoped(),
        ..state
    };
    store.save(&old).await.expect("save old");
}

#[tokio::test]
async fn a_state_under_the_old_key_moves_to_the_clouds_key_on_first_read_or_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(LocalStateStore::new(dir.path()));
    let cloud = MemoryCloud::new(Latencies::zero());
    let stack = stack_on(None, &cloud, &store);
    stack.up().await.expect("up");
    let key = example_key();
    let serial = store.load(&key).await.expect("load").expect("state").serial;
    let old_file = dir.path().join("shop.pr-1234.json");

    // Read (a plan, no run lock): moved, the plan a no-op on it.
    as_written_before_keys_named_the_cloud(&store, &key).await;
    assert!(old_file.is_file());
    assert!(stack.plan().await.expect("plan").is_noop());
    assert!(!old_file.exists(), "moved away from the old key");
    let moved = store.load(&key).await.expect("load").expect("moved");
    assert_eq!((moved.serial, moved.key.clone()), (serial, key.clone()));

    // Locked (an up): moved under the run's lock, nothing made again.
    as_written_before_keys_named_the_cloud(&store, &key).await;
    stack.up().await.expect("up");
    assert!(!old_file.exists());
    assert!(
        cloud.creations().values().all(|&c| c == 1),
        "{:?}",
        cloud.creations()
    );
    assert_eq!(
        store.load(&key).await.expect("load").map(|s| s.serial),
        Some(serial)
    );
    stack.down().await.expect("down");
    assert!(store.list().await.expect("list").is_empty());
}

#[tokio::test]
async fn a_state_under_the_old_key_another_cloud_recorded_stays_where_it_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(LocalStateStore::new(dir.path()));
    let azure_cloud = MemoryCloud::new(Latencies::zero());
    let on_azure = stack_on(Some(azure()), &azure_cloud, &store);
    on_azure.up().await.expect("up on azure");
    let azure_key = on_azure.key().await.expect("key");
    as_written_before_keys_named_the_cloud(&store, &azure_key).await;
    let old = store.load(&azure_key.unscoped()).await.expect("load");

    // The same spec on AWS plans its own stack from nothing and leaves Azure's state alone.
    let aws_cloud = MemoryCloud::new(Latencies::zero());
    let on_aws = stack_on(Some(aws()), &aws_cloud, &store);
    let plan = on_aws.plan().await.expect("plan");
    assert_eq!(plan.summary().create, plan.actions.len(), "{plan}");
    on_aws.up().await.expect("up on aws");
    on_aws.down().await.expect("down on aws");
    assert_eq!(store.load(&azure_key.unscoped()).await.expect("load"), old);
    assert!(!azure_cloud.resources().is_empty(), "azure untouched");

    // Azure's next run moves it, and its down removes everything.
    on_azure.down().await.expect("down on azure");
    assert!(azure_cloud.resources().is_empty());
    assert!(store.list().await.expect("list").is_empty());
}
