//! A local [moto](https://github.com/getmoto/moto) server for integration tests.
//!
//! moto implements the AWS APIs (EC2, EKS, IAM, RDS, S3, STS, ...) in memory. A
//! [`MotoServer`] runs moto's server from a Python virtual environment on a free port of
//! 127.0.0.1, waits until it answers, and hands out SDK configurations that point at it with
//! static test credentials. Dropping the server stops the process.
//!
//! The server is moto's with what moto 5.2.5 lacks and the stack needs
//! ([`multicloud_testing::MOTO_SERVER`], a short Python file): ElastiCache replication groups
//! that are gone once deleted (moto keeps them `deleting` forever) and
//! `DeleteCacheSubnetGroup` (with `CacheSubnetGroupInUse` while a group uses it), so a stack
//! with a cache comes down; and, with [`MotoServer::start_paced`], creations that take time
//! (EKS clusters and node groups, RDS instances, replication groups and NAT gateways go
//! through their transitional status for a few units, in AWS's proportions).
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
//!   `$MULTICLOUD_CACHE/venv`, `~/.cache/multicloud/venv`). The install script
//!   `install-moto.sh` (embedded in `multicloud-testing`, written to the cache dir) is run
//!   once per test process to create it; it returns at once when moto is there.
//! - `MULTICLOUD_NO_INSTALL=1`: never install; fail with [`MotoError::NotInstalled`]
//!   instead.
//! - `MULTICLOUD_KEEP_EMULATORS=1`: leave the moto process running when the
//!   [`MotoServer`] is dropped (and when the test process exits) to inspect it afterwards;
//!   its pid, log and how to stop it are printed.
//!
//! The process is a [`multicloud_testing::LocalProcess`]: it dies with the test process
//! however that ends.

mod install;
mod throttle;

pub use self::throttle::Throttle;

/// An [`AwsSweeper`](crate::sweeper::AwsSweeper) with the short retries and waits tests against
/// moto want: 3 attempts backing off 20-100 ms, deletions awaited up to 30 s, polled every
/// 200 ms.
pub fn fast_sweeper(
    clients: &std::sync::Arc<crate::clients::AwsClients>,
) -> crate::sweeper::AwsSweeper {
    use multicloud_core::retry::{Poller, RetryPolicy};
    crate::sweeper::AwsSweeper::new(clients)
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

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_credential_types::Credentials;
use aws_types::region::Region;
use multicloud_testing::{
    LocalProcess, LocalServer, MOTO_SERVER, Shared, Switches, WaitFor, env_path, start_on_free_port,
};

use self::install::ensure_moto;

/// An SDK configuration for `region` that sends every request to the moto server at
/// `endpoint` (`http://127.0.0.1:PORT`, one this process did not start: another process's
/// [`MotoServer`]), with static test credentials ([`TEST_ACCESS_KEY_ID`]) and adaptive
/// retries. [`MotoServer::sdk_config`] is this for its own server.
pub async fn sdk_config_at(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
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

/// Access key id of the static credentials handed out by [`MotoServer::sdk_config`].
pub const TEST_ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";

/// Secret access key of the static credentials handed out by [`MotoServer::sdk_config`].
pub const TEST_SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// The account id moto reports for every caller.
pub const MOTO_ACCOUNT_ID: &str = "123456789012";

/// Environment variable naming the moto venv.
pub const VENV_ENV: &str = "MULTICLOUD_MOTO_VENV";

/// Environment variable that, set to `1`, forbids installing moto.
pub const NO_INSTALL_ENV: &str = multicloud_testing::NO_INSTALL_ENV;

/// The unit of a paced server's creations, in milliseconds, as the server reads it
/// ([`MotoServer::start_paced`] sets it; 0 or unset: ready at once).
pub const PACE_ENV: &str = "MULTICLOUD_MOTO_PACE_MS";

/// Environment variable that, set to `1`, keeps emulator processes running after drop.
pub const KEEP_ENV: &str = multicloud_testing::KEEP_ENV;

/// Timeout of `POST /moto-api/reset`.
const RESET_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts to start on a fresh port when the chosen one was taken meanwhile.
const START_ATTEMPTS: usize = 3;

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
    /// `install-moto.sh` failed.
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
#[derive(Debug)]
pub struct MotoServer {
    server: LocalServer,
}

/// Its port ([`LocalServer::port`]), pid ([`LocalServer::pid`]) and log
/// ([`LocalServer::log_path`]).
impl std::ops::Deref for MotoServer {
    type Target = LocalServer;

    fn deref(&self) -> &LocalServer {
        &self.server
    }
}

/// Where moto comes from and what to do when it is missing, read from the environment by
/// [`MotoServer::start`].
#[derive(Clone, Debug)]
struct Options {
    venv: PathBuf,
    switches: Switches,
    /// The unit of creations that take time (none: ready at once).
    pace: Option<Duration>,
}

impl Options {
    fn from_env() -> Self {
        Self {
            venv: env_path(VENV_ENV)
                .unwrap_or_else(|| multicloud_testing::cache_dir().join("venv")),
            switches: Switches::from_env(),
            pace: None,
        }
    }
}

impl MotoServer {
    /// Starts a new moto server on a free port and waits (up to 60 s) until it answers.
    ///
    /// Installs moto with `install-moto.sh` first if the venv lacks it (unless
    /// `MULTICLOUD_NO_INSTALL=1`).
    pub async fn start() -> Result<MotoServer, MotoError> {
        Self::start_with(Options::from_env()).await
    }

    /// Starts a server (as [`start`](Self::start) does) whose creations take time, in units
    /// of `unit`: an EKS cluster is `CREATING` for 4 units, a node group, an RDS instance and
    /// an ElastiCache replication group 3 (a deleted group `deleting` 2), a NAT gateway
    /// `pending` 1. For demos and progress displays; tests want [`start`](Self::start).
    pub async fn start_paced(unit: Duration) -> Result<MotoServer, MotoError> {
        let options = Options {
            pace: Some(unit),
            ..Options::from_env()
        };
        Self::start_with(options).await
    }

    /// One server per process, started on first use and shared by every caller (for test
    /// suites that share a server). Tests sharing it must not [`reset`](Self::reset) it
    /// while others run, and should use distinct resource names.
    ///
    /// The process ends when the test process exits.
    pub async fn shared() -> Result<Arc<MotoServer>, MotoError> {
        static SHARED: Shared<MotoServer> = Shared::new();
        SHARED.get_or_start(MotoServer::start).await
    }

    async fn start_with(options: Options) -> Result<MotoServer, MotoError> {
        let python = ensure_moto(&options).await?;
        let script = MOTO_SERVER.write()?;
        let pace_ms = options.pace.map_or(0, |unit| unit.as_millis()).to_string();
        let server = start_on_free_port(START_ATTEMPTS, "Address already in use", |port| {
            Ok(LocalProcess::builder("moto", &python)
                .arg(&script)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                .env("PYTHONUNBUFFERED", "1")
                .env(PACE_ENV, &pace_ms)
                .keep(options.switches.keep)
                .wait_for(WaitFor::http_status(port, "/moto-api/", 200)))
        })
        .await?;
        Ok(MotoServer { server })
    }

    /// Base URL of the server, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.url("")
    }

    /// Forgets all state of the server (`POST /moto-api/reset`), as if it had just started.
    pub async fn reset(&self) -> Result<(), MotoError> {
        let request = format!("POST {}/moto-api/reset", self.endpoint());
        let response =
            multicloud_testing::http::call(self.port(), "POST", "/moto-api/reset", RESET_TIMEOUT)
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
        sdk_config_at(&self.endpoint(), region).await
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

impl From<multicloud_testing::Error> for MotoError {
    fn from(error: multicloud_testing::Error) -> Self {
        let (reason, log, log_tail) = match error.into_not_ready() {
            Ok(parts) => parts,
            Err(multicloud_testing::Error::Io { what, source }) => {
                return MotoError::Spawn { what, source };
            }
            Err(other) => return io_error("starting moto", io::Error::other(other.to_string())),
        };
        MotoError::NotReady {
            reason,
            log,
            log_tail,
        }
    }
}

fn io_error(what: &str, source: io::Error) -> MotoError {
    MotoError::Spawn {
        what: what.to_owned(),
        source,
    }
}
