//! A local [Azurite](https://github.com/Azure/Azurite) Blob service for integration tests.
//!
//! [`Azurite`] runs `azurite-blob` (Node.js) on a free port of 127.0.0.1 with its data in a
//! temporary directory and `--disableTelemetry`, waits until it answers, and hands out
//! [`BlobStateStore`](crate::BlobStateStore) builders and a container client signed with
//! the emulator's well-known account key. Dropping it stops the process and removes the
//! directory.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use multicloud_azure::testing::Azurite;
//!
//! let azurite = Azurite::start().await?;
//! azurite.create_container("state").await?;
//! let store = azurite.store_builder("state").build()?;
//! # Ok(()) }
//! ```
//!
//! Environment variables:
//!
//! - `MULTICLOUD_AZURITE_BLOB`: the `azurite-blob` executable to run. Without it,
//!   `install-azurite.sh` (embedded in `multicloud-testing`, written to the cache dir) is run
//!   once per test process (it returns at once when the pinned version is in the cache,
//!   `$MULTICLOUD_CACHE/azurite/<version>`).
//! - `MULTICLOUD_NO_INSTALL=1`: never install; fail with [`AzuriteError::NotInstalled`].
//! - `MULTICLOUD_KEEP_EMULATORS=1`: leave the process (and its data directory) running when
//!   the [`Azurite`] is dropped, to inspect it; its pid, log and how to stop it are printed.
//!
//! The process is a [`multicloud_testing::LocalProcess`]: it dies with the test process
//! however that ends.

mod install;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use azure_storage_blob::BlobContainerClient;
use multicloud_core::secret::SecretString;
use multicloud_testing::{
    LocalProcess, LocalServer, Shared, Switches, WaitFor, start_on_free_port,
};

use crate::state::BlobStateStoreBuilder;

/// The emulator's account.
pub const ACCOUNT: &str = "devstoreaccount1";

/// The emulator's well-known account key (public; documented by Microsoft).
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Environment variable naming the `azurite-blob` executable.
pub const BLOB_BIN_ENV: &str = "MULTICLOUD_AZURITE_BLOB";

/// Environment variable that, set to `1`, forbids installing Azurite.
pub const NO_INSTALL_ENV: &str = multicloud_testing::NO_INSTALL_ENV;

/// Environment variable that, set to `1`, keeps emulator processes running after drop.
pub const KEEP_ENV: &str = multicloud_testing::KEEP_ENV;

/// Attempts to start on a fresh port when the chosen one was taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// Why Azurite could not be installed, started or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AzuriteError {
    /// No `azurite-blob` to run, and installing it was not possible or not allowed.
    #[error("Azurite is not installed: {hint}")]
    NotInstalled {
        /// How to install it.
        hint: String,
    },
    /// `install-azurite.sh` failed.
    #[error("installing Azurite with {} failed ({status}):\n{output_tail}", script.display())]
    InstallFailed {
        /// The install script that was run.
        script: PathBuf,
        /// Its exit status.
        status: String,
        /// The last lines of its output.
        output_tail: String,
    },
    /// A process, file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was attempted.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The emulator did not become ready.
    #[error("Azurite did not become ready: {reason}; log {}:\n{log_tail}", log.display())]
    NotReady {
        /// What went wrong (timeout, early exit).
        reason: String,
        /// The emulator's log file (kept for inspection).
        log: PathBuf,
        /// Its last lines.
        log_tail: String,
    },
    /// A request to the emulator failed.
    #[error("{what}: {source}")]
    Request {
        /// What was attempted.
        what: String,
        /// The SDK's error.
        #[source]
        source: azure_core::Error,
    },
    /// The store builder refused the emulator's settings.
    #[error(transparent)]
    Build(#[from] crate::state::BuildError),
}

/// Where Azurite comes from and what to do on drop, read from the environment.
#[derive(Clone, Debug)]
struct Options {
    /// An explicit `azurite-blob`.
    bin: Option<PathBuf>,
    switches: Switches,
}

/// A running Azurite Blob service on 127.0.0.1. The process is stopped and its data removed
/// when this is dropped (unless `MULTICLOUD_KEEP_EMULATORS=1`).
#[derive(Debug)]
pub struct Azurite {
    server: LocalServer,
}

/// Its port ([`LocalServer::port`]), pid ([`LocalServer::pid`]) and log
/// ([`LocalServer::log_path`]).
impl std::ops::Deref for Azurite {
    type Target = LocalServer;

    fn deref(&self) -> &LocalServer {
        &self.server
    }
}

impl Azurite {
    /// Starts Azurite on a free port (installing it first if needed and allowed) and waits
    /// until it answers.
    pub async fn start() -> Result<Azurite, AzuriteError> {
        let bin = multicloud_testing::env_path(BLOB_BIN_ENV);
        let switches = Switches::from_env();
        Self::start_with(Options { bin, switches }).await
    }

    /// One emulator per process, started on first use and shared by every caller; tests
    /// sharing it should use containers of their own. It ends when the test process exits.
    pub async fn shared() -> Result<Arc<Azurite>, AzuriteError> {
        static SHARED: Shared<Azurite> = Shared::new();
        SHARED.get_or_start(Azurite::start).await
    }

    async fn start_with(options: Options) -> Result<Azurite, AzuriteError> {
        let bin = install::ensure_azurite(&options).await?;
        // Azurite's JavaScript entry point runs with node; anything else as it is.
        let main = std::fs::canonicalize(&bin).unwrap_or(bin);
        let (program, main_arg) = if main.extension().is_some_and(|ext| ext == "js") {
            (PathBuf::from("node"), Some(main))
        } else {
            (main, None)
        };
        let server = start_on_free_port(START_ATTEMPTS, "EADDRINUSE", |port| {
            let dir = LocalProcess::fresh_dir("azurite")?;
            Ok(LocalProcess::builder("azurite", &program)
                .args(main_arg.iter())
                .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                .arg("--location")
                .arg(dir.join("data"))
                .arg("--disableTelemetry")
                .dir(dir, true)
                .keep(options.switches.keep)
                .wait_for(WaitFor::http(port, format!("/{ACCOUNT}?comp=list"))))
        })
        .await?;
        Ok(Azurite { server })
    }

    /// The account URL, `http://127.0.0.1:PORT/devstoreaccount1` (no trailing slash).
    pub fn account_url(&self) -> String {
        self.url(&format!("/{ACCOUNT}"))
    }

    /// A [`BlobStateStore`](crate::BlobStateStore) builder for `container` of the emulator,
    /// signed with its account key, retrying briefly (3 attempts, 20-100 ms).
    pub fn store_builder(&self, container: &str) -> BlobStateStoreBuilder {
        crate::BlobStateStore::builder(self.account_url(), container)
            .shared_key(ACCOUNT, SecretString::new(ACCOUNT_KEY))
            .retry(multicloud_core::retry::RetryPolicy {
                max_attempts: 3,
                base: std::time::Duration::from_millis(20),
                cap: std::time::Duration::from_millis(100),
            })
    }

    /// A container client of the emulator, signed with its account key (to set up tests and
    /// read blobs raw).
    pub fn container_client(&self, container: &str) -> Result<BlobContainerClient, AzuriteError> {
        self.store_builder(container)
            .container_client()
            .map_err(AzuriteError::Build)
    }

    /// Creates `container` (an existing one is fine).
    pub async fn create_container(&self, container: &str) -> Result<(), AzuriteError> {
        let client = self.container_client(container)?;
        match client.create(None).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status().map(u16::from) == Some(409) => Ok(()),
            Err(source) => Err(AzuriteError::Request {
                what: format!("creating container {container}"),
                source,
            }),
        }
    }
}

impl From<multicloud_testing::Error> for AzuriteError {
    fn from(error: multicloud_testing::Error) -> Self {
        use multicloud_testing::Error as E;
        match error.into_not_ready() {
            Ok((reason, log, log_tail)) => Self::NotReady {
                reason,
                log,
                log_tail,
            },
            Err(E::InstallFailed {
                script,
                status,
                output_tail,
            }) => Self::InstallFailed {
                script,
                status,
                output_tail,
            },
            Err(E::Io { what, source }) => Self::Io { what, source },
            Err(other) => Self::Io {
                what: "starting Azurite".to_owned(),
                source: io::Error::other(other.to_string()),
            },
        }
    }
}
