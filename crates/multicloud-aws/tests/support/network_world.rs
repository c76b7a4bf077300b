//! Shared harness of the tests that exercise the network cleanup (load balancers, Kubernetes
//! security groups) against moto: a server, a provider on it, and the expanded, tagged
//! network of `<stack>/dev`, with helpers to create and delete its resources through the
//! provider's `ResourceOps`. Included with `#[path]` by each test file, which adds its own
//! `impl World` helpers.
#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{ResourceType, Tag as Ec2Tag, TagSpecification};
use chrono::Utc;
use multicloud_aws::AwsProvider;
use multicloud_aws::expand::{expand, ids};
use multicloud_aws::kinds;
use multicloud_aws::sweeper::{SweepFilter, Sweeper, SweptResource};
use multicloud_aws::testing::MotoServer;
use multicloud_core::provider::{CloudProvider, OpContext, Outputs, ResourceOps, StackContext};
use multicloud_core::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use multicloud_core::spec::{Network, StackSpec};
use multicloud_core::tags::{Ownership, TAG_ENV, TAG_STACK};
use multicloud_core::{ErrorKind, ProviderError};

/// The region of every test.
pub const REGION: &str = "us-east-1";

/// A moto server, a provider on it, and the expanded, tagged network of `<stack>/dev`.
pub struct World {
    _moto: MotoServer,
    /// The SDK config pointing at moto (to build further clients).
    pub sdk: aws_config::SdkConfig,
    /// The provider under test.
    pub provider: AwsProvider,
    /// A plain EC2 client.
    pub ec2: aws_sdk_ec2::Client,
    /// A plain EKS client.
    pub eks: aws_sdk_eks::Client,
    /// The expanded network, tagged with `stack`'s ownership.
    pub graph: ResourceGraph,
    /// The stack.
    pub stack: StackContext,
    /// Outputs of what was created through the provider.
    pub outputs: BTreeMap<ResourceId, Outputs>,
}

/// A fresh moto server and the world of `<stack>/dev` on it.
pub async fn world(stack: &str) -> World {
    let moto = MotoServer::start()
        .await
        .unwrap_or_else(|e| panic!("could not start moto: {e}"));
    let sdk = moto.sdk_config(REGION).await;
    let spec = StackSpec::builder(stack)
        .environment("dev")
        .region(REGION)
        .network(Network::default())
        .build()
        .expect("valid spec");
    let (graph, stack) = tagged_graph(&spec);
    World {
        provider: AwsProvider::from_sdk_config(&sdk),
        ec2: aws_sdk_ec2::Client::new(&sdk),
        eks: aws_sdk_eks::Client::new(&sdk),
        sdk,
        _moto: moto,
        graph,
        stack,
        outputs: BTreeMap::new(),
    }
}

/// `spec` expanded by the AWS provider, every resource tagged with the ownership of its
/// stack and environment (no TTL), and the stack's context in [`REGION`].
pub fn tagged_graph(spec: &StackSpec) -> (ResourceGraph, StackContext) {
    let ownership = Ownership {
        stack: spec.name.clone(),
        environment: spec.environment.clone(),
        created_at: Utc::now(),
        expires_at: None,
    };
    let mut graph = expand(spec).expect("expands");
    for r in graph.resources_mut() {
        r.tags = ownership.tags().into();
    }
    let stack = StackContext {
        stack: spec.name.clone(),
        environment: spec.environment.clone(),
        region: REGION.into(),
        ownership,
    };
    (graph, stack)
}

/// The outputs among `outputs` of `r`'s dependencies.
pub fn deps_of(
    outputs: &BTreeMap<ResourceId, Outputs>,
    r: &Resource,
) -> BTreeMap<ResourceId, Outputs> {
    r.depends_on
        .iter()
        .filter_map(|d| outputs.get(d).map(|o| (d.clone(), o.clone())))
        .collect()
}

/// The names of the availability zones EC2 reports, sorted.
pub async fn sorted_zone_names(ec2: &aws_sdk_ec2::Client) -> Vec<String> {
    let zones = ec2
        .describe_availability_zones()
        .send()
        .await
        .expect("zones");
    let mut names: Vec<String> = zones
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    names.sort();
    names
}

impl World {
    /// The resource `id` of the graph.
    pub fn resource(&self, id: &ResourceId) -> &Resource {
        self.graph
            .get(id)
            .unwrap_or_else(|| panic!("{id} is in the graph"))
    }

    /// The ops of `kind`: its row of the provider's kind table.
    pub fn ops_for(&self, kind: ResourceKind) -> &dyn ResourceOps {
        self.provider
            .ops(kind)
            .unwrap_or_else(|| panic!("{kind} is an AWS kind"))
    }

    fn deps(&self, r: &Resource) -> BTreeMap<ResourceId, Outputs> {
        deps_of(&self.outputs, r)
    }

    /// Creates `id` through the provider and records its outputs; returns its cloud id.
    pub async fn create(&mut self, id: &ResourceId) -> String {
        let r = self.resource(id).clone();
        let deps = self.deps(&r);
        let ctx = OpContext {
            resource: &r,
            stack: &self.stack,
            deps: &deps,
            recorded: None,
            run: None,
        };
        let out = self
            .ops_for(r.kind)
            .create(&ctx)
            .await
            .unwrap_or_else(|e| panic!("create {id}: {e}"));
        let provider_id = out.cloud_id().expect("an id").to_string();
        self.outputs.insert(id.clone(), out);
        provider_id
    }

    /// Deletes `id` through the provider (the `ResourceOps` of its kind), with `recorded`
    /// as its recorded outputs (those recorded at creation when `None`).
    pub async fn delete(
        &self,
        id: &ResourceId,
        recorded: Option<&Outputs>,
    ) -> Result<(), ProviderError> {
        let r = self.resource(id);
        let deps = self.deps(r);
        let ctx = OpContext {
            resource: r,
            stack: &self.stack,
            deps: &deps,
            recorded: Some(recorded.unwrap_or_else(|| &self.outputs[id])),
            run: None,
        };
        self.ops_for(r.kind).delete(&ctx).await
    }

    /// Deletes `id` with `cloud_id` as its recorded `id` output.
    pub async fn delete_recorded_id(
        &self,
        id: &ResourceId,
        cloud_id: &str,
    ) -> Result<(), ProviderError> {
        let mut recorded = Outputs::new();
        recorded
            .as_map_mut()
            .insert("id".into(), serde_json::json!(cloud_id));
        self.delete(id, Some(&recorded)).await
    }

    /// A VPC and a subnet in each of the first two zones, made with the EC2 client; the VPC
    /// tagged `tags`. Returns the VPC id and the subnet ids.
    pub async fn raw_vpc(
        &self,
        cidr: &str,
        tags: &BTreeMap<String, String>,
    ) -> (String, Vec<String>) {
        let spec = TagSpecification::builder()
            .resource_type(ResourceType::Vpc)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Ec2Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .build();
        let vpc = self
            .ec2
            .create_vpc()
            .cidr_block(cidr)
            .tag_specifications(spec)
            .send()
            .await
            .expect("CreateVpc");
        let vpc_id = vpc
            .vpc()
            .and_then(|v| v.vpc_id())
            .expect("a VPC id")
            .to_string();
        let zones = sorted_zone_names(&self.ec2).await;
        let prefix = cidr.rsplit_once(".0.0/").expect("a /16").0;
        let mut subnets = Vec::new();
        for (i, zone) in zones.iter().take(2).enumerate() {
            let s = self
                .ec2
                .create_subnet()
                .vpc_id(&vpc_id)
                .availability_zone(zone)
                .cidr_block(format!("{prefix}.{i}.0/24"))
                .send()
                .await
                .expect("CreateSubnet");
            subnets.push(
                s.subnet()
                    .and_then(|s| s.subnet_id())
                    .expect("a subnet id")
                    .to_string(),
            );
        }
        (vpc_id, subnets)
    }
}

/// `list` as owned names, sorted (what the listing helpers return).
pub fn names(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// The names given (those present), sorted (what the listing helpers return).
pub fn sorted<'a>(found: impl IntoIterator<Item = Option<&'a str>>) -> Vec<String> {
    let mut v: Vec<String> = found.into_iter().flatten().map(str::to_string).collect();
    v.sort();
    v
}

/// Outputs recording `id` as the cloud id.
pub fn recorded_id(id: &str) -> Outputs {
    let mut o = Outputs::new();
    o.as_map_mut().insert("id".into(), serde_json::json!(id));
    o
}

/// Asserts that `e` refuses a deletion retryably because of a running cluster's load
/// balancer, naming `holding` and not `not_named`.
pub fn assert_held_by(e: &ProviderError, holding: &str, not_named: &str) {
    assert_eq!(e.kind(), ErrorKind::DependencyViolation, "{e}");
    assert!(e.retryable());
    assert!(e.message().contains(holding), "{e}");
    assert!(!e.message().contains(not_named), "{e}");
}

impl World {
    /// Whether VPC `vpc` exists.
    pub async fn vpc_exists(&self, vpc: &str) -> bool {
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

    /// The stack's VPC made with the EC2 client (tagged as ours, with the name the graph
    /// gives it) and another, untagged one, each with two subnets: `(vpc, subnets,
    /// other_vpc, other_subnets)`.
    pub async fn ours_and_other_vpc(&self) -> (String, Vec<String>, String, Vec<String>) {
        let mut vpc_tags = self.stack.ownership.tags();
        vpc_tags.insert("Name".into(), self.resource(&ids::vpc()).name.clone());
        let (vpc, subnets) = self.raw_vpc("10.0.0.0/16", &vpc_tags).await;
        let (other_vpc, other_subnets) = self.raw_vpc("10.9.0.0/16", &BTreeMap::new()).await;
        (vpc, subnets, other_vpc, other_subnets)
    }

    /// Deletes `subnets` with the EC2 client (moto refuses to delete a VPC that has
    /// subnets, as AWS does, but not a subnet a load balancer uses, which AWS refuses:
    /// this leaves the load balancers for the VPC deletion to find).
    pub async fn delete_raw_subnets(&self, subnets: &[String]) {
        for s in subnets {
            self.ec2
                .delete_subnet()
                .subnet_id(s)
                .send()
                .await
                .expect("DeleteSubnet");
        }
    }

    /// Deletes VPC `vpc` through the provider, with `vpc` recorded; then checks that it is
    /// gone and that `other_vpc` stays.
    pub async fn delete_recorded_vpc(&self, vpc: &str, other_vpc: &str) {
        self.delete(&ids::vpc(), Some(&recorded_id(vpc)))
            .await
            .unwrap_or_else(|e| panic!("delete the VPC {vpc}: {e}"));
        assert!(!self.vpc_exists(vpc).await, "the VPC is gone");
        assert!(self.vpc_exists(other_vpc).await, "the other VPC stays");
    }

    /// An EKS cluster `name` in `subnets` (moto makes it `ACTIVE` at once).
    pub async fn eks_cluster(&self, name: &str, subnets: &[String]) {
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

    /// Deletes EKS cluster `name`.
    pub async fn delete_eks_cluster(&self, name: &str) {
        self.eks
            .delete_cluster()
            .name(name)
            .send()
            .await
            .expect("DeleteCluster");
    }

    /// Sweeps `<stack>/dev` with a fast sweeper after checking what it finds: exactly one
    /// load balancer, `name`, in VPC `vpc`, tagged with the stack and environment, deleted
    /// before the subnets; the sweep deletes it and is clean, and the VPC is gone while
    /// `other_vpc` stays. Returns the load balancer as found.
    pub async fn sweep_one_load_balancer(
        &self,
        stack: &str,
        name: &str,
        vpc: &str,
        other_vpc: &str,
    ) -> SweptResource {
        let sweeper = multicloud_aws::testing::fast_sweeper(self.provider.clients());
        let filter = SweepFilter::stack(stack, "dev");
        let found = sweeper.find(&filter).await.expect("find");
        let lbs: Vec<_> = found
            .iter()
            .filter(|r| r.kind == kinds::LOAD_BALANCER.as_str())
            .collect();
        assert_eq!(lbs.len(), 1, "{found:#?}");
        let lb = lbs[0].clone();
        assert_eq!(lb.name, name);
        assert_eq!(lb.parent.as_deref(), Some(vpc));
        assert_eq!(lb.tags.get(TAG_STACK).map(String::as_str), Some(stack));
        assert_eq!(lb.tags.get(TAG_ENV).map(String::as_str), Some("dev"));
        // Deleted after the roles, before the network.
        let rank = |kind: ResourceKind| {
            found
                .iter()
                .position(|r| r.kind == kind.as_str())
                .expect("found")
        };
        assert!(rank(kinds::LOAD_BALANCER) < rank(kinds::SUBNET));
        let beta = SweepFilter::every_environment_of("beta");
        assert!(sweeper.find(&beta).await.expect("find").is_empty());

        let report = sweeper.sweep(&filter, false).await.expect("sweep");
        assert!(report.is_clean(), "{:#?}", report.failed);
        assert!(
            report
                .deleted
                .iter()
                .any(|r| r.kind == kinds::LOAD_BALANCER.as_str() && r.name == name)
        );
        assert!(!self.vpc_exists(vpc).await, "the swept VPC is gone");
        assert!(self.vpc_exists(other_vpc).await, "the other VPC stays");
        lb
    }
}
