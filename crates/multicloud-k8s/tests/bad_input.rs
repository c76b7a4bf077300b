//! Bad input on the Kubernetes side gets typed errors naming the field, before any request:
//! the stack here points at a port nothing listens on, so any request would fail differently.

use multicloud_core::Error;
use multicloud_core::provider::ClusterCredentials;
use multicloud_core::secret::SecretString;
use multicloud_core::spec::{
    App, Cluster, ManifestSpec, Network, NodePool, Rule, SecretSpec, StackSpec,
};
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud};
use multicloud_core::{Stack, state::LocalStateStore};
use multicloud_k8s::KubernetesWorkloads;

fn bad_spec() -> StackSpec {
    StackSpec::builder("shop")
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "t3.medium", 1, 2)))
        .secret(SecretSpec::generated("api-key", 24))
        .app(
            App::new("web")
                .namespace("Not_DNS")
                .env_from_secret("TOKEN", "undeclared")
                .resources("lots", "1Gb")
                .health_path("healthz"),
        )
        .manifest(ManifestSpec::new(
            "extras",
            "kind: ConfigMap\n  bad: [indent",
        ))
        .manifest(ManifestSpec::new(
            "nameless",
            "apiVersion: v1\nkind: ConfigMap\n",
        ))
        .build_unchecked()
}

#[tokio::test]
async fn typed_errors_name_every_bad_field_before_any_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cloud = MemoryCloud::new(Latencies::zero());
    let nowhere =
        ClusterCredentials::bearer("https://127.0.0.1:9", "", SecretString::new("unused"), None);
    let stack = Stack::new(bad_spec(), InMemoryProvider::new(cloud.clone()))
        .workloads(KubernetesWorkloads::new())
        .cluster_access(nowhere)
        .state(LocalStateStore::new(dir.path()));
    let err = stack.up().await.expect_err("invalid");
    let Error::Spec(errors) = &err else {
        panic!("expected a spec error, got {err}")
    };
    let rule = |path: &str| {
        errors
            .at(path)
            .unwrap_or_else(|| panic!("no error at {path}: {errors}"))
            .rule
    };
    assert_eq!(rule("spec.apps[0].namespace"), Rule::Name);
    assert_eq!(
        rule("spec.apps[0].env_from_secrets[0].secret"),
        Rule::UnknownReference
    );
    assert_eq!(rule("spec.apps[0].resources.cpu"), Rule::Format);
    assert_eq!(rule("spec.apps[0].resources.memory"), Rule::Format);
    assert_eq!(rule("spec.apps[0].health_path"), Rule::Format);
    assert_eq!(rule("spec.manifests[0].yaml"), Rule::Format);
    let nameless = errors.at("spec.manifests[1].yaml").expect("nameless");
    assert!(
        nameless.message.contains("metadata.name"),
        "{}",
        nameless.message
    );
    assert!(cloud.calls().is_empty(), "no cloud call was made");
}

#[test]
fn a_manifest_of_several_documents_parses_in_order_and_skips_empty_ones() {
    let m = ManifestSpec::new(
        "extras",
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\n",
    );
    let docs = m.documents().expect("valid");
    let names: Vec<_> = docs.iter().map(|d| d["metadata"]["name"].clone()).collect();
    assert_eq!(names, [serde_json::json!("a"), serde_json::json!("b")]);
}
