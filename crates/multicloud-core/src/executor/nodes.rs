//! The DAG of a plan's actions (which action waits for which).

use std::collections::HashMap;

use crate::plan::{Action, Plan};
use crate::resource::{ResourceId, ResourceKind};

/// The DAG of a plan: nodes `0..n` are the actions; a Replace gets a second node (`n..`)
/// for deleting the old resource, which runs with the deletions. Forward actions wait for
/// their dependencies (and a replacement for its own deletion); deletions wait for the
/// deletion of everything that depends on them (reverse order). Returns each node's
/// dependencies and, for the extra nodes, the action they belong to.
/// The DAG of the plan's actions: creations after what they depend on, removals before what
/// their resource depended on. Removals of Kubernetes objects (`is_workload`) also come before
/// every other removal: the cluster must still answer for them, and what they made in the
/// cloud (load balancers, volumes, network interfaces) must be gone before the network is.
pub(super) fn dependency_nodes(
    plan: &Plan,
    is_workload: impl Fn(ResourceKind) -> bool,
) -> (Vec<Vec<usize>>, Vec<usize>) {
    let n = plan.actions.len();
    let index: HashMap<&ResourceId, usize> = plan
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| (&a.id, i))
        .collect();
    let mut delete_node: HashMap<usize, usize> = HashMap::new();
    let mut phase_of = Vec::new();
    for (i, a) in plan.actions.iter().enumerate() {
        if a.action == Action::Replace {
            delete_node.insert(i, n + phase_of.len());
            phase_of.push(i);
        }
    }
    let removal = |j: usize| match plan.actions[j].action {
        Action::Delete => Some(j),
        Action::Replace => delete_node.get(&j).copied(),
        _ => None,
    };
    let mut deps = vec![Vec::new(); n + phase_of.len()];
    for (i, a) in plan.actions.iter().enumerate() {
        // The node that removes this resource, if it is removed.
        if let Some(me) = removal(i) {
            for d in &a.depends_on {
                if let Some(other) = index.get(d).and_then(|&j| removal(j)) {
                    deps[other].push(me);
                }
            }
        }
        if a.action != Action::Delete {
            deps[i] = a
                .depends_on
                .iter()
                .filter_map(|d| index.get(d).copied())
                .filter(|&j| plan.actions[j].action != Action::Delete)
                .collect();
            if let Some(&k) = delete_node.get(&i) {
                deps[i].push(k);
            }
        }
    }
    let removals = (0..n).filter_map(|i| removal(i).map(|node| (i, node)));
    let (apps, infra): (Vec<_>, Vec<_>) =
        removals.partition(|&(i, _)| is_workload(plan.actions[i].kind));
    for &(_, node) in &infra {
        deps[node].extend(apps.iter().map(|&(_, app)| app));
    }
    (deps, phase_of)
}
