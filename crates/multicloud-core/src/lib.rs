//! # multicloud-core
//!
//! The cloud-neutral model and engine of multicloud: a [`StackSpec`] (from code or YAML) is
//! validated, expanded by a [`CloudProvider`](provider::CloudProvider) into a dependency graph of resources, compared
//! with recorded state and with what the cloud reports into a [`Plan`](plan::Plan), and applied
//! concurrently along the graph with retries, readiness waits and state written after every
//! resource.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use multicloud_core::prelude::*;
//!
//! # async fn run(provider: Arc<dyn CloudProvider>) -> Result<(), Box<dyn std::error::Error>> {
//! let spec = StackSpec::builder("shop")
//!     .environment("pr-1234")
//!     .region("us-east-1")
//!     .network(Network::default())
//!     .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "t3.medium", 2, 5)))
//!     .database(Postgres::new("16").storage_gb(20))
//!     .cache(Redis::new("7.1"))
//!     .registry(RegistrySpec::new("shop-api"))
//!     .secret(SecretSpec::generated("api-token", 32))
//!     .workload_identity(WorkloadIdentity::new("shop", "api").can_read_secret("api-token"))
//!     .app(App::new("api").image_from_registry("shop-api", "v1").port(8080)
//!          .env_from_secret("API_TOKEN", "api-token")
//!          .connect_database().connect_cache()   // DATABASE_URL, PG*, REDIS_URL from the stack
//!          .expose(Expose::LoadBalancer))
//!     .ttl(Duration::from_secs(4 * 3600))
//!     .build()?;
//! let stack = Stack::new(spec, provider).state(LocalStateStore::new(".multicloud"));
//! let plan = stack.plan().await?;
//! println!("{plan}");
//! let outputs = stack.up().await?;
//! println!("{:?}", outputs.cluster);
//! stack.down().await?;
//! # Ok(()) }
//! ```
//!
//! ## The seams a provider crate builds on
//!
//! - **Kinds** are declared by the crate that implements them ([`kind`]): a
//!   [`ResourceKind`](kind::ResourceKind) is a name. A provider lists its kinds in one
//!   [`KindTable`](provider::KindTable), a row per kind: its [`KindDef`](kind::KindDef)
//!   (family shown in events, expected duration, wait timeout) and the one small
//!   [`ResourceOps`](provider::ResourceOps) type that handles it. The engine finds the ops of
//!   a resource with [`CloudProvider::ops`](provider::CloudProvider::ops) (the provider's
//!   table, then the workload backend's); adding a kind is one `ResourceOps` impl and one
//!   row. Core only names the cloud-neutral kinds the spec and the Kubernetes side need.
//! - **Configs and outputs are Rust types**: a resource carries its kind's typed config
//!   ([`Resource::with_config`](resource::Resource::with_config)); an operation reads it
//!   with [`OpContext::config`](provider::OpContext::config) (unknown or missing fields are
//!   [`ErrorKind::InvalidConfig`]) and returns [`Outputs::of`](outputs::Outputs::of) a typed
//!   value; the neutral kinds' outputs ([`outputs::ClusterOutputs`]…) carry one cloud id `id`.
//! - **Cluster access** ([`access`]): endpoint, CA and a bearer token or client certificate,
//!   from the provider's [`ClusterOps::credentials`](provider::ClusterOps::credentials) for
//!   the stack's cluster or from an override ([`Stack::cluster_access`]), cached and renewed
//!   before expiry; ownership as valid Kubernetes labels
//!   ([`Ownership::kubernetes_labels`](tags::Ownership::kubernetes_labels)).
//! - **Workloads** are attached to the [`Stack`] ([`Stack::workloads`]), not to the provider;
//!   their operations reach the provider and the cluster through
//!   [`OpContext::run`](provider::OpContext::run).
//! - **Renewal**: an observation may say when what a resource holds expires
//!   ([`Observed::expires_at`](provider::Observed::expires_at)); `up` renews it in time.
//! - **One retry layer**: the engine's [`RetryPolicy`](retry::RetryPolicy) and
//!   [`Poller`](retry::Poller); provider SDK clients do not retry on their own.
//!
//! ```no_run
//! use async_trait::async_trait;
//! use multicloud_core::kind::{KindDef, ResourceKind, ServiceFamily};
//! use multicloud_core::provider::{KindTable, Observation, OpContext, Outputs, ResourceOps};
//! use multicloud_core::ProviderError;
//! use serde::{Deserialize, Serialize};
//!
//! /// A kind of this crate's own.
//! pub const DNS_RECORD: ResourceKind = ResourceKind::new("dns_record");
//! /// Its declaration: the first column of its table row.
//! pub const DNS_RECORD_DEF: KindDef = KindDef::new(DNS_RECORD, ServiceFamily::Network);
//!
//! /// Its config: built by the expansion, read back by the operations.
//! #[derive(Serialize, Deserialize)]
//! #[serde(deny_unknown_fields)]
//! pub struct DnsRecordConfig { pub ttl: u32, pub target: String }
//!
//! /// Its outputs.
//! #[derive(Serialize, Deserialize)]
//! pub struct DnsRecordOutputs { pub id: String, pub fqdn: String }
//!
//! /// Its ops: one small type for the one kind (it holds the cloud client it needs).
//! pub struct DnsRecord;
//!
//! #[async_trait]
//! impl ResourceOps for DnsRecord {
//!     async fn observe(&self, _ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
//!         // ... one read ...
//!         Ok(Observation::Absent)
//!     }
//!     async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
//!         let config: DnsRecordConfig = ctx.config()?;
//!         // ... one call to the cloud with `config` ...
//!         Outputs::of(&DnsRecordOutputs { id: "rec-1".into(), fqdn: config.target })
//!     }
//!     async fn delete(&self, _ctx: &OpContext<'_>) -> Result<(), ProviderError> {
//!         // ... one call; already gone is fine ...
//!         Ok(())
//!     }
//! }
//!
//! /// The provider's table (built once, in its constructor) gets one more row; its
//! /// `CloudProvider::kind_table` hands the table out.
//! pub fn table(rows_so_far: KindTable) -> KindTable {
//!     rows_so_far.row(DNS_RECORD_DEF, DnsRecord)
//! }
//! ```

pub mod access;
mod backends;
pub mod calls;
pub mod connect;
mod dag;
pub mod down;
mod engine;
pub mod ephemeral;
pub mod error;
pub mod events;
mod executor;
pub mod expand;
pub mod kind;
pub mod kubeconfig;
pub mod observation;
pub mod outputs;
pub mod pacing;
pub mod plan;
mod planner;
pub mod provider;
pub mod refresh;
pub mod resource;
pub mod retry;
pub mod secret;
pub mod spec;
mod stack;
pub mod state;
pub mod sweep;
pub mod tags;
pub mod teardown;
#[cfg(feature = "testing")]
pub mod testing;

pub use down::DownReport;
pub use ephemeral::EphemeralEnv;
pub use executor::ApplyOptions;
pub use stack::Stack;

pub use engine::{Error, ResourceFailure, StackPart};
pub use error::{ErrorKind, ProviderError};
pub use secret::SecretString;
pub use spec::StackSpec;

/// The names most programs need.
pub mod prelude {
    pub use crate::ApplyOptions;
    pub use crate::engine::{Error, StackPart};
    pub use crate::error::{ErrorKind, ProviderError};
    pub use crate::events::Event;
    pub use crate::kind::ResourceKind;
    pub use crate::outputs::StackOutputs;
    pub use crate::plan::{Action, Plan, PlanOptions};
    pub use crate::provider::CloudProvider;
    pub use crate::secret::SecretString;
    pub use crate::spec::{
        App, Cluster, ExistingCluster, ExistingNetwork, Expose, Nat, Network, NodePool, Postgres,
        Redis, RegistrySpec, SecretSpec, ServiceEndpoint, StackSpec, WorkloadIdentity,
    };
    pub use crate::stack::Stack;
    pub use crate::state::{LocalStateStore, StateStore};
}
