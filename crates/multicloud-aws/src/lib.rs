//! # multicloud-aws
//!
//! The AWS provider of multicloud, built on the official `aws-sdk-rust` crates: it turns
//! the cloud-neutral resources of a `multicloud_core::StackSpec` into VPCs, EKS clusters,
//! RDS, ElastiCache, ECR, Secrets Manager and IAM resources.
//!
//! ```no_run
//! use multicloud_aws::{AwsProvider, S3StateStore};
//! use multicloud_aws::sweeper::{SweepFilter, Sweeper};
//! use multicloud_core::prelude::*;
//!
//! # async fn run(spec: StackSpec) -> Result<(), Box<dyn std::error::Error>> {
//! // Region, credentials and profile come from aws-config's default chain.
//! let provider = std::sync::Arc::new(AwsProvider::builder().region("eu-west-1").build().await);
//! let s3 = aws_sdk_s3::Client::new(&provider.clients().sdk);
//! let stack = Stack::new(spec, provider.clone())
//!     .state(S3StateStore::new(s3, "team-state-bucket", "multicloud"));
//! let outputs = stack.up().await?;
//! println!("{:?}; {} API calls", outputs.cluster, provider.api_calls().total());
//!
//! // Later: find everything whose TTL ran out, across every service, and delete it.
//! let report = provider
//!     .sweeper()
//!     .sweep(&SweepFilter::expired(chrono::Utc::now()), false)
//!     .await?;
//! println!("{} swept", report.deleted.len());
//! # Ok(()) }
//! ```
//!
//! How the crate is put together (the seams of `multicloud-core`):
//!
//! - [`kinds`] declares the AWS kinds (VPC, subnets, roles, subnet groups…) with their
//!   families, durations and wait timeouts, and builds the provider's kind table: one small
//!   type per kind implementing `ResourceOps`, in the module of its service
//!   (`network::Vpc`, `cluster::EksCluster`, `database::RdsInstance`…, crate-internal: users
//!   reach them only through the provider's [`KindTable`](multicloud_core::provider::KindTable)), which the engine
//!   and the [`sweeper`] both go through. [`model`] holds each kind's typed config and
//!   outputs, the contract between [`expand`] and those types, which read
//!   `ctx.config::<T>()` (a misspelled or missing field is an error, never a default).
//! - [`expand`] is the one description of what depends on what: the engine orders creation
//!   and teardown by it, and [`order`] derives the [`sweeper`]'s deletion order from it.
//! - [`naming`] holds the AWS naming rules checked before any call.
//! - One retry layer: the SDK clients never retry ([`AwsClients`]); the engine's
//!   `RetryPolicy` and `Poller` do, for resources, the sweeper and [`S3StateStore`] alike.
//! - The apps are not the provider's business: a workload backend is attached to the
//!   `Stack` (`Stack::workloads`) and reaches the cluster through the provider's
//!   `ClusterOps::credentials` (an in-process EKS token, renewed before it expires).
//!
//! ```no_run
//! use multicloud_aws::{AwsProvider, kinds, order};
//! use multicloud_core::kind::ResourceKind;
//! use multicloud_core::prelude::*;
//!
//! # async fn run(spec: StackSpec) -> Result<(), Box<dyn std::error::Error>> {
//! let provider = AwsProvider::builder().region("us-east-1").build().await;
//! // Every kind the provider manages, and the order the sweeper deletes them in.
//! for def in provider.kinds() {
//!     println!("{} ({:?}, waits up to {:?})", def.kind, def.family, def.timeout);
//! }
//! assert!(order::rank(ResourceKind::NODE_POOL) < order::rank(ResourceKind::CLUSTER));
//! assert!(order::rank(kinds::LOAD_BALANCER) < order::rank(kinds::VPC));
//! let graph = provider.expand(&spec)?;
//! println!("{} resources", graph.len());
//! # Ok(()) }
//! ```
//!
//! Besides the provider, the crate offers:
//!
//! - [`eks_token`]: bearer tokens for the Kubernetes API of an EKS cluster, computed
//!   locally exactly like `aws eks get-token` (a SigV4-presigned STS `GetCallerIdentity`
//!   URL), so no `aws` CLI or exec plugin is needed.
//! - `testing` (feature `testing`): starts and resets a local
//!   [moto](https://github.com/getmoto/moto) server and hands out SDK configurations
//!   pointing at it, for integration tests that talk to a real AWS API implementation
//!   without an AWS account.

#[cfg(feature = "testing")]
pub mod testing;

pub mod eks_token;

mod cache;
mod clients;
mod cluster;
mod database;
pub mod error;
pub mod expand;
pub mod identity;
pub mod kinds;
pub mod model;
pub mod naming;
mod network;
pub mod order;
mod provider;
mod registry;
mod secrets;
mod state;
pub mod sweeper;
mod tagging;

pub(crate) mod subnet_group;
pub(crate) mod support;

pub use clients::{AwsClients, CallCounter};
pub use multicloud_core::calls::ApiCalls;
pub use provider::{AwsProvider, AwsProviderBuilder};
pub use state::{S3Objects, S3StateStore};
