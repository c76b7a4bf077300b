//! The provider's guards and its sweeper on the emulator: bad input refused with typed
//! errors before any request, foreign resources refused, and the sweeper (dry run, then
//! for real) finding a stack's resource group, what is in it and its soft-deleted vault.

mod support;

use std::time::Duration;

use azure_core::http::Method;
use multicloud_azure::sweeper::{DELETED_VAULT_TYPE, RESOURCE_GROUP_TYPE, SweepFilter};
use multicloud_core::spec::{Cluster, Network, NodePool, RegistrySpec, Rule, SecretSpec};
use multicloud_core::{Error, StackSpec};
use serde_json::json;
use support::{TestResult, World, config};

fn spec(name: &str, pool: &str, region: &str) -> StackSpec {
    StackSpec::builder(name)
        .environment("t6")
        .region(region)
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(NodePool::new(pool, "Standard_D4s_v5", 1, 2)))
        .registry(RegistrySpec::new("api"))
        .secret(SecretSpec::generated("token", 16))
        .build_unchecked()
}

/// What a case does to the provider builder.
type Build =
    Box<dyn Fn(multicloud_azure::AzureProviderBuilder) -> multicloud_azure::AzureProviderBuilder>;

/// The path and rule of the one error of a refused plan.
fn refused(result: Result<multicloud_core::plan::Plan, Error>) -> (String, Rule) {
    match result {
        Err(Error::Spec(errors)) => {
            let e = &errors.errors()[0];
            (e.path.clone(), e.rule)
        }
        other => panic!("expected a spec error, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_typed_errors_before_any_request() -> TestResult {
    let cases: Vec<(&str, Build, StackSpec, &str)> = vec![
        (
            "vault of 2",
            Box::new(|b| b.key_vault_name("kv")),
            spec("bad", "apps", "westeurope"),
            "azure.key_vault_name",
        ),
        (
            "vault of 25",
            Box::new(|b| b.key_vault_name("a".repeat(25))),
            spec("bad", "apps", "westeurope"),
            "azure.key_vault_name",
        ),
        (
            "ACR with a dash",
            Box::new(|b| b.registry_name("my-registry")),
            spec("bad", "apps", "westeurope"),
            "azure.registry_name",
        ),
        (
            "pool of 13",
            Box::new(|b| b),
            spec("bad", "abcdefghijklm", "westeurope"),
            "spec.cluster.node_pools[0].name",
        ),
        (
            "no location",
            Box::new(|b| b),
            spec("bad", "apps", ""),
            "spec.region",
        ),
    ];
    for (what, build, spec, path) in cases {
        let world = World::start(config(Duration::ZERO), build).await?;
        let (at, _rule) = refused(world.stack(spec).plan().await);
        assert_eq!(at, path, "{what}");
        assert_eq!(world.emu.requests().0, 0, "{what}: no request was made");
        assert_eq!(world.provider.api_calls().total(), 0, "{what}");
    }
    Ok(())
}

#[tokio::test]
async fn every_declared_kind_has_exactly_one_row_of_ops() -> TestResult {
    use multicloud_core::provider::CloudProvider;
    use multicloud_core::resource::ResourceKind;
    let world = World::start(config(Duration::ZERO), |b| b).await?;
    let provider = world.provider.as_ref();
    assert_eq!(
        provider.kinds(),
        multicloud_azure::kinds::defs(),
        "rows in declaration order"
    );
    for def in multicloud_azure::kinds::defs() {
        assert!(provider.ops(def.kind).is_some(), "{} has ops", def.kind);
    }
    assert!(
        provider.ops(ResourceKind::NAMESPACE).is_none(),
        "workload kinds are not Azure's"
    );
    let updatable = |k| provider.ops(k).is_some_and(|o| o.supports_update());
    assert!(updatable(multicloud_azure::kinds::VIRTUAL_NETWORK));
    assert!(!updatable(multicloud_azure::kinds::VAULT_PURGE));
    assert!(
        !updatable(multicloud_azure::kinds::ROLE_ASSIGNMENT),
        "a role assignment is replaced"
    );
    Ok(())
}

#[tokio::test]
async fn a_foreign_resource_under_our_name_is_refused() -> TestResult {
    let world = World::start(config(Duration::ZERO), |b| b).await?;
    let arm = world.provider.arm();
    let rg = format!(
        "/subscriptions/{}/resourceGroups/theirs-t6-rg",
        world.emu.subscription()
    );
    let url = arm.url(&rg, multicloud_azure::arm::api_versions::RESOURCES)?;
    arm.send(
        Method::Put,
        url,
        Some(&json!({"location": "westeurope", "tags": {"owner": "someone"}})),
    )
    .await?
    .error_for_status()?;
    match world.stack(spec("theirs", "apps", "westeurope")).up().await {
        Err(Error::ForeignResources { resources }) => {
            assert_eq!(resources[0].1, "theirs-t6-rg", "{resources:?}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let group = world.emu.resource(&rg).ok_or("the group is still there")?;
    assert_eq!(group["tags"], json!({"owner": "someone"}), "untouched");
    Ok(())
}

#[tokio::test]
async fn the_sweeper_finds_expired_stacks_and_purges_their_vaults() -> TestResult {
    // Lists of two items a page: the sweeper must follow every `nextLink`.
    let mut emulator = config(Duration::from_millis(100));
    emulator.page_size = 2;
    let world = World::start(emulator, |b| b).await?;
    let mut s = spec("old", "apps", "westeurope");
    s.ttl = Some(Duration::from_secs(600));
    world.stack(s).up().await?;
    let poller = multicloud_azure::emulator::engine_options().poller;
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let none = world
        .provider
        .sweep(&SweepFilter::expired(chrono::Utc::now()), true, &poller)
        .await?;
    assert!(none.is_empty(), "nothing expired yet: {none:?}");

    let dry = world
        .provider
        .sweep(&SweepFilter::expired(later), true, &poller)
        .await?;
    let groups: Vec<_> = dry.found_of(RESOURCE_GROUP_TYPE).collect();
    assert_eq!(groups.len(), 1);
    assert!(groups[0].id.ends_with("/resourceGroups/old-t6-rg"));
    let kinds: Vec<&str> = dry
        .found
        .iter()
        .filter(|f| f.parent.as_deref() == Some(groups[0].id.as_str()))
        .map(|f| f.kind.as_str())
        .collect();
    for kind in [
        "Microsoft.Network/virtualNetworks",
        "Microsoft.ContainerService/managedClusters",
        "Microsoft.ContainerRegistry/registries",
        "Microsoft.KeyVault/vaults",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(dry.dry_run && dry.deleted.is_empty(), "{dry:?}");
    let rg = groups[0].id.clone();
    assert!(
        world.emu.resource(&rg).is_some(),
        "a dry run deletes nothing"
    );

    let done = world
        .provider
        .sweep(&SweepFilter::expired(later), false, &poller)
        .await?;
    assert!(!done.deleted.is_empty() && done.is_clean(), "{done:?}");
    assert!(world.emu.resource(&rg).is_none());
    let after = world
        .provider
        .sweep(&SweepFilter::expired(later), true, &poller)
        .await?;
    assert!(after.is_empty(), "the vault was purged too: {after:?}");
    assert_eq!(done.deleted_of(DELETED_VAULT_TYPE).count(), 1, "{done:?}");
    Ok(())
}
