//! Spawning the moto process (directly or behind the watchdog launcher), waiting until it
//! answers, and stopping it (or keeping it) on drop; port reservations and log tails.

use std::collections::HashSet;
use std::io;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::process::Command;
use tokio::time::Instant;

use super::http::http_call;
use super::{KEEP_ENV, LOG_TAIL_LINES, MotoError, MotoServer, io_error};

/// How long [`MotoServer::start`] waits for the server to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Interval between readiness probes.
const READY_POLL: Duration = Duration::from_millis(100);
/// Timeout of one readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs moto like `python -m moto.server ARGS`, but exits as soon as its stdin reaches
/// end-of-file, i.e. when the process that started it goes away, however it ends, and then
/// removes its work dir (named by `MULTICLOUD_MOTO_WORK_DIR`). Without this, a server held
/// in a `static` (see [`MotoServer::shared`]), which is never dropped, or one started by a
/// test process that aborted, would outlive the test process and leave its log behind.
const WATCHDOG_LAUNCHER: &str = "\
import os, runpy, shutil, sys, threading
def _exit_when_parent_is_gone():
    try:
        sys.stdin.buffer.read()
    finally:
        work_dir = os.environ.get('MULTICLOUD_MOTO_WORK_DIR')
        if work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
        os._exit(0)
threading.Thread(target=_exit_when_parent_is_gone, daemon=True).start()
runpy.run_module('moto.server', run_name='__main__', alter_sys=True)
";

impl MotoServer {
    pub(super) async fn spawn_and_wait(
        python: &Path,
        keep: bool,
    ) -> Result<MotoServer, StartFailure> {
        let port = reserve_free_port().map_err(StartFailure::Fatal)?;
        let work_dir = std::env::temp_dir().join(format!(
            "multicloud-moto-{}-{port}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        // From here on, `server` owns the port reservation and the work dir and cleans both
        // up when dropped on an error path.
        let mut server = MotoServer {
            port,
            pid: None,
            child: None,
            log_path: work_dir.join("moto.log"),
            work_dir,
            keep,
            keep_work_dir: false,
        };
        std::fs::create_dir_all(&server.work_dir)
            .map_err(|e| io_error(format!("creating {}", server.work_dir.display()), e))
            .map_err(StartFailure::Fatal)?;
        let mut command = server.command(python)?;
        let child = command
            .spawn()
            .map_err(|e| io_error(format!("spawning {} -m moto.server", python.display()), e))
            .map_err(StartFailure::Fatal)?;
        server.pid = child.id();
        server.child = Some(child);

        server.wait_ready().await?;
        tracing::debug!(endpoint = %server.endpoint(), pid = ?server.pid, "moto server ready");
        Ok(server)
    }

    /// The command running moto on this server's port and work dir, logging to its log.
    fn command(&self, python: &Path) -> Result<Command, StartFailure> {
        let server = self;
        let (keep, port) = (self.keep, self.port);
        let log = std::fs::File::create(&server.log_path)
            .map_err(|e| io_error(format!("creating {}", server.log_path.display()), e))
            .map_err(StartFailure::Fatal)?;
        let log_err = log
            .try_clone()
            .map_err(|e| io_error(format!("opening {}", server.log_path.display()), e))
            .map_err(StartFailure::Fatal)?;

        let mut command = Command::new(python);
        if keep {
            // Kept servers must survive this process: run moto directly.
            command.args(["-m", "moto.server"]).stdin(Stdio::null());
        } else {
            command
                .args(["-c", WATCHDOG_LAUNCHER])
                .env("MULTICLOUD_MOTO_WORK_DIR", &server.work_dir)
                .stdin(Stdio::piped());
        }
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .env("PYTHONUNBUFFERED", "1")
            .current_dir(&server.work_dir)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .kill_on_drop(true);
        Ok(command)
    }

    /// Waits until the spawned moto answers, or fails with its log's tail.
    async fn wait_ready(&mut self) -> Result<(), StartFailure> {
        let server = self;
        let port = server.port;
        let Some(child) = server.child.as_mut() else {
            return Err(StartFailure::Fatal(MotoError::NotReady {
                reason: "moto was not spawned".into(),
                log: server.log_path.clone(),
                log_tail: String::new(),
            }));
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let tail = log_tail(&server.log_path);
                let error = MotoError::NotReady {
                    reason: format!("moto exited with {status} before answering"),
                    log: server.log_path.clone(),
                    log_tail: tail.clone(),
                };
                server.retain_work_dir();
                return Err(if tail.contains("Address already in use") {
                    StartFailure::PortTaken(error)
                } else {
                    StartFailure::Fatal(error)
                });
            }
            if let Ok(response) = http_call(port, "GET", "/moto-api/", PROBE_TIMEOUT).await
                && response.status == 200
            {
                break;
            }
            if Instant::now() >= deadline {
                server.retain_work_dir();
                return Err(StartFailure::Fatal(MotoError::NotReady {
                    reason: format!(
                        "GET {}/moto-api/ did not answer 200 within {} s",
                        server.endpoint(),
                        READY_TIMEOUT.as_secs()
                    ),
                    log: server.log_path.clone(),
                    log_tail: log_tail(&server.log_path),
                }));
            }
            tokio::time::sleep(READY_POLL).await;
        }

        // Someone else may have answered on the port if our process failed to bind it.
        if let Ok(Some(status)) = child.try_wait() {
            server.retain_work_dir();
            return Err(StartFailure::PortTaken(MotoError::NotReady {
                reason: format!("moto exited with {status}; another process answers on the port"),
                log: server.log_path.clone(),
                log_tail: log_tail(&server.log_path),
            }));
        }

        Ok(())
    }

    /// Marks a server that failed to start: its process is stopped on drop even with
    /// `MULTICLOUD_KEEP_EMULATORS=1`, but its work dir is kept, since the error points at
    /// the log in it.
    fn retain_work_dir(&mut self) {
        self.keep = false;
        self.keep_work_dir = true;
    }

    fn remove_work_dir(&self) {
        if !self.keep_work_dir {
            let _ = std::fs::remove_dir_all(&self.work_dir);
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        release_port(self.port);
        let Some(mut child) = self.child.take() else {
            self.remove_work_dir();
            return;
        };
        if self.keep {
            tracing::warn!(
                endpoint = %self.endpoint(),
                pid = ?self.pid,
                log = %self.log_path.display(),
                "{KEEP_ENV}=1: leaving the moto server running; kill it when done"
            );
            // Dropping the handle would kill the process (kill_on_drop).
            std::mem::forget(child);
            return;
        }
        if let Err(error) = child.start_kill() {
            tracing::debug!(%error, pid = ?self.pid, "stopping moto server");
        }
        drop(child);
        self.remove_work_dir();
    }
}

/// A start attempt failed; `PortTaken` is worth retrying on another port.
pub(super) enum StartFailure {
    PortTaken(MotoError),
    Fatal(MotoError),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Ports handed out to servers of this process that are still alive, so that two servers
/// started at the same time never get the same port.
static RESERVED_PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Picks a free port on 127.0.0.1 (bind port 0, read it, close it) not reserved by another
/// server of this process, and reserves it.
fn reserve_free_port() -> Result<u16, MotoError> {
    for _ in 0..50 {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| io_error("binding a free port on 127.0.0.1".to_owned(), e))?;
        let port = listener
            .local_addr()
            .map_err(|e| io_error("reading the bound port".to_owned(), e))?
            .port();
        drop(listener);
        if lock(&RESERVED_PORTS)
            .get_or_insert_with(HashSet::new)
            .insert(port)
        {
            return Ok(port);
        }
    }
    Err(io_error(
        "finding a free port on 127.0.0.1".to_owned(),
        io::Error::new(
            io::ErrorKind::AddrInUse,
            "no unreserved port after 50 tries",
        ),
    ))
}

fn release_port(port: u16) {
    if let Some(ports) = lock(&RESERVED_PORTS).as_mut() {
        ports.remove(&port);
    }
}

/// The last `LOG_TAIL_LINES` lines of a log file, or a note why it cannot be read.
fn log_tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => last_lines(&String::from_utf8_lossy(&bytes), LOG_TAIL_LINES),
        Err(error) => format!("(cannot read {}: {error})", path.display()),
    }
}

pub(super) fn last_lines(text: &str, n: usize) -> String {
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
    fn reserved_ports_are_unique_until_released() {
        let a = reserve_free_port().expect("a port");
        let b = reserve_free_port().expect("another port");
        assert_ne!(a, b);
        release_port(a);
        release_port(b);
    }
}
