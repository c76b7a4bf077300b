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

#[path = "support/network_world.rs"]
mod network_world;

use network_world::{World, assert_held_by, names, sorted, world};

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
        let out = self.elb().describe_load_balancers().send().await;
        let out = out.expect("DescribeLoadBalancers");
        sorted(
            out.load_balancer_descriptions()
                .iter()
                .map(|lb| lb.load_balancer_name()),
        )
    }
}

fn elb_tags(tags: &[(&str, &str)]) -> Option<Vec<Tag>> {
    (!tags.is_empty()).then(|| {
        tags.iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("a tag"))
            .collect()
    })
}

#[tokio::test]
async fn deleting_the_vpc_removes_the_clusters_classic_elbs() {
    let w = world("shop").await;
    let cluster_tag = format!("{IN_TREE}shop-dev");
    let (vpc, subnets, other_vpc, other_subnets) = w.ours_and_other_vpc().await;

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

    w.delete_raw_subnets(&subnets).await;
    // The other cluster's balancer stays in the VPC: moto deletes the VPC all the same.
    w.delete_recorded_vpc(&vpc, &other_vpc).await;

    assert_eq!(
        w.classic_elbs().await,
        names(&["a2otherweb", "someone-else"])
    );

    // Deleting again succeeds.
    w.delete_recorded_vpc(&vpc, &other_vpc).await;
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
    w.eks_cluster("shop-dev", &public).await;
    let e = w
        .delete(&ids::subnet(true, 0), None)
        .await
        .expect_err("the subnet holds a running cluster's classic ELB");
    assert_held_by(&e, "a0shopweb", "untagged");
    assert_eq!(w.classic_elbs().await, names(&["a0shopweb", "untagged"]));

    // Once the cluster is gone, the subnet takes it; the untagged one is never taken.
    w.delete_eks_cluster("shop-dev").await;
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

    let lb = w
        .sweep_one_load_balancer("alpha", "a0alphaweb", &vpc, &other_vpc)
        .await;
    assert_eq!(lb.id, "a0alphaweb", "a classic ELB's id is its name");
    assert_eq!(
        lb.tags.get(SERVICE_NAME).map(String::as_str),
        Some("alpha/web")
    );
    assert_eq!(w.classic_elbs().await, names(&["a1xweb"]));
}
