//! Classification of AWS SDK errors into [`ProviderError`]s, by error code: a
//! retryable-error table in the manner of Terratest, with the operation's context deciding
//! the ambiguous codes (a `*.NotFound` while creating a dependent is eventual consistency; the
//! same code while reading means absent; EKS's `ResourceInUseException` means "exists" on
//! create and "still in use" on delete).

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use multicloud_core::{ErrorKind, ProviderError};

/// What kind of call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A describe / get / list call.
    Read,
    /// A create / put / attach call.
    Create,
    /// A modify / update call.
    Update,
    /// A delete / detach call.
    Delete,
}

/// Codes AWS uses for throttling.
pub const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "BandwidthLimitExceeded",
];

/// Codes that mean "a dependency is still in use or still being deleted": retried after a
/// wait, never fatal.
pub const DEPENDENCY: &[&str] = &[
    "DependencyViolation",
    "InvalidDBSubnetGroupStateFault",
    "InvalidDBSubnetGroupState",
    "CacheSubnetGroupInUse",
    "DeleteConflict",
    "InvalidDBInstanceState",
    "InvalidDBInstanceStateFault",
    "InvalidReplicationGroupState",
    "InvalidReplicationGroupStateFault",
    "InvalidCacheClusterState",
    "InvalidCacheClusterStateFault",
    "IncorrectState",
    "InvalidGroup.InUse",
    // An Elastic IP still associated (with a NAT gateway being deleted).
    "InvalidIPAddress.InUse",
    "ConcurrentModification",
    "ConcurrentModificationException",
    // ELBv2: a target group still used by a listener or rule (or a load balancer in use).
    "ResourceInUse",
];

/// Codes that mean "just created, not visible yet" when they come back from a mutating call.
pub const EVENTUALLY_CONSISTENT: &[&str] = &[
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidGroup.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "InvalidNetworkInterfaceID.NotFound",
    "InvalidAllocationID.NotFound",
    "InvalidNatGatewayID.NotFound",
];

/// Codes that mean "does not exist".
pub const NOT_FOUND: &[&str] = &[
    "NoSuchEntity",
    "ResourceNotFoundException",
    "ResourceNotFoundFault",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBSubnetGroupNotFoundFault",
    "CacheSubnetGroupNotFoundFault",
    "ReplicationGroupNotFoundFault",
    "CacheClusterNotFound",
    "CacheClusterNotFoundFault",
    "RepositoryNotFoundException",
    "ImageNotFoundException",
    "LifecyclePolicyNotFoundException",
    "LoadBalancerNotFound",
    // Classic ELB: the SDK's `AccessPointNotFoundException` (wire code `LoadBalancerNotFound`).
    "AccessPointNotFound",
    "AccessPointNotFoundException",
    "TargetGroupNotFound",
    "ListenerNotFound",
    "NotFoundException",
    "NotFound",
    // DescribeNatGateways with an unknown id.
    "NatGatewayNotFound",
];

/// Codes that mean "already exists".
pub const ALREADY_EXISTS: &[&str] = &[
    "EntityAlreadyExists",
    "ResourceExistsException",
    "RepositoryAlreadyExistsException",
    "DBInstanceAlreadyExists",
    "DBInstanceAlreadyExistsFault",
    "DBSubnetGroupAlreadyExists",
    "DBSubnetGroupAlreadyExistsFault",
    "CacheSubnetGroupAlreadyExists",
    "CacheSubnetGroupAlreadyExistsFault",
    "ReplicationGroupAlreadyExists",
    "ReplicationGroupAlreadyExistsFault",
    "InvalidPermission.Duplicate",
    "InvalidGroup.Duplicate",
    "Resource.AlreadyAssociated",
];

/// Codes for missing or insufficient credentials.
pub const UNAUTHORIZED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthFailure",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
];

/// Codes for quotas.
pub const LIMIT: &[&str] = &[
    "LimitExceeded",
    "LimitExceededException",
    "VpcLimitExceeded",
    "SubnetLimitExceeded",
    "InstanceQuotaExceeded",
    "DBInstanceQuotaExceededFault",
    "NodeQuotaForCustomerExceeded",
    "ServiceQuotaExceededException",
];

/// Codes for transient server faults.
pub const TRANSIENT: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServerException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Classifies an error code in the context of `op`.
pub fn classify_code(code: &str, op: Op) -> ErrorKind {
    let has = |table: &[&str]| table.contains(&code);
    if has(THROTTLING) {
        ErrorKind::Throttling
    } else if code == "ResourceInUseException" {
        // EKS: "already exists" on create, "node groups still attached" on delete.
        if op == Op::Create {
            ErrorKind::AlreadyExists
        } else {
            ErrorKind::DependencyViolation
        }
    } else if has(DEPENDENCY) {
        ErrorKind::DependencyViolation
    } else if has(EVENTUALLY_CONSISTENT) {
        if op == Op::Read {
            ErrorKind::NotFound
        } else {
            ErrorKind::EventualConsistency
        }
    } else if has(NOT_FOUND) || code.ends_with(".NotFound") || code.ends_with("NotFoundFault") {
        ErrorKind::NotFound
    } else if has(ALREADY_EXISTS)
        || code.ends_with("AlreadyExists")
        || code.ends_with("AlreadyExistsFault")
    {
        ErrorKind::AlreadyExists
    } else if has(UNAUTHORIZED) {
        ErrorKind::Unauthorized
    } else if has(LIMIT) || code.contains("QuotaExceeded") {
        ErrorKind::LimitExceeded
    } else if has(TRANSIENT) {
        ErrorKind::Transient
    } else if code.starts_with("Invalid")
        || code.starts_with("Validation")
        || code == "MalformedPolicyDocument"
    {
        ErrorKind::InvalidInput
    } else {
        ErrorKind::Other
    }
}

/// The [`ErrorKind`] of an SDK error from a call of kind `op`, as [`classify`] judges it:
/// the service's code by [`classify_code`]; timeouts, dispatch failures and unreadable
/// responses are transient; a request that could not be built is invalid input.
pub fn classify_kind<E, R>(err: &SdkError<E, R>, op: Op) -> ErrorKind
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(se) => classify_code(se.err().code().unwrap_or("Unknown"), op),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorKind::Transient
        }
        SdkError::ConstructionFailure(_) => ErrorKind::InvalidInput,
        _ => ErrorKind::Other,
    }
}

/// Converts an SDK error from a call of kind `op` described by `what` into a classified
/// [`ProviderError`] (kind by [`classify_kind`]) that keeps the service's code and message
/// and the SDK error as source.
pub fn classify<E, R>(err: SdkError<E, R>, op: Op, what: &str) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let kind = classify_kind(&err, op);
    let (code, message) = match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().unwrap_or("Unknown").to_string();
            (Some(code), e.message().unwrap_or("").to_string())
        }
        SdkError::TimeoutError(_) => (None, "request timed out".to_string()),
        SdkError::DispatchFailure(d) => (None, format!("could not send the request: {d:?}")),
        SdkError::ResponseError(_) => (None, "unreadable response".to_string()),
        SdkError::ConstructionFailure(_) => (None, "could not build the request".to_string()),
        _ => (None, err.to_string()),
    };
    let mut pe = ProviderError::new(kind, format!("{what}: {message}")).with_source(err);
    if let Some(code) = code {
        pe = pe.with_code(code);
    }
    pe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dependency_codes_of_the_issue_are_retryable_with_wait() {
        for code in [
            "DependencyViolation",
            "InvalidDBSubnetGroupStateFault",
            "CacheSubnetGroupInUse",
            "DeleteConflict",
        ] {
            assert_eq!(
                classify_code(code, Op::Delete),
                ErrorKind::DependencyViolation,
                "{code}"
            );
            assert!(classify_code(code, Op::Delete).retryable());
        }
        assert_eq!(
            classify_code("ResourceInUseException", Op::Delete),
            ErrorKind::DependencyViolation
        );
        assert_eq!(
            classify_code("ResourceInUseException", Op::Create),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            classify_code("ResourceInUse", Op::Delete),
            ErrorKind::DependencyViolation
        );
    }

    #[test]
    fn elbv2_not_found_codes_mean_absent() {
        for code in [
            "LoadBalancerNotFound",
            "TargetGroupNotFound",
            "ListenerNotFound",
        ] {
            assert_eq!(
                classify_code(code, Op::Delete),
                ErrorKind::NotFound,
                "{code}"
            );
            assert_eq!(classify_code(code, Op::Read), ErrorKind::NotFound, "{code}");
        }
    }

    #[test]
    fn classic_elb_not_found_codes_mean_absent() {
        for code in [
            "LoadBalancerNotFound",
            "AccessPointNotFound",
            "AccessPointNotFoundException",
        ] {
            for op in [Op::Read, Op::Delete] {
                assert_eq!(
                    classify_code(code, op),
                    ErrorKind::NotFound,
                    "{code} {op:?}"
                );
            }
        }
    }

    #[test]
    fn nat_gateway_and_elastic_ip_codes() {
        assert_eq!(
            classify_code("InvalidIPAddress.InUse", Op::Delete),
            ErrorKind::DependencyViolation
        );
        for code in [
            "InvalidAllocationID.NotFound",
            "InvalidNatGatewayID.NotFound",
        ] {
            // A NAT gateway on a just-allocated address, a route to a just-created gateway.
            assert_eq!(
                classify_code(code, Op::Create),
                ErrorKind::EventualConsistency,
                "{code}"
            );
            assert_eq!(classify_code(code, Op::Read), ErrorKind::NotFound, "{code}");
        }
        assert_eq!(
            classify_code("NatGatewayNotFound", Op::Read),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn context_decides_not_found() {
        assert_eq!(
            classify_code("InvalidVpcID.NotFound", Op::Read),
            ErrorKind::NotFound
        );
        assert_eq!(
            classify_code("InvalidVpcID.NotFound", Op::Create),
            ErrorKind::EventualConsistency
        );
        assert_eq!(
            classify_code("DBInstanceNotFound", Op::Read),
            ErrorKind::NotFound
        );
        assert_eq!(
            classify_code("InvalidKeyPair.NotFound", Op::Read),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn throttling_auth_and_input_are_told_apart() {
        assert_eq!(
            classify_code("RequestLimitExceeded", Op::Create),
            ErrorKind::Throttling
        );
        assert_eq!(
            classify_code("ThrottlingException", Op::Read),
            ErrorKind::Throttling
        );
        assert_eq!(
            classify_code("UnauthorizedOperation", Op::Create),
            ErrorKind::Unauthorized
        );
        assert_eq!(
            classify_code("InvalidParameterValue", Op::Create),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            classify_code("EntityAlreadyExists", Op::Create),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            classify_code("VpcLimitExceeded", Op::Create),
            ErrorKind::LimitExceeded
        );
        assert!(!classify_code("InvalidParameterValue", Op::Create).retryable());
    }
}
