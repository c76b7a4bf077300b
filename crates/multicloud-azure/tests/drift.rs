//! Drift of the ARM kinds on the emulator, through the engine: the vnet's address space and
//! a subnet's delegation, the cluster's version and outbound type, the PostgreSQL server's
//! version and size, the Redis cache's public access, each changed in the emulator's store
//! behind ARM's back, are planned as updates naming each field (`old -> new`); `refresh`
//! notes them; `up` puts the bodies back and the next plan is a no-op.

mod support;

use multicloud_azure::expand::ids;
use multicloud_core::StackSpec;
use multicloud_core::plan::{Action, Plan};
use multicloud_core::provider::Observation;
use multicloud_core::refresh::RefreshStatus;
use multicloud_core::resource::ResourceId;
use multicloud_core::spec::{Postgres, Redis};
use serde_json::json;
use support::{TestResult, World, config, small_cluster, spec_in};

fn spec() -> StackSpec {
    spec_in("drift", "e2e")
        .cluster(small_cluster())
        .database(Postgres::new("16"))
        .cache(Redis::new("7.4"))
        .build_unchecked()
}

/// The ARM id `plan` observed for `id`.
fn arm_id(plan: &Plan, id: &ResourceId) -> Result<String, String> {
    match plan.observation(id) {
        Some(Observation::Present(o)) => o.provider_id.clone().ok_or(format!("{id}: no id")),
        other => Err(format!("{id} not observed: {other:?}")),
    }
}

/// The reason of the update `plan` makes of `id`, or an error saying what it plans.
fn update_reason(plan: &Plan, id: &ResourceId) -> Result<String, String> {
    match plan.action(id) {
        Some(a) if a.action == Action::Update => Ok(a.reason.clone()),
        other => Err(format!("{id}: {other:?}")),
    }
}

#[tokio::test]
async fn settings_changed_behind_arm_are_planned_field_by_field_and_up_puts_them_back() -> TestResult
{
    let world = World::start(config(std::time::Duration::ZERO), |b| b).await?;
    let stack = world.stack(spec());
    stack.up().await?;
    let plan = stack.plan().await?;
    assert!(plan.is_noop(), "no drift right after up: {plan}");
    let (vnet, cluster, db, cache) = (ids::vnet(), ids::cluster(), ids::database(), ids::cache());
    let ids = [&vnet, &cluster, &db, &cache].map(|id| arm_id(&plan, id));
    let [vnet_id, cluster_id, db_id, cache_id] = ids;
    let (vnet_id, cluster_id, db_id, cache_id) = (vnet_id?, cluster_id?, db_id?, cache_id?);
    let db_sku = world.emu.resource(&db_id).ok_or("no server")?["sku"]["name"].clone();

    let emu = &world.emu;
    let mut delegated = String::new();
    assert!(emu.edit_resource(&vnet_id, |b| {
        b["properties"]["addressSpace"]["addressPrefixes"] = json!(["10.9.0.0/16"]);
        let subnets = b["properties"]["subnets"]
            .as_array_mut()
            .into_iter()
            .flatten();
        for subnet in subnets {
            let delegations = &mut subnet["properties"]["delegations"];
            if delegations.as_array().is_some_and(|d| !d.is_empty()) {
                *delegations = json!([]);
                delegated = subnet["name"].as_str().unwrap_or_default().to_string();
            }
        }
    }));
    assert!(!delegated.is_empty(), "a delegated subnet");
    assert!(emu.edit_resource(&cluster_id, |b| {
        b["properties"]["kubernetesVersion"] = json!("1.32");
        b["properties"]["networkProfile"]["outboundType"] = json!("userDefinedRouting");
    }));
    assert!(emu.edit_resource(&db_id, |b| {
        b["properties"]["version"] = json!("17");
        b["sku"]["name"] = json!("Standard_D2ds_v5");
    }));
    assert!(emu.edit_resource(&cache_id, |b| {
        b["properties"]["publicNetworkAccess"] = json!("Enabled");
    }));

    let plan = stack.plan().await?;
    assert_eq!(
        update_reason(&plan, &vnet)?,
        format!(
            "drifted outside the stack: properties.addressSpace.addressPrefixes: \
             [\"10.0.0.0/16\"] -> [\"10.9.0.0/16\"]; \
             properties.subnets[{delegated}].properties.delegations[delegation]: present -> (none)"
        )
    );
    assert_eq!(
        update_reason(&plan, &cluster)?,
        "drifted outside the stack: properties.kubernetesVersion: 1.31 -> 1.32; \
         properties.networkProfile.outboundType: loadBalancer -> userDefinedRouting"
    );
    assert_eq!(
        update_reason(&plan, &db)?,
        format!(
            "drifted outside the stack: sku.name: {} -> Standard_D2ds_v5; \
             properties.version: 16 -> 17",
            db_sku.as_str().ok_or("sku")?
        )
    );
    assert_eq!(
        update_reason(&plan, &cache)?,
        "drifted outside the stack: properties.publicNetworkAccess: Disabled -> Enabled"
    );
    assert_eq!(plan.summary().changes(), 4, "{plan}");

    let report = stack.refresh().await?;
    for id in [&vnet, &cluster, &db, &cache] {
        assert!(
            matches!(
                report.status(id),
                Some(RefreshStatus::Changed { drift: Some(_), .. })
            ),
            "{id}: {report}"
        );
    }

    stack.up().await?;
    let body = |id: &str| world.emu.resource(id).ok_or(format!("{id} gone"));
    let vnet_body = body(&vnet_id)?;
    assert_eq!(
        vnet_body["properties"]["addressSpace"]["addressPrefixes"],
        json!(["10.0.0.0/16"])
    );
    let subnets = vnet_body["properties"]["subnets"]
        .as_array()
        .ok_or("subnets")?;
    assert!(
        subnets
            .iter()
            .any(|s| s["name"] == delegated.as_str() && s["properties"]["delegations"] != json!([])),
        "{subnets:?}"
    );
    assert_eq!(
        body(&cluster_id)?["properties"]["kubernetesVersion"],
        "1.31"
    );
    assert_eq!(body(&db_id)?["properties"]["version"], "16");
    assert_eq!(
        body(&cache_id)?["properties"]["publicNetworkAccess"],
        "Disabled"
    );
    let plan = stack.plan().await?;
    assert!(plan.is_noop(), "put back: {plan}");
    stack.down().await?;
    Ok(())
}
