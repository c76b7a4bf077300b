//! Errors: [`ProviderError`] (what a cloud call returns, classified) and [`Error`] (what the
//! engine returns).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::resource::ResourceId;
use crate::spec::SpecErrors;
use crate::state::StateError;

/// How a provider error should be handled by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The API throttled us; retry with backoff.
    Throttling,
    /// Something just created is not visible yet (IAM propagation…); retry.
    EventualConsistency,
    /// A dependency is still in use or still being deleted (`DependencyViolation`,
    /// `InvalidDBSubnetGroupStateFault`, `CacheSubnetGroupInUse`…); retry after a wait.
    DependencyViolation,
    /// A transient network or server fault (5xx, timeout, connection reset); retry.
    Transient,
    /// The resource does not exist.
    NotFound,
    /// The resource exists under our name but does not carry our ownership tags.
    ForeignResource,
    /// The resource already exists (a race with another creator).
    AlreadyExists,
    /// The request was invalid (a bug or bad input); not retried.
    InvalidInput,
    /// A resource's recorded or desired config, or a dependency's outputs, do not match the
    /// kind's typed schema (a missing or unknown field); not retried.
    InvalidConfig,
    /// Credentials are missing or lack permission; not retried.
    Unauthorized,
    /// A quota or limit was reached; not retried.
    LimitExceeded,
    /// The operation is not supported by this provider or endpoint.
    Unsupported,
    /// The resource reached a failed state (e.g. `CREATE_FAILED`).
    Failed,
    /// A readiness or deletion wait ran out of time.
    Timeout,
    /// Anything else; not retried.
    Other,
}

impl ErrorKind {
    /// Whether the engine retries errors of this kind.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Self::Throttling
                | Self::EventualConsistency
                | Self::DependencyViolation
                | Self::Transient
        )
    }
}

/// An error from a cloud operation, classified for the engine (modelled on smithy-rs errors:
/// `code()` is the service's error code, `message()` its message).
#[derive(Debug)]
pub struct ProviderError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    code: Option<String>,
    message: String,
    retry_after: Option<Duration>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl ProviderError {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            kind,
            code: None,
            message: message.into(),
            retry_after: None,
            source: None,
        }))
    }
    /// Sets the service's error code.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.0.code = Some(code.into());
        self
    }
    /// Sets a server-suggested delay before retrying.
    #[must_use]
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.0.retry_after = Some(delay);
        self
    }
    /// Sets the underlying error.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }
    /// The classification.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }
    /// Whether the engine retries it.
    pub fn retryable(&self) -> bool {
        self.0.kind.retryable()
    }
    /// The service's error code (`DependencyViolation`, `ThrottlingException`).
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }
    /// The message.
    pub fn message(&self) -> &str {
        &self.0.message
    }
    /// The server-suggested delay, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }
    /// Shorthand for a [`ErrorKind::NotFound`] error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// Shorthand for an [`ErrorKind::InvalidInput`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.code {
            Some(code) => write!(f, "{code}: {}", self.0.message),
            None => f.write_str(&self.0.message),
        }
    }
}

impl std::error::Error for ProviderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

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
    /// The resource graph has a cycle.
    #[error("dependency cycle: {}", cycle.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" -> "))]
    Cycle {
        /// The resources on the cycle, first repeated at the end.
        cycle: Vec<ResourceId>,
    },
    /// A resource depends on one that is not in the graph.
    #[error("{resource} depends on unknown resource {missing}")]
    UnknownDependency {
        /// The dependent.
        resource: ResourceId,
        /// The missing dependency.
        missing: ResourceId,
    },
    /// The same resource id was declared twice.
    #[error("resource {0} is declared twice")]
    DuplicateResource(ResourceId),
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

impl Error {
    /// Whether this is a [`Error::Locked`].
    pub fn is_locked(&self) -> bool {
        matches!(self, Self::Locked { .. })
    }
}
