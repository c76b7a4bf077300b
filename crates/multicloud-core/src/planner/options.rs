//! The [`PlanOptions`] of an `up` plan: replacements asked for (`--replace`) and the target
//! the plan is narrowed to (`--target`).

use std::collections::BTreeSet;

use crate::engine::Error;
use crate::plan::{Action, PlanOptions, PlannedAction};
use crate::resource::{ResourceGraph, ResourceId};
use crate::state::StackState;

use super::Decisions;

/// The reason of a replacement asked for.
pub(super) const REPLACEMENT_REQUESTED: &str = "replacement requested";

/// Checks the ids `options` names: a target in the spec or in state, replacements of
/// resources in the spec that the stack may replace (not read-only ones).
pub(super) fn check(
    options: &PlanOptions,
    graph: &ResourceGraph,
    state: Option<&StackState>,
) -> Result<(), Error> {
    let recorded = |id: &ResourceId| state.is_some_and(|s| s.resources.contains_key(id));
    if let Some(id) = &options.target
        && graph.get(id).is_none()
        && !recorded(id)
    {
        return Err(Error::PlanOption {
            resource: id.clone(),
            message: "no such resource in the spec or in state".into(),
        });
    }
    for id in &options.replace {
        let message = match graph.get(id) {
            Some(r) if r.read_only => "it exists outside the stack and is used read-only",
            Some(_) => continue,
            None if recorded(id) => "it is no longer in the spec (the plan deletes it)",
            None => "no such resource in the spec",
        };
        return Err(Error::PlanOption {
            resource: id.clone(),
            message: format!("cannot replace it: {message}"),
        });
    }
    Ok(())
}

/// Turns the actions of the resources `options` asks to replace into replacements (one not
/// created yet stays a creation).
pub(super) fn request_replacements(options: &PlanOptions, actions: &mut [PlannedAction]) {
    for a in actions.iter_mut() {
        if options.replace.contains(&a.id)
            && matches!(a.action, Action::NoOp | Action::Update | Action::Adopt)
        {
            a.action = Action::Replace;
            a.reason = REPLACEMENT_REQUESTED.into();
        }
    }
}

/// Narrows the decisions `d` (in dependency order, replacements cascaded) to `target` and
/// what it depends on, plus the dependents a replacement among them takes along.
pub(super) fn narrow_to(target: &ResourceId, graph: &ResourceGraph, d: &mut Decisions) {
    let scope = dependencies_of(target, graph);
    let mut kept: BTreeSet<ResourceId> = BTreeSet::new();
    let mut replaced: BTreeSet<ResourceId> = BTreeSet::new();
    d.actions.retain(|a| {
        let along =
            a.action == Action::Replace && a.depends_on.iter().any(|d| replaced.contains(d));
        let keep = scope.contains(&a.id) || along;
        if keep {
            kept.insert(a.id.clone());
            if a.action == Action::Replace {
                replaced.insert(a.id.clone());
            }
        }
        keep
    });
    d.to_delete.retain(|id, _| kept.contains(id));
}

/// `id` and everything it depends on, transitively (only `id` when it is not in `graph`: a
/// resource only recorded).
fn dependencies_of(id: &ResourceId, graph: &ResourceGraph) -> BTreeSet<ResourceId> {
    let mut scope = BTreeSet::from([id.clone()]);
    let mut todo = vec![id.clone()];
    while let Some(next) = todo.pop() {
        let Some(r) = graph.get(&next) else {
            continue;
        };
        for dep in &r.depends_on {
            if scope.insert(dep.clone()) {
                todo.push(dep.clone());
            }
        }
    }
    scope
}
