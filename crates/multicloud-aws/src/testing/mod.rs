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
//! [`Throttle`] is an SDK interceptor answering chosen operations with the service's real
//! throttling error, to measure and test retries under sustained throttling.
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

mod http;
mod install;
mod process;
mod throttle;

pub use self::throttle::Throttle;

/// A [`Sweeper`](crate::sweeper::Sweeper) with the short retries and waits tests against
/// moto want: 3 attempts backing off 20-100 ms, deletions awaited up to 30 s, polled every
/// 200 ms.
pub fn fast_sweeper(
    clients: &std::sync::Arc<crate::clients::AwsClients>,
) -> crate::sweeper::Sweeper<'_> {
    use multicloud_core::retry::{Poller, RetryPolicy};
    crate::sweeper::Sweeper::new(clients)
        .with_retries(RetryPolicy {
            max_attempts: 3,
            base: std::time::Duration::from_millis(20),
            cap: std::time::Duration::from_millis(100),
        })
        .with_wait(
            std::time::Duration::from_secs(30),
            Poller {
                interval: std::time::Duration::from_millis(200),
                max_interval: std::time::Duration::from_millis(200),
            },
        )
}

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_credential_types::Credentials;
use aws_types::region::Region;
use tokio::process::Child;

use self::http::http_call;
use self::install::{default_install_script, ensure_moto};
use self::process::StartFailure;

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

/// Timeout of `POST /moto-api/reset`.
const RESET_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts to start on a fresh port when the chosen one was taken meanwhile.
const START_ATTEMPTS: usize = 3;
/// Lines of the server log quoted in errors.
const LOG_TAIL_LINES: usize = 20;

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
}

fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

fn io_error(what: String, source: io::Error) -> MotoError {
    MotoError::Spawn { what, source }
}
