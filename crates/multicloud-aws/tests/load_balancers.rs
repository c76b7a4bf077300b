//! The load balancers Kubernetes creates in the VPC, against moto: found by their cluster
//! tags and removed (with their target groups) before the network — by the VPC deletion, by
//! the deletion of the subnet or internet gateway they hold once the cluster is gone, and by
//! the sweeper — while the load balancers of other clusters and outside our VPCs stay.
//!
//! moto does not model what makes this necessary (a load balancer's interfaces keeping its
//! subnets, its public addresses keeping the internet gateway attached): it deletes subnets
//! and gateways under a load balancer. The tests delete through the provider all the same and
//! check which load balancers are left.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum, Tag,
    TargetTypeEnum,
};
use multicloud_aws::expand::ids;

#[path = "support/network_world.rs"]
mod network_world;

use network_world::{World, assert_held_by, names, sorted, world};

const IN_TREE: &str = "kubernetes.io/cluster/";
const CONTROLLER: &str = "elbv2.k8s.aws/cluster";

impl World {
    /// A load balancing client on moto.
    fn elb(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk)
    }

    /// A network load balancer `name` in `subnets`, tagged `tags`. Returns its ARN.
    async fn load_balancer(
        &self,
        name: &str,
        subnets: &[String],
        scheme: LoadBalancerSchemeEnum,
        tags: &[(&str, &str)],
    ) -> String {
        let out = self
            .elb()
            .create_load_balancer()
            .name(name)
            .set_subnets(Some(subnets.to_vec()))
            .scheme(scheme)
            .r#type(LoadBalancerTypeEnum::Network)
            .set_tags(elb_tags(tags))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateLoadBalancer {name}: {e:?}"));
        out.load_balancers()[0]
            .load_balancer_arn()
            .expect("an ARN")
            .to_string()
    }

    /// A target group `name` in `vpc`, tagged `tags`, with (when `lb` is given) a TCP listener
    /// of that load balancer forwarding to it. Returns its ARN.
    async fn target_group(
        &self,
        name: &str,
        vpc: &str,
        tags: &[(&str, &str)],
        lb: Option<&str>,
    ) -> String {
        let out = self
            .elb()
            .create_target_group()
            .name(name)
            .protocol(ProtocolEnum::Tcp)
            .port(80)
            .vpc_id(vpc)
            .target_type(TargetTypeEnum::Ip)
            .set_tags(elb_tags(tags))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateTargetGroup {name}: {e:?}"));
        let arn = out.target_groups()[0]
            .target_group_arn()
            .expect("an ARN")
            .to_string();
        if let Some(lb) = lb {
            self.elb()
                .create_listener()
                .load_balancer_arn(lb)
                .protocol(ProtocolEnum::Tcp)
                .port(80)
                .default_actions(
                    Action::builder()
                        .r#type(ActionTypeEnum::Forward)
                        .target_group_arn(&arn)
                        .build(),
                )
                .send()
                .await
                .unwrap_or_else(|e| panic!("CreateListener for {name}: {e:?}"));
        }
        arn
    }

    /// The names of the load balancers left, sorted.
    async fn load_balancers(&self) -> Vec<String> {
        let out = self.elb().describe_load_balancers().send().await;
        let out = out.expect("DescribeLoadBalancers");
        sorted(
            out.load_balancers()
                .iter()
                .map(|lb| lb.load_balancer_name()),
        )
    }

    /// The names of the target groups left, sorted.
    async fn target_groups(&self) -> Vec<String> {
        let out = self.elb().describe_target_groups().send().await;
        let out = out.expect("DescribeTargetGroups");
        sorted(out.target_groups().iter().map(|tg| tg.target_group_name()))
    }
}

fn elb_tags(tags: &[(&str, &str)]) -> Option<Vec<Tag>> {
    (!tags.is_empty()).then(|| {
        tags.iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
            .collect()
    })
}

#[tokio::test]
async fn deleting_the_vpc_removes_the_clusters_load_balancers_and_target_groups() {
    let w = world("shop").await;
    let cluster_tag = format!("{IN_TREE}shop-dev");
    let (vpc, subnets, other_vpc, other_subnets) = w.ours_and_other_vpc().await;

    // Kubernetes' NLB for a Service of cluster shop-dev, with its listener's target group,
    // and a target group the AWS Load Balancer Controller left unattached.
    let web = w
        .load_balancer(
            "k8s-shop-web",
            &subnets,
            LoadBalancerSchemeEnum::InternetFacing,
            &[
                (&cluster_tag, "owned"),
                ("kubernetes.io/service-name", "shop/web"),
            ],
        )
        .await;
    w.target_group(
        "k8s-shop-web-80",
        &vpc,
        &[(&cluster_tag, "owned")],
        Some(&web),
    )
    .await;
    w.target_group("k8s-shop-api-80", &vpc, &[(CONTROLLER, "shop-dev")], None)
        .await;
    // Someone else's load balancer and target group, in another VPC.
    let foreign = w
        .load_balancer(
            "someone-else",
            &other_subnets,
            LoadBalancerSchemeEnum::InternetFacing,
            &[],
        )
        .await;
    w.target_group("someone-else-80", &other_vpc, &[], Some(&foreign))
        .await;
    assert_eq!(
        w.load_balancers().await,
        names(&["k8s-shop-web", "someone-else"])
    );

    w.delete_raw_subnets(&subnets).await;
    w.delete_recorded_vpc(&vpc, &other_vpc).await;

    assert_eq!(w.load_balancers().await, names(&["someone-else"]));
    assert_eq!(w.target_groups().await, names(&["someone-else-80"]));

    // Deleting again succeeds.
    w.delete_recorded_vpc(&vpc, &other_vpc).await;
}

#[tokio::test]
async fn deleting_a_subnet_or_gateway_removes_its_load_balancers_once_the_cluster_is_gone() {
    let mut w = world("shop").await;
    w.create(&ids::vpc()).await;
    let mut public = Vec::new();
    let mut private = Vec::new();
    for i in 0..2 {
        public.push(w.create(&ids::subnet(true, i)).await);
        private.push(w.create(&ids::subnet(false, i)).await);
    }
    w.create(&ids::igw()).await;
    let cluster_tag = format!("{IN_TREE}shop-dev");

    // An internal ALB of the Load Balancer Controller in the private subnets, an
    // internet-facing NLB of the in-tree provider in the public ones, and one of another
    // cluster.
    w.load_balancer(
        "k8s-shop-internal",
        &private,
        LoadBalancerSchemeEnum::Internal,
        &[(CONTROLLER, "shop-dev")],
    )
    .await;
    w.load_balancer(
        "k8s-shop-public",
        &public,
        LoadBalancerSchemeEnum::InternetFacing,
        &[(&cluster_tag, "owned")],
    )
    .await;
    w.load_balancer(
        "k8s-other-public",
        &public,
        LoadBalancerSchemeEnum::InternetFacing,
        &[(&format!("{IN_TREE}other"), "owned")],
    )
    .await;
    let all = names(&["k8s-other-public", "k8s-shop-internal", "k8s-shop-public"]);

    // While the cluster runs, its load balancers are its Services': the deletions are
    // refused (retryably), naming them, and nothing is deleted.
    w.eks_cluster("shop-dev", &private).await;
    let e = w
        .delete(&ids::igw(), None)
        .await
        .expect_err("the gateway holds a running cluster's load balancer");
    assert_held_by(&e, "k8s-shop-public", "k8s-other-public");
    let e = w
        .delete(&ids::subnet(false, 1), None)
        .await
        .expect_err("the subnet holds a running cluster's load balancer");
    assert_held_by(&e, "k8s-shop-internal", "k8s-other-public");
    assert_eq!(w.load_balancers().await, all);

    // Once the cluster is gone: the gateway takes the internet-facing one of the cluster...
    w.delete_eks_cluster("shop-dev").await;
    w.delete(&ids::igw(), None)
        .await
        .unwrap_or_else(|e| panic!("delete the gateway: {e}"));
    assert_eq!(
        w.load_balancers().await,
        names(&["k8s-other-public", "k8s-shop-internal"])
    );
    // ... and the private subnets the internal one.
    for i in 0..2 {
        w.delete(&ids::subnet(false, i), None)
            .await
            .unwrap_or_else(|e| panic!("delete private subnet {i}: {e}"));
    }
    assert_eq!(w.load_balancers().await, names(&["k8s-other-public"]));
    // Another cluster's load balancer is never taken (AWS would then refuse the subnet).
    for i in 0..2 {
        w.delete(&ids::subnet(true, i), None)
            .await
            .unwrap_or_else(|e| panic!("delete public subnet {i}: {e}"));
    }
    assert_eq!(w.load_balancers().await, names(&["k8s-other-public"]));
}

#[tokio::test]
async fn the_sweeper_lists_and_deletes_kubernetes_load_balancers_in_the_vpcs_it_sweeps() {
    let mut w = world("alpha").await;
    let vpc = w.create(&ids::vpc()).await;
    let mut subnets = Vec::new();
    for i in 0..2 {
        subnets.push(w.create(&ids::subnet(false, i)).await);
    }
    let web = w
        .load_balancer(
            "k8s-alpha-web",
            &subnets,
            LoadBalancerSchemeEnum::Internal,
            &[(&format!("{IN_TREE}alpha-dev"), "owned")],
        )
        .await;
    w.target_group(
        "k8s-alpha-web-80",
        &vpc,
        &[(&format!("{IN_TREE}alpha-dev"), "owned")],
        Some(&web),
    )
    .await;
    // Kubernetes' too, but in a VPC that is not ours: never listed nor deleted.
    let (other_vpc, other_subnets) = w.raw_vpc("10.9.0.0/16", &BTreeMap::new()).await;
    let other = w
        .load_balancer(
            "k8s-x-web",
            &other_subnets,
            LoadBalancerSchemeEnum::Internal,
            &[(&format!("{IN_TREE}x"), "owned")],
        )
        .await;
    w.target_group(
        "k8s-x-web-80",
        &other_vpc,
        &[(&format!("{IN_TREE}x"), "owned")],
        Some(&other),
    )
    .await;

    let lb = w
        .sweep_one_load_balancer("alpha", "k8s-alpha-web", &vpc, &other_vpc)
        .await;
    assert_eq!(lb.id, web);
    assert_eq!(w.load_balancers().await, names(&["k8s-x-web"]));
    assert_eq!(w.target_groups().await, names(&["k8s-x-web-80"]));
}
