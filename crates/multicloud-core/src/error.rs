//! The leaf error of every provider call: [`ProviderError`], classified by [`ErrorKind`]. Each
//! layer above has its own error ([`GraphError`](crate::resource::GraphError),
//! [`SpecError`](crate::spec::SpecError), [`StateError`](crate::state::StateError),
//! [`ExpandError`](crate::expand::ExpandError)); the engine's [`Error`](crate::Error) sits on
//! top of them all.

use std::fmt;
use std::time::Duration;

/// What kind of cloud call failed: the context a provider's error classification needs
/// (the same code can mean "absent" on a read and "not visible yet" on a create).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// A read: describe, get, list (or a poll of a long-running operation).
    Read,
    /// A create: create, put, attach.
    Create,
    /// An update: modify, update, patch.
    Update,
    /// A delete: delete, detach, purge.
    Delete,
}

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
    /// `delete` leaves the resource in place because deleting it would delete what is not
    /// ours (a namespace holding objects multicloud did not make). Not a failure of a
    /// teardown: the engine forgets the resource, reports it as left behind
    /// ([`DownReport`](crate::down::DownReport)) and goes on; anywhere else it is not retried.
    LeftBehind,
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
