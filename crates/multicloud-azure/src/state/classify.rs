//! Classification of Azure Storage errors for the Blob state store: what an error code
//! means to the store's protocol ([`BlobFailure`]), and, for everything else, the engine's
//! [`ErrorKind`] (which decides whether the store's [`RetryPolicy`] retries it). A table in
//! the manner of the AWS crate's: codes first, the HTTP status when the code is unknown.
//!
//! [`RetryPolicy`]: multicloud_core::retry::RetryPolicy

use std::time::Duration;

use azure_core::error::ErrorKind as AzureKind;
use azure_core::http::headers::HeaderName;
use multicloud_core::ErrorKind;

/// What a failed Blob request means to the state store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobFailure {
    /// `412 ConditionNotMet`: an `If-Match` / `If-None-Match` condition failed (someone else
    /// wrote or deleted the blob since it was read).
    ConditionNotMet,
    /// `409 BlobAlreadyExists`: a create (`If-None-Match: *`) found the blob.
    AlreadyExists,
    /// `409 LeaseAlreadyPresent`: someone else holds the blob's lease.
    LeasePresent,
    /// The lease id sent does not hold the blob's lease (it was broken, released, or is
    /// someone else's), or there is no lease to act on.
    LeaseLost,
    /// `412 LeaseIdMissing`: a write to a leased blob without its lease id.
    LeaseIdMissing,
    /// `404`: no such blob (or container).
    NotFound,
    /// Anything else, as the engine classifies it.
    Other(ErrorKind),
}

/// Error codes and what they mean; the status decides for codes not listed here.
pub const CODES: &[(&str, BlobFailure)] = &[
    ("ConditionNotMet", BlobFailure::ConditionNotMet),
    ("TargetConditionNotMet", BlobFailure::ConditionNotMet),
    ("BlobAlreadyExists", BlobFailure::AlreadyExists),
    ("LeaseAlreadyPresent", BlobFailure::LeasePresent),
    (
        "LeaseIsBreakingAndCannotBeAcquired",
        BlobFailure::LeasePresent,
    ),
    ("LeaseIdMissing", BlobFailure::LeaseIdMissing),
    ("LeaseIdMismatchWithBlobOperation", BlobFailure::LeaseLost),
    ("LeaseIdMismatchWithLeaseOperation", BlobFailure::LeaseLost),
    ("LeaseLost", BlobFailure::LeaseLost),
    ("LeaseNotPresentWithBlobOperation", BlobFailure::LeaseLost),
    ("LeaseNotPresentWithLeaseOperation", BlobFailure::LeaseLost),
    ("LeaseIsBrokenAndCannotBeRenewed", BlobFailure::LeaseLost),
    ("LeaseIsBreakingAndCannotBeChanged", BlobFailure::LeaseLost),
    ("BlobNotFound", BlobFailure::NotFound),
    ("ResourceNotFound", BlobFailure::NotFound),
    ("ContainerNotFound", BlobFailure::Other(ErrorKind::NotFound)),
    (
        "ContainerBeingDeleted",
        BlobFailure::Other(ErrorKind::DependencyViolation),
    ),
    ("ServerBusy", BlobFailure::Other(ErrorKind::Throttling)),
    ("TooManyRequests", BlobFailure::Other(ErrorKind::Throttling)),
    ("InternalError", BlobFailure::Other(ErrorKind::Transient)),
    (
        "OperationTimedOut",
        BlobFailure::Other(ErrorKind::Transient),
    ),
    (
        "AuthenticationFailed",
        BlobFailure::Other(ErrorKind::Unauthorized),
    ),
    (
        "AuthorizationFailure",
        BlobFailure::Other(ErrorKind::Unauthorized),
    ),
    (
        "AuthorizationPermissionMismatch",
        BlobFailure::Other(ErrorKind::Unauthorized),
    ),
    (
        "InsufficientAccountPermissions",
        BlobFailure::Other(ErrorKind::Unauthorized),
    ),
    (
        "KeyBasedAuthenticationNotPermitted",
        BlobFailure::Other(ErrorKind::Unauthorized),
    ),
    (
        "InvalidHeaderValue",
        BlobFailure::Other(ErrorKind::InvalidInput),
    ),
    (
        "InvalidQueryParameterValue",
        BlobFailure::Other(ErrorKind::InvalidInput),
    ),
    (
        "InvalidResourceName",
        BlobFailure::Other(ErrorKind::InvalidInput),
    ),
    (
        "RequestBodyTooLarge",
        BlobFailure::Other(ErrorKind::LimitExceeded),
    ),
];

/// What `error` means to the store.
pub fn classify(error: &azure_core::Error) -> BlobFailure {
    match error.kind() {
        AzureKind::HttpResponse {
            status, error_code, ..
        } => classify_response(u16::from(*status), error_code.as_deref()),
        // Never sent, or the connection broke: safe to send again.
        AzureKind::Connection | AzureKind::Io => BlobFailure::Other(ErrorKind::Transient),
        AzureKind::Credential => BlobFailure::Other(ErrorKind::Unauthorized),
        AzureKind::DataConversion | AzureKind::Other => BlobFailure::Other(ErrorKind::Other),
    }
}

/// What an HTTP answer of `status` with the service's `code` means to the store.
pub fn classify_response(status: u16, code: Option<&str>) -> BlobFailure {
    if let Some(known) = code.and_then(|code| {
        CODES
            .iter()
            .find(|(listed, _)| listed.eq_ignore_ascii_case(code))
            .map(|(_, failure)| *failure)
    }) {
        return known;
    }
    match status {
        404 => BlobFailure::NotFound,
        412 => BlobFailure::ConditionNotMet,
        401 | 403 => BlobFailure::Other(ErrorKind::Unauthorized),
        408 | 500 | 502 | 504 => BlobFailure::Other(ErrorKind::Transient),
        429 | 503 => BlobFailure::Other(ErrorKind::Throttling),
        409 => BlobFailure::Other(ErrorKind::AlreadyExists),
        400 | 405 | 411 | 413 | 414 | 416 => BlobFailure::Other(ErrorKind::InvalidInput),
        _ => BlobFailure::Other(ErrorKind::Other),
    }
}

/// The engine's kind of `error` (the store's protocol failures are not retryable).
pub fn kind(error: &azure_core::Error) -> ErrorKind {
    match classify(error) {
        BlobFailure::Other(kind) => kind,
        BlobFailure::NotFound => ErrorKind::NotFound,
        BlobFailure::AlreadyExists => ErrorKind::AlreadyExists,
        BlobFailure::ConditionNotMet
        | BlobFailure::LeasePresent
        | BlobFailure::LeaseLost
        | BlobFailure::LeaseIdMissing => ErrorKind::Other,
    }
}

/// A one-line description of `error`: `HTTP <status> <code>: <the service's message>` for an
/// answer of the service (the message taken from its XML `<Message>`, first line), the
/// SDK's text for anything else.
pub fn describe(error: &azure_core::Error) -> String {
    let AzureKind::HttpResponse {
        status, error_code, ..
    } = error.kind()
    else {
        return error.to_string();
    };
    let mut text = format!("HTTP {}", u16::from(*status));
    if let Some(code) = error_code {
        text.push(' ');
        text.push_str(code);
    }
    let full = error.to_string();
    let message = full
        .split_once("<Message>")
        .and_then(|(_, rest)| rest.split_once("</Message>"))
        .and_then(|(message, _)| message.lines().next())
        .map(str::trim)
        .filter(|m| !m.is_empty());
    if let Some(message) = message {
        text.push_str(": ");
        text.push_str(message);
    }
    text
}

/// The delay the service asked for (`x-ms-retry-after-ms`, `retry-after-ms`, or
/// `Retry-After` in seconds), if any.
pub fn retry_after(error: &azure_core::Error) -> Option<Duration> {
    let AzureKind::HttpResponse {
        raw_response: Some(response),
        ..
    } = error.kind()
    else {
        return None;
    };
    let headers = response.headers();
    let millis = |name: &'static str| {
        headers
            .get_optional_str(&HeaderName::from_static(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    millis("x-ms-retry-after-ms")
        .or_else(|| millis("retry-after-ms"))
        .map(Duration::from_millis)
        .or_else(|| millis("retry-after").map(Duration::from_secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::StatusCode;

    fn response(status: u16, code: Option<&str>) -> azure_core::Error {
        AzureKind::HttpResponse {
            status: StatusCode::from(status),
            error_code: code.map(str::to_owned),
            raw_response: None,
        }
        .into_error()
    }

    /// The protocol's answers, as Azure and Azurite send them.
    #[test]
    fn protocol_answers_are_classified_by_code() {
        let table = [
            (412, "ConditionNotMet", BlobFailure::ConditionNotMet),
            (409, "BlobAlreadyExists", BlobFailure::AlreadyExists),
            (409, "LeaseAlreadyPresent", BlobFailure::LeasePresent),
            (412, "LeaseIdMissing", BlobFailure::LeaseIdMissing),
            (
                412,
                "LeaseIdMismatchWithBlobOperation",
                BlobFailure::LeaseLost,
            ),
            (
                409,
                "LeaseIdMismatchWithLeaseOperation",
                BlobFailure::LeaseLost,
            ),
            (412, "LeaseLost", BlobFailure::LeaseLost),
            (
                409,
                "LeaseNotPresentWithLeaseOperation",
                BlobFailure::LeaseLost,
            ),
            (
                409,
                "LeaseIsBrokenAndCannotBeRenewed",
                BlobFailure::LeaseLost,
            ),
            (404, "BlobNotFound", BlobFailure::NotFound),
            (
                404,
                "ContainerNotFound",
                BlobFailure::Other(ErrorKind::NotFound),
            ),
        ];
        for (status, code, expected) in table {
            assert_eq!(
                classify(&response(status, Some(code))),
                expected,
                "{status} {code}"
            );
        }
    }

    #[test]
    fn throttling_and_server_faults_are_retryable_and_auth_is_not() {
        let retryable = [
            (503, Some("ServerBusy")),
            (500, Some("InternalError")),
            (500, Some("OperationTimedOut")),
            (429, None),
            (502, None),
            (503, None),
        ];
        for (status, code) in retryable {
            assert!(
                kind(&response(status, code)).retryable(),
                "{status} {code:?}"
            );
        }
        let final_ = [
            (403, Some("AuthenticationFailed")),
            (403, Some("AuthorizationPermissionMismatch")),
            (400, Some("InvalidHeaderValue")),
            (412, Some("ConditionNotMet")),
            (409, Some("LeaseAlreadyPresent")),
            (404, Some("BlobNotFound")),
        ];
        for (status, code) in final_ {
            assert!(
                !kind(&response(status, code)).retryable(),
                "{status} {code:?}"
            );
        }
        assert_eq!(
            kind(&response(403, Some("AuthenticationFailed"))),
            ErrorKind::Unauthorized
        );
    }

    #[test]
    fn unknown_codes_fall_back_to_the_status() {
        assert_eq!(
            classify_response(412, Some("SomethingNew")),
            BlobFailure::ConditionNotMet
        );
        assert_eq!(classify_response(404, None), BlobFailure::NotFound);
        assert_eq!(
            classify_response(418, None),
            BlobFailure::Other(ErrorKind::Other)
        );
        // Codes are matched without regard to case.
        assert_eq!(
            classify_response(409, Some("leasealreadypresent")),
            BlobFailure::LeasePresent
        );
    }

    #[test]
    fn connection_failures_are_transient() {
        let error = azure_core::Error::with_message(AzureKind::Connection, "refused");
        assert_eq!(classify(&error), BlobFailure::Other(ErrorKind::Transient));
        assert!(kind(&error).retryable());
        assert_eq!(retry_after(&error), None);
    }

    #[test]
    fn descriptions_name_status_code_and_message() {
        let error = azure_core::Error::with_message(
            AzureKind::HttpResponse {
                status: StatusCode::from(412),
                error_code: Some("ConditionNotMet".into()),
                raw_response: None,
            },
            "412: <?xml version=\"1.0\"?>\n<Error>\n  <Code>ConditionNotMet</Code>\n  \
             <Message>The condition specified using HTTP conditional header(s) is not met.\n\
             RequestId:1</Message>\n</Error>",
        );
        assert_eq!(
            describe(&error),
            "HTTP 412 ConditionNotMet: The condition specified using HTTP conditional \
             header(s) is not met."
        );
        assert_eq!(
            describe(&response(503, Some("ServerBusy"))),
            "HTTP 503 ServerBusy"
        );
        let refused = azure_core::Error::with_message(AzureKind::Connection, "refused");
        assert_eq!(describe(&refused), refused.to_string());
    }

    #[test]
    fn every_code_is_listed_once() {
        let mut codes: Vec<_> = CODES.iter().map(|(c, _)| c.to_ascii_lowercase()).collect();
        codes.sort();
        let before = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), before);
    }
}
