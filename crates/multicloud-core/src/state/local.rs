//! [`LocalStateStore`]: JSON files in a directory.
//!
//! Layout, for the key `stack`/`env`:
//!
//! * `<dir>/<stack>.<env>.json`: the state, replaced atomically on every save (written to a
//!   temporary file in the same directory, synced, then renamed over the old one);
//! * `<dir>/<stack>.<env>.json.backup`: the version before the last save;
//! * `<dir>/<stack>.<env>.lock`: the lock, holding the holder's [`LockInfo`] as JSON.
//!
//! The lock files live in [`super::local_lock`].

// `StateError` (defined by the `StateStore` trait) is large; its helpers return it as is.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::local_lock::{self, LocalLock};
use super::schema::parse_state;
use super::{LockInfo, StackListing, StackState, StateError, StateKey, StateLock, StateStore};

/// State as JSON files in a directory: `<dir>/<stack>.<env>.json` (previous version in
/// `<dir>/<stack>.<env>.json.backup`), locked by `<dir>/<stack>.<env>.lock`.
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

    /// `<dir>/<stack>.<env>.json`.
    fn state_path(&self, key: &StateKey) -> Result<PathBuf, StateError> {
        Ok(self.dir.join(format!("{}.json", self.base_name(key)?)))
    }

    /// `<dir>/<stack>.<env>.lock`.
    fn lock_path(&self, key: &StateKey) -> Result<PathBuf, StateError> {
        Ok(self.dir.join(format!("{}.lock", self.base_name(key)?)))
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
            Some(problem) => Err(StateError::Io {
                path: self.dir.clone(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("cannot store the state of {key:?} as a file: {problem}"),
                ),
            }),
            None => Ok(format!("{}.{}", key.stack, key.environment)),
        }
    }
}

#[async_trait]
impl StateStore for LocalStateStore {
    async fn load(&self, key: &StateKey) -> Result<Option<StackState>, StateError> {
        let path = self.state_path(key)?;
        let key = key.clone();
        blocking(path.clone(), move || load_blocking(&path, &key)).await
    }

    async fn save(&self, state: &StackState) -> Result<(), StateError> {
        let path = self.state_path(&state.key)?;
        let bytes = super::to_bytes(state).map_err(|e| StateError::Io {
            path: path.clone(),
            source: io::Error::new(io::ErrorKind::InvalidData, e),
        })?;
        let dir = self.dir.clone();
        let serial = state.serial;
        blocking(path.clone(), move || {
            save_blocking(&dir, &path, &bytes, serial)
        })
        .await
    }

    async fn delete(&self, key: &StateKey) -> Result<(), StateError> {
        let path = self.state_path(key)?;
        let dir = self.dir.clone();
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
        let dir = self.dir.clone();
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

/// The stacks of the store in `dir`: each `<stack>.<env>.json` state file (its serial) and
/// `<stack>.<env>.lock` lock file (its holder).
fn list_blocking(dir: &Path) -> Result<Vec<StackListing>, StateError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let mut stacks: std::collections::BTreeMap<StateKey, StackListing> = Default::default();
    for entry in entries {
        let path = entry.map_err(io_err(dir))?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let (base, is_lock) = match (name.strip_suffix(".json"), name.strip_suffix(".lock")) {
            (Some(base), _) => (base, false),
            (None, Some(base)) => (base, true),
            (None, None) => continue,
        };
        let Some((stack, env)) = base.split_once('.') else {
            continue;
        };
        let key = StateKey::new(stack, env);
        let listing = stacks.entry(key.clone()).or_insert_with(|| StackListing {
            key: key.clone(),
            serial: None,
            lock: None,
        });
        if is_lock {
            listing.lock = local_lock::read_holder(&path)?;
        } else {
            listing.serial = load_blocking(&path, &key)?.map(|s| s.serial);
        }
    }
    Ok(stacks.into_values().collect())
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
mod tests {
    use super::*;
    use crate::outputs::Outputs;
    use crate::resource::Resource;
    use crate::state::ResourceRecord;
    use crate::state::SCHEMA_VERSION;
    use serde_json::Value;

    fn key() -> StateKey {
        StateKey::new("app", "dev")
    }

    fn state(serial: u64) -> StackState {
        let mut state = StackState::new(key(), "us-east-1", "aws");
        state.serial = serial;
        state
    }

    fn file_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn save_then_load_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path().join("nested").join("state"));
        let mut saved = state(7);
        let mut outputs = Outputs::new();
        outputs
            .as_map_mut()
            .insert("cidr".into(), "10.0.0.0/16".into());
        let mut config = serde_json::Map::new();
        config.insert("cidr".into(), "10.0.0.0/16".into());
        let mut resource = Resource::new(crate::testing::kinds::VPC, "main", "app-dev-vpc");
        resource.config = Value::Object(config);
        let record = ResourceRecord::new(&resource, Some("vpc-0123".into()), outputs);
        saved.resources.insert(record.id.clone(), record);
        saved.expires_at = Some(saved.created_at);

        store.save(&saved).await.unwrap();
        let loaded = store.load(&key()).await.unwrap();
        assert_eq!(loaded, Some(saved));
        assert!(store.dir().join("app.dev.json").is_file());
    }

    #[tokio::test]
    async fn load_of_missing_state_is_none() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path().join("never-created"));
        assert_eq!(store.load(&key()).await.unwrap(), None);
        store.save(&state(1)).await.unwrap();
        assert_eq!(
            store.load(&StateKey::new("app", "prod")).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn save_is_atomic_and_keeps_a_backup_of_the_previous_version() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        store.save(&state(1)).await.unwrap();
        assert_eq!(file_names(tmp.path()), ["app.dev.json"]);
        store.save(&state(2)).await.unwrap();
        store.save(&state(3)).await.unwrap();
        // No temporary file left behind, current version and the one before it kept.
        assert_eq!(
            file_names(tmp.path()),
            ["app.dev.json", "app.dev.json.backup"]
        );
        let loaded = store.load(&key()).await.unwrap().unwrap();
        assert_eq!(loaded.serial, 3);
        let backup = fs::read(tmp.path().join("app.dev.json.backup")).unwrap();
        let backup: StackState = serde_json::from_slice(&backup).unwrap();
        assert_eq!(backup.serial, 2);
        // One line per top-level field (and per record), for humans reading the file.
        let text = fs::read_to_string(tmp.path().join("app.dev.json")).unwrap();
        assert!(
            text.contains(&format!("\n  \"schema_version\":{SCHEMA_VERSION},\n")),
            "{text}"
        );
    }

    #[tokio::test]
    async fn failed_save_leaves_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        // A directory where the state file should be: the final rename fails.
        fs::create_dir(tmp.path().join("app.dev.json")).unwrap();
        fs::write(tmp.path().join("app.dev.json").join("x"), "x").unwrap();
        let err = store.save(&state(1)).await.unwrap_err();
        assert!(matches!(err, StateError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("app.dev.json"), "{err}");
        assert_eq!(file_names(tmp.path()), ["app.dev.json"]);
    }

    #[tokio::test]
    async fn corrupt_state_is_reported_and_left_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        let path = tmp.path().join("app.dev.json");
        let garbage = "{\"schema_version\": 1, \"key\": ";
        fs::write(&path, garbage).unwrap();

        let err = store.load(&key()).await.unwrap_err();
        match &err {
            StateError::Corrupt { location, message } => {
                assert_eq!(location, &path.display().to_string());
                assert!(message.contains("EOF"), "{message}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(err.to_string().contains("app.dev.json"), "{err}");
        // Still there, byte for byte, and no backup or temp file appeared.
        assert_eq!(fs::read_to_string(&path).unwrap(), garbage);
        assert_eq!(file_names(tmp.path()), ["app.dev.json"]);
    }

    #[tokio::test]
    async fn newer_schema_is_unsupported() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        let mut value = serde_json::to_value(state(1)).unwrap();
        value["schema_version"] = (SCHEMA_VERSION + 1).into();
        // A newer build may also have changed fields: the version is checked first.
        value["resources"] = "something new".into();
        let path = tmp.path().join("app.dev.json");
        fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();

        match store.load(&key()).await.unwrap_err() {
            StateError::UnsupportedVersion {
                location,
                found,
                supported,
            } => {
                assert_eq!(location, path.display().to_string());
                assert_eq!(found, SCHEMA_VERSION + 1);
                assert_eq!(supported, SCHEMA_VERSION);
            }
            other => panic!("expected UnsupportedVersion, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn missing_or_zero_schema_version_is_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        let path = tmp.path().join("app.dev.json");
        let mut value = serde_json::to_value(state(1)).unwrap();
        for version in [Some(Value::from(0)), None, Some(Value::from("1"))] {
            match version {
                Some(v) => value["schema_version"] = v,
                None => {
                    value.as_object_mut().unwrap().remove("schema_version");
                }
            }
            fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
            match store.load(&key()).await.unwrap_err() {
                StateError::Corrupt { location, message } => {
                    assert_eq!(location, path.display().to_string());
                    assert!(message.contains("schema_version"), "{message}");
                }
                other => panic!("expected Corrupt, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn state_of_another_key_is_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        let other = StackState::new(StateKey::new("other", "dev"), "us-east-1", "aws");
        fs::write(
            tmp.path().join("app.dev.json"),
            serde_json::to_vec(&other).unwrap(),
        )
        .unwrap();
        let err = store.load(&key()).await.unwrap_err();
        assert!(
            matches!(&err, StateError::Corrupt { message, .. } if message.contains("other/dev")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn delete_removes_state_and_backup() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        store.delete(&key()).await.unwrap();
        store.save(&state(1)).await.unwrap();
        store.save(&state(2)).await.unwrap();
        store
            .save(&StackState::new(StateKey::new("app", "prod"), "r", "aws"))
            .await
            .unwrap();
        store.delete(&key()).await.unwrap();
        assert_eq!(store.load(&key()).await.unwrap(), None);
        assert_eq!(file_names(tmp.path()), ["app.prod.json"]);
        store.delete(&key()).await.unwrap();
    }

    #[tokio::test]
    async fn unsafe_keys_are_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path().join("state"));
        for bad in [
            StateKey::new("", "dev"),
            StateKey::new("app", ""),
            StateKey::new("../app", "dev"),
            StateKey::new("app", "dev/../../x"),
            StateKey::new("a.b", "dev"),
            StateKey::new("app", "d\\ev"),
        ] {
            let err = store.load(&bad).await.unwrap_err();
            assert!(
                matches!(&err, StateError::Io { path, source }
                    if path == store.dir() && source.kind() == io::ErrorKind::InvalidInput),
                "{bad:?}: {err:?}"
            );
            assert!(
                store
                    .save(&StackState::new(bad.clone(), "r", "aws"))
                    .await
                    .is_err()
            );
            assert!(
                store
                    .lock(&bad, LockInfo::for_current_process("up"))
                    .await
                    .is_err()
            );
        }
        // Dots are fine in the environment: the stack name ends at the first one.
        let key = StateKey::new("app", "pr.42");
        store
            .save(&StackState::new(key.clone(), "r", "aws"))
            .await
            .unwrap();
        assert!(store.load(&key).await.unwrap().is_some());
        assert!(!tmp.path().join("x").exists());
    }
}
