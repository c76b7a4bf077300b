//! The control plane's processes: each runs under a small watchdog (`bash`) that kills it when
//! our stdin pipe closes, i.e. when the [`ControlPlane`](super::ControlPlane) is dropped OR the
//! test process dies in any way (even SIGKILL), so no apiserver outlives its test run.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::ControlPlaneError;

/// Runs `"$@"` and exits with its status; a background reader kills it once our pipe (stdin,
/// kept as fd 3: background jobs get `/dev/null` as stdin) reaches end-of-file.
const WATCHDOG: &str = r#"exec 3<&0; "$@" </dev/null & c=$!; (cat <&3 >/dev/null; kill -KILL "$c" 2>/dev/null) & exec 3<&-; wait "$c""#;

/// How many lines of a process's log an error shows.
const LOG_TAIL_LINES: usize = 30;

/// One running process of the plane.
pub(crate) struct Process {
    pub(crate) name: &'static str,
    child: Child,
    /// Held open while the process should live; closing it stops the process.
    stdin: Option<ChildStdin>,
    log: PathBuf,
}

impl Process {
    /// Starts `bin args` with stdout and stderr in `dir/<name>.log`; under the watchdog
    /// unless `keep` (a kept process must outlive us).
    pub(crate) fn spawn(
        name: &'static str,
        bin: &Path,
        args: &[String],
        dir: &Path,
        keep: bool,
    ) -> Result<Self, ControlPlaneError> {
        let log = dir.join(format!("{name}.log"));
        let io = |what: String| move |source| ControlPlaneError::Io { what, source };
        let out = std::fs::File::create(&log).map_err(io(format!("creating {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(io(format!("opening {}", log.display())))?;
        let mut command = if keep {
            let mut c = Command::new(bin);
            c.args(args).stdin(Stdio::null());
            c
        } else {
            let mut c = Command::new("bash");
            c.arg("-c")
                .arg(WATCHDOG)
                .arg(name)
                .arg(bin)
                .args(args)
                .stdin(Stdio::piped());
            c
        };
        let mut child = command
            .current_dir(dir)
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(io(format!("starting {}", bin.display())))?;
        let stdin = child.stdin.take();
        Ok(Self {
            name,
            child,
            stdin,
            log,
        })
    }

    /// An error if the process has already exited, with its log's tail.
    pub(crate) fn check_running(&mut self) -> Result<(), ControlPlaneError> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(self.failed(format!("exited early ({status})"))),
            _ => Ok(()),
        }
    }

    /// A start failure of this process, with its log's tail.
    pub(crate) fn failed(&self, message: String) -> ControlPlaneError {
        ControlPlaneError::Start {
            process: self.name,
            message,
            log_tail: log_tail(&self.log),
        }
    }

    /// Stops the process (closing the watchdog's pipe) and waits up to 10 s for it.
    pub(crate) fn stop(&mut self) {
        if self.stdin.take().is_none() {
            return; // kept, or stopped already
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes `dir` once the returned pipe closes: when the plane is dropped, or when the test
/// process ends without dropping it (a plane shared in a `static`, a killed test).
pub(crate) fn janitor(dir: &Path) -> Result<ChildStdin, ControlPlaneError> {
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(r#"cat >/dev/null; sleep 1; rm -rf -- "$1""#)
        .arg("janitor")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| ControlPlaneError::Io {
            what: "starting the clean-up watcher".into(),
            source,
        })?;
    child
        .stdin
        .take()
        .ok_or_else(|| ControlPlaneError::Setup("no pipe to the clean-up watcher".into()))
}

/// The last lines of a log file.
pub(crate) fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

/// A loopback port that was free a moment ago.
pub(crate) fn free_port() -> Result<u16, ControlPlaneError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| ControlPlaneError::Io {
            what: "finding a free loopback port".into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_stops_the_process_when_its_pipe_closes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut p = Process::spawn(
            "sleeper",
            Path::new("sleep"),
            &["300".to_string()],
            dir.path(),
            false,
        )
        .expect("spawn");
        std::thread::sleep(Duration::from_millis(300));
        p.check_running()
            .expect("still running while the pipe is open");
        let started = Instant::now();
        p.stop();
        assert!(p.child.try_wait().expect("status").is_some());
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn an_early_exit_is_reported_with_the_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut p = Process::spawn(
            "failing",
            Path::new("sh"),
            &["-c".to_string(), "echo boom; exit 3".to_string()],
            dir.path(),
            false,
        )
        .expect("spawn");
        std::thread::sleep(Duration::from_millis(300));
        let err = p.check_running().expect_err("it exited");
        let text = err.to_string();
        assert!(text.contains("failing") && text.contains("boom"), "{text}");
    }
}
