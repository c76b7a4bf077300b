//! One spec for both clouds, on Azure: `examples/stacks/shop-multicloud.yaml` validates and
//! expands through `AzureProvider` on the emulator (no request is made), the neutral sizes
//! and tiers resolve to the documented Azure defaults, overrides win, and values Azure lacks
//! or rejects are named by their field path.

use multicloud_azure::AzureProvider;
use multicloud_azure::emulator::{Emulator, EmulatorConfig};
use multicloud_azure::expand::resolve;
use multicloud_core::provider::CloudProvider;
use multicloud_core::resource::{ResourceGraph, ResourceId};
use multicloud_core::spec::{NodePool, NodeSize, Postgres, Redis, Rule, StackSpec, Tier};
use multicloud_core::testing::spec_checks::{bad_for, good_for, pool};

use super::{AZURE, azure};

const MULTICLOUD_YAML: &str = include_str!("../../../../examples/stacks/shop-multicloud.yaml");

/// The config of `id` in `graph`.
fn config<'g>(graph: &'g ResourceGraph, id: &str) -> &'g serde_json::Value {
    &graph
        .get(&ResourceId::from(id))
        .unwrap_or_else(|| panic!("{id} is not in the graph"))
        .config
}

#[tokio::test]
async fn the_multicloud_yaml_validates_and_expands_on_azure()
-> Result<(), Box<dyn std::error::Error>> {
    let spec = StackSpec::from_yaml(MULTICLOUD_YAML)?;
    let emu = Emulator::start(EmulatorConfig::default()).await?;
    let provider = AzureProvider::emulator(&emu).build()?;
    spec.validate_for(provider.naming_rules())?;
    let g = provider.expand(&spec)?;
    assert_eq!(config(&g, "resource_group/main")["location"], "westeurope");
    assert_eq!(config(&g, "vault_purge/main")["location"], "westeurope");
    // medium -> the table's size; the override wins over `large`.
    assert_eq!(
        config(&g, "node_pool/general")["pool"]["vm_size"],
        "Standard_D4s_v5"
    );
    assert_eq!(
        config(&g, "node_pool/batch")["pool"]["vm_size"],
        "Standard_F8s_v2"
    );
    // standard -> the table's SKU (the AWS override is not Azure's), its tier derived.
    let db = config(&g, "database/main");
    assert_eq!(
        (&db["sku"], &db["tier"]),
        (&"Standard_D2ds_v5".into(), &"GeneralPurpose".into())
    );
    assert_eq!(config(&g, "cache/main")["sku"], "Balanced_B0");
    assert_eq!(emu.requests().0, 0, "no request");
    assert_eq!(provider.api_calls().total(), 0, "no request");
    Ok(())
}

#[test]
fn the_neutral_tables_are_valid_azure_values() {
    let sizes: Vec<&str> = NodeSize::ALL.map(resolve::vm_size_of).to_vec();
    assert_eq!(
        sizes,
        [
            "Standard_D2s_v5",
            "Standard_D4s_v5",
            "Standard_D8s_v5",
            "Standard_D16s_v5"
        ]
    );
    let db: Vec<&str> = Tier::ALL.map(resolve::postgres_sku_of).to_vec();
    assert_eq!(
        db,
        ["Standard_B1ms", "Standard_D2ds_v5", "Standard_E4ds_v5"]
    );
    let tiers: Vec<&str> = db
        .iter()
        .map(|s| multicloud_azure::expand::compute::postgres_tier(s))
        .collect();
    assert_eq!(tiers, ["Burstable", "GeneralPurpose", "MemoryOptimized"]);
    let cache: Vec<&str> = Tier::ALL.map(resolve::redis_sku_of).to_vec();
    assert_eq!(cache, ["Balanced_B0", "Balanced_B5", "MemoryOptimized_M20"]);
    // Every entry passes Azure's own checks, given as Azure's override.
    for size in NodeSize::ALL {
        good_for(AZURE, |s| {
            azure(s);
            *pool(s) =
                NodePool::sized("general", size, 1, 2).azure_vm_size(resolve::vm_size_of(size));
        });
    }
    for tier in Tier::ALL {
        good_for(AZURE, |s| {
            azure(s);
            s.database = Some(Postgres::new("16").azure_sku(resolve::postgres_sku_of(tier)));
            s.cache = Some(Redis::new("7.1").azure_sku(resolve::redis_sku_of(tier)));
        });
    }
    // The provider's defaults are the dev tier's.
    let settings = multicloud_azure::expand::AzureSettings::default();
    assert_eq!(settings.postgres_sku, resolve::postgres_sku_of(Tier::Dev));
    assert_eq!(settings.redis_sku, resolve::redis_sku_of(Tier::Dev));
}

#[test]
fn overrides_win_then_the_single_cloud_field_then_the_size() {
    let at = |p: &NodePool| resolve::vm_size(p, 1).map(|r| (r.value, r.path));
    let p = NodePool::sized("general", NodeSize::Large, 1, 2);
    assert_eq!(
        at(&p),
        Ok((
            "Standard_D8s_v5".into(),
            "spec.cluster.node_pools[1].size".into()
        ))
    );
    let mut explicit = p.clone();
    explicit.instance_type = Some("Standard_B4ms".into());
    assert_eq!(at(&explicit).map(|r| r.0), Ok("Standard_B4ms".into()));
    let over = explicit
        .aws_instance_type("m6i.2xlarge")
        .azure_vm_size("Standard_F8s_v2");
    assert_eq!(
        at(&over),
        Ok((
            "Standard_F8s_v2".into(),
            "spec.cluster.node_pools[1].azure.vm_size".into()
        ))
    );
    let cache = Redis::new("7.1").tier(Tier::Production);
    assert_eq!(resolve::redis_sku(&cache, "x").value, "MemoryOptimized_M20");
    assert_eq!(
        resolve::redis_sku(&Redis::new("7.1"), "x").value,
        "x",
        "the setting"
    );
    let cache = cache.node_type("Balanced_B1").azure_sku("Balanced_B3");
    assert_eq!(resolve::redis_sku(&cache, "x").path, "spec.cache.azure.sku");
}

#[test]
fn values_azure_lacks_or_rejects_are_named_by_path() {
    // An AWS region as the Azure location: under `azure:`, or as the single-cloud `region`.
    let message = bad_for(
        AZURE,
        |s| {
            azure(s);
            s.azure.location = Some("us-east-1".into());
        },
        "spec.azure.location",
        Rule::Format,
    );
    assert!(
        message.contains("`us-east-1` is not an Azure location"),
        "{message}"
    );
    let message = bad_for(
        AZURE,
        |s| {
            azure(s);
            s.region = "us-east-1".into();
        },
        "spec.region",
        Rule::Format,
    );
    assert!(message.contains("azure.location"), "{message}");
    // The `region` is AWS's, the Azure override is right: fine.
    good_for(AZURE, |s| {
        azure(s);
        s.region = "us-east-1".into();
        s.azure.location = Some("westeurope".into());
    });
    // Only AWS's region: Azure's location is missing.
    bad_for(
        AZURE,
        |s| {
            azure(s);
            s.region.clear();
            s.aws.region = Some("us-east-1".into());
        },
        "spec.azure.location",
        Rule::Required,
    );
    // A pool with only AWS's instance type has no Azure VM size.
    let message = bad_for(
        AZURE,
        |s| {
            azure(s);
            pool(s).instance_type = None;
            pool(s).aws.instance_type = Some("m6i.xlarge".into());
        },
        "spec.cluster.node_pools[0].azure.vm_size",
        Rule::Required,
    );
    assert!(message.contains("Azure VM size"), "{message}");
    // AWS values under `azure:`.
    bad_for(
        AZURE,
        |s| {
            azure(s);
            pool(s).azure.vm_size = Some("t3.medium".into());
        },
        "spec.cluster.node_pools[0].azure.vm_size",
        Rule::Format,
    );
    bad_for(
        AZURE,
        |s| {
            azure(s);
            s.database = Some(Postgres::new("16").azure_sku("db.t3.micro"));
        },
        "spec.database.azure.sku",
        Rule::Format,
    );
    bad_for(
        AZURE,
        |s| {
            azure(s);
            s.cache = Some(Redis::new("7.1").azure_sku("cache.t3.micro"));
        },
        "spec.cache.azure.sku",
        Rule::Format,
    );
    // A single-cloud AWS node type on Azure names where Azure's value goes.
    let message = bad_for(
        AZURE,
        |s| {
            azure(s);
            s.cache = Some(Redis::new("7.1").node_type("cache.t4g.micro"));
        },
        "spec.cache.node_type",
        Rule::Format,
    );
    assert!(message.contains("azure.sku"), "{message}");
    // AWS's own values are not Azure's business.
    good_for(AZURE, |s| {
        azure(s);
        pool(s).aws.instance_type = Some("Standard_D4s_v5".into());
        s.database = Some(Postgres::new("16").aws_instance_class("Standard_B1ms"));
    });
}

#[tokio::test]
async fn expansion_refuses_a_spec_without_an_azure_location()
-> Result<(), Box<dyn std::error::Error>> {
    let mut spec = StackSpec::from_yaml(MULTICLOUD_YAML)?;
    spec.azure.location = None;
    let emu = Emulator::start(EmulatorConfig::default()).await?;
    let provider = AzureProvider::emulator(&emu).build()?;
    match provider.expand(&spec) {
        Err(multicloud_core::expand::ExpandError::Spec(e)) => {
            assert!(e.at("spec.azure.location").is_some(), "{e}")
        }
        other => panic!("expected a spec error, got {other:?}"),
    }
    Ok(())
}
