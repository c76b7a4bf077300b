//! Azure for multicloud: [`AzureProvider`], the [`CloudProvider`](multicloud_core::provider::CloudProvider)
//! that brings a [`StackSpec`](multicloud_core::StackSpec) up on Azure and tears it down, over
//! ARM with our own serde models on an `azure_core` 1.1 pipeline ([`arm`]), the Key Vault data
//! plane through the official `SecretClient`, and one long-running-operation engine
//! ([`arm::lro`]) whose waiting the core's poller does.
//!
//! | part | Azure resources (kinds in [`kinds`]) |
//! |---|---|
//! | network | resource group; virtual network with a cluster subnet and a subnet delegated to PostgreSQL; private DNS zone + vnet link |
//! | cluster | AKS (system pool, OIDC issuer, workload identity), user agent pools; credentials from `listClusterUserCredential` |
//! | database | PostgreSQL flexible server with private access; its password only in Key Vault |
//! | cache | Azure Managed Redis (`redisEnterprise` + database); its access key only in Key Vault |
//! | registry | ACR (admin user off), repositories; pull credentials by ACR's token exchange |
//! | secrets | Key Vault (RBAC, soft delete), deleted AND purged at teardown; secrets named `<vault>/<secret>` |
//! | identity | user-assigned managed identity + federated credential per workload identity; `AcrPull`, `Key Vault Secrets User` role assignments |
//!
//! Names are derived from the stack and environment and checked by
//! [`naming::AzureNamingRules`] (and any names set on the builder) before any call;
//! everything that takes tags carries the ownership tags; `up` adopts what is ours and
//! refuses what is not; [`sweeper`] finds what was left behind.
//!
//! ## Quick start
//! ```no_run
//! use multicloud_azure::AzureProvider;
//! use multicloud_core::spec::{Cluster, Network, NodePool, SecretSpec};
//! use multicloud_core::{Stack, StackSpec};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let spec = StackSpec::builder("shop")
//!     .environment("pr-1234")
//!     .region("westeurope")
//!     .network(Network::default())
//!     .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "Standard_D4s_v5", 2, 5)))
//!     .secret(SecretSpec::generated("api-token", 32))
//!     .build()?;
//! // Subscription and credentials from AZURE_SUBSCRIPTION_ID, AZURE_TENANT_ID, AZURE_CLIENT_ID…
//! let provider = AzureProvider::builder().deployer("<your object id>", "User").build()?;
//! let outputs = Stack::new(spec, provider).up().await?;
//! println!("{:?}", outputs.cluster);
//! # Ok(()) }
//! ```
//! Offline, with the `emulator` feature: `AzureProvider::emulator(&Emulator::start(config).await?)`
//! gives a builder on the in-process ARM + Key Vault emulator (see `tests/stack_e2e.rs`).
//!
//! ## Naming rules
//!
//! The Azure naming rules, [`AzureNamingRules`](naming::AzureNamingRules), run on top of the
//! cloud-independent rules, so a spec can be checked for Azure before any API is called:
//!
//! ```
//! use multicloud_azure::naming::AzureNamingRules;
//! use multicloud_core::spec::{Cluster, Network, NodePool, Rule, StackSpec};
//!
//! let spec = StackSpec::builder("shop")
//!     .environment("pr-1234")
//!     .region("westeurope")
//!     .network(Network::default())
//!     .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "Standard_D4s_v5", 2, 5)))
//!     .build()
//!     .expect("valid for every cloud");
//! spec.validate_for(&AzureNamingRules).expect("valid for Azure");
//!
//! // AKS agent pool names are lowercase letters and digits: no hyphen.
//! let spec = StackSpec::builder("shop")
//!     .region("westeurope")
//!     .network(Network::default())
//!     .cluster(Cluster::new("1.31").node_pool(NodePool::new("general-pool", "Standard_D4s_v5", 2, 5)))
//!     .build()
//!     .expect("valid for every cloud");
//! let errors = spec.validate_for(&AzureNamingRules).expect_err("not for Azure");
//! let error = errors.at("spec.cluster.node_pools[0].name").expect("the pool name");
//! assert_eq!(error.rule, Rule::Name);
//! ```
//!
//! It also keeps stack state for teams in Azure Blob Storage:
//! [`BlobStateStore`], the same lock contract as the local and S3
//! stores (leases, takeover, renewal), authenticated by Entra token or account key; its tests
//! run on Azurite through [`testing::Azurite`] (feature `testing`).

pub mod arm;
mod arm_ops;
mod context;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod error;
pub mod expand;
pub mod kinds;
pub mod model;
pub mod naming;
pub mod order;
mod provider;
mod resources;
mod state;
pub mod sweeper;
#[cfg(feature = "testing")]
pub mod testing;

pub use context::AzureContext;
pub use provider::{AzureProvider, AzureProviderBuilder};
pub use state::{
    BlobObjects, BlobStateStore, BlobStateStoreBuilder, BuildError, DEFAULT_SERVICE_VERSION,
};

/// The Azure built-in roles the stack assigns, and the audience of its workload identities'
/// federated credentials: what a test or tool checks the stack's role assignments and
/// credentials against.
pub mod roles {
    pub use crate::resources::identity::AUDIENCE;
    pub use crate::resources::role::{
        ACR_PULL, KEY_VAULT_SECRETS_OFFICER, KEY_VAULT_SECRETS_USER, role_definition_id,
    };
}
