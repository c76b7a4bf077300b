//! One retry layer, against moto with injected throttling ([`Throttle`] answers chosen
//! operations with the service's real throttling error): the SDK clients never retry, so a
//! call run through a [`RetryPolicy`] of `N` attempts under 100 % throttling is sent exactly
//! `N` times — by the provider's clients, the sweeper and the S3 state store alike.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client as S3Client;
use multicloud_aws::AwsClients;
use multicloud_aws::S3StateStore;
use multicloud_aws::error::{Op, classify};
use multicloud_aws::sweeper::{AwsSweeper, SweepFilter, Sweeper};
use multicloud_aws::testing::{MotoServer, Throttle};
use multicloud_core::retry::RetryPolicy;
use multicloud_core::state::{StateError, StateKey, StateStore};
use multicloud_core::{ErrorKind, ProviderError};

const REGION: &str = "us-east-1";
const DESCRIBE_VPCS: &str = "EC2.DescribeVpcs";
const GET_OBJECT: &str = "S3.GetObject";

/// A policy of `max_attempts` with delays of a millisecond at most.
fn fast(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base: Duration::from_micros(100),
        cap: Duration::from_millis(1),
    }
}

async fn moto() -> Arc<MotoServer> {
    MotoServer::shared()
        .await
        .unwrap_or_else(|e| panic!("could not start moto: {e}"))
}

async fn throttled_clients(throttle: &Throttle) -> (Arc<MotoServer>, AwsClients) {
    let moto = moto().await;
    let sdk = moto.sdk_config(REGION).await;
    let clients = AwsClients::with_interceptors(&sdk, &[throttle.shared()]);
    (moto, clients)
}

/// One `DescribeVpcs`, classified as the provider classifies it.
async fn describe_vpcs(clients: &AwsClients) -> Result<(), ProviderError> {
    clients
        .ec2
        .describe_vpcs()
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify(e, Op::Read, "ec2 DescribeVpcs"))
}

#[tokio::test]
async fn a_throttled_call_is_sent_exactly_max_attempts_times() {
    let throttle = Throttle::operations([DESCRIBE_VPCS]);
    let (_moto, clients) = throttled_clients(&throttle).await;
    for max_attempts in [1, 4, 10] {
        clients.calls.reset();
        let sent_before = throttle.sent(DESCRIBE_VPCS);
        let mut retries = 0;
        let out = fast(max_attempts)
            .run(|| describe_vpcs(&clients), |_, _, _| retries += 1)
            .await;
        let error = out.expect_err("every attempt is throttled");
        assert_eq!(error.kind(), ErrorKind::Throttling, "{error}");
        assert_eq!(error.code(), Some("RequestLimitExceeded"));
        assert_eq!(
            clients.calls.snapshot().get(DESCRIBE_VPCS).copied(),
            Some(u64::from(max_attempts)),
            "API calls counted for {max_attempts} attempts"
        );
        assert_eq!(
            throttle.sent(DESCRIBE_VPCS) - sent_before,
            u64::from(max_attempts),
            "requests sent for {max_attempts} attempts"
        );
        assert_eq!(retries, max_attempts - 1);
    }
    // Other operations go through untouched, once each.
    clients.calls.reset();
    clients
        .ec2
        .describe_subnets()
        .send()
        .await
        .expect("DescribeSubnets is not throttled");
    assert_eq!(clients.calls.total(), 1);
}

#[tokio::test]
async fn a_call_throttled_every_other_time_succeeds_on_its_second_send() {
    let throttle = Throttle::operations([DESCRIBE_VPCS]).percent(50);
    let (_moto, clients) = throttled_clients(&throttle).await;
    let out = fast(4).run(|| describe_vpcs(&clients), |_, _, _| {}).await;
    assert!(out.is_ok(), "{:?}", out.err());
    assert_eq!(throttle.sent(DESCRIBE_VPCS), 2);
    assert_eq!(
        clients.calls.snapshot().get(DESCRIBE_VPCS).copied(),
        Some(2)
    );
}

#[tokio::test]
async fn the_sweeper_retries_a_throttled_listing_with_its_policy_only() {
    let throttle = Throttle::operations([DESCRIBE_VPCS]);
    let (_moto, clients) = throttled_clients(&throttle).await;
    let clients = Arc::new(clients);
    let error = AwsSweeper::new(&clients)
        .with_retries(fast(3))
        .find(&SweepFilter::all())
        .await
        .expect_err("listing the VPCs is throttled");
    assert_eq!(error.kind(), ErrorKind::Throttling, "{error}");
    assert_eq!(throttle.sent(DESCRIBE_VPCS), 3);
}

#[tokio::test]
async fn the_s3_state_store_retries_with_its_policy_only() {
    let moto = moto().await;
    let bucket = "retry-layer-state";
    let throttle = Throttle::operations([GET_OBJECT]);
    // The moto config asks for adaptive SDK retries: the store must turn them off.
    let config = moto
        .s3_config(REGION)
        .await
        .to_builder()
        .interceptor(throttle.clone())
        .build();
    let client = S3Client::from_conf(config);
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("bucket created");
    let key = StateKey::new("app", "prod");

    let store = S3StateStore::new(client.clone(), bucket, "p").with_retry(fast(3));
    match store.load(&key).await {
        Err(StateError::Backend { message, .. }) => {
            assert!(message.contains("SlowDown"), "{message}")
        }
        other => panic!("expected a throttling error, got {other:?}"),
    }
    assert_eq!(throttle.sent(GET_OBJECT), 3);

    // Throttled every other time: the first retry gets moto's answer (no state yet).
    let half = Throttle::operations([GET_OBJECT]).percent(50);
    let config = moto
        .s3_config(REGION)
        .await
        .to_builder()
        .interceptor(half.clone())
        .build();
    let store = S3StateStore::new(S3Client::from_conf(config), bucket, "p").with_retry(fast(3));
    assert!(store.load(&key).await.expect("loaded").is_none());
    assert_eq!(half.sent(GET_OBJECT), 2);
}
