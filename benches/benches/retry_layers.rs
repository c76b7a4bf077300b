//! Requests sent for one logical operation under 100 % throttling, against a local moto
//! server whose answers to `EC2.DescribeVpcs` are replaced by EC2's real throttling error
//! (`multicloud_aws::testing::Throttle`): the old stacked configuration (SDK adaptive retries,
//! 5 attempts, under the engine's `RetryPolicy` of 10 attempts) against the current one (SDK
//! retries disabled under the same policy). Delays are shrunk to a millisecond on both layers
//! so it runs quickly; the counts do not depend on them, the times printed do. Nothing is
//! asserted. Run with `cargo bench -p multicloud-benches --bench retry_layers`.

use std::time::{Duration, Instant};

use aws_sdk_ec2::config::SharedInterceptor;
use aws_sdk_ec2::config::retry::RetryConfig;
use multicloud_aws::error::{Op, classify};
use multicloud_aws::testing::{MotoServer, Throttle};
use multicloud_aws::{ApiCalls, AwsClients, CallCounter};
use multicloud_core::retry::RetryPolicy;

const OPERATION: &str = "EC2.DescribeVpcs";

/// The engine's attempts, with delays of a millisecond at most.
fn engine_policy() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_micros(100),
        cap: Duration::from_millis(1),
        ..RetryPolicy::default()
    }
}

/// Runs one `DescribeVpcs` through the engine's policy; returns the requests sent (counted by
/// `calls`) and the time taken.
async fn one_logical_call(client: &aws_sdk_ec2::Client, calls: &ApiCalls) -> (u64, Duration) {
    calls.reset();
    let start = Instant::now();
    let out = engine_policy()
        .run(
            || async {
                client
                    .describe_vpcs()
                    .send()
                    .await
                    .map_err(|e| classify(e, Op::Read, "ec2 DescribeVpcs"))
            },
            |_, _, _| {},
        )
        .await;
    let elapsed = start.elapsed();
    if let Err(e) = out {
        eprintln!("  (failed as expected: {e})");
    }
    (
        calls.snapshot().get(OPERATION).copied().unwrap_or(0),
        elapsed,
    )
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let moto = MotoServer::start().await.expect("moto");
        let sdk = moto.sdk_config("us-east-1").await;
        let throttle = Throttle::operations([OPERATION]);
        let attempts = engine_policy().max_attempts;

        // Before: the clients as clients.rs built them (adaptive, 5 attempts), with the SDK's
        // backoff shrunk like the engine's.
        let old_calls = ApiCalls::default();
        let old = aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&sdk)
                .retry_config(
                    RetryConfig::adaptive()
                        .with_max_attempts(5)
                        .with_initial_backoff(Duration::from_millis(1))
                        .with_max_backoff(Duration::from_millis(1)),
                )
                .interceptor(CallCounter(old_calls.clone()))
                .interceptor(throttle.clone())
                .build(),
        );
        let (old_sent, old_time) = one_logical_call(&old, &old_calls).await;
        eprintln!(
            "retry layers: 100% throttled {OPERATION}, old (SDK adaptive 5 attempts x core {attempts}): \
             {old_sent} requests sent in {old_time:?}"
        );

        // After: the provider's clients (SDK retries disabled).
        let clients = AwsClients::with_interceptors(&sdk, &[SharedInterceptor::new(throttle.clone())]);
        let (new_sent, new_time) = one_logical_call(&clients.ec2, &clients.calls).await;
        eprintln!(
            "retry layers: 100% throttled {OPERATION}, new (SDK disabled x core {attempts}): \
             {new_sent} requests sent in {new_time:?}"
        );
        eprintln!(
            "retry layers: the throttle saw {} requests in all",
            throttle.sent(OPERATION)
        );
    });
}
