//! The lock files of [`LocalStateStore`](super::LocalStateStore).
//!
//! A lock is the file `<dir>/<stack>.<env>.lock`, created with `create_new` (atomic on local
//! file systems: exactly one creator wins) and holding the holder's [`LockInfo`] (with its
//! lease) as JSON. Whoever finds it existing takes it over when its lease ran out or its
//! process (on this machine) no longer exists, and is otherwise told who holds it
//! ([`StateError::Locked`]). Every change to an existing lock file (take-over, renewal,
//! release, force-unlock) happens under an exclusive OS lock on `<lock>.guard`, and the
//! holder's changes only while the file still holds its lock id: a run whose lock was taken
//! over never removes or extends the new holder's lock. So a killed run blocks the next one
//! for no time at all on the same machine (its pid is gone) and for at most one lease
//! elsewhere (a shared directory).

// `StateError` (defined by the `StateStore` trait) is large; its helpers return it as is.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::local::{blocking, io_err, temp_sibling};
use super::{LockInfo, StateError, StateKey, StateLock};

/// Owner reported for a lock file that cannot be parsed.
const UNREADABLE_OWNER: &str = "unknown (unreadable lock file)";

/// How often to try again to take a lock whose file disappeared between our attempt to
/// create it and our attempt to read it (its holder released it meanwhile).
const ACQUIRE_ATTEMPTS: usize = 3;

/// How often to read again a lock file that does not parse (it may be in the middle of being
/// written by its creator), and how long to wait in between.
const READ_RETRIES: u32 = 5;
const READ_RETRY_DELAY: Duration = Duration::from_millis(10);

/// A held lock file; removed by `release` or, best effort, on drop.
#[derive(Debug)]
pub(super) struct LocalLock {
    key: StateKey,
    path: PathBuf,
    info: LockInfo,
    /// The holder it was taken over from.
    previous: Option<LockInfo>,
    /// Set once released (or found lost), so that drop does nothing more.
    released: bool,
}

impl LocalLock {
    /// Creates the lock file `path` (in `dir`, created if missing) holding `info`, or takes
    /// over a stale one, or fails with [`StateError::Locked`] naming the current holder.
    pub(super) fn acquire_blocking(
        dir: &Path,
        path: PathBuf,
        key: StateKey,
        info: LockInfo,
    ) -> Result<Self, StateError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let bytes = to_bytes(&path, &info)?;
        let held = |previous| Self {
            key: key.clone(),
            path: path.clone(),
            info: info.clone(),
            previous,
            released: false,
        };
        for _ in 0..ACQUIRE_ATTEMPTS {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    if let Err(e) = file.write_all(&bytes).and_then(|()| file.sync_all()) {
                        drop(file);
                        // We created it a moment ago: it is ours to remove.
                        let _ = fs::remove_file(&path);
                        return Err(io_err(&path)(e));
                    }
                    return Ok(held(None));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let _guard = guard(&path)?;
                    let Some(holder) = read_holder(&path)? else {
                        continue; // Released between our two attempts: try again.
                    };
                    if let Some(reason) = holder.takeover_reason(Utc::now(), true) {
                        replace(&path, &bytes)?;
                        tracing::warn!(key = %key, previous = %holder.holder(), %reason, "took over the state lock");
                        return Ok(held(Some(holder)));
                    }
                    return Err(StateError::Locked {
                        key,
                        holder: Box::new(holder),
                    });
                }
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
        // The lock keeps changing hands under us: it is held, by someone we cannot name.
        Err(StateError::Locked {
            key,
            holder: Box::new(unreadable_holder(None)),
        })
    }

    /// Extends the lease if the file still holds our lock id, else [`StateError::LockLost`].
    fn renew_blocking(&mut self) -> Result<(), StateError> {
        let _guard = guard(&self.path)?;
        match read_holder(&self.path)? {
            Some(current) if current.id == self.info.id => {
                let renewed = self.info.clone().renewed(Utc::now());
                replace(&self.path, &to_bytes(&self.path, &renewed)?)?;
                self.info = renewed;
                Ok(())
            }
            _ => Err(self.lost()),
        }
    }

    /// Removes the lock file if it still holds our lock id; [`StateError::LockLost`] if it is
    /// gone or holds someone else's (it is then left alone).
    fn release_blocking(&self) -> Result<(), StateError> {
        let _guard = guard(&self.path)?;
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(self.lost()),
            Err(e) => return Err(io_err(&self.path)(e)),
        };
        match serde_json::from_slice::<LockInfo>(&bytes) {
            Ok(current) if current.id == self.info.id => match fs::remove_file(&self.path) {
                // NotFound: force-unlocked just now, after our work was done; nothing to do.
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&self.path)(e)),
                _ => Ok(()),
            },
            _ => Err(self.lost()),
        }
    }

    fn lost(&self) -> StateError {
        StateError::LockLost {
            key: self.key.clone(),
        }
    }

    /// Releases in a blocking context, marking the guard released unless an I/O error makes
    /// a retry on drop worthwhile.
    fn release_and_mark(&mut self) -> Result<(), StateError> {
        let result = self.release_blocking();
        if !matches!(result, Err(StateError::Io { .. })) {
            self.released = true;
        }
        result
    }
}

#[async_trait]
impl StateLock for LocalLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }

    fn taken_over(&self) -> Option<&LockInfo> {
        self.previous.as_ref()
    }

    async fn renew(&mut self) -> Result<(), StateError> {
        // Renewal is short (a small read and write under the guard, which is only ever held
        // for as long): done in place, once every third of a lease.
        self.renew_blocking()
    }

    async fn release(self: Box<Self>) -> Result<(), StateError> {
        let path = self.path.clone();
        // The guard moves into the task: if this future is dropped midway, the task still
        // finishes, and the guard's drop runs after it, never concurrently.
        let mut lock = self;
        blocking(path, move || lock.release_and_mark()).await
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        match self.release_and_mark() {
            Ok(()) => tracing::debug!(key = %self.key, "state lock released on drop"),
            Err(e) => {
                tracing::warn!(key = %self.key, error = %e, "state lock not released on drop")
            }
        }
    }
}

/// Who holds the lock file `path`, if it exists. A file that does not parse, even after a
/// few short waits for its writer, is reported as held by [`UNREADABLE_OWNER`] since its
/// modification time.
pub(super) fn read_holder(path: &Path) -> Result<Option<LockInfo>, StateError> {
    let mut attempt = 0;
    loop {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(path)(e)),
        };
        if let Ok(info) = serde_json::from_slice::<LockInfo>(&bytes) {
            return Ok(Some(info));
        }
        if attempt == READ_RETRIES {
            return Ok(Some(unreadable_holder(Some(path))));
        }
        attempt += 1;
        thread::sleep(READ_RETRY_DELAY);
    }
}

/// Removes the lock file `path` whatever it holds; returns who held it. The file is first
/// renamed away, so what is reported is exactly what was removed.
pub(super) fn force_unlock_blocking(path: &Path) -> Result<Option<LockInfo>, StateError> {
    let _guard = guard(path)?;
    let taken = temp_sibling(path, "broken");
    match fs::rename(path, &taken) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    }
    let holder = fs::read(&taken)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<LockInfo>(&bytes).ok())
        .unwrap_or_else(|| unreadable_holder(Some(&taken)));
    if let Err(e) = fs::remove_file(&taken) {
        tracing::warn!(path = %taken.display(), error = %e, "could not remove a broken lock file");
    }
    tracing::warn!(path = %path.display(), holder = %holder.holder(), "state lock forcibly removed");
    Ok(Some(holder))
}

/// Holds the exclusive OS lock on `<path>.guard` until dropped: every change to an existing
/// lock file is made under it.
fn guard(path: &Path) -> Result<fs::File, StateError> {
    let guard_path = temp_sibling_fixed(path, "guard");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&guard_path)
        .map_err(io_err(&guard_path))?;
    file.lock().map_err(io_err(&guard_path))?;
    Ok(file)
}

/// `<path>.<suffix>`.
fn temp_sibling_fixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically (a synced temporary file renamed over it).
fn replace(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let temp = temp_sibling(path, "tmp");
    let written = fs::File::create(&temp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(io_err(path)(e));
    }
    Ok(())
}

fn to_bytes(path: &Path, info: &LockInfo) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec_pretty(info).map_err(|e| StateError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, e),
    })
}

/// The holder reported for a lock file that cannot be parsed: since its modification time
/// (or now, without a file or a time).
fn unreadable_holder(path: Option<&Path>) -> LockInfo {
    let since = path
        .and_then(|p| fs::metadata(p).and_then(|m| m.modified()).ok())
        .map(DateTime::<Utc>::from);
    LockInfo::unreadable(UNREADABLE_OWNER, since)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::state::{LocalStateStore, StackState, StateStore};

    fn key() -> StateKey {
        StateKey::new("app", "dev")
    }

    /// A live holder on another machine (its pid cannot be checked from here).
    fn info(owner: &str, pid: u32) -> LockInfo {
        LockInfo {
            owner: owner.into(),
            pid,
            host: "another-machine".into(),
            ..LockInfo::for_current_process("up")
        }
    }

    #[tokio::test]
    async fn a_lock_of_a_dead_process_on_this_machine_is_taken_over_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        // pid 0 is never a user process; u32::MAX - 1 is above any pid_max.
        let dead = LockInfo {
            pid: u32::MAX - 1,
            ..LockInfo::for_current_process("up")
        };
        std::mem::forget(store.lock(&key(), dead.clone()).await.unwrap());
        let next = store
            .lock(&key(), LockInfo::for_current_process("down"))
            .await
            .unwrap();
        assert_eq!(
            next.taken_over().map(|p| p.id.as_str()),
            Some(dead.id.as_str())
        );
        assert_eq!(
            store.lock_holder(&key()).unwrap().map(|h| h.id),
            Some(next.info().id.clone())
        );
        next.release().await.unwrap();
    }

    #[tokio::test]
    async fn a_live_holder_on_this_machine_blocks_until_its_lease_runs_out() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        let short = LockInfo::for_current_process("up").with_lease(Duration::from_millis(200));
        let mut held = store.lock(&key(), short).await.unwrap();
        // This very process is alive: only the lease can free it.
        let err = store
            .lock(&key(), LockInfo::for_current_process("down"))
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::Locked { .. }), "{err}");
        held.renew().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let next = store
            .lock(&key(), LockInfo::for_current_process("down"))
            .await
            .unwrap();
        assert!(next.taken_over().is_some());
        assert!(matches!(
            held.renew().await,
            Err(StateError::LockLost { .. })
        ));
        assert!(matches!(
            held.release().await,
            Err(StateError::LockLost { .. })
        ));
        assert_eq!(
            store.lock_holder(&key()).unwrap().map(|h| h.id),
            Some(next.info().id.clone())
        );
        next.release().await.unwrap();
    }

    #[tokio::test]
    async fn second_lock_reports_the_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path().join("state"));
        let first = store
            .lock(&key(), info("alice@laptop", 4242))
            .await
            .unwrap();
        assert!(tmp.path().join("state").join("app.dev.lock").is_file());

        match store.lock(&key(), info("bob@ci", 7)).await.unwrap_err() {
            StateError::Locked { key: k, holder } => {
                assert_eq!(k, key());
                assert_eq!(&*holder, first.info());
                assert_eq!(holder.owner, "alice@laptop");
                assert_eq!(holder.pid, 4242);
                assert_eq!(holder.since, first.info().since);
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        assert_eq!(
            store.lock_holder(&key()).unwrap().as_ref(),
            Some(first.info())
        );
        first.release().await.unwrap();
        assert_eq!(store.lock_holder(&key()).unwrap(), None);
    }

    #[tokio::test]
    async fn locks_of_different_keys_are_independent() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        let dev = store.lock(&key(), info("a@h", 1)).await.unwrap();
        let prod = store
            .lock(&StateKey::new("app", "prod"), info("b@h", 2))
            .await
            .unwrap();
        let other = store
            .lock(&StateKey::new("other", "dev"), info("c@h", 3))
            .await
            .unwrap();
        dev.release().await.unwrap();
        prod.release().await.unwrap();
        other.release().await.unwrap();
    }

    #[tokio::test]
    async fn release_then_relock_works() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        for _ in 0..3 {
            let lock = store.lock(&key(), info("a@h", 1)).await.unwrap();
            lock.release().await.unwrap();
        }
        assert!(!tmp.path().join("app.dev.lock").exists());
    }

    #[tokio::test]
    async fn drop_releases() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        let lock = store.lock(&key(), info("a@h", 1)).await.unwrap();
        drop(lock);
        assert!(!tmp.path().join("app.dev.lock").exists());
        let again = store.lock(&key(), info("b@h", 2)).await.unwrap();
        again.release().await.unwrap();
    }

    #[tokio::test]
    async fn force_unlock_returns_the_holder_and_frees_the_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        assert_eq!(store.force_unlock(&key()).await.unwrap(), None);

        let stale = store.lock(&key(), info("crashed@host", 99)).await.unwrap();
        let stale_info = stale.info().clone();
        // A crashed process never releases: its guard is not dropped either.
        std::mem::forget(stale);

        assert!(matches!(
            store.lock(&key(), info("b@h", 2)).await,
            Err(StateError::Locked { .. })
        ));
        assert_eq!(store.force_unlock(&key()).await.unwrap(), Some(stale_info));
        let fresh = store.lock(&key(), info("b@h", 2)).await.unwrap();
        fresh.release().await.unwrap();
        // The broken lock was renamed away then removed: nothing left but the guard.
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["app.dev.lock.guard"]);
    }

    #[tokio::test]
    async fn release_after_lock_was_broken_and_retaken_is_lock_lost() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        let ours = store.lock(&key(), info("slow@host", 1)).await.unwrap();
        store.force_unlock(&key()).await.unwrap();
        let theirs = store.lock(&key(), info("other@host", 2)).await.unwrap();

        match ours.release().await.unwrap_err() {
            StateError::LockLost { key: k } => assert_eq!(k, key()),
            other => panic!("expected LockLost, got {other:?}"),
        }
        // Their lock is intact.
        assert_eq!(
            store.lock_holder(&key()).unwrap().as_ref(),
            Some(theirs.info())
        );
        assert!(matches!(
            store.lock(&key(), info("third@host", 3)).await,
            Err(StateError::Locked { holder, .. }) if holder.owner == "other@host"
        ));

        // Nor does a lost guard's drop remove it.
        let lost = {
            let theirs_info = theirs.info().clone();
            std::mem::forget(theirs);
            store.force_unlock(&key()).await.unwrap();
            let newest = store.lock(&key(), info("newest@host", 4)).await.unwrap();
            drop(LocalLock {
                key: key(),
                path: tmp.path().join("app.dev.lock"),
                info: theirs_info,
                previous: None,
                released: false,
            });
            newest
        };
        assert_eq!(
            store.lock_holder(&key()).unwrap().as_ref(),
            Some(lost.info())
        );
        lost.release().await.unwrap();
    }

    #[tokio::test]
    async fn unreadable_lock_file_still_counts_as_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(tmp.path());
        let path = tmp.path().join("app.dev.lock");
        std::fs::write(&path, "not json").unwrap();
        let mtime = DateTime::<Utc>::from(std::fs::metadata(&path).unwrap().modified().unwrap());

        match store.lock(&key(), info("a@h", 1)).await.unwrap_err() {
            StateError::Locked { holder, .. } => {
                assert_eq!(holder.owner, UNREADABLE_OWNER);
                assert_eq!(holder.since, mtime);
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not json");
        let holder = store.lock_holder(&key()).unwrap().unwrap();
        assert_eq!(holder.owner, UNREADABLE_OWNER);

        let broken = store.force_unlock(&key()).await.unwrap().unwrap();
        assert_eq!(broken.owner, UNREADABLE_OWNER);
        assert_eq!(broken.since, mtime);
        store
            .lock(&key(), info("a@h", 1))
            .await
            .unwrap()
            .release()
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_lockers_exactly_one_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStateStore::new(tmp.path().join("state")));
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .lock(&key(), info(&format!("racer-{i}@host"), i))
                        .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut losers = 0;
        // Winners' guards are kept until every task has finished, so nobody can take the
        // lock after a release.
        for task in tasks {
            match task.await.unwrap() {
                Ok(lock) => winners.push(lock),
                Err(StateError::Locked { key: k, .. }) => {
                    assert_eq!(k, key());
                    losers += 1;
                }
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1);
        assert_eq!(losers, 15);
        let holder = store.lock_holder(&key()).unwrap();
        assert_eq!(holder.as_ref(), Some(winners[0].info()));
        for lock in winners {
            lock.release().await.unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn locked_read_modify_write_loses_no_update() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStateStore::new(tmp.path()));
        store
            .save(&StackState::new(key(), "us-east-1", "aws"))
            .await
            .unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for _ in 0..25 {
                        let lock = loop {
                            match store.lock(&key(), info(&format!("w{i}@host"), i)).await {
                                Ok(lock) => break lock,
                                Err(StateError::Locked { .. }) => {
                                    tokio::time::sleep(Duration::from_millis(1)).await;
                                }
                                Err(other) => panic!("lock: {other:?}"),
                            }
                        };
                        let mut state = store.load(&key()).await.unwrap().unwrap();
                        state.serial += 1;
                        store.save(&state).await.unwrap();
                        lock.release().await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let state = store.load(&key()).await.unwrap().unwrap();
        assert_eq!(state.serial, 200);
        let mut names: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        // No temporary or lock file left behind; the guard of the lock file stays (it is
        // only ever locked, never holds data).
        assert_eq!(
            names,
            ["app.dev.json", "app.dev.json.backup", "app.dev.lock.guard"]
        );
    }
}
