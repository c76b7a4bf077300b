//! The seams the provider crates build on: kinds declared outside core, cluster access
//! with credentials refreshed before they expire, renewal of expiring resources, and state
//! written by an older schema.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use multicloud_core::kind::{KindDef, ServiceFamily, WORKLOAD_KINDS};
use multicloud_core::plan::Action;
use multicloud_core::prelude::*;
use multicloud_core::provider::{
    ClusterOps, KindTable, Observation, OpContext, Outputs, Readiness, Registry, ResourceOps,
    SecretBackend, WorkloadOps,
};
use multicloud_core::resource::{Resource, ResourceGraph, ResourceId};
use multicloud_core::spec::NamingRules;
use multicloud_core::testing::{
    InMemoryProvider, Latencies, MemoryCloud, MemoryWorkloads, memory_stack,
};

fn spec() -> StackSpec {
    multicloud_core::testing::example_spec()
}

/// A kind core has never heard of, declared here as a provider crate would.
const DNS_RECORD: ResourceKind = ResourceKind::new("dns_record");

/// The memory provider plus one resource of [`DNS_RECORD`] per stack, on the cluster.
struct WithDns(InMemoryProvider);

impl CloudProvider for WithDns {
    fn name(&self) -> &str {
        "memory+dns"
    }
    fn kind_table(&self) -> &KindTable {
        self.0.kind_table()
    }
    fn naming_rules(&self) -> &dyn NamingRules {
        self.0.naming_rules()
    }
    fn expand(
        &self,
        spec: &StackSpec,
    ) -> Result<ResourceGraph, multicloud_core::expand::ExpandError> {
        let mut g = self.0.expand(spec)?;
        g.add(
            Resource::new(DNS_RECORD, "api", "api.shop.example")
                .depends_on(&ResourceId::single(ResourceKind::CLUSTER))
                .with_config(&serde_json::json!({ "ttl": 60 }))?,
        )?;
        g.validate()?;
        Ok(g)
    }
    fn cluster(&self) -> &dyn ClusterOps {
        self.0.cluster()
    }
    fn registry(&self) -> &dyn Registry {
        self.0.registry()
    }
    fn secrets(&self) -> &dyn SecretBackend {
        self.0.secrets()
    }
}

#[tokio::test(start_paused = true)]
async fn a_kind_declared_outside_core_runs_through_plan_apply_and_destroy() {
    let cloud = MemoryCloud::new(Latencies::realistic(Duration::from_secs(1)));
    let dir = tempfile::tempdir().expect("tempdir");
    let declared =
        KindDef::new(DNS_RECORD, ServiceFamily::Network).timeout(Duration::from_secs(60));
    let memory = InMemoryProvider::new(cloud.clone()).with_kinds(&[declared]);
    let stack = Stack::new(spec(), WithDns(memory.clone()))
        .workloads(memory.workloads())
        .state(LocalStateStore::new(dir.path()));
    let id = ResourceId::new(DNS_RECORD, "api");

    let plan = stack.plan().await.expect("plan");
    assert_eq!(plan.action(&id).map(|a| a.action), Some(Action::Create));
    stack.up().await.expect("up");
    let exists = |c: &MemoryCloud| {
        c.resources()
            .iter()
            .any(|r| r.id == id && r.kind == DNS_RECORD)
    };
    assert!(exists(&cloud), "the dns record was created");
    let state = std::fs::read_to_string(
        dir.path()
            .join("shop.pr-1234")
            .join("memory+dns.default.us-east-1.json"),
    )
    .expect("state");
    assert!(
        state.contains("\"kind\":\"dns_record\""),
        "recorded by name"
    );
    assert!(
        stack.plan().await.expect("plan").is_noop(),
        "and read back from state"
    );

    stack.down().await.expect("down");
    assert!(!exists(&cloud), "the dns record was deleted");

    // Without the declaration the engine refuses the kind before any call.
    let undeclared = Stack::new(spec(), WithDns(InMemoryProvider::new(cloud.clone())))
        .workloads(memory.workloads())
        .state(LocalStateStore::new(dir.path()));
    match undeclared.plan().await {
        Err(Error::UnsupportedKind { kind, .. }) => assert_eq!(kind, DNS_RECORD),
        other => panic!("expected UnsupportedKind, got {other:?}"),
    }
}

/// The ops of a workload backend that uses the stack's cluster access in every create and
/// records whether the credentials it got were still valid, then works for a while.
struct TokenUser {
    inner: MemoryWorkloads,
    uses: Arc<Mutex<Vec<(String, bool)>>>,
    work: Duration,
}

impl TokenUser {
    fn inner(&self, ctx: &OpContext<'_>) -> Result<&dyn ResourceOps, ProviderError> {
        self.inner
            .kind_table()
            .ops(ctx.resource.kind)
            .ok_or_else(|| ProviderError::invalid(format!("{} undeclared", ctx.resource.kind)))
    }
}

#[async_trait]
impl ResourceOps for TokenUser {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        self.inner(ctx)?.observe(ctx).await
    }
    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let creds = ctx.cluster_credentials().await?;
        let valid = creds.expires_at().is_some_and(|exp| exp > Utc::now());
        let token = creds.token().map(|t| t.fingerprint()).unwrap_or_default();
        self.uses.lock().expect("lock").push((token, valid));
        tokio::time::sleep(self.work).await;
        self.inner(ctx)?.create(ctx).await
    }
    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        self.inner(ctx)?.delete(ctx).await
    }
    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        self.inner(ctx)?.ready(ctx).await
    }
    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        self.inner(ctx)?.gone(ctx).await
    }
}

/// The workload backend: every workload kind on one shared [`TokenUser`].
struct TokenUsers(KindTable);

impl TokenUsers {
    fn new(user: TokenUser) -> Self {
        let user: Arc<dyn ResourceOps> = Arc::new(user);
        let table = WORKLOAD_KINDS
            .iter()
            .fold(KindTable::new(), |t, d| t.row_shared(*d, user.clone()));
        Self(table)
    }
}

impl WorkloadOps for TokenUsers {
    fn kind_table(&self) -> &KindTable {
        &self.0
    }
}

#[tokio::test]
async fn a_cluster_token_that_expires_mid_run_is_refreshed() {
    // Real time: tokens expire by the wall clock. A token lives 2 s and is renewed when
    // less than 1.9 s is left, so it is good for 100 ms; each workload create takes 150 ms.
    let cloud = MemoryCloud::new(Latencies::zero());
    let dir = tempfile::tempdir().expect("tempdir");
    let memory = InMemoryProvider::new(cloud.clone()).with_token_lifetime(Duration::from_secs(2));
    let uses: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let user = TokenUser {
        inner: memory.workloads(),
        uses: uses.clone(),
        work: Duration::from_millis(150),
    };
    let options = ApplyOptions {
        refresh_credentials_before: Duration::from_millis(1900),
        ..ApplyOptions::default()
    };
    let stack = Stack::new(spec(), memory.clone())
        .workloads(TokenUsers::new(user))
        .options(options)
        .state(LocalStateStore::new(dir.path()));
    stack.up().await.expect("up");

    let uses = uses.lock().expect("lock").clone();
    assert!(
        uses.len() >= 6,
        "every workload create used the cluster: {uses:?}"
    );
    assert!(
        uses.iter().all(|(_, valid)| *valid),
        "never an expired token: {uses:?}"
    );
    let distinct: std::collections::BTreeSet<_> = uses.iter().map(|(t, _)| t).collect();
    assert!(
        distinct.len() >= 2,
        "the token was renewed mid-run: {uses:?}"
    );
    assert!(memory.tokens_issued() >= 2);
    assert!(
        memory.tokens_issued() <= uses.len() as u64,
        "fetched only when needed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_resource_whose_holdings_expire_soon_is_renewed_by_up() {
    let cloud = MemoryCloud::new(Latencies::zero());
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = memory_stack(spec(), InMemoryProvider::new(cloud.clone()))
        .state(LocalStateStore::new(dir.path()));
    let outputs = stack.up().await.expect("up");
    let registry = &outputs.registries["shop-api"];
    let id = ResourceId::new(ResourceKind::REGISTRY, "shop-api");

    // A credential good for 12 more hours is left alone (default: renew within 1 hour).
    assert!(cloud.set_expiry(
        ResourceKind::REGISTRY,
        &registry.name,
        Some(Utc::now() + chrono::Duration::hours(12))
    ));
    assert!(stack.plan().await.expect("plan").is_noop());

    // Ten minutes left: the plan shows an update saying why, and up carries it out.
    cloud.set_expiry(
        ResourceKind::REGISTRY,
        &registry.name,
        Some(Utc::now() + chrono::Duration::minutes(10)),
    );
    let plan = stack.plan().await.expect("plan");
    let action = plan.action(&id).expect("planned");
    assert_eq!(action.action, Action::Update);
    assert!(action.reason.contains("renewing"), "{}", action.reason);
    assert_eq!(plan.summary().noop, plan.actions.len() - 1, "{plan}");
    stack.up().await.expect("renewing up");
}

#[tokio::test(start_paused = true)]
async fn a_state_file_of_schema_1_migrates_and_plans_as_a_noop() {
    let cloud = MemoryCloud::new(Latencies::zero());
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = memory_stack(spec(), InMemoryProvider::new(cloud.clone()))
        .state(LocalStateStore::new(dir.path()));
    let outputs = stack.up().await.expect("up");

    // Rewrite the file as version 1 wrote it: ARNs under `arn`, no neutral `id`.
    let path = dir.path().join("shop.pr-1234").join("memory.local.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    v["schema_version"] = 1.into();
    let mut moved = 0;
    for rec in v["resources"]
        .as_object_mut()
        .expect("resources")
        .values_mut()
    {
        if rec["kind"] == "secret" {
            let o = rec["outputs"].as_object_mut().expect("outputs");
            let id = o.remove("id").expect("id");
            o.insert("arn".into(), id);
            moved += 1;
        }
    }
    assert!(moved > 0);
    std::fs::write(&path, serde_json::to_string_pretty(&v).expect("json")).expect("write");

    let plan = stack.plan().await.expect("plan of a migrated state");
    assert!(plan.is_noop(), "{plan}");
    assert_eq!(stack.outputs().await.expect("outputs"), outputs);
}
