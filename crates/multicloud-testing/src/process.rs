//! [`LocalProcess`]: a stand-in process with its log, its watchdog and its keep switch.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{Error, LOG_TAIL_LINES, WaitFor, keep_from_env, last_lines};

/// Default of [`Builder::ready_timeout`].
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Interval between readiness probes.
const READY_POLL: Duration = Duration::from_millis(100);
/// How long a stop waits for the process to go before killing it directly.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// A file in a process's directory that tells the watchdog to leave the directory alone.
const RETAIN_MARKER: &str = ".multicloud-retain";

/// The one die-with-the-parent mechanism. `sh -c WATCHDOG watchdog DIR PROGRAM ARGS...`
/// keeps its stdin (our pipe) as fd 3 for a background watcher and then `exec`s the
/// program, which keeps the shell's pid. The watcher blocks until the pipe reaches
/// end-of-file, i.e. when the [`LocalProcess`] is dropped or the test process dies however
/// it ends (even SIGKILL), then kills the program and removes DIR (if not empty and not
/// marked with [`RETAIN_MARKER`]).
const WATCHDOG: &str = r#"dir="$1"; shift
exec 3<&0
(
  cat <&3 >/dev/null
  kill -KILL $$ 2>/dev/null
  if [ -n "$dir" ]; then
    n=0
    while kill -0 $$ 2>/dev/null && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
    [ -e "$dir/.multicloud-retain" ] || rm -rf -- "$dir"
  fi
) </dev/null >/dev/null 2>&1 &
exec 3<&-
exec "$@" </dev/null"#;

/// Removes the directory of `log` if a failed start retained it ([`RETAIN_MARKER`]): the
/// failure is not reported, so its log is of no use.
pub(crate) fn discard_retained(log: &Path) {
    if let Some(dir) = log.parent()
        && dir.join(RETAIN_MARKER).exists()
    {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A unique suffix for names in this process (`<pid>-<counter>`).
pub(crate) fn unique_suffix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// How to start a [`LocalProcess`]; made by [`LocalProcess::builder`].
#[derive(Debug)]
pub struct Builder {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    dir: Option<(PathBuf, bool)>,
    keep: Option<bool>,
    wait_for: WaitFor,
    ready_timeout: Duration,
}

impl Builder {
    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable of the process.
    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Runs in `dir` (which must exist), with the log `<dir>/<name>.log`; `remove`: the
    /// directory is removed when the process is stopped (on drop, or by the watchdog when
    /// the test process ends). Default: a fresh directory of its own ([`fresh_dir`]),
    /// removed.
    ///
    /// [`fresh_dir`]: LocalProcess::fresh_dir
    #[must_use]
    pub fn dir(mut self, dir: impl Into<PathBuf>, remove: bool) -> Self {
        self.dir = Some((dir.into(), remove));
        self
    }

    /// Keeps the process running after drop (and after the test process) instead of the
    /// default read from `MULTICLOUD_KEEP_EMULATORS`.
    #[must_use]
    pub fn keep(mut self, keep: bool) -> Self {
        self.keep = Some(keep);
        self
    }

    /// What [`start`](Self::start) waits for (default: [`WaitFor::Nothing`]).
    #[must_use]
    pub fn wait_for(mut self, wait_for: WaitFor) -> Self {
        self.wait_for = wait_for;
        self
    }

    /// How long [`start`](Self::start) waits (default 60 s).
    #[must_use]
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Spawns the process without waiting for it to be ready.
    pub fn spawn(self) -> Result<LocalProcess, Error> {
        let keep = self.keep.unwrap_or_else(keep_from_env);
        let (dir, remove_dir) = match self.dir {
            Some(dir) => dir,
            None => (LocalProcess::fresh_dir(&self.name)?, true),
        };
        let log = dir.join(format!("{}.log", self.name));
        let out = std::fs::File::create(&log)
            .map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        let err = out
            .try_clone()
            .map_err(|e| Error::io(format!("opening {}", log.display()), e))?;
        let mut command = if keep {
            let mut c = Command::new(&self.program);
            c.stdin(Stdio::null());
            c
        } else {
            let mut c = Command::new("sh");
            c.arg("-c").arg(WATCHDOG).arg("watchdog");
            c.arg(if remove_dir {
                dir.as_os_str()
            } else {
                OsStr::new("")
            });
            c.arg(&self.program).stdin(Stdio::piped());
            c
        };
        let mut child = command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&dir)
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", self.program.display()), e))?;
        let process = LocalProcess {
            name: self.name,
            pid: child.id(),
            pipe: child.stdin.take(),
            child,
            dir,
            log,
            keep,
            remove_dir,
        };
        if keep {
            process.announce_kept("will be left running");
        }
        Ok(process)
    }

    /// Spawns the process and waits until it is ready ([`wait_for`](Self::wait_for)); if
    /// it exits or the time runs out, it is stopped (even when kept) and the error quotes
    /// its log, which is retained.
    pub async fn start(self) -> Result<LocalProcess, Error> {
        let (wait_for, timeout) = (self.wait_for.clone(), self.ready_timeout);
        let mut process = self.spawn()?;
        let deadline = Instant::now() + timeout;
        loop {
            process.check_running()?;
            if wait_for.holds(&process.log).await {
                break;
            }
            if Instant::now() >= deadline {
                let reason = format!("no {wait_for} within {} s", timeout.as_secs());
                return Err(process.failure(reason));
            }
            tokio::time::sleep(READY_POLL).await;
        }
        // Someone else may be answering if the process failed to bind its port.
        process.check_running()?;
        tracing::debug!(name = %process.name, pid = process.pid, "ready");
        Ok(process)
    }
}

/// A running stand-in process with stdout and stderr in a log file. Dropping it stops the
/// process (closing the watchdog's pipe, which kills it) and removes its directory, unless
/// it is kept (`MULTICLOUD_KEEP_EMULATORS=1`): then it runs on and how to stop it is printed.
pub struct LocalProcess {
    name: String,
    pid: u32,
    child: Child,
    /// Held open while the process should live; closing it makes the watchdog kill it.
    pipe: Option<ChildStdin>,
    dir: PathBuf,
    log: PathBuf,
    keep: bool,
    remove_dir: bool,
}

impl fmt::Debug for LocalProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalProcess")
            .field("name", &self.name)
            .field("pid", &self.pid)
            .field("log", &self.log)
            .field("keep", &self.keep)
            .finish()
    }
}

impl LocalProcess {
    /// Describes a process `name` (used for its log file and in messages) running
    /// `program` (a path, or a name looked up in `PATH`).
    pub fn builder(name: impl Into<String>, program: impl Into<PathBuf>) -> Builder {
        Builder {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
            keep: None,
            wait_for: WaitFor::Nothing,
            ready_timeout: READY_TIMEOUT,
        }
    }

    /// Creates a fresh directory `multicloud-<prefix>-<pid>-<n>` in the system's temporary
    /// directory.
    pub fn fresh_dir(prefix: &str) -> Result<PathBuf, Error> {
        let dir = std::env::temp_dir().join(format!("multicloud-{prefix}-{}", unique_suffix()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(dir)
    }

    /// The name it was described with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its process id (the program's own: the watchdog `exec`s it).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its directory (working directory, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its log file (stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Whether it is left running on drop.
    pub fn is_kept(&self) -> bool {
        self.keep
    }

    /// The last `n` lines of its log, or a note why the log cannot be read.
    pub fn log_tail(&self, n: usize) -> String {
        match std::fs::read(&self.log) {
            Ok(bytes) => last_lines(&String::from_utf8_lossy(&bytes), n),
            Err(error) => format!("(cannot read {}: {error})", self.log.display()),
        }
    }

    /// How to stop it by hand (for a kept process).
    pub fn stop_hint(&self) -> String {
        format!("kill {}", self.pid)
    }

    /// An error if the process has exited, quoting its log.
    pub fn check_running(&mut self) -> Result<(), Error> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(self.failure(format!("it exited ({status})"))),
            _ => Ok(()),
        }
    }

    /// A [`Error::NotReady`] of this process quoting its log. The process will be stopped
    /// on drop even when kept, and its directory (with the log) retained.
    pub fn failure(&mut self, reason: impl Into<String>) -> Error {
        self.keep = false;
        self.retain_dir();
        Error::NotReady {
            name: self.name.clone(),
            reason: reason.into(),
            log: self.log.clone(),
            log_tail: self.log_tail(LOG_TAIL_LINES),
        }
    }

    /// Leaves its directory in place when it is stopped (also by the watchdog).
    pub fn retain_dir(&mut self) {
        if self.remove_dir {
            self.remove_dir = false;
            let _ = std::fs::write(self.dir.join(RETAIN_MARKER), b"");
        }
    }

    fn announce_kept(&self, what: &str) {
        let message = format!(
            "{}=1: {} (pid {}, log {}) {what}; stop it with `{}`",
            crate::KEEP_ENV,
            self.name,
            self.pid,
            self.log.display(),
            self.stop_hint()
        );
        tracing::warn!("{message}");
        eprintln!("{message}");
    }

    /// Stops the process: closes the watchdog's pipe, waits up to 10 s, then kills it.
    fn stop(&mut self) {
        if self.pipe.take().is_none() {
            // Started kept (no watchdog), then failed: kill it directly.
            let _ = self.child.kill();
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalProcess {
    fn drop(&mut self) {
        if self.keep {
            self.announce_kept("left running");
            return;
        }
        self.stop();
        if self.remove_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
