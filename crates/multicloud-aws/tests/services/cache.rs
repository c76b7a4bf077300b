//! ElastiCache: cache subnet group and Redis replication group.

use std::time::Duration;

use aws_sdk_elasticache::types::ReplicationGroup;
use aws_sdk_elasticache::types::{AutomaticFailoverStatus, MultiAzStatus};
use multicloud_aws::expand::cache_auth_token_id;
use multicloud_aws::kinds;
use multicloud_aws::testing::MotoServer;
use multicloud_core::StackSpec;
use multicloud_core::provider::Readiness;
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_core::spec::{Network, Redis};
use serde_json::Value;

use crate::{
    TestResult, TestStack, assert_foreign_refused, assert_ours_and_adopted, create_from_absent,
    kind_ops, out_str, ready_outputs,
};

/// The ARN of a cache subnet group on moto, but for its name.
const GROUP_ARN: &str = "arn:aws:elasticache:us-east-1:123456789012:subnetgroup:";

/// The replication group `name` as ElastiCache describes it.
async fn live_group(
    t: &TestStack,
    name: &str,
) -> Result<ReplicationGroup, Box<dyn std::error::Error>> {
    let out = t
        .clients()
        .elasticache
        .describe_replication_groups()
        .replication_group_id(name)
        .send()
        .await?;
    Ok(out.replication_groups()[0].clone())
}

fn spec(name: &str, replicas: u32) -> Result<StackSpec, Box<dyn std::error::Error>> {
    Ok(StackSpec::builder(name)
        .network(Network::default())
        .cache(Redis::new("7.1").replicas(replicas))
        .build()?)
}

#[tokio::test]
async fn cache_lifecycle_then_delete_and_gone() -> TestResult {
    let mut t = TestStack::new(&spec("cache1", 0)?).await?;
    t.network(41).await?;
    let provider = t.provider.clone();
    let gops = kind_ops(&provider, kinds::CACHE_SUBNET_GROUP)?;
    let ops = kind_ops(&provider, ResourceKind::CACHE)?;

    t.create_subnet_group(gops, "cache_subnet_group/main", GROUP_ARN)
        .await?;

    // Its AUTH token, a secret node created before it as the engine does.
    t.create_dep(&cache_auth_token_id()).await?;
    let cache = t.resource("cache/main")?;
    let ctx = t.ctx(&cache);
    let (_, arn) = create_from_absent(ops, &ctx).await?;
    assert_eq!(
        arn,
        format!(
            "arn:aws:elasticache:us-east-1:123456789012:replicationgroup:{}",
            cache.name
        )
    );
    let ready = ready_outputs(ops.ready(&ctx).await?)?;
    assert!(out_str(&ready, "host")?.contains(&cache.name), "{ready:?}");
    assert_eq!(ready.get("port").and_then(Value::as_u64), Some(6379));
    assert_eq!(out_str(&ready, "id")?, arn);

    let live = live_group(&t, &cache.name).await?;
    assert_eq!(live.member_clusters().len(), 1);
    assert_eq!(
        live.auth_token_enabled(),
        Some(true),
        "created with its AUTH token"
    );
    assert_eq!(live.transit_encryption_enabled(), Some(true));
    assert_eq!(
        live.automatic_failover(),
        Some(&AutomaticFailoverStatus::Disabled)
    );
    assert_eq!(live.at_rest_encryption_enabled(), Some(true));
    assert_eq!(live.transit_encryption_enabled(), Some(true));
    assert_eq!(live.cache_node_type(), Some("cache.t3.micro"));

    assert_ours_and_adopted(ops, &ctx, &arn).await?;
    let all = t
        .clients()
        .elasticache
        .describe_replication_groups()
        .send()
        .await?;
    let same = all
        .replication_groups()
        .iter()
        .filter(|g| g.replication_group_id() == Some(&cache.name));
    assert_eq!(same.count(), 1);

    // Deleted, the group is gone (moto through multicloud_testing::MOTO_SERVER, as
    // ElastiCache after a few minutes); deleting it again succeeds; then its subnet group goes.
    ops.delete(&ctx).await?;
    assert_eq!(ops.gone(&ctx).await?, Readiness::ready());
    ops.delete(&ctx).await?;
    let group = t.resource("cache_subnet_group/main")?;
    gops.delete(&t.ctx(&group)).await?;
    assert_eq!(gops.gone(&t.ctx(&group)).await?, Readiness::ready());
    Ok(())
}

#[tokio::test]
async fn a_cache_with_replicas_gets_failover_and_multi_az_moto_ignores_num_cache_clusters()
-> TestResult {
    let mut t = TestStack::new(&spec("cache2", 2)?).await?;
    t.network(42).await?;
    let provider = t.provider.clone();
    let ops = kind_ops(&provider, ResourceKind::CACHE)?;
    t.create_dep(&ResourceId::from("cache_subnet_group/main"))
        .await?;
    t.create_dep(&cache_auth_token_id()).await?;
    let cache = t.resource("cache/main")?;
    ops.create(&t.ctx(&cache)).await?;
    let live = live_group(&t, &cache.name).await?;
    assert_eq!(
        live.automatic_failover(),
        Some(&AutomaticFailoverStatus::Enabled)
    );
    assert_eq!(live.multi_az(), Some(&MultiAzStatus::Enabled));
    // moto gap: with cluster mode disabled it sizes the group from ReplicasPerNodeGroup and
    // ignores NumCacheClusters (3 here), so it reports the primary only. Real ElastiCache
    // reports 3 member clusters.
    assert_eq!(
        live.member_clusters().len(),
        1,
        "moto now honours NumCacheClusters: expect 3"
    );
    Ok(())
}

#[tokio::test]
async fn foreign_cache_and_subnet_group_are_refused() -> TestResult {
    let mut t = TestStack::new(&spec("cache3", 0)?).await?;
    t.network(43).await?;
    let provider = t.provider.clone();
    let gops = kind_ops(&provider, kinds::CACHE_SUBNET_GROUP)?;
    let ops = kind_ops(&provider, ResourceKind::CACHE)?;
    let group = t.resource("cache_subnet_group/main")?;
    let cache = t.resource("cache/main")?;
    let subnet = t.deps[&ResourceId::from("subnet/private-0")]
        .get_str("id")
        .unwrap_or_default()
        .to_string();
    let ec = &t.clients().elasticache;
    ec.create_cache_subnet_group()
        .cache_subnet_group_name(&group.name)
        .cache_subnet_group_description("someone else's")
        .subnet_ids(subnet)
        .send()
        .await?;
    ec.create_replication_group()
        .replication_group_id(&cache.name)
        .replication_group_description("someone else's")
        .engine("redis")
        .num_cache_clusters(1)
        .send()
        .await?;
    assert_foreign_refused(gops, &t.ctx(&group)).await?;
    t.set_dep(
        "cache_subnet_group/main",
        crate::outputs(&[("name", &group.name)]),
    );
    assert_foreign_refused(ops, &t.ctx(&cache)).await?;
    Ok(())
}

#[tokio::test]
async fn a_subnet_group_in_use_is_kept_until_its_cache_is_gone() -> TestResult {
    // A paced server: the group is `creating`, then `available`; deleted, it stays
    // `deleting` for a while, and its subnet group cannot go before it
    // (`CacheSubnetGroupInUse`, retryable, as on ElastiCache).
    let moto = std::sync::Arc::new(MotoServer::start_paced(Duration::from_millis(150)).await?);
    let mut t = TestStack::new_on(&spec("cache4", 0)?, moto).await?;
    t.network(44).await?;
    let provider = t.provider.clone();
    let gops = kind_ops(&provider, kinds::CACHE_SUBNET_GROUP)?;
    let ops = kind_ops(&provider, ResourceKind::CACHE)?;
    let group = t
        .create_subnet_group(gops, "cache_subnet_group/main", GROUP_ARN)
        .await?;
    t.create_dep(&cache_auth_token_id()).await?;
    let cache = t.resource("cache/main")?;
    let ctx = t.ctx(&cache);
    ops.create(&ctx).await?;
    assert_eq!(pending(ops.ready(&ctx).await?), Some("creating".into()));
    until(|| async { Ok(pending(ops.ready(&ctx).await?).is_none()) }).await?;

    ops.delete(&ctx).await?;
    assert_eq!(pending(ops.gone(&ctx).await?), Some("deleting".into()));
    let group_ctx = t.ctx(&group);
    let in_use = gops
        .delete(&group_ctx)
        .await
        .err()
        .ok_or("a subnet group in use was deleted")?;
    assert_eq!(in_use.code(), Some("CacheSubnetGroupInUse"), "{in_use}");
    assert!(in_use.retryable(), "{in_use}");
    until(|| async { Ok(ops.gone(&ctx).await? == Readiness::ready()) }).await?;
    gops.delete(&group_ctx).await?;
    assert_eq!(gops.gone(&group_ctx).await?, Readiness::ready());
    // Deleting what is gone succeeds.
    gops.delete(&group_ctx).await?;
    Ok(())
}

/// The status of a pending readiness, `None` when ready.
fn pending(r: Readiness) -> Option<String> {
    match r {
        Readiness::Pending { status, .. } => Some(status),
        _ => None,
    }
}

/// Checks `f` every 50 ms until it holds (up to 5 s).
async fn until<F, Fut>(f: F) -> TestResult
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, Box<dyn std::error::Error>>>,
{
    for _ in 0..100 {
        if f().await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("not within 5 s".into())
}
