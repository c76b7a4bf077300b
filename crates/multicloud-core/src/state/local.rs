//! [`LocalStateStore`]: JSON files in a directory.
//!
//! Layout, for the key `stack`/`env` on the scope `scope` (its
//! [`segment`](super::ProviderScope::segment), such as `aws.123456789012.us-east-1`):
//!
//! * `<dir>/<stack>.<env>/<scope>.json`: the state, replaced atomically on every save
//!   (written to a temporary file in the same directory, synced, then renamed over the old
//!   one);
//! * `<dir>/<stack>.<env>/<scope>.json.backup`: the version before the last save;
//! * `<dir>/<stack>.<env>/<scope>.lock`: the lock, holding the holder's [`LockInfo`] as JSON.
//!
//! A key without a scope (written before keys named their cloud) has its files in `<dir>`
//! itself: `<dir>/<stack>.<env>.json`, `.json.backup` and `.lock`.
//!
//! The lock files live in [`super::local_lock`].

// `StateError` (defined by the `StateStore` trait) is large; its helpers return it as is.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::local_lock::{self, LocalLock};
use super::schema::parse_state;
use super::{
    LockInfo, ProviderScope, StackListing, StackState, StateError, StateKey, StateLock, StateStore,
};

/// State as JSON files in a directory: `<dir>/<stack>.<env>/<scope>.json` (previous version
/// in `<scope>.json.backup` beside it), locked by `<dir>/<stack>.<env>/<scope>.lock`, where
/// `<scope>` is the key's [`ProviderScope::segment`]. A key without a scope (written before
/// keys named their cloud) has its files in `<dir>` itself: `<dir>/<stack>.<env>.json`.
///
/// Saves are atomic: a reader sees the old or the new state, never a mix, even if the process
/// dies mid-save. A state file that does not parse is reported as [`StateError::Corrupt`] and
/// left untouched for a human to inspect.
///
/// The lock is a file created exclusively; it is removed by [`StateLock::release`] or when the
/// guard is dropped. A process that crashes while holding it leaves a stale lock file behind:
/// like `terraform force-unlock`, it is broken on purpose with [`StateStore::force_unlock`]
/// after checking with [`LocalStateStore::lock_holder`] that its holder is really gone.
///
/// A stack name must not contain `.` (so that `<stack>.<env>` names one key only), and neither
/// the stack nor the environment may be empty or contain path separators, control characters
/// or any of `:*?"<>|`.
#[derive(Debug, Clone)]
pub struct LocalStateStore {
    dir: PathBuf,
}

impl LocalStateStore {
    /// A store in `dir` (created on first save or lock).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Who holds the lock of `key`, if anyone, without taking it (for tools that show it, or
    /// to decide on [`StateStore::force_unlock`]). A lock file that cannot be parsed is
    /// reported with the owner `unknown (unreadable lock file)` and its modification time.
    ///
    /// This reads one small file synchronously.
    pub fn lock_holder(&self, key: &StateKey) -> Result<Option<LockInfo>, StateError> {
        let path = self.lock_path(key)?;
        local_lock::read_holder(&path)
    }

    /// The file holding the state of `key`: `<dir>/<stack>.<env>/<scope>.json`, or
    /// `<dir>/<stack>.<env>.json` for a key without a scope.
    pub fn state_file(&self, key: &StateKey) -> Result<PathBuf, StateError> {
        let (dir, base) = self.place(key)?;
        Ok(dir.join(format!("{base}.json")))
    }

    /// The lock file of `key`: the [`state_file`](Self::state_file) with `.lock` for `.json`.
    fn lock_path(&self, key: &StateKey) -> Result<PathBuf, StateError> {
        let (dir, base) = self.place(key)?;
        Ok(dir.join(format!("{base}.lock")))
    }

    /// The directory of `key`'s files and their base name: `<dir>/<stack>.<env>` and the
    /// scope's segment, or `<dir>` and `<stack>.<env>` without a scope.
    fn place(&self, key: &StateKey) -> Result<(PathBuf, String), StateError> {
        let base = self.base_name(key)?;
        match key.scope.as_deref().map(ProviderScope::segment) {
            None => Ok((self.dir.clone(), base)),
            Some(Some(segment)) => Ok((self.dir.join(base), segment)),
            Some(None) => Err(self.invalid(
                key,
                "the cloud, account and region must not be empty or contain '.', path \
                 separators, control characters or any of :*?\"<>|",
            )),
        }
    }

    /// `<stack>.<env>`, after checking both parts are safe in a file name.
    fn base_name(&self, key: &StateKey) -> Result<String, StateError> {
        let bad_char = |c: char| {
            c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
        };
        let problem = if key.stack.is_empty() || key.environment.is_empty() {
            Some("stack and environment must not be empty")
        } else if key.stack.contains('.') {
            Some("the stack name must not contain '.'")
        } else if key.stack.contains(bad_char) || key.environment.contains(bad_char) {
            Some(
                "stack and environment must not contain path separators, control characters or any of :*?\"<>|",
            )
        } else {
            None
        };
        match problem {
            Some(problem) => Err(self.invalid(key, problem)),
            None => Ok(format!("{}.{}", key.stack, key.environment)),
        }
    }

    /// The error for a `key` that cannot name files, because of `problem`.
    fn invalid(&self, key: &StateKey, problem: &str) -> StateError {
        StateError::Io {
            path: self.dir.clone(),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot store the state of {key:?} as a file: {problem}"),
            ),
        }
    }
}

/// The directory holding `path` (where its temporary files and backup go).
fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

#[async_trait]
impl StateStore for LocalStateStore {
    async fn load(&self, key: &StateKey) -> Result<Option<StackState>, StateError> {
        let path = self.state_file(key)?;
        let key = key.clone();
        blocking(path.clone(), move || load_blocking(&path, &key)).await
    }

    async fn save(&self, state: &StackState) -> Result<(), StateError> {
        let path = self.state_file(&state.key)?;
        let bytes = super::to_bytes(state).map_err(|e| StateError::Io {
            path: path.clone(),
            source: io::Error::new(io::ErrorKind::InvalidData, e),
        })?;
        let dir = parent(&path);
        let serial = state.serial;
        blocking(path.clone(), move || {
            save_blocking(&dir, &path, &bytes, serial)
        })
        .await
    }

    async fn delete(&self, key: &StateKey) -> Result<(), StateError> {
        let path = self.state_file(key)?;
        let dir = parent(&path);
        blocking(path.clone(), move || {
            remove_if_exists(&path)?;
            remove_if_exists(&backup_path(&path))?;
            sync_dir(&dir);
            Ok(())
        })
        .await
    }

    async fn lock(&self, key: &StateKey, info: LockInfo) -> Result<Box<dyn StateLock>, StateError> {
        let path = self.lock_path(key)?;
        let dir = parent(&path);
        let key = key.clone();
        let lock = blocking(path.clone(), move || {
            LocalLock::acquire_blocking(&dir, path, key, info)
        })
        .await?;
        Ok(Box::new(lock))
    }

    async fn list(&self) -> Result<Vec<StackListing>, StateError> {
        let dir = self.dir.clone();
        blocking(dir.clone(), move || list_blocking(&dir)).await
    }

    async fn force_unlock(&self, key: &StateKey) -> Result<Option<LockInfo>, StateError> {
        let path = self.lock_path(key)?;
        blocking(path.clone(), move || {
            local_lock::force_unlock_blocking(&path)
        })
        .await
    }
}

/// Runs `f` on the blocking pool; a panic or cancellation of it is an I/O error on `path`.
pub(super) async fn blocking<T, F>(path: PathBuf, f: F) -> Result<T, StateError>
where
    F: FnOnce() -> Result<T, StateError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(join) => Err(StateError::Io {
            path,
            source: io::Error::other(format!("state file task failed: {join}")),
        }),
    }
}

/// An I/O error on `path`.
pub(super) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `<dir>/.<file name>.<tag>-<pid>-<random>`: a unique sibling of `path`, hidden, for
/// temporary files that are renamed into place.
pub(super) fn temp_sibling(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix = hex::encode(rand::random::<[u8; 8]>());
    path.with_file_name(format!(".{name}.{tag}-{}-{suffix}", std::process::id()))
}

/// `<path>.backup`.
fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".backup");
    PathBuf::from(name)
}

/// [`StateError::Conflict`] when the file at `path` holds a state with a serial of at
/// least `serial`: the state being saved was made from an older version (a lost update).
/// Writers hold the lock, so this only trips when a lock was lost or broken.
fn refuse_stale(path: &Path, serial: u64) -> Result<(), StateError> {
    #[derive(serde::Deserialize)]
    struct Serial {
        serial: u64,
    }
    let stored = match fs::read(path) {
        Ok(bytes) => serde_json::from_slice::<Serial>(&bytes).ok(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err(path)(e)),
    };
    match stored {
        Some(stored) if stored.serial >= serial => Err(StateError::Conflict {
            location: path.display().to_string(),
            message: format!(
                "it holds serial {}, newer than or as new as the {serial} being saved; \
                 load it again",
                stored.serial
            ),
        }),
        _ => Ok(()),
    }
}

/// The stacks of the store in `dir`: each state file (its serial) and lock file (its
/// holder), scoped ones in the `<stack>.<env>` directories, unscoped ones beside them.
fn list_blocking(dir: &Path) -> Result<Vec<StackListing>, StateError> {
    let mut stacks: std::collections::BTreeMap<StateKey, StackListing> = Default::default();
    for path in entries(dir)? {
        let name = file_name(&path);
        if path.is_dir() {
            let Some((stack, env)) = name.split_once('.') else {
                continue;
            };
            for inner in entries(&path)? {
                let Some((segment, is_lock)) = split_kind(file_name(&inner)) else {
                    continue;
                };
                if let Some(scope) = ProviderScope::from_segment(segment) {
                    let key = StateKey::new(stack, env).on(scope);
                    add_listing(&mut stacks, key, &inner, is_lock)?;
                }
            }
        } else if let Some((base, is_lock)) = split_kind(name)
            && let Some((stack, env)) = base.split_once('.')
        {
            add_listing(&mut stacks, StateKey::new(stack, env), &path, is_lock)?;
        }
    }
    Ok(stacks.into_values().collect())
}

/// The paths in `dir` (none if it does not exist).
fn entries(dir: &Path) -> Result<Vec<PathBuf>, StateError> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.path()).map_err(io_err(dir)))
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err(dir)(e)),
    }
}

/// The file name of `path` (empty if it is not UTF-8).
fn file_name(path: &Path) -> &str {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
}

/// `name` without `.json` (a state file) or `.lock` (a lock file: `true`).
fn split_kind(name: &str) -> Option<(&str, bool)> {
    match (name.strip_suffix(".json"), name.strip_suffix(".lock")) {
        (Some(base), _) => Some((base, false)),
        (None, Some(base)) => Some((base, true)),
        (None, None) => None,
    }
}

/// Records the state file or lock file `path` of `key` in `stacks`.
fn add_listing(
    stacks: &mut std::collections::BTreeMap<StateKey, StackListing>,
    key: StateKey,
    path: &Path,
    is_lock: bool,
) -> Result<(), StateError> {
    let listing = stacks.entry(key.clone()).or_insert_with(|| StackListing {
        key: key.clone(),
        serial: None,
        lock: None,
    });
    if is_lock {
        listing.lock = local_lock::read_holder(path)?;
    } else {
        listing.serial = load_blocking(path, &key)?.map(|s| s.serial);
    }
    Ok(())
}

/// Removes `path`; absent is fine.
fn remove_if_exists(path: &Path) -> Result<(), StateError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

/// Makes renames and removals in `dir` durable. Not every platform can open or sync a
/// directory (Windows cannot), so errors are ignored.
fn sync_dir(dir: &Path) {
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
}

fn load_blocking(path: &Path, key: &StateKey) -> Result<Option<StackState>, StateError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    parse_state(&bytes, key, &path.display().to_string()).map(Some)
}

fn save_blocking(dir: &Path, path: &Path, bytes: &[u8], serial: u64) -> Result<(), StateError> {
    refuse_stale(path, serial)?;
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let temp = temp_sibling(path, "tmp");
    let result = write_synced(&temp, bytes)
        .and_then(|()| keep_backup(path))
        .and_then(|()| fs::rename(&temp, path).map_err(io_err(path)));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
        return result;
    }
    sync_dir(dir);
    Ok(())
}

/// Writes `bytes` to the new file `path` and syncs it to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_err(path))?;
    file.write_all(bytes).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
}

/// Replaces `<path>.backup` with the current `path`, if any, atomically: hard link (or copy,
/// where links are unsupported) to a temporary name, then rename over the backup. `path`
/// itself stays in place, so readers always find a state.
fn keep_backup(path: &Path) -> Result<(), StateError> {
    let backup = backup_path(path);
    let temp = temp_sibling(&backup, "tmp");
    if let Err(link_err) = fs::hard_link(path, &temp) {
        if link_err.kind() == io::ErrorKind::NotFound {
            return Ok(());
        }
        if let Err(e) = fs::copy(path, &temp) {
            let _ = fs::remove_file(&temp);
            return match e.kind() {
                io::ErrorKind::NotFound => Ok(()),
                _ => Err(io_err(path)(e)),
            };
        }
    }
    fs::rename(&temp, &backup).map_err(|e| {
        let _ = fs::remove_file(&temp);
        io_err(&backup)(e)
    })
}

#[cfg(test)]
mod tests;
