//! The code tables of ARM and Key Vault errors and the classification of a code (with its
//! HTTP status and the kind of call) into an [`ErrorKind`]. Each table is a list of the
//! service's real codes; the tests of `crate::error` cover every row.

use multicloud_core::ErrorKind;

/// What kind of call failed (core's [`CallKind`](multicloud_core::error::CallKind)).
pub use multicloud_core::error::CallKind as Op;

/// Codes ARM uses for throttling (the status is 429).
pub const THROTTLING: &[&str] = &[
    "TooManyRequests",
    "SubscriptionRequestsThrottled",
    "ResourceGroupRequestsThrottled",
    "TenantRequestsThrottled",
    "RequestThrottled",
    "Throttled",
    "OperationThrottled",
];

/// Codes that mean "another operation holds the resource, or a dependency is still in use or
/// being deleted" (mostly 409): retried after a wait, never fatal.
pub const CONFLICT: &[&str] = &[
    "AnotherOperationInProgress",
    "Conflict",
    "OperationPreempted",
    "ResourceGroupBeingDeleted",
    "InUseSubnetCannotBeDeleted",
    "InUseRouteTableCannotBeDeleted",
    "InUseNetworkSecurityGroupCannotBeDeleted",
    "RetryableError",
];

/// Codes that mean "the parent is not there (yet)": absent when reading or deleting, ARM's
/// replication lag when creating under a parent that was just created.
pub const PARENT_NOT_FOUND: &[&str] = &["ParentResourceNotFound", "ResourceGroupNotFound"];

/// Codes that mean "does not exist".
pub const NOT_FOUND: &[&str] = &[
    "ResourceNotFound",
    "NotFound",
    "SecretNotFound",
    "DeletedVaultNotFound",
    "VaultNotFound",
    "OperationNotFound",
];

/// Codes that mean "already exists" (or the name is taken elsewhere: vault and registry
/// names are global). `ConflictError` is Key Vault's "a vault with this name is soft-deleted":
/// only a purge frees the name, so it is not retried.
pub const ALREADY_EXISTS: &[&str] = &[
    "VaultAlreadyExists",
    "ConflictError",
    "RoleAssignmentExists",
    "AlreadyInUse",
    "ServerNameAlreadyExists",
    "NameNotAvailable",
];

/// Codes for missing, invalid or insufficient credentials (401 / 403).
pub const UNAUTHORIZED: &[&str] = &[
    "AuthenticationFailed",
    "InvalidAuthenticationToken",
    "InvalidAuthenticationTokenTenant",
    "ExpiredAuthenticationToken",
    "AuthorizationFailed",
    "LinkedAuthorizationFailed",
    "Unauthorized",
    "Forbidden",
    "ForbiddenByPolicy",
];

/// Codes of a refusal that lasts only while a role assignment propagates: Key Vault's
/// `ForbiddenByRbac` right after the deployer or an identity was granted a role on the vault
/// (minutes, in Azure's words "observe propagation time"). Retried as eventual consistency;
/// a grant that is really missing fails with the same code once the retries run out.
pub const RBAC_PROPAGATING: &[&str] = &["ForbiddenByRbac"];

/// Codes for quotas and limits.
pub const LIMIT: &[&str] = &[
    "QuotaExceeded",
    "ResourceQuotaExceeded",
    "SubscriptionQuotaExceeded",
    "LimitExceeded",
];

/// Codes for transient server faults.
pub const TRANSIENT: &[&str] = &[
    "InternalServerError",
    "InternalError",
    "InternalOperationError",
    "ServiceUnavailable",
    "BadGateway",
    "GatewayTimeout",
    "RequestTimeout",
    "ServerTimeout",
];

/// Codes for requests ARM refused as malformed (400); besides these, every `Invalid*` code.
pub const INVALID: &[&str] = &[
    "BadRequest",
    "MissingApiVersionParameter",
    "NoRegisteredProviderFound",
    "LocationNotAvailableForResourceType",
    "MissingSubscription",
    "VaultNameNotValid",
];

/// Classifies an error `code` that came with HTTP `status` from a call of kind `op`: the
/// code tables first, then the status for codes no table knows.
pub fn classify_code(status: u16, code: &str, op: Op) -> ErrorKind {
    let has = |table: &[&str]| table.contains(&code);
    if has(THROTTLING) || status == 429 {
        ErrorKind::Throttling
    } else if has(CONFLICT) {
        ErrorKind::DependencyViolation
    } else if has(PARENT_NOT_FOUND) {
        if op == Op::Create || op == Op::Update {
            ErrorKind::EventualConsistency
        } else {
            ErrorKind::NotFound
        }
    } else if has(NOT_FOUND) || code.ends_with("NotFound") {
        ErrorKind::NotFound
    } else if has(ALREADY_EXISTS) || code.ends_with("AlreadyExists") {
        ErrorKind::AlreadyExists
    } else if has(RBAC_PROPAGATING) {
        ErrorKind::EventualConsistency
    } else if has(UNAUTHORIZED) {
        ErrorKind::Unauthorized
    } else if has(LIMIT) || code.contains("QuotaExceeded") {
        ErrorKind::LimitExceeded
    } else if has(TRANSIENT) {
        ErrorKind::Transient
    } else if has(INVALID) || code.starts_with("Invalid") {
        ErrorKind::InvalidInput
    } else {
        classify_status(status)
    }
}

/// The kind of an error with no known code, by HTTP status alone.
pub fn classify_status(status: u16) -> ErrorKind {
    match status {
        429 => ErrorKind::Throttling,
        409 => ErrorKind::DependencyViolation,
        404 | 410 => ErrorKind::NotFound,
        401 | 403 => ErrorKind::Unauthorized,
        408 | 500..=599 => ErrorKind::Transient,
        400 | 405 | 412 | 413 | 415 | 422 => ErrorKind::InvalidInput,
        _ => ErrorKind::Other,
    }
}
