//! The sweeper against moto: it finds exactly the resources of a stack (or the expired ones)
//! across EC2, EKS, RDS, ElastiCache, ECR, Secrets Manager and IAM, deletes nothing on a dry
//! run, and deletes them all (and nothing else) in dependency order.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration as Days, Utc};
use multicloud_aws::AwsProvider;
use multicloud_aws::expand::{expand, ids};
use multicloud_aws::kinds;
use multicloud_aws::sweeper::{AwsSweeper, SweepFilter, Sweeper, SweptResource};
use multicloud_aws::testing::MotoServer;
use multicloud_core::provider::{CloudProvider, OpContext, Outputs, StackContext};
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_core::spec::{Cluster, Network, NodePool, Postgres, Redis, StackSpec};
use multicloud_core::tags::Ownership;

const REGION: &str = "us-east-1";

struct World {
    /// Kept alive for the test.
    _moto: MotoServer,
    provider: AwsProvider,
    sdk: aws_config::SdkConfig,
}

fn ownership(stack: &str, env: &str, expired: bool) -> Ownership {
    let now = Utc::now();
    Ownership {
        stack: stack.into(),
        environment: env.into(),
        created_at: now - Days::days(2),
        expires_at: expired.then(|| now - Days::days(1)),
    }
}

/// Creates the network of `stack`/`env` (and its cluster and node roles when `roles`)
/// through the provider; returns the outputs by resource id.
async fn provision(
    w: &World,
    stack: &str,
    env: &str,
    expired: bool,
    roles: bool,
) -> BTreeMap<ResourceId, Outputs> {
    let mut builder = StackSpec::builder(stack)
        .environment(env)
        .region(REGION)
        .network(Network::default());
    if roles {
        builder = builder
            .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "t3.medium", 1, 2)))
            .database(Postgres::new("16"))
            .cache(Redis::new("7.1"));
    }
    let spec = builder.build().expect("valid spec");
    let owner = ownership(stack, env, expired);
    let mut graph = expand(&spec).expect("expands");
    for r in graph.resources_mut() {
        r.tags = owner.tags().into();
    }
    let ctx_stack = StackContext {
        stack: stack.into(),
        environment: env.into(),
        region: REGION.into(),
        ownership: owner,
    };
    let mut outputs = BTreeMap::new();
    for i in graph.topological_order() {
        let r = &graph.resources()[i];
        let wanted = matches!(
            r.kind,
            kinds::VPC
                | kinds::SUBNET
                | kinds::INTERNET_GATEWAY
                | kinds::ELASTIC_IP
                | kinds::NAT_GATEWAY
                | kinds::ROUTE_TABLE
                | kinds::SECURITY_GROUP
                | kinds::CLUSTER_ROLE
                | kinds::NODE_ROLE
        );
        if !wanted {
            continue;
        }
        let deps: BTreeMap<ResourceId, Outputs> = r
            .depends_on
            .iter()
            .filter_map(|d| outputs.get(d).map(|o: &Outputs| (d.clone(), o.clone())))
            .collect();
        let ctx = OpContext {
            resource: r,
            stack: &ctx_stack,
            deps: &deps,
            recorded: None,
            run: None,
        };
        let ops = w
            .provider
            .ops(r.kind)
            .unwrap_or_else(|| panic!("{} is an AWS kind", r.kind));
        let out = ops
            .create(&ctx)
            .await
            .unwrap_or_else(|e| panic!("create {}: {e}", r.id));
        outputs.insert(r.id.clone(), out);
    }
    outputs
}

fn id_of(outputs: &BTreeMap<ResourceId, Outputs>, id: &ResourceId, key: &str) -> String {
    outputs[id]
        .get_str(key)
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{id}.{key}"))
}

/// `alpha/dev` (full: network, roles, cluster + node group, OIDC provider, database, cache
/// when `with_cache`, repository with an image, secret), `beta/dev` (VPC network and a
/// secret), `gamma/pr-1` (expired: network and a secret) and an untagged VPC, secret and role.
async fn world(with_cache: bool) -> World {
    let moto = MotoServer::start()
        .await
        .unwrap_or_else(|e| panic!("could not start moto: {e}"));
    let sdk = moto.sdk_config(REGION).await;
    let w = World {
        provider: AwsProvider::from_sdk_config(&sdk),
        sdk,
        _moto: moto,
    };
    let alpha = provision(&w, "alpha", "dev", false, true).await;
    provision(&w, "beta", "dev", false, false).await;
    provision(&w, "gamma", "pr-1", true, false).await;

    let tags = ownership("alpha", "dev", false).tags();
    let private: Vec<String> = [0, 1]
        .iter()
        .map(|i| id_of(&alpha, &ids::subnet(false, *i), "id"))
        .collect();
    let eks = aws_sdk_eks::Client::new(&w.sdk);
    let vpc_config = aws_sdk_eks::types::VpcConfigRequest::builder()
        .set_subnet_ids(Some(private.clone()))
        .build();
    let mut req = eks
        .create_cluster()
        .name("alpha-dev")
        .role_arn(id_of(&alpha, &ids::cluster_role(), "id"))
        .resources_vpc_config(vpc_config);
    for (k, v) in &tags {
        req = req.tags(k, v);
    }
    req.send().await.expect("eks cluster");
    let mut req = eks
        .create_nodegroup()
        .cluster_name("alpha-dev")
        .nodegroup_name("general")
        .node_role(id_of(&alpha, &ids::node_role(), "id"))
        .set_subnets(Some(private.clone()));
    for (k, v) in &tags {
        req = req.tags(k, v);
    }
    req.send().await.expect("node group");

    let iam = aws_sdk_iam::Client::new(&w.sdk);
    let iam_tags: Vec<aws_sdk_iam::types::Tag> = tags
        .iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("tag")
        })
        .collect();
    iam.create_open_id_connect_provider()
        .url("https://oidc.eks.us-east-1.amazonaws.com/id/ALPHA")
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list("9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
        .set_tags(Some(iam_tags))
        .send()
        .await
        .expect("oidc provider");

    let rds = aws_sdk_rds::Client::new(&w.sdk);
    let rds_tags: Vec<aws_sdk_rds::types::Tag> = tags
        .iter()
        .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build())
        .collect();
    rds.create_db_subnet_group()
        .db_subnet_group_name("alpha-dev-db")
        .db_subnet_group_description("alpha")
        .set_subnet_ids(Some(private.clone()))
        .set_tags(Some(rds_tags.clone()))
        .send()
        .await
        .expect("db subnet group");
    rds.create_db_instance()
        .db_instance_identifier("alpha-dev-pg")
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("app_admin")
        .master_user_password("not-a-real-password-1")
        .db_subnet_group_name("alpha-dev-db")
        .set_tags(Some(rds_tags))
        .send()
        .await
        .expect("db instance");

    if with_cache {
        let cache_tags: Vec<aws_sdk_elasticache::types::Tag> = tags
            .iter()
            .map(|(k, v)| {
                aws_sdk_elasticache::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
            })
            .collect();
        aws_sdk_elasticache::Client::new(&w.sdk)
            .create_replication_group()
            .replication_group_id("alpha-dev-redis")
            .replication_group_description("alpha")
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .num_cache_clusters(1)
            .set_tags(Some(cache_tags))
            .send()
            .await
            .expect("replication group");
    }

    let ecr = aws_sdk_ecr::Client::new(&w.sdk);
    let ecr_tags: Vec<aws_sdk_ecr::types::Tag> = tags
        .iter()
        .map(|(k, v)| {
            aws_sdk_ecr::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("tag")
        })
        .collect();
    ecr.create_repository()
        .repository_name("alpha-dev/web")
        .set_tags(Some(ecr_tags))
        .send()
        .await
        .expect("repository");
    let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},"layers":[]}"#;
    ecr.put_image()
        .repository_name("alpha-dev/web")
        .image_manifest(manifest)
        .image_tag("v1")
        .send()
        .await
        .expect("image");

    for (stack, env, expired) in [
        ("alpha", "dev", false),
        ("beta", "dev", false),
        ("gamma", "pr-1", true),
    ] {
        secret(
            &w,
            &format!("{stack}/{env}/api-key"),
            Some(ownership(stack, env, expired).tags()),
        )
        .await;
    }
    secret(&w, "someone-else/api-key", None).await;
    aws_sdk_ec2::Client::new(&w.sdk)
        .create_vpc()
        .cidr_block("10.200.0.0/16")
        .send()
        .await
        .expect("untagged vpc");
    iam.create_role()
        .role_name("someone-else")
        .assume_role_policy_document(
            multicloud_aws::identity::service_trust_policy("ec2.amazonaws.com").to_string(),
        )
        .send()
        .await
        .expect("untagged role");
    w
}

async fn secret(w: &World, name: &str, tags: Option<BTreeMap<String, String>>) {
    let sm_tags = tags.map(|t| {
        t.iter()
            .map(|(k, v)| {
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
            })
            .collect()
    });
    aws_sdk_secretsmanager::Client::new(&w.sdk)
        .create_secret()
        .name(name)
        .secret_string("x")
        .set_tags(sm_tags)
        .send()
        .await
        .expect("secret");
}

fn sweeper(w: &World) -> AwsSweeper {
    multicloud_aws::testing::fast_sweeper(w.provider.clients())
}

fn stack(name: &str, env: Option<&str>) -> SweepFilter {
    match env {
        Some(env) => SweepFilter::stack(name, env),
        None => SweepFilter::every_environment_of(name),
    }
}

fn counts(found: &[SweptResource]) -> BTreeMap<ResourceKind, usize> {
    let mut counts = BTreeMap::new();
    for r in found {
        *counts.entry(ResourceKind::from_name(&r.kind)).or_insert(0) += 1;
    }
    counts
}

fn names(found: &[SweptResource], kind: ResourceKind) -> BTreeSet<String> {
    found
        .iter()
        .filter(|r| r.kind == kind.as_str())
        .map(|r| r.name.clone())
        .collect()
}

fn tag<'a>(r: &'a SweptResource, key: &str) -> Option<&'a str> {
    r.tags.get(key).map(String::as_str)
}

#[tokio::test]
async fn find_selects_a_stack_or_the_expired_resources_across_services() {
    let w = world(true).await;
    let s = sweeper(&w);

    let alpha = s.find(&stack("alpha", None)).await.expect("find alpha");
    use kinds::{
        CLUSTER_ROLE, DB_SUBNET_GROUP, ELASTIC_IP, INTERNET_GATEWAY, NAT_GATEWAY, NODE_ROLE,
        OIDC_PROVIDER, ROUTE_TABLE, SECURITY_GROUP, SUBNET, VPC,
    };
    const CLUSTER: ResourceKind = ResourceKind::CLUSTER;
    const NODE_POOL: ResourceKind = ResourceKind::NODE_POOL;
    const DATABASE: ResourceKind = ResourceKind::DATABASE;
    const CACHE: ResourceKind = ResourceKind::CACHE;
    const REGISTRY: ResourceKind = ResourceKind::REGISTRY;
    const SECRET: ResourceKind = ResourceKind::SECRET;
    let expected: BTreeMap<ResourceKind, usize> = [
        (VPC, 1),
        (SUBNET, 4),
        (INTERNET_GATEWAY, 1),
        // One NAT gateway with its address per zone, a private route table each.
        (ELASTIC_IP, 2),
        (NAT_GATEWAY, 2),
        (ROUTE_TABLE, 3),
        (SECURITY_GROUP, 3),
        (CLUSTER_ROLE, 1),
        (NODE_ROLE, 1),
        (CLUSTER, 1),
        (NODE_POOL, 1),
        (OIDC_PROVIDER, 1),
        (DATABASE, 1),
        (DB_SUBNET_GROUP, 1),
        (CACHE, 1),
        (REGISTRY, 1),
        (SECRET, 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts(&alpha), expected);
    assert!(
        alpha
            .iter()
            .all(|r| tag(r, "multicloud:stack") == Some("alpha"))
    );
    assert_eq!(
        names(&alpha, VPC),
        BTreeSet::from(["alpha-dev-vpc".to_string()])
    );
    assert_eq!(
        names(&alpha, SECRET),
        BTreeSet::from(["alpha/dev/api-key".to_string()])
    );
    assert_eq!(
        names(&alpha, REGISTRY),
        BTreeSet::from(["alpha-dev/web".to_string()])
    );
    assert_eq!(
        names(&alpha, CLUSTER_ROLE),
        BTreeSet::from(["alpha-dev-eks-cluster".to_string()])
    );
    let nodegroup = alpha
        .iter()
        .find(|r| r.kind == NODE_POOL.as_str())
        .expect("node group");
    assert_eq!(nodegroup.parent.as_deref(), Some("alpha-dev"));
    // Deletion order: node group before cluster before everything network; VPC last.
    let position = |k: ResourceKind| {
        alpha
            .iter()
            .position(|r| r.kind == k.as_str())
            .expect("present")
    };
    assert!(position(NODE_POOL) < position(CLUSTER));
    assert!(position(CLUSTER) < position(SECURITY_GROUP));
    assert!(position(DATABASE) < position(DB_SUBNET_GROUP));
    assert_eq!(alpha.last().map(|r| r.kind.as_str()), Some(VPC.as_str()));

    assert_eq!(
        s.find(&stack("alpha", Some("dev"))).await.expect("find"),
        alpha
    );
    assert!(
        s.find(&stack("alpha", Some("prod")))
            .await
            .expect("find")
            .is_empty()
    );

    let beta = s.find(&stack("beta", None)).await.expect("find beta");
    assert_eq!(
        names(&beta, SECRET),
        BTreeSet::from(["beta/dev/api-key".to_string()])
    );
    assert_eq!(
        beta.len(),
        1 + 4 + 1 + 2 + 2 + 3 + 1 + 1,
        "vpc, subnets, igw, 2 addresses and NAT gateways, 3 route tables, cluster SG, secret"
    );

    let expired = s
        .find(&SweepFilter::expired(Utc::now()))
        .await
        .expect("find expired");
    assert!(!expired.is_empty());
    assert!(
        expired
            .iter()
            .all(|r| tag(r, "multicloud:stack") == Some("gamma")
                && tag(r, "multicloud:env") == Some("pr-1"))
    );
    assert_eq!(
        names(&expired, SECRET),
        BTreeSet::from(["gamma/pr-1/api-key".to_string()])
    );

    let all = s.find(&SweepFilter::all()).await.expect("find all");
    assert_eq!(all.len(), alpha.len() + beta.len() + expired.len());
    assert!(
        all.iter()
            .all(|r| r.name != "someone-else" && r.name != "someone-else/api-key")
    );
}

#[tokio::test]
async fn sweep_deletes_nothing_on_a_dry_run_then_exactly_the_stack() {
    let w = world(false).await;
    let s = sweeper(&w);
    let filter = stack("alpha", None);
    let before = s.find(&filter).await.expect("find");
    let all_before = s.find(&SweepFilter::all()).await.expect("find all");

    let dry = s.sweep(&filter, true).await.expect("dry run");
    assert!(dry.dry_run);
    assert_eq!(dry.found, before);
    assert!(dry.deleted.is_empty() && dry.failed.is_empty());
    assert_eq!(
        s.find(&filter).await.expect("find"),
        before,
        "a dry run deletes nothing"
    );

    let report = s.sweep(&filter, false).await.expect("sweep");
    let failures: Vec<String> = report
        .failed
        .iter()
        .map(|f| format!("{} {}: {}", f.resource.kind, f.resource.name, f.error))
        .collect();
    assert!(report.is_clean(), "{failures:#?}");
    assert_eq!(report.deleted, before);
    assert!(
        s.find(&filter).await.expect("find").is_empty(),
        "nothing of alpha is left"
    );

    // The others are untouched: other stacks, and what carries no ownership tags.
    let rest = s.find(&SweepFilter::all()).await.expect("find all");
    assert_eq!(rest.len(), all_before.len() - before.len());
    let role = aws_sdk_iam::Client::new(&w.sdk)
        .get_role()
        .role_name("someone-else")
        .send()
        .await;
    assert!(role.is_ok(), "untagged role kept");
    let secret = aws_sdk_secretsmanager::Client::new(&w.sdk)
        .describe_secret()
        .secret_id("someone-else/api-key")
        .send()
        .await;
    assert!(secret.is_ok(), "untagged secret kept");
    let ec2 = aws_sdk_ec2::Client::new(&w.sdk);
    let untagged = ec2
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("cidr")
                .values("10.200.0.0/16")
                .build(),
        )
        .send()
        .await
        .expect("vpcs");
    assert_eq!(untagged.vpcs().len(), 1, "untagged VPC kept");

    // Then the expired stack goes, and only the beta stack is left.
    let expired = s
        .sweep(&SweepFilter::expired(Utc::now()), false)
        .await
        .expect("sweep expired");
    assert!(expired.is_clean() && !expired.deleted.is_empty());
    let left = s.find(&SweepFilter::all()).await.expect("find all");
    assert!(
        left.iter()
            .all(|r| r.tags.get("multicloud:stack").map(String::as_str) == Some("beta"))
    );
    assert!(!left.is_empty());
}

#[tokio::test]
async fn a_stack_with_a_cache_is_swept_clean() {
    // The replication group is deleted and awaited until it is gone (moto through
    // multicloud_testing::MOTO_SERVER completes the deletion, as ElastiCache does).
    let w = world(true).await;
    let s = sweeper(&w);
    let filter = stack("alpha", None);
    let before = s.find(&filter).await.expect("find");
    assert!(
        before
            .iter()
            .any(|r| r.kind == ResourceKind::CACHE.as_str() && r.name == "alpha-dev-redis"),
        "{before:#?}"
    );
    let report = s.sweep(&filter, false).await.expect("sweep");
    let failures: Vec<String> = report
        .failed
        .iter()
        .map(|f| format!("{} {}: {}", f.resource.kind, f.resource.name, f.error))
        .collect();
    assert!(report.is_clean(), "{failures:#?}");
    assert_eq!(report.deleted, before);
    let groups = aws_sdk_elasticache::Client::new(&w.sdk)
        .describe_replication_groups()
        .send()
        .await
        .expect("describe");
    assert!(
        groups
            .replication_groups()
            .iter()
            .all(|g| g.replication_group_id() != Some("alpha-dev-redis")),
        "the group is gone"
    );
    assert!(s.find(&filter).await.expect("find").is_empty());
}
