//! The network on the emulator: the resource group, the virtual network with the cluster
//! subnet and the subnet delegated to PostgreSQL flexible servers, the private DNS zone
//! `<server>.private.postgres.database.azure.com` and its link to the virtual network, with
//! the shapes of `VirtualNetworkCreateSubnetWithDelegation.json`, `PrivateZonePut.json` and
//! `VirtualNetworkLinkPut.json`; everything tagged; teardown removes it all.

mod support;

use std::time::Duration;

use multicloud_core::StackSpec;
use multicloud_core::spec::{Network, Postgres};
use serde_json::json;
use support::{TestResult, World, config, spec_in};

fn spec() -> StackSpec {
    spec_in("net", "t2")
        .database(Postgres::new("16"))
        .build_unchecked()
}

#[tokio::test]
async fn vnet_delegated_subnet_private_dns_zone_and_link() -> TestResult {
    let world = World::start(config(Duration::from_millis(300)), |b| b).await?;
    let stack = world.stack(spec());
    stack.up().await?;
    let rg = format!(
        "/subscriptions/{}/resourceGroups/net-t2-rg",
        world.emu.subscription()
    );
    let group = world.emu.resource(&rg).ok_or("no resource group")?;
    assert_eq!(group["location"], "westeurope");
    assert_eq!(group["tags"]["multicloud:env"], "t2");

    let vnet_id = format!("{rg}/providers/Microsoft.Network/virtualNetworks/net-t2-vnet");
    let vnet = world.emu.resource(&vnet_id).ok_or("no vnet")?;
    assert_eq!(
        vnet["properties"]["addressSpace"]["addressPrefixes"],
        json!(["10.0.0.0/16"])
    );
    let subnets = &vnet["properties"]["subnets"];
    assert_eq!(subnets[0]["name"], "cluster");
    assert_eq!(subnets[0]["properties"]["addressPrefix"], "10.0.16.0/20");
    assert_eq!(subnets[0]["properties"]["delegations"], json!([]));
    assert_eq!(subnets[1]["name"], "database");
    assert_eq!(subnets[1]["properties"]["addressPrefix"], "10.0.32.0/20");
    assert_eq!(
        subnets[1]["properties"]["delegations"][0]["properties"]["serviceName"],
        "Microsoft.DBforPostgreSQL/flexibleServers"
    );
    assert_eq!(vnet["tags"]["multicloud:stack"], "net");

    let zone_name = "net-t2-pg.private.postgres.database.azure.com";
    let zone_id = format!("{rg}/providers/Microsoft.Network/privateDnsZones/{zone_name}");
    let zone = world.emu.resource(&zone_id).ok_or("no zone")?;
    assert_eq!(zone["location"], "global");
    assert_eq!(zone["tags"]["multicloud:stack"], "net");
    let link = world
        .emu
        .resource(&format!("{zone_id}/virtualNetworkLinks/net-t2-link"))
        .ok_or("no link")?;
    assert_eq!(link["location"], "global");
    assert_eq!(link["properties"]["virtualNetwork"]["id"], vnet_id.as_str());
    assert_eq!(link["properties"]["registrationEnabled"], false);

    // The server uses exactly the delegated subnet and the zone, with public access off.
    let server = world
        .emu
        .resource(&format!(
            "{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/net-t2-pg"
        ))
        .ok_or("no server")?;
    let network = &server["properties"]["network"];
    assert_eq!(
        network["delegatedSubnetResourceId"],
        format!("{vnet_id}/subnets/database")
    );
    assert_eq!(network["privateDnsZoneArmResourceId"], zone_id.as_str());
    assert_eq!(network["publicNetworkAccess"], "Disabled");

    stack.down().await?;
    assert!(world.emu.resource(&rg).is_none(), "resource group deleted");
    assert!(world.emu.resource(&vnet_id).is_none());
    Ok(())
}

#[tokio::test]
async fn nodes_leave_through_a_nat_gateway_when_the_spec_asks() -> TestResult {
    use multicloud_core::plan::Action;
    use multicloud_core::spec::{AksOutbound, Cluster, NodePool};
    let spec = StackSpec::builder("nat")
        .environment("t3")
        .region("westeurope")
        .network(Network::default().aks_outbound(AksOutbound::NatGateway))
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "Standard_D4s_v5", 1, 2)))
        .build()?;
    let world = World::start(config(Duration::from_millis(300)), |b| b).await?;
    let stack = world.stack(spec);
    stack.up().await?;
    let rg = format!(
        "/subscriptions/{}/resourceGroups/nat-t3-rg",
        world.emu.subscription()
    );
    let ip_id = format!("{rg}/providers/Microsoft.Network/publicIPAddresses/nat-t3-nat-ip");
    let ip = world.emu.resource(&ip_id).ok_or("no public IP")?;
    assert_eq!(ip["sku"]["name"], "Standard");
    assert_eq!(ip["properties"]["publicIPAllocationMethod"], "Static");
    assert_eq!(ip["tags"]["multicloud:stack"], "nat");
    let nat_id = format!("{rg}/providers/Microsoft.Network/natGateways/nat-t3-nat");
    let nat = world.emu.resource(&nat_id).ok_or("no NAT gateway")?;
    assert_eq!(nat["sku"]["name"], "Standard");
    assert_eq!(
        nat["properties"]["publicIpAddresses"],
        json!([{"id": ip_id}])
    );
    let vnet_id = format!("{rg}/providers/Microsoft.Network/virtualNetworks/nat-t3-vnet");
    let vnet = world.emu.resource(&vnet_id).ok_or("no vnet")?;
    assert_eq!(
        vnet["properties"]["subnets"][0]["properties"]["natGateway"]["id"],
        nat_id.as_str()
    );
    let aks = world
        .emu
        .resource(&format!(
            "{rg}/providers/Microsoft.ContainerService/managedClusters/nat-t3"
        ))
        .ok_or("no cluster")?;
    assert_eq!(
        aks["properties"]["networkProfile"]["outboundType"],
        "userAssignedNATGateway"
    );
    let again = stack.plan().await?;
    assert!(
        again.actions.iter().all(|a| a.action == Action::NoOp),
        "{again}"
    );

    stack.down().await?;
    assert!(world.emu.resource(&nat_id).is_none());
    assert!(world.emu.resource(&ip_id).is_none());
    Ok(())
}
