//! [`Remote`]: one object of the S3 state store, and the requests on it, each sent with the
//! store's [`RetryPolicy`].

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use chrono::{DateTime, Utc};
use multicloud_core::retry::RetryPolicy;
use multicloud_core::state::{LockInfo, StateError};

use super::unreadable_holder;
use crate::error::{Op, classify_kind};

/// One object of the store, with what is needed to reach it from a spawned task.
#[derive(Debug, Clone)]
pub(super) struct Remote {
    pub(super) client: Client,
    pub(super) retry: RetryPolicy,
    pub(super) bucket: String,
    pub(super) object: String,
}

impl Remote {
    /// `s3://bucket/key`.
    pub(super) fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.object)
    }

    pub(super) fn error<E>(
        &self,
        operation: &str,
        err: SdkError<E, aws_smithy_runtime_api::http::Response>,
    ) -> StateError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        StateError::Backend {
            message: format!(
                "{operation} {}: {}",
                self.location(),
                DisplayErrorContext(&err)
            ),
            source: Some(Box::new(err)),
        }
    }

    /// Sends the request `request` builds, retrying it with the store's [`RetryPolicy`]
    /// while it fails with a retryable error (see the [store's docs](super)); the answer to the
    /// last attempt is returned as the SDK gave it.
    pub(super) async fn send<T, E, F, Fut>(
        &self,
        operation: &str,
        mut request: F,
    ) -> Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let max_attempts = self.retry.max_attempts;
        let attempts = AtomicU32::new(0);
        let answer = self
            .retry
            .run(
                || {
                    let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
                    let sent = request();
                    async move {
                        match sent.await {
                            // S3's codes mean the same whatever the kind of call.
                            Err(err) if attempt < max_attempts => {
                                let kind = classify_kind(&err, Op::Read);
                                if kind.retryable() {
                                    Err(multicloud_core::ProviderError::new(
                                        kind,
                                        DisplayErrorContext(&err).to_string(),
                                    ))
                                } else {
                                    Ok(Err(err))
                                }
                            }
                            answer => Ok(answer),
                        }
                    }
                },
                |attempt, wait, error| {
                    tracing::debug!(
                        object = %self.location(),
                        operation,
                        attempt,
                        ?wait,
                        %error,
                        "state store: retrying"
                    );
                },
            )
            .await;
        // Only an attempt before the last fails `run`, with an error `run` retries.
        match answer {
            Ok(answer) => answer,
            Err(e) => Err(SdkError::construction_failure(e)),
        }
    }

    /// Writes `bytes` (JSON) to the object with `If-Match: etag`, or `If-None-Match: *`
    /// without one, retried like [`Remote::send`]; the SDK's answer as is.
    pub(super) async fn put_conditional(
        &self,
        operation: &str,
        bytes: &[u8],
        etag: Option<&str>,
    ) -> Result<
        aws_sdk_s3::operation::put_object::PutObjectOutput,
        SdkError<
            aws_sdk_s3::operation::put_object::PutObjectError,
            aws_smithy_runtime_api::http::Response,
        >,
    > {
        let put = || {
            let put = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&self.object)
                .content_type("application/json")
                .body(aws_sdk_s3::primitives::ByteStream::from(bytes.to_vec()));
            match etag {
                Some(tag) => put.if_match(tag),
                None => put.if_none_match("*"),
            }
            .send()
        };
        self.send(operation, put).await
    }

    /// The object's bytes, ETag and last modification time, or `None` if it does not exist.
    pub(super) async fn get(
        &self,
        operation: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>, Option<DateTime<Utc>>)>, StateError> {
        let get = || {
            self.client
                .get_object()
                .bucket(&self.bucket)
                .key(&self.object)
                .send()
        };
        let out = match self.send(operation, get).await {
            Ok(out) => out,
            Err(err) if is_not_found(&err) => return Ok(None),
            Err(err) => return Err(self.error(operation, err)),
        };
        let etag = out.e_tag().map(str::to_owned);
        let modified = out
            .last_modified()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()));
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StateError::Backend {
                message: format!("{operation} {}: reading the body: {e}", self.location()),
                source: Some(Box::new(e)),
            })?
            .into_bytes()
            .to_vec();
        Ok(Some((bytes, etag, modified)))
    }

    /// The lock held in this object and the object's ETag, if it exists. An object that does
    /// not parse is reported as held by [`UNREADABLE_OWNER`] since its modification time.
    pub(super) async fn read_lock(&self) -> Result<Option<(LockInfo, Option<String>)>, StateError> {
        Ok(self.get("read lock").await?.map(|(bytes, etag, modified)| {
            let info = serde_json::from_slice::<LockInfo>(&bytes)
                .unwrap_or_else(|_| unreadable_holder(modified));
            (info, etag)
        }))
    }

    /// Deletes the object if its ETag is still `etag` (unconditionally without one); `false`
    /// if it changed or vanished meanwhile.
    pub(super) async fn delete_if_match(
        &self,
        etag: Option<&str>,
        operation: &str,
    ) -> Result<bool, StateError> {
        let delete = |etag: Option<&str>| {
            let delete = self
                .client
                .delete_object()
                .bucket(&self.bucket)
                .key(&self.object);
            match etag {
                Some(tag) => delete.if_match(tag),
                None => delete,
            }
            .send()
        };
        match self.send(operation, || delete(etag)).await {
            Ok(_) => Ok(true),
            Err(err) if is_precondition_failure(&err) || is_not_found(&err) => Ok(false),
            // S3-compatible stores without conditional deletes: fall back to a plain delete.
            Err(err) if etag.is_some() && err.code() == Some("NotImplemented") => {
                tracing::debug!(
                    object = %self.location(),
                    "conditional delete not implemented; deleting unconditionally"
                );
                self.send(operation, || delete(None))
                    .await
                    .map_err(|e| self.error(operation, e))?;
                Ok(true)
            }
            Err(err) => Err(self.error(operation, err)),
        }
    }
}

/// 412 `PreconditionFailed`, or 409 `ConditionalRequestConflict` (a concurrent conditional
/// write on the same key is in flight: it will have won or failed by the time we look).
pub(super) fn is_precondition_failure<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    matches!(
        err.code(),
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    ) || matches!(status(err), Some(412 | 409))
}

/// 404 (`NoSuchKey`).
pub(super) fn is_not_found<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    matches!(err.code(), Some("NoSuchKey" | "NotFound")) || status(err) == Some(404)
}

fn status<E>(err: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}
