//! The whole stack on the emulator with non-zero operation durations, through
//! `Stack::new(spec, AzureProvider)`: up -> outputs complete -> re-up is a no-op (one read
//! per resource) -> state deleted -> up adopts everything -> down -> the sweeper finds
//! nothing -> the same vault name works again at once; and the same with 10 % of requests
//! answered 429/503.

mod support;

use std::time::{Duration, Instant};

use multicloud_azure::emulator::EmulatorArmClient;
use multicloud_azure::roles::{ACR_PULL, KEY_VAULT_SECRETS_USER, role_definition_id};
use multicloud_azure::sweeper::SweepFilter;
use multicloud_core::StackSpec;
use multicloud_core::plan::Action;
use multicloud_core::spec::{Postgres, Redis, RegistrySpec, SecretSpec, WorkloadIdentity};
use support::{TestResult, World, config, options, small_cluster, spec_in};

/// A spec with every part.
pub fn full_spec(name: &str) -> StackSpec {
    spec_in(name, "e2e")
        .cluster(small_cluster())
        .database(Postgres::new("16"))
        .cache(Redis::new("7.4"))
        .registry(RegistrySpec::new("api"))
        .secret(SecretSpec::generated("api-token", 32))
        .workload_identity(
            WorkloadIdentity::new("shop", "api")
                .can_read_secret("api-token")
                .can_pull("api"),
        )
        .build_unchecked()
}

/// Asserts a sweep of `<stack>/e2e` (deleting, polling as the tests' engine options do)
/// finds nothing left.
async fn assert_nothing_left(world: &World, stack: &str) -> TestResult {
    let left = world
        .provider
        .sweep(&SweepFilter::stack(stack, "e2e"), true, &options().poller)
        .await?;
    assert!(left.is_empty(), "{left:?}");
    Ok(())
}

fn calls_of(world: &World, method: &str) -> u64 {
    world
        .provider
        .api_calls()
        .snapshot()
        .iter()
        .filter(|(k, _)| k.ends_with(&format!(".{method}")))
        .map(|(_, v)| v)
        .sum()
}

/// Federated credential and role assignments exactly.
fn assert_identity_wiring(world: &World, issuer: &str) -> TestResult {
    let sub = world.emu.subscription();
    let rg = format!("/subscriptions/{sub}/resourceGroups/full-e2e-rg");
    let mi_id = format!(
        "{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/full-e2e-shop-api"
    );
    let fic = world
        .emu
        .resource(&format!(
            "{mi_id}/federatedIdentityCredentials/kubernetes-shop-api"
        ))
        .ok_or("no federated credential")?;
    assert_eq!(fic["properties"]["issuer"], issuer);
    assert_eq!(
        fic["properties"]["subject"],
        "system:serviceaccount:shop:api"
    );
    assert_eq!(
        fic["properties"]["audiences"],
        serde_json::json!(["api://AzureADTokenExchange"])
    );
    let principal =
        world.emu.resource(&mi_id).ok_or("no identity")?["properties"]["principalId"].clone();
    let aks = world
        .emu
        .resource(&format!(
            "{rg}/providers/Microsoft.ContainerService/managedClusters/full-e2e"
        ))
        .ok_or("no cluster")?;
    let kubelet = aks["properties"]["identityProfile"]["kubeletidentity"]["objectId"].clone();
    let acr = format!("{rg}/providers/Microsoft.ContainerRegistry/registries/fulle2eacr");
    let vault = format!("{rg}/providers/Microsoft.KeyVault/vaults/full-e2e-kv");
    let mut got = Vec::new();
    for scope in [&acr, &vault] {
        for id in world.emu.children(&format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments"
        )) {
            let r = world.emu.resource(&id).ok_or("gone")?;
            got.push((
                r["properties"]["scope"].clone(),
                r["properties"]["roleDefinitionId"].clone(),
                r["properties"]["principalId"].clone(),
            ));
        }
    }
    got.sort_by_key(|t| format!("{t:?}"));
    let mut want = vec![
        (
            acr.clone().into(),
            role_definition_id(&sub, ACR_PULL.1).into(),
            kubelet,
        ),
        (
            acr.clone().into(),
            role_definition_id(&sub, ACR_PULL.1).into(),
            principal.clone(),
        ),
        (
            vault.into(),
            role_definition_id(&sub, KEY_VAULT_SECRETS_USER.1).into(),
            principal,
        ),
    ];
    want.sort_by_key(
        |t: &(serde_json::Value, serde_json::Value, serde_json::Value)| format!("{t:?}"),
    );
    assert_eq!(got, want);
    Ok(())
}

/// The cache of stack `<name>/e2e` takes no public traffic and is reached through a private
/// endpoint in the cluster subnet whose DNS zone group names the `privatelink` zone, which
/// is linked to the stack's virtual network.
fn assert_cache_private(world: &World, name: &str) -> TestResult {
    let rg = format!(
        "/subscriptions/{}/resourceGroups/{name}-e2e-rg/providers",
        world.emu.subscription()
    );
    let one = |path: String| -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let ids = world.emu.children(&path);
        let [id] = ids.as_slice() else {
            return Err(format!("one resource expected under {path}: {ids:?}").into());
        };
        world.emu.resource(id).ok_or_else(|| id.to_string().into())
    };
    let cache = one(format!("{rg}/Microsoft.Cache/redisEnterprise"))?;
    assert_eq!(cache["properties"]["publicNetworkAccess"], "Disabled");
    let vnet = one(format!("{rg}/Microsoft.Network/virtualNetworks"))?;
    let endpoint = one(format!("{rg}/Microsoft.Network/privateEndpoints"))?;
    let props = &endpoint["properties"];
    assert_eq!(
        props["subnet"]["id"],
        format!("{}/subnets/cluster", vnet["id"].as_str().ok_or("vnet id")?)
    );
    let connection = &props["privateLinkServiceConnections"][0]["properties"];
    assert_eq!(connection["privateLinkServiceId"], cache["id"]);
    assert_eq!(
        connection["groupIds"],
        serde_json::json!(["redisEnterprise"])
    );
    assert_eq!(
        connection["privateLinkServiceConnectionState"]["status"],
        "Approved"
    );
    let zone = world
        .emu
        .resource(&format!(
            "{rg}/Microsoft.Network/privateDnsZones/privatelink.redis.azure.net"
        ))
        .ok_or("privatelink zone")?;
    let group = one(format!(
        "{}/privateDnsZoneGroups",
        endpoint["id"].as_str().ok_or("endpoint id")?
    ))?;
    assert_eq!(
        group["properties"]["privateDnsZoneConfigs"][0]["properties"]["privateDnsZoneId"],
        zone["id"]
    );
    let links = world.emu.children(&format!(
        "{}/virtualNetworkLinks",
        zone["id"].as_str().ok_or("zone id")?
    ));
    let [link] = links.as_slice() else {
        return Err(format!("one link expected: {links:?}").into());
    };
    let link = world.emu.resource(link).ok_or("link")?;
    assert_eq!(link["properties"]["virtualNetwork"]["id"], vnet["id"]);
    Ok(())
}

#[tokio::test]
async fn up_noop_adopt_down_sweep_and_the_vault_name_again() -> TestResult {
    let world = World::start(config(Duration::from_millis(400)), |b| b).await?;
    let stack = world.stack(full_spec("full"));
    // On an empty subscription everything is a create; the vault-name purge is shown as the
    // internal step it is, not as an adoption of something that is not there.
    let first = stack.plan().await?;
    assert_eq!(first.summary().create, first.actions.len(), "{first}");
    let purge = first
        .action(&multicloud_azure::expand::ids::vault_purge())
        .ok_or("vault_purge planned")?;
    assert!(purge.reason.starts_with("internal step: purge"), "{first}");
    let started = Instant::now();
    let out = stack.up().await?;
    let up_time = started.elapsed();
    let up_calls = world.provider.api_calls().total();

    // Outputs complete.
    let cluster = out.cluster.clone().ok_or("cluster")?;
    assert!(!cluster.ca_data.is_empty() && cluster.endpoint.starts_with("https://"));
    let issuer = cluster.oidc_issuer.clone().ok_or("issuer")?;
    let db = out.database.clone().ok_or("database")?;
    assert_eq!(db.password_secret, "full-e2e-kv/database-admin-password");
    assert_eq!(out.cache.as_ref().map(|c| c.port), Some(10000));
    assert_eq!(out.registries["api"].url, "fulle2eacr.azurecr.io/api");
    assert!(
        out.secrets["api-token"]
            .id
            .starts_with("https://full-e2e-kv.vault.azure.net/secrets/api-token/")
    );
    let identity = &out.identities["shop-api"];
    assert_eq!(
        identity.subject.as_deref(),
        Some("system:serviceaccount:shop:api")
    );
    assert_identity_wiring(&world, &issuer)?;
    assert_cache_private(&world, "full")?;

    // Re-up: a no-op, one read per resource.
    world.provider.api_calls().reset();
    let plan = stack.plan().await?;
    assert!(plan.is_noop(), "{:?}", plan.summary());
    let resources = plan.actions.len() as u64;
    assert_eq!(
        world.provider.api_calls().total(),
        resources,
        "{:?}",
        world.provider.api_calls().snapshot()
    );
    assert_eq!(world.provider.api_calls().mutating(), 0);
    let noop_calls = resources;
    world.provider.api_calls().reset();
    assert_eq!(stack.up().await?, out);
    assert_eq!(world.provider.api_calls().mutating(), 0);

    // State deleted: up adopts everything, nothing is created.
    std::fs::remove_dir_all(world.dir.path())?;
    std::fs::create_dir_all(world.dir.path())?;
    world.provider.api_calls().reset();
    let plan = stack.plan().await?;
    assert!(
        plan.actions.iter().all(|a| a.action == Action::Adopt
            || (a.action == Action::Create && a.reason.starts_with("internal step"))),
        "{plan}"
    );
    let adopted = stack.up().await?;
    assert_eq!(adopted.database, out.database);
    assert_eq!(
        adopted.cluster.map(|c| c.ca_data),
        Some(cluster.ca_data.clone())
    );
    assert_eq!(
        calls_of(&world, "PUT") + calls_of(&world, "DELETE"),
        0,
        "{:?}",
        world.provider.api_calls().snapshot()
    );

    // Down, then nothing left for the sweeper.
    world.provider.api_calls().reset();
    let started = Instant::now();
    stack.down().await?;
    let down_time = started.elapsed();
    let down_calls = world.provider.api_calls().total();
    assert_nothing_left(&world, "full").await?;

    // The same vault name works again at once.
    let again = world.stack(
        StackSpec::builder("full")
            .environment("e2e")
            .region("westeurope")
            .secret(SecretSpec::generated("api-token", 32))
            .build_unchecked(),
    );
    let out2 = again.up().await?;
    assert!(out2.secrets["api-token"].name.starts_with("full-e2e-kv/"));
    again.down().await?;
    eprintln!(
        "azure e2e: {resources} resources; up {up_time:.1?} ({up_calls} calls), no-op plan {noop_calls} calls, down {down_time:.1?} ({down_calls} calls)"
    );
    Ok(())
}

#[tokio::test]
async fn ten_percent_throttling_and_unavailability_still_converge() -> TestResult {
    let mut cfg = config(Duration::from_millis(300));
    cfg.fault_rate = 0.10;
    cfg.seed = 11;
    let world = World::start(cfg, |b| b).await?;
    let stack = world.stack(full_spec("faulty"));
    let out = stack.up().await?;
    assert!(out.cluster.is_some() && out.database.is_some() && out.cache.is_some());
    assert!(stack.plan().await?.is_noop());
    stack.down().await?;
    let (requests, faults) = world.emu.requests();
    assert!(faults > 0, "{faults} of {requests}");
    world.emu.set_fault_rate(0.0);
    assert_nothing_left(&world, "faulty").await?;
    eprintln!("10% faults: {faults} of {requests} requests injected; converged");
    Ok(())
}

#[tokio::test]
async fn a_vault_refusing_its_data_plane_while_a_new_role_propagates_is_waited_out() -> TestResult {
    let mut cfg = config(Duration::ZERO);
    cfg.rbac_propagation = Duration::from_secs(1);
    let deployer = "00000000-0000-0000-0000-0000000000d1";
    let world = World::start(cfg, |b| b.deployer(deployer, "ServicePrincipal")).await?;
    let stack = world.stack(
        StackSpec::builder("rbac")
            .environment("e2e")
            .region("westeurope")
            .secret(SecretSpec::generated("api-token", 32))
            .build_unchecked(),
    );
    // The secret is written right after the deployer's `Key Vault Secrets Officer` grant on
    // the vault: Key Vault answers 403 `ForbiddenByRbac` until the grant has propagated.
    let out = stack.up().await?;
    assert!(out.secrets.contains_key("api-token"), "{:?}", out.secrets);
    let refused = world.emu.rbac_refusals();
    assert!(refused > 0, "no request met the propagation window");
    assert!(stack.plan().await?.is_noop());
    stack.down().await?;
    eprintln!("rbac propagation: {refused} data-plane request(s) refused, then the grant held");
    Ok(())
}

#[tokio::test]
async fn an_admin_user_turned_on_out_of_band_is_drift_and_up_turns_it_off() -> TestResult {
    let world = World::start(config(Duration::ZERO), |b| b).await?;
    let spec = StackSpec::builder("drift")
        .environment("e2e")
        .region("westeurope")
        .registry(RegistrySpec::new("api"))
        .build_unchecked();
    let stack = world.stack(spec);
    stack.up().await?;
    let sub = world.emu.subscription();
    let registries = world.emu.children(&format!(
        "/subscriptions/{sub}/resourceGroups/drift-e2e-rg/providers/Microsoft.ContainerRegistry/registries"
    ));
    let [acr] = registries.as_slice() else {
        return Err(format!("one registry expected: {registries:?}").into());
    };
    // Someone enables the admin user in the portal.
    let arm = world.emu.arm_client()?;
    let mut body = world.emu.resource(acr).ok_or("no registry")?;
    body["properties"]["adminUserEnabled"] = serde_json::json!(true);
    let url = arm.url(acr, multicloud_azure::arm::api_versions::CONTAINER_REGISTRY)?;
    arm.send(azure_core::http::Method::Put, url, Some(&body))
        .await?
        .error_for_status()?;

    let plan = stack.plan().await?;
    let changed: Vec<_> = plan
        .actions
        .iter()
        .filter(|a| a.action != Action::NoOp)
        .map(|a| (a.id.to_string(), a.action, a.reason.clone()))
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0].1, Action::Update, "{changed:?}");
    assert!(changed[0].2.contains("drifted"), "{changed:?}");
    stack.up().await?;
    let live = world.emu.resource(acr).ok_or("no registry")?;
    assert_eq!(live["properties"]["adminUserEnabled"], false);
    assert!(stack.plan().await?.is_noop());
    stack.down().await?;
    Ok(())
}

#[tokio::test]
async fn a_resource_whose_provisioning_failed_is_put_again_not_adopted() -> TestResult {
    use multicloud_azure::emulator::Outcome;
    use multicloud_core::resource::ResourceId;
    let world = World::start(config(Duration::ZERO), |b| b).await?;
    let spec = StackSpec::builder("failed")
        .environment("e2e")
        .region("westeurope")
        .registry(RegistrySpec::new("api"))
        .build_unchecked();
    let stack = world.stack(spec);
    world.emu.fail_next(
        "Microsoft.ContainerRegistry/registries",
        Outcome::Fail {
            code: "InvalidParameter".into(),
            message: "The registry could not be provisioned.".into(),
        },
    );
    assert!(
        stack.up().await.is_err(),
        "the registry's provisioning fails"
    );
    let sub = world.emu.subscription();
    let registries = world.emu.children(&format!(
        "/subscriptions/{sub}/resourceGroups/failed-e2e-rg/providers/Microsoft.ContainerRegistry/registries"
    ));
    let [acr] = registries.as_slice() else {
        return Err(format!("one registry expected: {registries:?}").into());
    };
    let state = |emu: &multicloud_azure::emulator::Emulator| {
        emu.resource(acr)
            .map(|r| r["properties"]["provisioningState"].clone())
    };
    assert_eq!(state(&world.emu), Some(serde_json::json!("Failed")));

    // The next plan says what is wrong and repairs it; it never adopts it as it is.
    let plan = stack.plan().await?;
    let registry = plan
        .action(&ResourceId::from("container_registry/main"))
        .ok_or("registry planned")?;
    assert!(
        matches!(registry.action, Action::Update | Action::Replace),
        "{plan}"
    );
    assert!(
        registry.reason.contains("provisioningState Failed"),
        "{plan}"
    );
    stack.up().await?;
    assert_eq!(state(&world.emu), Some(serde_json::json!("Succeeded")));
    assert!(stack.plan().await?.is_noop());
    stack.down().await?;
    Ok(())
}
