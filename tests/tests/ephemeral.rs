//! `EphemeralEnv` end to end: the infrastructure on a real moto server, the app on the real
//! local control plane. A test brings its environment up, makes a ConfigMap of its own in
//! the app's namespace, and fails (panics) holding the environment: the drop's teardown
//! still completes, reports the namespace as left behind (never deleting their object), and
//! the AWS sweeper finds nothing of the environment afterwards. The unique environments are
//! valid under both clouds' naming rules.

use std::sync::Arc;
use std::time::Duration;

// Only the app's namespace and Deployment check are used here.
#[allow(dead_code)]
mod support;

use futures::StreamExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};
use multicloud_aws::AwsProvider;
use multicloud_aws::naming::AwsNamingRules;
use multicloud_aws::sweeper::{SweepFilter, Sweeper};
use multicloud_aws::testing::MotoServer;
use multicloud_azure::naming::AzureNamingRules;
use multicloud_core::EphemeralEnv;
use multicloud_core::ephemeral::{DEFAULT_TTL, unique_environment};
use multicloud_core::events::Event;
use multicloud_core::prelude::*;
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_core::spec::NodeSize;
use multicloud_core::tags::TAG_EXPIRES_AT;
use multicloud_k8s::testing::ControlPlane;
use multicloud_k8s::{KubeClientExt, KubernetesWorkloads};

/// The stack a test brings up: network, cluster, PostgreSQL, a secret read by the app's
/// workload identity, and the app connected to the database. No `ttl`: the environment's
/// default applies.
fn spec(environment: &str) -> StackSpec {
    StackSpec::builder("shop")
        .environment(environment)
        .region("us-east-1")
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "t3.medium", 1, 2)))
        .database(Postgres::new("16"))
        .secret(SecretSpec::generated("api-token", 32))
        .workload_identity(WorkloadIdentity::new("shop", "api").can_read_secret("api-token"))
        .app(
            App::new("api")
                .image("nginx:1.27")
                .port(8080)
                .env_from_secret("API_TOKEN", "api-token")
                .connect_database(),
        )
        .build()
        .expect("valid spec")
}

#[test]
fn unique_environments_are_valid_on_both_clouds() {
    for base in ["pr-1234", "nightly-integration-run", "e"] {
        for _ in 0..100 {
            // The same stack with what Azure needs besides: a location and a node size.
            let mut spec = spec(&unique_environment(base));
            spec.azure.location = Some("westeurope".into());
            if let Some(cluster) = spec.cluster.as_mut() {
                cluster.node_pools = vec![NodePool::sized("general", NodeSize::Medium, 1, 2)];
            }
            spec.validate_for(&AwsNamingRules)
                .unwrap_or_else(|e| panic!("AWS refuses {}: {e}", spec.environment));
            spec.validate_for(&AzureNamingRules)
                .unwrap_or_else(|e| panic!("Azure refuses {}: {e}", spec.environment));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_test_with_a_foreign_configmap_leaves_nothing_in_aws() {
    let moto = MotoServer::start().await.expect("moto");
    let plane = ControlPlane::start()
        .await
        .expect("the local control plane must start");
    let provider = Arc::new(AwsProvider::from_sdk_config(
        &moto.sdk_config("us-east-1").await,
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let env = EphemeralEnv::builder(spec("pr-9"), provider.clone())
        .workloads(KubernetesWorkloads::new())
        .cluster_access(plane.credentials())
        .state(LocalStateStore::new(dir.path()))
        .keep(false)
        .up()
        .await
        .expect("up");
    let environment = env.environment().to_string();
    assert!(environment.starts_with("pr-9-"), "{environment}");
    assert_eq!(env.spec().ttl, Some(DEFAULT_TTL));

    // What the test uses: the stack's real database credentials and its cluster, the app
    // deployed; every AWS resource carries the expiry the reaper goes by.
    let sweeper = provider.sweeper();
    let ours = SweepFilter::stack("shop", &environment);
    let found = sweeper.find(&ours).await.expect("find");
    assert!(found.len() > 10, "the stack is in AWS: {found:#?}");
    let untagged: Vec<_> = found
        .iter()
        .filter(|r| !r.tags.contains_key(TAG_EXPIRES_AT))
        .collect();
    assert!(untagged.is_empty(), "without expiry: {untagged:#?}");
    let url = env.database_url().await.expect("database url");
    let db = env.outputs().database.as_ref().expect("database outputs");
    assert!(
        url.expose().starts_with("postgresql://") && url.expose().contains(&db.host),
        "a URL to the stack's database"
    );
    let kube = env.kube_client().await.expect("kube client");
    support::available_api_deployment(&kube).await;

    // The test makes an object of its own in the app's namespace, then fails.
    let maps: Api<ConfigMap> = Api::namespaced(kube.clone(), support::NAMESPACE);
    let theirs: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "test-fixture" }, "data": { "k": "v" }
    }))
    .expect("configmap");
    maps.create(&PostParams::default(), &theirs)
        .await
        .expect("create the test's configmap");
    let mut events = env.stack().events();
    let test = tokio::spawn(async move {
        let _env = env;
        panic!("the test failed while holding its environment");
    });
    assert!(test.await.expect_err("it panicked").is_panic());

    // The teardown completed and said what it left: the namespace, with their object, gone
    // with the stack's EKS cluster (deleted by the same teardown).
    let mut left = Vec::new();
    let mut failed = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(200), events.next()).await {
        match e {
            Event::ResourceLeftBehind {
                id,
                reason,
                remains,
            } => left.push((id, reason, remains)),
            Event::ResourceFailed { id, error, .. } => failed.push((id, error)),
            _ => {}
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(left.len(), 1, "{left:#?}");
    assert_eq!(
        left[0].0,
        ResourceId::new(ResourceKind::NAMESPACE, support::NAMESPACE)
    );
    assert!(
        left[0].1.contains("configmap/test-fixture"),
        "{}",
        left[0].1
    );
    assert!(!left[0].2, "it goes with the cluster");

    // Nothing of the environment is left in AWS, nor in the state store.
    let after = sweeper.find(&ours).await.expect("find");
    assert!(after.is_empty(), "left in AWS: {after:#?}");
    let states = LocalStateStore::new(dir.path()).list().await.expect("list");
    assert!(states.is_empty(), "{states:?}");
    // On the plane (which outlives the stack's EKS cluster here): the app is gone, their
    // object untouched in the namespace left behind.
    let deployments = Api::<Deployment>::namespaced(kube.clone(), support::NAMESPACE);
    assert!(deployments.get_opt("api").await.expect("get").is_none());
    let kept = maps.get("test-fixture").await.expect("their configmap");
    assert_eq!(kept.data.expect("data")["k"], "v");
    Api::<Namespace>::all(kube)
        .delete(support::NAMESPACE, &Default::default())
        .await
        .expect("remove the namespace left behind");
}
