//! The Classic ELBs the in-tree Kubernetes cloud provider creates for a plain `LoadBalancer`
//! Service, against moto: found by their cluster tag and removed before the network — by the
//! VPC deletion, by the deletion of a subnet they sit in once the cluster is gone, and by the
//! sweeper — while the untagged ones and those outside our VPCs stay. (The ELBv2 side is
//! `tests/load_balancers.rs`.)
//!
//! moto deletes subnets under a classic ELB (AWS refuses while its interfaces are there):
//! the tests delete through the provider all the same and check which balancers are left.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancing::types::{Listener, Tag};
use multicloud_aws::expand::ids;
use multicloud_aws::kinds;
use multicloud_aws::sweeper::{SweepFilter, Sweeper};
use multicloud_core::ErrorKind;
use multicloud_core::provider::Outputs;
use multicloud_core::tags::{TAG_ENV, TAG_STACK};

#[path = "support/network_world.rs"]
mod network_world;

use network_world::{World, world};

const IN_TREE: &str = "kubernetes.io/cluster/";
const SERVICE_NAME: &str = "kubernetes.io/service-name";

impl World {
    /// A load balancing client on moto.
    fn elb(&self) -> aws_sdk_elasticloadbalancing::Client {
        aws_sdk_elasticloadbalancing::Client::new(&self.sdk)
    }

    /// A classic ELB `name` in `subnets` (internal unless `public`), as the in-tree provider
    /// makes it: created with `tags`, then tagged `added` with `AddTags`.
    async fn classic_elb(
        &self,
        name: &str,
        subnets: &[String],
        public: bool,
        tags: &[(&str, &str)],
        added: &[(&str, &str)],
    ) {
        let listener = Listener::builder()
            .protocol("TCP")
            .load_balancer_port(80)
            .instance_protocol("TCP")
            .instance_port(30080)
            .build()
            .expect("a listener");
        let mut create = self
            .elb()
            .create_load_balancer()
            .load_balancer_name(name)
            .listeners(listener)
            .set_subnets(Some(subnets.to_vec()))
            .set_tags(elb_tags(tags));
        if !public {
            create = create.scheme("internal");
        }
        create
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateLoadBalancer {name}: {e:?}"));
        if let Some(added) = elb_tags(added) {
            self.elb()
                .add_tags()
                .load_balancer_names(name)
                .set_tags(Some(added))
                .send()
                .await
                .unwrap_or_else(|e| panic!("AddTags {name}: {e:?}"));
        }
    }

    /// The names of the classic ELBs left, sorted.
    async fn classic_elbs(&self) -> Vec<String> {
        let out = self
            .elb()
            .describe_load_balancers()
            .send()
            .await
            .expect("DescribeLoadBalancers");
        let mut names: Vec<String> = out
            .load_balancer_descriptions()
            .iter()
            .filter_map(|lb| lb.load_balancer_name().map(str::to_string))
            .collect();
        names.sort();
        names
    }

    async fn vpc_exists(&self, vpc: &str) -> bool {
        let out = self
            .ec2
            .describe_vpcs()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(vpc)
                    .build(),
            )
            .send()
            .await
            .expect("DescribeVpcs");
        !out.vpcs().is_empty()
    }
}

fn elb_tags(tags: &[(&str, &str)]) -> Option<Vec<Tag>> {
    (!tags.is_empty()).then(|| {
        tags.iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("a tag"))
            .collect()
    })
}

fn names(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn recorded_id(id: &str) -> Outputs {
    let mut o = Outputs::new();
    o.as_map_mut().insert("id".into(), serde_json::json!(id));
    o
}

#[tokio::test]
async fn deleting_the_vpc_removes_the_clusters_classic_elbs() {
    let w = world("shop").await;
    let cluster_tag = format!("{IN_TREE}shop-dev");
    let mut vpc_tags = w.stack.ownership.tags();
    vpc_tags.insert("Name".into(), w.resource(&ids::vpc()).name.clone());
    let (vpc, subnets) = w.raw_vpc("10.0.0.0/16", &vpc_tags).await;
    let (other_vpc, other_subnets) = w.raw_vpc("10.9.0.0/16", &BTreeMap::new()).await;

    // The in-tree provider's classic ELBs of cluster shop-dev (one tagged at creation, one
    // with AddTags), one of another cluster beside them, and an untagged one elsewhere.
    w.classic_elb(
        "a0shopweb",
        &subnets,
        true,
        &[(&cluster_tag, "owned"), (SERVICE_NAME, "shop/web")],
        &[],
    )
    .await;
    w.classic_elb(
        "a1shopapi",
        &subnets,
        false,
        &[],
        &[(&cluster_tag, "owned"), (SERVICE_NAME, "shop/api")],
    )
    .await;
    w.classic_elb(
        "a2otherweb",
        &subnets,
        true,
        &[(&format!("{IN_TREE}other"), "owned")],
        &[],
    )
    .await;
    w.classic_elb("someone-else", &other_subnets, true, &[], &[])
        .await;
    assert_eq!(
        w.classic_elbs().await,
        names(&["a0shopweb", "a1shopapi", "a2otherweb", "someone-else"])
    );

    // moto refuses to delete a VPC that has subnets (as AWS does), but not a subnet a
    // balancer uses (AWS refuses it): delete them directly, to leave the balancers for the
    // VPC deletion to find.
    for s in &subnets {
        w.ec2
            .delete_subnet()
            .subnet_id(s)
            .send()
            .await
            .expect("DeleteSubnet");
    }
    let recorded = recorded_id(&vpc);
    // The other cluster's balancer stays in the VPC: moto deletes the VPC all the same.
    w.delete(&ids::vpc(), Some(&recorded))
        .await
        .unwrap_or_else(|e| panic!("delete the VPC: {e}"));

    assert_eq!(
        w.classic_elbs().await,
        names(&["a2otherweb", "someone-else"])
    );
    assert!(!w.vpc_exists(&vpc).await, "the VPC is gone");
    assert!(w.vpc_exists(&other_vpc).await, "the other VPC stays");

    // Deleting again succeeds.
    w.delete(&ids::vpc(), Some(&recorded))
        .await
        .unwrap_or_else(|e| panic!("delete the VPC again: {e}"));
}

#[tokio::test]
async fn deleting_a_subnet_removes_its_classic_elbs_once_the_cluster_is_gone() {
    let mut w = world("shop").await;
    w.create(&ids::vpc()).await;
    let mut public = Vec::new();
    for i in 0..2 {
        public.push(w.create(&ids::subnet(true, i)).await);
    }
    w.classic_elb(
        "a0shopweb",
        &public,
        true,
        &[(&format!("{IN_TREE}shop-dev"), "owned")],
        &[(SERVICE_NAME, "shop/web")],
    )
    .await;
    w.classic_elb("untagged", &public, true, &[], &[]).await;

    // While the cluster runs, the balancer is its Service's: refused (retryably), naming it.
    w.eks
        .create_cluster()
        .name("shop-dev")
        .role_arn("arn:aws:iam::123456789012:role/eks-cluster")
        .resources_vpc_config(
            aws_sdk_eks::types::VpcConfigRequest::builder()
                .set_subnet_ids(Some(public.clone()))
                .build(),
        )
        .send()
        .await
        .expect("CreateCluster");
    let e = w
        .delete(&ids::subnet(true, 0), None)
        .await
        .expect_err("the subnet holds a running cluster's classic ELB");
    assert_eq!(e.kind(), ErrorKind::DependencyViolation, "{e}");
    assert!(e.retryable());
    assert!(e.message().contains("a0shopweb"), "{e}");
    assert!(!e.message().contains("untagged"), "{e}");
    assert_eq!(w.classic_elbs().await, names(&["a0shopweb", "untagged"]));

    // Once the cluster is gone, the subnet takes it; the untagged one is never taken.
    w.eks
        .delete_cluster()
        .name("shop-dev")
        .send()
        .await
        .expect("DeleteCluster");
    for i in 0..2 {
        w.delete(&ids::subnet(true, i), None)
            .await
            .unwrap_or_else(|e| panic!("delete public subnet {i}: {e}"));
    }
    assert_eq!(w.classic_elbs().await, names(&["untagged"]));
}

#[tokio::test]
async fn the_sweeper_lists_and_deletes_classic_elbs_in_the_vpcs_it_sweeps() {
    let mut w = world("alpha").await;
    let vpc = w.create(&ids::vpc()).await;
    let mut subnets = Vec::new();
    for i in 0..2 {
        subnets.push(w.create(&ids::subnet(false, i)).await);
    }
    w.classic_elb(
        "a0alphaweb",
        &subnets,
        false,
        &[(&format!("{IN_TREE}alpha-dev"), "owned")],
        &[(SERVICE_NAME, "alpha/web")],
    )
    .await;
    // Kubernetes' too, but in a VPC that is not ours: never listed nor deleted.
    let (other_vpc, other_subnets) = w.raw_vpc("10.9.0.0/16", &BTreeMap::new()).await;
    w.classic_elb(
        "a1xweb",
        &other_subnets,
        false,
        &[(&format!("{IN_TREE}x"), "owned")],
        &[],
    )
    .await;

    let sweeper = multicloud_aws::testing::fast_sweeper(w.provider.clients());
    let alpha = SweepFilter::stack("alpha", "dev");
    let found = sweeper.find(&alpha).await.expect("find");
    let lbs: Vec<_> = found
        .iter()
        .filter(|r| r.kind == kinds::LOAD_BALANCER.as_str())
        .collect();
    assert_eq!(lbs.len(), 1, "{found:#?}");
    assert_eq!(lbs[0].name, "a0alphaweb");
    assert_eq!(lbs[0].id, "a0alphaweb", "a classic ELB's id is its name");
    assert_eq!(lbs[0].parent.as_deref(), Some(vpc.as_str()));
    assert_eq!(
        lbs[0].tags.get(TAG_STACK).map(String::as_str),
        Some("alpha")
    );
    assert_eq!(lbs[0].tags.get(TAG_ENV).map(String::as_str), Some("dev"));
    assert_eq!(
        lbs[0].tags.get(SERVICE_NAME).map(String::as_str),
        Some("alpha/web")
    );
    let rank = |kind: multicloud_core::resource::ResourceKind| {
        found
            .iter()
            .position(|r| r.kind == kind.as_str())
            .expect("found")
    };
    assert!(rank(kinds::LOAD_BALANCER) < rank(kinds::SUBNET));

    let report = sweeper.sweep(&alpha, false).await.expect("sweep");
    assert!(report.is_clean(), "{:#?}", report.failed);
    assert!(
        report
            .deleted
            .iter()
            .any(|r| r.kind == kinds::LOAD_BALANCER.as_str() && r.name == "a0alphaweb")
    );
    assert_eq!(w.classic_elbs().await, names(&["a1xweb"]));
    assert!(!w.vpc_exists(&vpc).await, "the swept VPC is gone");
    assert!(w.vpc_exists(&other_vpc).await, "the other VPC stays");
}
