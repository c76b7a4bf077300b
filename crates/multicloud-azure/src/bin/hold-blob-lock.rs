//! `hold-blob-lock`: holds the state lock, with its state in Azurite, in a run of
//! `Stack::up` that never finishes (`lock_contract::hold_until_killed`, the body of the
//! workspace's `hold-lock` too), for the Blob state tests to SIGKILL. A test helper
//! (feature `testing`), not a tool.
//!
//! ```text
//! hold-blob-lock ACCOUNT_URL CONTAINER PREFIX LEASE_MS
//! ```
//! Prints `running` once the run holds the lock (after its plan), then runs until killed.

use std::sync::Arc;
use std::time::Duration;

use multicloud_azure::BlobStateStore;
use multicloud_azure::testing::{ACCOUNT, ACCOUNT_KEY};
use multicloud_core::secret::SecretString;
use multicloud_core::testing::lock_contract;

fn usage() -> ! {
    eprintln!("usage: hold-blob-lock ACCOUNT_URL CONTAINER PREFIX LEASE_MS");
    std::process::exit(2)
}

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("hold-blob-lock: {e}");
    std::process::exit(1)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, container, prefix, lease] = args.as_slice() else {
        usage()
    };
    let lease = Duration::from_millis(lease.parse().unwrap_or_else(|_| usage()));
    let store = BlobStateStore::builder(url, container)
        .shared_key(ACCOUNT, SecretString::new(ACCOUNT_KEY))
        .prefix(prefix)
        .build()
        .unwrap_or_else(|e| fail(e));
    if let Err(e) = lock_contract::hold_until_killed(Arc::new(store), lease).await {
        fail(e)
    }
}
