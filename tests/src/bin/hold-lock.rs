//! `hold-lock`: holds the state lock in a run of `Stack::up` that never finishes
//! ([`lock_contract::hold_until_killed`]), for the lease tests to SIGKILL.
//!
//! ```text
//! hold-lock local DIR LEASE_MS
//! hold-lock s3 ENDPOINT BUCKET LEASE_MS
//! ```
//! Prints `running` once the run holds the lock (after its plan), then runs until killed.

use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use multicloud_aws::S3StateStore;
use multicloud_core::prelude::*;
use multicloud_core::testing::lock_contract;

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
    let (store, lease): (Arc<dyn StateStore>, &str) = match args.as_slice() {
        [kind, dir, lease] if kind == "local" => (Arc::new(LocalStateStore::new(dir)), lease),
        [kind, endpoint, bucket, lease] if kind == "s3" => {
            (Arc::new(s3_store(endpoint, bucket)), lease)
        }
        _ => usage(),
    };
    let lease = Duration::from_millis(lease.parse().unwrap_or_else(|_| usage()));
    if let Err(e) = lock_contract::hold_until_killed(store, lease).await {
        eprintln!("hold-lock: {e}");
        std::process::exit(1);
    }
}
