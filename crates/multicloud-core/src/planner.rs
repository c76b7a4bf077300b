//! Planning: desired resources (from the provider's expansion of the spec) + recorded state
//! + one observation per resource → a [`Plan`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::backends::Backends;
use crate::dag;
use crate::engine::Error;
use crate::error::ProviderError;
use crate::plan::{Action, Plan, PlanOptions, PlannedAction};
use crate::provider::{Observation, OpContext, Outputs, Owner, StackContext};
use crate::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use crate::retry::RetryPolicy;
use crate::spec::StackSpec;
use crate::state::{ResourceRecord, StackState, StateKey};
use crate::tags::Tags;

mod decide;
mod options;

/// Whether the plan brings the stack up or takes it down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Up,
    Down,
}

/// The desired graph, validated, without tags (they depend on the state: see
/// [`tagged`]). Needs no state, so callers compute it while the state loads.
pub(crate) fn expanded(backends: &Backends, spec: &StackSpec) -> Result<ResourceGraph, Error> {
    let provider = backends.provider.as_ref();
    spec.validate_for(provider.naming_rules())?;
    let graph = provider.expand(spec)?;
    graph.validate()?;
    for r in graph.resources() {
        if backends.ops_for(r.kind).is_none() {
            return Err(Error::UnsupportedKind {
                provider: provider.name().to_string(),
                kind: r.kind,
                resource: r.id.clone(),
            });
        }
    }
    Ok(graph)
}

/// `graph` with the spec's tags and the stack's ownership tags on every resource.
/// Resources without tags of their own share one map.
fn tagged(mut graph: ResourceGraph, spec: &StackSpec, stack: &StackContext) -> ResourceGraph {
    let mut tags = spec.tags.clone();
    tags.extend(stack.ownership.tags());
    let shared = Tags::from(tags);
    for r in graph.resources_mut() {
        if r.tags.is_empty() {
            r.tags = shared.clone();
            continue;
        }
        for (k, v) in &shared {
            if !r.tags.contains_key(k) {
                r.tags.insert(k.clone(), v.clone());
            }
        }
    }
    graph
}

/// What the observation walk has learnt so far, by graph position, shared by its
/// concurrent steps (one lock, held only to read or record).
struct Walk {
    results: Vec<Option<Observation>>,
    /// Outputs of what exists (from state, then from observations).
    known: Vec<Option<Outputs>>,
    absent: Vec<bool>,
    first_error: Option<Error>,
}

impl Walk {
    /// The outputs known for `deps`, by id.
    fn outputs_of(&self, graph: &ResourceGraph, deps: &[usize]) -> BTreeMap<ResourceId, Outputs> {
        deps.iter()
            .filter_map(|&d| Some((graph.resources()[d].id.clone(), self.known[d].clone()?)))
            .collect()
    }

    /// Records the outcome of observing `r` (at position `i`); false on error (the walk
    /// stops there).
    fn record(
        &mut self,
        backends: &Backends,
        (i, r): (usize, &Resource),
        obs: Result<Observation, ProviderError>,
    ) -> bool {
        let obs = match obs {
            Ok(obs) => obs,
            Err(source) => {
                self.first_error.get_or_insert(Error::Observe {
                    resource: r.id.clone(),
                    source,
                });
                return false;
            }
        };
        match &obs {
            Observation::Absent => self.absent[i] = true,
            Observation::Present(o) => {
                if r.kind == ResourceKind::CLUSTER {
                    backends.access.set_cluster(&o.outputs);
                }
                self.known[i] = Some(o.outputs.clone());
            }
        }
        self.results[i] = Some(obs);
        true
    }
}

/// The state record of each resource of `graph`, by position.
fn recorded_of<'s>(
    graph: &ResourceGraph,
    state: Option<&'s StackState>,
) -> Vec<Option<&'s ResourceRecord>> {
    graph
        .resources()
        .iter()
        .map(|r| state.and_then(|s| s.resources.get(&r.id)))
        .collect()
}

/// Observes the resources of `graph` along the dependency order, so that each observation
/// can use its dependencies' outputs. A resource whose dependency is absent is absent too
/// (no call made). With `skip_recorded`, resources in state are not observed. Returns the
/// observations by position (`None`: not observed).
pub(crate) async fn observe_all(
    backends: &Backends,
    graph: &ResourceGraph,
    recorded: &[Option<&ResourceRecord>],
    stack: &StackContext,
    limits: (usize, &RetryPolicy),
    skip_recorded: bool,
) -> Result<Vec<Option<Observation>>, Error> {
    let (parallelism, retry) = limits;
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
    let walk = Mutex::new(Walk {
        results: vec![None; resources.len()],
        known: recorded
            .iter()
            .map(|r| r.map(|r| r.outputs.clone()))
            .collect(),
        absent: vec![false; resources.len()],
        first_error: None,
    });
    let never = tokio_util::sync::CancellationToken::new();
    dag::run(&deps, parallelism, &never, |i| {
        let (r, rec, deps, walk) = (&resources[i], recorded[i], &deps[i], &walk);
        async move {
            if skip_recorded && rec.is_some() {
                return true;
            }
            let lock = || walk.lock().unwrap_or_else(PoisonError::into_inner);
            let dep_outputs = {
                let w = lock();
                (rec.is_some() || !deps.iter().any(|&d| w.absent[d]))
                    .then(|| w.outputs_of(graph, deps))
            };
            let Some(dep_outputs) = dep_outputs else {
                return lock().record(backends, (i, r), Ok(Observation::Absent));
            };
            let Some(ops) = backends.ops_for(r.kind) else {
                return false;
            };
            let ctx = OpContext {
                resource: r,
                stack,
                deps: &dep_outputs,
                recorded: rec.map(|rec| &rec.outputs),
                run: Some(backends.services()),
            };
            let obs = retry.run(|| ops.observe(&ctx), |_, _, _| {}).await;
            lock().record(backends, (i, r), obs)
        }
    })
    .await;
    let walk = walk.into_inner().unwrap_or_else(PoisonError::into_inner);
    match walk.first_error {
        Some(e) => Err(e),
        None => Ok(walk.results),
    }
}

/// What the planner needs besides the spec and the state.
pub(crate) struct PlanInputs<'a> {
    /// The stack's state key (the plan's).
    pub key: &'a StateKey,
    pub backends: &'a Backends,
    pub stack: &'a StackContext,
    pub parallelism: usize,
    pub retry: &'a RetryPolicy,
    /// Resources whose holdings expire sooner than this are renewed (updated).
    pub renew_before: Duration,
    /// The target and the replacements asked for (`up` plans only).
    pub options: &'a PlanOptions,
}

/// What the walk over the desired graph found.
#[derive(Default)]
struct Decisions {
    actions: Vec<PlannedAction>,
    to_delete: BTreeMap<ResourceId, ResourceRecord>,
    known_outputs: BTreeMap<ResourceId, (Option<String>, Outputs)>,
    foreign: Vec<(ResourceId, String)>,
    /// Read-only resources (an existing cluster) that do not exist.
    missing: Vec<(ResourceId, String)>,
}

/// Computes the plan from the [`expanded`] graph.
pub(crate) async fn plan(
    inputs: &PlanInputs<'_>,
    spec: &StackSpec,
    graph: ResourceGraph,
    state: Option<&StackState>,
    mode: Mode,
) -> Result<Plan, Error> {
    let graph = tagged(graph, spec, inputs.stack);
    if mode == Mode::Up {
        options::check(inputs.options, &graph, state)?;
    }
    inputs.backends.remember_cluster(state);
    let recorded = recorded_of(&graph, state);
    let observations = observe_all(
        inputs.backends,
        &graph,
        &recorded,
        inputs.stack,
        (inputs.parallelism, inputs.retry),
        mode == Mode::Down,
    )
    .await?;
    let mut d = Decisions::default();
    match mode {
        Mode::Up => plan_up(inputs, &graph, (state, &recorded), &observations, &mut d),
        Mode::Down => plan_down(inputs.backends, &graph, state, &observations, &mut d),
    }
    let observations = graph
        .resources()
        .iter()
        .zip(observations)
        .filter_map(|(r, o)| Some((r.id.clone(), o?)))
        .collect();
    if !d.foreign.is_empty() {
        return Err(Error::ForeignResources {
            resources: d.foreign,
        });
    }
    if !d.missing.is_empty() {
        return Err(Error::MissingExisting {
            resources: d.missing,
        });
    }
    let desired = match mode {
        Mode::Up => graph,
        Mode::Down => ResourceGraph::new(),
    };
    Ok(Plan {
        key: inputs.key.clone(),
        provider: inputs.backends.provider.name().to_string(),
        actions: d.actions,
        desired,
        to_delete: d.to_delete,
        known_outputs: d.known_outputs,
        observations,
        state_serial: state.map(|s| s.serial),
    })
}

/// `up`: one decision per desired resource in dependency order, replacements cascaded to
/// their dependents, then deletions of what state has and the spec no longer wants.
fn plan_up(
    inputs: &PlanInputs<'_>,
    graph: &ResourceGraph,
    (state, recorded): (Option<&StackState>, &[Option<&ResourceRecord>]),
    observations: &[Option<Observation>],
    d: &mut Decisions,
) {
    for i in graph.topological_order() {
        let r = &graph.resources()[i];
        let obs = observations[i].as_ref().unwrap_or(&Observation::Absent);
        if let Some((action, reason)) = decide::decide(inputs, r, obs, recorded[i], d) {
            d.actions.push(PlannedAction {
                id: r.id.clone(),
                kind: r.kind,
                name: r.name.clone(),
                action,
                reason,
                depends_on: r.depends_on.clone(),
            });
        }
    }
    options::request_replacements(inputs.options, &mut d.actions);
    cascade_replacements(&mut d.actions);
    for (id, rec) in state.iter().flat_map(|s| &s.resources) {
        if graph.get(id).is_none() {
            d.actions.push(delete_action(
                id,
                rec.kind,
                &rec.name,
                &rec.depends_on,
                "no longer in the spec",
            ));
            d.to_delete.insert(id.clone(), rec.clone());
        }
    }
    if let Some(target) = &inputs.options.target {
        options::narrow_to(target, graph, d);
    }
}

/// `down`: everything in state, plus what exists with our tags but is not in state.
fn plan_down(
    backends: &Backends,
    graph: &ResourceGraph,
    state: Option<&StackState>,
    observations: &[Option<Observation>],
    d: &mut Decisions,
) {
    for (id, rec) in state.iter().flat_map(|s| &s.resources) {
        let reason = if rec.read_only {
            "used read-only: forgotten, never deleted"
        } else {
            "recorded in state"
        };
        d.actions.push(delete_action(
            id,
            rec.kind,
            &rec.name,
            &rec.depends_on,
            reason,
        ));
        d.to_delete.insert(id.clone(), rec.clone());
    }
    for i in graph.topological_order() {
        let r = &graph.resources()[i];
        if d.to_delete.contains_key(&r.id) {
            continue;
        }
        if let Some(Observation::Present(o)) = &observations[i]
            && o.owner == Owner::Us
            && !r.read_only
        {
            let mut rec = ResourceRecord::new(r, o.provider_id.clone(), o.outputs.clone());
            rec.depends_on.retain(|dep| graph.get(dep).is_some());
            let reason = match backends.def(r.kind).and_then(|d| d.step) {
                Some(what) => format!("internal step: {what}"),
                None => "exists with our tags but not in state".to_string(),
            };
            d.actions.push(delete_action(
                &r.id,
                r.kind,
                &r.name,
                &r.depends_on,
                &reason,
            ));
            d.to_delete.insert(r.id.clone(), rec);
        }
    }
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

fn delete_action(
    id: &ResourceId,
    kind: ResourceKind,
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
