//! Recorded state: what a stack created, with a versioned schema, and the stores that keep it.
//!
//! State is written after every resource completes (see the executor; completions that land
//! while a write is running are coalesced into the next write, so no resource waits for a
//! disk sync), so a crash loses at most the resources in flight or completed during the last
//! write, which the next run adopts by their ownership tags. No secret
//! value is ever written: resource configs and outputs hold references only.

mod local;
mod local_lock;
pub mod schema;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::outputs::Outputs;
use crate::resource::{Resource, ResourceId, ResourceKind};

pub use local::LocalStateStore;
pub use schema::parse_state;

/// The state schema version this build writes.
pub const SCHEMA_VERSION: u32 = 2;

/// Identifies one stack instance's state: stack name + environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StateKey {
    /// Stack name.
    pub stack: String,
    /// Environment.
    pub environment: String,
}

impl StateKey {
    /// The key of `stack` in `environment`.
    pub fn new(stack: impl Into<String>, environment: impl Into<String>) -> Self {
        Self {
            stack: stack.into(),
            environment: environment.into(),
        }
    }
}

impl fmt::Display for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.stack, self.environment)
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
    /// The config last applied (never secret values).
    #[serde(default)]
    pub config: Value,
    /// Hash of `config`.
    pub config_hash: String,
    /// Dependencies when it was applied (destroy order comes from these).
    #[serde(default)]
    pub depends_on: Vec<ResourceId>,
    /// Tags put on it.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Its outputs.
    #[serde(default)]
    pub outputs: Outputs,
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
            config: resource.config.clone(),
            config_hash: resource.config_hash(),
            depends_on: resource.depends_on.clone(),
            tags: resource.tags.clone(),
            outputs,
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
            config: self.config.clone(),
            tags: self.tags.clone(),
        }
    }
}

/// The recorded state of one stack instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Last save.
    pub updated_at: DateTime<Utc>,
    /// Resources by id.
    #[serde(default)]
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

/// Who holds a lock, written into the lock.
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
}

impl LockInfo {
    /// Lock info for this process doing `operation`, now.
    pub fn for_current_process(operation: impl Into<String>) -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|| "localhost".into());
        let id = hex::encode(rand::random::<[u8; 8]>());
        Self {
            id,
            owner: format!("{user}@{host}"),
            pid: std::process::id(),
            operation: operation.into(),
            since: Utc::now(),
        }
    }

    /// `user@host pid N (operation)`.
    pub fn holder(&self) -> String {
        format!("{} pid {} ({})", self.owner, self.pid, self.operation)
    }
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
    #[error("state of {key} is locked by {}", holder.holder())]
    Locked {
        /// Which stack.
        key: StateKey,
        /// The holder.
        holder: Box<LockInfo>,
    },
    /// Our lock was taken away (force-unlocked) while we held it.
    #[error("lock on {key} was lost (force-unlocked by someone else?)")]
    LockLost {
        /// Which stack.
        key: StateKey,
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

/// A held lock; released by [`StateLock::release`] or, best effort, on drop.
#[async_trait]
pub trait StateLock: Send + Sync + fmt::Debug {
    /// The lock's info.
    fn info(&self) -> &LockInfo;
    /// Releases the lock.
    async fn release(self: Box<Self>) -> Result<(), StateError>;
}

/// Where state lives. Implementations: [`LocalStateStore`] (default), object storage with a
/// lock for teams (in the provider crates).
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The state of `key`, if any.
    async fn load(&self, key: &StateKey) -> Result<Option<StackState>, StateError>;
    /// Writes `state` atomically (readers see the old or the new state, never a mix).
    async fn save(&self, state: &StackState) -> Result<(), StateError>;
    /// Removes the state of `key` (after a complete `down`).
    async fn delete(&self, key: &StateKey) -> Result<(), StateError>;
    /// Takes the exclusive lock of `key`, or fails at once with [`StateError::Locked`].
    async fn lock(&self, key: &StateKey, info: LockInfo) -> Result<Box<dyn StateLock>, StateError>;
    /// Breaks the lock of `key` whoever holds it; returns who held it.
    async fn force_unlock(&self, key: &StateKey) -> Result<Option<LockInfo>, StateError>;
}
