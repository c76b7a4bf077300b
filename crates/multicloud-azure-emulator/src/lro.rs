//! The emulator's long-running operations: starting one, the polling URLs and headers of
//! the three patterns, and the answers of those URLs.

use axum::http::Uri;
use serde_json::json;

use crate::paging::param;
use crate::reply::Reply;
use crate::store::{LroPattern, OpAction, Operation, Outcome, Store};
use crate::{ARM_ENDPOINT as ARM, EmulatorConfig, Inner};

/// How long an operation on `rtype` takes.
pub(crate) fn duration_of(config: &EmulatorConfig, rtype: &str) -> std::time::Duration {
    config
        .durations
        .get(&rtype.to_ascii_lowercase())
        .copied()
        .unwrap_or(config.default_duration)
}

/// Starts an operation on `key` and returns its id.
pub(crate) fn start_op(
    s: &mut Store,
    inner: &Inner,
    key: &str,
    action: OpAction,
    duration: std::time::Duration,
    outcome: Outcome,
) -> String {
    let id = s.new_id();
    s.operations.insert(
        id.clone(),
        Operation {
            id: id.clone(),
            resource: key.to_string(),
            action,
            started: inner.now(),
            duration,
            outcome,
            status: None,
        },
    );
    id
}

/// The polling URLs of operation `id` on a resource of namespace `ns` in `location`.
pub(crate) fn op_urls(
    inner: &Inner,
    sub: &str,
    ns: &str,
    location: &str,
    id: &str,
) -> (String, String) {
    let v = inner.config().polling_api_version;
    let base = format!("{ARM}/subscriptions/{sub}/providers/{ns}/locations/{location}");
    (
        format!("{base}/operationStatuses/{id}?api-version={v}"),
        format!("{base}/operationResults/{id}?api-version={v}"),
    )
}

/// The headers of a pending answer with `pattern`.
pub(crate) fn lro_headers(
    reply: Reply,
    pattern: LroPattern,
    status_url: &str,
    result_url: &str,
    retry_after: u64,
) -> Reply {
    let reply = match pattern {
        LroPattern::AsyncOperation => reply.header("azure-asyncoperation", status_url),
        LroPattern::Location => reply.header("location", result_url),
        LroPattern::Both => reply
            .header("azure-asyncoperation", status_url)
            .header("location", result_url),
    };
    reply.header("retry-after", &retry_after.to_string())
}

/// `GET` of an operation's status (`Azure-AsyncOperation`) or result (`Location`) URL.
pub(crate) fn poll(inner: &Inner, uri: &Uri, id: &str, status_url: bool, expected: &str) -> Reply {
    let api = param(uri, "api-version").unwrap_or_default();
    let self_url = &format!("{ARM}{uri}");
    if api != expected {
        return Reply::bad_request(
            "InvalidApiVersionParameter",
            &format!(
                "The api-version '{api}' is invalid for this polling URL; use the URL as returned (api-version '{expected}')."
            ),
        );
    }
    let retry = inner.config().retry_after.to_string();
    let Ok(s) = inner.store.lock() else {
        return Reply::error(500, "InternalServerError", "store poisoned");
    };
    let Some(op) = s.operations.get(id) else {
        return Reply::error(
            404,
            "OperationNotFound",
            &format!("The operation '{id}' was not found."),
        );
    };
    if status_url {
        let mut body = json!({"id": id, "name": id, "status": op.status()});
        match &op.outcome {
            Outcome::Fail { code, message } if op.status.is_some() => {
                body["error"] = json!({"code": code, "message": message});
            }
            Outcome::Cancel if op.status.is_some() => {
                body["error"] =
                    json!({"code": "OperationCanceled", "message": "The operation was canceled."});
            }
            _ => {}
        }
        let reply = Reply::json(200, body);
        return if op.status.is_none() {
            reply.header("retry-after", &retry)
        } else {
            reply
        };
    }
    match (op.status, &op.outcome, &op.action) {
        (None, ..) => Reply::empty(202)
            .header("location", self_url)
            .header("retry-after", &retry),
        (Some("Succeeded"), _, OpAction::Put { .. }) => match s.resources.get(&op.resource) {
            Some(r) => Reply::json(200, r.view()),
            None => Reply::empty(204),
        },
        (Some("Succeeded"), _, OpAction::DeleteGroup | OpAction::Purge { .. }) => Reply::empty(200),
        (Some("Succeeded"), ..) => Reply::empty(204),
        (_, Outcome::Fail { code, message }, _) => Reply::error(400, code, message),
        _ => Reply::error(409, "OperationCanceled", "The operation was canceled."),
    }
}
