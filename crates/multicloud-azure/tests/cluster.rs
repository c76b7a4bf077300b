//! AKS on the emulator: the managed cluster with its system pool, OIDC issuer and workload
//! identity on, local accounts off when asked, user agent pools from the spec's node pools,
//! and `ClusterOps::credentials` from `listClusterUserCredential`, whose kubeconfig a test
//! points at its own API server.

mod support;

use std::time::Duration;

use multicloud_azure::emulator::ClusterAccess;
use multicloud_core::StackSpec;
use multicloud_core::plan::Action;
use multicloud_core::provider::{CloudProvider, Outputs};
use multicloud_core::spec::{Cluster, NodePool};
use support::{TestResult, World, config, spec_in};

fn spec() -> StackSpec {
    spec_in("aks", "t4")
        .cluster(
            Cluster::new("1.31")
                .node_pool(NodePool::new("general", "Standard_D4s_v5", 2, 5))
                .node_pool(NodePool::new("batch", "Standard_D8s_v5", 0, 3)),
        )
        .build_unchecked()
}

#[tokio::test]
async fn cluster_pools_and_credentials_from_the_user_kubeconfig() -> TestResult {
    let world = World::start(config(Duration::from_millis(300)), |b| {
        b.disable_local_accounts(true)
    })
    .await?;
    world.emu.set_cluster_access(ClusterAccess {
        server: "https://127.0.0.1:6443".into(),
        ca_data: "TE9DQUwgQ0E=".into(),
        token: "local-admin-token".into(),
    });
    let stack = world.stack(spec());
    let out = stack.up().await?;
    let rg = format!(
        "/subscriptions/{}/resourceGroups/aks-t4-rg",
        world.emu.subscription()
    );
    let id = format!("{rg}/providers/Microsoft.ContainerService/managedClusters/aks-t4");
    let aks = world.emu.resource(&id).ok_or("no cluster")?;
    let p = &aks["properties"];
    assert_eq!(p["kubernetesVersion"], "1.31");
    assert_eq!(p["oidcIssuerProfile"]["enabled"], true);
    assert_eq!(p["securityProfile"]["workloadIdentity"]["enabled"], true);
    assert_eq!(p["disableLocalAccounts"], true);
    assert_eq!(p["aadProfile"]["enableAzureRBAC"], true);
    assert_eq!(aks["identity"]["type"], "SystemAssigned");
    let system = &p["agentPoolProfiles"][0];
    assert_eq!(system["name"], "system");
    assert_eq!(system["mode"], "System");
    let vnet = format!("{rg}/providers/Microsoft.Network/virtualNetworks/aks-t4-vnet");
    assert_eq!(system["vnetSubnetID"], format!("{vnet}/subnets/cluster"));
    assert_eq!(aks["tags"]["multicloud:stack"], "aks");

    for (name, size, min, max, count) in [
        ("general", "Standard_D4s_v5", 2, 5, 2),
        ("batch", "Standard_D8s_v5", 0, 3, 0),
    ] {
        let pool = world
            .emu
            .resource(&format!("{id}/agentPools/{name}"))
            .ok_or("no pool")?;
        let pp = &pool["properties"];
        assert_eq!(pp["mode"], "User", "{name}");
        assert_eq!(pp["vmSize"], size);
        assert_eq!(
            (pp["minCount"].as_u64(), pp["maxCount"].as_u64()),
            (Some(min), Some(max))
        );
        assert_eq!(pp["count"].as_u64(), Some(count));
        assert_eq!(pp["tags"]["multicloud:env"], "t4");
    }

    let cluster = out.cluster.ok_or("no cluster output")?;
    assert_eq!(cluster.id, id);
    assert!(
        cluster.endpoint.starts_with("https://aks-t4-")
            && cluster.endpoint.ends_with(".hcp.westeurope.azmk8s.io")
    );
    assert_eq!(
        cluster.ca_data, "TE9DQUwgQ0E=",
        "the CA of the user kubeconfig"
    );
    assert!(
        cluster
            .oidc_issuer
            .is_some_and(|i| i.starts_with("https://westeurope.oic.prod-aks.azure.com/"))
    );

    let creds = world
        .provider
        .cluster()
        .credentials(&Outputs::of(&serde_json::json!({"id": id}))?)
        .await?;
    assert_eq!(creds.endpoint, "https://127.0.0.1:6443");
    assert_eq!(creds.ca_data, "TE9DQUwgQ0E=");
    assert_eq!(
        creds.token().map(|t| t.expose().to_string()).as_deref(),
        Some("local-admin-token")
    );

    // A changed pool is updated in place (one PUT), nothing else changes.
    let mut changed = spec();
    if let Some(c) = changed.cluster.as_mut() {
        c.node_pools[0].max = 6;
    }
    let stack = world.stack(changed);
    let plan = stack.plan().await?;
    let changes: Vec<(String, Action)> = plan
        .actions
        .iter()
        .filter(|a| a.action != Action::NoOp)
        .map(|a| (a.id.to_string(), a.action))
        .collect();
    assert_eq!(changes, [("node_pool/general".to_string(), Action::Update)]);
    world.provider.api_calls().reset();
    stack.up().await?;
    let puts = world.provider.api_calls().snapshot();
    assert_eq!(
        puts.get("Microsoft.ContainerService/managedClusters/agentPools.PUT"),
        Some(&1)
    );
    let pool = world
        .emu
        .resource(&format!("{id}/agentPools/general"))
        .ok_or("no pool")?;
    assert_eq!(pool["properties"]["maxCount"].as_u64(), Some(6));

    stack.down().await?;
    assert!(world.emu.resource(&id).is_none());
    Ok(())
}
