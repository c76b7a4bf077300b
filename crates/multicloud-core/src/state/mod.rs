//! Recorded state: what a stack created, with a versioned schema, and the stores that keep it.
//!
//! State is written after every resource completes (see the executor; completions that land
//! while a write is running are coalesced into the next write, so no resource waits for a
//! disk sync), so a crash loses at most the resources in flight or completed during the last
//! write, which the next run adopts by their ownership tags. No secret
//! value is ever written: resource configs and outputs hold references only.

mod local;
mod local_lock;
mod migrate;
pub mod object;
mod recorded;
pub mod schema;
mod scope;
mod seen;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ProviderError;
use crate::observation::Drift;
use crate::outputs::{Outputs, SecretOutputs, StackOutputs};
use crate::resource::{Resource, ResourceId, ResourceKind};
use crate::secret::SecretRef;
use crate::tags::Tags;

pub use local::LocalStateStore;
pub use migrate::{migrate, migrate_unscoped};
pub use recorded::RecordedConfig;
pub use schema::{parse_state, to_bytes};
pub use scope::ProviderScope;
pub use seen::{Seen, SeenVersions};

/// The state schema version this build writes.
pub const SCHEMA_VERSION: u32 = 3;

/// Identifies one stack instance's state: stack name + environment, and the cloud it is
/// deployed to ([`ProviderScope`]), so one spec on several clouds keeps one state each.
///
/// A key without a scope ([`StateKey::new`]) names where stores kept a stack's state before
/// keys named their cloud; [`Stack`](crate::Stack) moves such a state to its scoped key the
/// first time it reads or locks it ([`migrate_unscoped`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StateKey {
    /// Stack name.
    pub stack: String,
    /// Environment.
    pub environment: String,
    /// The cloud, account and (where it matters) region; `None` in keys written before
    /// keys named their cloud. (Boxed: keys travel in errors, which stay small.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Box<ProviderScope>>,
}

impl StateKey {
    /// The key of `stack` in `environment`, without a scope.
    pub fn new(stack: impl Into<String>, environment: impl Into<String>) -> Self {
        Self {
            stack: stack.into(),
            environment: environment.into(),
            scope: None,
        }
    }

    /// The same key on `scope`.
    #[must_use]
    pub fn on(mut self, scope: ProviderScope) -> Self {
        self.scope = Some(Box::new(scope));
        self
    }

    /// The same key without its scope: where a store kept this stack's state before keys
    /// named their cloud.
    #[must_use]
    pub fn unscoped(&self) -> Self {
        Self::new(&self.stack, &self.environment)
    }
}

impl fmt::Display for StateKey {
    /// `stack/environment`, then ` (<scope>)` when it has one:
    /// `shop/dev (aws 123456789012 us-east-1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.stack, self.environment)?;
        match &self.scope {
            Some(scope) => write!(f, " ({scope})"),
            None => Ok(()),
        }
    }
}

/// One resource as recorded after it completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    /// Logical id.
    pub id: ResourceId,
    /// Kind.
    pub kind: ResourceKind,
    /// Physical name.
    pub name: String,
    /// Cloud id (ARN / resource id), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The config last applied (never secret values), parsed when read.
    #[serde(default)]
    pub config: RecordedConfig,
    /// Hash of `config`.
    pub config_hash: String,
    /// Dependencies when it was applied (destroy order comes from these).
    #[serde(default)]
    pub depends_on: Vec<ResourceId>,
    /// Tags put on it.
    #[serde(default)]
    pub tags: Tags,
    /// Its outputs.
    #[serde(default)]
    pub outputs: Outputs,
    /// Adopted read-only (an existing cluster): `down` forgets it, never deletes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// How the live resource differed from what was applied when
    /// [`Stack::refresh`](crate::Stack::refresh) last read it (cleared when it is applied
    /// again, which repairs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// When it was first recorded.
    pub created_at: DateTime<Utc>,
    /// When it was last recorded.
    pub updated_at: DateTime<Utc>,
}

impl ResourceRecord {
    /// A record of `resource` with `outputs`, now.
    pub fn new(resource: &Resource, provider_id: Option<String>, outputs: Outputs) -> Self {
        let now = Utc::now();
        Self {
            id: resource.id.clone(),
            kind: resource.kind,
            name: resource.name.clone(),
            provider_id,
            config: RecordedConfig::new(&resource.config),
            config_hash: resource.config_hash(),
            depends_on: resource.depends_on.clone(),
            tags: resource.tags.clone(),
            outputs,
            read_only: resource.read_only,
            drift: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The resource this record describes (for delete operations).
    pub fn to_resource(&self) -> Resource {
        Resource {
            id: self.id.clone(),
            kind: self.kind,
            name: self.name.clone(),
            depends_on: self.depends_on.clone(),
            config: self.config.value(),
            tags: self.tags.clone(),
            read_only: self.read_only,
        }
    }
}

/// The recorded state of one stack instance. Stored compactly (see [`schema`]): tags every
/// resource carries are written once, and fields that repeat others are left out.
#[derive(Debug, Clone, PartialEq)]
pub struct StackState {
    /// Schema version ([`SCHEMA_VERSION`] when written by this build).
    pub schema_version: u32,
    /// Which stack.
    pub key: StateKey,
    /// Region.
    pub region: String,
    /// Provider name.
    pub provider: String,
    /// Incremented on every save.
    pub serial: u64,
    /// When the stack was first created (the `multicloud:created-at` tag).
    pub created_at: DateTime<Utc>,
    /// When it expires, with a TTL.
    pub expires_at: Option<DateTime<Utc>>,
    /// Last save.
    pub updated_at: DateTime<Utc>,
    /// Resources by id.
    pub resources: BTreeMap<ResourceId, ResourceRecord>,
}

impl StackState {
    /// Empty state for `key`.
    pub fn new(key: StateKey, region: impl Into<String>, provider: impl Into<String>) -> Self {
        let now = Utc::now();
        Self {
            schema_version: SCHEMA_VERSION,
            key,
            region: region.into(),
            provider: provider.into(),
            serial: 0,
            created_at: now,
            expires_at: None,
            updated_at: now,
            resources: BTreeMap::new(),
        }
    }
}

/// How long a lock is held without renewal before another run may take it over.
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// Who holds a lock, written into the lock, with its lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Random id of this lock acquisition.
    pub id: String,
    /// `user@host`.
    pub owner: String,
    /// Process id.
    pub pid: u32,
    /// What it is doing (`up`, `down`).
    pub operation: String,
    /// Since when.
    pub since: DateTime<Utc>,
    /// When the lease runs out unless renewed. A lock written before leases existed has
    /// none and counts as expiring [`DEFAULT_LEASE`] after `since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
    /// Length of the lease, in milliseconds (each renewal extends it by this much).
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
    /// Host name of the holder (its pid means something only there).
    #[serde(default)]
    pub host: String,
}

fn default_lease_ms() -> u64 {
    DEFAULT_LEASE.as_millis() as u64
}

/// The host name of this machine (`HOSTNAME`, `/etc/hostname`, else `localhost`).
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

impl LockInfo {
    /// Lock info for this process doing `operation`, now, with the [`DEFAULT_LEASE`].
    pub fn for_current_process(operation: impl Into<String>) -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let host = host_name();
        let now = Utc::now();
        Self {
            id: hex::encode(rand::random::<[u8; 8]>()),
            owner: format!("{user}@{host}"),
            pid: std::process::id(),
            operation: operation.into(),
            since: now,
            expires: None,
            lease_ms: default_lease_ms(),
            host,
        }
        .renewed(now)
    }

    /// The same lock with a lease of `lease` from now.
    #[must_use]
    pub fn with_lease(mut self, lease: std::time::Duration) -> Self {
        self.lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX).max(1);
        self.renewed(Utc::now())
    }

    /// The length of the lease.
    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.lease_ms)
    }

    /// The same lock with its lease running from `now`.
    #[must_use]
    pub fn renewed(mut self, now: DateTime<Utc>) -> Self {
        let lease =
            chrono::Duration::milliseconds(i64::try_from(self.lease_ms).unwrap_or(i64::MAX));
        self.expires = now
            .checked_add_signed(lease)
            .or(Some(DateTime::<Utc>::MAX_UTC));
        self
    }

    /// When the lease runs out (see [`LockInfo::expires`]).
    pub fn lease_end(&self) -> DateTime<Utc> {
        self.expires.unwrap_or_else(|| {
            self.since
                .checked_add_signed(chrono::Duration::milliseconds(default_lease_ms() as i64))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        })
    }

    /// Why another run may take this lock over at `now`, if it may: its lease ran out, or
    /// (with `check_pid`, for a lock on this machine) its process no longer exists.
    pub fn takeover_reason(&self, now: DateTime<Utc>, check_pid: bool) -> Option<String> {
        if now >= self.lease_end() {
            return Some(format!(
                "its lease ran out at {}",
                self.lease_end().to_rfc3339()
            ));
        }
        if check_pid && self.host == host_name() && process_gone(self.pid) == Some(true) {
            return Some(format!(
                "process {} on {} no longer exists",
                self.pid, self.host
            ));
        }
        None
    }

    /// `user@host pid N (operation)`.
    pub fn holder(&self) -> String {
        format!("{} pid {} ({})", self.owner, self.pid, self.operation)
    }

    /// The holder every store reports for a lock that exists but does not parse: `owner`
    /// (such as `unknown (unreadable lock file)`), holding it since `since` (the lock's
    /// modification time; now without one) for a [`DEFAULT_LEASE`].
    pub fn unreadable(owner: &str, since: Option<DateTime<Utc>>) -> Self {
        Self {
            id: String::new(),
            owner: owner.into(),
            pid: 0,
            operation: "unknown".into(),
            since: since.unwrap_or_else(Utc::now),
            expires: None,
            lease_ms: default_lease_ms(),
            host: String::new(),
        }
    }
}

/// Whether process `pid` of this machine is gone; `None` where that cannot be told (no
/// `/proc`).
fn process_gone(pid: u32) -> Option<bool> {
    let proc = std::path::Path::new("/proc");
    if pid == 0 || !proc.join("self").exists() {
        return None;
    }
    Some(!proc.join(pid.to_string()).exists())
}

/// One stack a store holds state or a lock for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackListing {
    /// Which stack, on which cloud (its [`StateKey::scope`]; none for a state written
    /// before keys named their cloud).
    pub key: StateKey,
    /// The serial of its state; `None` when only a lock exists.
    pub serial: Option<u64>,
    /// Who holds its lock, if anyone (with the lease's end: a holder past it is stale).
    pub lock: Option<LockInfo>,
}

/// Errors of a state store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A file operation failed.
    #[error("state I/O on {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The state does not parse.
    #[error("state at {location} is corrupt: {message}")]
    Corrupt {
        /// Where.
        location: String,
        /// Parser message.
        message: String,
    },
    /// The state was written by a newer build.
    #[error("state at {location} has schema version {found}; this build reads up to {supported}")]
    UnsupportedVersion {
        /// Where.
        location: String,
        /// Found version.
        found: u32,
        /// Highest supported.
        supported: u32,
    },
    /// Another run holds the lock.
    #[error("state of {key} is locked by {} until {}", holder.holder(), holder.lease_end().to_rfc3339())]
    Locked {
        /// Which stack.
        key: StateKey,
        /// The holder.
        holder: Box<LockInfo>,
    },
    /// Our lock was taken away while we held it (force-unlocked, or taken over after our
    /// lease ran out during a long stall).
    #[error("lock on {key} was lost (force-unlocked, or taken over after its lease ran out)")]
    LockLost {
        /// Which stack.
        key: StateKey,
    },
    /// A write based on a stale version was refused (someone else wrote since); nothing was
    /// written. Load the state again.
    #[error("state at {location} changed underneath: {message}")]
    Conflict {
        /// Where.
        location: String,
        /// What was expected and found.
        message: String,
    },
    /// A remote store (object storage) failed.
    #[error("state backend: {message}")]
    Backend {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

/// A held lock; renewed by [`StateLock::renew`] while its run lasts, released by
/// [`StateLock::release`] or, best effort, on drop.
///
/// The contract every store keeps (tested once, for every store, by
/// `multicloud_core::testing::lock_contract`): one holder at a time; a lock whose lease ran
/// out is taken over by the next run (and reported by [`StateLock::taken_over`]); a run
/// that finds its lock taken over gets [`StateError::LockLost`] on its next renewal or
/// release, and never removes the new holder's lock.
#[async_trait]
pub trait StateLock: Send + Sync + fmt::Debug {
    /// The lock's info (its lease as last renewed).
    fn info(&self) -> &LockInfo;
    /// The holder this lock was taken over from, if its lease had run out (or its process
    /// was gone).
    fn taken_over(&self) -> Option<&LockInfo>;
    /// Extends the lease by its length from now; [`StateError::LockLost`] if someone else
    /// holds the lock now.
    async fn renew(&mut self) -> Result<(), StateError>;
    /// Releases the lock.
    async fn release(self: Box<Self>) -> Result<(), StateError>;
}

/// Where state lives. Implementations: [`LocalStateStore`] (default), object storage with a
/// lock for teams (in the provider crates).
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The state of `key`, if any.
    async fn load(&self, key: &StateKey) -> Result<Option<StackState>, StateError>;
    /// Writes `state` atomically (readers see the old or the new state, never a mix);
    /// [`StateError::Conflict`] (nothing written) when it would overwrite a newer state
    /// than the one it was made from.
    async fn save(&self, state: &StackState) -> Result<(), StateError>;
    /// Removes the state of `key` (after a complete `down`).
    async fn delete(&self, key: &StateKey) -> Result<(), StateError>;
    /// Takes the exclusive lock of `key` with the lease of `info`, taking over a lock whose
    /// lease ran out; or fails at once with [`StateError::Locked`].
    async fn lock(&self, key: &StateKey, info: LockInfo) -> Result<Box<dyn StateLock>, StateError>;
    /// Every stack this store holds state or a lock for, in key order.
    async fn list(&self) -> Result<Vec<StackListing>, StateError>;
    /// Breaks the lock of `key` whoever holds it; returns who held it.
    async fn force_unlock(&self, key: &StateKey) -> Result<Option<LockInfo>, StateError>;
}

/// Reading a stack's outputs from its state lives here, beside the state it reads, so
/// `outputs` stays below `state`.
impl StackOutputs {
    /// Reads the typed outputs from recorded state; a missing required field is an error
    /// naming the resource and the field.
    pub fn from_state(state: &StackState) -> Result<Self, ProviderError> {
        let mut out = StackOutputs::default();
        for (id, rec) in &state.resources {
            let o = &rec.outputs;
            let key = id.key().to_string();
            match rec.kind {
                ResourceKind::CLUSTER => out.cluster = Some(o.read(id)?),
                ResourceKind::DATABASE => out.database = Some(o.read(id)?),
                ResourceKind::CACHE => out.cache = Some(o.read(id)?),
                ResourceKind::REGISTRY => {
                    out.registries.insert(key, o.read(id)?);
                }
                ResourceKind::SECRET => {
                    let s: SecretOutputs = o.read(id)?;
                    out.secrets.insert(
                        key,
                        SecretRef {
                            name: s.name,
                            id: s.id,
                            version: s.version,
                        },
                    );
                }
                ResourceKind::WORKLOAD_IDENTITY => {
                    out.identities.insert(key, o.read(id)?);
                }
                ResourceKind::SERVICE => {
                    out.services.insert(key, o.read(id)?);
                }
                _ => {}
            }
        }
        Ok(out)
    }
}
