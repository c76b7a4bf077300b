//! The harness of `network_identity.rs`: a moto server, a provider on it and the expanded,
//! tagged graph of a full `shop/dev` stack, with create/observe/delete helpers that check
//! the lifecycle contracts on the way.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;
use multicloud_aws::AwsProvider;
use multicloud_aws::expand::ids;
use multicloud_aws::testing::MotoServer;
use multicloud_core::provider::{
    CloudProvider, Observation, OpContext, Outputs, Owner, Readiness, ResourceOps, StackContext,
};
use multicloud_core::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use multicloud_core::spec::{
    Cluster, Network, NodePool, Postgres, Redis, RegistrySpec, SecretSpec, StackSpec,
    WorkloadIdentity,
};
use serde_json::Value;

pub use crate::network_world::sorted_zone_names;
use crate::network_world::{deps_of, tagged_graph};

pub const REGION: &str = "us-east-1";
pub const ISSUER: &str =
    "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
pub const ISSUER_HOST: &str =
    "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

/// A moto server, a provider on it, and the expanded, tagged graph of a full `shop/dev` stack.
pub struct Harness {
    pub moto: MotoServer,
    pub provider: AwsProvider,
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub graph: ResourceGraph,
    pub stack: StackContext,
    /// Outputs of what was created so far.
    pub outputs: BTreeMap<ResourceId, Outputs>,
}

pub async fn harness() -> Harness {
    let moto = MotoServer::start()
        .await
        .unwrap_or_else(|e| panic!("could not start moto: {e}"));
    let sdk = moto.sdk_config(REGION).await;
    let spec = StackSpec::builder("shop")
        .environment("dev")
        .region(REGION)
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "t3.medium", 1, 3)))
        .database(Postgres::new("16"))
        .cache(Redis::new("7.1"))
        .registry(RegistrySpec::new("web"))
        .secret(SecretSpec::generated("api-key", 32))
        .workload_identity(
            WorkloadIdentity::new("shop", "web")
                .can_read_secret("api-key")
                .can_pull("web"),
        )
        .build()
        .expect("valid spec");
    let (graph, stack) = tagged_graph(&spec);
    Harness {
        moto,
        provider: AwsProvider::from_sdk_config(&sdk),
        ec2: aws_sdk_ec2::Client::new(&sdk),
        iam: aws_sdk_iam::Client::new(&sdk),
        graph,
        stack,
        outputs: BTreeMap::new(),
    }
}

impl Harness {
    pub fn resource(&self, id: &ResourceId) -> &Resource {
        self.graph
            .get(id)
            .unwrap_or_else(|| panic!("{id} is in the graph"))
    }

    pub fn ops(&self, id: &ResourceId) -> &dyn ResourceOps {
        ops_for(&self.provider, self.resource(id).kind)
    }

    /// The outputs of `resource`'s dependencies among those created so far.
    pub fn deps(&self, resource: &Resource) -> BTreeMap<ResourceId, Outputs> {
        deps_of(&self.outputs, resource)
    }

    /// An operation context for `resource` in the harness's stack.
    pub fn ctx<'a>(
        &'a self,
        resource: &'a Resource,
        deps: &'a BTreeMap<ResourceId, Outputs>,
        recorded: Option<&'a Outputs>,
    ) -> OpContext<'a> {
        OpContext {
            resource,
            stack: &self.stack,
            deps,
            recorded,
            run: None,
        }
    }

    pub async fn observe(&self, id: &ResourceId, recorded: Option<&Outputs>) -> Observation {
        let r = self.resource(id);
        let deps = self.deps(r);
        self.ops(id)
            .observe(&self.ctx(r, &deps, recorded))
            .await
            .unwrap_or_else(|e| panic!("observe {id}: {e}"))
    }

    pub async fn try_create(
        &self,
        resource: &Resource,
    ) -> Result<Outputs, multicloud_core::ProviderError> {
        let deps = self.deps(resource);
        ops_for(&self.provider, resource.kind)
            .create(&self.ctx(resource, &deps, None))
            .await
    }

    /// Creates `id`, checking it is absent before and ours after, and records its outputs.
    pub async fn create(&mut self, id: &ResourceId) -> Outputs {
        assert_eq!(
            self.observe(id, None).await,
            Observation::Absent,
            "{id} before create"
        );
        let r = self.resource(id).clone();
        let out = self
            .try_create(&r)
            .await
            .unwrap_or_else(|e| panic!("create {id}: {e}"));
        match self.observe(id, Some(&out)).await {
            Observation::Present(o) => {
                assert_eq!(o.owner, Owner::Us, "{id} after create");
                assert_eq!(o.outputs.cloud_id(), out.cloud_id());
            }
            Observation::Absent => panic!("{id} absent after create"),
        }
        self.outputs.insert(id.clone(), out.clone());
        out
    }

    pub async fn delete(&self, id: &ResourceId) {
        let r = self.resource(id);
        let deps = self.deps(r);
        let recorded = self.outputs.get(id);
        let ctx = self.ctx(r, &deps, recorded);
        let ops = self.ops(id);
        ops.delete(&ctx)
            .await
            .unwrap_or_else(|e| panic!("delete {id}: {e}"));
        assert_eq!(
            ops.gone(&ctx).await.ok(),
            Some(Readiness::ready()),
            "{id} gone"
        );
        assert_eq!(
            self.observe(id, recorded).await,
            Observation::Absent,
            "{id} after delete"
        );
        // Deleting again succeeds.
        ops.delete(&ctx)
            .await
            .unwrap_or_else(|e| panic!("second delete {id}: {e}"));
    }
}

/// The ops of `kind`: its row of the provider's kind table.
pub fn ops_for(provider: &AwsProvider, kind: ResourceKind) -> &dyn ResourceOps {
    provider
        .ops(kind)
        .unwrap_or_else(|| panic!("{kind} is an AWS kind"))
}

pub fn network_ids() -> Vec<ResourceId> {
    vec![
        ids::vpc(),
        ids::subnet(true, 0),
        ids::subnet(true, 1),
        ids::subnet(false, 0),
        ids::subnet(false, 1),
        ids::igw(),
        ids::public_routes(),
        ids::elastic_ip(0),
        ids::elastic_ip(1),
        ids::nat_gateway(0),
        ids::nat_gateway(1),
        ids::private_routes(Some(0)),
        ids::private_routes(Some(1)),
        ids::sg("cluster"),
        ids::sg("database"),
        ids::sg("cache"),
    ]
}

pub fn out_str<'a>(o: &'a Outputs, key: &str) -> &'a str {
    o.get_str(key)
        .unwrap_or_else(|| panic!("output {key} in {o:?}"))
}

pub fn ec2_tags(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

pub async fn vpcs_named(ec2: &aws_sdk_ec2::Client, name: &str) -> usize {
    let out = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("tag:Name").values(name).build())
        .send()
        .await
        .expect("DescribeVpcs");
    out.vpcs().len()
}

pub async fn attached(iam: &aws_sdk_iam::Client, role: &str) -> Vec<String> {
    let out = iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .expect("attached");
    let mut arns: Vec<String> = out
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    arns.sort();
    arns
}

/// The trust policy of IAM role `role`, decoded.
pub async fn role_trust(iam: &aws_sdk_iam::Client, role: &str) -> Value {
    let out = iam.get_role().role_name(role).send().await.expect("role");
    decode(
        out.role()
            .and_then(|r| r.assume_role_policy_document())
            .expect("trust"),
    )
}

/// The names of the inline policies of IAM role `role`.
pub async fn inline_policy_names(iam: &aws_sdk_iam::Client, role: &str) -> Vec<String> {
    let out = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .expect("inline names");
    out.policy_names().to_vec()
}

/// URL-decodes a policy document as IAM returns it, with the `url` crate.
pub fn decode(doc: &str) -> Value {
    let decoded = url::form_urlencoded::parse(format!("d={doc}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .expect("a document");
    serde_json::from_str(&decoded).unwrap_or_else(|e| panic!("{e}: {decoded}"))
}
