//! The lock blob of [`BlobStateStore`](super::BlobStateStore): written with
//! `If-None-Match: *` and then leased (an infinite blob lease with an id of our own); taken
//! over, once its [`LockInfo`] lease ran out, by breaking the blob lease and overwriting it
//! with `If-Match: <etag read>`; renewed by renewing the blob lease and rewriting the
//! [`LockInfo`] under it; released by deleting the blob under the lease. See the parent
//! module for why.

use async_trait::async_trait;
use chrono::Utc;
use multicloud_core::state::{LockInfo, StateError, StateKey, StateLock};

use super::classify::{BlobFailure, classify};
use super::remote::{Condition, Remote};
use super::{ATTEMPTS, unreadable_holder};

/// Takes the lock in `remote` for `info`, taking over a lock whose lease ran out.
pub(super) async fn acquire(
    remote: Remote,
    key: &StateKey,
    info: LockInfo,
) -> Result<Box<dyn StateLock>, StateError> {
    let body = serialize(&remote, &info, "lock")?;
    for _ in 0..ATTEMPTS {
        if let Some(held) = write_and_lease(&remote, &body, Condition::Absent, "lock").await? {
            return Ok(Box::new(BlobLock::new(key, remote, info, held, None)));
        }
        let Some((holder, etag)) = remote.read_lock().await? else {
            continue; // Released between our two requests: try again.
        };
        if holder.id == info.id {
            // Our own write, whose answer was lost and whose retry found it: lease it.
            if let Some(held) = lease(&remote, etag.as_deref()).await? {
                return Ok(Box::new(BlobLock::new(key, remote, info, held, None)));
            }
            continue;
        }
        let Some(reason) = holder.takeover_reason(Utc::now(), false) else {
            return Err(StateError::Locked {
                key: key.clone(),
                holder: Box::new(holder),
            });
        };
        // Break the old holder's blob lease on exactly the lock we read, then replace it:
        // of several runs taking over the same lock, exactly one wins; the others look again.
        let Some(etag) = break_if_unchanged(&remote, etag.as_deref()).await? else {
            continue;
        };
        let condition = Condition::Matches(&etag);
        if let Some(held) = write_and_lease(&remote, &body, condition, "take over lock").await? {
            tracing::warn!(%key, previous = %holder.holder(), %reason, "took over the state lock");
            return Ok(Box::new(BlobLock::new(
                key,
                remote,
                info,
                held,
                Some(holder),
            )));
        }
    }
    // The lock keeps changing hands under us: it is held, by someone we cannot name.
    Err(StateError::Locked {
        key: key.clone(),
        holder: Box::new(unreadable_holder(None)),
    })
}

/// What we hold once the lock blob is ours: the blob lease's id and the blob's ETag.
#[derive(Debug, Clone)]
struct Held {
    lease_id: String,
    etag: Option<String>,
}

/// Writes `body` under `condition`, then takes a blob lease on exactly what was written;
/// `None` when either found the blob changed (someone else holds or took it).
async fn write_and_lease(
    remote: &Remote,
    body: &[u8],
    condition: Condition<'_>,
    operation: &str,
) -> Result<Option<Held>, StateError> {
    let written = match remote.upload(operation, body, condition, None).await {
        Ok(etag) => etag,
        Err(err) => {
            return match classify(&err) {
                BlobFailure::AlreadyExists
                | BlobFailure::ConditionNotMet
                | BlobFailure::LeaseIdMissing
                | BlobFailure::NotFound => Ok(None),
                _ => Err(remote.error(operation, err)),
            };
        }
    };
    lease(remote, written.as_deref()).await
}

/// Takes an infinite blob lease of our own on exactly the version `written` of the lock
/// blob; `None` when it changed or is leased by someone else.
async fn lease(remote: &Remote, written: Option<&str>) -> Result<Option<Held>, StateError> {
    let lease_id = azure_core::Uuid::new_v4().to_string();
    match remote.acquire_lease(&lease_id, written).await {
        Ok(etag) => Ok(Some(Held {
            lease_id,
            etag: etag.or_else(|| written.map(str::to_owned)),
        })),
        // Someone took our fresh lock over before we leased it (only possible when its
        // lease ran out at once): it is theirs now.
        Err(err) => match classify(&err) {
            BlobFailure::ConditionNotMet | BlobFailure::LeasePresent | BlobFailure::NotFound => {
                Ok(None)
            }
            _ => Err(remote.error("acquire blob lease", err)),
        },
    }
}

/// Breaks the blob lease on the lock blob if it is still the version `etag` (nothing to
/// break is fine); the blob's ETag to overwrite, or `None` if it changed meanwhile.
pub(super) async fn break_if_unchanged(
    remote: &Remote,
    etag: Option<&str>,
) -> Result<Option<String>, StateError> {
    match remote.break_lease(etag).await {
        Ok(after) => Ok(after.or_else(|| etag.map(str::to_owned))),
        Err(err) => match classify(&err) {
            BlobFailure::LeaseLost => Ok(etag.map(str::to_owned)),
            BlobFailure::ConditionNotMet | BlobFailure::NotFound => Ok(None),
            _ => Err(remote.error("break blob lease", err)),
        },
    }
    .map(|etag| etag.filter(|e| !e.is_empty()))
}

fn serialize(remote: &Remote, info: &LockInfo, operation: &str) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec_pretty(info).map_err(|e| StateError::Backend {
        message: format!("{operation} {}: cannot serialize: {e}", remote.location()),
        source: Some(Box::new(e)),
    })
}

/// A held lock blob; renewed by `renew`, deleted by `release` or, best effort, on drop.
#[derive(Debug)]
struct BlobLock {
    key: StateKey,
    remote: Remote,
    info: LockInfo,
    held: Held,
    /// The holder it was taken over from.
    previous: Option<LockInfo>,
    /// Set once released (or found lost), so that drop does nothing more.
    released: bool,
}

impl BlobLock {
    fn new(
        key: &StateKey,
        remote: Remote,
        info: LockInfo,
        held: Held,
        previous: Option<LockInfo>,
    ) -> Self {
        Self {
            key: key.clone(),
            remote,
            info,
            held,
            previous,
            released: false,
        }
    }

    /// Deletes the lock blob under our blob lease; [`StateError::LockLost`] if the lease
    /// is no longer ours (broken or taken over: the blob is then left alone) or the blob is
    /// gone.
    async fn release_remote(
        key: &StateKey,
        remote: &Remote,
        held: &Held,
    ) -> Result<(), StateError> {
        match remote
            .delete("release lock", None, Some(&held.lease_id))
            .await
        {
            Ok(()) => Ok(()),
            Err(err) => match classify(&err) {
                BlobFailure::LeaseLost
                | BlobFailure::LeaseIdMissing
                | BlobFailure::ConditionNotMet
                | BlobFailure::NotFound => Err(StateError::LockLost { key: key.clone() }),
                _ => Err(remote.error("release lock", err)),
            },
        }
    }

    fn lost(&self, err: azure_core::Error, operation: &str) -> StateError {
        match classify(&err) {
            BlobFailure::LeaseLost
            | BlobFailure::LeaseIdMissing
            | BlobFailure::ConditionNotMet
            | BlobFailure::NotFound => StateError::LockLost {
                key: self.key.clone(),
            },
            _ => self.remote.error(operation, err),
        }
    }
}

#[async_trait]
impl StateLock for BlobLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }

    fn taken_over(&self) -> Option<&LockInfo> {
        self.previous.as_ref()
    }

    async fn renew(&mut self) -> Result<(), StateError> {
        let etag = self
            .remote
            .renew_lease(&self.held.lease_id)
            .await
            .map_err(|e| self.lost(e, "renew lock"))?
            .or_else(|| self.held.etag.clone());
        let renewed = self.info.clone().renewed(Utc::now());
        let body = serialize(&self.remote, &renewed, "renew lock")?;
        // The lease id alone keeps others out; the ETag, when known, makes sure.
        let condition = etag.as_deref().map_or(Condition::Any, Condition::Matches);
        let written = self
            .remote
            .upload("renew lock", &body, condition, Some(&self.held.lease_id))
            .await
            .map_err(|e| self.lost(e, "renew lock"))?;
        self.info = renewed;
        self.held.etag = written.or(etag);
        Ok(())
    }

    async fn release(self: Box<Self>) -> Result<(), StateError> {
        // The guard moves into a task: if this future is dropped midway, the task still
        // finishes, and the guard's drop runs after it, never concurrently.
        let mut lock = self;
        let task = tokio::spawn(async move {
            let result = Self::release_remote(&lock.key, &lock.remote, &lock.held).await;
            // A backend error is worth a retry on drop; anything else is final.
            if !matches!(result, Err(StateError::Backend { .. })) {
                lock.released = true;
            }
            result
        });
        task.await.unwrap_or_else(|join| {
            Err(StateError::Backend {
                message: format!("release lock: the release task failed: {join}"),
                source: Some(Box::new(join)),
            })
        })
    }
}

impl Drop for BlobLock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.released = true;
        let (key, remote, held) = (self.key.clone(), self.remote.clone(), self.held.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    match Self::release_remote(&key, &remote, &held).await {
                        Ok(()) => tracing::debug!(%key, "state lock released on drop"),
                        Err(e) => {
                            tracing::warn!(%key, error = %e, "state lock not released on drop")
                        }
                    }
                });
            }
            Err(_) => tracing::warn!(
                %key,
                lock = %remote.location(),
                "state lock dropped outside a tokio runtime: not released; break it with \
                 force_unlock"
            ),
        }
    }
}
