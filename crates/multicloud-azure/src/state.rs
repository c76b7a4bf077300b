//! [`BlobStateStore`]: stack state in an Azure Blob Storage container, for teams.
//!
//! Layout, for the key `stack`/`env` under the prefix `p`:
//!
//! * `p/stack/env/state.json`: the state (pretty JSON), replaced by every save;
//! * `p/stack/env/lock.json`: the lock, holding the holder's [`LockInfo`] as JSON.
//!
//! Saves are optimistic, with ETag conditions: the store remembers the ETag of the state it
//! last loaded or saved for each key and overwrites with `If-Match: <etag>` (or creates with
//! `If-None-Match: *` when it saw no state), so a save never silently overwrites a state
//! written by someone else meanwhile, nor one this store has seen a newer serial of (that
//! save fails with [`StateError::Conflict`] and writes nothing).
//!
//! # The lock: a lock blob with a lease in it, held under a blob lease
//!
//! Every store keeps the same lock contract (`multicloud_core::testing::lock_contract`):
//! a lease of any length (60 s by default, a second or less in tests) that the holder
//! renews, a lock whose lease ran out taken over by the next run, and the old holder told
//! [`StateError::LockLost`]. Azure's blob leases cannot carry that alone: they last 15 to
//! 60 s or forever, run on the server's clock, and a 60 s blob lease would outlive the
//! lock's own lease, or end before a holder with a longer lease renews it. So the lease
//! that decides is the one in the [`LockInfo`] (as in the local and S3 stores), and the
//! blob lease makes the lock blob the holder's alone while it holds it:
//!
//! * **acquire**: write the [`LockInfo`] with `If-None-Match: *` (exactly one writer
//!   wins; the others get `409 BlobAlreadyExists` and are told who holds it,
//!   [`StateError::Locked`]), then take an infinite blob lease with an id of our own,
//!   `If-Match` the version just written;
//! * **take over**, once the [`LockInfo`] lease ran out: break the old holder's blob lease
//!   `If-Match: <etag read>` (break period 0), overwrite the lock `If-Match` the same
//!   version, and lease it: of several runs taking over the same dead lock exactly one wins;
//!   a `tracing` warning names the old holder, and the lock reports it
//!   ([`StateLock::taken_over`]);
//! * **renew**: renew the blob lease, then rewrite the [`LockInfo`] with its new end under
//!   the lease (`x-ms-lease-id`) and `If-Match`; a holder whose lease was broken learns it
//!   here ([`StateError::LockLost`]), and can write nothing any more;
//! * **release**: delete the lock blob under the blob lease (which ends it); a holder that
//!   lost its lock cannot remove its successor's;
//! * **force unlock** ([`StateStore::force_unlock`]): break the blob lease and delete the
//!   lock blob, both `If-Match` the version read, so what is reported is what was removed.
//!
//! A run killed while holding the lock leaves the blob leased forever; the next run breaks
//! that lease once the [`LockInfo`] lease ran out, as above.
//!
//! # Authentication
//!
//! By Entra token ([`BlobStateStoreBuilder::token_credential`], the production path; the
//! SDK then insists on https) or by account key ([`BlobStateStoreBuilder::shared_key`], for
//! Azurite and accounts that allow key access), signed by [`shared_key::SharedKeyPolicy`].
//!
//! # Retries
//!
//! The SDK's retries are off: each request that fails with a retryable error (`429`,
//! `503 ServerBusy`, `500 InternalError`, timeouts and broken connections, as
//! [`mod@classify`] judges them) is retried by multicloud-core's [`RetryPolicy`], by default
//! the engine's (see [`BlobStateStoreBuilder::retry`]).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use azure_storage_blob::BlobContainerClient;
use chrono::{DateTime, Utc};
use multicloud_core::retry::RetryPolicy;
use multicloud_core::state::{
    LockInfo, SeenVersions, StackListing, StackState, StateError, StateKey, StateLock, StateStore,
    parse_state,
};

use self::classify::{BlobFailure, classify};

use self::remote::{Condition, Remote};

mod builder;
pub mod classify;
mod lock;
mod remote;
pub mod shared_key;

pub use self::builder::{BlobStateStoreBuilder, BuildError, DEFAULT_SERVICE_VERSION};

/// Owner reported for a lock blob that cannot be parsed.
const UNREADABLE_OWNER: &str = "unknown (unreadable lock blob)";

/// How often to try again to take (or break) a lock that changes hands between our attempt
/// to write (or delete) it and our read of it.
const ATTEMPTS: usize = 3;

/// State in an Azure Blob container: `<prefix>/<stack>/<env>/state.json`, locked by
/// `<prefix>/<stack>/<env>/lock.json` (see the [module docs](self) for the protocol).
///
/// Made by [`BlobStateStore::builder`]. The container must exist. Saves of one key through
/// one store instance should follow a load (or an earlier save) of that key by the same
/// instance, as [`multicloud_core::Stack`] does: a save of a key the instance never loaded
/// is a first write (`If-None-Match: *`) and fails if a state exists.
///
/// Neither the stack nor the environment may be empty or contain `/` or control characters.
#[derive(Clone)]
pub struct BlobStateStore {
    container: Arc<BlobContainerClient>,
    container_name: String,
    retry: RetryPolicy,
    prefix: String,
    /// What this instance last loaded or saved of each state blob, by blob location.
    seen: SeenVersions,
}

impl fmt::Debug for BlobStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobStateStore")
            .field("container", &self.container.url().as_str())
            .field("prefix", &self.prefix)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl BlobStateStore {
    /// A builder for a store in `container` of the account at `account_url`
    /// (`https://<account>.blob.core.windows.net`, or
    /// `http://127.0.0.1:<port>/devstoreaccount1` for Azurite). Choose the authentication
    /// with [`token_credential`](BlobStateStoreBuilder::token_credential) or
    /// [`shared_key`](BlobStateStoreBuilder::shared_key).
    pub fn builder(
        account_url: impl Into<String>,
        container: impl Into<String>,
    ) -> BlobStateStoreBuilder {
        BlobStateStoreBuilder::new(account_url.into(), container.into())
    }

    /// The container's name.
    pub fn container(&self) -> &str {
        &self.container_name
    }

    /// The blob name prefix (without leading or trailing `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The blob name of the state of `key`: `<prefix>/<stack>/<env>/state.json`.
    pub fn state_blob(&self, key: &StateKey) -> Result<String, StateError> {
        Ok(format!("{}/state.json", self.base(key)?))
    }

    /// The blob name of the lock of `key`: `<prefix>/<stack>/<env>/lock.json`.
    pub fn lock_blob(&self, key: &StateKey) -> Result<String, StateError> {
        Ok(format!("{}/lock.json", self.base(key)?))
    }

    /// Who holds the lock of `key`, if anyone, without taking it.
    pub async fn lock_holder(&self, key: &StateKey) -> Result<Option<LockInfo>, StateError> {
        let remote = self.remote(self.lock_blob(key)?);
        Ok(remote.read_lock().await?.map(|(info, _)| info))
    }

    /// Where the stacks' blobs start: `<prefix>/` (nothing without a prefix).
    fn list_prefix(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        }
    }

    /// The stack a blob `<prefix>/<stack>/<env>/{state,lock}.json` belongs to.
    fn key_of(&self, blob: &str) -> Option<StateKey> {
        let rest = blob.strip_prefix(&self.list_prefix())?;
        let base = rest
            .strip_suffix("/state.json")
            .or_else(|| rest.strip_suffix("/lock.json"))?;
        let (stack, env) = base.split_once('/')?;
        (!env.contains('/')).then(|| StateKey::new(stack, env))
    }

    /// `<prefix>/<stack>/<env>`, after checking both parts are safe in a blob name.
    fn base(&self, key: &StateKey) -> Result<String, StateError> {
        let bad = |s: &str| s.is_empty() || s.contains(|c: char| c == '/' || c.is_control());
        if bad(&key.stack) || bad(&key.environment) {
            return Err(StateError::Backend {
                message: format!(
                    "cannot store the state of {key:?} in container {}: stack and environment \
                     must not be empty or contain '/' or control characters",
                    self.container_name
                ),
                source: None,
            });
        }
        Ok(format!(
            "{}{}/{}",
            self.list_prefix(),
            key.stack,
            key.environment
        ))
    }

    fn remote(&self, blob: String) -> Remote {
        Remote {
            blob: Arc::new(self.container.blob_client(&blob)),
            retry: self.retry,
            location: format!("{}/{blob}", self.container_name),
        }
    }

    /// The names of every blob under the prefix.
    async fn blob_names(&self) -> Result<Vec<String>, StateError> {
        use futures::TryStreamExt;
        let listing = self.remote(self.prefix.clone());
        let list = || async {
            let options = azure_storage_blob::models::BlobContainerClientListBlobsOptions {
                prefix: Some(self.list_prefix()).filter(|p| !p.is_empty()),
                ..Default::default()
            };
            let items: Vec<_> = self
                .container
                .list_blobs(Some(options))?
                .try_collect()
                .await?;
            Ok(items.into_iter().filter_map(|item| item.name).collect())
        };
        listing
            .send("list stacks", list)
            .await
            .map_err(|e| listing.error("list stacks", e))
    }
}

#[async_trait]
impl StateStore for BlobStateStore {
    async fn load(&self, key: &StateKey) -> Result<Option<StackState>, StateError> {
        let remote = self.remote(self.state_blob(key)?);
        let slot = self.seen.of(&remote.location);
        let mut seen = slot.lock().await;
        let Some((bytes, etag, _)) = remote.get("load state").await? else {
            seen.record(None, None);
            return Ok(None);
        };
        let state = parse_state(&bytes, key, &remote.location())?;
        seen.record(etag, Some(state.serial));
        Ok(Some(state))
    }

    async fn save(&self, state: &StackState) -> Result<(), StateError> {
        let remote = self.remote(self.state_blob(&state.key)?);
        let bytes = multicloud_core::state::to_bytes(state).map_err(|e| StateError::Backend {
            message: format!("save state {}: cannot serialize: {e}", remote.location()),
            source: Some(Box::new(e)),
        })?;
        let slot = self.seen.of(&remote.location);
        let mut seen = slot.lock().await;
        seen.check_newer(state.serial, &remote.location())?;
        let condition = match seen.etag.as_deref() {
            Some(etag) => Condition::Matches(etag),
            None => Condition::Absent,
        };
        match remote.upload("save state", &bytes, condition, None).await {
            Ok(etag) => {
                seen.record(etag, Some(state.serial));
                Ok(())
            }
            Err(err) if is_changed(&err) => {
                Err(seen.changed_meanwhile(&remote.location(), classify::describe(&err)))
            }
            Err(err) => Err(remote.error("save state", err)),
        }
    }

    async fn delete(&self, key: &StateKey) -> Result<(), StateError> {
        let remote = self.remote(self.state_blob(key)?);
        let slot = self.seen.of(&remote.location);
        let mut seen = slot.lock().await;
        match remote.delete("delete state", None, None).await {
            Ok(()) => {}
            Err(err) if classify(&err) == BlobFailure::NotFound => {}
            Err(err) => return Err(remote.error("delete state", err)),
        }
        seen.record(None, None);
        Ok(())
    }

    async fn lock(&self, key: &StateKey, info: LockInfo) -> Result<Box<dyn StateLock>, StateError> {
        lock::acquire(self.remote(self.lock_blob(key)?), key, info).await
    }

    async fn list(&self) -> Result<Vec<StackListing>, StateError> {
        let keys: std::collections::BTreeSet<StateKey> = self
            .blob_names()
            .await?
            .iter()
            .filter_map(|name| self.key_of(name))
            .collect();
        let mut stacks = Vec::with_capacity(keys.len());
        for key in keys {
            let remote = self.remote(self.state_blob(&key)?);
            let serial = match remote.get("list: read state").await? {
                Some((bytes, _, _)) => Some(parse_state(&bytes, &key, &remote.location())?.serial),
                None => None,
            };
            let lock = self.lock_holder(&key).await?;
            stacks.push(StackListing { key, serial, lock });
        }
        Ok(stacks)
    }

    async fn force_unlock(&self, key: &StateKey) -> Result<Option<LockInfo>, StateError> {
        let remote = self.remote(self.lock_blob(key)?);
        for _ in 0..ATTEMPTS {
            let Some((holder, etag)) = remote.read_lock().await? else {
                return Ok(None);
            };
            // Break and delete exactly the lock we read, so what is reported is what was
            // removed.
            let Some(etag) = lock::break_if_unchanged(&remote, etag.as_deref()).await? else {
                continue;
            };
            match remote.delete("force-unlock", Some(&etag), None).await {
                Ok(()) => {
                    tracing::warn!(
                        lock = %remote.location(),
                        holder = %holder.holder(),
                        "state lock forcibly removed"
                    );
                    return Ok(Some(holder));
                }
                Err(err) if is_changed(&err) => continue,
                Err(err) => return Err(remote.error("force-unlock", err)),
            }
        }
        Err(StateError::Backend {
            message: format!(
                "force-unlock {}: the lock kept changing hands; try again",
                remote.location()
            ),
            source: None,
        })
    }
}

/// The blob changed, appeared or vanished since it was read (or was leased meanwhile).
fn is_changed(err: &azure_core::Error) -> bool {
    matches!(
        classify(err),
        BlobFailure::ConditionNotMet
            | BlobFailure::AlreadyExists
            | BlobFailure::NotFound
            | BlobFailure::LeaseIdMissing
    )
}

/// The holder reported for a lock blob that cannot be parsed: since its modification time
/// (or now, without one).
fn unreadable_holder(modified: Option<DateTime<Utc>>) -> LockInfo {
    LockInfo {
        id: String::new(),
        owner: UNREADABLE_OWNER.into(),
        pid: 0,
        operation: "unknown".into(),
        since: modified.unwrap_or_else(Utc::now),
        expires: None,
        lease_ms: multicloud_core::state::DEFAULT_LEASE.as_millis() as u64,
        host: String::new(),
    }
}
