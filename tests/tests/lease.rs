//! A run killed with SIGKILL while holding the state lock never blocks the next one: on the
//! local store the next run takes the lock over at once (its holder's process is gone); on
//! S3 (moto) as soon as the lease runs out. The killed process is the `hold-lock` binary:
//! a real `Stack::up` holding and renewing the lock.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use multicloud_aws::S3StateStore;
use multicloud_aws::testing::MotoServer;
use multicloud_core::events::Event;
use multicloud_core::prelude::*;
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud, memory_stack};

/// Starts `hold-lock` with `args` and waits until its run holds the lock.
fn hold_lock(args: &[&str]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hold-lock"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("hold-lock starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read hold-lock's output");
    assert_eq!(line.trim(), "running", "hold-lock holds the lock");
    child
}

/// SIGKILL: no destructor, no release.
fn kill_9(mut child: Child) {
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

/// `up` of the example stack on a fast memory cloud against `store`; the takeover event's
/// previous holder, if any.
async fn next_run(store: impl StateStore + 'static) -> Option<String> {
    let stack = memory_stack(
        multicloud_core::testing::example_spec(),
        InMemoryProvider::new(MemoryCloud::new(Latencies::zero())),
    )
    .state(store);
    let mut events = stack.event_bus().subscribe();
    stack.up().await.expect("the next run proceeds");
    let mut previous = None;
    while let Ok(e) = events.try_recv() {
        if let Event::LockTakenOver { previous: p, .. } = e {
            previous = Some(p);
        }
    }
    stack.down().await.expect("down");
    previous
}

#[tokio::test]
async fn local_a_sigkilled_holder_is_taken_over_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_str().expect("utf-8 path");
    // A long lease: only the dead pid can explain an immediate takeover.
    let child = hold_lock(&["local", path, "600000"]);
    let pid = child.id();
    kill_9(child);
    let start = Instant::now();
    let previous = next_run(LocalStateStore::new(dir.path()))
        .await
        .expect("the dead run's lock was taken over");
    assert!(previous.contains(&format!("pid {pid} ")), "{previous}");
    assert!(start.elapsed() < Duration::from_secs(30), "no lease wait");
}

#[tokio::test]
async fn s3_a_sigkilled_holder_is_taken_over_after_its_lease() {
    let moto = MotoServer::shared().await.expect("moto starts");
    let client = aws_sdk_s3::Client::from_conf(moto.s3_config("us-east-1").await);
    client
        .create_bucket()
        .bucket("lease-sigkill")
        .send()
        .await
        .expect("bucket");
    let store = || S3StateStore::new(client.clone(), "lease-sigkill", "lease");
    let endpoint = moto.endpoint();
    let child = hold_lock(&["s3", &endpoint, "lease-sigkill", "2000"]);
    let pid = child.id();
    kill_9(child);
    let killed = Instant::now();
    // Until the lease runs out the lock is held by the dead run...
    let key = multicloud_core::testing::example_key();
    match store()
        .lock(
            &key,
            multicloud_core::state::LockInfo::for_current_process("up"),
        )
        .await
    {
        Err(multicloud_core::state::StateError::Locked { holder, .. }) => {
            assert_eq!(holder.pid, pid);
        }
        other => panic!("expected Locked during the lease, got {other:?}"),
    }
    // ...then the next run takes it over.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let previous = next_run(store()).await.expect("taken over");
    assert!(previous.contains(&format!("pid {pid} ")), "{previous}");
    assert!(killed.elapsed() >= Duration::from_secs(2));
}
