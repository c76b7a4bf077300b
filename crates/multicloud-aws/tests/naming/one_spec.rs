//! One spec for both clouds, on AWS: `examples/stacks/shop-multicloud.yaml` validates and
//! expands through `AwsProvider` (no request is made), the neutral sizes and tiers resolve to
//! the documented AWS defaults, overrides win, and values AWS lacks or rejects are named by
//! their field path.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use multicloud_aws::AwsProvider;
use multicloud_aws::expand::resolve;
use multicloud_core::provider::CloudProvider;
use multicloud_core::resource::{ResourceGraph, ResourceId};
use multicloud_core::spec::{NodePool, NodeSize, Postgres, Redis, Rule, StackSpec, Tier};
use multicloud_core::testing::spec_checks::{bad_for, good_for, pool};

use super::AWS;

const MULTICLOUD_YAML: &str = include_str!("../../../../examples/stacks/shop-multicloud.yaml");

/// A provider on a config without network or credentials (expansion makes no call).
fn provider() -> AwsProvider {
    let sdk = SdkConfig::builder()
        .region(Region::new("us-east-1"))
        .behavior_version(BehaviorVersion::latest())
        .build();
    AwsProvider::from_sdk_config(&sdk)
}

/// The string `key` of the config of `id` in `graph`.
fn config(graph: &ResourceGraph, id: &str, key: &str) -> String {
    let r = graph
        .get(&ResourceId::from(id))
        .unwrap_or_else(|| panic!("{id} is not in the graph"));
    r.config[key].as_str().unwrap_or_default().to_string()
}

#[test]
fn the_multicloud_yaml_validates_and_expands_on_aws() {
    let spec = StackSpec::from_yaml(MULTICLOUD_YAML).expect("valid for the common rules");
    let provider = provider();
    spec.validate_for(provider.naming_rules())
        .expect("valid for AWS");
    let g = provider.expand(&spec).expect("expands");
    // medium -> the table's type; large -> its type (the Azure override is not AWS's).
    assert_eq!(
        config(&g, "node_pool/general", "instance_type"),
        "m6i.xlarge"
    );
    assert_eq!(
        config(&g, "node_pool/batch", "instance_type"),
        "m6i.2xlarge"
    );
    // The override wins over the tier.
    assert_eq!(
        config(&g, "database/main", "instance_class"),
        "db.m7g.large"
    );
    assert_eq!(config(&g, "cache/main", "node_type"), "cache.t3.micro");
    assert_eq!(
        resolve::region(&spec).map(|r| (r.value, r.path)),
        Ok(("us-east-1".into(), "spec.aws.region".into()))
    );
    assert_eq!(provider.api_calls().total(), 0, "no request");
}

#[test]
fn the_neutral_tables_are_valid_aws_values() {
    let sizes: Vec<&str> = NodeSize::ALL.map(resolve::instance_type_of).to_vec();
    assert_eq!(
        sizes,
        ["m6i.large", "m6i.xlarge", "m6i.2xlarge", "m6i.4xlarge"]
    );
    let db: Vec<&str> = Tier::ALL.map(resolve::db_class_of).to_vec();
    assert_eq!(db, ["db.t3.micro", "db.m6i.large", "db.r6i.xlarge"]);
    let cache: Vec<&str> = Tier::ALL.map(resolve::cache_node_of).to_vec();
    assert_eq!(
        cache,
        ["cache.t3.micro", "cache.m6g.large", "cache.r6g.xlarge"]
    );
    // Every entry passes AWS's own checks, given as AWS's override.
    for size in NodeSize::ALL {
        good_for(AWS, |s| {
            *pool(s) = NodePool::sized("general", size, 1, 2)
                .aws_instance_type(resolve::instance_type_of(size))
        });
    }
    for tier in Tier::ALL {
        good_for(AWS, |s| {
            s.database = Some(Postgres::new("16").aws_instance_class(resolve::db_class_of(tier)));
            s.cache = Some(Redis::new("7.1").aws_node_type(resolve::cache_node_of(tier)));
        });
    }
    // The defaults are the dev tier's.
    assert_eq!(
        resolve::db_instance_class(&Postgres::new("16")).value,
        "db.t3.micro"
    );
    assert_eq!(
        resolve::cache_node_type(&Redis::new("7")).value,
        "cache.t3.micro"
    );
}

#[test]
fn overrides_win_then_the_single_cloud_field_then_the_size() {
    let p = NodePool::sized("general", NodeSize::Small, 1, 2);
    let at = |p: &NodePool| resolve::node_instance_type(p, 0).map(|r| (r.value, r.path));
    assert_eq!(
        at(&p),
        Ok(("m6i.large".into(), "spec.cluster.node_pools[0].size".into()))
    );
    let mut explicit = p.clone();
    explicit.instance_type = Some("t3.large".into());
    assert_eq!(
        at(&explicit),
        Ok((
            "t3.large".into(),
            "spec.cluster.node_pools[0].instance_type".into()
        ))
    );
    let over = explicit.aws_instance_type("c7i.xlarge");
    assert_eq!(
        at(&over),
        Ok((
            "c7i.xlarge".into(),
            "spec.cluster.node_pools[0].aws.instance_type".into()
        ))
    );
    let db = Postgres::new("16").tier(Tier::Production);
    assert_eq!(resolve::db_instance_class(&db).value, "db.r6i.xlarge");
    let db = db.instance_class("db.t4g.small");
    assert_eq!(resolve::db_instance_class(&db).value, "db.t4g.small");
    let db = db
        .aws_instance_class("db.m7g.large")
        .azure_sku("Standard_B2s");
    assert_eq!(
        resolve::db_instance_class(&db).path,
        "spec.database.aws.instance_class"
    );
}

#[test]
fn values_aws_lacks_or_rejects_are_named_by_path() {
    // An Azure location as the AWS region: under `aws:`, or as the single-cloud `region`.
    let message = bad_for(
        AWS,
        |s| s.aws.region = Some("westeurope".into()),
        "spec.aws.region",
        Rule::Format,
    );
    assert!(
        message.contains("`westeurope` is not an AWS region"),
        "{message}"
    );
    let message = bad_for(
        AWS,
        |s| s.region = "westeurope".into(),
        "spec.region",
        Rule::Format,
    );
    assert!(message.contains("aws.region"), "{message}");
    // The `region` is Azure's, the AWS override is right: fine.
    good_for(AWS, |s| {
        s.region = "westeurope".into();
        s.aws.region = Some("eu-west-1".into());
    });
    // Only Azure's location: AWS's region is missing.
    let message = bad_for(
        AWS,
        |s| {
            s.region.clear();
            s.azure.location = Some("westeurope".into());
        },
        "spec.aws.region",
        Rule::Required,
    );
    assert!(message.contains("AWS"), "{message}");
    // A pool with only Azure's VM size has no AWS instance type.
    bad_for(
        AWS,
        |s| {
            pool(s).instance_type = None;
            pool(s).azure.vm_size = Some("Standard_D4s_v5".into());
        },
        "spec.cluster.node_pools[0].aws.instance_type",
        Rule::Required,
    );
    // Azure values under `aws:`.
    bad_for(
        AWS,
        |s| pool(s).aws.instance_type = Some("Standard_D4s_v5".into()),
        "spec.cluster.node_pools[0].aws.instance_type",
        Rule::Format,
    );
    bad_for(
        AWS,
        |s| s.database = Some(Postgres::new("16").aws_instance_class("Standard_B1ms")),
        "spec.database.aws.instance_class",
        Rule::Format,
    );
    bad_for(
        AWS,
        |s| s.cache = Some(Redis::new("7.1").aws_node_type("Balanced_B0")),
        "spec.cache.aws.node_type",
        Rule::Format,
    );
    // Azure's own values are not AWS's business.
    good_for(AWS, |s| {
        pool(s).azure.vm_size = Some("t3.medium".into());
        s.cache = Some(Redis::new("7.1").azure_sku("cache.t3.micro"));
    });
}

#[test]
fn expansion_refuses_a_pool_without_an_aws_size() {
    let mut spec = StackSpec::from_yaml(MULTICLOUD_YAML).expect("valid");
    let pool = &mut spec.cluster.as_mut().expect("cluster").node_pools[0];
    pool.size = None;
    pool.azure.vm_size = Some("Standard_D4s_v5".into());
    match provider().expand(&spec) {
        Err(multicloud_core::expand::ExpandError::Spec(e)) => {
            assert!(
                e.at("spec.cluster.node_pools[0].aws.instance_type")
                    .is_some(),
                "{e}"
            )
        }
        other => panic!("expected a spec error, got {other:?}"),
    }
}
