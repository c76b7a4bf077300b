//! A real local Kubernetes control plane for tests (feature `testing`): etcd, kube-apiserver,
//! kube-controller-manager and kube-scheduler (the real ones) plus kwok, which simulates a node
//! so Deployments really become Available, finalizers and garbage collection run and
//! namespaces really terminate. A load-balancer controller of the kit's own plays the cloud
//! for Services of type LoadBalancer (a loopback address `127.0.0.x` each, and the cloud's
//! cleanup finalizer), so an app exposed that way comes up as written; see
//! [`PlaneOptions::without_load_balancers`] to leave them pending.
//!
//! The binaries are built from the Go module proxy by `install-k8s.sh` (embedded in
//! `multicloud-testing`, written to the cache dir) into the cache outside the checkout
//! (about 15 minutes once; a no-op afterwards). [`ControlPlane::start`]
//! runs that script when they are missing, starts everything on free loopback ports with
//! freshly generated certificates, creates the kwok node and waits until the plane is usable.
//! Every process is a [`multicloud_testing::LocalProcess`]. Dropping the plane stops them
//! (they also die with the test process, however it ends) and removes its directory; set `MULTICLOUD_KEEP_EMULATORS=1` to keep it running for debugging
//! (its kubeconfig path is printed).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use multicloud_k8s::testing::ControlPlane;
//!
//! let plane = ControlPlane::start().await?;
//! let client = plane.client().await?;
//! let version = client.apiserver_version().await?;
//! println!("{} at {}", version.git_version, plane.endpoint());
//! # Ok(()) }
//! ```

mod certs;
mod load_balancer;
mod start;

pub use load_balancer::{LOAD_BALANCER_FINALIZER, ingress_ips};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use multicloud_core::provider::{ClusterCredential, ClusterCredentials};
use multicloud_core::secret::SecretString;

use multicloud_testing::LocalProcess;

use crate::client::{client_for, kubeconfig_yaml};

/// Set to `1` to keep the plane (processes and directory) after the test.
pub const KEEP_ENV: &str = multicloud_testing::KEEP_ENV;
/// Where the binaries are, overriding `install-k8s.sh`.
pub const BIN_ENV: &str = "MULTICLOUD_K8S_BIN";

/// Why the control plane could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlPlaneError {
    /// The binaries are missing and could not be built.
    #[error("the Kubernetes binaries are not available: {0}")]
    Binaries(String),
    /// Generating certificates failed.
    #[error("generating the control plane's certificates: {0}")]
    Certificates(String),
    /// A file or process operation failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A process did not come up.
    #[error("{process} did not start: {message}\n--- last lines of its log ---\n{log_tail}")]
    Start {
        /// Which process.
        process: &'static str,
        /// What went wrong.
        message: String,
        /// The end of its log.
        log_tail: String,
    },
    /// A call to the API server failed while setting up.
    #[error("setting up the control plane: {0}")]
    Setup(String),
    /// A shared plane failed to start earlier in this test process.
    #[error("the shared control plane failed to start: {0}")]
    Shared(String),
}

/// How [`ControlPlane::start_with`] starts a plane.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlaneOptions {
    /// Run the load-balancer controller (default: yes).
    pub load_balancers: bool,
}

impl Default for PlaneOptions {
    fn default() -> Self {
        Self {
            load_balancers: true,
        }
    }
}

impl PlaneOptions {
    /// No load-balancer controller: LoadBalancer Services stay without an address, as on a
    /// plane without a cloud.
    pub fn without_load_balancers(mut self) -> Self {
        self.load_balancers = false;
        self
    }
}

/// A running local control plane; stops on drop (unless kept).
pub struct ControlPlane {
    endpoint: String,
    pki: certs::Pki,
    /// A static bearer token of the same admin user (`--token-auth-file`).
    token: SecretString,
    dir: PathBuf,
    /// Started processes, in start order (stopped in reverse; etcd, the first, removes
    /// `dir` when it stops, also when the test process dies).
    processes: Vec<LocalProcess>,
    keep: bool,
    kubeconfig_path: PathBuf,
    /// The load-balancer controller, if it runs (stopped first on drop).
    load_balancers: Option<load_balancer::LoadBalancerController>,
}

impl ControlPlane {
    /// Starts a plane of its own (about 6 s once the binaries exist), with the
    /// load-balancer controller.
    pub async fn start() -> Result<Self, ControlPlaneError> {
        Self::start_with(PlaneOptions::default()).await
    }

    /// Starts a plane of its own with `options`.
    pub async fn start_with(options: PlaneOptions) -> Result<Self, ControlPlaneError> {
        start::start(multicloud_testing::keep_from_env(), options).await
    }

    /// One plane shared by every test of this test binary (started on first use, on its own
    /// thread, so any test runtime can use it). Tests keep apart by namespace and stack name.
    pub fn shared() -> Result<&'static ControlPlane, ControlPlaneError> {
        static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
        let started = SHARED.get_or_init(|| {
            std::thread::spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(Self::start()).map_err(|e| e.to_string())
            })
            .join()
            .unwrap_or_else(|_| Err("the start thread panicked".into()))
        });
        started
            .as_ref()
            .map_err(|e| ControlPlaneError::Shared(e.clone()))
    }

    /// The API server's URL (`https://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Admin credentials (a client certificate in `system:masters`), usable as a stack's
    /// cluster access: `Stack::cluster_access(plane.credentials())`.
    pub fn credentials(&self) -> ClusterCredentials {
        ClusterCredentials {
            endpoint: self.endpoint.clone(),
            ca_data: STANDARD.encode(&self.pki.ca_pem),
            credential: ClusterCredential::ClientCertificate {
                certificate_pem: self.pki.admin_cert_pem.clone(),
                key_pem: SecretString::new(self.pki.admin_key_pem.clone()),
                expires_at: None,
            },
        }
    }

    /// The same admin user with a bearer token instead of a certificate: what a cloud's
    /// kubeconfig hands out (an emulated AKS `listClusterUserCredential` can return it).
    pub fn bearer_credentials(&self) -> ClusterCredentials {
        ClusterCredentials::bearer(
            self.endpoint.clone(),
            STANDARD.encode(&self.pki.ca_pem),
            self.token.clone(),
            None,
        )
    }

    /// The admin kubeconfig (YAML).
    pub fn kubeconfig(&self) -> SecretString {
        // Client-certificate credentials always make a kubeconfig.
        kubeconfig_yaml(&self.credentials()).unwrap_or_else(|_| SecretString::new(""))
    }

    /// Path of the admin kubeconfig file (for `kubectl --kubeconfig`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// A new admin client (bound to the calling runtime).
    pub async fn client(&self) -> Result<kube::Client, multicloud_core::ProviderError> {
        client_for(&self.credentials()).await
    }

    /// The directory holding certificates, data and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        drop(self.load_balancers.take());
        if self.keep {
            eprintln!(
                "control plane kept at {} (kubeconfig {})",
                self.endpoint,
                self.kubeconfig_path.display()
            );
            return;
        }
        while let Some(process) = self.processes.pop() {
            drop(process);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The plane's processes, by the names their errors carry.
const PROCESSES: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
];

impl From<multicloud_testing::Error> for ControlPlaneError {
    fn from(error: multicloud_testing::Error) -> Self {
        use multicloud_testing::Error as E;
        let E::NotReady {
            name,
            reason: message,
            log_tail,
            ..
        } = error
        else {
            return match error {
                E::Io { what, source } => Self::Io { what, source },
                other => Self::Binaries(other.to_string()),
            };
        };
        let process = PROCESSES.into_iter().find(|p| *p == name);
        Self::Start {
            process: process.unwrap_or("a control plane process"),
            message,
            log_tail,
        }
    }
}
