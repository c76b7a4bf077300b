//! [`BlobObjects`]: the container under the Blob state store, as the conditional object
//! storage multicloud-core's protocol runs on, with the blob lease as its lease hook; each
//! request sent with the store's [`RetryPolicy`] (the SDK's own retries are off).

use std::future::Future;
use std::num::NonZero;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::http::{Etag, RequestContent};
use azure_storage_blob::models::{
    BlobClientAcquireLeaseOptions, BlobClientBreakLeaseOptions, BlobClientBreakLeaseResultHeaders,
    BlobClientDeleteOptions, BlobClientDownloadOptions, BlobClientUploadOptions,
    BlobContainerClientListBlobsOptions,
};
use azure_storage_blob::{BlobClient, BlobContainerClient};
use chrono::{DateTime, Utc};
use multicloud_core::ProviderError;
use multicloud_core::retry::RetryPolicy;
use multicloud_core::state::StateError;
use multicloud_core::state::object::{
    Condition, ConditionalObjects, Leased, ObjectRead, Outcome, Target, backend_error,
    send_retrying,
};

use super::classify::{self, BlobFailure, classify};

/// Blobs are sent and read in one request up to this size (the SDK would split larger ones
/// into blocks or ranges; state is far smaller).
const ONE_SHOT: usize = 256 * 1024 * 1024;

/// The infinite blob lease (`x-ms-lease-duration: -1`).
const INFINITE_LEASE: i32 = -1;

/// The blobs of one container.
#[derive(Clone)]
pub struct BlobObjects {
    pub(super) container: Arc<BlobContainerClient>,
    pub(super) container_name: String,
    pub(super) retry: RetryPolicy,
}

impl std::fmt::Debug for BlobObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobObjects")
            .field("container", &self.container.url().as_str())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl BlobObjects {
    fn blob(&self, name: &str) -> BlobClient {
        self.container.blob_client(name)
    }

    /// Sends the request `request` builds, retrying it with the store's [`RetryPolicy`]
    /// while it fails with a retryable error; the last attempt's answer as the SDK gave it.
    async fn send<T, F, Fut>(
        &self,
        name: &str,
        operation: &str,
        request: F,
    ) -> azure_core::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = azure_core::Result<T>>,
    {
        let location = self.location(name);
        let give_up =
            |e: ProviderError| azure_core::Error::new(azure_core::error::ErrorKind::Other, e);
        send_retrying(
            &self.retry,
            (&location, operation),
            request,
            retryable,
            give_up,
        )
        .await
    }

    /// The [`StateError`] of `operation` on `name` failing with `err`.
    fn error(&self, name: &str, operation: &str, err: azure_core::Error) -> StateError {
        backend_error(
            operation,
            &self.location(name),
            classify::describe(&err),
            err,
        )
    }

    /// The answer to a conditional request: refused when the blob is not as the condition
    /// or lease said (changed, appeared, vanished, leased by someone else), an error
    /// otherwise.
    fn outcome(
        &self,
        name: &str,
        operation: &str,
        answer: azure_core::Result<Option<String>>,
    ) -> Result<Outcome, StateError> {
        match answer {
            Ok(etag) => Ok(Outcome::Applied(etag)),
            Err(err) if is_changed(&err) => Ok(Outcome::Refused(classify::describe(&err))),
            Err(err) => Err(self.error(name, operation, err)),
        }
    }
}

#[async_trait]
impl ConditionalObjects for BlobObjects {
    /// `azblob://<container>/<blob>`.
    fn location(&self, name: &str) -> String {
        format!("azblob://{}/{name}", self.container_name)
    }

    fn lock_noun(&self) -> &'static str {
        "lock blob"
    }

    async fn get(&self, name: &str, operation: &str) -> Result<Option<ObjectRead>, StateError> {
        let blob = self.blob(name);
        let download = || async {
            let options = BlobClientDownloadOptions {
                parallel: NonZero::new(1),
                partition_size: NonZero::new(ONE_SHOT),
                ..Default::default()
            };
            let out = blob.download(Some(options)).await?;
            let etag = out.properties.etag.as_ref().map(ToString::to_string);
            let modified = out
                .properties
                .last_modified
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.unix_timestamp(), t.nanosecond()));
            let bytes = out.body.collect().await?.to_vec();
            Ok(ObjectRead {
                bytes,
                etag,
                modified,
            })
        };
        match self.send(name, operation, download).await {
            Ok(read) => Ok(Some(read)),
            Err(err) if classify(&err) == BlobFailure::NotFound => Ok(None),
            Err(err) => Err(self.error(name, operation, err)),
        }
    }

    async fn put(&self, target: Target<'_>, bytes: &[u8]) -> Result<Outcome, StateError> {
        let (name, operation) = (target.name, target.operation);
        let blob = self.blob(name);
        let upload = || {
            let (if_match, if_none_match) = match target.condition {
                Condition::Absent => (None, Some(Etag::from("*"))),
                Condition::Matches(etag) => (Some(Etag::from(etag)), None),
                Condition::Any => (None, None),
            };
            let options = BlobClientUploadOptions {
                blob_content_type: Some("application/json".into()),
                if_match,
                if_none_match,
                lease_id: target.lease.map(str::to_owned),
                parallel: NonZero::new(1),
                partition_size: NonZero::new(ONE_SHOT as u64),
                ..Default::default()
            };
            let content = RequestContent::from(bytes.to_vec());
            let blob = &blob;
            async move { blob.upload(content, Some(options)).await }
        };
        let answer = self.send(name, operation, upload).await;
        let etag = answer.map(|out| out.etag.as_ref().map(ToString::to_string));
        self.outcome(name, operation, etag)
    }

    async fn delete(&self, target: Target<'_>) -> Result<Outcome, StateError> {
        let (name, operation) = (target.name, target.operation);
        let blob = self.blob(name);
        let delete = || {
            let options = BlobClientDeleteOptions {
                if_match: match target.condition {
                    Condition::Matches(etag) => Some(Etag::from(etag)),
                    Condition::Absent | Condition::Any => None,
                },
                lease_id: target.lease.map(str::to_owned),
                ..Default::default()
            };
            let blob = &blob;
            async move { blob.delete(Some(options)).await }
        };
        let answer = self.send(name, operation, delete).await;
        self.outcome(name, operation, answer.map(|_| None))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        use futures::TryStreamExt;
        let list = || async {
            let options = BlobContainerClientListBlobsOptions {
                prefix: Some(prefix.to_owned()).filter(|p| !p.is_empty()),
                ..Default::default()
            };
            let items: Vec<_> = self
                .container
                .list_blobs(Some(options))?
                .try_collect()
                .await?;
            Ok(items.into_iter().filter_map(|item| item.name).collect())
        };
        (self.send(prefix, "list stacks", list).await)
            .map_err(|e| self.error(prefix, "list stacks", e))
    }

    /// An infinite blob lease with an id of our own, `If-Match` the version written.
    async fn lease(&self, name: &str, etag: Option<&str>) -> Result<Leased, StateError> {
        let blob = self.blob(name);
        let lease_id = azure_core::Uuid::new_v4().to_string();
        let acquire = || {
            let options = BlobClientAcquireLeaseOptions {
                if_match: etag.map(Etag::from),
                proposed_lease_id: Some(lease_id.clone()),
                ..Default::default()
            };
            let blob = &blob;
            async move { blob.acquire_lease(INFINITE_LEASE, Some(options)).await }
        };
        match self.send(name, "acquire blob lease", acquire).await {
            Ok(_) => Ok(Leased::Held(lease_id)),
            // Someone took our fresh lock over before we leased it (only possible when its
            // lease ran out at once): it is theirs now.
            Err(err) => match classify(&err) {
                BlobFailure::ConditionNotMet
                | BlobFailure::LeasePresent
                | BlobFailure::NotFound => Ok(Leased::Refused),
                _ => Err(self.error(name, "acquire blob lease", err)),
            },
        }
    }

    async fn renew_lease(&self, name: &str, lease: &str) -> Result<bool, StateError> {
        let blob = self.blob(name);
        let renew = || blob.renew_lease(lease.to_owned(), None);
        match self.send(name, "renew blob lease", renew).await {
            Ok(_) => Ok(true),
            Err(err) if is_changed(&err) => Ok(false),
            Err(err) => Err(self.error(name, "renew blob lease", err)),
        }
    }

    /// Breaks the blob lease at once (break period 0) `If-Match: etag`; nothing to break is
    /// fine.
    async fn break_lease(
        &self,
        name: &str,
        etag: Option<&str>,
    ) -> Result<Option<String>, StateError> {
        let blob = self.blob(name);
        let breaks = || {
            let options = BlobClientBreakLeaseOptions {
                break_period: Some(0),
                if_match: etag.map(Etag::from),
                ..Default::default()
            };
            let blob = &blob;
            async move { blob.break_lease(Some(options)).await }
        };
        let after = match self.send(name, "break blob lease", breaks).await {
            Ok(out) => out
                .etag()
                .map_err(|e| self.error(name, "break blob lease", e))?
                .map(|e| e.to_string())
                .or_else(|| etag.map(str::to_owned)),
            Err(err) => match classify(&err) {
                BlobFailure::LeaseLost => etag.map(str::to_owned),
                BlobFailure::ConditionNotMet | BlobFailure::NotFound => None,
                _ => return Err(self.error(name, "break blob lease", err)),
            },
        };
        Ok(after.filter(|e| !e.is_empty()))
    }
}

/// The blob changed, appeared or vanished since it was read, or is leased by someone else
/// (our lease was broken or taken over).
fn is_changed(err: &azure_core::Error) -> bool {
    matches!(
        classify(err),
        BlobFailure::ConditionNotMet
            | BlobFailure::AlreadyExists
            | BlobFailure::NotFound
            | BlobFailure::LeaseIdMissing
            | BlobFailure::LeaseLost
    )
}

/// The engine's error for an error it retries; `None` for one to answer as is.
fn retryable(err: &azure_core::Error) -> Option<ProviderError> {
    let kind = classify::kind(err);
    if !kind.retryable() {
        return None;
    }
    let error = ProviderError::new(kind, classify::describe(err));
    Some(match classify::retry_after(err) {
        Some(wait) => error.with_retry_after(wait),
        None => error,
    })
}
