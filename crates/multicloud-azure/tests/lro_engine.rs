//! The LRO engine against scripted ARM answers (no network, paused time): every pattern,
//! failure and cancellation with ARM's code and message, Retry-After through the core's
//! poller, and polling URLs used verbatim.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use azure_core::http::headers::Headers;
use azure_core::http::{AsyncRawResponse, HttpClient, Method, Request, StatusCode};
use multicloud_azure::arm::ArmClient;
use multicloud_azure::arm::lro::{self, LroHandle, LroKind, LroMethod, LroTracker, Started, Step};
use multicloud_azure::emulator::FakeCredential;
use multicloud_azure::error::{ArmError, Op, classify};
use multicloud_core::ErrorKind;
use multicloud_core::provider::Outputs;
use multicloud_core::retry::{Poller, RetryPolicy};
use serde_json::json;
use tokio::time::Instant;

const RES: &str = "https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1?api-version=2026-08-01";
const OP: &str = "https://management.azure.com/subscriptions/s/providers/Microsoft.ContainerService/locations/eastus/operationStatuses/op1?api-version=2025-06-01-preview";
const LOC: &str = "https://management.azure.com/subscriptions/s/providers/Microsoft.ContainerService/locations/eastus/operationResults/op1?api-version=2017-08-31";

/// One scripted answer: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, String);

/// A transport answering from a script, recording every request's method, URL and whether
/// it carried a bearer token.
#[derive(Debug, Default)]
struct Scripted {
    answers: Mutex<VecDeque<Answer>>,
    seen: Mutex<Vec<(Method, String, bool)>>,
}

impl Scripted {
    fn answer(&self, status: u16, headers: &[(&'static str, &str)], body: serde_json::Value) {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let headers = headers.iter().map(|(k, v)| (*k, v.to_string())).collect();
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back((status, headers, body));
    }
    fn urls(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(_, u, _)| u.clone())
            .collect()
    }
}

#[async_trait]
impl HttpClient for Scripted {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let auth = request
            .headers()
            .get_optional_str(&azure_core::http::headers::AUTHORIZATION)
            .is_some();
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).push((
            request.method(),
            request.url().to_string(),
            auth,
        ));
        let (status, hs, body) = self
            .answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
            .unwrap_or((
                500,
                vec![],
                r#"{"error":{"code":"ScriptEnded","message":"no answer left"}}"#.into(),
            ));
        let mut headers = Headers::new();
        for (k, v) in hs {
            headers.insert(k, v);
        }
        Ok(AsyncRawResponse::from_bytes(
            StatusCode::from(status),
            headers,
            body.into_bytes(),
        ))
    }
}

fn client() -> (ArmClient, Arc<Scripted>) {
    let script = Arc::new(Scripted::default());
    let arm = ArmClient::builder()
        .token_credential(FakeCredential::new())
        .transport(script.clone())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    (arm, script)
}

fn url(s: &str) -> azure_core::http::Url {
    azure_core::http::Url::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

/// Starts `method` on [`RES`] with `body`, panicking on an error answer.
async fn start(arm: &ArmClient, method: LroMethod, body: Option<&serde_json::Value>) -> Started {
    lro::start(arm, method, url(RES), body)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A tracker tracking `started` under [`RES`], and the handle it tracks; panics unless the
/// operation is pending.
fn tracked(started: &Started) -> (LroTracker, LroHandle) {
    let tracker = LroTracker::new();
    let handle = tracker
        .track(RES, started)
        .unwrap_or_else(|| panic!("pending"));
    (tracker, handle)
}

/// Polls `key` to the end through the core's Poller (as the executor's `wait_ready` does),
/// returning the final body and the paused-clock time it took.
async fn drive(
    arm: &ArmClient,
    tracker: &LroTracker,
    key: &str,
    fallback: LroHandle,
) -> (
    Result<Option<serde_json::Value>, multicloud_core::ProviderError>,
    Duration,
) {
    let start = Instant::now();
    let last = Mutex::new(None);
    let poller = Poller {
        interval: Duration::from_secs(2),
        max_interval: Duration::from_secs(30),
    };
    let out = poller
        .await_condition(
            Duration::from_secs(3600),
            &RetryPolicy::default(),
            || async {
                let step = tracker
                    .poll(arm, key, fallback.clone())
                    .await
                    .map_err(|e| classify(e, Op::Read, "poll"))?;
                step.into_readiness(|body| {
                    *last.lock().unwrap_or_else(|p| p.into_inner()) = body;
                    Ok(Outputs::new())
                })
            },
            |_| {},
        )
        .await
        .map(|_| last.lock().unwrap_or_else(|p| p.into_inner()).clone());
    (out, start.elapsed())
}

#[tokio::test(start_paused = true)]
async fn put_201_with_azure_async_operation_polls_the_operation_then_reads_the_resource() {
    let (arm, script) = client();
    script.answer(
        201,
        &[("azure-asyncoperation", OP), ("retry-after", "5")],
        json!({"properties": {"provisioningState": "Creating"}}),
    );
    script.answer(
        200,
        &[("retry-after", "7")],
        json!({"status": "InProgress"}),
    );
    script.answer(200, &[], json!({"status": "Succeeded"}));
    script.answer(
        200,
        &[],
        json!({"name": "c1", "properties": {"provisioningState": "Succeeded"}}),
    );
    let body = json!({"location": "eastus"});
    let (tracker, handle) = tracked(&start(&arm, LroMethod::Put, Some(&body)).await);
    assert_eq!(
        (
            handle.kind,
            handle.poll_url.as_str(),
            handle.retry_after_secs
        ),
        (LroKind::AzureAsyncOperation, OP, Some(5))
    );
    let (out, took) = drive(
        &arm,
        &tracker,
        RES,
        LroHandle::resource(LroMethod::Put, RES),
    )
    .await;
    let body = out.unwrap_or_else(|e| panic!("{e}")).unwrap_or_default();
    assert_eq!(body["name"], "c1");
    // Retry-After of the initial answer (5 s), then of the InProgress answer (7 s).
    assert_eq!(took, Duration::from_secs(12));
    // The polling URL verbatim, with its own api-version; then the resource with ours.
    assert_eq!(
        script.urls(),
        vec![RES.to_string(), OP.into(), OP.into(), RES.into()]
    );
    assert!(
        script
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .all(|(_, _, auth)| *auth)
    );
    assert!(tracker.is_empty());
}

#[tokio::test(start_paused = true)]
async fn put_202_with_location_follows_the_location_verbatim_even_when_it_moves() {
    let (arm, script) = client();
    let moved = "https://management.azure.com/subscriptions/s/providers/Microsoft.ContainerService/locations/eastus/operationResults/op1?api-version=2099-01-01&token=a%2Fb";
    script.answer(202, &[("location", LOC), ("retry-after", "3")], json!(null));
    script.answer(202, &[("location", moved)], json!(null));
    script.answer(
        200,
        &[],
        json!({"name": "c1", "properties": {"provisioningState": "Succeeded"}}),
    );
    let (tracker, handle) = tracked(&start(&arm, LroMethod::Put, Some(&json!({}))).await);
    assert_eq!(handle.kind, LroKind::Location);
    let (out, took) = drive(&arm, &tracker, RES, handle).await;
    assert_eq!(
        out.unwrap_or_else(|e| panic!("{e}")).unwrap_or_default()["name"],
        "c1"
    );
    assert_eq!(took, Duration::from_secs(6));
    assert_eq!(
        script.urls(),
        vec![RES.to_string(), LOC.into(), moved.into()]
    );
}

#[tokio::test(start_paused = true)]
async fn a_202_with_both_headers_polls_azure_async_operation_and_delete_ends_without_a_body() {
    let (arm, script) = client();
    script.answer(
        202,
        &[("azure-asyncoperation", OP), ("location", LOC)],
        json!(null),
    );
    script.answer(200, &[], json!({"status": "Deleting"}));
    script.answer(200, &[], json!({"status": "Succeeded"}));
    let (tracker, handle) = tracked(&start(&arm, LroMethod::Delete, None).await);
    assert_eq!(
        (handle.kind, handle.location.as_deref()),
        (LroKind::AzureAsyncOperation, Some(LOC))
    );
    let (out, took) = drive(&arm, &tracker, RES, handle).await;
    assert_eq!(out.unwrap_or_else(|e| panic!("{e}")), None);
    // No Retry-After anywhere: the poller's own interval (2 s).
    assert_eq!(took, Duration::from_secs(2));
    assert_eq!(script.urls(), vec![RES.to_string(), OP.into(), OP.into()]);
}

#[tokio::test(start_paused = true)]
async fn provisioning_state_alone_drives_a_put_and_a_404_ends_a_delete() {
    let (arm, script) = client();
    script.answer(
        200,
        &[],
        json!({"properties": {"provisioningState": "Updating"}}),
    );
    script.answer(
        200,
        &[("retry-after", "4")],
        json!({"properties": {"provisioningState": "Updating"}}),
    );
    script.answer(
        200,
        &[],
        json!({"properties": {"provisioningState": "Succeeded"}}),
    );
    let started = start(&arm, LroMethod::Put, Some(&json!({}))).await;
    let Started::Pending(handle) = started else {
        panic!("Updating is not terminal")
    };
    assert_eq!(handle.kind, LroKind::Resource);
    let tracker = LroTracker::new();
    let (out, _) = drive(&arm, &tracker, RES, handle).await;
    assert_eq!(
        out.unwrap_or_else(|e| panic!("{e}")).unwrap_or_default()["properties"]["provisioningState"],
        "Succeeded"
    );

    // A delete re-derived after a restart: GET until 404.
    script.answer(
        200,
        &[],
        json!({"properties": {"provisioningState": "Deleting"}}),
    );
    script.answer(
        404,
        &[],
        json!({"error": {"code": "ResourceNotFound", "message": "gone"}}),
    );
    let (out, _) = drive(
        &arm,
        &tracker,
        RES,
        LroHandle::resource(LroMethod::Delete, RES),
    )
    .await;
    assert_eq!(out.unwrap_or_else(|e| panic!("{e}")), None);
}

#[tokio::test(start_paused = true)]
async fn synchronous_answers_are_done_at_once() {
    let (arm, script) = client();
    script.answer(
        201,
        &[],
        json!({"properties": {"provisioningState": "Succeeded"}}),
    );
    script.answer(204, &[], json!(null));
    script.answer(200, &[("location", LOC)], json!(null));
    let put = lro::start(&arm, LroMethod::Put, url(RES), Some(&json!({}))).await;
    assert!(matches!(put, Ok(Started::Done(Some(_)))), "{put:?}");
    let del = lro::start(&arm, LroMethod::Delete, url(RES), None).await;
    assert_eq!(del.ok(), Some(Started::Done(None)));
    let del = lro::start(&arm, LroMethod::Delete, url(RES), None).await;
    assert_eq!(del.ok(), Some(Started::Done(None)));
}

#[tokio::test(start_paused = true)]
async fn a_failed_operation_surfaces_arms_code_and_message() {
    let (arm, script) = client();
    script.answer(
        201,
        &[("azure-asyncoperation", OP)],
        json!({"properties": {"provisioningState": "Creating"}}),
    );
    script.answer(200, &[], json!({"status": "Failed", "error": {"code": "InvalidParameter", "message": "vmSize Standard_X is not allowed"}}));
    let started = start(&arm, LroMethod::Put, Some(&json!({}))).await;
    let tracker = LroTracker::new();
    tracker.track(RES, &started);
    let (out, _) = drive(
        &arm,
        &tracker,
        RES,
        LroHandle::resource(LroMethod::Put, RES),
    )
    .await;
    let e = out.err().unwrap_or_else(|| panic!("must fail"));
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::Failed, Some("InvalidParameter"))
    );
    assert!(
        e.message().contains("vmSize Standard_X is not allowed"),
        "{e}"
    );
    let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<ArmError>());
    assert!(matches!(source, Some(ArmError::OperationFailed { status, .. }) if status == "Failed"));
    assert!(tracker.is_empty(), "a failed operation is forgotten");

    // Through Location: the final answer is the error status and ARM error body.
    script.answer(202, &[("location", LOC)], json!(null));
    script.answer(
        400,
        &[],
        json!({"error": {"code": "SubnetIsFull", "message": "no room"}}),
    );
    let started = start(&arm, LroMethod::Put, Some(&json!({}))).await;
    let Started::Pending(h) = started else {
        panic!("202")
    };
    let err = lro::poll(&arm, &h).await.err();
    assert!(
        matches!(&err, Some(ArmError::OperationFailed { code, message, .. }) if code == "SubnetIsFull" && message == "no room"),
        "{err:?}"
    );

    // A provisioningState of Failed on the resource, with the resource's own error.
    script.answer(200, &[], json!({"properties": {"provisioningState": "Failed", "error": {"code": "QuotaExceeded", "message": "cores"}}}));
    let err = lro::poll(&arm, &LroHandle::resource(LroMethod::Put, RES))
        .await
        .err();
    assert_eq!(err.as_ref().and_then(ArmError::code), Some("QuotaExceeded"));
}

#[tokio::test(start_paused = true)]
async fn a_canceled_operation_and_a_cancelled_wait() {
    let (arm, script) = client();
    script.answer(200, &[], json!({"status": "Canceled", "error": {"code": "OperationCanceled", "message": "aborted by the user"}}));
    let handle = LroHandle {
        kind: LroKind::AzureAsyncOperation,
        poll_url: OP.into(),
        ..LroHandle::resource(LroMethod::Put, RES)
    };
    let err = lro::poll(&arm, &handle).await.err();
    assert!(
        matches!(&err, Some(ArmError::OperationFailed { status, code, .. }) if status == "Canceled" && code == "OperationCanceled"),
        "{err:?}"
    );
    assert_eq!(
        err.map(|e| classify(e, Op::Create, "x").kind()),
        Some(ErrorKind::Failed)
    );

    // The engine's wait is cancellable: stop it mid-way, the handle stays tracked (and
    // recorded), so a later run resumes where it was.
    for _ in 0..100 {
        script.answer(
            200,
            &[("retry-after", "10")],
            json!({"status": "InProgress"}),
        );
    }
    let tracker = LroTracker::new();
    tracker.track(RES, &Started::Pending(handle.clone()));
    let cancel = tokio_util::sync::CancellationToken::new();
    let stopper = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(35)).await;
        stopper.cancel();
    });
    let before = script.urls().len();
    tokio::select! {
        _ = drive(&arm, &tracker, RES, handle.clone()) => panic!("never finishes"),
        () = cancel.cancelled() => {}
    }
    assert_eq!(script.urls().len() - before, 4, "polls at 0, 10, 20, 30 s");
    assert_eq!(tracker.get(RES).map(|h| h.poll_url), Some(OP.to_string()));
    let mut outputs = Outputs::new();
    handle.record_in(&mut outputs);
    assert_eq!(LroHandle::from_outputs(&outputs), Some(handle));
    outputs.merge(LroHandle::cleared());
    assert_eq!(LroHandle::from_outputs(&outputs), None);
}

#[tokio::test(start_paused = true)]
async fn throttled_polls_are_retried_with_retry_after_and_keep_the_handle() {
    let (arm, script) = client();
    script.answer(
        429,
        &[("retry-after", "9")],
        json!({"error": {"code": "TooManyRequests", "message": "slow"}}),
    );
    script.answer(503, &[], json!(null));
    script.answer(200, &[], json!({"status": "Succeeded"}));
    let handle = LroHandle {
        kind: LroKind::AzureAsyncOperation,
        poll_url: OP.into(),
        ..LroHandle::resource(LroMethod::Delete, RES)
    };
    let tracker = LroTracker::new();
    let (out, took) = drive(&arm, &tracker, RES, handle).await;
    assert_eq!(out.unwrap_or_else(|e| panic!("{e}")), None);
    assert!(took >= Duration::from_secs(9), "{took:?}");
    assert_eq!(script.urls(), vec![OP.to_string(), OP.into(), OP.into()]);

    // Initial answers: a 409 conflict is retryable, a 400 is not.
    script.answer(
        409,
        &[],
        json!({"error": {"code": "AnotherOperationInProgress", "message": "busy"}}),
    );
    let e = lro::start(&arm, LroMethod::Put, url(RES), Some(&json!({})))
        .await
        .err()
        .unwrap_or_else(|| panic!("409"));
    assert!(classify(e, Op::Update, "PUT").retryable());
    script.answer(400, &[("x-ms-error-code", "InvalidParameter")], json!(null));
    let e = lro::start(&arm, LroMethod::Put, url(RES), Some(&json!({})))
        .await
        .err()
        .unwrap_or_else(|| panic!("400"));
    assert_eq!(e.code(), Some("InvalidParameter"));
    assert!(!classify(e, Op::Create, "PUT").retryable());
    let step = lro::poll(&arm, &LroHandle::resource(LroMethod::Delete, RES)).await;
    assert!(step.is_err(), "script ended: 500 is an error, not a result");
    assert!(!matches!(step, Ok(Step::Done(_))));
}
