//! [`LocalStateStore`]: JSON files in a directory.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{LockInfo, StackState, StateError, StateKey, StateLock, StateStore};

/// State as JSON files in a directory: `<dir>/<stack>.<env>.json`, locked by
/// `<dir>/<stack>.<env>.lock`.
#[derive(Debug, Clone)]
pub struct LocalStateStore {
    dir: PathBuf,
}

impl LocalStateStore {
    /// A store in `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl StateStore for LocalStateStore {
    async fn load(&self, _key: &StateKey) -> Result<Option<StackState>, StateError> {
        Ok(None)
    }
    async fn save(&self, _state: &StackState) -> Result<(), StateError> {
        Ok(())
    }
    async fn delete(&self, _key: &StateKey) -> Result<(), StateError> {
        Ok(())
    }
    async fn lock(&self, _key: &StateKey, _info: LockInfo) -> Result<Box<dyn StateLock>, StateError> {
        Err(StateError::Backend {
            message: "not implemented yet".into(),
            source: None,
        })
    }
    async fn force_unlock(&self, _key: &StateKey) -> Result<Option<LockInfo>, StateError> {
        Ok(None)
    }
}
