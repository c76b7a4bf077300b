//! The one engine for ARM long-running operations, shared by every resource, as
//! `shared/azure-arm-examples/README.md` (after `azure-resource-manager-rpc`'s
//! `async-api-reference.md`) describes it:
//!
//! - the initial call answers 200/201/202/204; [`begin`] turns that answer into
//!   [`Started::Done`] or [`Started::Pending`] with an [`LroHandle`];
//! - the handle polls `Azure-AsyncOperation` when present, else `Location`, else the resource
//!   itself (`provisioningState`, or 404 once deleted), always with the URL **verbatim** (it
//!   carries its own api-version), and keeps each answer's `Retry-After`;
//! - `Succeeded`, `Failed` and `Canceled` are terminal on the operation resource and on
//!   `provisioningState` alike; a failed or canceled operation becomes
//!   [`ArmError::OperationFailed`] with ARM's `error.code` and `error.message`.
//!
//! ## How it fits the core's lifecycle
//! The engine never sleeps: [`poll`] takes ONE step. A resource's `create`/`delete` makes its
//! one mutating call and [`LroTracker::track`]s the handle (and `create` also records it in
//! its outputs under [`OUTPUT_KEY`], so it survives in state); `ready`/`gone` call
//! [`LroTracker::poll`] once per check and turn the [`Step`] into a
//! [`Readiness`] (`Pending { retry_after }` from ARM's `Retry-After`), and the engine's shared
//! [`Poller`](multicloud_core::retry::Poller) does the waiting. A process that restarted
//! mid-operation has no tracked handle: the recorded one is used, else the handle is
//! re-derived from the resource ([`LroHandle::resource`]: GET its `provisioningState`).
//!
//! ```no_run
//! use multicloud_azure::arm::ArmClient;
//! use multicloud_azure::arm::lro::{self, LroHandle, LroMethod, LroTracker};
//! use multicloud_azure::error::{Op, classify};
//! use multicloud_core::provider::{Outputs, Readiness};
//! use multicloud_core::ProviderError;
//!
//! async fn create(arm: &ArmClient, tracker: &LroTracker, url: azure_core::http::Url,
//!                 body: serde_json::Value) -> Result<Outputs, ProviderError> {
//!     let started = lro::start(arm, LroMethod::Put, url.clone(), Some(&body)).await
//!         .map_err(|e| classify(e, Op::Create, "PUT thing"))?;
//!     let mut outputs = Outputs::new();
//!     if let Some(handle) = tracker.track(url.as_str(), &started) {
//!         handle.record_in(&mut outputs);
//!     }
//!     Ok(outputs)
//! }
//!
//! async fn ready(arm: &ArmClient, tracker: &LroTracker, url: &str,
//!                recorded: Option<&Outputs>) -> Result<Readiness, ProviderError> {
//!     let fallback = recorded.and_then(LroHandle::from_outputs)
//!         .unwrap_or_else(|| LroHandle::resource(LroMethod::Put, url));
//!     tracker.poll(arm, url, fallback).await
//!         .map_err(|e| classify(e, Op::Read, "PUT thing"))?
//!         .into_readiness(|_body| Ok(LroHandle::cleared()))
//! }
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use azure_core::http::{Method, Url};
use multicloud_core::ProviderError;
use multicloud_core::provider::{Outputs, Readiness};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::models::{OperationStatus, Terminal, provisioning_state};
use super::{ArmClient, ArmResponse};
use crate::error::ArmError;

/// The output key under which `create` records a pending operation's handle.
pub const OUTPUT_KEY: &str = "lro";

/// The method of the initial call: it decides where the final result comes from (PUT and
/// PATCH: the resource; DELETE: nothing; POST: the `Location` URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LroMethod {
    /// Create or replace.
    Put,
    /// Update.
    Patch,
    /// Delete.
    Delete,
    /// An action.
    Post,
}

impl LroMethod {
    fn http(self) -> Method {
        match self {
            Self::Put => Method::Put,
            Self::Patch => Method::Patch,
            Self::Delete => Method::Delete,
            Self::Post => Method::Post,
        }
    }
}

/// What a handle polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LroKind {
    /// The `Azure-AsyncOperation` operation resource (`{"status": ...}`).
    AzureAsyncOperation,
    /// The `Location` URL (202 while running, then the final response).
    Location,
    /// The resource itself: `provisioningState`, or 404 once deleted.
    Resource,
}

/// A pending long-running operation: everything needed to take the next polling step, and
/// serializable so it can be recorded in a resource's outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LroHandle {
    /// The initial call's method.
    pub method: LroMethod,
    /// What [`poll_url`](Self::poll_url) is.
    pub kind: LroKind,
    /// The URL to poll, exactly as ARM gave it.
    pub poll_url: String,
    /// The initial request's URL (the resource, with its api-version).
    pub resource_url: String,
    /// The initial answer's `Location`, where a POST's result is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The last `Retry-After`, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl LroHandle {
    /// A handle that polls the resource at `resource_url` itself (after a restart, or when
    /// ARM gave no polling header).
    pub fn resource(method: LroMethod, resource_url: &str) -> Self {
        Self {
            method,
            kind: LroKind::Resource,
            poll_url: resource_url.to_string(),
            resource_url: resource_url.to_string(),
            location: None,
            retry_after_secs: None,
        }
    }

    /// The last `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after_secs.map(Duration::from_secs)
    }

    /// Records the handle in `outputs` under [`OUTPUT_KEY`].
    pub fn record_in(&self, outputs: &mut Outputs) {
        if let Ok(v) = serde_json::to_value(self) {
            outputs.as_map_mut().insert(OUTPUT_KEY.to_string(), v);
        }
    }

    /// The handle recorded in `outputs`, if any.
    pub fn from_outputs(outputs: &Outputs) -> Option<Self> {
        outputs
            .get(OUTPUT_KEY)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Outputs that clear a recorded handle (`"lro": null`) once the operation is done.
    pub fn cleared() -> Outputs {
        let mut o = Outputs::new();
        o.as_map_mut().insert(OUTPUT_KEY.to_string(), Value::Null);
        o
    }
}

/// The outcome of an initial call.
#[derive(Debug, Clone, PartialEq)]
pub enum Started {
    /// Done at once: the body (the resource for PUT/PATCH), if any.
    Done(Option<Value>),
    /// Running: poll the handle.
    Pending(LroHandle),
}

/// One polling step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Still running.
    Running {
        /// The status ARM reported (`InProgress`, `Creating`, `Deleting`…).
        status: String,
        /// The handle for the next step (a `Location` answer may move it).
        next: LroHandle,
        /// When to look again, if ARM said.
        retry_after: Option<Duration>,
    },
    /// Succeeded: the final body (the resource for PUT/PATCH), if any.
    Done(Option<Value>),
}

impl Step {
    /// The core's [`Readiness`]: `Pending` with ARM's `Retry-After`, or `Ready` with the
    /// outputs `done` makes of the final body.
    pub fn into_readiness(
        self,
        done: impl FnOnce(Option<Value>) -> Result<Outputs, ProviderError>,
    ) -> Result<Readiness, ProviderError> {
        match self {
            Self::Running {
                status,
                retry_after,
                ..
            } => Ok(Readiness::Pending {
                status,
                retry_after,
            }),
            Self::Done(body) => done(body).map(Readiness::Ready),
        }
    }
}

/// Sends the initial call (`method` on `url`, with `body`) and judges its answer by
/// [`begin`].
pub async fn start(
    client: &ArmClient,
    method: LroMethod,
    url: Url,
    body: Option<&Value>,
) -> Result<Started, ArmError> {
    let response = client.send(method.http(), url.clone(), body).await?;
    begin(method, url.as_str(), response)
}

/// Judges the initial answer to `method` on `resource_url`: an error for a non-2xx or a
/// terminal failed state; `Done` for a 204, a DELETE 200, or a body in a terminal state with
/// nothing left to poll; otherwise `Pending` on `Azure-AsyncOperation`, else `Location`,
/// else the resource.
pub fn begin(
    method: LroMethod,
    resource_url: &str,
    response: ArmResponse,
) -> Result<Started, ArmError> {
    if !matches!(response.status, 200 | 201 | 202 | 204) {
        return Err(response
            .error_for_status()
            .err()
            .unwrap_or_else(|| ArmError::Decode {
                message: "unexpected success status".into(),
            }));
    }
    let body = response.json_value();
    let state = body
        .as_ref()
        .and_then(provisioning_state)
        .map(str::to_string);
    if let (Some(b), Some(t)) = (&body, state.as_deref().and_then(Terminal::of))
        && t != Terminal::Succeeded
    {
        return Err(failed_state(b, t));
    }
    let running_state = state.as_deref().is_some_and(|s| Terminal::of(s).is_none());
    let has_header = response.azure_async_operation.is_some() || response.location.is_some();
    let pending = match response.status {
        202 => true,
        201 if method != LroMethod::Delete => running_state || (has_header && state.is_none()),
        200 if method != LroMethod::Delete => running_state,
        _ => false,
    };
    if !pending {
        return Ok(Started::Done(body));
    }
    let (kind, poll_url) = match (&response.azure_async_operation, &response.location) {
        (Some(a), _) => (LroKind::AzureAsyncOperation, a.clone()),
        (None, Some(l)) => (LroKind::Location, l.clone()),
        (None, None) => (LroKind::Resource, resource_url.to_string()),
    };
    Ok(Started::Pending(LroHandle {
        method,
        kind,
        poll_url,
        resource_url: resource_url.to_string(),
        location: response.location,
        retry_after_secs: response.retry_after.map(|d| d.as_secs()),
    }))
}

/// Takes one polling step of `handle`. Errors reading the status (429, 5xx) come back as
/// [`ArmError::Service`] (retryable; poll again with the same handle); a failed or canceled
/// operation as [`ArmError::OperationFailed`].
pub async fn poll(client: &ArmClient, handle: &LroHandle) -> Result<Step, ArmError> {
    let url = parse(&handle.poll_url)?;
    let response = client.send(Method::Get, url, None).await?;
    match handle.kind {
        LroKind::AzureAsyncOperation => poll_operation(client, handle, response).await,
        LroKind::Location => poll_location(handle, response),
        LroKind::Resource => poll_resource(handle, response),
    }
}

async fn poll_operation(
    client: &ArmClient,
    handle: &LroHandle,
    response: ArmResponse,
) -> Result<Step, ArmError> {
    let response = response.error_for_status()?;
    let op: OperationStatus = response.json()?;
    match Terminal::of(&op.status) {
        None => Ok(running(handle, op.status, None, response.retry_after)),
        Some(Terminal::Succeeded) => final_result(client, handle).await,
        Some(t) => {
            let (code, message) = op
                .error
                .map(|e| (e.code, e.message))
                .unwrap_or_else(|| (default_code(t).to_string(), String::new()));
            Err(ArmError::OperationFailed {
                status: op.status,
                code,
                message,
            })
        }
    }
}

/// After `Succeeded` on the operation resource: PUT/PATCH read the resource, POST its
/// `Location` (when it had one), DELETE has no result.
async fn final_result(client: &ArmClient, handle: &LroHandle) -> Result<Step, ArmError> {
    let url = match handle.method {
        LroMethod::Delete => return Ok(Step::Done(None)),
        LroMethod::Post => match &handle.location {
            Some(l) => l,
            None => return Ok(Step::Done(None)),
        },
        LroMethod::Put | LroMethod::Patch => &handle.resource_url,
    };
    let response = client
        .send(Method::Get, parse(url)?, None)
        .await?
        .error_for_status()?;
    Ok(Step::Done(response.json_value()))
}

fn poll_location(handle: &LroHandle, response: ArmResponse) -> Result<Step, ArmError> {
    match response.status {
        202 => {
            let next = response.location.clone();
            Ok(running(
                handle,
                "InProgress".into(),
                next,
                response.retry_after,
            ))
        }
        200 | 201 => Ok(Step::Done(response.json_value())),
        204 => Ok(Step::Done(None)),
        404 if handle.method == LroMethod::Delete => Ok(Step::Done(None)),
        s if s == 429 || s == 408 || s >= 500 => {
            Err(response
                .error_for_status()
                .err()
                .unwrap_or(ArmError::Decode {
                    message: format!("HTTP {s}"),
                }))
        }
        _ => {
            // The operation's own failure: the status and ARM error body it ended with.
            let (code, message) = crate::error::error_body(&response.body);
            Err(ArmError::OperationFailed {
                status: "Failed".into(),
                code: code
                    .or(response.error_code)
                    .unwrap_or_else(|| format!("HttpStatus{}", response.status)),
                message: message.unwrap_or_default(),
            })
        }
    }
}

fn poll_resource(handle: &LroHandle, response: ArmResponse) -> Result<Step, ArmError> {
    if handle.method == LroMethod::Delete {
        return match response.status {
            404 => Ok(Step::Done(None)),
            _ => {
                let response = response.error_for_status()?;
                let body = response.json_value().unwrap_or(Value::Null);
                let state = provisioning_state(&body).unwrap_or("Deleting").to_string();
                Ok(running(handle, state, None, response.retry_after))
            }
        };
    }
    let response = response.error_for_status()?;
    let body = response.json_value().unwrap_or(Value::Null);
    let state = provisioning_state(&body).map(str::to_string);
    match state.as_deref().map(|s| (s, Terminal::of(s))) {
        None | Some((_, Some(Terminal::Succeeded))) => Ok(Step::Done(Some(body))),
        Some((_, Some(t))) => Err(failed_state(&body, t)),
        Some((s, None)) => Ok(running(handle, s.to_string(), None, response.retry_after)),
    }
}

/// A running step; `next_url` replaces the polling URL when ARM moved it.
fn running(
    handle: &LroHandle,
    status: String,
    next_url: Option<String>,
    retry_after: Option<Duration>,
) -> Step {
    let mut next = handle.clone();
    if let Some(url) = next_url {
        next.poll_url = url;
    }
    if let Some(d) = retry_after {
        next.retry_after_secs = Some(d.as_secs());
    }
    Step::Running {
        status,
        retry_after: next.retry_after(),
        next,
    }
}

/// The error of a resource whose `provisioningState` is `Failed` or `Canceled`: its
/// `error` (top level or in `properties`) when it has one.
fn failed_state(body: &Value, t: Terminal) -> ArmError {
    let error = body
        .get("error")
        .or_else(|| body.get("properties").and_then(|p| p.get("error")));
    let s = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str);
    let state = provisioning_state(body).unwrap_or("Failed");
    ArmError::OperationFailed {
        status: state.to_string(),
        code: s("code").unwrap_or(default_code(t)).to_string(),
        message: s("message")
            .map(str::to_string)
            .unwrap_or_else(|| format!("provisioningState is {state}")),
    }
}

fn default_code(t: Terminal) -> &'static str {
    match t {
        Terminal::Canceled => "OperationCanceled",
        _ => "OperationFailed",
    }
}

fn parse(url: &str) -> Result<Url, ArmError> {
    Url::parse(url).map_err(|e| ArmError::Decode {
        message: format!("polling URL `{url}`: {e}"),
    })
}

/// The operations in flight, by key (a resource's URL or id): `create`/`delete` track the
/// handle of their one call, `ready`/`gone` poll it one step at a time. Cheap to share.
#[derive(Debug, Default)]
pub struct LroTracker {
    /// Handles by key, and whether the initial answer's `Retry-After` is still to be waited.
    pending: Mutex<HashMap<String, (LroHandle, bool)>>,
}

impl LroTracker {
    /// A tracker with nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tracks (or, when done, forgets) the operation on `key`; the handle when pending.
    pub fn track(&self, key: &str, started: &Started) -> Option<LroHandle> {
        let Ok(mut pending) = self.pending.lock() else {
            return None;
        };
        match started {
            Started::Pending(h) => {
                pending.insert(key.to_string(), (h.clone(), h.retry_after_secs.is_some()));
                Some(h.clone())
            }
            Started::Done(_) => {
                pending.remove(key);
                None
            }
        }
    }

    /// The tracked handle of `key`.
    pub fn get(&self, key: &str) -> Option<LroHandle> {
        self.pending
            .lock()
            .ok()
            .and_then(|p| p.get(key).map(|(h, _)| h.clone()))
    }

    /// How many operations are in flight.
    pub fn len(&self) -> usize {
        self.pending.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One step of the operation on `key`: its tracked handle, else `fallback` (the one
    /// recorded in outputs, or [`LroHandle::resource`]). The first step after an initial
    /// answer with `Retry-After` only waits it out (ARM asks clients not to poll sooner). The next handle is tracked while
    /// running; the operation is forgotten once done or failed (a retryable error keeps it).
    pub async fn poll(
        &self,
        client: &ArmClient,
        key: &str,
        fallback: LroHandle,
    ) -> Result<Step, ArmError> {
        if let Some(first) = self.first_wait(key) {
            return Ok(first);
        }
        let handle = self.get(key).unwrap_or(fallback);
        let step = poll(client, &handle).await;
        if let Ok(mut pending) = self.pending.lock() {
            match &step {
                Ok(Step::Running { next, .. }) => {
                    pending.insert(key.to_string(), (next.clone(), false));
                }
                Ok(Step::Done(_)) | Err(ArmError::OperationFailed { .. }) => {
                    pending.remove(key);
                }
                Err(_) => {
                    pending.insert(key.to_string(), (handle, false));
                }
            }
        }
        step
    }

    /// The first step after the initial answer when it carried a `Retry-After`: wait that
    /// long before the first poll (no request).
    fn first_wait(&self, key: &str) -> Option<Step> {
        let mut pending = self.pending.lock().ok()?;
        let (handle, fresh) = pending.get_mut(key)?;
        if !std::mem::take(fresh) {
            return None;
        }
        Some(Step::Running {
            status: "Accepted".into(),
            retry_after: handle.retry_after(),
            next: handle.clone(),
        })
    }
}
