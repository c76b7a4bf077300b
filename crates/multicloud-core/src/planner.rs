//! Planning: desired resources (from the provider's expansion of the spec) + recorded state
//! + one observation per resource → a [`Plan`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;

use crate::backends::Backends;
use crate::dag;
use crate::error::{Error, ProviderError};
use crate::plan::{Action, Plan, PlannedAction};
use crate::provider::{Observation, Observed, OpContext, Outputs, Owner, StackContext};
use crate::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use crate::retry::RetryPolicy;
use crate::spec::StackSpec;
use crate::state::{ResourceRecord, StackState, StateKey};

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
fn tagged(mut graph: ResourceGraph, spec: &StackSpec, stack: &StackContext) -> ResourceGraph {
    let mut tags = spec.tags.clone();
    tags.extend(stack.ownership.tags());
    for r in graph.resources_mut() {
        for (k, v) in &tags {
            r.tags.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    graph
}

/// What the observation walk has learnt so far, shared by its concurrent steps.
#[derive(Default)]
struct Observations {
    results: Mutex<BTreeMap<ResourceId, Observation>>,
    /// Outputs of what exists (from state, then from observations).
    known: Mutex<BTreeMap<ResourceId, Outputs>>,
    absent: Mutex<BTreeSet<ResourceId>>,
    first_error: Mutex<Option<Error>>,
}

impl Observations {
    fn any_absent(&self, ids: &[ResourceId]) -> bool {
        self.absent
            .lock()
            .map(|a| ids.iter().any(|d| a.contains(d)))
            .unwrap_or(false)
    }

    fn outputs_of(&self, ids: &[ResourceId]) -> BTreeMap<ResourceId, Outputs> {
        self.known
            .lock()
            .map(|k| {
                ids.iter()
                    .filter_map(|d| k.get(d).map(|o| (d.clone(), o.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Records the outcome of observing `r`; false on error (the walk stops there).
    fn record(
        &self,
        backends: &Backends,
        r: &Resource,
        obs: Result<Observation, ProviderError>,
    ) -> bool {
        let obs = match obs {
            Ok(obs) => obs,
            Err(source) => {
                if let Ok(mut e) = self.first_error.lock() {
                    e.get_or_insert(Error::Observe {
                        resource: r.id.clone(),
                        source,
                    });
                }
                return false;
            }
        };
        match &obs {
            Observation::Absent => {
                if let Ok(mut a) = self.absent.lock() {
                    a.insert(r.id.clone());
                }
            }
            Observation::Present(o) => {
                if r.kind == ResourceKind::CLUSTER {
                    backends.access.set_cluster(&o.outputs);
                }
                if let Ok(mut k) = self.known.lock() {
                    k.insert(r.id.clone(), o.outputs.clone());
                }
            }
        }
        if let Ok(mut res) = self.results.lock() {
            res.insert(r.id.clone(), obs);
        }
        true
    }
}

/// Observes the resources of `graph` along the dependency order, so that each observation
/// can use its dependencies' outputs. A resource whose dependency is absent is absent too
/// (no call made). With `skip_recorded`, resources in state are not observed.
async fn observe_all(
    backends: &Backends,
    graph: &ResourceGraph,
    state: Option<&StackState>,
    stack: &StackContext,
    limits: (usize, &RetryPolicy),
    skip_recorded: bool,
) -> Result<BTreeMap<ResourceId, Observation>, Error> {
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
    let seen = Observations::default();
    if let (Some(s), Ok(mut k)) = (state, seen.known.lock()) {
        k.extend(
            s.resources
                .iter()
                .map(|(id, r)| (id.clone(), r.outputs.clone())),
        );
    }
    let never = tokio_util::sync::CancellationToken::new();
    dag::run(&deps, parallelism, &never, |i| {
        let (r, seen) = (&resources[i], &seen);
        async move {
            let recorded = state.and_then(|s| s.resources.get(&r.id));
            if skip_recorded && recorded.is_some() {
                return true;
            }
            if recorded.is_none() && seen.any_absent(&r.depends_on) {
                return seen.record(backends, r, Ok(Observation::Absent));
            }
            let Some(ops) = backends.ops_for(r.kind) else {
                return false;
            };
            let dep_outputs = seen.outputs_of(&r.depends_on);
            let ctx = OpContext {
                resource: r,
                stack,
                deps: &dep_outputs,
                recorded: recorded.map(|rec| &rec.outputs),
                run: Some(backends.services()),
            };
            let obs = retry.run(|| ops.observe(&ctx), |_, _, _| {}).await;
            seen.record(backends, r, obs)
        }
    })
    .await;
    if let Some(e) = seen.first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(seen.results.into_inner().unwrap_or_default())
}

/// What the planner needs besides the spec and the state.
pub(crate) struct PlanInputs<'a> {
    pub backends: &'a Backends,
    pub stack: &'a StackContext,
    pub parallelism: usize,
    pub retry: &'a RetryPolicy,
    /// Resources whose holdings expire sooner than this are renewed (updated).
    pub renew_before: Duration,
}

/// What the walk over the desired graph found.
#[derive(Default)]
struct Decisions {
    actions: Vec<PlannedAction>,
    to_delete: BTreeMap<ResourceId, ResourceRecord>,
    known_outputs: BTreeMap<ResourceId, (Option<String>, Outputs)>,
    foreign: Vec<(ResourceId, String)>,
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
    inputs.backends.remember_cluster(state);
    let observations = observe_all(
        inputs.backends,
        &graph,
        state,
        inputs.stack,
        (inputs.parallelism, inputs.retry),
        mode == Mode::Down,
    )
    .await?;
    let mut d = Decisions::default();
    match mode {
        Mode::Up => plan_up(inputs, &graph, state, &observations, &mut d),
        Mode::Down => plan_down(&graph, state, &observations, &mut d),
    }
    if !d.foreign.is_empty() {
        return Err(Error::ForeignResources {
            resources: d.foreign,
        });
    }
    let desired = match mode {
        Mode::Up => graph
            .into_resources()
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect(),
        Mode::Down => BTreeMap::new(),
    };
    Ok(Plan {
        key: StateKey::new(&spec.name, &spec.environment),
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
    state: Option<&StackState>,
    observations: &BTreeMap<ResourceId, Observation>,
    d: &mut Decisions,
) {
    for i in graph.topological_order() {
        let r = &graph.resources()[i];
        let recorded = state.and_then(|s| s.resources.get(&r.id));
        let obs = observations.get(&r.id).unwrap_or(&Observation::Absent);
        if let Some((action, reason)) = decide(inputs, r, obs, recorded, d) {
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
}

/// The action for one desired resource (`None` for a foreign one, which is recorded).
fn decide(
    inputs: &PlanInputs<'_>,
    r: &Resource,
    obs: &Observation,
    recorded: Option<&ResourceRecord>,
    d: &mut Decisions,
) -> Option<(Action, String)> {
    let o = match (obs, recorded) {
        (Observation::Absent, None) => return Some((Action::Create, "does not exist".into())),
        (Observation::Absent, Some(_)) => {
            return Some((
                Action::Create,
                "recorded in state but gone from the cloud; recreating".into(),
            ));
        }
        (Observation::Present(o), _) if o.owner != Owner::Us => {
            d.foreign.push((r.id.clone(), r.name.clone()));
            return None;
        }
        (Observation::Present(o), _) => o,
    };
    let renew = renewal(o, inputs.renew_before);
    let Some(rec) = recorded else {
        d.known_outputs
            .insert(r.id.clone(), (o.provider_id.clone(), o.outputs.clone()));
        return Some(match (o.drifted, renew) {
            (true, _) => (
                Action::Update,
                "exists with our tags, not in state, and drifted".into(),
            ),
            (false, Some(why)) => (
                Action::Update,
                format!("exists with our tags, not in state; {why}"),
            ),
            (false, None) => (
                Action::Adopt,
                "exists with our tags but not in state".into(),
            ),
        });
    };
    let mut outputs = rec.outputs.clone();
    outputs.merge(o.outputs.clone());
    d.known_outputs.insert(
        r.id.clone(),
        (rec.provider_id.clone().or(o.provider_id.clone()), outputs),
    );
    let changed = rec.config_hash != r.config_hash();
    let replace = changed
        && inputs
            .backends
            .ops_for(r.kind)
            .is_some_and(|ops| ops.requires_replacement(r.kind, &rec.config, &r.config));
    Some(match (changed, o.drifted, renew) {
        (false, false, None) => (Action::NoOp, "up to date".into()),
        _ if replace => (
            Action::Replace,
            "config changed; cannot be updated in place".into(),
        ),
        (true, _, _) => (Action::Update, "config changed".into()),
        (false, true, _) => (Action::Update, "drifted from the desired config".into()),
        (false, false, Some(why)) => (Action::Update, why),
    })
}

/// Why a resource must be renewed now, if it must: what it holds expires within
/// `renew_before`.
fn renewal(o: &Observed, renew_before: Duration) -> Option<String> {
    let exp = o.expires_at?;
    let margin = chrono::Duration::from_std(renew_before).unwrap_or(chrono::Duration::MAX);
    let due = Utc::now()
        .checked_add_signed(margin)
        .is_none_or(|t| t >= exp);
    due.then(|| format!("expires at {}; renewing", exp.to_rfc3339()))
}

/// `down`: everything in state, plus what exists with our tags but is not in state.
fn plan_down(
    graph: &ResourceGraph,
    state: Option<&StackState>,
    observations: &BTreeMap<ResourceId, Observation>,
    d: &mut Decisions,
) {
    for (id, rec) in state.iter().flat_map(|s| &s.resources) {
        d.actions.push(delete_action(
            id,
            rec.kind,
            &rec.name,
            &rec.depends_on,
            "recorded in state",
        ));
        d.to_delete.insert(id.clone(), rec.clone());
    }
    for i in graph.topological_order() {
        let r = &graph.resources()[i];
        if d.to_delete.contains_key(&r.id) {
            continue;
        }
        if let Some(Observation::Present(o)) = observations.get(&r.id)
            && o.owner == Owner::Us
        {
            let mut rec = ResourceRecord::new(r, o.provider_id.clone(), o.outputs.clone());
            rec.depends_on.retain(|dep| graph.get(dep).is_some());
            d.actions.push(delete_action(
                &r.id,
                r.kind,
                &r.name,
                &r.depends_on,
                "exists with our tags but not in state",
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
