//! The whole product on Azure, through the Azure path end to end: the infrastructure on the
//! ARM + Key Vault emulator, and the app on a real local Kubernetes control plane reached
//! the way a real AKS cluster is: the provider's `ClusterOps::credentials` reads the cluster's
//! `listClusterUserCredential` kubeconfig (which the emulator points at the local plane, with a
//! bearer token). No `cluster_access` override.
//! up -> the Deployment is Available, the service account carries the managed identity's
//! client id and the pods the workload-identity label, the synced Secret holds the Key Vault
//! value, the pull secret names the ACR -> re-plan is a no-op -> down takes the app off first
//! -> nothing of ours is left on the API server.

mod support;

#[path = "emulated/mod.rs"]
mod emulated;

use kube::ResourceExt;
use multicloud_core::prelude::*;
use multicloud_k8s::KubernetesWorkloads;
use multicloud_k8s::testing::ControlPlane;

fn spec() -> StackSpec {
    StackSpec::builder("shop")
        .environment("az1")
        .region("westeurope")
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "Standard_D4s_v5", 1, 3)))
        .registry(RegistrySpec::new("api"))
        .secret(SecretSpec::generated("api-token", 32))
        .workload_identity(
            WorkloadIdentity::new("shop", "api")
                .can_read_secret("api-token")
                .can_pull("api"),
        )
        .app(
            App::new("api")
                .image_from_registry("api", "v1")
                .port(8080)
                .env_from_secret("API_TOKEN", "api-token"),
        )
        .build()
        .expect("valid spec")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_stack_with_its_app_through_the_aks_credentials_path() {
    let plane = ControlPlane::start()
        .await
        .expect("the local control plane must start");
    let (_emu, provider) = emulated::emulator_for(&plane).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::new(spec(), provider)
        .workloads(KubernetesWorkloads::new())
        .state(LocalStateStore::new(dir.path()))
        .options(emulated::fast_options());

    let out = stack.up().await.expect("up");
    let client = plane.client().await.expect("client");
    let deployment = support::available_api_deployment(&client).await;
    let template = &deployment.spec.template;
    let pod_labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .expect("labels");
    assert_eq!(
        pod_labels
            .get("azure.workload.identity/use")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        support::image(&deployment),
        Some(format!("{}:v1", out.registries["api"].url))
    );

    let client_id = &out.identities["shop-api"].identity;
    let sa = support::api_service_account(&client).await;
    assert_eq!(
        sa.annotations().get("azure.workload.identity/client-id"),
        Some(client_id)
    );

    let name = &out.secrets["api-token"].name;
    let value = stack
        .provider()
        .secrets()
        .get_secret(name)
        .await
        .expect("Key Vault value");
    assert_eq!(
        support::synced_value(&client, "api-token").await,
        value.expose().as_bytes()
    );
    let doc = support::docker_config(&client, "shop-az1-registry").await;
    let acr_host = out.registries["api"]
        .url
        .split('/')
        .next()
        .expect("host")
        .to_string();
    assert!(doc["auths"].get(&acr_host).is_some(), "{acr_host} in {doc}");

    let replan = stack.plan().await.expect("re-plan");
    assert!(support::changes(&replan).is_empty(), "{replan}");

    stack.down().await.expect("down");
    support::assert_no_stack_objects_left(client).await;
}
