//! A local [moto](https://github.com/getmoto/moto) server for integration tests.
//!
//! moto implements the AWS APIs (EC2, EKS, IAM, RDS, S3, STS, ...) in memory. A
//! [`MotoServer`] runs `python -m moto.server` from a Python virtual environment on a free
//! port of 127.0.0.1, waits until it answers, and hands out SDK configurations that point at
//! it with static test credentials. Dropping the server stops the process.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use multicloud_aws::testing::MotoServer;
//!
//! let moto = MotoServer::start().await?;
//! let sts = aws_sdk_sts::Client::new(&moto.sdk_config("us-east-1").await);
//! let me = sts.get_caller_identity().send().await?;
//! assert_eq!(me.account(), Some("123456789012"));
//! moto.reset().await?; // forget everything created so far
//! # Ok(()) }
//! ```
//!
//! Environment variables:
//!
//! - `MULTICLOUD_MOTO_VENV`: the venv holding `moto[server]` (default
//!   `$HOME/.cache/multicloud/venv`). When it cannot `import moto.server`,
//!   `scripts/install-moto.sh` of this repository is run to create it.
//! - `MULTICLOUD_NO_INSTALL=1`: never install; fail with [`MotoError::NotInstalled`]
//!   instead.
//! - `MULTICLOUD_KEEP_EMULATORS=1`: leave the moto process running when the
//!   [`MotoServer`] is dropped (and when the test process exits) to inspect it afterwards;
//!   its endpoint and pid are logged with `tracing`.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_credential_types::Credentials;
use aws_types::region::Region;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// Access key id of the static credentials handed out by [`MotoServer::sdk_config`].
pub const TEST_ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";

/// Secret access key of the static credentials handed out by [`MotoServer::sdk_config`].
pub const TEST_SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// The account id moto reports for every caller.
pub const MOTO_ACCOUNT_ID: &str = "123456789012";

/// Environment variable naming the moto venv.
pub const VENV_ENV: &str = "MULTICLOUD_MOTO_VENV";

/// Environment variable that, set to `1`, forbids installing moto.
pub const NO_INSTALL_ENV: &str = "MULTICLOUD_NO_INSTALL";

/// Environment variable that, set to `1`, keeps emulator processes running after drop.
pub const KEEP_ENV: &str = "MULTICLOUD_KEEP_EMULATORS";

/// How long [`MotoServer::start`] waits for the server to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Interval between readiness probes.
const READY_POLL: Duration = Duration::from_millis(100);
/// Timeout of one readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Timeout of `POST /moto-api/reset`.
const RESET_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts to start on a fresh port when the chosen one was taken meanwhile.
const START_ATTEMPTS: usize = 3;
/// Lines of the server log quoted in errors.
const LOG_TAIL_LINES: usize = 20;

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

/// Why a moto server could not be started or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MotoError {
    /// The venv cannot `import moto.server` and installing was not possible or not allowed.
    #[error("moto is not installed in {}: {hint}", venv.display())]
    NotInstalled {
        /// The venv that was looked at.
        venv: PathBuf,
        /// How to install moto.
        hint: String,
    },
    /// `scripts/install-moto.sh` failed.
    #[error(
        "installing moto into {} with {} failed ({status}):\n{output_tail}",
        venv.display(),
        script.display()
    )]
    InstallFailed {
        /// The venv to install into.
        venv: PathBuf,
        /// The install script that was run.
        script: PathBuf,
        /// Its exit status.
        status: String,
        /// The last lines of its output.
        output_tail: String,
    },
    /// A process, file or socket operation failed.
    #[error("{what}")]
    Spawn {
        /// What was attempted.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The server did not become ready.
    #[error("moto server did not become ready: {reason}; log {}:\n{log_tail}", log.display())]
    NotReady {
        /// What went wrong (timeout, early exit).
        reason: String,
        /// The server's log file (kept for inspection).
        log: PathBuf,
        /// The last 20 lines of the log.
        log_tail: String,
    },
    /// An HTTP call to the moto control API failed.
    #[error("{request} failed: {message}")]
    Http {
        /// Method and URL of the request.
        request: String,
        /// What went wrong.
        message: String,
    },
}

/// A running moto server on 127.0.0.1. The process is stopped when this is dropped (unless
/// `MULTICLOUD_KEEP_EMULATORS=1`).
pub struct MotoServer {
    port: u16,
    pid: Option<u32>,
    child: Option<Child>,
    work_dir: PathBuf,
    log_path: PathBuf,
    /// Leave the process running on drop (`MULTICLOUD_KEEP_EMULATORS=1`).
    keep: bool,
    /// Leave the work dir (with the log) on drop: the server failed to start and an error
    /// points at the log.
    keep_work_dir: bool,
}

impl fmt::Debug for MotoServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MotoServer")
            .field("endpoint", &self.endpoint())
            .field("pid", &self.pid)
            .field("log", &self.log_path)
            .field("keep", &self.keep)
            .finish()
    }
}

/// Where moto comes from and what to do when it is missing, read from the environment by
/// [`MotoServer::start`].
#[derive(Clone, Debug)]
struct Options {
    venv: Option<PathBuf>,
    install: bool,
    install_script: PathBuf,
    keep: bool,
}

impl Options {
    fn from_env() -> Self {
        let venv = std::env::var_os(VENV_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|h| !h.is_empty())
                    .map(|home| PathBuf::from(home).join(".cache/multicloud/venv"))
            });
        Self {
            venv,
            install: !env_flag(NO_INSTALL_ENV),
            install_script: default_install_script(),
            keep: env_flag(KEEP_ENV),
        }
    }
}

impl MotoServer {
    /// Starts a new moto server on a free port and waits (up to 60 s) until it answers.
    ///
    /// Installs moto with `scripts/install-moto.sh` first if the venv lacks it (unless
    /// `MULTICLOUD_NO_INSTALL=1`).
    pub async fn start() -> Result<MotoServer, MotoError> {
        Self::start_with(Options::from_env()).await
    }

    /// One server per process, started on first use and shared by every caller (for test
    /// suites that share a server). Tests sharing it must not [`reset`](Self::reset) it
    /// while others run, and should use distinct resource names.
    ///
    /// The process ends when the test process exits.
    pub async fn shared() -> Result<Arc<MotoServer>, MotoError> {
        static SHARED: tokio::sync::OnceCell<Arc<MotoServer>> = tokio::sync::OnceCell::const_new();
        SHARED
            .get_or_try_init(|| async { MotoServer::start().await.map(Arc::new) })
            .await
            .cloned()
    }

    async fn start_with(options: Options) -> Result<MotoServer, MotoError> {
        let venv = options
            .venv
            .clone()
            .ok_or_else(|| MotoError::NotInstalled {
                venv: PathBuf::from("$HOME/.cache/multicloud/venv"),
                hint: format!("HOME is not set; set {VENV_ENV} to a venv with moto[server]"),
            })?;
        let python = ensure_moto(&venv, &options).await?;

        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match Self::spawn_and_wait(&python, options.keep).await {
                Ok(server) => return Ok(server),
                Err(StartFailure::PortTaken(error)) => last_error = Some(error),
                Err(StartFailure::Fatal(error)) => return Err(error),
            }
        }
        Err(last_error.unwrap_or_else(|| MotoError::Spawn {
            what: "could not start moto".to_owned(),
            source: io::Error::other("no attempt was made"),
        }))
    }

    async fn spawn_and_wait(python: &Path, keep: bool) -> Result<MotoServer, StartFailure> {
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
        let child = command
            .spawn()
            .map_err(|e| io_error(format!("spawning {} -m moto.server", python.display()), e))
            .map_err(StartFailure::Fatal)?;
        server.pid = child.id();
        let child = server.child.insert(child);

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

        tracing::debug!(endpoint = %server.endpoint(), pid = ?server.pid, "moto server ready");
        Ok(server)
    }

    /// Base URL of the server, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// TCP port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Process id of the server, if known.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The server's log file (stdout and stderr of the moto process).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Forgets all state of the server (`POST /moto-api/reset`), as if it had just started.
    pub async fn reset(&self) -> Result<(), MotoError> {
        let request = format!("POST {}/moto-api/reset", self.endpoint());
        let response = http_call(self.port, "POST", "/moto-api/reset", RESET_TIMEOUT)
            .await
            .map_err(|e| MotoError::Http {
                request: request.clone(),
                message: e.to_string(),
            })?;
        if response.status == 200 {
            Ok(())
        } else {
            Err(MotoError::Http {
                request,
                message: format!(
                    "status {}: {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                ),
            })
        }
    }

    /// An SDK configuration for `region` that sends every request to this server, with
    /// static test credentials ([`TEST_ACCESS_KEY_ID`]) and adaptive retries.
    ///
    /// For S3 use [`s3_config`](Self::s3_config), which adds path-style addressing.
    pub async fn sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new(
                TEST_ACCESS_KEY_ID,
                TEST_SECRET_ACCESS_KEY,
                None,
                None,
                "moto",
            ))
            .region(Region::new(region.to_owned()))
            .retry_config(RetryConfig::adaptive())
            .load()
            .await
    }

    /// An S3 client configuration for `region` pointing at this server. moto serves S3
    /// buckets by path (`http://127.0.0.1:PORT/bucket/key`), not by virtual host, so this
    /// forces path-style addressing.
    pub async fn s3_config(&self, region: &str) -> aws_sdk_s3::Config {
        aws_sdk_s3::config::Builder::from(&self.sdk_config(region).await)
            .force_path_style(true)
            .build()
    }

    /// Marks a server that failed to start: its process is stopped on drop even with
    /// `MULTICLOUD_KEEP_EMULATORS=1`, but its work dir is kept, since the error points at
    /// the log in it.
    fn retain_work_dir(&mut self) {
        self.keep = false;
        self.keep_work_dir = true;
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

impl MotoServer {
    fn remove_work_dir(&self) {
        if !self.keep_work_dir {
            let _ = std::fs::remove_dir_all(&self.work_dir);
        }
    }
}

/// A start attempt failed; `PortTaken` is worth retrying on another port.
enum StartFailure {
    PortTaken(MotoError),
    Fatal(MotoError),
}

fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

/// `scripts/install-moto.sh` of the repository this crate was built from.
fn default_install_script() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("scripts")
        .join("install-moto.sh");
    std::fs::canonicalize(&script).unwrap_or(script)
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

fn io_error(what: String, source: io::Error) -> MotoError {
    MotoError::Spawn { what, source }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Makes sure `venv` can `import moto.server`, installing it if allowed. Returns the venv's
/// python.
async fn ensure_moto(venv: &Path, options: &Options) -> Result<PathBuf, MotoError> {
    // Venvs known to work in this process; the lock also serialises installs.
    static READY_VENVS: tokio::sync::Mutex<Vec<PathBuf>> =
        tokio::sync::Mutex::const_new(Vec::new());

    let python = venv_python(venv);
    let mut ready = READY_VENVS.lock().await;
    if ready.iter().any(|v| v == venv) {
        return Ok(python);
    }
    if !moto_importable(&python).await {
        let script = &options.install_script;
        if !options.install {
            return Err(MotoError::NotInstalled {
                venv: venv.to_owned(),
                hint: format!(
                    "{NO_INSTALL_ENV}=1 forbids installing it; run `{}` (or \
                     `MULTICLOUD_MOTO_VENV=<venv> {}`), or point {VENV_ENV} at a venv with \
                     moto[server]",
                    script.display(),
                    script.display()
                ),
            });
        }
        if !script.is_file() {
            return Err(MotoError::NotInstalled {
                venv: venv.to_owned(),
                hint: format!(
                    "the install script {} does not exist; create the venv with \
                     `python3 -m venv <venv> && <venv>/bin/pip install 'moto[server]'` and \
                     point {VENV_ENV} at it",
                    script.display()
                ),
            });
        }
        tracing::info!(venv = %venv.display(), script = %script.display(), "installing moto");
        let output = Command::new("bash")
            .arg(script)
            .env(VENV_ENV, venv)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| io_error(format!("running bash {}", script.display()), e))?;
        if !output.status.success() {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            return Err(MotoError::InstallFailed {
                venv: venv.to_owned(),
                script: script.clone(),
                status: output.status.to_string(),
                output_tail: last_lines(&text, LOG_TAIL_LINES),
            });
        }
        if !moto_importable(&python).await {
            return Err(MotoError::NotInstalled {
                venv: venv.to_owned(),
                hint: format!(
                    "{} succeeded but `{} -c 'import moto.server'` still fails",
                    script.display(),
                    python.display()
                ),
            });
        }
    }
    ready.push(venv.to_owned());
    Ok(python)
}

async fn moto_importable(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import moto.server"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success())
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

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Status and body of an HTTP response.
#[derive(Debug, PartialEq, Eq)]
struct HttpResponse {
    status: u16,
    body: Vec<u8>,
}

/// A minimal HTTP/1.1 call to 127.0.0.1:`port` (`Connection: close`, empty body).
async fn http_call(
    port: u16,
    method: &str,
    path: &str,
    timeout: Duration,
) -> io::Result<HttpResponse> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
             Content-Length: 0\r\nAccept: */*\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        stream.flush().await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        parse_response(&raw)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no response in time"))?
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Parses a complete HTTP/1.1 response (read until the server closed the connection).
fn parse_response(raw: &[u8]) -> io::Result<HttpResponse> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("incomplete HTTP response head"))?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| invalid("non-UTF-8 head"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/") => code
            .parse::<u16>()
            .map_err(|_| invalid(format!("bad status line {status_line:?}")))?,
        _ => return Err(invalid(format!("bad status line {status_line:?}"))),
    };
    let mut chunked = false;
    let mut content_length = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse::<usize>().ok();
            }
        }
    }
    let rest = &raw[head_end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(length) = content_length {
        rest.get(..length)
            .ok_or_else(|| invalid("body shorter than Content-Length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse { status, body })
}

fn dechunk(mut data: &[u8]) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| invalid("incomplete chunk size"))?;
        let size_line =
            std::str::from_utf8(&data[..line_end]).map_err(|_| invalid("bad chunk size"))?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| invalid(format!("bad chunk size {size_hex:?}")))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = data.get(..size).ok_or_else(|| invalid("truncated chunk"))?;
        body.extend_from_slice(chunk);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_responses() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 16\r\n\
                    Connection: close\r\n\r\n{\"status\": \"ok\"}";
        let response = parse_response(raw).expect("valid response");
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"{\"status\": \"ok\"}");
    }

    #[test]
    fn parses_chunked_responses() {
        let raw = b"HTTP/1.1 500 INTERNAL SERVER ERROR\r\nTransfer-Encoding: chunked\r\n\r\n\
                    4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n";
        let response = parse_response(raw).expect("valid response");
        assert_eq!(response.status, 500);
        assert_eq!(response.body, b"Wikipedia");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_response(b"hello").is_err());
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").is_err());
    }

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

    #[tokio::test]
    async fn missing_moto_without_install_is_a_typed_error_with_a_hint() {
        let options = Options {
            venv: Some(PathBuf::from("/nonexistent/multicloud-moto-venv")),
            install: false,
            install_script: default_install_script(),
            keep: false,
        };
        let error = MotoServer::start_with(options)
            .await
            .expect_err("no moto in a nonexistent venv");
        match &error {
            MotoError::NotInstalled { venv, hint } => {
                assert_eq!(venv, Path::new("/nonexistent/multicloud-moto-venv"));
                assert!(hint.contains("install-moto.sh"), "{hint}");
                assert!(hint.contains(NO_INSTALL_ENV), "{hint}");
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(
            error
                .to_string()
                .contains("/nonexistent/multicloud-moto-venv")
        );
    }

    #[test]
    fn install_script_is_found_in_the_repository() {
        assert!(default_install_script().is_file());
    }
}
