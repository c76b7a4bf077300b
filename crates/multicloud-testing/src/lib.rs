//! One runner for the local stand-ins multicloud's tests start: the moto server, Azurite and
//! the processes of the local Kubernetes control plane are each a [`LocalProcess`] described
//! by a [`Builder`]:
//!
//! - an install step: an embedded install [`Script`] written to the cache directory
//!   ([`cache_dir`]) and run once per test process, printing where the program is;
//! - spawn with arguments and environment, stdout and stderr captured in a log file
//!   ([`LocalProcess::log_path`], [`LocalProcess::log_tail`]);
//! - wait-ready ([`WaitFor`]: a TCP port accepting, an HTTP GET answering, a log line, or a
//!   custom async check), with the log's tail in the error when it does not come up;
//! - [`free_port`]s that are never handed out twice in a process;
//! - die-with-the-parent: every process runs under one small `sh` watchdog that kills it
//!   (and removes its directory) as soon as the test process goes away, however it ends,
//!   even by SIGKILL, so no stand-in outlives its test run;
//! - the keep switch: `MULTICLOUD_KEEP_EMULATORS=1` ([`KEEP_ENV`]) starts processes without
//!   the watchdog and leaves them running, printing how to stop them.
//!
//! ```no_run
//! # async fn run() -> Result<(), multicloud_testing::Error> {
//! use multicloud_testing::{LocalProcess, WaitFor, free_port};
//!
//! let port = free_port()?;
//! let server = LocalProcess::builder("http", "python3")
//!     .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()])
//!     .wait_for(WaitFor::http(port, "/"))
//!     .start()
//!     .await?;
//! println!("serving on {port}, log {}", server.log_path().display());
//! # Ok(()) }
//! ```

pub mod fault;
pub mod http;
mod install;
mod ports;
mod process;
mod shared;
mod wait;

use std::io;
use std::path::PathBuf;

pub use install::{AZURITE_INSTALL, K8S_INSTALL, MOTO_INSTALL, MOTO_SERVER, Script};
pub use ports::{LocalServer, free_port, start_on_free_port};
pub use process::{Builder, LocalProcess};
pub use shared::Shared;
pub use wait::WaitFor;

/// Environment variable that, set to `1`, keeps stand-in processes running after the test.
pub const KEEP_ENV: &str = "MULTICLOUD_KEEP_EMULATORS";

/// Environment variable that, set to `1`, forbids installing stand-ins.
pub const NO_INSTALL_ENV: &str = "MULTICLOUD_NO_INSTALL";

/// Environment variable naming the cache root (default `~/.cache/multicloud`).
pub const CACHE_ENV: &str = "MULTICLOUD_CACHE";

/// Lines of a log quoted in errors.
pub const LOG_TAIL_LINES: usize = 30;

/// Why a stand-in could not be installed or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A process, file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was attempted.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An install script failed.
    #[error("{} failed ({status}):\n{output_tail}", script.display())]
    InstallFailed {
        /// The install script that was run.
        script: PathBuf,
        /// Its exit status (or what else went wrong).
        status: String,
        /// The last lines of its output.
        output_tail: String,
    },
    /// A process exited or did not become ready.
    #[error("{name} did not become ready: {reason}; log {}:\n{log_tail}", log.display())]
    NotReady {
        /// The process's name.
        name: String,
        /// What went wrong (timeout, early exit).
        reason: String,
        /// Its log file (kept for inspection).
        log: PathBuf,
        /// The last lines of the log.
        log_tail: String,
    },
}

/// What a [`Error::NotReady`] says: the reason, the log file and its tail.
pub type NotReadyParts = (String, PathBuf, String);

impl Error {
    /// The reason, log and log tail of an [`Error::NotReady`], or the error itself.
    pub fn into_not_ready(self) -> Result<NotReadyParts, Self> {
        match self {
            Self::NotReady {
                reason,
                log,
                log_tail,
                ..
            } => Ok((reason, log, log_tail)),
            other => Err(other),
        }
    }

    /// An [`Error::Io`].
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// Whether an environment flag's value means "on" (`1`, `true`, `yes`).
pub fn flag_is_set(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes"
    )
}

/// Whether the environment variable `name` is set to an "on" value ([`flag_is_set`]).
pub fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| flag_is_set(&v))
}

/// Whether `MULTICLOUD_KEEP_EMULATORS` asks to keep stand-ins running.
pub fn keep_from_env() -> bool {
    env_flag(KEEP_ENV)
}

/// The path the environment variable `name` names, if it is set and not empty.
pub fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The switches every stand-in reads from the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Switches {
    /// Whether a missing stand-in may be installed (not `MULTICLOUD_NO_INSTALL=1`).
    pub install: bool,
    /// Whether to keep it running after the test (`MULTICLOUD_KEEP_EMULATORS=1`).
    pub keep: bool,
}

impl Switches {
    /// The switches as the environment sets them.
    pub fn from_env() -> Self {
        Self {
            install: !env_flag(NO_INSTALL_ENV),
            keep: keep_from_env(),
        }
    }
}

/// The cache root: `$MULTICLOUD_CACHE`, else `$HOME/.cache/multicloud`, else a directory
/// in the system's temporary directory.
pub fn cache_dir() -> PathBuf {
    env_path(CACHE_ENV)
        .or_else(|| env_path("HOME").map(|home| home.join(".cache/multicloud")))
        .unwrap_or_else(|| std::env::temp_dir().join("multicloud-cache"))
}

/// The last `n` lines of `text`.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_keeps_the_tail() {
        let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let tail = last_lines(&text, 20);
        assert!(tail.starts_with("line 11\n"));
        assert!(tail.ends_with("line 30"));
        assert_eq!(last_lines("a\nb", 20), "a\nb");
    }

    #[test]
    fn flags_accept_the_usual_spellings() {
        for on in ["1", "true", "YES", " 1 "] {
            assert!(flag_is_set(on), "{on}");
        }
        for off in ["", "0", "no", "false", "2"] {
            assert!(!flag_is_set(off), "{off}");
        }
    }

    #[test]
    fn the_cache_dir_is_absolute_or_named() {
        let dir = cache_dir();
        assert!(dir.ends_with("multicloud") || dir.is_absolute(), "{dir:?}");
    }
}
