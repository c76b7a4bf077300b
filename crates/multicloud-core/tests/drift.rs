//! Drift, refresh, `--target` and `--replace` against the in-memory provider: a setting
//! changed behind the stack's back is planned as a field-level update (or a replacement)
//! that `up` repairs; `refresh` records what vanished or drifted; a plan narrowed to a
//! target touches only it and what it depends on; a replacement asked for replaces.

use std::collections::BTreeSet;
use std::sync::Arc;

use multicloud_core::plan::{Action, PlanOptions};
use multicloud_core::prelude::*;
use multicloud_core::refresh::RefreshStatus;
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud, Op, kinds, memory_stack};
use serde_json::json;

fn cloud() -> Arc<MemoryCloud> {
    MemoryCloud::new(Latencies::zero())
}

fn stack(cloud: &Arc<MemoryCloud>, dir: &std::path::Path) -> Stack {
    let spec = multicloud_core::testing::example_spec();
    memory_stack(spec, InMemoryProvider::new(cloud.clone())).state(LocalStateStore::new(dir))
}

fn database() -> ResourceId {
    ResourceId::single(ResourceKind::DATABASE)
}

fn cache() -> ResourceId {
    ResourceId::single(ResourceKind::CACHE)
}

/// The physical name `plan` gives `id`.
fn name_in(plan: &Plan, id: &ResourceId) -> String {
    plan.action(id).expect("planned").name.clone()
}

/// The state file of the example stack in `dir`, as JSON.
fn state_json(dir: &std::path::Path) -> serde_json::Value {
    let file = dir.join("shop.pr-1234").join("memory.local.json");
    serde_json::from_str(&std::fs::read_to_string(file).expect("state")).expect("json")
}

/// How many update calls `cloud` saw on `id`.
fn updates_of(cloud: &MemoryCloud, id: &ResourceId) -> usize {
    cloud
        .calls()
        .iter()
        .filter(|c| &c.id == id && c.op == Op::Update && c.ok)
        .count()
}

#[tokio::test]
async fn a_setting_changed_behind_the_stack_is_planned_field_by_field_and_up_repairs_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let cloud = cloud();
    let stack = stack(&cloud, dir.path());
    stack.up().await.expect("up");
    let name = name_in(&stack.plan().await.expect("plan"), &database());
    assert!(cloud.edit(ResourceKind::DATABASE, &name, "/storage_gb", json!(50)));

    let plan = stack.plan().await.expect("plan");
    let a = plan.action(&database()).expect("database planned");
    assert_eq!(a.action, Action::Update, "{plan}");
    assert_eq!(
        a.reason, "drifted outside the stack: storage_gb: 20 -> 50",
        "{plan}"
    );
    assert_eq!(plan.summary().changes(), 1, "only the database: {plan}");

    stack.up().await.expect("up repairs");
    assert_eq!(updates_of(&cloud, &database()), 1);
    assert!(stack.plan().await.expect("plan").is_noop());
}

#[tokio::test]
async fn drift_of_a_kind_that_cannot_update_in_place_replaces_it_and_its_dependents() {
    let dir = tempfile::tempdir().expect("tmp");
    let cloud = cloud();
    let stack = stack(&cloud, dir.path());
    stack.up().await.expect("up");
    let vpc = ResourceId::single(kinds::VPC);
    let name = name_in(&stack.plan().await.expect("plan"), &vpc);
    assert!(cloud.edit(kinds::VPC, &name, "/cidr", json!("10.9.0.0/16")));

    let plan = stack.plan().await.expect("plan");
    let a = plan.action(&vpc).expect("vpc planned");
    assert_eq!(a.action, Action::Replace, "{plan}");
    assert_eq!(
        a.reason,
        "drifted outside the stack: cidr: 10.0.0.0/16 -> 10.9.0.0/16; replacing"
    );
    let subnet = plan
        .actions
        .iter()
        .find(|a| a.kind == kinds::SUBNET)
        .expect("a subnet");
    assert_eq!(subnet.action, Action::Replace);
    assert_eq!(subnet.reason, "depends on vpc/main, which is replaced");
}

#[tokio::test]
async fn refresh_drops_what_vanished_notes_drift_and_the_next_up_repairs_both() {
    let dir = tempfile::tempdir().expect("tmp");
    let cloud = cloud();
    let stack = stack(&cloud, dir.path());
    let outputs = stack.up().await.expect("up");
    let plan = stack.plan().await.expect("plan");
    let recorded = plan.actions.len();
    assert!(cloud.remove(ResourceKind::CACHE, &name_in(&plan, &cache())));
    let db = name_in(&plan, &database());
    assert!(cloud.edit(ResourceKind::DATABASE, &db, "/engine_version", json!("17")));

    let report = stack.refresh().await.expect("refresh");
    assert_eq!(report.resources.len(), recorded, "every record read");
    assert_eq!(report.status(&cache()), Some(&RefreshStatus::Vanished));
    let Some(RefreshStatus::Changed { drift, .. }) = report.status(&database()) else {
        panic!("database changed: {report}");
    };
    let drift = drift.as_ref().expect("drift noted");
    assert_eq!(drift.to_string(), "engine_version: 16 -> 17");
    assert_eq!(report.changes().count(), 2, "{report}");
    let state = state_json(dir.path());
    assert!(state["resources"].get("cache/main").is_none(), "dropped");
    assert_eq!(
        state["resources"]["database/main"]["drift"][0]["field"],
        "engine_version"
    );

    let plan = stack.plan().await.expect("plan");
    assert_eq!(
        plan.action(&cache()).map(|a| a.action),
        Some(Action::Create)
    );
    let a = plan.action(&database()).expect("database");
    assert_eq!(
        (a.action, a.reason.as_str()),
        (
            Action::Update,
            "drifted outside the stack: engine_version: 16 -> 17"
        )
    );
    let repaired = stack.up().await.expect("up");
    assert_eq!(repaired.database, outputs.database);
    let report = stack.refresh().await.expect("refresh");
    assert!(report.is_unchanged(), "{report}");
    let state = state_json(dir.path());
    assert!(state["resources"]["database/main"].get("drift").is_none());
    assert!(stack.plan().await.expect("plan").is_noop());
}

#[tokio::test]
async fn refresh_of_a_stack_that_is_not_up_is_not_up_and_of_an_unchanged_one_writes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let cloud = cloud();
    let stack = stack(&cloud, dir.path());
    let err = stack.refresh().await.expect_err("nothing recorded");
    assert!(matches!(err, Error::NotUp { .. }), "{err}");
    stack.up().await.expect("up");
    let serial = state_json(dir.path())["serial"].clone();
    let report = stack.refresh().await.expect("refresh");
    assert!(report.is_unchanged(), "{report}");
    assert_eq!(state_json(dir.path())["serial"], serial);
}

/// `id` and everything it depends on in `plan`, transitively.
fn closure(plan: &Plan, id: &ResourceId) -> BTreeSet<ResourceId> {
    let mut out = BTreeSet::from([id.clone()]);
    let mut todo = vec![id.clone()];
    while let Some(next) = todo.pop() {
        for d in &plan.action(&next).expect("planned").depends_on {
            if out.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    out
}

#[tokio::test]
async fn a_target_plans_and_brings_up_only_it_and_what_it_depends_on() {
    let dir = tempfile::tempdir().expect("tmp");
    let cloud = cloud();
    let stack = stack(&cloud, dir.path());
    let full = stack.plan().await.expect("plan");
    let scope = closure(&full, &database());
    assert!(
        scope.len() > 3 && scope.len() < full.actions.len(),
        "{scope:?}"
    );

    let options = PlanOptions::new().target("database/main");
    let plan = stack.plan_with(&options).await.expect("plan");
    let planned: BTreeSet<ResourceId> = plan.actions.iter().map(|a| a.id.clone()).collect();
    assert_eq!(planned, scope, "{plan}");
    assert!(plan.actions.iter().all(|a| a.action == Action::Create));

    stack.up_with(&options).await.expect("targeted up");
    let created: BTreeSet<ResourceId> = cloud.create_times().into_keys().collect();
    assert_eq!(created, scope);
    let rest = stack.plan().await.expect("plan");
    assert_eq!(
        rest.summary().create,
        full.actions.len() - scope.len(),
        "{rest}"
    );
    assert_eq!(rest.summary().noop, scope.len(), "{rest}");
}

#[tokio::test]
async fn a_replacement_asked_for_replaces_the_resource_and_what_depends_on_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let cloud = cloud();
    let stack = stack(&cloud, dir.path());
    stack.up().await.expect("up");
    let cluster = ResourceId::single(ResourceKind::CLUSTER);
    let options = PlanOptions::new().replace(cluster.clone());
    let plan = stack.plan_with(&options).await.expect("plan");
    let a = plan.action(&cluster).expect("cluster");
    assert_eq!(
        (a.action, a.reason.as_str()),
        (Action::Replace, "replacement requested")
    );
    let node_pool = plan
        .actions
        .iter()
        .find(|a| a.kind == ResourceKind::NODE_POOL)
        .expect("a node pool");
    assert_eq!(
        (node_pool.action, node_pool.reason.as_str()),
        (
            Action::Replace,
            "depends on cluster/main, which is replaced"
        )
    );
    let database = plan.action(&database()).expect("database");
    assert_eq!(database.action, Action::NoOp, "not in the cluster: {plan}");

    stack.up_with(&options).await.expect("up");
    let name = name_in(&stack.plan().await.expect("plan"), &cluster);
    assert_eq!(
        cloud.creations().get(&format!("cluster/{name}")),
        Some(&2),
        "{:?}",
        cloud.creations()
    );
    assert!(stack.plan().await.expect("plan").is_noop());
}

#[tokio::test]
async fn a_target_keeps_what_a_replacement_in_it_takes_along() {
    let dir = tempfile::tempdir().expect("tmp");
    let cloud = cloud();
    let stack = stack(&cloud, dir.path());
    stack.up().await.expect("up");
    let vpc = ResourceId::single(kinds::VPC);
    let options = PlanOptions::new().target(database()).replace(vpc.clone());
    let plan = stack.plan_with(&options).await.expect("plan");
    let cluster = ResourceId::single(ResourceKind::CLUSTER);
    assert_eq!(
        plan.action(&cluster).map(|a| a.action),
        Some(Action::Replace),
        "the cluster sits in the VPC's subnets: {plan}"
    );
    assert!(plan.actions.iter().all(|a| a.action == Action::Replace));
}

#[tokio::test]
async fn options_naming_what_the_stack_does_not_hold_are_refused_before_any_read() {
    let dir = tempfile::tempdir().expect("tmp");
    let cloud = cloud();
    let stack = stack(&cloud, dir.path());
    for options in [
        PlanOptions::new().target("database/other"),
        PlanOptions::new().replace("cache/nope"),
    ] {
        let err = stack.plan_with(&options).await.expect_err("refused");
        assert!(matches!(err, Error::PlanOption { .. }), "{err}");
    }
    assert!(cloud.calls().is_empty(), "{:?}", cloud.calls());
}
