//! [`S3Objects`]: the bucket under the S3 state store, as the conditional object storage
//! multicloud-core's protocol runs on; each request sent with the store's [`RetryPolicy`].

use std::future::Future;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::http::Response;
use chrono::{DateTime, Utc};
use multicloud_core::ProviderError;
use multicloud_core::retry::RetryPolicy;
use multicloud_core::state::StateError;
use multicloud_core::state::object::{
    Condition, ConditionalObjects, ObjectRead, Outcome, Target, backend_error, send_retrying,
};

use crate::error::{Op, classify_kind};

/// The objects of one bucket, reached with a client whose SDK retries are off.
#[derive(Clone)]
pub struct S3Objects {
    pub(super) client: Client,
    pub(super) retry: RetryPolicy,
    pub(super) bucket: String,
}

impl std::fmt::Debug for S3Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Objects")
            .field("bucket", &self.bucket)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl S3Objects {
    /// Sends the request `request` builds, retrying it with the store's [`RetryPolicy`]
    /// while it fails with a retryable error (S3's codes mean the same whatever the kind of
    /// call); the answer to the last attempt as the SDK gave it.
    async fn send<T, E, F, Fut>(
        &self,
        name: &str,
        operation: &str,
        request: F,
    ) -> Result<T, SdkError<E, Response>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, Response>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let judge = |err: &SdkError<E, Response>| {
            let kind = classify_kind(err, Op::Read);
            kind.retryable()
                .then(|| ProviderError::new(kind, DisplayErrorContext(err).to_string()))
        };
        let location = self.location(name);
        send_retrying(
            &self.retry,
            (&location, operation),
            request,
            judge,
            SdkError::construction_failure,
        )
        .await
    }

    /// The [`StateError`] of `operation` on `name` failing with `err`.
    fn error<E>(&self, name: &str, operation: &str, err: SdkError<E, Response>) -> StateError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let detail = DisplayErrorContext(&err).to_string();
        backend_error(operation, &self.location(name), detail, err)
    }

    /// The answer to a conditional request: refused on a failed condition or a missing
    /// object, an error otherwise.
    fn outcome<T, E>(
        &self,
        name: &str,
        operation: &str,
        answer: Result<T, SdkError<E, Response>>,
        etag: impl FnOnce(&T) -> Option<&str>,
    ) -> Result<Outcome, StateError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match answer {
            Ok(out) => Ok(Outcome::Applied(etag(&out).map(str::to_owned))),
            Err(err) if is_precondition_failure(&err) || is_not_found(&err) => {
                Ok(Outcome::Refused(DisplayErrorContext(&err).to_string()))
            }
            Err(err) => Err(self.error(name, operation, err)),
        }
    }
}

#[async_trait]
impl ConditionalObjects for S3Objects {
    /// `s3://bucket/name`.
    fn location(&self, name: &str) -> String {
        format!("s3://{}/{name}", self.bucket)
    }

    async fn get(&self, name: &str, operation: &str) -> Result<Option<ObjectRead>, StateError> {
        let get = || {
            self.client
                .get_object()
                .bucket(&self.bucket)
                .key(name)
                .send()
        };
        let out = match self.send(name, operation, get).await {
            Ok(out) => out,
            Err(err) if is_not_found(&err) => return Ok(None),
            Err(err) => return Err(self.error(name, operation, err)),
        };
        let etag = out.e_tag().map(str::to_owned);
        let modified = out
            .last_modified()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()));
        let bytes = out.body.collect().await.map_err(|e| {
            backend_error(
                operation,
                &self.location(name),
                format!("reading the body: {e}"),
                e,
            )
        })?;
        Ok(Some(ObjectRead {
            bytes: bytes.into_bytes().to_vec(),
            etag,
            modified,
        }))
    }

    /// `If-Match: etag`, or `If-None-Match: *`; S3 has no leases.
    async fn put(&self, target: Target<'_>, bytes: &[u8]) -> Result<Outcome, StateError> {
        let (name, operation) = (target.name, target.operation);
        let put = || {
            let put = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(name)
                .content_type("application/json")
                .body(ByteStream::from(bytes.to_vec()));
            match target.condition {
                Condition::Absent => put.if_none_match("*"),
                Condition::Matches(tag) => put.if_match(tag),
                Condition::Any => put,
            }
            .send()
        };
        let answer = self.send(name, operation, put).await;
        self.outcome(name, operation, answer, |out| out.e_tag())
    }

    /// With `If-Match`; on S3-compatible stores without conditional deletes, a plain
    /// delete.
    async fn delete(&self, target: Target<'_>) -> Result<Outcome, StateError> {
        let (name, operation) = (target.name, target.operation);
        let delete = |etag: Option<&str>| {
            let delete = self.client.delete_object().bucket(&self.bucket).key(name);
            match etag {
                Some(tag) => delete.if_match(tag),
                None => delete,
            }
            .send()
        };
        let etag = match target.condition {
            Condition::Matches(tag) => Some(tag),
            Condition::Absent | Condition::Any => None,
        };
        let answer = match self.send(name, operation, || delete(etag)).await {
            Err(err) if etag.is_some() && err.code() == Some("NotImplemented") => {
                tracing::debug!(
                    object = %self.location(name),
                    "conditional delete not implemented; deleting unconditionally"
                );
                self.send(name, operation, || delete(None)).await
            }
            answer => answer,
        };
        self.outcome(name, operation, answer, |_| None)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let list = || {
                self.client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .set_continuation_token(token.clone())
                    .send()
            };
            let page = (self.send(prefix, "list stacks", list).await)
                .map_err(|e| self.error(prefix, "list stacks", e))?;
            names.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            match page.next_continuation_token() {
                Some(next) => token = Some(next.to_owned()),
                None => return Ok(names),
            }
        }
    }
}

/// 412 `PreconditionFailed`, or 409 `ConditionalRequestConflict` (a concurrent conditional
/// write on the same key is in flight: it will have won or failed by the time we look).
fn is_precondition_failure<E: ProvideErrorMetadata>(err: &SdkError<E, Response>) -> bool {
    matches!(
        err.code(),
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    ) || matches!(status(err), Some(412 | 409))
}

/// 404 (`NoSuchKey`).
fn is_not_found<E: ProvideErrorMetadata>(err: &SdkError<E, Response>) -> bool {
    matches!(err.code(), Some("NoSuchKey" | "NotFound")) || status(err) == Some(404)
}

fn status<E>(err: &SdkError<E, Response>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}
