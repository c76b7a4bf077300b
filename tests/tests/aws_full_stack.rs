//! The AWS provider end to end through the engine, against a real moto server.
//!
//! moto gaps, covered elsewhere: it never finishes deleting an ElastiCache replication group
//! and does not implement `DeleteCacheSubnetGroup`, so this full-stack run leaves the cache
//! out (the cache is created/adopted/deleted in `multicloud-aws`'s services tests, and the
//! cache-before-subnet-group teardown order is asserted by the engine tests on the in-memory
//! provider).

use std::sync::Arc;
use std::time::Duration;

use multicloud_aws::AwsProvider;
use multicloud_aws::identity::{decode_policy_document, irsa_trust_policy};
use multicloud_aws::sweeper::{SweepFilter, Sweeper};
use multicloud_aws::testing::MotoServer;
use multicloud_core::prelude::*;
use multicloud_core::spec::Rule;

fn spec(region: &str) -> StackSpec {
    builder(region).build().expect("valid spec")
}

fn builder(region: &str) -> multicloud_core::spec::StackSpecBuilder {
    StackSpec::builder("shop")
        .environment("pr-1234")
        .region(region)
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "t3.medium", 2, 5)))
        .database(Postgres::new("16").storage_gb(20))
        .registry(RegistrySpec::new("shop-api"))
        .secret(SecretSpec::generated("db-password", 32))
        .workload_identity(WorkloadIdentity::new("shop", "api").can_read_secret("db-password"))
        .ttl(Duration::from_secs(4 * 3600))
}

fn state(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(
        dir.join("shop.pr-1234")
            .join("aws.123456789012.us-east-1.json"),
    )
    .expect("state file");
    serde_json::from_str(&text).expect("state json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_stack_without_cache_on_moto_up_noop_adopt_down_and_sweep_finds_nothing() {
    let moto = MotoServer::start().await.expect("moto");
    let provider = Arc::new(AwsProvider::from_sdk_config(
        &moto.sdk_config("us-east-1").await,
    ));
    let calls = provider.api_calls().clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack =
        Stack::new(spec("us-east-1"), provider.clone()).state(LocalStateStore::new(dir.path()));

    // up: everything created, outputs complete and correct.
    let plan = stack.plan().await.expect("plan");
    assert_eq!(plan.summary().create, plan.actions.len(), "{plan}");
    calls.reset();
    let out = stack.up().await.expect("up");
    println!(
        "API calls for up: {} ({} mutating): {:?}",
        calls.total(),
        calls.mutating(),
        calls.snapshot()
    );
    let cluster = out.cluster.as_ref().expect("cluster");
    assert_eq!(cluster.name, "shop-pr-1234");
    assert!(
        cluster.endpoint.starts_with("https://"),
        "{}",
        cluster.endpoint
    );
    assert!(!cluster.ca_data.is_empty());
    let issuer = cluster.oidc_issuer.clone().expect("oidc issuer");
    let db = out.database.as_ref().expect("database");
    assert_eq!(
        (db.port, db.database.as_str(), db.username.as_str()),
        (5432, "app", "app_admin")
    );
    assert!(
        db.password_secret
            .starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/pr-1234/"),
        "{}",
        db.password_secret
    );
    assert!(out.cache.is_none());
    assert_eq!(
        out.registries["shop-api"].url,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop-pr-1234/shop-api"
    );
    assert!(out.secrets["db-password"].id.starts_with(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/pr-1234/db-password"
    ));
    let identity = &out.identities["shop-api"];
    assert!(
        identity.id.starts_with("arn:aws:iam::123456789012:role/"),
        "{}",
        identity.id
    );
    assert_eq!(
        identity.identity, identity.id,
        "annotated with the role ARN"
    );
    assert_eq!(
        identity.subject.as_deref(),
        Some("system:serviceaccount:shop:api")
    );

    // The IRSA trust policy names exactly this service account and audience.
    let st = state(dir.path());
    let oidc_arn = st["resources"]["oidc_provider/main"]["outputs"]["id"]
        .as_str()
        .expect("oidc arn")
        .to_string();
    let role_name = identity.id.rsplit('/').next().expect("role name");
    let iam = aws_sdk_iam::Client::new(&moto.sdk_config("us-east-1").await);
    let role = iam
        .get_role()
        .role_name(role_name)
        .send()
        .await
        .expect("get role");
    let doc = role
        .role()
        .and_then(|r| r.assume_role_policy_document())
        .expect("trust policy");
    assert_eq!(
        decode_policy_document(doc).expect("decode"),
        irsa_trust_policy(&oidc_arn, &issuer, "shop", "api")
    );
    let text = serde_json::to_string(&st).expect("json");
    assert!(!text.contains("\"password\""), "no password field in state");

    // Re-up: a pure no-op, reads only.
    calls.reset();
    let replan = stack.plan().await.expect("re-plan");
    println!(
        "API calls for a no-op plan: {} ({} mutating)",
        calls.total(),
        calls.mutating()
    );
    assert!(replan.is_noop(), "{replan}");
    assert_eq!(calls.mutating(), 0, "{:?}", calls.snapshot());
    let serial = st["serial"].clone();
    assert_eq!(stack.up().await.expect("re-up"), out);
    assert_eq!(
        state(dir.path())["serial"],
        serial,
        "a no-op up writes no state"
    );

    // State file deleted: everything is adopted, nothing duplicated.
    std::fs::remove_file(
        dir.path()
            .join("shop.pr-1234")
            .join("aws.123456789012.us-east-1.json"),
    )
    .expect("delete state");
    let adopt = stack.plan().await.expect("plan after state loss");
    assert_eq!(adopt.summary().adopt, adopt.actions.len(), "{adopt}");
    calls.reset();
    assert_eq!(stack.up().await.expect("adopting up"), out);
    let created: u64 = calls
        .snapshot()
        .iter()
        .filter(|(k, _)| k.contains(".Create"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        created,
        0,
        "adoption creates nothing: {:?}",
        calls.snapshot()
    );
    let ec2 = &provider.clients().ec2;
    let vpcs = ec2
        .describe_vpcs()
        .filters(aws_sdk_ec2_filter("tag:multicloud:stack", "shop"))
        .send()
        .await
        .expect("vpcs");
    assert_eq!(vpcs.vpcs().len(), 1, "no duplicate VPC");
    // The private subnets' way out, adopted too: one NAT gateway per zone, no more.
    let nats = ec2
        .describe_nat_gateways()
        .filter(aws_sdk_ec2_filter(
            "vpc-id",
            vpcs.vpcs()[0].vpc_id().expect("id"),
        ))
        .send()
        .await
        .expect("nat gateways");
    let live = nats
        .nat_gateways()
        .iter()
        .filter(|g| g.state().map(|s| s.as_str()) == Some("available"))
        .count();
    assert_eq!(live, 2, "{:?}", nats.nat_gateways());
    assert!(stack.plan().await.expect("plan").is_noop());

    // Down, then the sweeper finds nothing of this stack (NAT gateways and addresses
    // included).
    stack.down().await.expect("down");
    assert!(
        !dir.path()
            .join("shop.pr-1234")
            .join("aws.123456789012.us-east-1.json")
            .exists()
    );
    let left = provider
        .sweeper()
        .find(&SweepFilter::stack("shop", "pr-1234"))
        .await
        .expect("sweep find");
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn aws_sdk_ec2_filter(name: &str, value: &str) -> multicloud_aws_ec2::Filter {
    multicloud_aws_ec2::Filter::builder()
        .name(name)
        .values(value)
        .build()
}

use aws_sdk_ec2::types as multicloud_aws_ec2;

#[tokio::test]
async fn bad_input_gives_typed_errors_before_any_request() {
    let moto = MotoServer::shared().await.expect("moto");
    let provider = Arc::new(AwsProvider::from_sdk_config(
        &moto.sdk_config("us-east-1").await,
    ));
    let mut bad = builder("US-East-1").build_unchecked();
    bad.network.as_mut().expect("network").private_subnets[0] = "10.1.0.0/20".into();
    bad.cluster.as_mut().expect("cluster").node_pools[0] =
        NodePool::new("general", "t3.medium", 0, 0);
    bad.registries[0].name = "Shop-API".into();
    bad.workload_identities.clear();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::new(bad, provider.clone()).state(LocalStateStore::new(dir.path()));
    let err = stack.plan().await.expect_err("invalid");
    let Error::Spec(errors) = &err else {
        panic!("expected a spec error, got {err}")
    };
    let at = |path: &str| {
        errors
            .at(path)
            .unwrap_or_else(|| panic!("no error at {path}: {errors}"))
    };
    assert_eq!(at("spec.region").rule, Rule::Format);
    assert_eq!(
        at("spec.network.private_subnets[0]").rule,
        Rule::CidrOutside
    );
    assert_eq!(at("spec.cluster.node_pools[0].max").rule, Rule::Range);
    assert_eq!(at("spec.registries[0].name").rule, Rule::Name);
    assert_eq!(provider.api_calls().total(), 0, "no request was made");
    assert!(matches!(stack.up().await, Err(Error::Spec(_))));
    // The cloud-independent rules already fail at build time.
    let built = builder("US-East-1")
        .build()
        .expect_err("build rejects the region");
    assert!(built.at("spec.region").is_some());
    assert_eq!(
        provider.api_calls().total(),
        0,
        "up fails before any request too"
    );
}
