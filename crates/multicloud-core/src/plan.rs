//! A [`Plan`]: what `up` or `down` would do to each resource, printable before anything
//! changes (a table via `Display`, or a DOT / Mermaid graph).

use std::collections::BTreeMap;
use std::fmt;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::observation::Observation;
use crate::outputs::Outputs;
use crate::resource::{ResourceGraph, ResourceId, ResourceKind};
use crate::state::{ResourceRecord, StateKey};

/// What happens to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// It does not exist: create it.
    Create,
    /// It exists with our ownership tags but is not in state: record it (and wait until ready).
    Adopt,
    /// It exists and its config changed: update it in place.
    Update,
    /// It exists and its config changed in a way that needs delete + create.
    Replace,
    /// It is in state but no longer desired (or the stack is going down): delete it.
    Delete,
    /// Nothing to do.
    NoOp,
}

impl Action {
    /// The word shown in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Adopt => "adopt",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::NoOp => "no-op",
        }
    }
    fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Adopt => "&",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoOp => " ",
        }
    }
    fn colour(self) -> &'static str {
        match self {
            Action::Create => "#c8f7c5",
            Action::Adopt => "#c5dcf7",
            Action::Update => "#f7efc5",
            Action::Replace => "#f7dcc5",
            Action::Delete => "#f7c5c5",
            Action::NoOp => "#eeeeee",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedAction {
    /// The resource.
    pub id: ResourceId,
    /// Its kind.
    pub kind: ResourceKind,
    /// Its physical name.
    pub name: String,
    /// What happens.
    pub action: Action,
    /// Why (`not in state; exists with our tags`).
    pub reason: String,
    /// What it depends on. For deletes these are the recorded dependencies, and the deletion
    /// runs in the reverse direction.
    pub depends_on: Vec<ResourceId>,
}

/// How to plan `up` beyond the spec and the state, as Terraform's and Pulumi's `--target`
/// and `--replace` ([`Stack::plan_with`](crate::Stack::plan_with),
/// [`Stack::up_with`](crate::Stack::up_with)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Plan only this resource and what it depends on; nothing else is planned (left as it
    /// is, in the cloud and in state). A resource that is replaced still takes what depends
    /// on it along. A resource only recorded (no longer in the spec) is deleted alone.
    pub target: Option<ResourceId>,
    /// Replace these resources (delete, then create again) whatever their state, with the
    /// reason `replacement requested`; what depends on them is replaced too.
    pub replace: Vec<ResourceId>,
}

impl PlanOptions {
    /// No target, nothing forced: a plain plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Plans only `id` and what it depends on.
    #[must_use]
    pub fn target(mut self, id: impl Into<ResourceId>) -> Self {
        self.target = Some(id.into());
        self
    }

    /// Also replaces `id`.
    #[must_use]
    pub fn replace(mut self, id: impl Into<ResourceId>) -> Self {
        self.replace.push(id.into());
        self
    }
}

/// Counts per action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    /// Creates.
    pub create: usize,
    /// Adoptions.
    pub adopt: usize,
    /// Updates.
    pub update: usize,
    /// Replacements.
    pub replace: usize,
    /// Deletions.
    pub delete: usize,
    /// No-ops.
    pub noop: usize,
}

impl PlanSummary {
    /// Number of resources that change (everything but no-ops).
    pub fn changes(&self) -> usize {
        self.create + self.adopt + self.update + self.replace + self.delete
    }
}

impl fmt::Display for PlanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to create, {} to adopt, {} to update, {} to replace, {} to delete, {} unchanged",
            self.create, self.adopt, self.update, self.replace, self.delete, self.noop
        )
    }
}

/// What `up` or `down` will do, computed from the desired resources, the recorded state and
/// one observation per resource.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Which stack.
    pub key: StateKey,
    /// Provider name.
    pub provider: String,
    /// One entry per resource: desired ones in dependency order, then deletions.
    pub actions: Vec<PlannedAction>,
    /// The desired resources (tags attached); empty for `down`.
    pub(crate) desired: ResourceGraph,
    /// Records of resources to delete, by id.
    pub(crate) to_delete: BTreeMap<ResourceId, ResourceRecord>,
    /// Outputs known at plan time (from observation or state), by id.
    pub(crate) known_outputs: BTreeMap<ResourceId, (Option<String>, Outputs)>,
    /// The raw observations, by id.
    pub(crate) observations: FxHashMap<ResourceId, Observation>,
    /// The state serial the plan was made against (`None`: no state yet).
    pub(crate) state_serial: Option<u64>,
}

impl Plan {
    /// Counts per action.
    pub fn summary(&self) -> PlanSummary {
        let mut s = PlanSummary::default();
        for a in &self.actions {
            match a.action {
                Action::Create => s.create += 1,
                Action::Adopt => s.adopt += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::NoOp => s.noop += 1,
            }
        }
        s
    }

    /// Whether applying would change nothing.
    pub fn is_noop(&self) -> bool {
        self.summary().changes() == 0
    }

    /// The action planned for `id`.
    pub fn action(&self, id: &ResourceId) -> Option<&PlannedAction> {
        self.actions.iter().find(|a| &a.id == id)
    }

    /// The observation made for `id` while planning.
    pub fn observation(&self, id: &ResourceId) -> Option<&Observation> {
        self.observations.get(id)
    }

    /// Graphviz DOT, one node per resource coloured by action; edges point from a
    /// dependency to its dependent.
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph plan {\n  rankdir=LR;\n  node [shape=box, style=filled, fontname=\"monospace\"];\n",
        );
        for a in &self.actions {
            out.push_str(&format!(
                "  \"{}\" [label=\"{}\\n{} {}\", fillcolor=\"{}\"];\n",
                a.id,
                a.id,
                a.action.symbol().trim(),
                a.action,
                a.action.colour()
            ));
        }
        for a in &self.actions {
            for d in &a.depends_on {
                out.push_str(&format!("  \"{d}\" -> \"{}\";\n", a.id));
            }
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart, one node per resource with its action; edges point from a
    /// dependency to its dependent.
    pub fn to_mermaid(&self) -> String {
        let node = |id: &ResourceId| id.as_str().replace(['/', '-', '.', ':'], "_");
        let mut out = String::from("flowchart LR\n");
        for a in &self.actions {
            out.push_str(&format!(
                "  {}[\"{}<br/>{}\"]:::{}\n",
                node(&a.id),
                a.id,
                a.action,
                a.action.as_str().replace('-', "")
            ));
        }
        for a in &self.actions {
            for d in &a.depends_on {
                out.push_str(&format!("  {} --> {}\n", node(d), node(&a.id)));
            }
        }
        for act in [
            Action::Create,
            Action::Adopt,
            Action::Update,
            Action::Replace,
            Action::Delete,
            Action::NoOp,
        ] {
            out.push_str(&format!(
                "  classDef {} fill:{}\n",
                act.as_str().replace('-', ""),
                act.colour()
            ));
        }
        out
    }
}

impl fmt::Display for Plan {
    /// A table: action, resource id, kind, physical name, reason.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w_id = self
            .actions
            .iter()
            .map(|a| a.id.as_str().len())
            .max()
            .unwrap_or(2)
            .max(8);
        let w_kind = self
            .actions
            .iter()
            .map(|a| a.kind.as_str().len())
            .max()
            .unwrap_or(4)
            .max(4);
        let w_name = self
            .actions
            .iter()
            .map(|a| a.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        // A key with a scope names the cloud already (`shop/dev (aws 123456789012 us-east-1)`).
        if self.key.scope.is_some() {
            writeln!(f, "Plan for {}:", self.key)?;
        } else {
            writeln!(f, "Plan for {} ({}):", self.key, self.provider)?;
        }
        writeln!(
            f,
            "  {:<3} {:<7} {:<w_id$}  {:<w_kind$}  {:<w_name$}  reason",
            "", "action", "resource", "kind", "name"
        )?;
        for a in &self.actions {
            writeln!(
                f,
                "  {:<3} {:<7} {:<w_id$}  {:<w_kind$}  {:<w_name$}  {}",
                a.action.symbol(),
                a.action.as_str(),
                a.id.as_str(),
                a.kind.as_str(),
                a.name,
                a.reason
            )?;
        }
        write!(f, "{}", self.summary())
    }
}
