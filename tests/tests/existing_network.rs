//! Bring your own network, on both clouds' stand-ins: a platform stack owns the network and
//! the cluster; a service stack names them (`existing_cluster` + `existing_network`) and adds
//! its own database in the platform's network. The network is adopted read-only: the service
//! stack's plan creates no VPC / virtual network or subnet, its database lands in the named
//! subnets, its `down` leaves the network as it was (the platform's plan stays a no-op), and a
//! network that does not exist stops the plan before any change.

use std::sync::Arc;

use aws_sdk_ec2::types::Filter;
use multicloud_aws::AwsProvider;
use multicloud_aws::testing::MotoServer;
use multicloud_azure::AzureProvider;
use multicloud_azure::emulator::{Emulator, EmulatorConfig};
use multicloud_core::Error;
use multicloud_core::plan::{Action, Plan};
use multicloud_core::prelude::*;
use multicloud_core::resource::ResourceKind;
use multicloud_core::spec::Rule;

/// The platform team's stack: a network, a cluster and (on Azure, so that the network has a
/// subnet delegated to PostgreSQL) a database of its own.
fn platform(region: &str, pool: NodePool, database: bool) -> StackSpec {
    let b = StackSpec::builder("platform")
        .environment("shared")
        .region(region)
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(pool));
    let b = if database {
        b.database(Postgres::new("16"))
    } else {
        b
    };
    b.build().expect("platform spec")
}

/// A service stack with its own database on the platform's cluster and network.
fn service(region: &str, cluster: &str, network: ExistingNetwork) -> StackSpec {
    StackSpec::builder("orders")
        .environment("pr-9")
        .region(region)
        .existing_cluster(ExistingCluster::id(cluster))
        .existing_network(network)
        .database(Postgres::new("16"))
        .build()
        .expect("service spec")
}

/// The plan adopts the network read-only and creates none of it.
fn assert_network_read_only(plan: &Plan, network_kind: &str) {
    for a in &plan.actions {
        let network = a.kind.as_str() == network_kind || a.kind.as_str() == "subnet";
        if network {
            assert_eq!(a.action, Action::Adopt, "{a:?}");
            assert!(a.reason.contains("read-only"), "{}", a.reason);
        }
        assert!(
            !["internet_gateway", "nat_gateway", "route_table"].contains(&a.kind.as_str()),
            "the service stack builds no network: {plan}"
        );
    }
    assert!(
        plan.actions
            .iter()
            .any(|a| a.kind == ResourceKind::DATABASE && a.action == Action::Create),
        "{plan}"
    );
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

#[test]
fn an_existing_network_is_validated_with_everything_else() {
    let mut both = service("us-east-1", "c", ExistingNetwork::new("vpc-1", ["a", "b"]));
    both.network = Some(Network::default());
    if let Some(net) = both.existing_network.as_mut() {
        net.private_subnets[0].clear();
    }
    let err = both.validate().expect_err("network and existing network");
    assert_eq!(
        err.at("spec.existing_network").map(|e| e.rule),
        Some(Rule::Unsupported)
    );
    assert!(
        err.at("spec.existing_network.private_subnets[0]").is_some(),
        "{err}"
    );
    // A database on an existing cluster needs the network it lives in.
    let no_network = StackSpec::builder("orders")
        .existing_cluster(ExistingCluster::id("c"))
        .database(Postgres::new("16"))
        .build()
        .expect_err("no network");
    assert!(
        no_network.at("spec.existing_cluster").is_some(),
        "{no_network}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_stack_puts_its_database_in_an_existing_vpc_and_leaves_it() {
    let moto = MotoServer::start().await.expect("moto");
    let sdk = moto.sdk_config("us-east-1").await;
    let provider = Arc::new(AwsProvider::from_sdk_config(&sdk));
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let dir = tempfile::tempdir().expect("tempdir");
    let pool = NodePool::new("general", "t3.medium", 1, 2);
    let platform = Stack::new(platform("us-east-1", pool, false), provider.clone())
        .state(LocalStateStore::new(dir.path()));
    let cluster = platform
        .up()
        .await
        .expect("platform up")
        .cluster
        .expect("cluster")
        .name;
    let vpcs = ec2
        .describe_vpcs()
        .filters(filter("tag:multicloud:stack", "platform"))
        .send()
        .await
        .expect("vpcs");
    let vpc = vpcs.vpcs()[0].vpc_id().expect("vpc").to_string();
    let mut private = Vec::new();
    for i in 0..2 {
        let s = ec2
            .describe_subnets()
            .filters(filter("tag:Name", &format!("platform-shared-private-{i}")))
            .send()
            .await
            .expect("subnet");
        private.push(s.subnets()[0].subnet_id().expect("id").to_string());
    }

    let spec = service(
        "us-east-1",
        &cluster,
        ExistingNetwork::new(&vpc, private.clone()),
    );
    let stack = Stack::new(spec, provider.clone()).state(LocalStateStore::new(dir.path()));
    assert_network_read_only(&stack.plan().await.expect("plan"), "vpc");
    stack.up().await.expect("service up");
    let rds = aws_sdk_rds::Client::new(&sdk);
    let groups = rds
        .describe_db_subnet_groups()
        .send()
        .await
        .expect("subnet groups");
    let ours = groups
        .db_subnet_groups()
        .iter()
        .find(|g| {
            g.db_subnet_group_name()
                .is_some_and(|n| n.starts_with("orders"))
        })
        .expect("the service's subnet group");
    assert_eq!(ours.vpc_id(), Some(vpc.as_str()));
    let mut in_group: Vec<String> = ours
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect();
    in_group.sort();
    let mut want = private.clone();
    want.sort();
    assert_eq!(in_group, want);
    let sgs = ec2
        .describe_security_groups()
        .filters(filter("tag:multicloud:stack", "orders"))
        .send()
        .await
        .expect("groups");
    assert!(!sgs.security_groups().is_empty());
    assert!(
        sgs.security_groups()
            .iter()
            .all(|g| g.vpc_id() == Some(vpc.as_str()))
    );

    stack.down().await.expect("service down");
    let still = ec2.describe_vpcs().vpc_ids(&vpc).send().await.expect("vpc");
    assert_eq!(still.vpcs().len(), 1, "the VPC is left alone");
    for s in &private {
        ec2.describe_subnets()
            .subnet_ids(s)
            .send()
            .await
            .expect("the subnet is left alone");
    }
    let plan = platform.plan().await.expect("platform plan");
    assert_eq!(plan.summary().noop, plan.actions.len(), "{plan}");

    let missing = service(
        "us-east-1",
        &cluster,
        ExistingNetwork::new("vpc-0000000000", private),
    );
    match Stack::new(missing, provider).plan().await {
        Err(Error::MissingExisting { resources }) => {
            assert!(
                resources.iter().any(|(_, name)| name == "vpc-0000000000"),
                "{resources:?}"
            )
        }
        other => panic!("expected MissingExisting, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_stack_puts_its_database_in_an_existing_vnet_and_leaves_it() {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let provider = Arc::new(AzureProvider::emulator(&emu).build().expect("provider"));
    let dir = tempfile::tempdir().expect("tempdir");
    let options = multicloud_azure::emulator::engine_options();
    let pool = NodePool::new("general", "Standard_D4s_v5", 1, 2);
    let platform_spec = platform("westeurope", pool, true);
    let platform = Stack::new(platform_spec.clone(), provider.clone())
        .state(LocalStateStore::new(dir.path()))
        .options(options.clone());
    let shared = platform.up().await.expect("platform up");
    let cluster = shared.cluster.expect("cluster").id;
    let graph =
        multicloud_azure::expand::expand(&platform_spec, provider.settings()).expect("expands");
    let name_of = |kind: &str| {
        graph
            .resources()
            .iter()
            .find(|r| r.kind.as_str() == kind)
            .map(|r| r.name.clone())
            .expect("named")
    };
    let vnet = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/{}",
        emu.subscription(),
        name_of("resource_group"),
        name_of("virtual_network")
    );
    let existing = ExistingNetwork::new(&vnet, [format!("{vnet}/subnets/cluster")])
        .database_subnet(format!("{vnet}/subnets/database"));
    let before = emu.resource(&vnet).expect("the platform's vnet");

    let spec = service("westeurope", &cluster, existing.clone());
    let stack = Stack::new(spec, provider.clone())
        .state(LocalStateStore::new(dir.path()))
        .options(options.clone());
    assert_network_read_only(&stack.plan().await.expect("plan"), "virtual_network");
    let out = stack.up().await.expect("service up");
    let server = out.database.expect("database").id;
    let live = emu.resource(&server).expect("the service's server");
    assert_eq!(
        live.pointer("/properties/network/delegatedSubnetResourceId")
            .and_then(|v| v.as_str()),
        Some(format!("{vnet}/subnets/database").as_str())
    );

    stack.down().await.expect("service down");
    assert_eq!(
        emu.resource(&vnet),
        Some(before),
        "the vnet is left as it was"
    );
    let plan = platform.plan().await.expect("platform plan");
    assert_eq!(plan.summary().noop, plan.actions.len(), "{plan}");

    let mut no_db_subnet = existing;
    no_db_subnet.database_subnet = None;
    let spec = service("westeurope", &cluster, no_db_subnet);
    match Stack::new(spec, provider).plan().await {
        Err(e) => assert!(e.to_string().contains("database_subnet"), "{e}"),
        Ok(plan) => panic!("a database needs the delegated subnet: {plan}"),
    }
    platform.down().await.expect("platform down");
}
