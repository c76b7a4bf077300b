//! `hold-blob-lock`: runs `Stack::up` of the example stack on an in-memory cloud so slow it
//! never finishes, with its state in Azurite, holding (and renewing) the state lock, for the
//! Blob state tests to SIGKILL. A test helper (feature `testing`), not a tool.
//!
//! ```text
//! hold-blob-lock ACCOUNT_URL CONTAINER PREFIX LEASE_MS
//! ```
//! Prints `running` once the run holds the lock (after its plan), then runs until killed.

use std::time::Duration;

use multicloud_azure::BlobStateStore;
use multicloud_azure::testing::{ACCOUNT, ACCOUNT_KEY};
use multicloud_core::events::Event;
use multicloud_core::prelude::*;
use multicloud_core::secret::SecretString;
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud, memory_stack};

fn usage() -> ! {
    eprintln!("usage: hold-blob-lock ACCOUNT_URL CONTAINER PREFIX LEASE_MS");
    std::process::exit(2)
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
        .unwrap_or_else(|e| {
            eprintln!("hold-blob-lock: {e}");
            std::process::exit(1)
        });
    // One latency unit is an hour: the run holds the lock until it is killed.
    let cloud = MemoryCloud::new(Latencies::realistic(Duration::from_secs(3600)));
    let stack = memory_stack(
        multicloud_core::testing::example_spec(),
        InMemoryProvider::new(cloud),
    )
    .state(store)
    .options(ApplyOptions {
        lock_lease: lease,
        ..ApplyOptions::default()
    });
    let mut events = stack.event_bus().subscribe();
    tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            if matches!(e, Event::PlanReady { .. }) {
                println!("running");
            }
        }
    });
    if let Err(e) = stack.up().await {
        eprintln!("hold-blob-lock: {e}");
        std::process::exit(1);
    }
}
