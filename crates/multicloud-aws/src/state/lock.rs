//! The lock object of [`S3StateStore`](super::S3StateStore): taken with `If-None-Match: *`,
//! taken over once its lease ran out and renewed with `If-Match: <etag read>`, released
//! with a conditional delete. See the parent module for the protocol.

use async_trait::async_trait;
use chrono::Utc;
use multicloud_core::state::{LockInfo, StateError, StateKey, StateLock};

use super::remote::{Remote, is_precondition_failure};
use super::{ATTEMPTS, unreadable_holder};

/// Takes the lock in `remote` for `info`, taking over a lock whose lease ran out.
pub(super) async fn acquire(
    remote: Remote,
    key: &StateKey,
    info: LockInfo,
) -> Result<Box<dyn StateLock>, StateError> {
    let held = |remote, previous| -> Box<dyn StateLock> {
        Box::new(S3Lock {
            key: key.clone(),
            remote,
            info: info.clone(),
            previous,
            released: false,
        })
    };
    for _ in 0..ATTEMPTS {
        if put_if(&remote, &info, None, "lock").await?.is_some() {
            return Ok(held(remote, None));
        }
        let Some((holder, etag)) = remote.read_lock().await? else {
            continue; // Released between our two requests: try again.
        };
        let Some(reason) = holder.takeover_reason(Utc::now(), false) else {
            return Err(StateError::Locked {
                key: key.clone(),
                holder: Box::new(holder),
            });
        };
        // Exactly one of several runs taking over the same lock wins; the others look again.
        if put_if(&remote, &info, etag.as_deref(), "take over lock")
            .await?
            .is_some()
        {
            tracing::warn!(%key, previous = %holder.holder(), %reason, "took over the state lock");
            return Ok(held(remote, Some(holder)));
        }
    }
    // The lock keeps changing hands under us: it is held, by someone we cannot name.
    Err(StateError::Locked {
        key: key.clone(),
        holder: Box::new(unreadable_holder(None)),
    })
}

/// Writes `info` to the lock object with `If-Match: etag` (`If-None-Match: *` without one);
/// `Some(new ETag)`, or `None` when the condition failed (someone else wrote or holds it).
async fn put_if(
    remote: &Remote,
    info: &LockInfo,
    etag: Option<&str>,
    operation: &str,
) -> Result<Option<Option<String>>, StateError> {
    let bytes = serde_json::to_vec_pretty(info).map_err(|e| StateError::Backend {
        message: format!("{operation} {}: cannot serialize: {e}", remote.location()),
        source: Some(Box::new(e)),
    })?;
    match remote.put_conditional(operation, &bytes, etag).await {
        Ok(out) => Ok(Some(out.e_tag().map(str::to_owned))),
        Err(err) if is_precondition_failure(&err) => Ok(None),
        Err(err) => Err(remote.error(operation, err)),
    }
}

/// A held lock object; renewed by `renew`, deleted by `release` or, best effort, on drop.
#[derive(Debug)]
struct S3Lock {
    key: StateKey,
    remote: Remote,
    info: LockInfo,
    /// The holder it was taken over from.
    previous: Option<LockInfo>,
    /// Set once released (or found lost), so that drop does nothing more.
    released: bool,
}

impl S3Lock {
    /// Deletes the lock object if it still holds our lock id; [`StateError::LockLost`] if it
    /// is gone or holds someone else's (it is then left alone).
    async fn release_remote(key: &StateKey, remote: &Remote, id: &str) -> Result<(), StateError> {
        let lost = || StateError::LockLost { key: key.clone() };
        match remote.read_lock().await? {
            Some((current, etag)) if current.id == id => {
                if remote
                    .delete_if_match(etag.as_deref(), "release lock")
                    .await?
                {
                    Ok(())
                } else {
                    Err(lost())
                }
            }
            _ => Err(lost()),
        }
    }
}

#[async_trait]
impl StateLock for S3Lock {
    fn info(&self) -> &LockInfo {
        &self.info
    }

    fn taken_over(&self) -> Option<&LockInfo> {
        self.previous.as_ref()
    }

    async fn renew(&mut self) -> Result<(), StateError> {
        let lost = || StateError::LockLost {
            key: self.key.clone(),
        };
        let etag = match self.remote.read_lock().await? {
            Some((current, etag)) if current.id == self.info.id => etag,
            _ => return Err(lost()),
        };
        let renewed = self.info.clone().renewed(Utc::now());
        match put_if(&self.remote, &renewed, etag.as_deref(), "renew lock").await? {
            Some(_) => {
                self.info = renewed;
                Ok(())
            }
            None => Err(lost()),
        }
    }

    async fn release(self: Box<Self>) -> Result<(), StateError> {
        // The guard moves into a task: if this future is dropped midway, the task still
        // finishes, and the guard's drop runs after it, never concurrently.
        let mut lock = self;
        let task = tokio::spawn(async move {
            let result = Self::release_remote(&lock.key, &lock.remote, &lock.info.id).await;
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

impl Drop for S3Lock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.released = true;
        let (key, remote, id) = (self.key.clone(), self.remote.clone(), self.info.id.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    match Self::release_remote(&key, &remote, &id).await {
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
