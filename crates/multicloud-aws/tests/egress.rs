//! A private cluster's network against moto, through the engine: `nat: none` with the
//! private-cluster VPC endpoints (`Network::private_endpoints`) comes up with no NAT gateway
//! and no default route out of the private subnets, interface endpoints with private DNS in
//! the private subnets behind a group open on 443 to the VPC's range, the S3 gateway endpoint
//! on the private route table, and node groups waiting for the endpoints; re-planning is a
//! no-op, `down` removes every endpoint and the sweeper then finds nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_ec2::types::Filter;
use multicloud_aws::AwsProvider;
use multicloud_aws::expand::{expand, ids};
use multicloud_aws::kinds;
use multicloud_aws::sweeper::{SweepFilter, Sweeper};
use multicloud_aws::testing::MotoServer;
use multicloud_core::plan::Action;
use multicloud_core::prelude::*;
use multicloud_core::resource::ResourceId;
use multicloud_core::spec::Rule;

const REGION: &str = "us-east-1";

fn builder(net: Network) -> multicloud_core::spec::StackSpecBuilder {
    StackSpec::builder("vault")
        .environment("priv")
        .region(REGION)
        .network(net)
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "t3.medium", 1, 2)))
}

fn spec() -> StackSpec {
    builder(Network::default().nat(Nat::None).private_endpoints())
        .build()
        .expect("valid spec")
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

#[test]
fn without_nat_the_nodes_need_the_registry_and_compute_endpoints() {
    let err = builder(Network::default().nat(Nat::None))
        .build()
        .expect_err("no way out");
    let e = err
        .errors()
        .iter()
        .find(|e| e.path == "spec.network.endpoints")
        .unwrap_or_else(|| panic!("names the endpoints: {err}"));
    assert_eq!(e.rule, Rule::Unsupported);
    assert!(e.message.contains("registry, compute"), "{}", e.message);
    // Identity and secrets are the workloads' business, not the nodes'.
    let net = Network::default()
        .nat(Nat::None)
        .endpoint(ServiceEndpoint::Registry)
        .endpoint(ServiceEndpoint::Compute);
    builder(net).build().expect("registry and compute suffice");
}

#[test]
fn the_graph_has_endpoints_and_no_nat_and_node_groups_wait_for_them() {
    let g = expand(&spec()).expect("expands");
    let of = |kind| g.resources().iter().filter(move |r| r.kind == kind);
    assert_eq!(of(kinds::NAT_GATEWAY).count(), 0);
    assert_eq!(of(kinds::ELASTIC_IP).count(), 0);
    let services: BTreeSet<&str> = of(kinds::VPC_ENDPOINT).map(|r| r.id.key()).collect();
    assert_eq!(
        services,
        BTreeSet::from(["ec2", "ecr.api", "ecr.dkr", "s3", "secretsmanager", "sts"])
    );
    let pool = g
        .get(&ResourceId::new(ResourceKind::NODE_POOL, "general"))
        .expect("pool");
    for service in &services {
        assert!(
            pool.depends_on.contains(&ids::vpc_endpoint(service)),
            "{service}"
        );
    }
    let s3 = g.get(&ids::vpc_endpoint("s3")).expect("s3");
    assert!(s3.depends_on.contains(&ids::private_routes(None)));
    let ecr = g.get(&ids::vpc_endpoint("ecr.dkr")).expect("ecr.dkr");
    for dep in [
        ids::subnet(false, 0),
        ids::subnet(false, 1),
        ids::sg("endpoints"),
    ] {
        assert!(ecr.depends_on.contains(&dep), "{dep}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_cluster_network_comes_up_with_endpoints_and_goes_down_clean() {
    let moto = MotoServer::start().await.expect("moto");
    let sdk = moto.sdk_config(REGION).await;
    let provider = Arc::new(AwsProvider::from_sdk_config(&sdk));
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::new(spec(), provider.clone()).state(LocalStateStore::new(dir.path()));

    let out = stack.up().await.expect("up");
    assert!(out.cluster.is_some());
    let vpc = ec2
        .describe_vpcs()
        .filters(filter("tag:multicloud:stack", "vault"))
        .send()
        .await
        .expect("vpcs");
    let vpc_id = vpc.vpcs()[0].vpc_id().expect("vpc id").to_string();

    // No NAT gateway; the private route table has no route out.
    let nats = ec2
        .describe_nat_gateways()
        .filter(filter("vpc-id", &vpc_id))
        .send()
        .await
        .expect("nat gateways");
    assert!(nats.nat_gateways().is_empty(), "{:?}", nats.nat_gateways());
    let tables = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", &vpc_id))
        .filters(filter("tag:Name", "vault-priv-private"))
        .send()
        .await
        .expect("route tables");
    let private_rt = &tables.route_tables()[0];
    let private_rt_id = private_rt.route_table_id().expect("id").to_string();
    assert!(
        !private_rt
            .routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")),
        "{:?}",
        private_rt.routes()
    );
    let private_subnets: BTreeSet<String> = private_rt
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id().map(str::to_string))
        .collect();
    assert_eq!(private_subnets.len(), 2);

    // The endpoints: interface ones in the private subnets with private DNS, behind the
    // endpoints group; S3 as a gateway on the private route table.
    let endpoints = ec2
        .describe_vpc_endpoints()
        .filters(filter("vpc-id", &vpc_id))
        .send()
        .await
        .expect("endpoints");
    let mut seen = BTreeSet::new();
    let mut groups = BTreeSet::new();
    for e in endpoints.vpc_endpoints() {
        let service = e.service_name().expect("service");
        let short = service
            .strip_prefix("com.amazonaws.us-east-1.")
            .unwrap_or_else(|| panic!("{service}"));
        seen.insert(short.to_string());
        let tags: BTreeSet<_> = e.tags().iter().filter_map(|t| t.key()).collect();
        assert!(tags.contains("multicloud:stack"), "{short}: {tags:?}");
        if short == "s3" {
            assert_eq!(
                e.route_table_ids(),
                std::slice::from_ref(&private_rt_id),
                "s3"
            );
        } else {
            assert_eq!(e.private_dns_enabled(), Some(true), "{short}");
            let subnets: BTreeSet<String> = e.subnet_ids().iter().cloned().collect();
            assert_eq!(subnets, private_subnets, "{short}");
            groups.extend(
                e.groups()
                    .iter()
                    .filter_map(|g| g.group_id())
                    .map(str::to_string),
            );
        }
    }
    assert_eq!(
        seen,
        BTreeSet::from(
            ["ec2", "ecr.api", "ecr.dkr", "s3", "secretsmanager", "sts"].map(String::from)
        )
    );
    assert_eq!(groups.len(), 1, "one group for every interface endpoint");
    let sg_id = groups.into_iter().next().expect("group");
    let sg = ec2
        .describe_security_groups()
        .group_ids(&sg_id)
        .send()
        .await
        .expect("group");
    let https_from_vpc = sg.security_groups()[0].ip_permissions().iter().any(|p| {
        p.from_port() == Some(443)
            && p.to_port() == Some(443)
            && p.ip_ranges()
                .iter()
                .any(|r| r.cidr_ip() == Some("10.0.0.0/16"))
    });
    assert!(
        https_from_vpc,
        "{:?}",
        sg.security_groups()[0].ip_permissions()
    );

    // Re-planning is a no-op: every endpoint observed as it is.
    let plan = stack.plan().await.expect("plan");
    assert!(
        plan.actions
            .iter()
            .all(|a| matches!(a.action, Action::NoOp)),
        "{plan}"
    );

    stack.down().await.expect("down");
    let left = ec2
        .describe_vpc_endpoints()
        .filters(filter("vpc-id", &vpc_id))
        .send()
        .await
        .expect("endpoints");
    let live: Vec<_> = left
        .vpc_endpoints()
        .iter()
        .filter(|e| {
            !e.state()
                .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"))
        })
        .collect();
    assert!(live.is_empty(), "{live:?}");
    let found = provider
        .sweeper()
        .find(&SweepFilter::stack("vault", "priv"))
        .await
        .expect("sweep");
    assert!(found.is_empty(), "{found:?}");
}
