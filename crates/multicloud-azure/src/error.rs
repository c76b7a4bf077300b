//! Classification of ARM (and Key Vault data-plane) errors into [`ProviderError`]s: the
//! response's HTTP status and error code (`error.code` of the body, else the
//! `x-ms-error-code` header) looked up in code tables, with the operation's context deciding
//! the ambiguous codes (a `ParentResourceNotFound` while creating a child is ARM's
//! replication lag; the same code while reading means absent), and the status deciding
//! codes no table knows (429 throttled, 409 conflict, 5xx transient, 400 invalid).
//! A server-suggested delay (`Retry-After`) rides along on the error for the core's
//! [`RetryPolicy`](multicloud_core::retry::RetryPolicy).

use std::time::Duration;

use multicloud_core::{ErrorKind, ProviderError};

mod codes;

pub use codes::{
    ALREADY_EXISTS, CONFLICT, INVALID, LIMIT, NOT_FOUND, Op, PARENT_NOT_FOUND, RBAC_PROPAGATING,
    THROTTLING, TRANSIENT, UNAUTHORIZED, classify_code, classify_status,
};

/// A failed ARM or Key Vault call, before classification.
///
/// Shaped like aws-sdk-rust's errors: [`code`](Self::code) is the service's error code,
/// [`message`](Self::message) its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArmError {
    /// The service answered with a non-success status and (usually) an ARM error body.
    #[error("HTTP {status} {code}: {message}")]
    Service {
        /// The HTTP status.
        status: u16,
        /// `error.code` of the body, else the `x-ms-error-code` header, else the status.
        code: String,
        /// `error.message` of the body (empty when there was none).
        message: String,
        /// The server-suggested delay (`Retry-After`, `retry-after-ms`).
        retry_after: Option<Duration>,
    },
    /// A long-running operation ended `Failed` or `Canceled` (its operation resource's
    /// `status`, or the resource's `provisioningState`).
    #[error("operation {status}: {code}: {message}")]
    OperationFailed {
        /// `Failed` or `Canceled`.
        status: String,
        /// ARM's `error.code` (or `OperationFailed` / `OperationCanceled` when it gave none).
        code: String,
        /// ARM's `error.message`.
        message: String,
    },
    /// No token could be obtained for the request.
    #[error("credential: {message}")]
    Credential {
        /// What the credential said.
        message: String,
    },
    /// The request could not be sent or its response not read.
    #[error("transport: {message}")]
    Transport {
        /// What went wrong.
        message: String,
    },
    /// A response arrived but could not be understood (not JSON, missing fields).
    #[error("unexpected response: {message}")]
    Decode {
        /// What was wrong with it.
        message: String,
    },
}

impl ArmError {
    /// The service's error code, if the service sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Service { code, .. } | Self::OperationFailed { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Self::Service { message, .. }
            | Self::OperationFailed { message, .. }
            | Self::Credential { message }
            | Self::Transport { message }
            | Self::Decode { message } => message,
        }
    }

    /// The HTTP status, for a [`ArmError::Service`] error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Service { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server-suggested delay before retrying, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Service { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The [`ErrorKind`] of this error from a call of kind `op`.
    pub fn kind(&self, op: Op) -> ErrorKind {
        match self {
            Self::Service { status, code, .. } => classify_code(*status, code, op),
            Self::OperationFailed { code, .. } => match code.as_str() {
                // A failed operation whose code says "try again" is still retryable.
                c if CONFLICT.contains(&c) || THROTTLING.contains(&c) => {
                    ErrorKind::DependencyViolation
                }
                _ => ErrorKind::Failed,
            },
            Self::Credential { .. } => ErrorKind::Unauthorized,
            Self::Transport { .. } => ErrorKind::Transient,
            Self::Decode { .. } => ErrorKind::Other,
        }
    }

    /// An error from an ARM error response: status, body and headers.
    pub fn from_response(
        status: u16,
        body: &[u8],
        header_code: Option<&str>,
        retry_after: Option<Duration>,
    ) -> Self {
        let (code, message) = error_body(body);
        let code = code
            .or_else(|| header_code.map(str::to_string))
            .unwrap_or_else(|| format!("HttpStatus{status}"));
        Self::Service {
            status,
            code,
            message: message.unwrap_or_default(),
            retry_after,
        }
    }
}

/// `error.code` (or the innermost `innererror.code`, where Key Vault puts its precise code)
/// and `error.message` of an ARM error body (`{"error": {...}}`; a few services put `code`
/// and `message` at the top level).
pub fn error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let e = v.get("error").unwrap_or(&v);
    let s = |k: &str| e.get(k).and_then(|x| x.as_str()).map(str::to_string);
    // Key Vault nests its precise code (`ForbiddenByRbac` under `Forbidden`,
    // `ObjectIsDeletedButRecoverable` under `Conflict`): the innermost one is classified.
    let mut code = s("code");
    let mut inner = e.get("innererror");
    while let Some(i) = inner {
        if let Some(c) = i.get("code").and_then(|x| x.as_str()) {
            code = Some(c.to_string());
        }
        inner = i.get("innererror");
    }
    (code, s("message"))
}

/// Converts an [`ArmError`] from a call of kind `op` described by `what` into a classified
/// [`ProviderError`] that keeps the service's code, message and `Retry-After`, with the
/// error as source.
pub fn classify(err: ArmError, op: Op, what: &str) -> ProviderError {
    let mut pe = ProviderError::new(err.kind(op), format!("{what}: {}", err.message()));
    if let Some(code) = err.code() {
        pe = pe.with_code(code);
    }
    if let Some(delay) = err.retry_after() {
        pe = pe.with_retry_after(delay);
    }
    pe.with_source(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (status, code, op) -> kind, and whether the engine retries it.
    const TABLE: &[(u16, &str, Op, ErrorKind, bool)] = &[
        (
            409,
            "Conflict",
            Op::Create,
            ErrorKind::DependencyViolation,
            true,
        ),
        (
            409,
            "AnotherOperationInProgress",
            Op::Update,
            ErrorKind::DependencyViolation,
            true,
        ),
        (
            409,
            "AnotherOperationInProgress",
            Op::Delete,
            ErrorKind::DependencyViolation,
            true,
        ),
        (
            400,
            "InUseSubnetCannotBeDeleted",
            Op::Delete,
            ErrorKind::DependencyViolation,
            true,
        ),
        (
            409,
            "ResourceGroupBeingDeleted",
            Op::Create,
            ErrorKind::DependencyViolation,
            true,
        ),
        (
            409,
            "SomethingNew",
            Op::Create,
            ErrorKind::DependencyViolation,
            true,
        ),
        (
            429,
            "TooManyRequests",
            Op::Read,
            ErrorKind::Throttling,
            true,
        ),
        (
            429,
            "SubscriptionRequestsThrottled",
            Op::Create,
            ErrorKind::Throttling,
            true,
        ),
        (429, "", Op::Delete, ErrorKind::Throttling, true),
        (
            500,
            "InternalServerError",
            Op::Create,
            ErrorKind::Transient,
            true,
        ),
        (502, "", Op::Read, ErrorKind::Transient, true),
        (
            503,
            "ServiceUnavailable",
            Op::Read,
            ErrorKind::Transient,
            true,
        ),
        (
            504,
            "GatewayTimeout",
            Op::Delete,
            ErrorKind::Transient,
            true,
        ),
        (
            404,
            "ResourceNotFound",
            Op::Read,
            ErrorKind::NotFound,
            false,
        ),
        (
            404,
            "ResourceGroupNotFound",
            Op::Read,
            ErrorKind::NotFound,
            false,
        ),
        (
            404,
            "ResourceGroupNotFound",
            Op::Delete,
            ErrorKind::NotFound,
            false,
        ),
        (
            404,
            "ResourceGroupNotFound",
            Op::Create,
            ErrorKind::EventualConsistency,
            true,
        ),
        (
            404,
            "ParentResourceNotFound",
            Op::Create,
            ErrorKind::EventualConsistency,
            true,
        ),
        (
            404,
            "ParentResourceNotFound",
            Op::Read,
            ErrorKind::NotFound,
            false,
        ),
        (404, "SecretNotFound", Op::Read, ErrorKind::NotFound, false),
        (404, "", Op::Read, ErrorKind::NotFound, false),
        (
            400,
            "InvalidParameter",
            Op::Create,
            ErrorKind::InvalidInput,
            false,
        ),
        (
            400,
            "InvalidResourceName",
            Op::Create,
            ErrorKind::InvalidInput,
            false,
        ),
        (
            400,
            "InvalidApiVersionParameter",
            Op::Read,
            ErrorKind::InvalidInput,
            false,
        ),
        (
            400,
            "BadRequest",
            Op::Update,
            ErrorKind::InvalidInput,
            false,
        ),
        (400, "", Op::Update, ErrorKind::InvalidInput, false),
        (
            409,
            "VaultAlreadyExists",
            Op::Create,
            ErrorKind::AlreadyExists,
            false,
        ),
        (
            409,
            "ConflictError",
            Op::Create,
            ErrorKind::AlreadyExists,
            false,
        ),
        (
            409,
            "RoleAssignmentExists",
            Op::Create,
            ErrorKind::AlreadyExists,
            false,
        ),
        (
            401,
            "InvalidAuthenticationToken",
            Op::Read,
            ErrorKind::Unauthorized,
            false,
        ),
        (
            403,
            "AuthorizationFailed",
            Op::Create,
            ErrorKind::Unauthorized,
            false,
        ),
        (
            403,
            "ForbiddenByRbac",
            Op::Read,
            ErrorKind::EventualConsistency,
            true,
        ),
        (
            403,
            "ForbiddenByRbac",
            Op::Create,
            ErrorKind::EventualConsistency,
            true,
        ),
        (403, "Forbidden", Op::Create, ErrorKind::Unauthorized, false),
        (401, "", Op::Read, ErrorKind::Unauthorized, false),
        (
            409,
            "QuotaExceeded",
            Op::Create,
            ErrorKind::LimitExceeded,
            false,
        ),
        (
            400,
            "RegionalCoresQuotaExceeded",
            Op::Create,
            ErrorKind::LimitExceeded,
            false,
        ),
        (418, "", Op::Read, ErrorKind::Other, false),
    ];

    #[test]
    fn key_vaults_innermost_code_is_the_one_classified() {
        let body = br#"{"error":{"code":"Forbidden","message":"Caller is not authorized","innererror":{"code":"ForbiddenByRbac"}}}"#;
        let (code, message) = error_body(body);
        assert_eq!(code.as_deref(), Some("ForbiddenByRbac"));
        assert_eq!(message.as_deref(), Some("Caller is not authorized"));
        assert!(classify_code(403, "ForbiddenByRbac", Op::Create).retryable());
        let plain = br#"{"error":{"code":"Forbidden","message":"m"}}"#;
        assert_eq!(error_body(plain).0.as_deref(), Some("Forbidden"));
    }

    #[test]
    fn the_classification_table() {
        for &(status, code, op, kind, retryable) in TABLE {
            let got = classify_code(status, code, op);
            assert_eq!(got, kind, "{status} {code:?} {op:?}");
            assert_eq!(got.retryable(), retryable, "{status} {code:?} {op:?}");
        }
    }

    #[test]
    fn an_error_response_keeps_code_message_and_retry_after() {
        let body = br#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#;
        let e = ArmError::from_response(429, body, None, Some(Duration::from_secs(7)));
        assert_eq!(e.code(), Some("TooManyRequests"));
        let pe = classify(e, Op::Create, "PUT vault kv1");
        assert_eq!(pe.kind(), ErrorKind::Throttling);
        assert_eq!(pe.code(), Some("TooManyRequests"));
        assert_eq!(pe.message(), "PUT vault kv1: slow down");
        assert_eq!(pe.retry_after(), Some(Duration::from_secs(7)));
    }

    #[test]
    fn the_code_comes_from_the_body_then_the_header_then_the_status() {
        let e = ArmError::from_response(409, b"", Some("AnotherOperationInProgress"), None);
        assert_eq!(e.code(), Some("AnotherOperationInProgress"));
        assert!(e.kind(Op::Update).retryable());
        let e = ArmError::from_response(503, b"<html>", None, None);
        assert_eq!(e.code(), Some("HttpStatus503"));
        assert_eq!(e.kind(Op::Read), ErrorKind::Transient);
        // Top-level code/message (a few services answer this way).
        let e = ArmError::from_response(
            400,
            br#"{"code":"InvalidParameter","message":"m"}"#,
            None,
            None,
        );
        assert_eq!((e.code(), e.message()), (Some("InvalidParameter"), "m"));
    }

    #[test]
    fn a_failed_operation_is_failed_unless_its_code_says_retry() {
        let failed = ArmError::OperationFailed {
            status: "Failed".into(),
            code: "InvalidParameter".into(),
            message: "bad sku".into(),
        };
        assert_eq!(failed.kind(Op::Create), ErrorKind::Failed);
        let pe = classify(failed, Op::Create, "PUT server db1");
        assert_eq!(pe.code(), Some("InvalidParameter"));
        assert!(pe.message().ends_with("bad sku"));
        let preempted = ArmError::OperationFailed {
            status: "Canceled".into(),
            code: "OperationPreempted".into(),
            message: "another PUT won".into(),
        };
        assert!(preempted.kind(Op::Update).retryable());
        let transport = ArmError::Transport {
            message: "reset".into(),
        };
        assert!(transport.kind(Op::Read).retryable());
        let cred = ArmError::Credential {
            message: "no token".into(),
        };
        assert_eq!(cred.kind(Op::Read), ErrorKind::Unauthorized);
    }
}
