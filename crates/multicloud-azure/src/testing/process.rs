//! Spawning `azurite-blob` (behind a watchdog launcher), waiting until it answers, and
//! stopping it (or keeping it) on drop.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio::time::Instant;

use super::{Azurite, AzuriteError, KEEP_ENV, LOG_TAIL_LINES, io_error, last_lines};

/// How long [`Azurite::start`] waits for the emulator to answer (it takes ~1.3 s).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Interval between readiness probes.
const READY_POLL: Duration = Duration::from_millis(100);
/// Timeout of one readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Attempts to start on a fresh port when the chosen one was taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// Runs Azurite's `main.js` (named by `MULTICLOUD_AZURITE_MAIN`, with this script's
/// arguments), but exits as soon as its stdin reaches end-of-file, i.e. when the process
/// that started it goes away however it ends (a server held in a `static`, see
/// [`Azurite::shared`], is never dropped), and then removes its data directory.
const WATCHDOG_LAUNCHER: &str = r#"
const fs = require("fs");
const workDir = process.env.MULTICLOUD_AZURITE_WORK_DIR;
const stop = () => {
  try { if (workDir) fs.rmSync(workDir, { recursive: true, force: true }); } catch (e) {}
  process.exit(0);
};
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
require(process.env.MULTICLOUD_AZURITE_MAIN);
"#;

/// Starts the emulator on a free port, trying other ports if the chosen one was taken.
pub(super) async fn start(bin: &Path, keep: bool) -> Result<Azurite, AzuriteError> {
    let mut last = None;
    for _ in 0..START_ATTEMPTS {
        match spawn_and_wait(bin, keep).await {
            Ok(azurite) => return Ok(azurite),
            Err(error @ AzuriteError::NotReady { .. })
                if matches!(&error, AzuriteError::NotReady { log_tail, .. }
                    if log_tail.contains("EADDRINUSE")) =>
            {
                last = Some(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(last.unwrap_or_else(|| {
        io_error(
            "starting Azurite",
            std::io::Error::other("no attempt was made"),
        )
    }))
}

async fn spawn_and_wait(bin: &Path, keep: bool) -> Result<Azurite, AzuriteError> {
    let port = free_port()?;
    let work_dir = std::env::temp_dir().join(format!(
        "multicloud-azurite-{}-{port}-{:08x}",
        std::process::id(),
        rand_suffix()
    ));
    // From here on, `azurite` owns the work dir and cleans it up when dropped.
    let mut azurite = Azurite {
        port,
        pid: None,
        child: None,
        log_path: work_dir.join("azurite.log"),
        work_dir,
        keep,
        keep_work_dir: false,
    };
    let data = azurite.work_dir.join("data");
    std::fs::create_dir_all(&data)
        .map_err(|e| io_error(format!("creating {}", data.display()), e))?;
    let log = std::fs::File::create(&azurite.log_path)
        .map_err(|e| io_error(format!("creating {}", azurite.log_path.display()), e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| io_error(format!("opening {}", azurite.log_path.display()), e))?;

    let mut command = launcher(bin, &azurite.work_dir, keep)?;
    command
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .arg("--location")
        .arg(&data)
        .arg("--disableTelemetry")
        .current_dir(&azurite.work_dir)
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|e| io_error(format!("spawning {}", bin.display()), e))?;
    azurite.pid = child.id();
    azurite.child = Some(child);
    azurite.wait_ready().await?;
    if keep {
        // A shared emulator is never dropped: say now where the kept process is.
        tracing::warn!(
            account_url = %azurite.account_url(),
            pid = ?azurite.pid,
            data = %azurite.work_dir.display(),
            "{KEEP_ENV}=1: Azurite will be left running; kill it when done"
        );
    }
    tracing::debug!(account_url = %azurite.account_url(), pid = ?azurite.pid, "Azurite ready");
    Ok(azurite)
}

/// `node <launcher> ` for Azurite's JavaScript entry point (the watchdog, unless the process
/// must outlive us), or the executable itself for anything else.
fn launcher(bin: &Path, work_dir: &Path, keep: bool) -> Result<Command, AzuriteError> {
    let main = std::fs::canonicalize(bin).unwrap_or_else(|_| bin.to_owned());
    if main.extension().is_none_or(|ext| ext != "js") {
        let mut command = Command::new(&main);
        command.stdin(Stdio::null());
        return Ok(command);
    }
    let mut command = Command::new("node");
    if keep {
        command.arg(&main).stdin(Stdio::null());
        return Ok(command);
    }
    let script = work_dir.join("launcher.js");
    std::fs::write(&script, WATCHDOG_LAUNCHER)
        .map_err(|e| io_error(format!("writing {}", script.display()), e))?;
    command
        .arg(&script)
        .env("MULTICLOUD_AZURITE_MAIN", &main)
        .env("MULTICLOUD_AZURITE_WORK_DIR", work_dir)
        .stdin(Stdio::piped());
    Ok(command)
}

impl Azurite {
    /// Probes until the emulator answers HTTP, it exits, or [`READY_TIMEOUT`] passes.
    async fn wait_ready(&mut self) -> Result<(), AzuriteError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Err(self.not_ready(format!("azurite-blob exited with {status}")));
            }
            if probe(self.port).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.not_ready(format!(
                    "{} did not answer within {} s",
                    self.account_url(),
                    READY_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// A [`AzuriteError::NotReady`]; the process is stopped on drop (even when kept) but
    /// its directory stays, since the error points at the log in it.
    fn not_ready(&mut self, reason: String) -> AzuriteError {
        self.keep = false;
        self.keep_work_dir = true;
        AzuriteError::NotReady {
            reason,
            log: self.log_path.clone(),
            log_tail: log_tail(&self.log_path),
        }
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            self.remove_work_dir();
            return;
        };
        if self.keep {
            tracing::warn!(
                account_url = %self.account_url(),
                pid = ?self.pid,
                data = %self.work_dir.display(),
                "{KEEP_ENV}=1: leaving Azurite running; kill it when done"
            );
            // Dropping the handle would kill the process (kill_on_drop).
            std::mem::forget(child);
            return;
        }
        if let Err(error) = child.start_kill() {
            tracing::debug!(%error, pid = ?self.pid, "stopping Azurite");
        }
        drop(child);
        self.remove_work_dir();
    }
}

impl Azurite {
    fn remove_work_dir(&self) {
        if !self.keep_work_dir {
            let _ = std::fs::remove_dir_all(&self.work_dir);
        }
    }
}

/// Whether something answers HTTP on the port (any status: an unsigned request is refused,
/// which is an answer).
async fn probe(port: u16) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request = format!(
            "GET /{}?comp=list HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n",
            super::ACCOUNT
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1."))
    };
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, attempt).await,
        Ok(Some(true))
    )
}

/// A free port on 127.0.0.1 (bind port 0, read it, close it).
fn free_port() -> Result<u16, AzuriteError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| io_error("binding a free port on 127.0.0.1", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| io_error("reading the bound port", e))?
        .port();
    Ok(port)
}

/// A random suffix for work dir names.
fn rand_suffix() -> u32 {
    let bytes = *azure_core::Uuid::new_v4().as_bytes();
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// The last lines of a log file, or a note why it cannot be read.
fn log_tail(path: &PathBuf) -> String {
    match std::fs::read(path) {
        Ok(bytes) => last_lines(&String::from_utf8_lossy(&bytes), LOG_TAIL_LINES),
        Err(error) => format!("(cannot read {}: {error})", path.display()),
    }
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
    }

    #[tokio::test]
    async fn nothing_listening_is_not_ready() {
        let port = free_port().expect("a port");
        assert!(!probe(port).await);
    }
}
