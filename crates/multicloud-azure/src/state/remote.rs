//! [`Remote`]: one blob of the Blob state store, and the requests on it, each sent with the
//! store's [`RetryPolicy`] (the SDK's own retries are off).

use std::future::Future;
use std::num::NonZero;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use azure_core::http::{Etag, RequestContent};
use azure_storage_blob::BlobClient;
use azure_storage_blob::models::{
    BlobClientAcquireLeaseOptions, BlobClientAcquireLeaseResultHeaders,
    BlobClientBreakLeaseOptions, BlobClientBreakLeaseResultHeaders, BlobClientDeleteOptions,
    BlobClientDownloadOptions, BlobClientRenewLeaseResultHeaders, BlobClientUploadOptions,
};
use chrono::{DateTime, Utc};
use multicloud_core::ProviderError;
use multicloud_core::retry::RetryPolicy;
use multicloud_core::state::{LockInfo, StateError};

use super::classify::{self, BlobFailure};
use super::unreadable_holder;

/// Blobs are sent and read in one request up to this size (the SDK would split larger ones
/// into blocks or ranges; state is far smaller).
const ONE_SHOT: usize = 256 * 1024 * 1024;

/// The infinite blob lease (`x-ms-lease-duration: -1`).
const INFINITE_LEASE: i32 = -1;

/// A blob read: its bytes, ETag and last modification time.
pub(super) type Read = (Vec<u8>, Option<String>, Option<DateTime<Utc>>);

/// One blob of the store, with what is needed to reach it from a spawned task.
#[derive(Clone)]
pub(super) struct Remote {
    pub(super) blob: Arc<BlobClient>,
    pub(super) retry: RetryPolicy,
    /// `<container>/<blob name>`, for messages.
    pub(super) location: String,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// How a write is conditioned.
#[derive(Debug, Clone, Copy)]
pub(super) enum Condition<'a> {
    /// `If-None-Match: *`: create only.
    Absent,
    /// `If-Match: <etag>`: replace exactly this version.
    Matches(&'a str),
    /// No condition (for a holder writing under its blob lease whose ETag is unknown).
    Any,
}

impl Remote {
    /// `azblob://<container>/<blob>`.
    pub(super) fn location(&self) -> String {
        format!("azblob://{}", self.location)
    }

    /// A [`StateError::Backend`] for `error` during `operation`.
    pub(super) fn error(&self, operation: &str, error: azure_core::Error) -> StateError {
        StateError::Backend {
            message: format!(
                "{operation} {}: {}",
                self.location(),
                classify::describe(&error)
            ),
            source: Some(Box::new(error)),
        }
    }

    /// Sends the request `request` builds, retrying it with the store's [`RetryPolicy`]
    /// while it fails with a retryable error; the last attempt's answer as the SDK gave it.
    pub(super) async fn send<T, F, Fut>(
        &self,
        operation: &str,
        mut request: F,
    ) -> azure_core::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = azure_core::Result<T>>,
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
                            Err(err) if attempt < max_attempts => retryable(err),
                            answer => Ok(answer),
                        }
                    }
                },
                |attempt, wait, error| {
                    tracing::debug!(
                        blob = %self.location(),
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
        answer.unwrap_or_else(|e| {
            Err(azure_core::Error::new(
                azure_core::error::ErrorKind::Other,
                e,
            ))
        })
    }

    /// The blob's bytes, ETag and modification time, or `None` if it does not exist.
    pub(super) async fn get(&self, operation: &str) -> Result<Option<Read>, StateError> {
        let download = || async {
            let options = BlobClientDownloadOptions {
                parallel: NonZero::new(1),
                partition_size: NonZero::new(ONE_SHOT),
                ..Default::default()
            };
            let out = self.blob.download(Some(options)).await?;
            let etag = out.properties.etag.as_ref().map(ToString::to_string);
            let modified = out
                .properties
                .last_modified
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.unix_timestamp(), t.nanosecond()));
            let bytes = out.body.collect().await?;
            Ok((bytes.to_vec(), etag, modified))
        };
        match self.send(operation, download).await {
            Ok(read) => Ok(Some(read)),
            Err(err) if classify::classify(&err) == BlobFailure::NotFound => Ok(None),
            Err(err) => Err(self.error(operation, err)),
        }
    }

    /// The lock held in this blob and the blob's ETag, if it exists. A blob that does not
    /// parse is reported as held by an unreadable holder since its modification time.
    pub(super) async fn read_lock(&self) -> Result<Option<(LockInfo, Option<String>)>, StateError> {
        Ok(self.get("read lock").await?.map(|(bytes, etag, modified)| {
            let info = serde_json::from_slice::<LockInfo>(&bytes)
                .unwrap_or_else(|_| unreadable_holder(modified));
            (info, etag)
        }))
    }

    /// Writes `bytes` (JSON) under `condition`, under the blob lease `lease_id` if given;
    /// the new ETag.
    pub(super) async fn upload(
        &self,
        operation: &str,
        bytes: &[u8],
        condition: Condition<'_>,
        lease_id: Option<&str>,
    ) -> azure_core::Result<Option<String>> {
        let upload = || {
            let (if_match, if_none_match) = match condition {
                Condition::Absent => (None, Some(Etag::from("*"))),
                Condition::Matches(etag) => (Some(Etag::from(etag)), None),
                Condition::Any => (None, None),
            };
            let options = BlobClientUploadOptions {
                blob_content_type: Some("application/json".into()),
                if_match,
                if_none_match,
                lease_id: lease_id.map(str::to_owned),
                parallel: NonZero::new(1),
                partition_size: NonZero::new(ONE_SHOT as u64),
                ..Default::default()
            };
            let content = RequestContent::from(bytes.to_vec());
            async move { self.blob.upload(content, Some(options)).await }
        };
        let out = self.send(operation, upload).await?;
        Ok(out.etag.as_ref().map(ToString::to_string))
    }

    /// Takes an infinite blob lease with id `lease_id` on the version `etag` of the blob;
    /// the blob's ETag after it.
    pub(super) async fn acquire_lease(
        &self,
        lease_id: &str,
        etag: Option<&str>,
    ) -> azure_core::Result<Option<String>> {
        let acquire = || {
            let options = BlobClientAcquireLeaseOptions {
                if_match: etag.map(Etag::from),
                proposed_lease_id: Some(lease_id.to_owned()),
                ..Default::default()
            };
            async move { self.blob.acquire_lease(INFINITE_LEASE, Some(options)).await }
        };
        let out = self.send("acquire blob lease", acquire).await?;
        Ok(out.etag()?.as_ref().map(ToString::to_string))
    }

    /// Renews the blob lease `lease_id` (fails once it was broken or changed hands).
    pub(super) async fn renew_lease(&self, lease_id: &str) -> azure_core::Result<Option<String>> {
        let renew = || self.blob.renew_lease(lease_id.to_owned(), None);
        let out = self.send("renew blob lease", renew).await?;
        Ok(out.etag()?.as_ref().map(ToString::to_string))
    }

    /// Breaks the blob's lease at once if the blob is still the version `etag`; the blob's
    /// ETag after it.
    pub(super) async fn break_lease(
        &self,
        etag: Option<&str>,
    ) -> azure_core::Result<Option<String>> {
        let breaks = || {
            let options = BlobClientBreakLeaseOptions {
                break_period: Some(0),
                if_match: etag.map(Etag::from),
                ..Default::default()
            };
            async move { self.blob.break_lease(Some(options)).await }
        };
        let out = self.send("break blob lease", breaks).await?;
        Ok(out.etag()?.as_ref().map(ToString::to_string))
    }

    /// Deletes the blob, if it is still the version `etag` and under the lease `lease_id`
    /// (each when given).
    pub(super) async fn delete(
        &self,
        operation: &str,
        etag: Option<&str>,
        lease_id: Option<&str>,
    ) -> azure_core::Result<()> {
        let delete = || {
            let options = BlobClientDeleteOptions {
                if_match: etag.map(Etag::from),
                lease_id: lease_id.map(str::to_owned),
                ..Default::default()
            };
            async move { self.blob.delete(Some(options)).await }
        };
        self.send(operation, delete).await.map(drop)
    }
}

/// `Err` (retry) for an error the engine retries, else the error as the final answer.
fn retryable<T>(err: azure_core::Error) -> Result<azure_core::Result<T>, ProviderError> {
    let kind = classify::kind(&err);
    if !kind.retryable() {
        return Ok(Err(err));
    }
    let mut error = ProviderError::new(kind, classify::describe(&err));
    if let Some(wait) = classify::retry_after(&err) {
        error = error.with_retry_after(wait);
    }
    Err(error)
}
