//! The security groups Kubernetes creates in the VPC (the in-tree provider's `k8s-elb-*`
//! groups, the AWS Load Balancer Controller's `k8s-*` groups), against moto: deleting the
//! VPC through the network service revokes the rules of the VPC's other groups that
//! reference them, deletes them, then the VPC; groups that are not Kubernetes' (or are in
//! another VPC) stay.

use aws_sdk_ec2::types::{
    Filter, IpPermission, ResourceType, SecurityGroup, Tag, TagSpecification, UserIdGroupPair,
};
use multicloud_aws::expand::ids;

#[path = "support/network_world.rs"]
mod network_world;

use network_world::{World, world};

fn ec2_tags(resource: ResourceType, tags: &[(&str, &str)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .build()
}

fn from_group(port: i32, group: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(group).build())
        .build()
}

impl World {
    /// Deletes the VPC through the network service, with `vpc` as its recorded id.
    async fn delete_vpc(&self, vpc: &str) -> Result<(), multicloud_core::ProviderError> {
        self.delete_recorded_id(&ids::vpc(), vpc).await
    }

    async fn vpc(&self, cidr: &str, tags: &[(&str, &str)]) -> String {
        self.ec2
            .create_vpc()
            .cidr_block(cidr)
            .tag_specifications(ec2_tags(ResourceType::Vpc, tags))
            .send()
            .await
            .expect("CreateVpc")
            .vpc()
            .and_then(|v| v.vpc_id())
            .expect("a VPC id")
            .to_string()
    }

    async fn group(&self, vpc: &str, name: &str, tags: &[(&str, &str)]) -> String {
        let mut req = self
            .ec2
            .create_security_group()
            .vpc_id(vpc)
            .group_name(name)
            .description(name);
        if !tags.is_empty() {
            req = req.tag_specifications(ec2_tags(ResourceType::SecurityGroup, tags));
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("CreateSecurityGroup {name}: {e:?}"))
            .group_id()
            .expect("a group id")
            .to_string()
    }

    async fn allow(&self, group: &str, port: i32, from: &str) {
        self.ec2
            .authorize_security_group_ingress()
            .group_id(group)
            .ip_permissions(from_group(port, from))
            .send()
            .await
            .unwrap_or_else(|e| panic!("AuthorizeSecurityGroupIngress {group}: {e:?}"));
    }

    async fn groups(&self, filter: Option<(&str, &str)>) -> Vec<SecurityGroup> {
        let mut req = self.ec2.describe_security_groups();
        if let Some((name, value)) = filter {
            req = req.filters(Filter::builder().name(name).values(value).build());
        }
        req.send()
            .await
            .expect("DescribeSecurityGroups")
            .security_groups()
            .to_vec()
    }

    async fn group_exists(&self, id: &str) -> bool {
        self.groups(Some(("group-id", id))).await.len() == 1
    }
}

fn references(g: &SecurityGroup, id: &str) -> bool {
    g.ip_permissions()
        .iter()
        .chain(g.ip_permissions_egress())
        .flat_map(|p| p.user_id_group_pairs())
        .any(|u| u.group_id() == Some(id))
}

#[tokio::test]
async fn deleting_the_vpc_removes_the_security_groups_kubernetes_made() {
    let w = world("shop").await;
    let mut vpc_tags: Vec<(String, String)> = w.stack.ownership.tags().into_iter().collect();
    vpc_tags.push((
        "Name".into(),
        w.graph.get(&ids::vpc()).expect("the VPC").name.clone(),
    ));
    let vpc_tags: Vec<(&str, &str)> = vpc_tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let vpc = w.vpc("10.0.0.0/16", &vpc_tags).await;
    let other_vpc = w.vpc("10.9.0.0/16", &[]).await;

    // The in-tree provider's group for a classic ELB of cluster shop-dev, with a rule of its
    // own; a group of ours in the VPC (say the nodes') that allows traffic from it; and an
    // untagged group in another VPC, referencing nothing of ours.
    let k8s = w
        .group(
            &vpc,
            "k8s-elb-a0shopweb",
            &[
                ("kubernetes.io/cluster/shop-dev", "owned"),
                ("kubernetes.io/service-name", "shop/web"),
            ],
        )
        .await;
    let nodes = w.group(&vpc, "shop-dev-nodes", &vpc_tags).await;
    w.allow(&k8s, 80, &nodes).await;
    w.allow(&nodes, 30080, &k8s).await;
    let foreign = w.group(&other_vpc, "k8s-elb-foreign", &[]).await;
    let nodes_group = w.groups(Some(("group-id", &nodes))).await;
    assert!(references(&nodes_group[0], &k8s), "{nodes_group:#?}");

    // moto neither refuses deleting a group another group's rule references nor a VPC that
    // still holds groups (AWS refuses both): the test checks what the deletion revoked and
    // deleted, and that our group (which goes with its own resource) is left alone.
    w.delete_vpc(&vpc)
        .await
        .unwrap_or_else(|e| panic!("delete the VPC: {e}"));
    assert!(!w.group_exists(&k8s).await, "Kubernetes' group is gone");
    let nodes_group = w.groups(Some(("group-id", &nodes))).await;
    assert_eq!(nodes_group.len(), 1, "our group stays");
    assert!(
        !references(&nodes_group[0], &k8s),
        "the rule referencing Kubernetes' group is revoked: {nodes_group:#?}"
    );
    assert!(!w.vpc_exists(&vpc).await, "the VPC is gone");
    assert!(w.group_exists(&foreign).await, "the foreign group stays");
    assert!(w.vpc_exists(&other_vpc).await, "the other VPC stays");

    // Deleting again succeeds.
    w.delete_vpc(&vpc)
        .await
        .unwrap_or_else(|e| panic!("delete the VPC again: {e}"));
}
