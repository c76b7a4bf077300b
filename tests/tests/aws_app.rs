//! The whole product on AWS: the infrastructure on a real moto server and the app on a real
//! local Kubernetes control plane (moto's EKS endpoint is not a server, so cluster access is
//! pointed at the plane), in one plan: up -> the Deployment is Available, the service account
//! carries the IRSA role ARN, the synced Secret holds the value in Secrets Manager -> re-up is a
//! no-op -> down takes the app off first, then the infrastructure -> neither the sweeper nor
//! the API server finds anything of ours.

use std::sync::Arc;

mod support;

use futures::StreamExt as _;
use kube::ResourceExt;
use multicloud_aws::AwsProvider;
use multicloud_aws::sweeper::{SweepFilter, Sweeper};
use multicloud_aws::testing::MotoServer;
use multicloud_core::events::Event;
use multicloud_core::plan::Action;
use multicloud_core::prelude::*;
use multicloud_k8s::KubernetesWorkloads;
use multicloud_k8s::testing::ControlPlane;

fn spec() -> StackSpec {
    StackSpec::builder("shop")
        .environment("pr-77")
        .region("us-east-1")
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "t3.medium", 2, 5)))
        .registry(RegistrySpec::new("shop-api"))
        .secret(SecretSpec::generated("db-password", 32))
        .workload_identity(WorkloadIdentity::new("shop", "api").can_read_secret("db-password"))
        .app(
            App::new("api")
                .image_from_registry("shop-api", "v1")
                .port(8080)
                .env_from_secret("DB_PASSWORD", "db-password"),
        )
        .build()
        .expect("valid spec")
}

/// Whether `id` is one of the app's Kubernetes kinds.
fn is_app(id: &multicloud_core::resource::ResourceId) -> bool {
    [
        "namespace",
        "pull_secret",
        "service_account",
        "synced_secret",
        "deployment",
        "service",
    ]
    .contains(&id.kind_name())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_stack_with_its_app_up_noop_down_app_first_and_nothing_left() {
    let moto = MotoServer::start().await.expect("moto");
    let plane = ControlPlane::start()
        .await
        .expect("the local control plane must start");
    let provider = Arc::new(AwsProvider::from_sdk_config(
        &moto.sdk_config("us-east-1").await,
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    // One line more than an infrastructure-only stack (`workloads`), and one to point the
    // app at the local plane instead of moto's EKS endpoint.
    let stack = Stack::new(spec(), provider.clone())
        .workloads(KubernetesWorkloads::new())
        .cluster_access(plane.credentials())
        .state(LocalStateStore::new(dir.path()));

    let out = stack.up().await.expect("up");
    let client = plane.client().await.expect("client");
    let deployment = support::available_api_deployment(&client).await;
    assert_eq!(
        support::image(&deployment),
        Some(format!("{}:v1", out.registries["shop-api"].url))
    );
    let role_arn = &out.identities["shop-api"].id;
    assert!(
        role_arn.starts_with("arn:aws:iam::123456789012:role/"),
        "{role_arn}"
    );
    let sa = support::api_service_account(&client).await;
    assert_eq!(
        sa.annotations().get("eks.amazonaws.com/role-arn"),
        Some(role_arn)
    );
    let name = &out.secrets["db-password"].name;
    let value = provider
        .secrets()
        .get_secret(name)
        .await
        .expect("secret value");
    assert_eq!(
        support::synced_value(&client, "db-password").await,
        value.expose().as_bytes()
    );
    let doc = support::docker_config(&client, "shop-pr-77-registry").await;
    let ecr_host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    assert!(
        doc["auths"]
            .as_object()
            .expect("auths")
            .keys()
            .any(|k| k.contains(ecr_host)),
        "{doc}"
    );

    // Re-plan: nothing changes but the pull secret, which is renewed because moto's ECR
    // tokens report a fixed expiry in the past (2015-01-01): exactly what `up` must do with
    // a token that ran out.
    let replan = stack.plan().await.expect("re-plan");
    let changes = support::changes(&replan);
    assert_eq!(changes.len(), 1, "{replan}");
    assert_eq!(changes[0].id.kind_name(), "pull_secret");
    assert!(changes[0].reason.ends_with("renewing"), "{replan}");
    assert_eq!(stack.up().await.expect("re-up"), out);

    // A new version of the secret in Secrets Manager is synced again by the next `up`.
    let rotated = SecretString::new("rotated-value-0123456789");
    provider
        .secrets()
        .put_secret(name, &rotated)
        .await
        .expect("new version");
    let plan = stack.plan().await.expect("plan after rotation");
    let synced_id = multicloud_core::resource::ResourceId::new(
        multicloud_core::resource::ResourceKind::SYNCED_SECRET,
        "shop.db-password",
    );
    assert_eq!(
        plan.action(&synced_id).map(|a| a.action),
        Some(Action::Update),
        "{plan}"
    );
    stack.apply(&plan).await.expect("re-sync");
    assert_eq!(
        support::synced_value(&client, "db-password").await,
        rotated.expose().as_bytes()
    );

    // Down: every app resource is gone before any infrastructure deletion starts.
    let mut events = stack.events();
    let collect = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(e) = events.next().await {
            let last = matches!(e, Event::Finished { .. });
            seen.push(e);
            if last {
                break;
            }
        }
        seen
    });
    stack.down().await.expect("down");
    let seen = collect.await.expect("events");
    let last_app_done = seen
        .iter()
        .rposition(|e| matches!(e, Event::ResourceSucceeded { id, action: Action::Delete, .. } if is_app(id)))
        .expect("app deletions");
    let first_infra = seen
        .iter()
        .position(|e| matches!(e, Event::ResourceStarted { id, action: Action::Delete, .. } if !is_app(id)))
        .expect("infrastructure deletions");
    assert!(last_app_done < first_infra, "the app goes first: {seen:#?}");

    let left = provider
        .sweeper()
        .find(&SweepFilter::stack("shop", "pr-77"))
        .await
        .expect("sweep");
    assert!(left.is_empty(), "left in AWS: {left:?}");
    support::assert_no_stack_objects_left(client).await;
}
