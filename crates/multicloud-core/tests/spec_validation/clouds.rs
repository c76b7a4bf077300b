//! One spec for both clouds, as the common rules see it: neutral sizes and tiers, `aws:` /
//! `azure:` overrides, the region given once per cloud, the old single-cloud format still
//! loading. What each cloud makes of them is tested in its crate (`tests/naming.rs`).

use multicloud_core::spec::SpecError;
use multicloud_core::spec::{NodePool, NodeSize, Postgres, Redis, Rule, StackSpec, Tier};

use super::{bad, example, good, pool};

const MULTICLOUD_YAML: &str = include_str!("../../../../examples/stacks/shop-multicloud.yaml");

#[test]
fn the_multicloud_yaml_is_the_example_in_neutral_terms() {
    let spec = StackSpec::from_yaml(MULTICLOUD_YAML).expect("shop-multicloud.yaml is valid");
    assert_eq!(spec.region, "");
    assert_eq!(spec.aws.region.as_deref(), Some("us-east-1"));
    assert_eq!(spec.azure.location.as_deref(), Some("westeurope"));
    let cluster = spec.cluster.as_ref().expect("a cluster");
    assert_eq!(
        cluster.node_pools,
        [
            NodePool::sized("general", NodeSize::Medium, 2, 5),
            NodePool::sized("batch", NodeSize::Large, 0, 3).azure_vm_size("Standard_F8s_v2"),
        ]
    );
    assert_eq!(
        spec.database,
        Some(
            Postgres::new("16")
                .tier(Tier::Standard)
                .aws_instance_class("db.m7g.large")
        )
    );
    assert_eq!(spec.cache, Some(Redis::new("7.1").tier(Tier::Dev)));
    // Its app connects to the stack's database and cache.
    assert_eq!(
        spec.apps[0].connect,
        [
            multicloud_core::spec::Connection::Database,
            multicloud_core::spec::Connection::Cache
        ]
    );
    // Everything else is the single-cloud example's.
    let mut same = spec.clone();
    same.apps[0].connect.clear();
    same.region = "us-east-1".into();
    same.aws = Default::default();
    same.azure = Default::default();
    same.cluster = example().cluster;
    same.database = example().database;
    same.cache = example().cache;
    assert_eq!(same, example());
}

#[test]
fn the_builder_says_the_same() {
    let mut spec = example();
    spec.region.clear();
    spec.aws.region = Some("us-east-1".into());
    spec.azure.location = Some("westeurope".into());
    let built = StackSpec::builder("x")
        .region("")
        .aws_region("us-east-1")
        .azure_location("westeurope")
        .build_unchecked();
    assert_eq!(
        (built.aws, built.azure),
        (spec.aws.clone(), spec.azure.clone())
    );
    spec.validate().expect("a region per cloud is enough");
}

#[test]
fn a_multicloud_spec_round_trips_through_yaml() {
    let spec = StackSpec::from_yaml(MULTICLOUD_YAML).expect("valid");
    let text = spec.to_yaml().expect("serialises");
    assert!(!text.contains("region: ''"), "{text}");
    assert!(text.contains("size: medium"), "{text}");
    assert_eq!(
        StackSpec::from_yaml(&text).expect("parses back"),
        spec,
        "{text}"
    );
}

#[test]
fn a_region_is_required_somewhere() {
    good(|s| {
        s.region.clear();
        s.aws.region = Some("us-east-1".into());
    });
    good(|s| {
        s.region.clear();
        s.azure.location = Some("westeurope".into());
    });
    let message = bad(|s| s.region.clear(), "spec.region", Rule::Required);
    assert!(message.contains("aws.region"), "{message}");
    bad(
        |s| s.aws.region = Some("US East".into()),
        "spec.aws.region",
        Rule::Format,
    );
    bad(
        |s| s.azure.location = Some(String::new()),
        "spec.azure.location",
        Rule::Required,
    );
}

#[test]
fn sizes_and_overrides_satisfy_a_node_pool() {
    good(|s| *pool(s) = NodePool::sized("general", NodeSize::Xlarge, 1, 2));
    // Both clouds' overrides without a size: fine for the common rules.
    good(|s| {
        pool(s).instance_type = None;
        pool(s).aws.instance_type = Some("m6i.large".into());
        pool(s).azure.vm_size = Some("Standard_D2s_v5".into());
    });
    bad(
        |s| pool(s).azure.vm_size = Some(String::new()),
        "spec.cluster.node_pools[0].azure.vm_size",
        Rule::Required,
    );
}

#[test]
fn empty_database_and_cache_values_are_named() {
    good(|s| {
        s.database = Some(Postgres::new("16").tier(Tier::Production));
        s.cache = Some(Redis::new("7.1").tier(Tier::Standard));
    });
    bad(
        |s| s.database = Some(Postgres::new("16").azure_sku("")),
        "spec.database.azure.sku",
        Rule::Required,
    );
    bad(
        |s| s.database = Some(Postgres::new("16").instance_class("")),
        "spec.database.instance_class",
        Rule::Required,
    );
    bad(
        |s| s.cache = Some(Redis::new("7.1").aws_node_type("")),
        "spec.cache.aws.node_type",
        Rule::Required,
    );
}

#[test]
fn unknown_or_misplaced_cloud_fields_are_yaml_errors() {
    for (from, to, field) in [
        // A location is Azure's word: not under `aws:`.
        (
            "  region: us-east-1\n",
            "  location: us-east-1\n",
            "location",
        ),
        ("      size: medium ", "      size: huge ", "huge"),
        ("  tier: dev ", "  tier: gold ", "gold"),
    ] {
        let text = MULTICLOUD_YAML.replacen(from, to, 1);
        assert_ne!(text, MULTICLOUD_YAML, "{from}");
        match StackSpec::from_yaml(&text) {
            Err(SpecError::Yaml { message, .. }) => assert!(message.contains(field), "{message}"),
            other => panic!("expected a YAML error for {field}, got {other:?}"),
        }
    }
}
