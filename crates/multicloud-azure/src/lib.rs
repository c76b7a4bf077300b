//! Azure for multicloud.
//!
//! For now this crate holds the Azure naming rules, [`AzureNamingRules`](naming::AzureNamingRules):
//! what Azure accepts for regions, AKS agent pools, VM and PostgreSQL SKUs, ACR and Key Vault
//! names (derived from the stack's name and environment), Key Vault secrets, repositories and
//! tags. They run on top of the cloud-independent rules, so a spec can be checked for Azure
//! before any API is called:
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

pub mod arm;
pub mod arm_ops;
pub mod context;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod error;
pub mod expand;
pub mod kinds;
pub mod model;
pub mod naming;
pub mod order;
pub mod provider;
pub mod resources;
pub mod services;
pub mod sweeper;

pub use provider::{AzureProvider, AzureProviderBuilder};
