//! The engine against the in-memory provider: ordering, concurrency, idempotency, adoption,
//! crash recovery, throttling, locking and secret hygiene.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use multicloud_core::events::Event;
use multicloud_core::plan::Action;
use multicloud_core::prelude::*;
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_core::state::LockInfo;
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud, Op, kinds, memory_stack};
use tokio_util::sync::CancellationToken;

fn spec() -> StackSpec {
    let spec = multicloud_core::testing::example_spec();
    spec.validate().expect("the issue's example spec is valid");
    spec
}

fn cloud() -> Arc<MemoryCloud> {
    MemoryCloud::new(Latencies::realistic(Duration::from_secs(60)))
}

fn stack(cloud: &Arc<MemoryCloud>, dir: &std::path::Path) -> Stack {
    stack_of(spec(), cloud, dir)
}

/// A stack of `spec` on `cloud` with its state in `dir`.
fn stack_of(spec: StackSpec, cloud: &Arc<MemoryCloud>, dir: &std::path::Path) -> Stack {
    memory_stack(spec, InMemoryProvider::new(cloud.clone())).state(LocalStateStore::new(dir))
}

fn state_file(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("shop.pr-1234").join("memory.local.json")
}

/// How many resources the state file in `dir` records.
fn recorded_resources(dir: &std::path::Path) -> usize {
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state_file(dir)).expect("state"))
            .expect("json");
    state["resources"].as_object().map_or(0, |m| m.len())
}

/// Asserts every physical resource was created exactly once and a new plan is a no-op.
async fn assert_converged_without_duplicates(cloud: &MemoryCloud, stack: &Stack) {
    assert!(
        cloud.creations().values().all(|&c| c == 1),
        "no duplicates: {:?}",
        cloud.creations()
    );
    assert!(stack.plan().await.expect("plan").is_noop());
}

/// Asserts each of `actions` was created only after each of its dependencies that was
/// created was ready.
fn assert_created_after_dependencies_ready<'a>(
    cloud: &MemoryCloud,
    actions: impl IntoIterator<Item = &'a multicloud_core::plan::PlannedAction>,
) {
    let created = cloud.create_times();
    let ready = cloud.ready_times();
    for a in actions {
        for d in a.depends_on.iter().filter(|d| created.contains_key(*d)) {
            assert!(
                created[&a.id] >= ready[d],
                "{} was created at {:?} before its dependency {d} was ready at {:?}",
                a.id,
                created[&a.id],
                ready[d]
            );
        }
    }
}

/// The events already sent on `events` (waiting 1 ms for each).
async fn drain(events: &mut (impl futures::Stream<Item = Event> + Unpin)) -> Vec<Event> {
    let mut seen = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(1), events.next()).await {
        seen.push(ev);
    }
    seen
}

#[tokio::test(start_paused = true)]
async fn down_takes_every_kubernetes_object_off_before_any_infrastructure() {
    let cloud = cloud();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = stack(&cloud, dir.path());
    stack.up().await.expect("up");
    cloud.reset_calls();
    stack.down().await.expect("down");
    let is_app = |id: &ResourceId| {
        multicloud_core::kind::WORKLOAD_KINDS
            .iter()
            .any(|d| d.kind.as_str() == id.kind_name())
    };
    let deletes = |app: bool| -> Vec<Duration> {
        cloud
            .calls()
            .iter()
            .filter(|c| c.op == Op::Delete && is_app(&c.id) == app)
            .map(|c| c.at)
            .collect()
    };
    let gone_app = cloud
        .gone_times()
        .iter()
        .filter(|(id, _)| is_app(id))
        .map(|(_, t)| *t)
        .max()
        .expect("app resources were deleted");
    let first_infra = deletes(false)
        .into_iter()
        .min()
        .expect("infrastructure deletions");
    assert!(!deletes(true).is_empty());
    // Not only the resources that depend on the cluster: the public route table or the
    // registry would otherwise go while the app (and its load balancer) still runs.
    assert!(
        gone_app <= first_infra,
        "the last app object was gone at {gone_app:?}, the first infrastructure delete started at {first_infra:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn up_creates_everything_with_complete_outputs_and_down_removes_it() {
    let cloud = cloud();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = stack(&cloud, dir.path());
    let plan = stack.plan().await.expect("plan");
    let n = plan.actions.len();
    assert!(n > 25, "the full stack expands to many resources, got {n}");
    assert_eq!(plan.summary().create, n);

    let out = stack.up().await.expect("up");
    let cluster = out.cluster.expect("cluster output");
    assert_eq!(cluster.name, "shop-pr-1234");
    assert!(cluster.endpoint.starts_with("https://"));
    let db = out.database.expect("database output");
    assert_eq!(
        (db.port, db.database.as_str(), db.username.as_str()),
        (5432, "app", "app_admin")
    );
    assert_eq!(out.cache.expect("cache").port, 6379);
    assert!(
        out.registries["shop-api"]
            .url
            .ends_with("shop-pr-1234/shop-api")
    );
    assert!(out.secrets.contains_key("api-token"));
    assert_eq!(
        out.identities["shop-api"].subject.as_deref(),
        Some("system:serviceaccount:shop:api")
    );
    assert!(out.services["api"].host.is_some());
    assert_eq!(cloud.owned_by("shop", "pr-1234").len(), n);
    assert!(cloud.creations().values().all(|&c| c == 1));

    stack.down().await.expect("down");
    assert!(cloud.resources().is_empty(), "{:?}", cloud.resources());
    assert_eq!(
        cloud.dependency_violations(),
        0,
        "down never deletes a dependency first"
    );
    assert!(
        !state_file(dir.path()).exists(),
        "state is removed after a complete down"
    );
}

#[tokio::test(start_paused = true)]
async fn no_resource_starts_before_its_dependencies_are_ready_and_destroy_runs_in_reverse() {
    let cloud = cloud();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = stack(&cloud, dir.path());
    let plan = stack.plan().await.expect("plan");
    stack.up().await.expect("up");
    assert_eq!(
        cloud.create_times().len(),
        plan.actions.len(),
        "all created"
    );
    assert_created_after_dependencies_ready(&cloud, &plan.actions);
    cloud.reset_calls();
    stack.down().await.expect("down");
    let deletes: std::collections::BTreeMap<ResourceId, Duration> = cloud
        .calls()
        .into_iter()
        .filter(|c| c.op == Op::Delete && c.ok)
        .map(|c| (c.id, c.at))
        .collect();
    let gone = cloud.gone_times();
    for a in &plan.actions {
        for d in &a.depends_on {
            assert!(
                deletes[d] >= gone[&a.id],
                "{d} was deleted at {:?} before its dependent {} was gone at {:?}",
                deletes[d],
                a.id,
                gone[&a.id]
            );
        }
    }
    // The teardown lessons: services (load balancers) before the network, node pools before
    // the cluster, the database before its subnet group.
    let id = |k, key: &str| ResourceId::new(k, key);
    assert!(gone[&id(ResourceKind::SERVICE, "api")] <= deletes[&id(kinds::VPC, "main")]);
    assert!(
        gone[&id(ResourceKind::NODE_POOL, "general")]
            <= deletes[&id(ResourceKind::CLUSTER, "main")]
    );
    assert!(
        gone[&id(ResourceKind::DATABASE, "main")] <= deletes[&id(kinds::DB_SUBNET_GROUP, "main")]
    );
    assert!(
        gone[&id(ResourceKind::CACHE, "main")] <= deletes[&id(kinds::CACHE_SUBNET_GROUP, "main")]
    );
    assert_eq!(cloud.dependency_violations(), 0);
}

#[tokio::test(start_paused = true)]
async fn independent_branches_overlap_and_the_parallelism_bound_holds() {
    let cloud = cloud();
    let dir = tempfile::tempdir().expect("tempdir");
    stack(&cloud, dir.path()).up().await.expect("up");
    let created = cloud.create_times();
    let ready = cloud.ready_times();
    let cluster = ResourceId::single(ResourceKind::CLUSTER);
    let db = ResourceId::single(ResourceKind::DATABASE);
    assert!(
        created[&db] < ready[&cluster],
        "database and cluster are created concurrently"
    );
    assert!(
        cloud.max_concurrent() >= 3,
        "max concurrency {}",
        cloud.max_concurrent()
    );
    assert!(cloud.max_concurrent() <= 10);

    let cloud = self::cloud();
    let dir = tempfile::tempdir().expect("tempdir");
    stack(&cloud, dir.path())
        .parallelism(2)
        .up()
        .await
        .expect("up");
    assert!(
        cloud.max_concurrent() <= 2,
        "bound 2 exceeded: {}",
        cloud.max_concurrent()
    );
    assert_eq!(cloud.max_concurrent(), 2);
}

#[tokio::test(start_paused = true)]
async fn rerunning_up_on_an_unchanged_stack_is_a_pure_noop_with_one_read_per_resource() {
    let cloud = cloud();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = stack(&cloud, dir.path());
    let first = stack.up().await.expect("up");
    let before = std::fs::read_to_string(state_file(dir.path())).expect("state");
    cloud.reset_calls();
    let plan = stack.plan().await.expect("plan");
    assert!(plan.is_noop(), "{plan}");
    let resources = plan.actions.len();
    assert_eq!(cloud.count(Op::Observe), resources);
    cloud.reset_calls();
    let second = stack.up().await.expect("second up");
    assert_eq!(first, second);
    assert_eq!(cloud.count(Op::Observe), resources, "one read per resource");
    assert_eq!(cloud.calls().len(), resources, "and nothing else");
    let after = std::fs::read_to_string(state_file(dir.path())).expect("state");
    assert_eq!(before, after, "a no-op up writes nothing");
}

#[tokio::test(start_paused = true)]
async fn up_adopts_everything_after_the_state_file_is_deleted() {
    let cloud = cloud();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = stack(&cloud, dir.path());
    let first = stack.up().await.expect("up");
    std::fs::remove_file(state_file(dir.path())).expect("delete state");
    let plan = stack.plan().await.expect("plan");
    assert_eq!(plan.summary().adopt, plan.actions.len(), "{plan}");
    let second = stack.up().await.expect("up adopts");
    assert_eq!(first, second);
    assert_converged_without_duplicates(&cloud, &stack).await;
}

#[tokio::test(start_paused = true)]
async fn dropping_up_midway_then_rerunning_converges_without_duplicates() {
    let cloud = cloud();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = stack(&cloud, dir.path());
    // The cluster takes 12 minutes; stop after 5, with work in flight.
    let dropped = tokio::time::timeout(Duration::from_secs(300), stack.up()).await;
    assert!(dropped.is_err(), "up was still running and got dropped");
    let recorded = recorded_resources(dir.path());
    assert!(
        recorded > 0,
        "completed resources were recorded before the drop"
    );
    assert!(
        recorded < cloud.resources().len() || cloud.resources().len() < 30,
        "some work was in flight"
    );

    // The dropped run's lock was released on drop; the re-run adopts what was in flight.
    let plan = stack.plan().await.expect("plan after crash");
    assert!(plan.summary().adopt > 0, "{plan}");
    stack.up().await.expect("re-run converges");
    assert_converged_without_duplicates(&cloud, &stack).await;
}

#[tokio::test(start_paused = true)]
async fn cancelling_stops_new_work_records_what_finished_and_rerun_converges() {
    let cloud = cloud();
    let dir = tempfile::tempdir().expect("tempdir");
    let token = CancellationToken::new();
    let stack = stack(&cloud, dir.path()).cancellation(token.clone());
    let canceller = {
        let token = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(90)).await;
            token.cancel();
        })
    };
    let err = stack.up().await.expect_err("cancelled");
    canceller.await.expect("canceller");
    let completed = match err {
        Error::Cancelled { completed } => completed,
        other => panic!("expected Cancelled, got {other}"),
    };
    assert_eq!(recorded_resources(dir.path()), completed);
    let stack = self::stack(&cloud, dir.path());
    stack.up().await.expect("re-run converges");
    assert!(cloud.creations().values().all(|&c| c == 1));
}

#[tokio::test(start_paused = true)]
async fn twenty_percent_throttling_still_converges_up_and_down() {
    let cloud = cloud();
    cloud.set_throttle_probability(0.2);
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = stack(&cloud, dir.path());
    let mut events = stack.events();
    stack.up().await.expect("up despite throttling");
    stack.down().await.expect("down despite throttling");
    assert!(cloud.resources().is_empty());
    let throttled = cloud.calls().iter().filter(|c| !c.ok).count();
    assert!(
        throttled > 10,
        "throttling was injected ({throttled} calls)"
    );
    let retrying = drain(&mut events)
        .await
        .iter()
        .filter(|ev| matches!(ev, Event::ResourceRetrying { .. }))
        .count();
    assert!(retrying > 0, "retries are reported as events");
}

#[tokio::test(start_paused = true)]
async fn a_second_writer_gets_locked_naming_the_holder() {
    let cloud = cloud();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStateStore::new(dir.path());
    let held = store
        .lock(
            &multicloud_core::testing::example_key(),
            LockInfo::for_current_process("someone else's up"),
        )
        .await
        .expect("first lock");
    let err = stack(&cloud, dir.path()).up().await.expect_err("locked");
    match &err {
        Error::Locked { holder, .. } => assert!(holder.contains("someone else's up"), "{holder}"),
        other => panic!("expected Locked, got {other}"),
    }
    assert!(cloud.resources().is_empty(), "nothing was touched");
    held.release().await.expect("release");
    stack(&cloud, dir.path())
        .up()
        .await
        .expect("up after release");
}

#[tokio::test(start_paused = true)]
async fn a_failure_is_reported_per_resource_and_what_succeeded_stays_recorded() {
    let cloud = cloud();
    cloud.fail(ResourceId::single(ResourceKind::DATABASE), Op::Create, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = stack(&cloud, dir.path());
    let err = stack.up().await.expect_err("database fails");
    match &err {
        Error::Apply {
            failures,
            succeeded,
            ..
        } => {
            assert_eq!(failures.len(), 1);
            assert_eq!(failures[0].id, ResourceId::single(ResourceKind::DATABASE));
            assert_eq!(failures[0].action, Action::Create);
            assert!(*succeeded > 0);
        }
        other => panic!("expected Apply, got {other}"),
    }
    let text = std::fs::read_to_string(state_file(dir.path())).expect("state");
    assert!(text.contains("vpc/main"));
    assert!(!text.contains("\"database/main\""));
    stack.up().await.expect("re-run after the fault converges");
    assert!(cloud.creations().values().all(|&c| c == 1));
}

#[tokio::test(start_paused = true)]
async fn a_resource_under_our_name_without_our_tags_is_refused() {
    let cloud = cloud();
    cloud.insert_foreign(kinds::VPC, "shop-pr-1234-vpc");
    let dir = tempfile::tempdir().expect("tempdir");
    let err = stack(&cloud, dir.path()).up().await.expect_err("foreign");
    assert!(
        matches!(&err, Error::ForeignResources { resources } if resources[0].0 == ResourceId::single(kinds::VPC)),
        "{err}"
    );
    assert_eq!(
        cloud.count(Op::Create),
        0,
        "nothing is created once a foreign resource is found"
    );
}

#[tokio::test(start_paused = true)]
async fn changes_to_the_spec_plan_updates_and_deletes_only_what_changed() {
    let cloud = cloud();
    let dir = tempfile::tempdir().expect("tempdir");
    stack(&cloud, dir.path()).up().await.expect("up");
    let mut changed = spec();
    changed.cluster.as_mut().expect("cluster").node_pools[0].max = 8;
    changed.cache = None;
    let stack = stack_of(changed, &cloud, dir.path());
    let plan = stack.plan().await.expect("plan");
    let s = plan.summary();
    assert_eq!((s.update, s.delete, s.create), (1, 3, 0), "{plan}");
    assert_eq!(
        plan.action(&ResourceId::new(ResourceKind::NODE_POOL, "general"))
            .map(|a| a.action),
        Some(Action::Update)
    );
    let table = plan.to_string();
    assert!(
        table.contains("update") && table.contains("cache_subnet_group"),
        "{table}"
    );
    assert!(
        plan.to_dot()
            .contains("\"cluster/main\" -> \"node_pool/general\"")
    );
    assert!(
        plan.to_mermaid()
            .contains("cluster_main --> node_pool_general")
    );
    stack.up().await.expect("apply the change");
    assert!(
        cloud
            .resources()
            .iter()
            .all(|r| r.kind != ResourceKind::CACHE)
    );
    assert_eq!(cloud.dependency_violations(), 0);
    assert!(stack.plan().await.expect("plan").is_noop());
}

#[tokio::test(start_paused = true)]
async fn no_secret_value_appears_in_state_events_debug_output_or_errors() {
    let cloud = cloud();
    cloud.fail(
        ResourceId::new(ResourceKind::DEPLOYMENT, "api"),
        Op::Create,
        1,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = stack(&cloud, dir.path());
    let mut events = stack.events();
    let err = stack.up().await.expect_err("the injected failure");
    let outputs = stack.up().await.expect("second run");
    let secrets = cloud.secret_values();
    assert!(
        secrets.len() >= 2,
        "the db password and the generated secret exist"
    );
    let mut seen = vec![
        std::fs::read_to_string(state_file(dir.path())).expect("state"),
        format!("{err} {err:?}"),
        format!("{outputs:?}"),
        format!("{stack:?}"),
        format!("{:?}", stack.plan().await.expect("plan")),
        format!("{:?}", secrets),
    ];
    seen.extend(drain(&mut events).await.iter().map(|ev| format!("{ev:?}")));
    for s in &secrets {
        for text in &seen {
            assert!(
                !text.contains(s.expose()),
                "a secret value leaked into: {}",
                &text[..text.len().min(200)]
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_reviewed_plan_is_applied_as_is_and_a_stale_one_is_refused() {
    let cloud = cloud();
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = stack(&cloud, dir.path());
    let reviewed = stack.plan().await.expect("plan");
    let stale = reviewed.clone();
    let out = stack
        .apply(&reviewed)
        .await
        .expect("apply the reviewed plan");
    assert!(out.cluster.is_some());
    assert_eq!(cloud.count(Op::Create), reviewed.actions.len());
    let err = stack.apply(&stale).await.expect_err("the state moved on");
    assert!(matches!(err, Error::StalePlan { .. }), "{err}");
    assert_eq!(
        cloud.count(Op::Create),
        reviewed.actions.len(),
        "nothing more was created"
    );
}

#[tokio::test(start_paused = true)]
async fn replacing_a_resource_replaces_its_dependents_in_a_safe_order() {
    let cloud = cloud();
    let dir = tempfile::tempdir().expect("tempdir");
    stack(&cloud, dir.path()).up().await.expect("up");
    // The memory cloud cannot update a VPC in place: a new range means a new VPC.
    let mut moved = spec();
    moved.network = Some(Network::new(
        "10.1.0.0/16",
        &["10.1.0.0/24", "10.1.1.0/24"],
        &["10.1.16.0/20", "10.1.32.0/20"],
    ));
    moved.validate().expect("valid");
    let stack = stack_of(moved, &cloud, dir.path());
    let plan = stack.plan().await.expect("plan");
    let action = |kind, key: &str| plan.action(&ResourceId::new(kind, key)).map(|a| a.action);
    assert_eq!(action(kinds::VPC, "main"), Some(Action::Replace), "{plan}");
    for (kind, key) in [
        (kinds::SUBNET, "private-0"),
        (ResourceKind::CLUSTER, "main"),
        (ResourceKind::DATABASE, "main"),
        (ResourceKind::DEPLOYMENT, "api"),
    ] {
        assert_eq!(
            action(kind, key),
            Some(Action::Replace),
            "{kind}/{key} depends on the VPC: {plan}"
        );
    }
    for (kind, key) in [
        (ResourceKind::REGISTRY, "shop-api"),
        (ResourceKind::SECRET, "api-token"),
        (kinds::CLUSTER_ROLE, "main"),
    ] {
        assert_eq!(
            action(kind, key),
            Some(Action::NoOp),
            "{kind}/{key} is independent of the VPC"
        );
    }
    cloud.reset_calls();
    stack.up().await.expect("replace");
    assert_eq!(cloud.dependency_violations(), 0, "dependents went first");
    assert_eq!(cloud.creations()["vpc/shop-pr-1234-vpc"], 2);
    assert_eq!(cloud.creations()["registry/shop-pr-1234/shop-api"], 1);
    // Every replaced resource was deleted before its dependencies and created after them.
    assert_created_after_dependencies_ready(
        &cloud,
        plan.actions.iter().filter(|a| a.action == Action::Replace),
    );
    assert!(stack.plan().await.expect("plan").is_noop());
}
