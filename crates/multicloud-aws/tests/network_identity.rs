//! The network and identity services against moto: resources created tagged and where they
//! belong, adopted on re-create, refused when foreign, and deleted in order; IAM roles with
//! their managed policies, the OIDC provider, and IRSA roles whose trust and access policies
//! are exactly the expected documents.

#[path = "network_identity/harness.rs"]
mod harness;
#[path = "support/network_world.rs"]
mod network_world;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;
use harness::{
    ISSUER, ISSUER_HOST, REGION, attached, decode, ec2_tags, harness, inline_policy_names,
    network_ids, out_str, role_trust, sorted_zone_names, vpcs_named,
};
use multicloud_aws::expand::{NODE_POLICIES, ids};
use multicloud_aws::identity::{
    ACCESS_POLICY_NAME, EKS_OIDC_THUMBPRINT, irsa_access_policy, irsa_trust_policy,
};
use multicloud_aws::testing::MOTO_ACCOUNT_ID;
use multicloud_core::ErrorKind;
use multicloud_core::outputs::{RegistryOutputs, SecretOutputs};
use multicloud_core::provider::{CloudProvider, Observation, Outputs, Owner};
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_core::tags::{TAG_ENV, TAG_STACK};
use serde_json::json;
#[tokio::test]
async fn network_is_created_tagged_adopted_and_deleted_in_order() {
    let mut h = harness().await;
    for id in network_ids() {
        h.create(&id).await;
    }
    let vpc_id = out_str(&h.outputs[&ids::vpc()], "id").to_string();
    let vpc_name = h.resource(&ids::vpc()).name.clone();

    // VPC: tagged at creation, DNS on.
    let vpc = h
        .ec2
        .describe_vpcs()
        .vpc_ids(&vpc_id)
        .send()
        .await
        .expect("vpc");
    let tags = ec2_tags(vpc.vpcs()[0].tags());
    assert_eq!(tags.get("Name"), Some(&vpc_name));
    assert_eq!(tags.get(TAG_STACK).map(String::as_str), Some("shop"));
    assert_eq!(tags.get(TAG_ENV).map(String::as_str), Some("dev"));
    assert_eq!(vpc.vpcs()[0].cidr_block(), Some("10.0.0.0/16"));
    for attr in [
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
    ] {
        let a = h
            .ec2
            .describe_vpc_attribute()
            .vpc_id(&vpc_id)
            .attribute(attr.clone())
            .send()
            .await
            .expect("attr");
        let on = a
            .enable_dns_hostnames()
            .or(a.enable_dns_support())
            .and_then(|v| v.value());
        assert_eq!(on, Some(true), "{attr:?}");
    }

    // Subnets: zone by index over the sorted zones, Kubernetes tags, public IPs on public ones.
    let zone_names = sorted_zone_names(&h.ec2).await;
    for (public, i) in [(true, 0), (true, 1), (false, 0), (false, 1)] {
        let out = &h.outputs[&ids::subnet(public, i)];
        assert_eq!(out_str(out, "zone"), zone_names[i]);
        let s = h
            .ec2
            .describe_subnets()
            .subnet_ids(out_str(out, "id"))
            .send()
            .await
            .expect("subnet");
        let s = &s.subnets()[0];
        assert_eq!(s.vpc_id(), Some(vpc_id.as_str()));
        assert_eq!(s.map_public_ip_on_launch(), Some(public));
        let tags = ec2_tags(s.tags());
        let role = if public {
            "kubernetes.io/role/elb"
        } else {
            "kubernetes.io/role/internal-elb"
        };
        let other = if public {
            "kubernetes.io/role/internal-elb"
        } else {
            "kubernetes.io/role/elb"
        };
        assert_eq!(tags.get(role).map(String::as_str), Some("1"));
        assert!(!tags.contains_key(other));
        assert_eq!(
            tags.get("kubernetes.io/cluster/shop-dev")
                .map(String::as_str),
            Some("shared")
        );
        assert_eq!(tags.get(TAG_STACK).map(String::as_str), Some("shop"));
    }

    // Internet gateway attached; route table routes to it, associated with the public subnets.
    let igw_id = out_str(&h.outputs[&ids::igw()], "id").to_string();
    let igw = h
        .ec2
        .describe_internet_gateways()
        .internet_gateway_ids(&igw_id)
        .send()
        .await
        .expect("igw");
    let attached: Vec<_> = igw.internet_gateways()[0]
        .attachments()
        .iter()
        .filter_map(|a| a.vpc_id())
        .collect();
    assert_eq!(attached, [vpc_id.as_str()]);
    let rt_id = out_str(&h.outputs[&ids::public_routes()], "id").to_string();
    let rt = h
        .ec2
        .describe_route_tables()
        .route_table_ids(&rt_id)
        .send()
        .await
        .expect("rt");
    let rt = &rt.route_tables()[0];
    assert!(
        rt.routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.gateway_id() == Some(igw_id.as_str()))
    );
    let mut associated: Vec<String> = rt
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id().map(str::to_string))
        .collect();
    associated.sort();
    let mut public: Vec<String> = [0, 1]
        .iter()
        .map(|i| out_str(&h.outputs[&ids::subnet(true, *i)], "id").to_string())
        .collect();
    public.sort();
    assert_eq!(associated, public);

    // One NAT gateway per zone, in that zone's public subnet with its own Elastic IP; each
    // zone's private subnet routed to it.
    for i in [0, 1] {
        assert_nat_serves_zone(&h, i).await;
    }

    // Security groups: database 5432 and cache 6379 from the cluster group and the private
    // subnets' ranges only (EKS managed nodes carry EKS's own cluster group).
    let cluster_sg = out_str(&h.outputs[&ids::sg("cluster")], "id").to_string();
    for (role, port) in [
        ("cluster", None),
        ("database", Some(5432)),
        ("cache", Some(6379)),
    ] {
        let id = out_str(&h.outputs[&ids::sg(role)], "id");
        let g = h
            .ec2
            .describe_security_groups()
            .group_ids(id)
            .send()
            .await
            .expect("sg");
        let g = &g.security_groups()[0];
        assert_eq!(g.vpc_id(), Some(vpc_id.as_str()));
        assert_eq!(
            ec2_tags(g.tags()).get(TAG_STACK).map(String::as_str),
            Some("shop")
        );
        let perms = g.ip_permissions();
        let Some(port) = port else {
            assert!(perms.is_empty(), "{role}: {perms:?}");
            continue;
        };
        assert!(
            perms.iter().all(|p| p.ip_protocol() == Some("tcp")
                && p.from_port() == Some(port)
                && p.to_port() == Some(port)
                && p.ipv6_ranges().is_empty()),
            "{role}: {perms:?}"
        );
        let groups: BTreeSet<&str> = perms
            .iter()
            .flat_map(|p| p.user_id_group_pairs().iter().filter_map(|u| u.group_id()))
            .collect();
        assert_eq!(groups, BTreeSet::from([cluster_sg.as_str()]), "{role}");
        let ranges: BTreeSet<&str> = perms
            .iter()
            .flat_map(|p| p.ip_ranges().iter().filter_map(|r| r.cidr_ip()))
            .collect();
        assert_eq!(
            ranges,
            BTreeSet::from(["10.0.16.0/20", "10.0.32.0/20"]),
            "{role}"
        );
    }

    // Re-creating adopts: same outputs, no duplicate.
    for id in network_ids() {
        let r = h.resource(&id).clone();
        let again = h
            .try_create(&r)
            .await
            .unwrap_or_else(|e| panic!("adopt {id}: {e}"));
        assert_eq!(
            out_str(&again, "id"),
            out_str(&h.outputs[&id], "id"),
            "{id}"
        );
    }
    assert_eq!(vpcs_named(&h.ec2, &vpc_name).await, 1);

    // Delete in reverse order; everything is gone.
    for id in network_ids().iter().rev() {
        h.delete(id).await;
    }
    assert_eq!(vpcs_named(&h.ec2, &vpc_name).await, 0);
    let left = h
        .ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
        .send()
        .await
        .expect("subnets");
    assert!(left.subnets().is_empty());
}

/// NAT gateway `i` is available in public subnet `i` with address `elastic_ip/nat-<i>`,
/// tagged, and private route table `i` sends `0.0.0.0/0` to it from private subnet `i` only.
async fn assert_nat_serves_zone(h: &harness::Harness, i: usize) {
    let nat_id = out_str(&h.outputs[&ids::nat_gateway(i)], "id");
    let eip = &h.outputs[&ids::elastic_ip(i)];
    let nat = h
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(nat_id)
        .send()
        .await
        .expect("nat");
    let nat = &nat.nat_gateways()[0];
    assert_eq!(
        nat.subnet_id(),
        Some(out_str(&h.outputs[&ids::subnet(true, i)], "id"))
    );
    assert_eq!(nat.state().map(|s| s.as_str()), Some("available"));
    let addresses: Vec<_> = nat
        .nat_gateway_addresses()
        .iter()
        .filter_map(|a| a.allocation_id())
        .collect();
    assert_eq!(addresses, [out_str(eip, "id")]);
    assert_eq!(
        ec2_tags(nat.tags()).get(TAG_STACK).map(String::as_str),
        Some("shop")
    );
    let rt_id = out_str(&h.outputs[&ids::private_routes(Some(i))], "id");
    let rt = h
        .ec2
        .describe_route_tables()
        .route_table_ids(rt_id)
        .send()
        .await
        .expect("rt");
    let rt = &rt.route_tables()[0];
    assert!(
        rt.routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.nat_gateway_id() == Some(nat_id)),
        "{:?}",
        rt.routes()
    );
    let associated: Vec<_> = rt
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id())
        .collect();
    assert_eq!(
        associated,
        [out_str(&h.outputs[&ids::subnet(false, i)], "id")]
    );
}

#[test]
fn a_single_nat_gateway_serves_every_private_subnet_and_node_groups_wait_for_egress() {
    use multicloud_aws::expand::expand;
    use multicloud_aws::model::RouteTableConfig;
    use multicloud_core::prelude::*;
    let spec = |nat| {
        StackSpec::builder("shop")
            .environment("dev")
            .region(REGION)
            .network(Network::default().nat(nat))
            .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "t3.medium", 1, 2)))
            .build()
            .expect("spec")
    };
    let g = expand(&spec(Nat::Single)).expect("expands");
    let of = |kind| g.resources().iter().filter(move |r| r.kind == kind);
    assert_eq!(of(multicloud_aws::kinds::NAT_GATEWAY).count(), 1);
    assert_eq!(of(multicloud_aws::kinds::ELASTIC_IP).count(), 1);
    let private = g
        .get(&ids::private_routes(None))
        .expect("one shared private route table");
    let config: RouteTableConfig = private.config_as().expect("config");
    assert_eq!(
        config.subnets,
        [ids::subnet(false, 0), ids::subnet(false, 1)]
    );
    assert_eq!(config.via, Some(ids::nat_gateway(0)));
    let pool = g
        .get(&ResourceId::new(ResourceKind::NODE_POOL, "general"))
        .expect("pool");
    assert!(pool.depends_on.contains(&ids::private_routes(None)));
    let nat = g.get(&ids::nat_gateway(0)).expect("nat");
    for dep in [ids::subnet(true, 0), ids::elastic_ip(0), ids::igw()] {
        assert!(nat.depends_on.contains(&dep), "{dep}");
    }

    let per_zone = expand(&spec(Nat::PerZone)).expect("expands");
    let pool = per_zone
        .get(&ResourceId::new(ResourceKind::NODE_POOL, "general"))
        .expect("pool");
    for i in [0, 1] {
        assert!(pool.depends_on.contains(&ids::private_routes(Some(i))));
    }
}

#[tokio::test]
async fn resources_under_our_name_without_our_tags_are_foreign() {
    let h = harness().await;
    let vpc = h.resource(&ids::vpc()).clone();
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    let created = h
        .ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
                .tags(tag("Name", &vpc.name))
                .build(),
        )
        .send()
        .await
        .expect("foreign vpc");
    let foreign_id = created
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("id")
        .to_string();

    match h.observe(&ids::vpc(), None).await {
        Observation::Present(o) => {
            assert_eq!(o.owner, Owner::Unowned);
            assert_eq!(o.provider_id.as_deref(), Some(foreign_id.as_str()));
        }
        Observation::Absent => panic!("the foreign VPC is observed"),
    }
    let err = h.try_create(&vpc).await.expect_err("foreign");
    assert_eq!(err.kind(), ErrorKind::ForeignResource, "{err}");
    let deps = BTreeMap::new();
    let err = h
        .ops(&ids::vpc())
        .delete(&h.ctx(&vpc, &deps, None))
        .await
        .expect_err("not ours to delete");
    assert_eq!(err.kind(), ErrorKind::ForeignResource);
    assert_eq!(
        vpcs_named(&h.ec2, &vpc.name).await,
        1,
        "neither adopted, duplicated nor deleted"
    );

    // Tagged by another environment of the stack: also refused, and told apart.
    h.ec2
        .create_tags()
        .resources(&foreign_id)
        .tags(tag(TAG_STACK, "shop"))
        .tags(tag(TAG_ENV, "prod"))
        .send()
        .await
        .expect("tag");
    match h.observe(&ids::vpc(), None).await {
        Observation::Present(o) => assert_eq!(
            o.owner,
            Owner::OtherStack {
                stack: "shop".into(),
                environment: "prod".into()
            }
        ),
        Observation::Absent => panic!("observed"),
    }
    assert_eq!(
        h.try_create(&vpc).await.expect_err("other env").kind(),
        ErrorKind::ForeignResource
    );

    // Kinds that are not AWS's (Azure's resource group) have no ops at all.
    assert!(
        h.provider
            .ops(ResourceKind::new("resource_group"))
            .is_none()
    );
    assert!(h.provider.ops(ResourceKind::new("vpc")).is_some());
}

#[tokio::test]
async fn cluster_and_node_roles_trust_their_service_with_managed_policies() {
    let mut h = harness().await;
    for (id, service) in [
        (ids::cluster_role(), "eks.amazonaws.com"),
        (ids::node_role(), "ec2.amazonaws.com"),
    ] {
        let out = h.create(&id).await;
        let name = h.resource(&id).name.clone();
        assert_eq!(out_str(&out, "name"), name);
        assert_eq!(
            out_str(&out, "id"),
            format!("arn:aws:iam::{MOTO_ACCOUNT_ID}:role/{name}")
        );
        let trust = role_trust(&h.iam, &name).await;
        assert_eq!(
            trust,
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
        );
        let tags = h
            .iam
            .list_role_tags()
            .role_name(&name)
            .send()
            .await
            .expect("tags");
        assert!(
            tags.tags()
                .iter()
                .any(|t| t.key() == TAG_STACK && t.value() == "shop")
        );
        assert!(
            tags.tags()
                .iter()
                .any(|t| t.key() == TAG_ENV && t.value() == "dev")
        );
    }
    let node = h.resource(&ids::node_role()).name.clone();
    let mut expected: Vec<String> = NODE_POLICIES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(attached(&h.iam, &node).await, expected);
    let cluster = h.resource(&ids::cluster_role()).name.clone();
    assert_eq!(
        attached(&h.iam, &cluster).await,
        ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]
    );

    // Adopting re-attaches nothing twice.
    let r = h.resource(&ids::node_role()).clone();
    let again = h.try_create(&r).await.expect("adopt");
    assert_eq!(again, h.outputs[&ids::node_role()]);
    assert_eq!(attached(&h.iam, &node).await, expected);
}

#[tokio::test]
async fn deleting_a_role_detaches_and_deletes_its_policies_first() {
    let mut h = harness().await;
    h.create(&ids::node_role()).await;
    let name = h.resource(&ids::node_role()).name.clone();
    h.iam
        .put_role_policy()
        .role_name(&name)
        .policy_name("extra")
        .policy_document(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}).to_string())
        .send()
        .await
        .expect("inline policy");
    h.iam
        .create_instance_profile()
        .instance_profile_name(&name)
        .send()
        .await
        .expect("profile");
    h.iam
        .add_role_to_instance_profile()
        .instance_profile_name(&name)
        .role_name(&name)
        .send()
        .await
        .expect("add to profile");
    assert_eq!(attached(&h.iam, &name).await.len(), NODE_POLICIES.len());

    h.delete(&ids::node_role()).await;
    let err = h
        .iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .expect_err("role gone");
    assert!(err.into_service_error().is_no_such_entity_exception());
    let profile = h
        .iam
        .get_instance_profile()
        .instance_profile_name(&name)
        .send()
        .await
        .expect("profile stays");
    assert!(
        profile
            .instance_profile()
            .map(|p| p.roles().is_empty())
            .unwrap_or(false)
    );
}

#[tokio::test]
async fn oidc_provider_and_irsa_role_trust_exactly_one_service_account() {
    let mut h = harness().await;
    let sdk = h.moto.sdk_config(REGION).await;
    // The IRSA role's dependencies: the cluster's issuer, the secret and the repository.
    let mut cluster = Outputs::new();
    cluster
        .as_map_mut()
        .insert("oidc_issuer".into(), json!(ISSUER));
    h.outputs.insert(ids::cluster(), cluster);
    let secret = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name("shop/dev/api-key")
        .secret_string("not-used")
        .send()
        .await
        .expect("secret");
    let secret_arn = secret.arn().expect("secret arn").to_string();
    h.outputs.insert(
        ResourceId::new(ResourceKind::SECRET, "api-key"),
        Outputs::of(&SecretOutputs {
            id: secret_arn.clone(),
            name: "shop/dev/api-key".into(),
            version: None,
        })
        .expect("secret outputs"),
    );
    let repo = aws_sdk_ecr::Client::new(&sdk)
        .create_repository()
        .repository_name("shop-dev/web")
        .send()
        .await
        .expect("repo");
    let repo = repo.repository().expect("repo");
    let repo_arn = repo.repository_arn().expect("repo arn").to_string();
    h.outputs.insert(
        ResourceId::new(ResourceKind::REGISTRY, "web"),
        Outputs::of(&RegistryOutputs {
            id: repo_arn.clone(),
            name: "shop-dev/web".into(),
            url: repo.repository_uri().expect("repo uri").to_string(),
        })
        .expect("registry outputs"),
    );

    // OIDC provider.
    let oidc = h.create(&ids::oidc()).await;
    let provider_arn = format!("arn:aws:iam::{MOTO_ACCOUNT_ID}:oidc-provider/{ISSUER_HOST}");
    assert_eq!(out_str(&oidc, "id"), provider_arn);
    assert_eq!(out_str(&oidc, "url"), ISSUER_HOST);
    let p = h
        .iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&provider_arn)
        .send()
        .await
        .expect("provider");
    assert_eq!(p.client_id_list(), ["sts.amazonaws.com"]);
    assert_eq!(p.thumbprint_list(), [EKS_OIDC_THUMBPRINT]);
    let r = h.resource(&ids::oidc()).clone();
    assert_eq!(h.try_create(&r).await.expect("adopt"), oidc);
    let listed = h
        .iam
        .list_open_id_connect_providers()
        .send()
        .await
        .expect("list");
    assert_eq!(listed.open_id_connect_provider_list().len(), 1);

    // IRSA role: trust and access policies exactly as expected.
    let wi = ResourceId::new(ResourceKind::WORKLOAD_IDENTITY, "shop-web");
    let out = h.create(&wi).await;
    let name = h.resource(&wi).name.clone();
    let role_arn = format!("arn:aws:iam::{MOTO_ACCOUNT_ID}:role/{name}");
    assert_eq!(out_str(&out, "id"), role_arn);
    assert_eq!(out_str(&out, "identity"), role_arn);
    assert_eq!(out_str(&out, "subject"), "system:serviceaccount:shop:web");
    let expected_trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{ISSUER_HOST}:sub"): "system:serviceaccount:shop:web",
                format!("{ISSUER_HOST}:aud"): "sts.amazonaws.com",
            }},
        }],
    });
    assert_eq!(
        irsa_trust_policy(&provider_arn, ISSUER, "shop", "web"),
        expected_trust
    );
    assert_eq!(role_trust(&h.iam, &name).await, expected_trust);

    let expected_access = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadSecrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": [secret_arn]},
            {"Sid": "PullImages", "Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"], "Resource": [repo_arn]},
            {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        ],
    });
    assert_eq!(
        irsa_access_policy(
            std::slice::from_ref(&secret_arn),
            std::slice::from_ref(&repo_arn)
        ),
        Some(expected_access.clone())
    );
    let inline = h
        .iam
        .get_role_policy()
        .role_name(&name)
        .policy_name(ACCESS_POLICY_NAME)
        .send()
        .await
        .expect("inline");
    assert_eq!(decode(inline.policy_document()), expected_access);
    assert_eq!(
        inline_policy_names(&h.iam, &name).await,
        [ACCESS_POLICY_NAME]
    );

    // Update: granting nothing removes the inline policy; the trust stays exact.
    let irsa = h.ops(&wi);
    assert!(irsa.supports_update());
    let mut changed = h.resource(&wi).clone();
    changed.config["read_secrets"] = json!([]);
    changed.config["pull_registries"] = json!([]);
    let deps = h.deps(&changed);
    let recorded = h.outputs[&wi].clone();
    let updated = irsa
        .update(&h.ctx(&changed, &deps, Some(&recorded)))
        .await
        .expect("update");
    assert_eq!(out_str(&updated, "identity"), role_arn);
    assert!(inline_policy_names(&h.iam, &name).await.is_empty());
    assert_eq!(role_trust(&h.iam, &name).await, expected_trust);

    h.delete(&wi).await;
    h.delete(&ids::oidc()).await;
    let listed = h
        .iam
        .list_open_id_connect_providers()
        .send()
        .await
        .expect("list");
    assert!(listed.open_id_connect_provider_list().is_empty());
}
