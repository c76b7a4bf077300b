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
