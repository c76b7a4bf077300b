//! Classification of Kubernetes API errors into [`ProviderError`]s, by the `Status` reason
//! and HTTP code the API server returns, in the context of the call (a `NotFound` while
//! creating an object in a namespace that is still being created is eventual consistency; a
//! `Conflict` on delete means "still in use").

use multicloud_core::{ErrorKind, ProviderError};

/// What kind of call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A get / list call.
    Read,
    /// An apply (create or update) call.
    Apply,
    /// A delete call.
    Delete,
}

/// `Status.reason`s (with their usual HTTP codes) and what they mean for the engine; the
/// first match wins, `None` means "any call".
pub const REASONS: &[(&str, Option<Op>, ErrorKind)] = &[
    ("TooManyRequests", None, ErrorKind::Throttling), // 429 (API priority and fairness)
    ("ServerTimeout", None, ErrorKind::Transient),    // 500/504
    ("Timeout", None, ErrorKind::Transient),          // 504
    ("InternalError", None, ErrorKind::Transient),    // 500
    ("ServiceUnavailable", None, ErrorKind::Transient), // 503
    // 404 on apply: the namespace (or a CRD) was created a moment ago and is not served yet.
    ("NotFound", Some(Op::Apply), ErrorKind::EventualConsistency),
    ("NotFound", None, ErrorKind::NotFound),
    // 409 on apply: a namespace still terminating, or an optimistic-concurrency race.
    ("Conflict", Some(Op::Apply), ErrorKind::DependencyViolation),
    ("Conflict", Some(Op::Delete), ErrorKind::DependencyViolation),
    ("AlreadyExists", None, ErrorKind::AlreadyExists), // 409
    ("Conflict", None, ErrorKind::DependencyViolation),
    ("Unauthorized", None, ErrorKind::Unauthorized), // 401
    ("Forbidden", None, ErrorKind::Unauthorized),    // 403
    ("Invalid", None, ErrorKind::InvalidInput),      // 422
    ("BadRequest", None, ErrorKind::InvalidInput),   // 400
    ("MethodNotAllowed", None, ErrorKind::Unsupported), // 405
    ("NotAcceptable", None, ErrorKind::Unsupported), // 406
    ("UnsupportedMediaType", None, ErrorKind::Unsupported), // 415
    ("RequestEntityTooLarge", None, ErrorKind::InvalidInput), // 413
    ("Gone", None, ErrorKind::Transient),            // 410: a stale resourceVersion
];

/// Classifies a `Status` (reason, HTTP code) from a call of kind `op`. Reasons the table
/// does not know fall back on the code.
pub fn classify_status(reason: &str, code: u16, op: Op) -> ErrorKind {
    let hit = REASONS
        .iter()
        .find(|(r, when, _)| *r == reason && when.is_none_or(|w| w == op));
    if let Some((_, _, kind)) = hit {
        return *kind;
    }
    match code {
        429 => ErrorKind::Throttling,
        500..=599 => ErrorKind::Transient,
        404 => classify_status("NotFound", 404, op),
        409 => classify_status("Conflict", 409, op),
        401 | 403 => ErrorKind::Unauthorized,
        400 | 422 => ErrorKind::InvalidInput,
        _ => ErrorKind::Other,
    }
}

/// A [`ProviderError`] for `err`, from a call of kind `op` on `what` (`deployment shop/web`).
pub fn classify(err: kube::Error, op: Op, what: &str) -> ProviderError {
    match &err {
        kube::Error::Api(status) => {
            let kind = classify_status(&status.reason, status.code, op);
            let message = format!("{what}: {} ({})", status.message, status.reason);
            ProviderError::new(kind, message)
                .with_code(status.reason.clone())
                .with_source(err)
        }
        // Connection refused or reset, TLS hiccups, a server that went away for a moment.
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            ProviderError::new(ErrorKind::Transient, format!("{what}: {err}")).with_source(err)
        }
        kube::Error::Auth(_) => {
            ProviderError::new(ErrorKind::Unauthorized, format!("{what}: {err}")).with_source(err)
        }
        _ => ProviderError::new(ErrorKind::Other, format!("{what}: {err}")).with_source(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_classifies_what_the_api_server_returns() {
        let cases = [
            ("TooManyRequests", 429, Op::Read, ErrorKind::Throttling),
            ("InternalError", 500, Op::Apply, ErrorKind::Transient),
            ("ServiceUnavailable", 503, Op::Delete, ErrorKind::Transient),
            ("NotFound", 404, Op::Read, ErrorKind::NotFound),
            ("NotFound", 404, Op::Delete, ErrorKind::NotFound),
            ("NotFound", 404, Op::Apply, ErrorKind::EventualConsistency),
            ("Conflict", 409, Op::Apply, ErrorKind::DependencyViolation),
            ("AlreadyExists", 409, Op::Apply, ErrorKind::AlreadyExists),
            ("Forbidden", 403, Op::Read, ErrorKind::Unauthorized),
            ("Invalid", 422, Op::Apply, ErrorKind::InvalidInput),
            ("BadRequest", 400, Op::Apply, ErrorKind::InvalidInput),
            ("Gone", 410, Op::Read, ErrorKind::Transient),
            // Unknown reasons fall back on the HTTP code.
            ("", 429, Op::Apply, ErrorKind::Throttling),
            ("", 502, Op::Read, ErrorKind::Transient),
            ("", 404, Op::Apply, ErrorKind::EventualConsistency),
            ("", 418, Op::Read, ErrorKind::Other),
        ];
        for (reason, code, op, want) in cases {
            assert_eq!(
                classify_status(reason, code, op),
                want,
                "{reason} {code} {op:?}"
            );
        }
    }

    #[test]
    fn retryable_reasons_are_exactly_the_transient_ones() {
        let retryable: Vec<&str> = REASONS
            .iter()
            .filter(|(_, when, k)| when.is_none() && k.retryable())
            .map(|(r, _, _)| *r)
            .collect();
        assert_eq!(
            retryable,
            [
                "TooManyRequests",
                "ServerTimeout",
                "Timeout",
                "InternalError",
                "ServiceUnavailable",
                "Conflict",
                "Gone"
            ]
        );
    }

    #[test]
    fn an_api_error_keeps_reason_message_and_object() {
        let status =
            kube::core::Status::failure("namespaces \"shop\" not found", "NotFound").with_code(404);
        let e = classify(
            kube::Error::Api(Box::new(status)),
            Op::Read,
            "namespace shop",
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.code(), Some("NotFound"));
        assert!(
            e.message().starts_with("namespace shop: "),
            "{}",
            e.message()
        );
    }
}
