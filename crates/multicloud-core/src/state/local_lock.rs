//! The lock files of [`LocalStateStore`](super::LocalStateStore).
//!
//! A lock is the file `<dir>/<stack>.<env>/<scope>.lock` (see [`super::local`]), created
//! with `create_new` (atomic on local file systems: exactly one creator wins) and holding
//! the holder's [`LockInfo`] (with its lease) as JSON. Whoever finds it existing takes it over when its lease ran out or its
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
mod tests;
