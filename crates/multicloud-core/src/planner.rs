//! Planning: desired resources (from the provider's expansion of the spec) + recorded state
//! + one observation per resource → a [`Plan`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use crate::dag;
use crate::error::Error;
use crate::plan::{Action, Plan, PlannedAction};
use crate::provider::{CloudProvider, Observation, OpContext, Outputs, Owner, StackContext};
use crate::resource::{Resource, ResourceGraph, ResourceId};
use crate::retry::RetryPolicy;
use crate::spec::StackSpec;
use crate::state::{StackState, StateKey};

/// Whether the plan brings the stack up or takes it down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Up,
    Down,
}

/// The desired graph with tags attached, after validation.
pub(crate) fn desired_graph(
    provider: &dyn CloudProvider,
    spec: &StackSpec,
    stack: &StackContext,
) -> Result<ResourceGraph, Error> {
    spec.validate_for(provider.naming_rules())?;
    let mut graph = provider.expand(spec)?;
    graph.validate()?;
    let mut tags = spec.tags.clone();
    tags.extend(stack.ownership.tags());
    for r in graph.resources_mut() {
        for (k, v) in &tags {
            r.tags.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    for r in graph.resources() {
        if provider.ops_for(r.kind).is_none() {
            return Err(Error::UnsupportedKind {
                provider: provider.name().to_string(),
                kind: r.kind,
                resource: r.id.clone(),
            });
        }
    }
    Ok(graph)
}

/// Observes the resources of `graph` along the dependency order, so that each observation
/// can use its dependencies' outputs. A resource whose dependency is absent is absent too
/// (no call made). With `skip_recorded`, resources in state are not observed.
async fn observe_all(
    provider: &dyn CloudProvider,
    graph: &ResourceGraph,
    state: Option<&StackState>,
    stack: &StackContext,
    parallelism: usize,
    retry: &RetryPolicy,
    skip_recorded: bool,
) -> Result<BTreeMap<ResourceId, Observation>, Error> {
    let resources = graph.resources();
    let deps: Vec<Vec<usize>> = resources
        .iter()
        .map(|r| {
            r.depends_on
                .iter()
                .filter_map(|d| graph.position(d))
                .collect()
        })
        .collect();
    let results: Mutex<BTreeMap<ResourceId, Observation>> = Mutex::new(BTreeMap::new());
    let known: Mutex<BTreeMap<ResourceId, Outputs>> = Mutex::new(
        state
            .map(|s| {
                s.resources
                    .iter()
                    .map(|(id, r)| (id.clone(), r.outputs.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    );
    let absent: Mutex<BTreeSet<ResourceId>> = Mutex::new(BTreeSet::new());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let never = tokio_util::sync::CancellationToken::new();

    dag::run(&deps, parallelism, &never, |i| {
        let r = &resources[i];
        let results = &results;
        let known = &known;
        let absent = &absent;
        let first_error = &first_error;
        async move {
            let recorded = state.and_then(|s| s.resources.get(&r.id));
            if skip_recorded && recorded.is_some() {
                return true;
            }
            let dep_absent = absent
                .lock()
                .map(|a| r.depends_on.iter().any(|d| a.contains(d)))
                .unwrap_or(false);
            let obs = if dep_absent && recorded.is_none() {
                Ok(Observation::Absent)
            } else {
                let dep_outputs: BTreeMap<ResourceId, Outputs> = known
                    .lock()
                    .map(|k| {
                        r.depends_on
                            .iter()
                            .filter_map(|d| k.get(d).map(|o| (d.clone(), o.clone())))
                            .collect()
                    })
                    .unwrap_or_default();
                let Some(ops) = provider.ops_for(r.kind) else {
                    return false;
                };
                let ctx = OpContext {
                    resource: r,
                    stack,
                    deps: &dep_outputs,
                    recorded: recorded.map(|rec| &rec.outputs),
                };
                retry.run(|| ops.observe(&ctx), |_, _, _| {}).await
            };
            match obs {
                Ok(obs) => {
                    match &obs {
                        Observation::Absent => {
                            if let Ok(mut a) = absent.lock() {
                                a.insert(r.id.clone());
                            }
                        }
                        Observation::Present(o) => {
                            if let Ok(mut k) = known.lock() {
                                k.insert(r.id.clone(), o.outputs.clone());
                            }
                        }
                    }
                    if let Ok(mut res) = results.lock() {
                        res.insert(r.id.clone(), obs);
                    }
                    true
                }
                Err(source) => {
                    if let Ok(mut e) = first_error.lock() {
                        e.get_or_insert(Error::Observe {
                            resource: r.id.clone(),
                            source,
                        });
                    }
                    false
                }
            }
        }
    })
    .await;
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_default())
}

/// Computes the plan.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn plan(
    provider: &dyn CloudProvider,
    spec: &StackSpec,
    state: Option<&StackState>,
    stack: &StackContext,
    parallelism: usize,
    retry: &RetryPolicy,
    mode: Mode,
) -> Result<Plan, Error> {
    let graph = desired_graph(provider, spec, stack)?;
    let observations = observe_all(
        provider,
        &graph,
        state,
        stack,
        parallelism,
        retry,
        mode == Mode::Down,
    )
    .await?;
    let key = StateKey::new(&spec.name, &spec.environment);
    let mut actions = Vec::new();
    let mut desired = BTreeMap::new();
    let mut to_delete = BTreeMap::new();
    let mut known_outputs = BTreeMap::new();
    let mut foreign = Vec::new();

    let order = graph.topological_order();
    match mode {
        Mode::Up => {
            for i in order {
                let r = &graph.resources()[i];
                let recorded = state.and_then(|s| s.resources.get(&r.id));
                let obs = observations.get(&r.id).unwrap_or(&Observation::Absent);
                let (action, reason) = match (obs, recorded) {
                    (Observation::Absent, None) => (Action::Create, "does not exist".to_string()),
                    (Observation::Absent, Some(_)) => (
                        Action::Create,
                        "recorded in state but gone from the cloud; recreating".to_string(),
                    ),
                    (Observation::Present(o), _) if o.owner != Owner::Us => {
                        foreign.push((r.id.clone(), r.name.clone()));
                        continue;
                    }
                    (Observation::Present(o), None) => {
                        known_outputs
                            .insert(r.id.clone(), (o.provider_id.clone(), o.outputs.clone()));
                        if o.drifted {
                            (
                                Action::Update,
                                "exists with our tags, not in state, and drifted".to_string(),
                            )
                        } else {
                            (
                                Action::Adopt,
                                "exists with our tags but not in state".to_string(),
                            )
                        }
                    }
                    (Observation::Present(o), Some(rec)) => {
                        known_outputs.insert(
                            r.id.clone(),
                            (
                                rec.provider_id.clone().or(o.provider_id.clone()),
                                merged(&rec.outputs, &o.outputs),
                            ),
                        );
                        let changed = rec.config_hash != r.config_hash();
                        if !changed && !o.drifted {
                            (Action::NoOp, "up to date".to_string())
                        } else if provider.ops_for(r.kind).is_some_and(|ops| {
                            ops.requires_replacement(r.kind, &rec.config, &r.config)
                        }) {
                            (
                                Action::Replace,
                                "config changed; cannot be updated in place".to_string(),
                            )
                        } else if changed {
                            (Action::Update, "config changed".to_string())
                        } else {
                            (
                                Action::Update,
                                "drifted from the desired config".to_string(),
                            )
                        }
                    }
                };
                actions.push(PlannedAction {
                    id: r.id.clone(),
                    kind: r.kind,
                    name: r.name.clone(),
                    action,
                    reason,
                    depends_on: r.depends_on.clone(),
                });
            }
            cascade_replacements(&mut actions);
            if let Some(s) = state {
                for (id, rec) in &s.resources {
                    if graph.get(id).is_none() {
                        actions.push(delete_action(
                            id,
                            rec.kind,
                            &rec.name,
                            &rec.depends_on,
                            "no longer in the spec",
                        ));
                        to_delete.insert(id.clone(), rec.clone());
                    }
                }
            }
        }
        Mode::Down => {
            if let Some(s) = state {
                for (id, rec) in &s.resources {
                    actions.push(delete_action(
                        id,
                        rec.kind,
                        &rec.name,
                        &rec.depends_on,
                        "recorded in state",
                    ));
                    to_delete.insert(id.clone(), rec.clone());
                }
            }
            for i in order {
                let r = &graph.resources()[i];
                if to_delete.contains_key(&r.id) {
                    continue;
                }
                if let Some(Observation::Present(o)) = observations.get(&r.id)
                    && o.owner == Owner::Us
                {
                    let mut rec = crate::state::ResourceRecord::new(
                        r,
                        o.provider_id.clone(),
                        o.outputs.clone(),
                    );
                    rec.depends_on.retain(|d| graph.get(d).is_some());
                    actions.push(delete_action(
                        &r.id,
                        r.kind,
                        &r.name,
                        &r.depends_on,
                        "exists with our tags but not in state",
                    ));
                    to_delete.insert(r.id.clone(), rec);
                }
            }
        }
    }
    if !foreign.is_empty() {
        return Err(Error::ForeignResources { resources: foreign });
    }
    if mode == Mode::Up {
        desired = graph
            .into_resources()
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
    }
    Ok(Plan {
        key,
        provider: provider.name().to_string(),
        actions,
        desired,
        to_delete,
        known_outputs,
        observations,
        state_serial: state.map(|s| s.serial),
    })
}

/// A replaced resource takes what depends on it along: those are deleted before it and
/// created again after it (the executor orders both halves). `actions` is in dependency
/// order, so one pass reaches every transitive dependent.
fn cascade_replacements(actions: &mut [PlannedAction]) {
    let mut replaced: BTreeSet<ResourceId> = actions
        .iter()
        .filter(|a| a.action == Action::Replace)
        .map(|a| a.id.clone())
        .collect();
    if replaced.is_empty() {
        return;
    }
    for a in actions.iter_mut() {
        if !matches!(a.action, Action::NoOp | Action::Update | Action::Adopt) {
            continue;
        }
        if let Some(d) = a.depends_on.iter().find(|d| replaced.contains(*d)) {
            a.reason = format!("depends on {d}, which is replaced");
            a.action = Action::Replace;
            replaced.insert(a.id.clone());
        }
    }
}

fn merged(recorded: &Outputs, observed: &Outputs) -> Outputs {
    let mut out = recorded.clone();
    for (k, v) in observed {
        out.insert(k.clone(), v.clone());
    }
    out
}

fn delete_action(
    id: &ResourceId,
    kind: crate::resource::ResourceKind,
    name: &str,
    depends_on: &[ResourceId],
    reason: &str,
) -> PlannedAction {
    PlannedAction {
        id: id.clone(),
        kind,
        name: name.to_string(),
        action: Action::Delete,
        reason: reason.to_string(),
        depends_on: depends_on.to_vec(),
    }
}

/// The resource a planned action works on.
pub(crate) fn resource_of(plan: &Plan, id: &ResourceId) -> Option<Resource> {
    plan.desired
        .get(id)
        .cloned()
        .or_else(|| plan.to_delete.get(id).map(|r| r.to_resource()))
}
