//! Integration tests of the AWS service modules (EKS, RDS, ElastiCache, ECR, Secrets
//! Manager) against a local moto server.
//!
//! Every test builds its `OpContext`s by hand: resources come from
//! `multicloud_aws::expand::expand` with the ownership tags attached, and the outputs of the
//! dependencies owned by other modules (VPC, subnets, security groups, IAM roles) are
//! created directly with the SDK. The tests share one moto server and use distinct stack
//! names, so they can run in parallel; none resets the server.

mod services {
    pub mod cache;
    pub mod cluster;
    pub mod database;
    pub mod registry;
    pub mod secrets;
}

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use multicloud_aws::AwsProvider;
use multicloud_aws::testing::MotoServer;
use multicloud_core::provider::{
    CloudProvider, Observation, Observed, OpContext, Outputs, Owner, Readiness, ResourceOps,
    StackContext,
};
use multicloud_core::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use multicloud_core::tags::Ownership;
use multicloud_core::{ErrorKind, ProviderError, StackSpec};
use serde_json::json;

/// The region every test uses.
pub const REGION: &str = "us-east-1";

/// What a test needs: the provider on the shared moto server, the stack, its expanded
/// graph (with tags) and the dependency outputs created so far.
pub struct TestStack {
    /// Keeps the shared server alive.
    pub moto: Arc<MotoServer>,
    /// The provider under test.
    pub provider: Arc<AwsProvider>,
    /// The stack context.
    pub stack: StackContext,
    /// The expanded resources, tagged.
    pub graph: ResourceGraph,
    /// Outputs of dependencies, by id.
    pub deps: BTreeMap<ResourceId, Outputs>,
}

/// The error type of the tests.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

impl TestStack {
    /// Expands `spec` and tags every resource with the stack's ownership tags (and the
    /// spec's tags).
    pub async fn new(spec: &StackSpec) -> Result<Self, Box<dyn std::error::Error>> {
        Self::new_on(spec, MotoServer::shared().await?).await
    }

    /// As [`new`](Self::new), on server `moto`.
    pub async fn new_on(
        spec: &StackSpec,
        moto: Arc<MotoServer>,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let sdk = moto.sdk_config(REGION).await;
        let provider = Arc::new(AwsProvider::from_sdk_config(&sdk));
        let ownership = Ownership {
            stack: spec.name.clone(),
            environment: spec.environment.clone(),
            created_at: Utc::now(),
            expires_at: spec
                .ttl
                .and_then(|ttl| chrono::Duration::from_std(ttl).ok())
                .map(|ttl| Utc::now() + ttl),
        };
        let mut graph = multicloud_aws::expand::expand(spec)?;
        for r in graph.resources_mut() {
            r.tags = spec.tags.clone().into();
            r.tags.extend(ownership.tags());
        }
        Ok(Self {
            moto,
            provider,
            stack: StackContext {
                stack: spec.name.clone(),
                environment: spec.environment.clone(),
                region: REGION.into(),
                ownership,
            },
            graph,
            deps: BTreeMap::new(),
        })
    }

    /// The resource `id` of the graph.
    pub fn resource(&self, id: &str) -> Result<Resource, Box<dyn std::error::Error>> {
        self.graph
            .get(&ResourceId::from(id))
            .cloned()
            .ok_or_else(|| format!("no resource {id} in the graph").into())
    }

    /// An operation context for `resource` with the dependency outputs recorded so far.
    pub fn ctx<'a>(&'a self, resource: &'a Resource) -> OpContext<'a> {
        OpContext {
            resource,
            stack: &self.stack,
            deps: &self.deps,
            recorded: None,
            run: None,
        }
    }

    /// Records the outputs of dependency `id`.
    pub fn set_dep(&mut self, id: &str, outputs: Outputs) {
        self.deps.insert(ResourceId::from(id), outputs);
    }

    /// The ops of `kind` (its row of the provider's kind table).
    pub fn ops_for(
        &self,
        kind: ResourceKind,
    ) -> Result<&dyn ResourceOps, Box<dyn std::error::Error>> {
        kind_ops(&self.provider, kind)
    }

    /// Creates graph resource `id` through the service of its kind (with the dependency
    /// outputs recorded so far), records its outputs as a dependency and returns them.
    pub async fn create_dep(
        &mut self,
        id: &ResourceId,
    ) -> Result<Outputs, Box<dyn std::error::Error>> {
        let r = self.resource(id.as_str())?;
        let out = self.ops_for(r.kind)?.create(&self.ctx(&r)).await?;
        self.deps.insert(id.clone(), out.clone());
        Ok(out)
    }

    /// The SDK clients of the provider.
    pub fn clients(&self) -> &multicloud_aws::AwsClients {
        self.provider.clients()
    }

    /// Creates subnet group `id` (an RDS or ElastiCache one) from absent through `ops`,
    /// checks its `name` output and its ARN (`arn_prefix` and the name), that it is ready at
    /// once, ours, and adopted by a second create, then records its outputs as a dependency.
    pub async fn create_subnet_group(
        &mut self,
        ops: &dyn ResourceOps,
        id: &str,
        arn_prefix: &str,
    ) -> Result<Resource, Box<dyn std::error::Error>> {
        let group = self.resource(id)?;
        let ctx = self.ctx(&group);
        let (outputs, arn) = create_from_absent(ops, &ctx).await?;
        assert_eq!(out_str(&outputs, "name")?, group.name);
        assert_eq!(arn, format!("{arn_prefix}{}", group.name));
        assert_eq!(ops.ready(&ctx).await?, Readiness::ready());
        assert_ours_and_adopted(ops, &ctx, &arn).await?;
        self.set_dep(id, outputs);
        Ok(group)
    }

    /// What Secrets Manager says of secret `name` (the SDK's answer, errors included).
    pub async fn describe_secret(
        &self,
        name: &str,
    ) -> Result<
        aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput,
        aws_sdk_secretsmanager::error::SdkError<
            aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError,
        >,
    > {
        self.clients()
            .secrets
            .describe_secret()
            .secret_id(name)
            .send()
            .await
    }

    /// Whether Secrets Manager lists a secret named `name`, ones scheduled for deletion
    /// included.
    pub async fn secret_is_listed(&self, name: &str) -> Result<bool, Box<dyn std::error::Error>> {
        let listed = self
            .clients()
            .secrets
            .list_secrets()
            .include_planned_deletion(true)
            .send()
            .await?;
        Ok(listed.secret_list().iter().any(|s| s.name() == Some(name)))
    }

    /// Creates a VPC with two private subnets (two zones) and security groups `cluster`,
    /// `database` and `cache` directly with EC2, and records them as dependency outputs.
    pub async fn network(&mut self, cidr_second_octet: u8) -> TestResult {
        let ec2 = &self.clients().ec2;
        let vpc = ec2
            .create_vpc()
            .cidr_block(format!("10.{cidr_second_octet}.0.0/16"))
            .send()
            .await?;
        let vpc_id = vpc
            .vpc()
            .and_then(|v| v.vpc_id())
            .ok_or("no vpc id")?
            .to_string();
        let mut subnets = Vec::new();
        for (i, zone) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
            let s = ec2
                .create_subnet()
                .vpc_id(&vpc_id)
                .cidr_block(format!("10.{cidr_second_octet}.{}.0/24", 16 + i))
                .availability_zone(*zone)
                .send()
                .await?;
            subnets.push(
                s.subnet()
                    .and_then(|s| s.subnet_id())
                    .ok_or("no subnet id")?
                    .to_string(),
            );
        }
        let mut groups = Vec::new();
        for role in ["cluster", "database", "cache"] {
            let sg = ec2
                .create_security_group()
                .group_name(format!("{}-{role}", self.stack.stack))
                .description(format!("test {role}"))
                .vpc_id(&vpc_id)
                .send()
                .await?;
            groups.push((role, sg.group_id().ok_or("no group id")?.to_string()));
        }
        self.set_dep("vpc/main", outputs(&[("id", &vpc_id)]));
        for (i, id) in subnets.iter().enumerate() {
            self.set_dep(&format!("subnet/private-{i}"), outputs(&[("id", id)]));
        }
        for (role, id) in groups {
            self.set_dep(&format!("security_group/{role}"), outputs(&[("id", &id)]));
        }
        Ok(())
    }

    /// Creates IAM role `name` trusted by `service` directly with IAM and records it as
    /// dependency `id` (outputs `id`, the role ARN, and `name`).
    pub async fn role(&mut self, id: &str, name: &str, service: &str) -> TestResult {
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" }]
        });
        let out = self
            .clients()
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await?;
        let arn = out
            .role()
            .map(|r| r.arn().to_string())
            .ok_or("no role arn")?;
        self.set_dep(id, outputs(&[("id", &arn), ("name", name)]));
        Ok(())
    }
}

/// Outputs from string pairs.
pub fn outputs(pairs: &[(&str, &str)]) -> Outputs {
    Outputs::from(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect::<serde_json::Map<_, _>>(),
    )
}

/// The string output `key`, or an error naming it.
pub fn out_str<'a>(o: &'a Outputs, key: &str) -> Result<&'a str, Box<dyn std::error::Error>> {
    o.get_str(key)
        .ok_or_else(|| format!("outputs have no string `{key}`: {o:?}").into())
}

/// The outputs of a `Ready` readiness, or an error.
pub fn ready_outputs(
    r: multicloud_core::provider::Readiness,
) -> Result<Outputs, Box<dyn std::error::Error>> {
    match r {
        multicloud_core::provider::Readiness::Ready(o) => Ok(o),
        other => Err(format!("expected Ready, got {other:?}").into()),
    }
}

/// The observed resource of a `Present` observation, or an error.
pub fn present(
    o: multicloud_core::provider::Observation,
) -> Result<multicloud_core::provider::Observed, Box<dyn std::error::Error>> {
    match o {
        multicloud_core::provider::Observation::Present(p) => Ok(p),
        multicloud_core::provider::Observation::Absent => {
            Err("expected Present, got Absent".into())
        }
    }
}

/// Asserts `ctx`'s resource is absent, creates it, and returns its outputs and their `id`.
pub async fn create_from_absent(
    ops: &dyn ResourceOps,
    ctx: &OpContext<'_>,
) -> Result<(Outputs, String), Box<dyn std::error::Error>> {
    assert_eq!(ops.observe(ctx).await?, Observation::Absent);
    let created = ops.create(ctx).await?;
    let id = out_str(&created, "id")?.to_string();
    Ok((created, id))
}

/// Asserts `ctx`'s resource is observed as ours and not drifted, and that creating it again
/// adopts it (same `id` output `id`); returns the observation and the adopted outputs.
pub async fn assert_ours_and_adopted(
    ops: &dyn ResourceOps,
    ctx: &OpContext<'_>,
    id: &str,
) -> Result<(Observed, Outputs), Box<dyn std::error::Error>> {
    let seen = present(ops.observe(ctx).await?)?;
    assert_eq!(seen.owner, Owner::Us);
    assert_eq!(seen.drift, None, "{seen:?}");
    assert_eq!(seen.unhealthy, None);
    let adopted = ops.create(ctx).await?;
    assert_eq!(out_str(&adopted, "id")?, id);
    Ok((seen, adopted))
}

/// Asserts `ctx`'s resource, which exists without our ownership tags, is observed as
/// `Unowned` and that `create` refuses to take it over (`ForeignResource`); returns that
/// error for further checks.
pub async fn assert_foreign_refused(
    ops: &dyn ResourceOps,
    ctx: &OpContext<'_>,
) -> Result<ProviderError, Box<dyn std::error::Error>> {
    assert_eq!(present(ops.observe(ctx).await?)?.owner, Owner::Unowned);
    let err = ops
        .create(ctx)
        .await
        .err()
        .ok_or_else(|| format!("took over a foreign {}", ctx.resource.id))?;
    assert_eq!(err.kind(), ErrorKind::ForeignResource);
    Ok(err)
}

/// Deletes `ctx`'s resource, expects it gone at once (moto deletes synchronously), and
/// deleting it again to succeed.
pub async fn assert_deleted_twice(ops: &dyn ResourceOps, ctx: &OpContext<'_>) -> TestResult {
    ops.delete(ctx).await?;
    assert_eq!(ops.gone(ctx).await?, Readiness::ready());
    ops.delete(ctx).await?;
    Ok(())
}

/// The ops of `kind`: its row of `provider`'s kind table.
pub fn kind_ops(
    provider: &AwsProvider,
    kind: ResourceKind,
) -> Result<&dyn ResourceOps, Box<dyn std::error::Error>> {
    provider
        .ops(kind)
        .ok_or_else(|| format!("no ops for kind {kind}").into())
}
