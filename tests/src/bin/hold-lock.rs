//! `hold-lock`: runs `Stack::up` of the example stack on an in-memory cloud so slow it never
//! finishes, holding (and renewing) the state lock, for the lease tests to SIGKILL.
//!
//! ```text
//! hold-lock local DIR LEASE_MS
//! hold-lock s3 ENDPOINT BUCKET LEASE_MS
//! ```
//! Prints `running` once the run holds the lock (after its plan), then runs until killed.

use std::time::Duration;

use aws_credential_types::Credentials;
use multicloud_aws::S3StateStore;
use multicloud_core::events::Event;
use multicloud_core::prelude::*;
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud, memory_stack};

fn usage() -> ! {
    eprintln!("usage: hold-lock local DIR LEASE_MS | hold-lock s3 ENDPOINT BUCKET LEASE_MS");
    std::process::exit(2)
}

fn s3_store(endpoint: &str, bucket: &str) -> S3StateStore {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            multicloud_aws::testing::TEST_ACCESS_KEY_ID,
            multicloud_aws::testing::TEST_SECRET_ACCESS_KEY,
            None,
            None,
            "moto",
        ))
        .force_path_style(true)
        .build();
    S3StateStore::new(aws_sdk_s3::Client::from_conf(config), bucket, "lease")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (store, lease): (std::sync::Arc<dyn StateStore>, &str) = match args.as_slice() {
        [kind, dir, lease] if kind == "local" => {
            (std::sync::Arc::new(LocalStateStore::new(dir)), lease)
        }
        [kind, endpoint, bucket, lease] if kind == "s3" => {
            (std::sync::Arc::new(s3_store(endpoint, bucket)), lease)
        }
        _ => usage(),
    };
    let lease = Duration::from_millis(lease.parse().unwrap_or_else(|_| usage()));
    // One latency unit is an hour: the run holds the lock until it is killed.
    let cloud = MemoryCloud::new(Latencies::realistic(Duration::from_secs(3600)));
    let stack = memory_stack(
        multicloud_core::testing::example_spec(),
        InMemoryProvider::new(cloud),
    )
    .state_arc(store)
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
        eprintln!("hold-lock: {e}");
        std::process::exit(1);
    }
}
