//! An offline Azure Resource Manager + Key Vault emulator for tests, in process or as the
//! `multicloud-azure-emulator` binary for programs in other processes and languages.
//!
//! [`Emulator::start`] serves, on `127.0.0.1` and an ephemeral port, resource groups (delete
//! cascades; vaults inside are soft-deleted), a generic ARM resource store that answers with
//! the three long-running-operation patterns ([`LroPattern`]) and moves
//! `provisioningState` from `Creating`/`Updating`/`Deleting` to `Succeeded` on a simulated
//! clock, ARM's list operations (by resource group, by subscription, children of a resource,
//! the group's generic resource list with its tag `$filter`; `nextLink` paging by `$top` or
//! [`EmulatorConfig::page_size`] with a `$skiptoken`), Key Vault vaults (soft delete,
//! `deletedVaults`, purge, the name reserved until purged) and the Key Vault secrets data
//! plane with its challenge handshake. Every call needs a bearer token; errors have ARM's
//! shape; a share of requests can be answered 429 + `Retry-After` or 503
//! ([`EmulatorConfig::fault_rate`]).
//!
//! In-process clients reach it through [`EmulatorTransport`], which keeps the real URLs, so
//! the official bearer policy and Key Vault's challenge check run unchanged; other
//! processes call `http://127.0.0.1:PORT/subscriptions/...` directly (the ARM side; the
//! Key Vault side answers requests whose `Host` is `<vault>.vault.azure.net`).
//!
//! ```no_run
//! use azure_core::http::{HttpClient, Method, Request, Url};
//! use multicloud_azure_emulator::{Emulator, EmulatorConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = Emulator::start(EmulatorConfig::default()).await?;
//! let url = Url::parse(&format!(
//!     "https://management.azure.com/subscriptions/{}/resourcegroups/shop-rg?api-version=2025-04-01",
//!     emu.subscription()
//! ))?;
//! let mut request = Request::new(url, Method::Put);
//! request.insert_header("authorization", "Bearer any-token");
//! request.insert_header("content-type", "application/json");
//! request.set_body(r#"{"location": "westeurope"}"#);
//! let created = emu.transport().execute_request(&request).await?;
//! assert_eq!(u16::from(created.status()), 201);
//! # Ok(()) }
//! ```

mod actions;
mod arm;
pub mod credential;
mod dispatch;
mod keyvault;
mod list;
mod lro;
mod names;
mod paging;
mod reply;
pub mod store;
pub mod transport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{SeedableRng, rngs::StdRng};
use tokio::time::Instant;

pub use actions::ClusterAccess;
pub use credential::FakeCredential;
pub use store::{LroPattern, Outcome};
pub use transport::EmulatorTransport;

use store::Store;

/// The ARM endpoint the emulator stands in for (Azure public cloud).
pub const ARM_ENDPOINT: &str = "https://management.azure.com";
/// The token scope (audience) of ARM.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// The DNS suffix of Key Vault data-plane hosts (`<vault>.vault.azure.net`).
pub const KEY_VAULT_SUFFIX: &str = "vault.azure.net";

/// How the emulator behaves.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The subscription the emulator pretends to be (any is accepted).
    pub subscription: String,
    /// The tenant named in Key Vault's challenge.
    pub tenant: String,
    /// How long an operation takes, by lower-cased resource type
    /// (`microsoft.containerservice/managedclusters`); others take [`default_duration`].
    ///
    /// [`default_duration`]: Self::default_duration
    pub durations: HashMap<String, Duration>,
    /// How long operations of other types take (zero: answered synchronously).
    pub default_duration: Duration,
    /// The LRO pattern of PUTs, by lower-cased type (default [`LroPattern::AsyncOperation`]).
    pub put_patterns: HashMap<String, LroPattern>,
    /// The LRO pattern of DELETEs, by lower-cased type (default [`LroPattern::Location`]).
    pub delete_patterns: HashMap<String, LroPattern>,
    /// `Retry-After` on pending answers, in seconds.
    pub retry_after: u64,
    /// The api-version in polling URLs (on purpose not the request's: clients must use the
    /// URL verbatim; a poll with another api-version is refused).
    pub polling_api_version: String,
    /// Share of requests (0.0-1.0) answered 429 + `Retry-After: 1` or 503 instead.
    pub fault_rate: f64,
    /// Seed of the fault dice.
    pub seed: u64,
    /// How long after a role assignment on a vault is created Key Vault still refuses that
    /// vault's data plane (`403 Forbidden` / `ForbiddenByRbac`), as Azure does while RBAC
    /// changes propagate (zero: at once).
    pub rbac_propagation: Duration,
    /// Items per page of list operations when the request has no `$top` (ARM's own pages
    /// hold up to 1000); further pages are reached through `nextLink`.
    pub page_size: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            subscription: "00000000-0000-0000-0000-000000000000".into(),
            tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
            durations: HashMap::new(),
            default_duration: Duration::ZERO,
            put_patterns: HashMap::new(),
            delete_patterns: HashMap::new(),
            retry_after: 1,
            polling_api_version: "2025-06-01-preview".into(),
            fault_rate: 0.0,
            seed: 7,
            rbac_propagation: Duration::ZERO,
            page_size: paging::MAX_PAGE,
        }
    }
}

impl EmulatorConfig {
    /// Sets the duration of operations on `resource_type` (`Microsoft.X/type`).
    #[must_use]
    pub fn duration(mut self, resource_type: &str, d: Duration) -> Self {
        self.durations.insert(resource_type.to_ascii_lowercase(), d);
        self
    }
    /// Sets the PUT and DELETE patterns of `resource_type`.
    #[must_use]
    pub fn patterns(mut self, resource_type: &str, put: LroPattern, delete: LroPattern) -> Self {
        let t = resource_type.to_ascii_lowercase();
        self.put_patterns.insert(t.clone(), put);
        self.delete_patterns.insert(t, delete);
        self
    }
}

/// What the handlers share.
pub(crate) struct Inner {
    pub(crate) config: Mutex<EmulatorConfig>,
    pub(crate) store: Mutex<Store>,
    /// Simulated time ahead of the real clock ([`Emulator::advance`]).
    offset: Mutex<Duration>,
    pub(crate) dice: Mutex<StdRng>,
    pub(crate) requests: Mutex<u64>,
    pub(crate) faults: Mutex<u64>,
    /// Data-plane requests refused while a role assignment propagated.
    pub(crate) rbac_refusals: Mutex<u64>,
    access: Mutex<Option<ClusterAccess>>,
}

impl Inner {
    /// The simulated now.
    pub(crate) fn now(&self) -> Instant {
        Instant::now() + self.offset.lock().map(|o| *o).unwrap_or_default()
    }
    /// Unix seconds of the simulated now.
    pub(crate) fn unix(&self) -> i64 {
        let offset = self.offset.lock().map(|o| *o).unwrap_or_default();
        (chrono::Utc::now() + chrono::Duration::from_std(offset).unwrap_or_default()).timestamp()
    }
    pub(crate) fn cluster_access(&self) -> Option<ClusterAccess> {
        self.access.lock().ok().and_then(|a| a.clone())
    }
    pub(crate) fn config(&self) -> EmulatorConfig {
        self.config.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

/// A running emulator; stops when dropped.
pub struct Emulator {
    inner: Arc<Inner>,
    port: u16,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Emulator {
    /// Starts an emulator on `127.0.0.1` and an ephemeral port.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Self> {
        Self::start_on(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts an emulator listening on `addr` (port 0: an ephemeral one).
    pub async fn start_on(
        addr: std::net::SocketAddr,
        config: EmulatorConfig,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let port = listener.local_addr()?.port();
        let inner = Arc::new(Inner {
            dice: Mutex::new(StdRng::seed_from_u64(config.seed)),
            config: Mutex::new(config),
            store: Mutex::new(Store::default()),
            offset: Mutex::new(Duration::ZERO),
            requests: Mutex::new(0),
            faults: Mutex::new(0),
            rbac_refusals: Mutex::new(0),
            access: Mutex::new(None),
        });
        let app = axum::Router::new()
            .fallback(dispatch::handle)
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "emulator stopped");
            }
        });
        Ok(Self {
            inner,
            port,
            server,
        })
    }

    /// The local port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The subscription id to use in URLs.
    pub fn subscription(&self) -> String {
        self.inner.config().subscription
    }

    /// The tenant id the emulator names.
    pub fn tenant(&self) -> String {
        self.inner.config().tenant
    }

    /// The transport that sends real Azure URLs here.
    pub fn transport(&self) -> Arc<EmulatorTransport> {
        Arc::new(EmulatorTransport::new(self.port))
    }

    /// The base URL of its ARM side for clients in other processes (`http://127.0.0.1:PORT`).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Makes `listClusterUserCredential` return a kubeconfig with this server, CA and token
    /// (a real local API server), for every cluster.
    pub fn set_cluster_access(&self, access: ClusterAccess) {
        if let Ok(mut a) = self.inner.access.lock() {
            *a = Some(access);
        }
    }

    /// Moves the simulated clock forward: operations due by then finish.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut o) = self.inner.offset.lock() {
            *o += by;
        }
    }

    /// Makes the next operation on `resource_type` end with `outcome` (a failure with ARM's
    /// `error.code`/`error.message`, or a cancellation).
    pub fn fail_next(&self, resource_type: &str, outcome: Outcome) {
        if let Ok(mut s) = self.inner.store.lock() {
            s.fail_next
                .insert(resource_type.to_ascii_lowercase(), outcome);
        }
    }

    /// Cancels the running operation on the resource with this ARM id (like AKS's
    /// `abort`); whether one was running.
    pub fn cancel(&self, resource_id: &str) -> bool {
        let Ok(mut s) = self.inner.store.lock() else {
            return false;
        };
        let key = resource_id.to_ascii_lowercase();
        let running = s
            .operations
            .values_mut()
            .find(|o| o.resource == key && o.status.is_none());
        match running {
            Some(op) => {
                op.outcome = Outcome::Cancel;
                op.duration = Duration::ZERO;
                true
            }
            None => false,
        }
    }

    /// Sets the share of requests answered 429 or 503.
    pub fn set_fault_rate(&self, rate: f64) {
        if let Ok(mut c) = self.inner.config.lock() {
            c.fault_rate = rate;
        }
    }

    /// Requests served so far, and how many of them were injected faults.
    pub fn requests(&self) -> (u64, u64) {
        let r = self.inner.requests.lock().map(|r| *r).unwrap_or(0);
        let f = self.inner.faults.lock().map(|f| *f).unwrap_or(0);
        (r, f)
    }

    /// Key Vault data-plane requests refused so far because a role assignment on the vault
    /// was still propagating ([`EmulatorConfig::rbac_propagation`]).
    pub fn rbac_refusals(&self) -> u64 {
        self.inner.rbac_refusals.lock().map(|r| *r).unwrap_or(0)
    }

    /// The ids of the (visible) resources directly under `parent_path`
    /// (`<vault id>/providers/Microsoft.Authorization/roleAssignments`), in id order.
    pub fn children(&self, parent_path: &str) -> Vec<String> {
        let prefix = format!("{}/", parent_path.to_ascii_lowercase());
        let Ok(s) = self.inner.store.lock() else {
            return Vec::new();
        };
        s.resources
            .iter()
            .filter(|(k, r)| {
                r.visible
                    && k.strip_prefix(&prefix)
                        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
            })
            .filter_map(|(_, r)| r.body.get("id").and_then(serde_json::Value::as_str))
            .map(str::to_string)
            .collect()
    }

    /// The administrator password PostgreSQL flexible server `server_id` was last given: what
    /// a client would log in with (ARM never returns it; GET shows no password).
    pub fn admin_password(&self, server_id: &str) -> Option<String> {
        let s = self.inner.store.lock().ok()?;
        s.admin_passwords
            .get(&server_id.to_ascii_lowercase())
            .cloned()
    }

    /// Changes the stored body of the resource with this ARM id behind ARM's back (no
    /// operation, no validation), as a portal click or another tool would: `edit` gets the
    /// body (without its provisioning state). For tests of drift; false if there is none.
    pub fn edit_resource(
        &self,
        resource_id: &str,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> bool {
        let Ok(mut s) = self.inner.store.lock() else {
            return false;
        };
        match s.resources.get_mut(&resource_id.to_ascii_lowercase()) {
            Some(r) => {
                edit(&mut r.body);
                true
            }
            None => false,
        }
    }

    /// The current body of the resource with this ARM id, as GET would show it (hidden
    /// resources included).
    pub fn resource(&self, resource_id: &str) -> Option<serde_json::Value> {
        let now = self.inner.now();
        let unix = self.inner.unix();
        let mut s = self.inner.store.lock().ok()?;
        s.tick(now, unix);
        s.resources
            .get(&resource_id.to_ascii_lowercase())
            .map(store::Resource::view)
    }
}
