//! # multicloud-core
//!
//! The cloud-neutral model and engine of multicloud: a [`StackSpec`] (from code or YAML) is
//! validated, expanded by a [`CloudProvider`] into a dependency graph of resources, compared
//! with recorded state and with what the cloud reports into a [`Plan`], and applied
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
//!     .secret(SecretSpec::generated("db-password", 32))
//!     .workload_identity(WorkloadIdentity::new("shop", "api").can_read_secret("db-password"))
//!     .app(App::new("api").image_from_registry("shop-api", "v1").port(8080)
//!          .env_from_secret("DB_PASSWORD", "db-password").expose(Expose::LoadBalancer))
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

pub mod access;
mod backends;
mod dag;
pub mod error;
pub mod events;
mod executor;
pub mod expand;
pub mod kind;
pub mod outputs;
pub mod plan;
mod planner;
pub mod provider;
pub mod resource;
pub mod retry;
pub mod secret;
pub mod spec;
mod stack;
pub mod state;
pub mod tags;
#[cfg(feature = "testing")]
pub mod testing;

pub use executor::ApplyOptions;
pub use stack::Stack;

pub use error::{Error, ErrorKind, ProviderError};
pub use secret::SecretString;
pub use spec::StackSpec;

/// The names most programs need.
pub mod prelude {
    pub use crate::ApplyOptions;
    pub use crate::error::{Error, ErrorKind, ProviderError};
    pub use crate::events::Event;
    pub use crate::kind::ResourceKind;
    pub use crate::outputs::StackOutputs;
    pub use crate::plan::{Action, Plan};
    pub use crate::provider::CloudProvider;
    pub use crate::secret::SecretString;
    pub use crate::spec::{
        App, Cluster, Expose, Network, NodePool, Postgres, Redis, RegistrySpec, SecretSpec,
        StackSpec, WorkloadIdentity,
    };
    pub use crate::stack::Stack;
    pub use crate::state::{LocalStateStore, StateStore};
}
