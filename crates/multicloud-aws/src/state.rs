//! [`S3StateStore`]: stack state in an S3 bucket, for teams.
//!
//! Layout, for the key `stack`/`env` under the prefix `p`:
//!
//! * `p/stack/env/state.json`: the state (pretty JSON), replaced by every save;
//! * `p/stack/env/lock.json`: the lock, holding the holder's [`LockInfo`] as JSON.
//!
//! Both rely on S3 conditional writes (generally available on S3 since August 2024 for
//! `If-None-Match`, November 2024 for `If-Match`):
//!
//! * the lock is created with `If-None-Match: *`, so exactly one writer wins; the others get
//!   `412 PreconditionFailed` (or `409 ConditionalRequestConflict` while a concurrent
//!   conditional write is in flight) and are told who holds it ([`StateError::Locked`]),
//!   unless its lease ran out: then it is taken over with `If-Match: <etag of the lock they
//!   read>`, so of several runs taking over the same dead lock exactly one wins; the holder
//!   renews its lease the same way, and learns it lost the lock when that fails;
//! * saves are optimistic: the store remembers the ETag of the state it last loaded or saved
//!   for each key and overwrites with `If-Match: <etag>` (or creates with
//!   `If-None-Match: *` when it saw no state), so a save never silently overwrites a state
//!   written by someone else meanwhile, nor one this store has seen a newer serial of (that
//!   save fails with [`StateError::Conflict`] and writes nothing);
//! * the lock guard, and [`StateStore::force_unlock`], delete the lock with
//!   `If-Match: <etag of the lock they read>`, so they remove exactly the lock they looked
//!   at and never one taken by someone else in between.
//!
//! Like every client of this crate, the store's S3 client never retries by itself (it is
//! rebuilt with SDK retries disabled): each request that fails with a retryable error
//! (throttling `SlowDown`, 5xx faults, timeouts, as [`classify`](crate::error::classify)
//! judges them for the engine) is retried by multicloud-core's [`RetryPolicy`] — by default
//! the engine's, set another with [`S3StateStore::with_retry`].

use std::fmt;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use chrono::{DateTime, Utc};
use multicloud_core::retry::RetryPolicy;
use multicloud_core::state::{
    LockInfo, SeenVersions, StackListing, StackState, StateError, StateKey, StateLock, StateStore,
    parse_state,
};

use self::remote::{Remote, is_not_found, is_precondition_failure};

mod lock;
mod remote;

/// Owner reported for a lock object that cannot be parsed.
const UNREADABLE_OWNER: &str = "unknown (unreadable lock object)";

/// How often to try again to take (or break) a lock that changes hands between our attempt
/// to write (or delete) it and our read of it.
const ATTEMPTS: usize = 3;

/// State in an S3 bucket: `<prefix>/<stack>/<env>/state.json`, locked by
/// `<prefix>/<stack>/<env>/lock.json` (see the [module docs](self) for the protocol).
///
/// The bucket must exist. Saves of one key through one store instance should follow a load
/// (or an earlier save) of that key by the same instance, as [`multicloud_core::Stack`] does:
/// a save of a key the instance never loaded is a first write (`If-None-Match: *`) and fails
/// if a state exists.
///
/// Neither the stack nor the environment may be empty or contain `/` or control characters.
#[derive(Clone)]
pub struct S3StateStore {
    client: Client,
    retry: RetryPolicy,
    bucket: String,
    prefix: String,
    /// What this instance last loaded or saved of each state object, by object key.
    seen: SeenVersions,
}

impl fmt::Debug for S3StateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3StateStore")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl S3StateStore {
    /// A store in `bucket` under `prefix` (leading and trailing `/` are ignored; empty puts
    /// the stacks at the top of the bucket). `client` is used with its configuration, but
    /// with SDK retries disabled: the store retries with a [`RetryPolicy`] (the engine's
    /// default; see [`with_retry`](Self::with_retry)).
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        let config = client
            .config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build();
        Self {
            client: Client::from_conf(config),
            retry: RetryPolicy::default(),
            bucket: bucket.into(),
            prefix: prefix.into().trim_matches('/').to_owned(),
            seen: SeenVersions::default(),
        }
    }

    /// Retries the requests that fail with a retryable error with `retry` instead of the
    /// engine's default policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix (without leading or trailing `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The object key of the state of `key`: `<prefix>/<stack>/<env>/state.json`.
    pub fn state_key(&self, key: &StateKey) -> Result<String, StateError> {
        Ok(format!("{}/state.json", self.base(key)?))
    }

    /// The object key of the lock of `key`: `<prefix>/<stack>/<env>/lock.json`.
    pub fn lock_key(&self, key: &StateKey) -> Result<String, StateError> {
        Ok(format!("{}/lock.json", self.base(key)?))
    }

    /// Who holds the lock of `key`, if anyone, without taking it.
    pub async fn lock_holder(&self, key: &StateKey) -> Result<Option<LockInfo>, StateError> {
        let object = self.lock_key(key)?;
        Ok(self.remote(object).read_lock().await?.map(|(info, _)| info))
    }

    /// Where the stacks' objects start: `<prefix>/` (nothing without a prefix).
    fn list_prefix(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix.trim_end_matches('/'))
        }
    }

    /// The stack an object key `<prefix>/<stack>/<env>/{state,lock}.json` belongs to.
    fn key_of(&self, object: &str) -> Option<StateKey> {
        let rest = object.strip_prefix(&self.list_prefix())?;
        let (base, _) = rest
            .strip_suffix("/state.json")
            .map(|b| (b, ()))
            .or_else(|| rest.strip_suffix("/lock.json").map(|b| (b, ())))?;
        let (stack, env) = base.split_once('/')?;
        (!env.contains('/')).then(|| StateKey::new(stack, env))
    }

    /// `<prefix>/<stack>/<env>`, after checking both parts are safe in a key.
    fn base(&self, key: &StateKey) -> Result<String, StateError> {
        let bad = |s: &str| s.is_empty() || s.contains(|c: char| c == '/' || c.is_control());
        if bad(&key.stack) || bad(&key.environment) {
            return Err(StateError::Backend {
                message: format!(
                    "cannot store the state of {key:?} in s3://{}: stack and environment must \
                     not be empty or contain '/' or control characters",
                    self.bucket
                ),
                source: None,
            });
        }
        Ok(if self.prefix.is_empty() {
            format!("{}/{}", key.stack, key.environment)
        } else {
            format!("{}/{}/{}", self.prefix, key.stack, key.environment)
        })
    }

    fn remote(&self, object: String) -> Remote {
        Remote {
            client: self.client.clone(),
            retry: self.retry,
            bucket: self.bucket.clone(),
            object,
        }
    }
}

#[async_trait]
impl StateStore for S3StateStore {
    async fn load(&self, key: &StateKey) -> Result<Option<StackState>, StateError> {
        let remote = self.remote(self.state_key(key)?);
        let slot = self.seen.of(&remote.object);
        let mut seen = slot.lock().await;
        let Some((bytes, tag, _)) = remote.get("load state").await? else {
            seen.record(None, None);
            return Ok(None);
        };
        let state = parse_state(&bytes, key, &remote.location())?;
        seen.record(tag, Some(state.serial));
        Ok(Some(state))
    }

    async fn save(&self, state: &StackState) -> Result<(), StateError> {
        let remote = self.remote(self.state_key(&state.key)?);
        let bytes = multicloud_core::state::to_bytes(state).map_err(|e| StateError::Backend {
            message: format!("save state {}: cannot serialize: {e}", remote.location()),
            source: Some(Box::new(e)),
        })?;
        let slot = self.seen.of(&remote.object);
        let mut seen = slot.lock().await;
        seen.check_newer(state.serial, &remote.location())?;
        match remote
            .put_conditional("save state", &bytes, seen.etag.as_deref())
            .await
        {
            Ok(out) => {
                seen.record(out.e_tag().map(str::to_owned), Some(state.serial));
                Ok(())
            }
            Err(err) if is_precondition_failure(&err) || is_not_found(&err) => {
                Err(seen.changed_meanwhile(&remote.location(), remote.error("save state", err)))
            }
            Err(err) => Err(remote.error("save state", err)),
        }
    }

    async fn delete(&self, key: &StateKey) -> Result<(), StateError> {
        let remote = self.remote(self.state_key(key)?);
        let slot = self.seen.of(&remote.object);
        let mut seen = slot.lock().await;
        remote
            .send("delete state", || {
                remote
                    .client
                    .delete_object()
                    .bucket(&remote.bucket)
                    .key(&remote.object)
                    .send()
            })
            .await
            .map_err(|e| remote.error("delete state", e))?;
        seen.record(None, None);
        Ok(())
    }

    async fn lock(&self, key: &StateKey, info: LockInfo) -> Result<Box<dyn StateLock>, StateError> {
        lock::acquire(self.remote(self.lock_key(key)?), key, info).await
    }

    async fn list(&self) -> Result<Vec<StackListing>, StateError> {
        let mut keys = std::collections::BTreeSet::new();
        let mut token: Option<String> = None;
        let listing = self.remote(self.prefix.clone());
        loop {
            let page = listing
                .send("list stacks", || {
                    self.client
                        .list_objects_v2()
                        .bucket(&self.bucket)
                        .prefix(self.list_prefix())
                        .set_continuation_token(token.clone())
                        .send()
                })
                .await
                .map_err(|e| listing.error("list stacks", e))?;
            keys.extend(page.contents().iter().filter_map(|o| self.key_of(o.key()?)));
            match page.next_continuation_token() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        let mut stacks = Vec::with_capacity(keys.len());
        for key in keys {
            let serial = self.load(&key).await?.map(|s| s.serial);
            let lock = self.lock_holder(&key).await?;
            stacks.push(StackListing { key, serial, lock });
        }
        Ok(stacks)
    }

    async fn force_unlock(&self, key: &StateKey) -> Result<Option<LockInfo>, StateError> {
        let remote = self.remote(self.lock_key(key)?);
        for _ in 0..ATTEMPTS {
            let Some((holder, etag)) = remote.read_lock().await? else {
                return Ok(None);
            };
            // Delete exactly the lock we read, so what is reported is what was removed.
            if remote
                .delete_if_match(etag.as_deref(), "force-unlock")
                .await?
            {
                tracing::warn!(
                    lock = %remote.location(),
                    holder = %holder.holder(),
                    "state lock forcibly removed"
                );
                return Ok(Some(holder));
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

/// The holder reported for a lock object that cannot be parsed: since its modification time
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
