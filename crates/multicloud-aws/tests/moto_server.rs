//! Integration tests of `multicloud_aws::testing::MotoServer` against a real moto server.
//!
//! These never skip: when moto is missing it is installed with `scripts/install-moto.sh`,
//! and if that is impossible the tests fail with the error saying why.

use std::sync::Arc;

use aws_sdk_ec2::types::Filter;
use multicloud_aws::testing::{MOTO_ACCOUNT_ID, MotoServer};

const REGION: &str = "us-east-1";

async fn start() -> MotoServer {
    started(MotoServer::start().await)
}

/// The server of a start, or a panic saying why moto could not start.
fn started<T>(server: Result<T, impl std::fmt::Display>) -> T {
    server.unwrap_or_else(|e| panic!("could not start moto: {e}"))
}

/// Creates a VPC of range `cidr` and returns its id.
async fn create_vpc(ec2: &aws_sdk_ec2::Client, cidr: &str) -> String {
    let created = ec2
        .create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .expect("CreateVpc succeeds");
    created
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("CreateVpc returns the VPC id")
        .to_owned()
}

/// The account STS says the caller of `moto` is in.
async fn caller_account(moto: &MotoServer) -> Option<String> {
    let sts = aws_sdk_sts::Client::new(&moto.sdk_config(REGION).await);
    let me = sts
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity succeeds");
    me.account().map(str::to_owned)
}

async fn vpc_ids(ec2: &aws_sdk_ec2::Client) -> Vec<(String, bool)> {
    let vpcs = ec2
        .describe_vpcs()
        .send()
        .await
        .expect("DescribeVpcs succeeds");
    vpcs.vpcs()
        .iter()
        .map(|v| {
            (
                v.vpc_id().unwrap_or_default().to_owned(),
                v.is_default().unwrap_or(false),
            )
        })
        .collect()
}

#[tokio::test]
async fn sts_get_caller_identity_answers_with_the_moto_account() {
    let moto = start().await;
    assert_eq!(moto.endpoint(), format!("http://127.0.0.1:{}", moto.port()));

    let account = caller_account(&moto).await;
    assert_eq!(account.as_deref(), Some(MOTO_ACCOUNT_ID));
    assert_eq!(account.as_deref(), Some("123456789012"));
}

#[tokio::test]
async fn reset_forgets_created_resources() {
    let moto = start().await;
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config(REGION).await);

    let vpc_id = create_vpc(&ec2, "10.42.0.0/16").await;
    let before = vpc_ids(&ec2).await;
    assert!(
        before.iter().any(|(id, _)| *id == vpc_id),
        "{vpc_id} listed: {before:?}"
    );

    moto.reset().await.expect("reset succeeds");

    let after = vpc_ids(&ec2).await;
    assert!(
        !after.iter().any(|(id, _)| *id == vpc_id),
        "{vpc_id} gone after reset: {after:?}"
    );
    assert!(
        after.iter().all(|(_, is_default)| *is_default),
        "only default VPCs remain: {after:?}"
    );
    let by_id = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
        .send()
        .await
        .expect("DescribeVpcs with a filter succeeds");
    assert!(by_id.vpcs().is_empty(), "{by_id:?}");
}

#[tokio::test]
async fn concurrently_started_servers_get_their_own_ports() {
    let (a, b) = tokio::join!(MotoServer::start(), MotoServer::start());
    let (a, b) = (started(a), started(b));
    assert_ne!(a.port(), b.port());
    assert_ne!(a.pid(), b.pid());

    // Separate processes hold separate state.
    let ec2_a = aws_sdk_ec2::Client::new(&a.sdk_config(REGION).await);
    let ec2_b = aws_sdk_ec2::Client::new(&b.sdk_config(REGION).await);
    let vpc_id = create_vpc(&ec2_a, "10.43.0.0/16").await;
    assert!(vpc_ids(&ec2_a).await.iter().any(|(id, _)| *id == vpc_id));
    assert!(!vpc_ids(&ec2_b).await.iter().any(|(id, _)| *id == vpc_id));
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let moto = start().await;
    let port = moto.port();
    let log_dir = moto
        .log_path()
        .parent()
        .expect("log lives in a work dir")
        .to_owned();
    drop(moto);

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "moto on port {port} still answers after drop"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!log_dir.exists(), "{} removed", log_dir.display());
}

#[tokio::test]
async fn s3_config_uses_path_style_addressing() {
    let moto = start().await;
    let s3 = aws_sdk_s3::Client::from_conf(moto.s3_config(REGION).await);
    s3.create_bucket()
        .bucket("multicloud-moto-test")
        .send()
        .await
        .expect("CreateBucket succeeds");
    s3.put_object()
        .bucket("multicloud-moto-test")
        .key("hello.txt")
        .body(b"hello moto".to_vec().into())
        .send()
        .await
        .expect("PutObject succeeds");
    let object = s3
        .get_object()
        .bucket("multicloud-moto-test")
        .key("hello.txt")
        .send()
        .await
        .expect("GetObject succeeds");
    let body = object.body.collect().await.expect("body is read");
    assert_eq!(body.into_bytes().as_ref(), b"hello moto");
}

#[tokio::test]
async fn iam_managed_policies_are_loaded() {
    let moto = start().await;
    let iam = aws_sdk_iam::Client::new(&moto.sdk_config(REGION).await);
    let policy = iam
        .get_policy()
        .policy_arn("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
        .send()
        .await
        .expect("the AWS managed AmazonEKSClusterPolicy exists");
    assert_eq!(
        policy.policy().and_then(|p| p.policy_name()),
        Some("AmazonEKSClusterPolicy")
    );
}

#[tokio::test]
async fn shared_returns_one_server_per_process() {
    let (a, b) = tokio::join!(MotoServer::shared(), MotoServer::shared());
    let (a, b) = (started(a), started(b));
    assert!(Arc::ptr_eq(&a, &b));
    let again = started(MotoServer::shared().await);
    assert!(Arc::ptr_eq(&a, &again));

    assert_eq!(caller_account(&a).await.as_deref(), Some(MOTO_ACCOUNT_ID));
}
