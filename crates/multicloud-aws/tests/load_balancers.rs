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
use multicloud_aws::kinds;
use multicloud_aws::sweeper::{SweepFilter, Sweeper};
use multicloud_core::ErrorKind;
use multicloud_core::provider::Outputs;
use multicloud_core::tags::{TAG_ENV, TAG_STACK};

#[path = "support/network_world.rs"]
mod network_world;

use network_world::{World, world};

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
        let out = self
            .elb()
            .describe_load_balancers()
            .send()
            .await
            .expect("DescribeLoadBalancers");
        let mut names: Vec<String> = out
            .load_balancers()
            .iter()
            .filter_map(|lb| lb.load_balancer_name().map(str::to_string))
            .collect();
        names.sort();
        names
    }

    /// The names of the target groups left, sorted.
    async fn target_groups(&self) -> Vec<String> {
        let out = self
            .elb()
            .describe_target_groups()
            .send()
            .await
            .expect("DescribeTargetGroups");
        let mut names: Vec<String> = out
            .target_groups()
            .iter()
            .filter_map(|tg| tg.target_group_name().map(str::to_string))
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

    /// An EKS cluster `name` in `subnets` (moto makes it `ACTIVE` at once).
    async fn eks_cluster(&self, name: &str, subnets: &[String]) {
        self.eks
            .create_cluster()
            .name(name)
            .role_arn("arn:aws:iam::123456789012:role/eks-cluster")
            .resources_vpc_config(
                aws_sdk_eks::types::VpcConfigRequest::builder()
                    .set_subnet_ids(Some(subnets.to_vec()))
                    .build(),
            )
            .send()
            .await
            .expect("CreateCluster");
    }
}

fn elb_tags(tags: &[(&str, &str)]) -> Option<Vec<Tag>> {
    (!tags.is_empty()).then(|| {
        tags.iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
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
async fn deleting_the_vpc_removes_the_clusters_load_balancers_and_target_groups() {
    let w = world("shop").await;
    let cluster_tag = format!("{IN_TREE}shop-dev");
    let mut vpc_tags = w.stack.ownership.tags();
    vpc_tags.insert("Name".into(), w.resource(&ids::vpc()).name.clone());
    let (vpc, subnets) = w.raw_vpc("10.0.0.0/16", &vpc_tags).await;
    let (other_vpc, other_subnets) = w.raw_vpc("10.9.0.0/16", &BTreeMap::new()).await;

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

    // moto refuses to delete a VPC that has subnets (as AWS does), but not a subnet that a
    // load balancer uses (AWS refuses it): delete them directly, to leave the load balancer
    // for the VPC deletion to find.
    for s in &subnets {
        w.ec2
            .delete_subnet()
            .subnet_id(s)
            .send()
            .await
            .expect("DeleteSubnet");
    }
    let recorded = recorded_id(&vpc);
    w.delete(&ids::vpc(), Some(&recorded))
        .await
        .unwrap_or_else(|e| panic!("delete the VPC: {e}"));

    assert_eq!(w.load_balancers().await, names(&["someone-else"]));
    assert_eq!(w.target_groups().await, names(&["someone-else-80"]));
    assert!(!w.vpc_exists(&vpc).await, "the VPC is gone");
    assert!(w.vpc_exists(&other_vpc).await, "the other VPC stays");

    // Deleting again succeeds.
    w.delete(&ids::vpc(), Some(&recorded))
        .await
        .unwrap_or_else(|e| panic!("delete the VPC again: {e}"));
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
    assert_eq!(e.kind(), ErrorKind::DependencyViolation, "{e}");
    assert!(e.retryable());
    assert!(e.message().contains("k8s-shop-public"), "{e}");
    assert!(!e.message().contains("k8s-other-public"), "{e}");
    let e = w
        .delete(&ids::subnet(false, 1), None)
        .await
        .expect_err("the subnet holds a running cluster's load balancer");
    assert_eq!(e.kind(), ErrorKind::DependencyViolation, "{e}");
    assert!(e.message().contains("k8s-shop-internal"), "{e}");
    assert_eq!(w.load_balancers().await, all);

    // Once the cluster is gone: the gateway takes the internet-facing one of the cluster...
    w.eks
        .delete_cluster()
        .name("shop-dev")
        .send()
        .await
        .expect("DeleteCluster");
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

    let sweeper = multicloud_aws::testing::fast_sweeper(w.provider.clients());
    let alpha = SweepFilter::stack("alpha", "dev");
    let found = sweeper.find(&alpha).await.expect("find");
    let lbs: Vec<_> = found
        .iter()
        .filter(|r| r.kind == kinds::LOAD_BALANCER.as_str())
        .collect();
    assert_eq!(lbs.len(), 1, "{found:#?}");
    assert_eq!(lbs[0].name, "k8s-alpha-web");
    assert_eq!(lbs[0].id, web);
    assert_eq!(lbs[0].parent.as_deref(), Some(vpc.as_str()));
    assert_eq!(
        lbs[0].tags.get(TAG_STACK).map(String::as_str),
        Some("alpha")
    );
    assert_eq!(lbs[0].tags.get(TAG_ENV).map(String::as_str), Some("dev"));
    // Deleted after the roles, before the network.
    let rank = |kind: multicloud_core::resource::ResourceKind| {
        found
            .iter()
            .position(|r| r.kind == kind.as_str())
            .expect("found")
    };
    assert!(rank(kinds::LOAD_BALANCER) < rank(kinds::SUBNET));
    let beta = SweepFilter::every_environment_of("beta");
    assert!(sweeper.find(&beta).await.expect("find").is_empty());

    let report = sweeper.sweep(&alpha, false).await.expect("sweep");
    assert!(report.is_clean(), "{:#?}", report.failed);
    assert!(
        report
            .deleted
            .iter()
            .any(|r| r.kind == kinds::LOAD_BALANCER.as_str() && r.name == "k8s-alpha-web")
    );
    assert_eq!(w.load_balancers().await, names(&["k8s-x-web"]));
    assert_eq!(w.target_groups().await, names(&["k8s-x-web-80"]));
    assert!(!w.vpc_exists(&vpc).await, "the swept VPC is gone");
    assert!(w.vpc_exists(&other_vpc).await, "the other VPC stays");
}
