//! The lock object of an [`ObjectStateStore`](super::ObjectStateStore): taken with
//! `If-None-Match: *`, taken over once its lease ran out and renewed with
//! `If-Match: <etag read>`, released with a conditional delete, each with the backend's own
//! lease when it has one. See the parent module for the protocol.

use async_trait::async_trait;
use chrono::Utc;

use super::{
    ATTEMPTS, Condition, ConditionalObjects, Leased, Outcome, Target, cannot_serialize, read_lock,
    unreadable_holder,
};
use crate::state::{LockInfo, StateError, StateKey, StateLock};

/// Takes the lock in the object `name` for `info`, taking over a lock whose lease ran out.
pub(super) async fn acquire<B: ConditionalObjects>(
    objects: B,
    name: String,
    key: &StateKey,
    info: LockInfo,
) -> Result<Box<dyn StateLock>, StateError> {
    let body = lock_bytes(&objects, &name, &info, "lock")?;
    let held = |objects, name, lease, previous| -> Box<dyn StateLock> {
        Box::new(ObjectLock {
            objects,
            name,
            key: key.clone(),
            info: info.clone(),
            lease,
            previous,
            released: false,
        })
    };
    for _ in 0..ATTEMPTS {
        if let Some(lease) =
            write_and_lease(&objects, &name, &body, Condition::Absent, "lock").await?
        {
            return Ok(held(objects, name, lease, None));
        }
        let Some((holder, etag)) = read_lock(&objects, &name).await? else {
            continue; // Released between our two requests: try again.
        };
        if holder.id == info.id {
            // Our own write, whose answer was lost and whose retry found it: it is ours.
            if let Some(lease) = lease(&objects, &name, etag.as_deref()).await? {
                return Ok(held(objects, name, lease, None));
            }
            continue;
        }
        let Some(reason) = holder.takeover_reason(Utc::now(), false) else {
            return Err(StateError::Locked {
                key: key.clone(),
                holder: Box::new(holder),
            });
        };
        // Replace exactly the lock we read (breaking its backend lease first): of several
        // runs taking over the same lock, exactly one wins; the others look again.
        let Some(etag) = objects.break_lease(&name, etag.as_deref()).await? else {
            continue;
        };
        let condition = Condition::Matches(&etag);
        if let Some(lease) =
            write_and_lease(&objects, &name, &body, condition, "take over lock").await?
        {
            tracing::warn!(%key, previous = %holder.holder(), %reason, "took over the state lock");
            return Ok(held(objects, name, lease, Some(holder)));
        }
    }
    // The lock keeps changing hands under us: it is held, by someone we cannot name.
    Err(StateError::Locked {
        key: key.clone(),
        holder: Box::new(unreadable_holder(&objects, None)),
    })
}

/// Removes the lock in the object `name` whoever holds it; who held it.
pub(super) async fn force_unlock<B: ConditionalObjects>(
    objects: &B,
    name: &str,
) -> Result<Option<LockInfo>, StateError> {
    for _ in 0..ATTEMPTS {
        let Some((holder, etag)) = read_lock(objects, name).await? else {
            return Ok(None);
        };
        // Break and delete exactly the lock we read, so what is reported is what was removed.
        let Some(etag) = objects.break_lease(name, etag.as_deref()).await? else {
            continue;
        };
        let condition = Condition::Matches(&etag);
        if let Outcome::Applied(_) = objects
            .delete(Target::new(name, condition, "force-unlock"))
            .await?
        {
            tracing::warn!(
                lock = %objects.location(name),
                holder = %holder.holder(),
                "state lock forcibly removed"
            );
            return Ok(Some(holder));
        }
    }
    Err(StateError::Backend {
        message: format!(
            "force-unlock {}: the lock kept changing hands; try again",
            objects.location(name)
        ),
        source: None,
    })
}

/// Writes `body` under `condition`, then takes the backend lease on exactly what was
/// written; `None` when either found the object changed (someone else holds or took it),
/// else the lease id, if the backend leases.
async fn write_and_lease<B: ConditionalObjects>(
    objects: &B,
    name: &str,
    body: &[u8],
    condition: Condition<'_>,
    operation: &str,
) -> Result<Option<Option<String>>, StateError> {
    match objects
        .put(Target::new(name, condition, operation), body)
        .await?
    {
        Outcome::Applied(etag) => lease(objects, name, etag.as_deref()).await,
        Outcome::Refused(_) => Ok(None),
    }
}

/// Takes the backend lease on exactly the version `etag` of the lock object; `None` when it
/// changed or is leased by someone else, else the lease id, if the backend leases.
async fn lease<B: ConditionalObjects>(
    objects: &B,
    name: &str,
    etag: Option<&str>,
) -> Result<Option<Option<String>>, StateError> {
    Ok(match objects.lease(name, etag).await? {
        Leased::NotNeeded => Some(None),
        Leased::Held(id) => Some(Some(id)),
        Leased::Refused => None,
    })
}

/// `info` as the lock object's JSON.
fn lock_bytes<B: ConditionalObjects>(
    objects: &B,
    name: &str,
    info: &LockInfo,
    operation: &str,
) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec_pretty(info)
        .map_err(|e| cannot_serialize(operation, &objects.location(name), e))
}

/// A held lock object; renewed by `renew`, deleted by `release` or, best effort, on drop.
#[derive(Debug)]
struct ObjectLock<B: ConditionalObjects> {
    objects: B,
    name: String,
    key: StateKey,
    info: LockInfo,
    /// The backend lease id, if the backend leases.
    lease: Option<String>,
    /// The holder it was taken over from.
    previous: Option<LockInfo>,
    /// Set once released (or found lost), so that drop does nothing more.
    released: bool,
}

/// What the release of a lock needs, to run in a task of its own.
#[derive(Debug, Clone)]
struct Release<B> {
    objects: B,
    name: String,
    key: StateKey,
    id: String,
    lease: Option<String>,
}

impl<B: ConditionalObjects> Release<B> {
    /// Deletes the lock object if it still holds our lock id; [`StateError::LockLost`] if
    /// it is gone or holds someone else's (it is then left alone).
    async fn run(&self) -> Result<(), StateError> {
        let lost = || StateError::LockLost {
            key: self.key.clone(),
        };
        let etag = match read_lock(&self.objects, &self.name).await? {
            Some((current, etag)) if current.id == self.id => etag,
            _ => return Err(lost()),
        };
        let condition = etag.as_deref().map_or(Condition::Any, Condition::Matches);
        let lease = self.lease.as_deref();
        match self
            .objects
            .delete(Target::new(&self.name, condition, "release lock").under(lease))
            .await?
        {
            Outcome::Applied(_) => Ok(()),
            Outcome::Refused(_) => Err(lost()),
        }
    }
}

impl<B: ConditionalObjects> ObjectLock<B> {
    fn release_job(&self) -> Release<B> {
        Release {
            objects: self.objects.clone(),
            name: self.name.clone(),
            key: self.key.clone(),
            id: self.info.id.clone(),
            lease: self.lease.clone(),
        }
    }

    fn lost(&self) -> StateError {
        StateError::LockLost {
            key: self.key.clone(),
        }
    }
}

#[async_trait]
impl<B: ConditionalObjects> StateLock for ObjectLock<B> {
    fn info(&self) -> &LockInfo {
        &self.info
    }

    fn taken_over(&self) -> Option<&LockInfo> {
        self.previous.as_ref()
    }

    async fn renew(&mut self) -> Result<(), StateError> {
        let (objects, name, lease) = (&self.objects, &self.name, self.lease.as_deref());
        if let Some(lease) = lease
            && !objects.renew_lease(name, lease).await?
        {
            return Err(self.lost());
        }
        let etag = match read_lock(objects, name).await? {
            Some((current, etag)) if current.id == self.info.id => etag,
            _ => return Err(self.lost()),
        };
        let renewed = self.info.clone().renewed(Utc::now());
        let body = lock_bytes(objects, name, &renewed, "renew lock")?;
        let condition = etag.as_deref().map_or(Condition::Any, Condition::Matches);
        match objects
            .put(
                Target::new(name, condition, "renew lock").under(lease),
                &body,
            )
            .await?
        {
            Outcome::Applied(_) => {
                self.info = renewed;
                Ok(())
            }
            Outcome::Refused(_) => Err(self.lost()),
        }
    }

    async fn release(self: Box<Self>) -> Result<(), StateError> {
        // The guard moves into a task: if this future is dropped midway, the task still
        // finishes, and the guard's drop runs after it, never concurrently.
        let mut lock = self;
        let task = tokio::spawn(async move {
            let result = lock.release_job().run().await;
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

impl<B: ConditionalObjects> Drop for ObjectLock<B> {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.released = true;
        let job = self.release_job();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    let key = &job.key;
                    match job.run().await {
                        Ok(()) => tracing::debug!(%key, "state lock released on drop"),
                        Err(e) => {
                            tracing::warn!(%key, error = %e, "state lock not released on drop")
                        }
                    }
                });
            }
            Err(_) => tracing::warn!(
                key = %self.key,
                lock = %self.objects.location(&self.name),
                "state lock dropped outside a tokio runtime: not released; break it with \
                 force_unlock"
            ),
        }
    }
}
