//! The engine's error: what [`Stack`](crate::Stack) operations return. It wraps the error of
//! every layer below (spec, graph, expansion, state, provider) and adds the engine's own
//! (locks, stale plans, foreign resources, failed resources, cancellation).

use std::fmt;

use chrono::{DateTime, Utc};

use crate::error::ProviderError;
use crate::expand::ExpandError;
use crate::resource::{GraphError, ResourceId};
use crate::spec::{SpecError, SpecErrors};
use crate::state::StateError;

/// One resource that failed during apply or destroy.
#[derive(Debug)]
pub struct ResourceFailure {
    /// The resource.
    pub id: ResourceId,
    /// What was being done.
    pub action: crate::plan::Action,
    /// Why it failed.
    pub error: ProviderError,
}

impl fmt::Display for ResourceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.id, self.action, self.error)
    }
}

/// The engine's error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The spec is invalid; nothing was called.
    #[error("{0}")]
    Spec(#[from] SpecErrors),
    /// The YAML does not parse into a spec.
    #[error("invalid stack YAML{}: {message}", location.map(|(l, c)| format!(" at line {l}, column {c}")).unwrap_or_default())]
    Yaml {
        /// Line and column, when known.
        location: Option<(usize, usize)>,
        /// The parser's message.
        message: String,
    },
    /// The resource graph is invalid (a cycle, an unknown dependency, a duplicate).
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// Another run holds the state lock.
    #[error("state of {stack} is locked by {holder} since {since} (lease until {}); wait for it or force-unlock", expires.map_or_else(|| "unknown".to_string(), |e| e.to_rfc3339()))]
    Locked {
        /// `stack/environment`.
        stack: String,
        /// Who holds it (`user@host pid 1234`).
        holder: String,
        /// Since when.
        since: DateTime<Utc>,
        /// When its lease runs out (it is then taken over), if known.
        expires: Option<DateTime<Utc>>,
    },
    /// Reading or writing state failed.
    #[error(transparent)]
    State(StateError),
    /// The state under this stack's key was recorded by another provider (or in another
    /// region of its scope): refused before any plan or change.
    #[error(
        "the state of {key} was recorded by {recorded}, not by this run's provider {current}; refusing to use another cloud's state"
    )]
    ProviderMismatch {
        /// Which stack.
        key: crate::state::StateKey,
        /// The provider and region the state records (`aws (us-east-1)`).
        recorded: String,
        /// This run's provider and region.
        current: String,
    },
    /// The state changed between `plan` and `apply`; plan again.
    #[error("the state of {key} changed since the plan was made; plan again")]
    StalePlan {
        /// Which stack.
        key: crate::state::StateKey,
    },
    /// Resources exist under our names without our ownership tags: we do not take them over.
    #[error("refusing to take over resources that exist without this stack's ownership tags: {}", resources.iter().map(|(id, name)| format!("{id} ({name})")).collect::<Vec<_>>().join(", "))]
    ForeignResources {
        /// Resource ids and the physical names found.
        resources: Vec<(ResourceId, String)>,
    },
    /// Resources the spec names as existing (an existing cluster) do not exist: nothing was
    /// changed.
    #[error("existing resources named in the spec do not exist: {}", resources.iter().map(|(id, name)| format!("{id} ({name})")).collect::<Vec<_>>().join(", "))]
    MissingExisting {
        /// Resource ids and the names looked for.
        resources: Vec<(ResourceId, String)>,
    },
    /// A plan option (`--target`, `--replace`) names a resource it cannot apply to; nothing
    /// was observed or changed.
    #[error("plan option on {resource}: {message}")]
    PlanOption {
        /// The resource named.
        resource: ResourceId,
        /// Why it does not apply.
        message: String,
    },
    /// Observing a resource while planning failed.
    #[error("could not observe {resource}: {source}")]
    Observe {
        /// The resource.
        resource: ResourceId,
        /// The provider's error.
        #[source]
        source: ProviderError,
    },
    /// Some resources failed; those that succeeded are recorded in state.
    #[error("{} resource(s) failed ({succeeded} succeeded, {skipped} not started):{}", failures.len(), failures.iter().map(|f| format!("\n  - {f}")).collect::<String>())]
    Apply {
        /// Each failure.
        failures: Vec<ResourceFailure>,
        /// How many resources completed.
        succeeded: usize,
        /// How many were never started because of the failures.
        skipped: usize,
    },
    /// The run was cancelled; completed work is recorded in state.
    #[error("cancelled after {completed} resource(s) completed")]
    Cancelled {
        /// How many resources completed before cancellation.
        completed: usize,
    },
    /// The provider cannot handle a resource kind in the plan.
    #[error("provider `{provider}` cannot manage {kind} resources ({resource})")]
    UnsupportedKind {
        /// Provider name.
        provider: String,
        /// The kind.
        kind: crate::kind::ResourceKind,
        /// The resource.
        resource: ResourceId,
    },
    /// A provider call outside the per-resource flow failed (outputs, credentials…).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Nothing is recorded for the stack: it is not up (run `up` first).
    #[error("stack {key} is not up: nothing is recorded for it (run `up` first)")]
    NotUp {
        /// Which stack.
        key: crate::state::StateKey,
    },
    /// The stack has no such part: its spec declares none, or `up` has not made it yet.
    #[error("stack {key} has no {part} (not in its spec, or not made by `up` yet)")]
    NoSuchPart {
        /// Which stack.
        key: crate::state::StateKey,
        /// The part asked for.
        part: StackPart,
    },
    /// Writing a file the caller asked for (a kubeconfig) failed.
    #[error("could not write {}: {source}", path.display())]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A part of a stack one of [`Stack`](crate::Stack)'s output calls reads
/// ([`Error::NoSuchPart`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StackPart {
    /// The cluster.
    Cluster,
    /// The database.
    Database,
    /// The cache.
    Cache,
    /// The registry of this spec name.
    Registry(String),
    /// The secret holding a data service's credential.
    Credential(crate::spec::Connection),
}

impl fmt::Display for StackPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cluster => f.write_str("cluster"),
            Self::Database => f.write_str("database"),
            Self::Cache => f.write_str("cache"),
            Self::Registry(name) => write!(f, "registry `{name}`"),
            Self::Credential(service) => write!(f, "{} credential secret", service.as_str()),
        }
    }
}

impl From<StateError> for Error {
    /// [`StateError::Locked`] becomes [`Error::Locked`]; everything else [`Error::State`].
    fn from(e: StateError) -> Self {
        match e {
            StateError::Locked { key, holder } => Error::Locked {
                stack: key.to_string(),
                holder: holder.holder(),
                since: holder.since,
                expires: holder.expires,
            },
            other => Error::State(other),
        }
    }
}

impl From<SpecError> for Error {
    fn from(e: SpecError) -> Self {
        match e {
            SpecError::Invalid(errors) => Error::Spec(errors),
            SpecError::Yaml { location, message } => Error::Yaml { location, message },
        }
    }
}

impl From<ExpandError> for Error {
    fn from(e: ExpandError) -> Self {
        match e {
            ExpandError::Spec(errors) => Error::Spec(errors),
            ExpandError::Graph(graph) => Error::Graph(graph),
            ExpandError::Config(provider) => Error::Provider(provider),
        }
    }
}

impl Error {
    /// Whether this is a [`Error::Locked`].
    pub fn is_locked(&self) -> bool {
        matches!(self, Self::Locked { .. })
    }
}
