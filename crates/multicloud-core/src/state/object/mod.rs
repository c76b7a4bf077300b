//! [`ObjectStateStore`]: stack state in object storage with conditional writes (S3, Azure
//! Blob), the protocol written once over a small backend trait, [`ConditionalObjects`].
//!
//! Layout, for the key `stack`/`env` on the scope `scope` (its
//! [`segment`](super::ProviderScope::segment), such as `aws.123456789012.us-east-1`) under
//! the prefix `p`:
//!
//! * `p/stack/env/scope/state.json`: the state (pretty JSON), replaced by every save;
//! * `p/stack/env/scope/lock.json`: the lock, holding the holder's [`LockInfo`] as JSON.
//!
//! A key without a scope (written before keys named their cloud) has its objects at
//! `p/stack/env/state.json` and `p/stack/env/lock.json`.
//!
//! The protocol:
//!
//! * **saves** are optimistic: the store remembers the ETag of the state it last loaded or
//!   saved for each key ([`SeenVersions`]) and overwrites with `If-Match: <etag>` (or
//!   creates with `If-None-Match: *` when it saw no state), so a save never silently
//!   overwrites a state written by someone else meanwhile, nor one this store has seen a
//!   newer serial of (that save fails with [`StateError::Conflict`] and writes nothing);
//! * the **lock** is created with `If-None-Match: *`, so exactly one writer wins; the others
//!   are told who holds it ([`StateError::Locked`]), unless its lease ran out: then it is
//!   taken over with `If-Match: <etag of the lock they read>`, so of several runs taking
//!   over the same dead lock exactly one wins (reported by [`StateLock::taken_over`]);
//! * the holder **renews** its lease by rewriting the lock `If-Match` the version that still
//!   holds its lock id, and learns it lost the lock ([`StateError::LockLost`]) when it does
//!   not any more;
//! * **release** (and the guard's drop, and [`StateStore::force_unlock`]) delete the lock
//!   `If-Match: <etag of the lock they read>`, so they remove exactly the lock they looked
//!   at and never one taken by someone else in between.
//!
//! A backend may also hold a lease of its own on the lock object while the lock is held
//! (Azure's blob leases): [`ConditionalObjects::lease`] after each write that takes the
//! lock, [`ConditionalObjects::renew_lease`] on renewal, [`ConditionalObjects::break_lease`]
//! before a take-over or force-unlock; writes and deletes by the holder carry its lease id.
//! The lease that decides who holds the lock is always the one in the [`LockInfo`].

mod lock;
mod send;

use std::collections::BTreeSet;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    LockInfo, ProviderScope, SeenVersions, StackListing, StackState, StateError, StateKey,
    StateLock, StateStore, parse_state,
};

pub use send::{backend_error, send_retrying};

/// How often to try again to take (or break) a lock that changes hands between our attempt
/// to write (or delete) it and our read of it.
const ATTEMPTS: usize = 3;

/// An object as read: its bytes, ETag and last modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRead {
    /// The content.
    pub bytes: Vec<u8>,
    /// Its ETag (the version conditional writes name).
    pub etag: Option<String>,
    /// When it was last written.
    pub modified: Option<DateTime<Utc>>,
}

/// How a write or delete is conditioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition<'a> {
    /// `If-None-Match: *`: create only.
    Absent,
    /// `If-Match: <etag>`: exactly this version.
    Matches(&'a str),
    /// No condition (a holder writing under its lease whose ETag is unknown; a plain delete).
    Any,
}

/// One conditional request on an object: which object, under what condition and backend
/// lease, and for what (`operation`, for messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// The object's name.
    pub name: &'a str,
    /// The condition.
    pub condition: Condition<'a>,
    /// The backend lease the request is made under, if any.
    pub lease: Option<&'a str>,
    /// What the request is for (`save state`, `release lock`).
    pub operation: &'a str,
}

impl<'a> Target<'a> {
    /// A request on `name` under `condition`, for `operation`, without a lease.
    pub fn new(name: &'a str, condition: Condition<'a>, operation: &'a str) -> Self {
        Self {
            name,
            condition,
            lease: None,
            operation,
        }
    }

    /// The same request under the backend lease `lease`.
    #[must_use]
    pub fn under(self, lease: Option<&'a str>) -> Self {
        Self { lease, ..self }
    }
}

/// The answer to a conditional request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done; the object's new ETag, if the service gave one.
    Applied(Option<String>),
    /// Refused because the object is not as the condition (or lease) said: it appeared,
    /// changed or vanished meanwhile, or someone else leases it. The service's answer, for
    /// messages.
    Refused(String),
}

/// The answer to [`ConditionalObjects::lease`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leased {
    /// The backend has no leases of its own: the lock is held as written.
    NotNeeded,
    /// Leased, with this lease id (sent with the holder's writes and deletes).
    Held(String),
    /// The object changed, or someone else leases it: the lock is not ours.
    Refused,
}

/// The object storage under an [`ObjectStateStore`]: conditional reads, writes, deletes and
/// listing of named objects, each retried by the backend as it sees fit. Its errors are
/// [`StateError::Backend`]s naming the operation and [`location`](Self::location).
#[async_trait]
pub trait ConditionalObjects: Clone + fmt::Debug + Send + Sync + 'static {
    /// Where the object `name` is, for messages (`s3://bucket/name`); with an empty name,
    /// the store itself.
    fn location(&self, name: &str) -> String;
    /// What a lock object is called here, as in `unknown (unreadable lock object)`.
    fn lock_noun(&self) -> &'static str {
        "lock object"
    }
    /// The object, or `None` if it does not exist.
    async fn get(&self, name: &str, operation: &str) -> Result<Option<ObjectRead>, StateError>;
    /// Writes `bytes` (JSON) to the object `target` names, under its condition and lease.
    async fn put(&self, target: Target<'_>, bytes: &[u8]) -> Result<Outcome, StateError>;
    /// Deletes the object `target` names, under its condition and lease; a missing object is
    /// [`Outcome::Refused`].
    async fn delete(&self, target: Target<'_>) -> Result<Outcome, StateError>;
    /// The names of every object whose name starts with `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError>;
    /// Takes the backend's own lease on exactly the version `etag` of the lock object just
    /// written by the caller. Default: no leases.
    async fn lease(&self, name: &str, etag: Option<&str>) -> Result<Leased, StateError> {
        let _ = (name, etag);
        Ok(Leased::NotNeeded)
    }
    /// Renews the backend lease `lease` on the lock object; `false` once it is no longer
    /// ours (broken, or taken over). Default: no leases, always `true`.
    async fn renew_lease(&self, name: &str, lease: &str) -> Result<bool, StateError> {
        let _ = (name, lease);
        Ok(true)
    }
    /// Breaks whatever backend lease is on the lock object if it is still the version
    /// `etag`; the ETag to replace or delete it with, or `None` if it changed meanwhile.
    /// Default: no leases, `etag` as is.
    async fn break_lease(
        &self,
        name: &str,
        etag: Option<&str>,
    ) -> Result<Option<String>, StateError> {
        let _ = name;
        Ok(etag.map(str::to_owned))
    }
}

/// State in object storage: `<prefix>/<stack>/<env>/<scope>/state.json`, locked by
/// `<prefix>/<stack>/<env>/<scope>/lock.json` (see the [module docs](self) for the
/// protocol, and keys without a scope).
///
/// Saves of one key through one store instance should follow a load (or an earlier save)
/// of that key by the same instance, as [`crate::Stack`] does: a save of a key the instance
/// never loaded is a first write (`If-None-Match: *`) and fails if a state exists. Neither
/// the stack nor the environment may be empty or contain `/` or control characters. Clones
/// share what they have seen.
#[derive(Clone)]
pub struct ObjectStateStore<B> {
    objects: B,
    prefix: String,
    /// What this instance last loaded or saved of each state object, by object name.
    seen: SeenVersions,
}

impl<B: fmt::Debug> fmt::Debug for ObjectStateStore<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStateStore")
            .field("objects", &self.objects)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl<B: ConditionalObjects> ObjectStateStore<B> {
    /// A store in `objects` under `prefix` (leading and trailing `/` are ignored; empty puts
    /// the stacks at the top).
    pub fn new(objects: B, prefix: impl Into<String>) -> Self {
        Self {
            objects,
            prefix: prefix.into().trim_matches('/').to_owned(),
            seen: SeenVersions::default(),
        }
    }

    /// The backend.
    pub fn objects(&self) -> &B {
        &self.objects
    }

    /// The backend, to change (settings of a store not yet shared).
    pub fn objects_mut(&mut self) -> &mut B {
        &mut self.objects
    }

    /// The name prefix (without leading or trailing `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The object name of the state of `key`: `<prefix>/<stack>/<env>/<scope>/state.json`.
    pub fn state_name(&self, key: &StateKey) -> Result<String, StateError> {
        Ok(format!("{}/state.json", self.base(key)?))
    }

    /// The object name of the lock of `key`: `<prefix>/<stack>/<env>/<scope>/lock.json`.
    pub fn lock_name(&self, key: &StateKey) -> Result<String, StateError> {
        Ok(format!("{}/lock.json", self.base(key)?))
    }

    /// Who holds the lock of `key`, if anyone, without taking it.
    pub async fn lock_holder(&self, key: &StateKey) -> Result<Option<LockInfo>, StateError> {
        let name = self.lock_name(key)?;
        Ok(read_lock(&self.objects, &name).await?.map(|(info, _)| info))
    }

    /// The stack an object name `<prefix>/<stack>/<env>[/<scope>]/{state,lock}.json`
    /// belongs to.
    pub fn key_of(&self, name: &str) -> Option<StateKey> {
        let rest = name.strip_prefix(&self.list_prefix())?;
        let base = rest
            .strip_suffix("/state.json")
            .or_else(|| rest.strip_suffix("/lock.json"))?;
        let parts: Vec<&str> = base.split('/').collect();
        match parts[..] {
            [stack, env] => Some(StateKey::new(stack, env)),
            [stack, env, scope] => {
                Some(StateKey::new(stack, env).on(ProviderScope::from_segment(scope)?))
            }
            _ => None,
        }
    }

    /// Where the stacks' objects start: `<prefix>/` (nothing without a prefix).
    fn list_prefix(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        }
    }

    /// `<prefix>/<stack>/<env>[/<scope>]`, after checking every part is safe in a name.
    fn base(&self, key: &StateKey) -> Result<String, StateError> {
        let bad = |s: &str| s.is_empty() || s.contains(|c: char| c == '/' || c.is_control());
        let scope = key.scope.as_deref().map(ProviderScope::segment);
        let problem = if bad(&key.stack) || bad(&key.environment) {
            "stack and environment must not be empty or contain '/' or control characters"
        } else if scope == Some(None) {
            "the cloud, account and region must not be empty or contain '.', path separators, \
             control characters or any of :*?\"<>|"
        } else {
            let scope = scope.flatten().map(|s| format!("/{s}")).unwrap_or_default();
            return Ok(format!(
                "{}{}/{}{scope}",
                self.list_prefix(),
                key.stack,
                key.environment
            ));
        };
        Err(StateError::Backend {
            message: format!(
                "cannot store the state of {key:?} in {}: {problem}",
                self.objects.location("").trim_end_matches('/')
            ),
            source: None,
        })
    }

    /// The state in the object `name`, if any, as read.
    async fn read_state(
        &self,
        name: &str,
        key: &StateKey,
        operation: &str,
    ) -> Result<Option<(StackState, Option<String>)>, StateError> {
        let Some(read) = self.objects.get(name, operation).await? else {
            return Ok(None);
        };
        let state = parse_state(&read.bytes, key, &self.objects.location(name))?;
        Ok(Some((state, read.etag)))
    }
}

/// A store made of an [`ObjectStateStore`] (the S3 and Blob stores are): it is a
/// [`StateStore`] by the object store it holds.
pub trait ObjectStoreFront: Send + Sync {
    /// Its backend.
    type Objects: ConditionalObjects;
    /// The object store it is.
    fn object_store(&self) -> &ObjectStateStore<Self::Objects>;
}

impl<B: ConditionalObjects> ObjectStoreFront for ObjectStateStore<B> {
    type Objects = B;
    fn object_store(&self) -> &ObjectStateStore<B> {
        self
    }
}

#[async_trait]
impl<T: ObjectStoreFront> StateStore for T {
    async fn load(&self, key: &StateKey) -> Result<Option<StackState>, StateError> {
        let store = self.object_store();
        let name = store.state_name(key)?;
        let slot = store.seen.of(&name);
        let mut seen = slot.lock().await;
        let read = store.read_state(&name, key, "load state").await?;
        seen.record(
            read.as_ref().and_then(|(_, etag)| etag.clone()),
            read.as_ref().map(|(state, _)| state.serial),
        );
        Ok(read.map(|(state, _)| state))
    }

    async fn save(&self, state: &StackState) -> Result<(), StateError> {
        let store = self.object_store();
        let name = store.state_name(&state.key)?;
        let location = store.objects.location(&name);
        let bytes =
            super::to_bytes(state).map_err(|e| cannot_serialize("save state", &location, e))?;
        let slot = store.seen.of(&name);
        let mut seen = slot.lock().await;
        seen.check_newer(state.serial, &location)?;
        let condition = seen
            .etag
            .as_deref()
            .map_or(Condition::Absent, Condition::Matches);
        match store
            .objects
            .put(Target::new(&name, condition, "save state"), &bytes)
            .await?
        {
            Outcome::Applied(etag) => {
                seen.record(etag, Some(state.serial));
                Ok(())
            }
            Outcome::Refused(detail) => Err(seen.changed_meanwhile(&location, detail)),
        }
    }

    async fn delete(&self, key: &StateKey) -> Result<(), StateError> {
        let store = self.object_store();
        let name = store.state_name(key)?;
        let slot = store.seen.of(&name);
        let mut seen = slot.lock().await;
        // Deleting what is not there is fine.
        store
            .objects
            .delete(Target::new(&name, Condition::Any, "delete state"))
            .await?;
        seen.record(None, None);
        Ok(())
    }

    async fn lock(&self, key: &StateKey, info: LockInfo) -> Result<Box<dyn StateLock>, StateError> {
        let store = self.object_store();
        lock::acquire(store.objects.clone(), store.lock_name(key)?, key, info).await
    }

    async fn list(&self) -> Result<Vec<StackListing>, StateError> {
        let store = self.object_store();
        let names = store.objects.list(&store.list_prefix()).await?;
        let keys: BTreeSet<StateKey> = names.iter().filter_map(|n| store.key_of(n)).collect();
        let mut stacks = Vec::with_capacity(keys.len());
        for key in keys {
            let name = store.state_name(&key)?;
            let read = store.read_state(&name, &key, "list: read state").await?;
            let serial = read.map(|(state, _)| state.serial);
            let lock = store.lock_holder(&key).await?;
            stacks.push(StackListing { key, serial, lock });
        }
        Ok(stacks)
    }

    async fn force_unlock(&self, key: &StateKey) -> Result<Option<LockInfo>, StateError> {
        let store = self.object_store();
        lock::force_unlock(&store.objects, &store.lock_name(key)?).await
    }
}

/// Defines a named state store over an [`ObjectStateStore`] of a backend (the S3 and Blob
/// stores are made so): a `Clone` + `Debug` struct that is a [`StateStore`] by the object
/// store it holds (in its field `store`), derefs to it (for [`ObjectStateStore::prefix`],
/// [`ObjectStateStore::lock_holder`]...), and names its state and lock objects with the
/// two methods given.
///
/// ```ignore
/// multicloud_core::object_state_store! {
///     /// State in a bucket.
///     pub struct BucketStateStore(BucketObjects);
///     /// The object key of the state of `key`.
///     state_name: state_key;
///     /// The object key of the lock of `key`.
///     lock_name: lock_key;
/// }
/// ```
#[macro_export]
macro_rules! object_state_store {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($objects:ty);
        $(#[$state_meta:meta])*
        state_name: $state:ident;
        $(#[$lock_meta:meta])*
        lock_name: $lock:ident;
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        $vis struct $name {
            store: $crate::state::object::ObjectStateStore<$objects>,
        }

        impl $name {
            $(#[$state_meta])*
            pub fn $state(
                &self,
                key: &$crate::state::StateKey,
            ) -> ::std::result::Result<::std::string::String, $crate::state::StateError> {
                self.store.state_name(key)
            }

            $(#[$lock_meta])*
            pub fn $lock(
                &self,
                key: &$crate::state::StateKey,
            ) -> ::std::result::Result<::std::string::String, $crate::state::StateError> {
                self.store.lock_name(key)
            }
        }

        impl $crate::state::object::ObjectStoreFront for $name {
            type Objects = $objects;
            fn object_store(&self) -> &$crate::state::object::ObjectStateStore<$objects> {
                &self.store
            }
        }

        impl ::std::ops::Deref for $name {
            type Target = $crate::state::object::ObjectStateStore<$objects>;
            fn deref(&self) -> &Self::Target {
                &self.store
            }
        }
    };
}

/// The lock held in the object `name` and the object's ETag, if it exists. An object that
/// does not parse is reported as held by `unknown (unreadable <lock noun>)` since its
/// modification time.
async fn read_lock<B: ConditionalObjects>(
    objects: &B,
    name: &str,
) -> Result<Option<(LockInfo, Option<String>)>, StateError> {
    Ok(objects.get(name, "read lock").await?.map(|read| {
        let info = serde_json::from_slice::<LockInfo>(&read.bytes)
            .unwrap_or_else(|_| unreadable_holder(objects, read.modified));
        (info, read.etag)
    }))
}

/// The holder reported for a lock object that cannot be parsed (or keeps changing hands).
fn unreadable_holder<B: ConditionalObjects>(objects: &B, since: Option<DateTime<Utc>>) -> LockInfo {
    LockInfo::unreadable(
        &format!("unknown (unreadable {})", objects.lock_noun()),
        since,
    )
}

/// The error of `operation` on `location` for a value that does not serialize.
fn cannot_serialize(operation: &str, location: &str, e: serde_json::Error) -> StateError {
    StateError::Backend {
        message: format!("{operation} {location}: cannot serialize: {e}"),
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
mod tests;
