//! Bring your own cluster, on both clouds' stand-ins with the app on the real local control
//! plane: a platform stack owns a cluster; an app stack names it with `existing_cluster`
//! and deploys only its own pieces (registry, secret, workload identity, the app). The
//! cluster is adopted read-only: the app stack's plan creates no network, cluster or node
//! pool, its `down` leaves the cluster exactly as it was (the platform's plan stays a
//! no-op), and a cluster that does not exist stops the plan before any change.

#[path = "emulated/mod.rs"]
mod emulated;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use multicloud_aws::AwsProvider;
use multicloud_aws::testing::MotoServer;
use multicloud_core::Error;
use multicloud_core::plan::{Action, Plan};
use multicloud_core::prelude::*;
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_core::spec::{ExistingCluster, Rule};
use multicloud_k8s::KubernetesWorkloads;
use multicloud_k8s::testing::ControlPlane;

/// The platform team's stack: a network and a cluster, nothing else.
fn platform(region: &str, pool: NodePool) -> StackSpec {
    StackSpec::builder("platform")
        .environment("shared")
        .region(region)
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(pool))
        .build()
        .expect("platform spec")
}

/// An app stack on `existing`: its registry, a secret, a workload identity and the app.
fn app_stack(region: &str, existing: ExistingCluster) -> StackSpec {
    StackSpec::builder("byo")
        .environment("pr-7")
        .region(region)
        .existing_cluster(existing)
        .registry(RegistrySpec::new("api"))
        .secret(SecretSpec::generated("api-token", 32))
        .workload_identity(WorkloadIdentity::new("byo", "api").can_read_secret("api-token"))
        .app(
            App::new("api")
                .image("nginx:1.27")
                .port(8080)
                .service_account("api")
                .env_from_secret("API_TOKEN", "api-token"),
        )
        .ttl(Duration::from_secs(3600))
        .build()
        .expect("app spec")
}

/// The plan adopts the cluster read-only and creates no network, cluster or node pool.
fn assert_cluster_adopted_read_only(plan: &Plan) {
    let cluster = plan
        .action(&ResourceId::single(ResourceKind::CLUSTER))
        .expect("the cluster is in the plan");
    assert_eq!(cluster.action, Action::Adopt, "{plan}");
    assert!(cluster.reason.contains("read-only"), "{plan}");
    for a in &plan.actions {
        assert!(
            a.kind != ResourceKind::NODE_POOL
                && !matches!(a.kind.as_str(), "vpc" | "subnet" | "virtual_network"),
            "{plan}"
        );
        assert!(
            a.kind != ResourceKind::CLUSTER || a.action == Action::Adopt,
            "{plan}"
        );
    }
}

/// Up, the app on the plane, a no-op re-plan, down; the platform's plan is a no-op after.
async fn up_and_down(app: &Stack, platform: &Stack, plane: &ControlPlane) {
    assert_cluster_adopted_read_only(&app.plan().await.expect("plan"));
    app.up().await.expect("up on the existing cluster");
    let client = plane.client().await.expect("client");
    let deployment = Api::<Deployment>::namespaced(client, "byo")
        .get("api")
        .await
        .expect("the app runs on the existing cluster");
    assert_eq!(deployment.metadata.name.as_deref(), Some("api"));
    let replan = app.plan().await.expect("re-plan");
    assert!(replan.is_noop(), "{replan}");
    let down = app.plan_down().await.expect("plan down");
    let forget = down
        .action(&ResourceId::single(ResourceKind::CLUSTER))
        .expect("the cluster is forgotten");
    assert!(forget.reason.contains("never deleted"), "{down}");
    app.down().await.expect("down");
    let platform_plan = platform.plan().await.expect("platform plan");
    assert!(
        platform_plan.is_noop(),
        "the platform's cluster is untouched: {platform_plan}"
    );
}

/// A spec naming a cluster that does not exist stops at the plan, with nothing changed;
/// one that also asks for a cluster of its own is refused before any request.
async fn assert_refusals(provider: Arc<dyn CloudProvider>, region: &str, missing: &str) {
    let stack = Stack::new(
        app_stack(region, ExistingCluster::id(missing)),
        provider.clone(),
    )
    .workloads(KubernetesWorkloads::new());
    match stack.plan().await {
        Err(Error::MissingExisting { resources }) => {
            // (On AWS its IAM OIDC provider, found through it, is missing too.)
            assert!(
                resources.iter().any(
                    |(id, name)| *id == ResourceId::single(ResourceKind::CLUSTER)
                        && missing.ends_with(name.as_str())
                ),
                "{resources:?}"
            );
        }
        other => panic!("expected MissingExisting, got {other:?}"),
    }
    let mut both = app_stack(region, ExistingCluster::id(missing));
    both.cluster = Some(Cluster::new("1.31"));
    match both.validate() {
        Err(e) => {
            let at = e.at("spec.existing_cluster").expect("names the field");
            assert_eq!(at.rule, Rule::Unsupported);
        }
        Ok(()) => panic!("a cluster and an existing cluster together must be refused"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_stack_deploys_onto_an_existing_eks_cluster_and_leaves_it() {
    let moto = MotoServer::start().await.expect("moto");
    let plane = ControlPlane::start().await.expect("control plane");
    let provider = Arc::new(AwsProvider::from_sdk_config(
        &moto.sdk_config("us-east-1").await,
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let platform = Stack::new(
        platform("us-east-1", NodePool::new("general", "t3.medium", 1, 2)),
        provider.clone(),
    )
    .state(LocalStateStore::new(dir.path()));
    let shared = platform.up().await.expect("platform up");
    let name = shared.cluster.expect("platform cluster").name;

    let app = Stack::new(
        app_stack("us-east-1", ExistingCluster::id(&name)),
        provider.clone(),
    )
    .workloads(KubernetesWorkloads::new())
    .cluster_access(plane.credentials())
    .state(LocalStateStore::new(dir.path()));
    up_and_down(&app, &platform, &plane).await;
    let eks = &provider.clients().eks;
    let live = eks
        .describe_cluster()
        .name(&name)
        .send()
        .await
        .expect("the cluster is still there");
    assert_eq!(live.cluster().and_then(|c| c.name()), Some(name.as_str()));
    assert_refusals(provider, "us-east-1", "no-such-cluster").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_stack_deploys_onto_an_existing_aks_cluster_and_leaves_it() {
    let plane = ControlPlane::start().await.expect("control plane");
    let (emu, provider) = emulated::emulator_for(&plane).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let options = emulated::fast_options();
    let platform = Stack::new(
        platform(
            "westeurope",
            NodePool::new("general", "Standard_D4s_v5", 1, 2),
        ),
        provider.clone(),
    )
    .state(LocalStateStore::new(dir.path()))
    .options(options.clone());
    let shared = platform.up().await.expect("platform up");
    let id = shared.cluster.expect("platform cluster").id;

    let app = Stack::new(
        app_stack("westeurope", ExistingCluster::id(&id)),
        provider.clone(),
    )
    .workloads(KubernetesWorkloads::new())
    .state(LocalStateStore::new(dir.path()))
    .options(options);
    up_and_down(&app, &platform, &plane).await;
    assert!(
        emu.resource(&id).is_some(),
        "the AKS cluster is still there"
    );
    let missing = id.replace("/managedClusters/", "/managedClusters/x");
    assert_refusals(provider, "westeurope", &missing).await;
    platform.down().await.expect("platform down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attached_cluster_takes_the_app_with_no_cloud_cluster_in_the_stack() {
    let moto = MotoServer::start().await.expect("moto");
    let plane = ControlPlane::start().await.expect("control plane");
    let provider = Arc::new(AwsProvider::from_sdk_config(
        &moto.sdk_config("us-east-1").await,
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = StackSpec::builder("byo")
        .environment("attached")
        .region("us-east-1")
        .existing_cluster(ExistingCluster::Attached)
        .registry(RegistrySpec::new("api"))
        .secret(SecretSpec::generated("api-token", 32))
        .app(
            // (A registry image's pull secret renews on every plan on moto, whose ECR
            // tokens expired in 2015.)
            App::new("api")
                .image("nginx:1.27")
                .port(8080)
                .env_from_secret("API_TOKEN", "api-token"),
        )
        .ttl(Duration::from_secs(3600))
        .build()
        .expect("an app-only spec on an attached cluster");

    // Without the credentials: a typed error naming the field, before any request.
    let bare = Stack::new(spec.clone(), provider.clone()).workloads(KubernetesWorkloads::new());
    match bare.plan().await {
        Err(Error::Spec(e)) => assert!(e.at("spec.existing_cluster").is_some(), "{e}"),
        other => panic!("expected a spec error, got {other:?}"),
    }
    assert_eq!(provider.api_calls().total(), 0, "no request was made");

    let stack = Stack::new(spec, provider.clone())
        .workloads(KubernetesWorkloads::new())
        .cluster_access(plane.credentials())
        .state(LocalStateStore::new(dir.path()));
    let plan = stack.plan().await.expect("plan");
    assert!(
        plan.actions
            .iter()
            .all(|a| a.kind != ResourceKind::CLUSTER && a.action == Action::Create),
        "{plan}"
    );
    stack.up().await.expect("up on the attached cluster");
    let client = plane.client().await.expect("client");
    Api::<Deployment>::namespaced(client, "byo")
        .get("api")
        .await
        .expect("the app runs on the attached cluster");
    let replan = stack.plan().await.expect("re-plan");
    assert!(replan.is_noop(), "{replan}");
    stack.down().await.expect("down");
}
