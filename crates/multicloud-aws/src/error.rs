//! Classification of AWS SDK errors into [`ProviderError`]s, by error code: a
//! retryable-error table in the manner of Terratest, with the operation's context deciding
//! the ambiguous codes (a `*.NotFound` while creating a dependent is eventual consistency; the
//! same code while reading means absent; EKS's `ResourceInUseException` means "exists" on
//! create and "still in use" on delete).

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use multicloud_core::{ErrorKind, ProviderError};

/// What kind of call failed (core's [`CallKind`](multicloud_core::error::CallKind)).
pub use multicloud_core::error::CallKind as Op;

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
    "InternalServiceError",
    "Unavailable",
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

/// The HTTP status of a raw response, for [`classify_kind`].
pub trait HttpStatus {
    /// The status code.
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// The [`ErrorKind`] of an SDK error from a call of kind `op`, as [`classify`] judges it:
/// the service's code by [`classify_code`], and a 5xx answer whose code says nothing more
/// (EC2's 503 `Unavailable` under another name) is transient; timeouts, dispatch failures
/// and unreadable responses are transient; a request that could not be built is invalid
/// input.
pub fn classify_kind<E, R>(err: &SdkError<E, R>, op: Op) -> ErrorKind
where
    E: ProvideErrorMetadata,
    R: HttpStatus,
{
    match err {
        SdkError::ServiceError(se) => {
            match classify_code(se.err().code().unwrap_or("Unknown"), op) {
                ErrorKind::Other if se.raw().status_code() >= 500 => ErrorKind::Transient,
                kind => kind,
            }
        }
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
    R: HttpStatus + std::fmt::Debug + Send + Sync + 'static,
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

/// An SDK error [`classify`] converts: the errors of every AWS SDK call.
pub trait Classify {
    /// The classified [`ProviderError`] of a call of kind `op` described by `what`.
    fn classify(self, op: Op, what: &str) -> ProviderError;
}

impl<E, R> Classify for SdkError<E, R>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: HttpStatus + std::fmt::Debug + Send + Sync + 'static,
{
    fn classify(self, op: Op, what: &str) -> ProviderError {
        classify(self, op, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorKind::{
        AlreadyExists, DependencyViolation, EventualConsistency, InvalidInput, LimitExceeded,
        NotFound, Throttling, Transient, Unauthorized,
    };
    use Op::{Create, Delete, Read};

    /// One row a code: how it is classified in the context of each of the calls named.
    const CASES: &[(&str, &[Op], ErrorKind)] = &[
        // The dependency codes of the issue: retryable with a wait.
        ("DependencyViolation", &[Delete], DependencyViolation),
        (
            "InvalidDBSubnetGroupStateFault",
            &[Delete],
            DependencyViolation,
        ),
        ("CacheSubnetGroupInUse", &[Delete], DependencyViolation),
        ("DeleteConflict", &[Delete], DependencyViolation),
        // EKS: "node groups still attached" on delete, "exists" on create.
        ("ResourceInUseException", &[Delete], DependencyViolation),
        ("ResourceInUseException", &[Create], AlreadyExists),
        ("ResourceInUse", &[Delete], DependencyViolation),
        // ELBv2 and Classic ELB: absent.
        ("LoadBalancerNotFound", &[Read, Delete], NotFound),
        ("TargetGroupNotFound", &[Read, Delete], NotFound),
        ("ListenerNotFound", &[Read, Delete], NotFound),
        ("AccessPointNotFound", &[Read, Delete], NotFound),
        ("AccessPointNotFoundException", &[Read, Delete], NotFound),
        // NAT gateways and Elastic IPs: an address still held; a NAT gateway on a
        // just-allocated address, a route to a just-created gateway.
        ("InvalidIPAddress.InUse", &[Delete], DependencyViolation),
        (
            "InvalidAllocationID.NotFound",
            &[Create],
            EventualConsistency,
        ),
        ("InvalidAllocationID.NotFound", &[Read], NotFound),
        (
            "InvalidNatGatewayID.NotFound",
            &[Create],
            EventualConsistency,
        ),
        ("InvalidNatGatewayID.NotFound", &[Read], NotFound),
        ("NatGatewayNotFound", &[Read], NotFound),
        // The context decides what "not found" means.
        ("InvalidVpcID.NotFound", &[Read], NotFound),
        ("InvalidVpcID.NotFound", &[Create], EventualConsistency),
        ("DBInstanceNotFound", &[Read], NotFound),
        ("InvalidKeyPair.NotFound", &[Read], NotFound),
        // Throttling, credentials, input, existence and quotas are told apart.
        ("RequestLimitExceeded", &[Create], Throttling),
        ("ThrottlingException", &[Read], Throttling),
        ("UnauthorizedOperation", &[Create], Unauthorized),
        ("InvalidParameterValue", &[Create], InvalidInput),
        ("EntityAlreadyExists", &[Create], AlreadyExists),
        ("VpcLimitExceeded", &[Create], LimitExceeded),
        // Server faults: EC2's 503, Secrets Manager's 500.
        ("Unavailable", &[Create, Read, Delete], Transient),
        ("InternalServiceError", &[Read], Transient),
    ];

    /// A service error with `code` and HTTP `status`.
    fn service_error(
        code: &str,
        status: u16,
    ) -> SdkError<
        aws_sdk_ec2::operation::create_vpc::CreateVpcError,
        aws_smithy_runtime_api::http::Response,
    > {
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;
        let meta = ErrorMetadata::builder().code(code).build();
        let err = aws_sdk_ec2::operation::create_vpc::CreateVpcError::generic(meta);
        let status = status.try_into().expect("a status code");
        let raw = aws_smithy_runtime_api::http::Response::new(status, SdkBody::empty());
        SdkError::service_error(err, raw)
    }

    #[test]
    fn an_unknown_code_is_transient_on_a_server_fault_only() {
        assert_eq!(
            classify_kind(&service_error("Brand.New", 503), Create),
            Transient
        );
        assert_eq!(
            classify_kind(&service_error("Brand.New", 500), Read),
            Transient
        );
        assert_eq!(
            classify_kind(&service_error("Brand.New", 400), Create),
            ErrorKind::Other
        );
        // A known code keeps its meaning whatever the status.
        assert_eq!(
            classify_kind(&service_error("SlowDown", 503), Read),
            Throttling
        );
        let pe = classify(service_error("Unavailable", 503), Create, "ec2 CreateVpc");
        assert!(pe.retryable(), "{pe}");
        assert_eq!(pe.code(), Some("Unavailable"));
    }

    #[test]
    fn codes_are_classified_in_the_context_of_the_call() {
        for (code, ops, kind) in CASES {
            for op in *ops {
                assert_eq!(classify_code(code, *op), *kind, "{code} {op:?}");
            }
        }
    }

    #[test]
    fn dependency_codes_are_retryable_and_invalid_input_is_not() {
        for (code, ops, kind) in CASES {
            if *kind == DependencyViolation {
                assert!(classify_code(code, ops[0]).retryable(), "{code}");
            }
        }
        assert!(!classify_code("InvalidParameterValue", Create).retryable());
    }
}
