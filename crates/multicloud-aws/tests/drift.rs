//! Drift of the network kinds against moto, through the engine: a route pointed elsewhere,
//! an ingress rule revoked and public addresses turned off on a public subnet, all by hand
//! with the SDK, are planned as updates naming each field; `refresh` notes them in state;
//! `up` repairs them in place and the next plan is a no-op.

use std::sync::Arc;

use aws_sdk_ec2::types::{AttributeBooleanValue, IpPermission, IpRange};
use multicloud_aws::AwsProvider;
use multicloud_aws::expand::ids;
use multicloud_aws::testing::MotoServer;
use multicloud_core::plan::{Action, Plan};
use multicloud_core::prelude::*;
use multicloud_core::refresh::RefreshStatus;
use multicloud_core::resource::ResourceId;

const REGION: &str = "us-east-1";

/// A network with one interface endpoint (whose security group admits 443 from the VPC).
fn spec() -> StackSpec {
    StackSpec::builder("drift")
        .environment("moto")
        .region(REGION)
        .network(Network::default().endpoint(ServiceEndpoint::Secrets))
        .build()
        .expect("valid spec")
}

/// The cloud id `plan` knows for `id` (from the observation).
fn cloud_id(plan: &Plan, id: &ResourceId) -> String {
    match plan.observation(id) {
        Some(multicloud_core::provider::Observation::Present(o)) => {
            o.provider_id.clone().expect("an EC2 id")
        }
        other => panic!("{id} not observed present: {other:?}"),
    }
}

/// The action and reason `plan` gives `id`.
fn planned(plan: &Plan, id: &ResourceId) -> (Action, String) {
    let a = plan.action(id).unwrap_or_else(|| panic!("{id} planned"));
    (a.action, a.reason.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_changed_by_hand_is_planned_field_by_field_and_up_repairs_it() {
    let moto = MotoServer::start().await.expect("moto");
    let sdk = moto.sdk_config(REGION).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let provider = Arc::new(AwsProvider::from_sdk_config(&sdk));
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::new(spec(), provider).state(LocalStateStore::new(dir.path()));
    stack.up().await.expect("up");
    let plan = stack.plan().await.expect("plan");
    assert!(plan.is_noop(), "no drift right after up: {plan}");

    // By hand: the public default route to the NAT gateway, the endpoints' rule revoked,
    // public addresses off on a public subnet.
    let (routes, sg, subnet) = (
        ids::public_routes(),
        ids::sg("endpoints"),
        ids::subnet(true, 0),
    );
    let (rt_id, sg_id, subnet_id) = (
        cloud_id(&plan, &routes),
        cloud_id(&plan, &sg),
        cloud_id(&plan, &subnet),
    );
    let (igw, nat) = (
        cloud_id(&plan, &ids::igw()),
        cloud_id(&plan, &ids::nat_gateway(0)),
    );
    ec2.replace_route()
        .route_table_id(&rt_id)
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id(&nat)
        .send()
        .await
        .expect("replace route");
    let https = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/16").build())
        .build();
    ec2.revoke_security_group_ingress()
        .group_id(&sg_id)
        .ip_permissions(https)
        .send()
        .await
        .expect("revoke");
    ec2.modify_subnet_attribute()
        .subnet_id(&subnet_id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(false).build())
        .send()
        .await
        .expect("map public ip off");

    let plan = stack.plan().await.expect("plan");
    assert_eq!(
        planned(&plan, &routes),
        (
            Action::Update,
            format!("drifted outside the stack: routes[0.0.0.0/0]: {igw} -> {nat}")
        )
    );
    assert_eq!(
        planned(&plan, &sg),
        (
            Action::Update,
            "drifted outside the stack: ingress[tcp/443 from 10.0.0.0/16]: allowed -> (none)"
                .to_string()
        )
    );
    assert_eq!(
        planned(&plan, &subnet),
        (
            Action::Update,
            "drifted outside the stack: map_public_ip_on_launch: true -> false".to_string()
        )
    );
    assert_eq!(plan.summary().changes(), 3, "{plan}");

    // Refresh notes the three drifts in state; nothing vanished.
    let report = stack.refresh().await.expect("refresh");
    let changed: Vec<&ResourceId> = report.changes().map(|r| &r.id).collect();
    assert_eq!(changed, [&routes, &sg, &subnet], "{report}");
    assert!(matches!(
        report.status(&routes),
        Some(RefreshStatus::Changed { drift: Some(_), .. })
    ));

    stack.up().await.expect("up repairs");
    let table = ec2
        .describe_route_tables()
        .route_table_ids(&rt_id)
        .send()
        .await
        .expect("route table");
    let default = table.route_tables()[0]
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
        .expect("default route");
    assert_eq!(default.gateway_id(), Some(igw.as_str()));
    let group = ec2
        .describe_security_groups()
        .group_ids(&sg_id)
        .send()
        .await
        .expect("group");
    assert!(
        group.security_groups()[0]
            .ip_permissions()
            .iter()
            .any(|p| p.from_port() == Some(443)),
        "{group:?}"
    );
    let subnets = ec2
        .describe_subnets()
        .subnet_ids(&subnet_id)
        .send()
        .await
        .expect("subnet");
    assert_eq!(subnets.subnets()[0].map_public_ip_on_launch(), Some(true));
    let plan = stack.plan().await.expect("plan");
    assert!(plan.is_noop(), "repaired: {plan}");
    assert!(stack.refresh().await.expect("refresh").is_unchanged());
    stack.down().await.expect("down");
}
